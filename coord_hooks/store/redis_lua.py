"""The Lua scripts of the redis backend (`coord_hooks.store.redis`), run by ``EVALSHA``.

Each runs atomically on the server. The rules stay in `coord_hooks.coordination`: these
only take and release the store lease, commit a transaction's buffered writes after
checking the lease is still its own (the fenced commit), and read locks through the
indexes. Standard library only (hook hot path).
"""

from __future__ import annotations

from coord_hooks.store.resp import Script

# The lease is never written to the AOF nor to replicas (redis.set_repl): with
# ``appendfsync always`` every propagated write costs an fsync (~2 ms here), and a lease
# needs no durability. After a restart or a failover it is simply gone, and the commit
# of whoever held it is refused (the token check), which is safe.

# KEYS: mutex, meta. ARGV: token, lease ms.
ACQUIRE = Script("""
redis.set_repl(redis.REPL_NONE)
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  local m = redis.call('HMGET', KEYS[2], 'last_seq', 'fence', 'retired', 'migrating')
  return {1, m[1] or '0', m[2] or '0', m[3] or '', m[4] or ''}
end
return {0, redis.call('GET', KEYS[1]) or '', redis.call('PTTL', KEYS[1])}
""")

# KEYS: mutex. ARGV: token. Deletes the lease only if it is still ours (or a dead holder's).
RELEASE = Script("""
redis.set_repl(redis.REPL_NONE)
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
""")

# KEYS: mutex. ARGV: token, lease ms.
EXTEND = Script("""
redis.set_repl(redis.REPL_NONE)
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
""")

# KEYS: mutex, meta, sessions, locks, lockidx, globidx, ownidx, msgs, archive, waiters.
# ARGV: token, release (0/1), channel, then the ops (see RedisWriter). The ops are
# checked before anything is written: a script is not rolled back on error.
COMMIT = Script(r"""
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return redis.error_reply('COORDLOST the store lease expired before this commit; ' ..
                           'nothing was written')
end
local width = {S = 3, L = 8, D = 6, M = 3, A = 2, R = 2, Q = 2, H = 3, h = 2, W = 3, w = 2}
local i, n = 4, #ARGV
while i <= n do
  local w = width[ARGV[i]]
  if not w or i + w - 1 > n then
    return redis.error_reply('COORDBADOP bad operation ' .. tostring(ARGV[i]) .. ' at ' .. i)
  end
  i = i + w
end
local fences = {}
local last = tonumber(redis.call('HGET', KEYS[2], 'last_seq') or '0')
i = 4
while i <= n do
  local op = ARGV[i]
  if op == 'S' then
    redis.call('HSET', KEYS[3], ARGV[i + 1], ARGV[i + 2])
  elseif op == 'L' then
    local field, fence = ARGV[i + 1], tonumber(ARGV[i + 6])
    if fence == 0 then
      local old = redis.call('HGET', KEYS[4], field)
      if old then fence = tonumber(string.match(old, '^(%d+)|')) end
      if not fence or fence == 0 then fence = redis.call('HINCRBY', KEYS[2], 'fence', 1) end
    elseif fence > tonumber(redis.call('HGET', KEYS[2], 'fence') or '0') then
      redis.call('HSET', KEYS[2], 'fence', string.format('%d', fence))
    end
    redis.call('HSET', KEYS[4], field, string.format('%d', fence) .. '|' .. ARGV[i + 7])
    redis.call('ZADD', KEYS[5], 0, field)
    redis.call('ZADD', KEYS[7], 0, ARGV[i + 3] .. '\0' .. ARGV[i + 2])
    if ARGV[i + 5] == '1' then redis.call('ZADD', KEYS[6], 0, ARGV[i + 4] .. '\0' .. field) end
    fences[#fences + 1] = fence
  elseif op == 'D' then
    local field = ARGV[i + 1]
    redis.call('HDEL', KEYS[4], field)
    redis.call('ZREM', KEYS[5], field)
    redis.call('ZREM', KEYS[7], ARGV[i + 3] .. '\0' .. ARGV[i + 2])
    if ARGV[i + 5] == '1' then redis.call('ZREM', KEYS[6], ARGV[i + 4] .. '\0' .. field) end
  elseif op == 'M' then
    local seq = tonumber(ARGV[i + 1])
    redis.call('ZADD', KEYS[8], ARGV[i + 1], ARGV[i + 2])
    if seq > last then last = seq end
  elseif op == 'A' then
    local doomed = redis.call('ZRANGEBYSCORE', KEYS[8], '-inf', ARGV[i + 1])
    for j = 1, #doomed, 1000 do
      redis.call('RPUSH', KEYS[9], unpack(doomed, j, math.min(j + 999, #doomed)))
    end
    redis.call('ZREMRANGEBYSCORE', KEYS[8], '-inf', ARGV[i + 1])
  elseif op == 'R' then
    redis.call('RPUSH', KEYS[9], ARGV[i + 1])
  elseif op == 'Q' then
    local seq = tonumber(ARGV[i + 1])
    if seq > last then last = seq end
  elseif op == 'H' then
    redis.call('HSET', KEYS[2], ARGV[i + 1], ARGV[i + 2])
  elseif op == 'h' then
    redis.call('HDEL', KEYS[2], ARGV[i + 1])
  elseif op == 'W' then
    redis.call('HSET', KEYS[10], ARGV[i + 1], ARGV[i + 2])
  elseif op == 'w' then
    redis.call('HDEL', KEYS[10], ARGV[i + 1])
  end
  i = i + width[op]
end
redis.call('HSET', KEYS[2], 'last_seq', string.format('%d', last))
local generation = redis.call('HINCRBY', KEYS[2], 'generation', 1)
redis.call('PUBLISH', ARGV[3], generation .. ' ' .. string.format('%d', last))
redis.set_repl(redis.REPL_NONE)  -- the lease, as above: not in the AOF
if ARGV[2] == '1' then redis.call('DEL', KEYS[1]) end
return fences
""")

# KEYS: locks, lockidx, globidx. ARGV: the path, then the exact keys (the path, its
# folders, '.', ''). The locks that may overlap a path: on it, on a folder above it, on
# anything below it, and the patterns whose literal folder is one of those.
TOUCHING = Script(r"""
local fields, seen = {}, {}
local function add(field)
  if not seen[field] then seen[field] = true; fields[#fields + 1] = field end
end
local function after_nul(member)
  local z = string.find(member, '\0', 1, true)
  return string.sub(member, z + 1)
end
for j = 2, #ARGV do
  local e = ARGV[j]
  for _, f in ipairs(redis.call('ZRANGEBYLEX', KEYS[2], '[' .. e .. '\0', '(' .. e .. '\1')) do
    add(f)
  end
  for _, m in ipairs(redis.call('ZRANGEBYLEX', KEYS[3], '[' .. e .. '\0', '(' .. e .. '\1')) do
    add(string.sub(m, #e + 2))
  end
end
local key = ARGV[1]
for _, f in ipairs(redis.call('ZRANGEBYLEX', KEYS[2], '[' .. key .. '/', '(' .. key .. '0')) do
  add(f)
end
for _, m in ipairs(redis.call('ZRANGEBYLEX', KEYS[3], '[' .. key .. '/', '(' .. key .. '0')) do
  add(after_nul(m))
end
local out = {}
for j = 1, #fields, 500 do
  local got = redis.call('HMGET', KEYS[1], unpack(fields, j, math.min(j + 499, #fields)))
  for _, v in ipairs(got) do if v then out[#out + 1] = v end end
end
return out
""")

# KEYS: locks, ownidx. ARGV: owner.
OWNED = Script(r"""
local members = redis.call('ZRANGEBYLEX', KEYS[2], '[' .. ARGV[1] .. '\0', '(' .. ARGV[1] .. '\1')
local out = {}
for j = 1, #members, 500 do
  local fields = {}
  for k = j, math.min(j + 499, #members) do
    fields[#fields + 1] = string.sub(members[k], #ARGV[1] + 2) .. '\0' .. ARGV[1]
  end
  local got = redis.call('HMGET', KEYS[1], unpack(fields))
  for _, v in ipairs(got) do if v then out[#out + 1] = v end end
end
return out
""")
