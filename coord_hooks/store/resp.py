"""A small Redis-protocol client (RESP2 and RESP3) over the standard library.

The hooks must not import redis-py (~110 ms) nor even ``socket`` (~10 ms with ``enum``
and ``selectors``): plain TCP and unix sockets use the builtin ``_socket`` module, and
only ``rediss://`` (TLS) imports ``socket`` and ``ssl``. What the redis backend needs:

* `parse_url`: ``redis://[user[:password]@]host[:port][/db]``, ``rediss://`` (TLS),
  ``unix://[user[:password]@]/path/to/socket[?db=N]`` (``valkey://``/``valkeys://``
  too), query options ``db``, ``protocol`` and redis-py's ``ssl_*`` names.
* `Connection`: one socket; the handshake (``HELLO 3`` with ``AUTH`` and ``SETNAME``, or
  ``AUTH`` in RESP2 on servers without ``HELLO``; ``SELECT``; ``TIME`` for the offset to
  the server clock) is one pipelined round trip. `pipeline` sends many commands in one
  write and reads their replies in order; `call_script` runs ``EVALSHA`` and, on
  ``NOSCRIPT``, ``SCRIPT LOAD`` + ``EVALSHA`` in one more round trip.
* Deadlines: connecting waits at most ``connect_timeout``; every exchange at most
  ``timeout`` in total (not per ``recv``), so a server that trickles bytes cannot keep a
  hook past its budget. A connection that failed once stays failed: later calls raise
  the same error at once instead of waiting again (a hook fails open once, fast).
* Replies are parsed incrementally from a buffer, so a reply split across any number of
  reads is fine; a first byte that is no RESP type means "not a Redis server".
* `Subscriber`: ``SUBSCRIBE`` and waiting for messages (RESP2 arrays or RESP3 pushes).

Bulk strings are returned as ``str`` (UTF-8, undecodable bytes kept as surrogates),
server errors as `RespError` values inside pipelines and raised by `command`.
"""

from __future__ import annotations

import _socket
import os
import time

TYPE_CHECKING = False  # typing is not imported at run time: it is on the hot path
if TYPE_CHECKING:
    from hashlib import sha1
    from typing import Any
else:
    try:
        from _sha1 import sha1  # CPython's own SHA-1: hashlib would load OpenSSL (~5 ms)
    except ImportError:  # pragma: no cover - a build without it
        from hashlib import sha1

DEFAULT_PORT = 6379
SCHEMES = {"redis": False, "rediss": True, "valkey": False, "valkeys": True}
MAX_DEPTH = 32  # nesting of aggregate replies; ours are 2 deep
MAX_LINE = 64 * 1024  # a header line longer than this is no Redis reply
_CHUNK = 1 << 16
_CRLF = b"\r\n"


class RespError(Exception):
    """An error reply of the server (``-ERR ...``, ``-NOSCRIPT ...``, ``!...``)."""

    @property
    def code(self) -> str:
        """The first word: ``ERR``, ``WRONGPASS``, ``NOSCRIPT``, ``BUSY`` ..."""
        text = str(self)
        return text.split(" ", 1)[0] if text else ""


class RespUnavailable(Exception):
    """The server could not be reached or used (refused, timed out, reset, not Redis)."""


class RespTimeout(RespUnavailable):
    """No (complete) answer within the deadline."""


class RespProtocolError(RespUnavailable):
    """The peer does not speak RESP: probably not a Redis server on that port."""


class RespAuthError(RespUnavailable):
    """The server refused the credentials, or wants some and none were given."""


class Push(list):  # type: ignore[type-arg]
    """A RESP3 out-of-band push (``>``): pub/sub messages, invalidations."""


# --- addresses ---------------------------------------------------------------------------
class Address:
    """Where and how to connect; ``display`` never shows the password."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = DEFAULT_PORT,
                 path: str = "", db: int = 0, username: str = "", password: str = "",
                 tls: bool = False, protocol: int = 3,
                 tls_options: dict[str, str] | None = None) -> None:
        self.host = host
        self.port = port
        self.path = path  # unix socket path; host/port unused when set
        self.db = db
        self.username = username
        self.password = password
        self.tls = tls
        self.protocol = protocol
        self.tls_options = tls_options or {}

    @property
    def display(self) -> str:
        user = f"{self.username}@" if self.username else ""
        if self.path:
            return f"unix://{user}{self.path}" + (f"?db={self.db}" if self.db else "")
        host = f"[{self.host}]" if ":" in self.host else self.host
        scheme = "rediss" if self.tls else "redis"
        return f"{scheme}://{user}{host}:{self.port}/{self.db}"

    def __repr__(self) -> str:
        return f"Address({self.display!r})"


def _unquote(text: str) -> str:
    """``%XX`` decoding (urllib.parse costs ~9 ms of imports)."""
    if "%" not in text:
        return text
    out = bytearray()
    i = 0
    raw = text.encode()
    while i < len(raw):
        if raw[i] == 0x25 and _is_hex(raw[i + 1:i + 3]):
            out.append(int(raw[i + 1:i + 3], 16))
            i += 3
        else:
            out.append(raw[i])
            i += 1
    return out.decode("utf-8", "surrogateescape")


def _is_hex(pair: bytes) -> bool:
    return len(pair) == 2 and all(c in b"0123456789abcdefABCDEF" for c in pair)


def parse_url(url: str, password: str = "", username: str = "") -> Address:
    """Parse a ``redis://``, ``rediss://`` or ``unix://`` URL.

    ``password``/``username`` apply when the URL names none (``COORD_REDIS_PASSWORD``).
    Raises ValueError with a one-line reason on anything it cannot use.
    """
    text = url.strip()
    scheme, sep, rest = text.partition("://")
    scheme = scheme.lower()
    if not sep:
        raise ValueError(f"{url!r} is not a URL (expected redis://host:port/db, "
                         "rediss://… or unix:///path/to/socket)")
    rest, _, query = rest.partition("?")
    rest = rest.split("#", 1)[0]
    options: dict[str, str] = {}
    for item in query.split("&") if query else ():
        key, _, value = item.partition("=")
        options[_unquote(key).lower()] = _unquote(value)
    user, secret = "", ""
    if "@" in rest:
        creds, _, rest = rest.rpartition("@")
        user, has_secret, secret = creds.partition(":")
        if not has_secret:  # redis://secret@host is a password, as redis-py reads it
            user, secret = "", user
        user, secret = _unquote(user), _unquote(secret)
    secret = secret or options.pop("password", "") or password
    user = user or options.pop("username", "") or username
    try:
        protocol = int(options.pop("protocol", "3"))
    except ValueError:
        raise ValueError(f"{url!r}: protocol must be 2 or 3") from None
    if protocol not in (2, 3):
        raise ValueError(f"{url!r}: protocol must be 2 or 3")
    db_text = options.pop("db", "")
    if scheme in ("unix", "redis+unix", "valkey+unix"):
        path = _unquote(rest)
        if not path.startswith("/"):
            raise ValueError(f"{url!r}: a unix socket URL needs an absolute path "
                             "(unix:///run/redis.sock)")
        return Address(path=path, db=_db(db_text or "0", url), username=user,
                       password=secret, protocol=protocol)
    if scheme not in SCHEMES:
        raise ValueError(f"{url!r}: unknown scheme {scheme!r} (use redis, rediss or unix)")
    hostport, _, db_path = rest.partition("/")
    db = _db(db_path.strip("/") or db_text or "0", url)
    if hostport.startswith("["):  # [::1]:6379
        host, _, port_text = hostport[1:].partition("]")
        port_text = port_text.lstrip(":")
    else:
        host, _, port_text = hostport.partition(":")
    if not host:
        host = "127.0.0.1"
    try:
        port = int(port_text) if port_text else DEFAULT_PORT
    except ValueError:
        raise ValueError(f"{url!r}: bad port {port_text!r}") from None
    if not 0 < port < 65536:
        raise ValueError(f"{url!r}: bad port {port}")
    tls = SCHEMES[scheme]
    tls_options = {k: v for k, v in options.items() if k.startswith("ssl_")}
    return Address(host=_unquote(host), port=port, db=db, username=user, password=secret,
                   tls=tls, protocol=protocol, tls_options=tls_options)


def _db(text: str, url: str) -> int:
    try:
        db = int(text)
    except ValueError:
        raise ValueError(f"{url!r}: the database must be a number, not {text!r}") from None
    if db < 0:
        raise ValueError(f"{url!r}: the database must not be negative")
    return db


# --- encoding ----------------------------------------------------------------------------
def _arg(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    if isinstance(value, bool):
        return b"1" if value else b"0"
    if isinstance(value, (int, float)):
        return repr(value).encode()
    raise TypeError(f"cannot send {type(value).__name__} to redis")


def encode_command(args: tuple[Any, ...] | list[Any]) -> bytes:
    """One command as a RESP array of bulk strings."""
    parts = [b"*%d\r\n" % len(args)]
    for value in args:
        data = _arg(value)
        parts.append(b"$%d\r\n" % len(data))
        parts.append(data)
        parts.append(_CRLF)
    return b"".join(parts)


class Script:
    """A Lua script, run by SHA-1 (``EVALSHA``); loaded on the first ``NOSCRIPT``."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = sha1(source.encode()).hexdigest()


# --- the connection ----------------------------------------------------------------------
class Wire:
    """A socket with a read buffer and a deadline, and the RESP2/RESP3 reply parser.

    Replies are parsed incrementally from the buffer, so a reply split across any
    number of reads is fine; every read waits at most until ``_deadline``.
    """

    address: Address
    timeout: float
    sock: Any
    pushes: list[Push]
    _buf: bytearray
    _pos: int
    _deadline: float

    # --- socket I/O ----------------------------------------------------------------------
    def _left(self) -> float:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise RespTimeout(f"no answer within {self.timeout:g}s")
        return left

    def _send(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            self.sock.settimeout(self._left())
            try:
                sent = self.sock.send(view)
            except TimeoutError:
                raise RespTimeout(f"the command was not taken within {self.timeout:g}s"
                                  ) from None
            view = view[sent:]

    def _fill(self) -> None:
        """Read what the socket has (at least one byte) into the buffer."""
        if self._pos and self._pos == len(self._buf):
            self._buf.clear()
            self._pos = 0
        elif self._pos > _CHUNK:
            del self._buf[: self._pos]
            self._pos = 0
        self.sock.settimeout(self._left())
        try:
            chunk = self.sock.recv(_CHUNK)
        except TimeoutError:
            raise RespTimeout(f"no answer within {self.timeout:g}s") from None
        if not chunk:
            raise RespUnavailable("the server closed the connection")
        self._buf += chunk

    def _line(self) -> bytes:
        while True:
            end = self._buf.find(_CRLF, self._pos)
            if end >= 0:
                line = bytes(self._buf[self._pos:end])
                self._pos = end + 2
                return line
            if len(self._buf) - self._pos > MAX_LINE:
                raise RespProtocolError("the peer does not speak the Redis protocol "
                                        "(an endless line)")
            self._fill()

    def _exact(self, size: int) -> bytes:
        while len(self._buf) - self._pos < size + 2:
            self._fill()
        data = bytes(self._buf[self._pos:self._pos + size])
        if self._buf[self._pos + size:self._pos + size + 2] != _CRLF:
            raise RespProtocolError("a bulk string without CRLF: not the Redis protocol")
        self._pos += size + 2
        return data

    def _read_reply(self) -> Any:
        """The next reply that is not a push (pushes are kept in ``self.pushes``)."""
        while True:
            reply = self._parse(0)
            if isinstance(reply, Push):
                self.pushes.append(reply)
                continue
            return reply

    def _parse(self, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise RespProtocolError("replies nested too deep")
        line = self._line()
        if not line:
            raise self._not_resp(line)
        kind, rest = line[:1], line[1:]
        try:
            if kind == b"+":
                return rest.decode("utf-8", "surrogateescape")
            if kind == b"-":
                return RespError(rest.decode("utf-8", "replace"))
            if kind == b":":
                return int(rest)
            if kind in (b"$", b"=", b"!"):
                size = int(rest)
                if size < 0:
                    return None
                data = self._exact(size).decode("utf-8", "surrogateescape")
                if kind == b"=":
                    return data[4:]  # "txt:" / "mkd:" before verbatim text
                return RespError(data) if kind == b"!" else data
            if kind in (b"*", b"~", b">"):
                count = int(rest)
                if count < 0:
                    return None
                items = [self._parse(depth + 1) for _ in range(count)]
                return Push(items) if kind == b">" else items
            if kind == b"%":
                count = int(rest)
                result: dict[Any, Any] = {}
                for _ in range(count):
                    key = self._parse(depth + 1)
                    result[key if not isinstance(key, list) else tuple(key)] = \
                        self._parse(depth + 1)
                return result
            if kind == b"_":
                return None
            if kind == b"#":
                return rest == b"t"
            if kind == b",":
                return float(rest)
            if kind == b"(":
                return int(rest)
            if kind == b"|":  # attributes: read and drop, then the reply they annotate
                count = int(rest)
                for _ in range(count * 2):
                    self._parse(depth + 1)
                return self._parse(depth)
        except ValueError:
            raise self._not_resp(line) from None
        raise self._not_resp(line)

    def _not_resp(self, line: bytes) -> RespProtocolError:
        shown = line[:40].decode("ascii", "replace")
        return RespProtocolError(f"the peer does not speak the Redis protocol (it said "
                                 f"{shown!r}); is another service on that port?")


class Connection(Wire):
    """One connection to one server, used by one thread at a time."""

    def __init__(self, address: Address, connect_timeout: float = 1.0, timeout: float = 2.0,
                 client_name: str = "coord-hooks") -> None:
        self.address = address
        self.connect_timeout = connect_timeout
        self.timeout = timeout
        self.client_name = client_name
        self.sock: Any = None
        self.failed: RespUnavailable | None = None
        self.protocol = address.protocol
        self.time_offset = 0.0  # server clock minus local clock, from the handshake
        self.server_version = ""
        self.round_trips = 0  # exchanges with the server (for benchmarks and tests)
        self.pushes: list[Push] = []
        self._buf = bytearray()
        self._pos = 0
        self._deadline = 0.0

    # --- life cycle ----------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self.sock is not None

    def connect(self) -> None:
        """Open the socket and run the handshake; raises `RespUnavailable` subclasses."""
        if self.sock is not None:
            return
        if self.failed is not None:
            raise self.failed
        try:
            self.sock = open_socket(self.address, self.connect_timeout)
            self._handshake()
        except RespUnavailable as exc:
            self._fail(exc)
            raise
        except OSError as exc:
            raise self._fail(_unavailable(exc, "connect")) from None

    def reset(self) -> None:
        """Forget a failure so that the next call connects again (long-lived watchers)."""
        self.close()
        self.failed = None

    def close(self) -> None:
        sock, self.sock = self.sock, None
        self._buf = bytearray()
        self._pos = 0
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass

    def _fail(self, exc: RespUnavailable) -> RespUnavailable:
        self.close()
        self.failed = exc
        return exc

    def _handshake(self) -> None:
        address = self.address
        name = self.client_name.replace(" ", "_")[:100] or "coord-hooks"
        tail: list[tuple[Any, ...]] = []
        if address.db:
            tail.append(("SELECT", address.db))
        tail.append(("TIME",))
        if self.protocol == 3:
            hello: list[Any] = ["HELLO", 3]
            if address.password:
                hello += ["AUTH", address.username or "default", address.password]
            hello += ["SETNAME", name]
            sent = time.time()
            replies = self._exchange([tuple(hello), *tail], connect=True)
            if isinstance(replies[0], RespError):
                error = replies[0]
                if error.code in ("WRONGPASS", "NOAUTH", "NOPERM") or "auth" in str(error).lower():
                    raise self._auth_error(error)
                self.protocol = 2  # a server without HELLO (Redis < 6): RESP2 then
            else:
                info = replies[0]
                if isinstance(info, dict):
                    self.server_version = str(info.get("version", ""))
                self._check_tail(replies[1:], sent)
                return
        first: list[tuple[Any, ...]] = []
        if address.password:
            first.append(("AUTH", address.username, address.password) if address.username
                         else ("AUTH", address.password))
        first.append(("CLIENT", "SETNAME", name))
        sent = time.time()
        replies = self._exchange([*first, *tail], connect=True)
        if address.password and isinstance(replies[0], RespError):
            raise self._auth_error(replies[0])
        self._check_tail(replies[len(first):], sent)

    def _check_tail(self, replies: list[Any], sent: float) -> None:
        received = time.time()
        for reply in replies:
            if isinstance(reply, RespError):
                if reply.code in ("NOAUTH", "WRONGPASS", "NOPERM"):
                    raise self._auth_error(reply)
                raise RespUnavailable(f"the handshake was refused: {reply}")
        clock = replies[-1]
        try:
            server = int(clock[0]) + int(clock[1]) / 1e6
        except (TypeError, ValueError, IndexError):
            raise RespProtocolError("no usable answer to TIME") from None
        self.time_offset = server - (sent + received) / 2

    def _auth_error(self, error: RespError) -> RespAuthError:
        if error.code == "NOAUTH" or "without" in str(error).lower():
            return RespAuthError(f"the server wants a password ({error}); set "
                                 "COORD_REDIS_PASSWORD or put it in the URL")
        return RespAuthError(f"the server refused the credentials ({error})")

    # --- commands ------------------------------------------------------------------------
    def pipeline(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        """Send every command in one write; their replies, errors as `RespError` values."""
        self.connect()
        return self._exchange(commands)

    def command(self, *args: Any) -> Any:
        """One command; an error reply is raised as `RespError`."""
        reply = self.pipeline([args])[0]
        if isinstance(reply, RespError):
            raise reply
        return reply

    def call_script(self, script: Script, keys: list[str] | tuple[str, ...],
                    args: list[Any] | tuple[Any, ...]) -> Any:
        """``EVALSHA``; on ``NOSCRIPT`` (new server, restart, SCRIPT FLUSH) load and rerun.

        ``NOSCRIPT`` means the script did not run at all, so running it again is safe.
        """
        call = ("EVALSHA", script.sha, len(keys), *keys, *args)
        reply = self.pipeline([call])[0]
        if isinstance(reply, RespError) and reply.code == "NOSCRIPT":
            loaded, reply = self.pipeline([("SCRIPT", "LOAD", script.source), call])
            if isinstance(loaded, RespError):
                raise loaded
        if isinstance(reply, RespError):
            raise reply
        return reply

    def server_time(self) -> float:
        """Now, on the server's clock (local clock plus the handshake's offset)."""
        self.connect()
        return time.time() + self.time_offset

    def _exchange(self, commands: list[tuple[Any, ...]], connect: bool = False) -> list[Any]:
        if self.sock is None:
            raise self.failed or RespUnavailable("not connected")
        payload = b"".join(encode_command(c) for c in commands)
        limit = self.connect_timeout + self.timeout if connect else self.timeout
        self._deadline = time.monotonic() + limit
        self.round_trips += 1
        try:
            self._send(payload)
            replies = []
            for _ in commands:
                replies.append(self._read_reply())
        except RespUnavailable as exc:
            raise self._fail(exc) from None
        except OSError as exc:
            raise self._fail(_unavailable(exc, "read")) from None
        return replies

# --- opening a socket ---------------------------------------------------------------
def open_socket(address: Address, connect_timeout: float) -> Any:
    if address.tls:
        return open_tls(address, connect_timeout)
    if address.path:
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        try:
            sock.settimeout(connect_timeout)
            sock.connect(address.path)
        except BaseException:
            sock.close()
            raise
        return sock
    last: OSError | None = None
    try:
        infos = _socket.getaddrinfo(address.host, address.port, 0, _socket.SOCK_STREAM)
    except OSError as exc:
        raise RespUnavailable(f"cannot resolve {address.host!r}: {_why(exc)}") from None
    deadline = time.monotonic() + connect_timeout
    for family, kind, proto, _, where in infos:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        sock = _socket.socket(family, kind, proto)
        try:
            sock.settimeout(left)
            sock.connect(where)
            sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
            return sock
        except OSError as exc:
            sock.close()
            last = exc
    if last is None:
        last = TimeoutError("timed out")
    raise last

def open_tls(address: Address, connect_timeout: float) -> Any:
    import socket  # TLS only: ssl wraps socket.socket objects
    import ssl

    opts = address.tls_options
    context = ssl.create_default_context(cafile=opts.get("ssl_ca_certs") or None)
    reqs = opts.get("ssl_cert_reqs", "required").lower()
    if reqs in ("none", "cert_none"):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif reqs in ("optional", "cert_optional"):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_OPTIONAL
    if opts.get("ssl_check_hostname", "").lower() in ("0", "false", "no"):
        context.check_hostname = False
    if opts.get("ssl_certfile"):
        context.load_cert_chain(opts["ssl_certfile"], opts.get("ssl_keyfile") or None)
    raw = socket.create_connection((address.host, address.port),
                                   timeout=connect_timeout)
    try:
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return context.wrap_socket(raw, server_hostname=address.host)
    except BaseException:
        raw.close()
        raise


class Subscriber:
    """A connection in subscribe mode: wait for messages on some channels."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.channels: list[str] = []

    def subscribe(self, *channels: str) -> None:
        conn = self.connection
        conn.connect()
        conn.round_trips += 1
        conn._deadline = time.monotonic() + conn.timeout
        try:
            conn._send(encode_command(("SUBSCRIBE", *channels)))
            for _ in channels:  # one confirmation per channel
                reply = conn._parse(0)
                if isinstance(reply, RespError):
                    raise RespUnavailable(f"SUBSCRIBE was refused: {reply}")
        except OSError as exc:
            raise conn._fail(_unavailable(exc, "subscribe")) from None
        except RespUnavailable as exc:
            raise conn._fail(exc) from None
        self.channels.extend(channels)

    def get_message(self, timeout: float) -> tuple[str, str] | None:
        """(channel, data) of the next message, or None if none came within ``timeout``."""
        conn = self.connection
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            while conn.pushes:
                found = _as_message(conn.pushes.pop(0))
                if found is not None:
                    return found
            if len(conn._buf) == conn._pos:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                if not _readable(conn.sock, left):
                    return None
            conn._deadline = time.monotonic() + conn.timeout  # a started reply must finish
            try:
                reply = conn._parse(0)
            except OSError as exc:
                raise conn._fail(_unavailable(exc, "read")) from None
            except RespUnavailable as exc:
                raise conn._fail(exc) from None
            found = _as_message(reply)
            if found is not None:
                return found

    def close(self) -> None:
        self.connection.close()


def _as_message(reply: Any) -> tuple[str, str] | None:
    if isinstance(reply, list) and len(reply) == 3 and reply[0] == "message":
        return str(reply[1]), str(reply[2])
    if isinstance(reply, list) and len(reply) == 4 and reply[0] == "pmessage":
        return str(reply[2]), str(reply[3])
    return None


def _readable(sock: Any, timeout: float) -> bool:
    import select  # watchers only

    pending = getattr(sock, "pending", None)  # TLS: decrypted bytes already buffered
    if pending is not None and pending():
        return True
    ready, _, _ = select.select([sock], [], [], timeout)
    return bool(ready)


def _why(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return text[0].lower() + text[1:] if text else type(exc).__name__


def _unavailable(exc: OSError, during: str) -> RespUnavailable:
    if isinstance(exc, TimeoutError):
        return RespTimeout(f"timed out ({during})")
    name = type(exc).__name__
    if name.startswith("SSL") or "SSL" in name:
        return RespUnavailable(f"TLS failed: {exc}")
    return RespUnavailable(_why(exc))


def client_name(host_id: str) -> str:
    """``coord-hooks:<host>:<pid>``: what ``CLIENT LIST`` shows for our connections."""
    safe = "".join(ch if ch.isalnum() or ch in "-._" else "_" for ch in host_id)[:60]
    return f"coord-hooks:{safe}:{os.getpid()}"
