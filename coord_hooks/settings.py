"""Settings from environment variables and optional config files, with their sources.

Precedence, highest first: ``COORD_*`` environment variables, the seed's historical
names (``CACHE_TTL`` …), the project config file (``<state dir>/config.toml``), the user
config file (``<user config dir>/config.toml`` or ``$COORD_CONFIG``), built-in defaults.

Standard library only: the hook hot path loads settings on every event.
"""

from __future__ import annotations

import os
import sys

from coord_hooks.errors import ConfigError
from coord_hooks.model import Plain
from coord_hooks.paths import SAFE_OPEN, is_link_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path
    from typing import Any, NoReturn

    from coord_hooks.paths import StrPath

APP_NAME = "coord-hooks"
WAKE_IDLE = ("all", "urgent", "off")


def _frozen(self: object, name: str, *args: object) -> NoReturn:
    from dataclasses import FrozenInstanceError  # what the frozen dataclasses raised

    verb = "assign to" if args else "delete"
    raise FrozenInstanceError(f"cannot {verb} field {name!r}")


class _FrozenPlain(Plain):
    """`Plain` made immutable and hashable by value, as a frozen dataclass is."""

    __slots__ = ()
    __setattr__ = _frozen
    __delattr__ = _frozen

    def __hash__(self) -> int:  # type: ignore[override]  # Plain: unhashable (mutable)
        return hash(self._astuple())


class Setting(_FrozenPlain):
    """Declaration of one setting: its type, default and the names that can set it.

    Immutable, compared and hashed by value (a frozen dataclass before; see
    `coord_hooks.model` for why the hot path avoids dataclasses).
    """

    FIELDS = ("name", "kind", "default", "help", "legacy_env")

    name: str
    kind: type
    default: Any
    help: str
    legacy_env: str | None

    def __init__(self, name: str, kind: type, default: Any, help: str,
                 legacy_env: str | None = None) -> None:
        for attr, value in zip(self.FIELDS, (name, kind, default, help, legacy_env), strict=True):
            object.__setattr__(self, attr, value)


    @property
    def env(self) -> str:
        return "COORD_" + self.name.upper()


SETTINGS: tuple[Setting, ...] = (
    Setting("backend", str, "optimized", "store backend: legacy, optimized, sqlite or redis"),
    Setting("cache_ttl", float, 30.0, "seconds a cached snapshot may be reused (0 disables)",
            "CACHE_TTL"),
    Setting("broadcast_batch_size", int, 10, "queued broadcasts that trigger a flush",
            "BROADCAST_BATCH_SIZE"),
    Setting("batch_flush_interval", float, 5.0, "seconds after which queued broadcasts flush",
            "BATCH_FLUSH_INTERVAL"),
    Setting("debug", bool, False, "log per-step hook timings to logs/app.log",
            "COORDINATION_DEBUG"),
    Setting("lock_ttl", float, 1800.0, "seconds of owner inactivity after which a lock lapses"),
    Setting("session_ttl", float, 900.0, "heartbeat age after which a session without pid is dead"),
    Setting("max_message_chars", int, 4000, "longest message body accepted"),
    Setting("retention_messages", int, 500, "messages kept live before archiving older ones"),
    Setting("deliver_chars", int, 6000, "most characters of messages injected into one prompt"),
    Setting("midturn_interval", float, 5.0,
            "least seconds between two mid-turn message blocks per session (urgent: none)"),
    Setting("midturn_wait", float, 3.0,
            "coalescing window: unread age that makes messages due at the next tool step"),
    Setting("slow_ms", float, 250.0, "hook duration that is logged as slow_operation"),
    Setting("store_lock_timeout", float, 10.0, "seconds to wait for the store lock"),
    Setting("log_max_bytes", int, 1_000_000, "size at which a log file is rotated"),
    # The redis backend ([redis] section of a config file: url, password, timeouts).
    Setting("redis_url", str, "redis://127.0.0.1:6379/0",
            "redis backend server: redis://[user:password@]host:port/db, rediss:// (TLS) "
            "or unix:///path/to/socket"),
    Setting("redis_password", str, "", "redis backend password when the URL has none"),
    Setting("redis_connect_timeout", float, 1.0, "seconds a hook waits to connect to redis"),
    Setting("redis_timeout", float, 2.0, "seconds a hook waits for one redis answer"),
    Setting("host_id", str, "", "this machine's name for session liveness (default: hostname)"),
    Setting("project_id", str, "", "the project's shared name on redis (default: from the "
            "origin remote)"),
    Setting("subagents_share_locks", bool, False,
            "subagents of one session share its locks instead of denying each other"),
    Setting("release_at_stop", bool, False,
            "release a session's locks when its turn ends (Stop); waiters are told"),
    Setting("wake_idle", str, "all",
            "wake an idle interactive session for new messages: all, urgent or off"),
    Setting("watch_interval", float, 1.0,
            "seconds between two looks of the idle-session watcher (at least 0.2)"),
)
# Settings a person must never see printed (status, --json, diagnose reports).
SECRET_SETTINGS = frozenset({"redis_password"})
# A config file's [redis] section names these without the prefix (url, password, ...).
SECTION_PREFIXES = {"redis": "redis_"}
SETTINGS_BY_NAME = {s.name: s for s in SETTINGS}


class Settings(_FrozenPlain):
    """Effective settings; `sources` tells where each value came from.

    Immutable (`replace` makes a changed copy); compared and hashed by value, `sources`
    left out, as the frozen dataclass it used to be was.
    """

    FIELDS = ("backend", "cache_ttl", "broadcast_batch_size", "batch_flush_interval", "debug",
              "lock_ttl", "session_ttl", "max_message_chars", "retention_messages",
              "deliver_chars", "midturn_interval", "midturn_wait", "slow_ms",
              "store_lock_timeout", "log_max_bytes", "redis_url", "redis_password",
              "redis_connect_timeout", "redis_timeout", "host_id", "project_id",
              "subagents_share_locks", "release_at_stop", "wake_idle",
              "watch_interval", "sources")
    _COMPARED = FIELDS[:-1]

    backend: str
    cache_ttl: float
    broadcast_batch_size: int
    batch_flush_interval: float
    debug: bool
    lock_ttl: float
    session_ttl: float
    max_message_chars: int
    retention_messages: int
    deliver_chars: int
    midturn_interval: float
    midturn_wait: float
    slow_ms: float
    store_lock_timeout: float
    log_max_bytes: int
    redis_url: str
    redis_password: str
    redis_connect_timeout: float
    redis_timeout: float
    host_id: str
    project_id: str
    subagents_share_locks: bool
    release_at_stop: bool
    wake_idle: str
    watch_interval: float
    sources: dict[str, str]

    def __init__(self, backend: str = "optimized", cache_ttl: float = 30.0,
                 broadcast_batch_size: int = 10, batch_flush_interval: float = 5.0,
                 debug: bool = False, lock_ttl: float = 1800.0, session_ttl: float = 900.0,
                 max_message_chars: int = 4000, retention_messages: int = 500,
                 deliver_chars: int = 6000, midturn_interval: float = 5.0,
                 midturn_wait: float = 3.0, slow_ms: float = 250.0,
                 store_lock_timeout: float = 10.0, log_max_bytes: int = 1_000_000,
                 redis_url: str = "redis://127.0.0.1:6379/0", redis_password: str = "",
                 redis_connect_timeout: float = 1.0, redis_timeout: float = 2.0,
                 host_id: str = "", project_id: str = "",
                 subagents_share_locks: bool = False,
                 release_at_stop: bool = False, wake_idle: str = "all",
                 watch_interval: float = 1.0,
                 sources: dict[str, str] | None = None) -> None:
        values = (backend, cache_ttl, broadcast_batch_size, batch_flush_interval, debug,
                  lock_ttl, session_ttl, max_message_chars, retention_messages,
                  deliver_chars, midturn_interval, midturn_wait, slow_ms,
                  store_lock_timeout, log_max_bytes, redis_url, redis_password,
                  redis_connect_timeout, redis_timeout, host_id, project_id,
                  subagents_share_locks,
                  release_at_stop, wake_idle, watch_interval,
                  {} if sources is None else sources)
        for attr, value in zip(self.FIELDS, values, strict=True):
            object.__setattr__(self, attr, value)

    def _astuple(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._COMPARED)

    def replace(self, **changes: Any) -> Settings:
        values = {name: getattr(self, name) for name in self.FIELDS}
        values.update(changes)
        sources = dict(self.sources)
        sources.update({k: "override" for k in changes if k != "sources"})
        values["sources"] = sources
        return Settings(**values)

    @property
    def config_problems(self) -> list[str]:
        """What a lenient `load_settings` skipped (a file or value it could not use)."""
        return [v for k, v in self.sources.items() if k.startswith("problem:")]


def user_config_dir() -> Path:
    """The user-level config directory, as platformdirs computes it.

    Re-implemented with the standard library so the hook path need not import
    platformdirs; tests check both agree on this platform.
    """
    from pathlib import Path

    return Path(_user_config_dir())


def user_config_file() -> Path:
    from pathlib import Path

    return Path(_user_config_file())


def _user_config_dir() -> str:
    home = os.path.expanduser("~")
    if sys.platform == "darwin":
        return os.path.join(home, "Library", "Application Support", APP_NAME)
    if os.name == "nt":
        base = os.environ.get("LOCALAPPDATA") or os.path.join(home, "AppData", "Local")
        return os.path.join(base, APP_NAME)
    xdg = os.environ.get("XDG_CONFIG_HOME", "").strip()
    return os.path.join(xdg if xdg else os.path.join(home, ".config"), APP_NAME)


def _user_config_file() -> str:
    explicit = os.environ.get("COORD_CONFIG")
    return explicit if explicit else os.path.join(_user_config_dir(), "config.toml")


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"not a boolean: {text!r}")


def _coerce(setting: Setting, raw: Any, origin: str) -> Any:
    try:
        if setting.kind is bool:
            return raw if isinstance(raw, bool) else _parse_bool(str(raw))
        if setting.kind is str:
            value = str(raw).strip()
        else:
            # TOML gives typed values: a bool or a fraction must not pass as a number.
            if isinstance(raw, bool) or (setting.kind is int and isinstance(raw, float)):
                raise ValueError(f"expected {setting.kind.__name__}")
            value = setting.kind(raw)
            if value != value:  # NaN compares false with everything (every lease would lapse)
                raise ValueError("not a number")
            if value in (float("inf"), float("-inf")):  # a lease that never lapses
                raise ValueError("must be finite")
            if value < 0:
                raise ValueError("must not be negative")
        if setting.name == "backend" and value not in ("legacy", "optimized", "sqlite",
                                                       "redis"):
            raise ValueError("expected legacy, optimized, sqlite or redis")
        if setting.name == "wake_idle" and value not in WAKE_IDLE:
            raise ValueError("expected " + ", ".join(WAKE_IDLE))
        if setting.name == "watch_interval" and float(value) < 0.2:
            raise ValueError("at least 0.2 s: the watcher polls the store at this rate")
        return value
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{origin}: bad value {raw!r} for {setting.name} ({exc})") from None


def read_config_file(path: StrPath, follow_links: bool = True) -> dict[str, Any]:
    """Read a flat ``key = value`` TOML file; a missing file is empty.

    The state dir's file is read with ``follow_links=False``: a repository may commit a
    link there, and nothing in the state dir is read or written through one.
    """
    try:
        fd = os.open(path, os.O_RDONLY | (getattr(os, "O_NONBLOCK", 0) if follow_links
                                          else SAFE_OPEN))
        with open(fd, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        return {}
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not UTF-8 text") from None
    except OSError as exc:
        if not follow_links and is_link_error(exc):
            raise ConfigError(f"config file {path} is a symbolic link, which coord-hooks "
                              "never follows in its state directory: put a copy of the "
                              "file there instead") from None
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        data = parse_simple_toml(text)
    except ValueError as exc:  # an integer past Python's digit limit, as tomllib says too
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    if data is None:  # more than the forms a settings file needs: the real parser
        try:
            import tomllib  # type: ignore[import-not-found,unused-ignore]  # Python >= 3.11

            data = tomllib.loads(text)
        except ModuleNotFoundError:
            data = _parse_flat_toml(text, path)
        except ValueError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    section = data.get("coord")
    flat = dict(section) if isinstance(section, dict) else {
        k: v for k, v in data.items() if k not in SECTION_PREFIXES}
    for name, prefix in SECTION_PREFIXES.items():
        table = data.get(name)
        if isinstance(table, dict):  # [redis] url = ... -> redis_url
            flat.update({prefix + k: v for k, v in table.items()})
    return flat


# --- the TOML a settings file needs, without tomllib ------------------------------------------
# ``import tomllib`` costs a hook ~15 ms here (it brings ``re``, ``string``, ``datetime``):
# with a config file, more than the hook's whole work. A settings file is tables and
# ``key = scalar`` lines, which `parse_simple_toml` reads exactly as tomllib does; anything
# else (arrays, dotted or quoted keys, dates, escapes beyond the simple ones, odd numbers)
# makes it answer None, and tomllib reads the file. tests/test_settings.py compares both.
_BARE_KEY = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_DIGITS = frozenset("0123456789")
_STRING_ESCAPES = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", '"': '"',
                   "\\": "\\"}


def parse_simple_toml(text: str) -> dict[str, Any] | None:
    """``tomllib.loads(text)`` for a file of tables and ``key = scalar`` lines (bare keys;
    basic and literal strings, decimal integers and floats, booleans; comments); None for
    anything else, or anything tomllib would refuse."""
    root: dict[str, Any] = {}
    table = root
    lines = text.split("\n")
    for number, line in enumerate(lines, 1):
        if line.endswith("\r") and number < len(lines):
            line = line[:-1]  # CRLF; a lone CR is refused below, as tomllib refuses it
        stripped = line.strip(" \t")
        if not stripped or stripped.startswith("#"):
            if not _clean_comment(stripped):
                return None
            continue
        if stripped.startswith("["):
            name, closed, rest = stripped[1:].partition("]")
            name = name.strip(" \t")
            if (stripped.startswith("[[") or not closed or not _is_bare_key(name) or name in root
                    or not _clean_comment(rest.strip(" \t"))):
                return None
            table = root[name] = {}
            continue
        key, equals, rest = stripped.partition("=")
        key = key.strip(" \t")
        if not equals or not _is_bare_key(key) or key in table:
            return None
        value = _scalar(rest.strip(" \t"))
        if value is None:
            return None
        table[key] = value[0]
    return root


def _is_bare_key(key: str) -> bool:
    return bool(key) and _BARE_KEY.issuperset(key)


def _clean_comment(rest: str) -> bool:
    """Nothing, or a comment without control characters (tab allowed), after a value."""
    if rest and not rest.startswith("#"):
        return False
    return all(ch == "\t" or " " <= ch != "\x7f" for ch in rest)


def _scalar(text: str) -> tuple[Any] | None:
    """(value,) for one scalar and what may follow it on its line, else None."""
    if text.startswith('"') and not text.startswith('"""'):
        return _basic_string(text)
    if text.startswith("'") and not text.startswith("'''"):
        end = text.find("'", 1)
        value = text[1:end]
        if end < 0 or not _clean_comment(text[end + 1 :].strip(" \t")) or not all(
                ch == "\t" or " " <= ch != "\x7f" for ch in value):
            return None
        return (value,)
    token = text.partition("#")[0].rstrip(" \t")
    if " " in token or "\t" in token or not _clean_comment(text[len(token):].strip(" \t")):
        return None
    if token in ("true", "false"):
        return (token == "true",)
    number = _number(token)
    return None if number is None else (number,)


def _basic_string(text: str) -> tuple[Any] | None:
    out: list[str] = []
    i = 1
    while i < len(text):
        ch = text[i]
        if ch == '"':
            return (("".join(out)),) if _clean_comment(text[i + 1 :].strip(" \t")) else None
        if ch == "\\":
            escaped = _STRING_ESCAPES.get(text[i + 1 : i + 2])
            if escaped is None:
                return None  # \u, \U, a line ending, or not an escape: tomllib decides
            out.append(escaped)
            i += 2
            continue
        if ch != "\t" and (ch < " " or ch == "\x7f"):
            return None
        out.append(ch)
        i += 1
    return None  # unterminated


def _number(token: str) -> int | float | None:
    """A decimal integer or float as TOML writes them, without underscores; else None."""
    body = token[1:] if token[:1] in ("+", "-") else token
    mantissa, has_exponent, exponent = body.lower().partition("e")
    whole, has_dot, fraction = mantissa.partition(".")
    if exponent[:1] in ("+", "-"):
        exponent = exponent[1:]
    if not (whole and _DIGITS.issuperset(whole) and (whole == "0" or whole[0] != "0")):
        return None  # TOML: digits, and no leading zero
    if has_dot and not (fraction and _DIGITS.issuperset(fraction)):
        return None
    if has_exponent and not (exponent and _DIGITS.issuperset(exponent)):
        return None
    return float(token) if has_dot or has_exponent else int(token)


def _parse_flat_toml(text: str, path: StrPath) -> dict[str, Any]:
    # Python 3.10 has no tomllib; our config is flat scalars, which this covers.
    result: dict[str, Any] = {}
    prefix = ""
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.split("#", 1)[0].strip()
        if not stripped:
            continue
        if stripped.startswith("["):
            prefix = SECTION_PREFIXES.get(stripped.strip("[] \t"), "")
            continue
        key, sep, value = stripped.partition("=")
        if not sep:
            raise ConfigError(f"config file {path}:{number}: expected key = value")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        result[prefix + key.strip()] = value
    return result


# Settings a repository must not choose for whoever clones it: a committed
# .claude-coordination/config.toml naming a server would get every lock, message and the
# user's own redis password.
USER_ONLY = frozenset({"redis_url", "redis_password", "host_id", "project_id"})


def load_settings(
    state_dir: StrPath | None = None, environ: Mapping[str, str] | None = None,
    lenient: bool = False,
) -> Settings:
    """Compute the effective settings and remember where each value came from.

    ``lenient`` (hooks): a config file that cannot be read or a value that cannot be used
    is skipped, and said in ``sources`` under ``problem:N`` (`Settings.config_problems`), instead
    of raising. The project's file sits in the shared state dir, where a peer or a clone
    may leave anything: a typo there must not switch every lock check off. `USER_ONLY`
    settings in the project's file are skipped (and said under ``problem:N``) either way.
    """
    env = os.environ if environ is None else environ
    problems: list[str] = []

    def note(exc: ConfigError) -> None:
        if not lenient:
            raise exc
        problems.append(str(exc))

    layers: list[tuple[str, dict[str, Any]]] = []
    files = [(_user_config_file(), True)]
    if state_dir is not None:
        files.append((os.path.join(state_dir, "config.toml"), False))
    for path, follow_links in files:
        try:
            layer = read_config_file(path, follow_links=follow_links)
        except ConfigError as exc:
            note(exc)
            continue
        if not follow_links:  # the project's file, in the shared state dir
            for name in sorted(USER_ONLY & set(layer)):
                del layer[name]
                problems.append(f"{path}: {name} ignored: where to connect and who this is "
                                "come from the user config file or the environment only")
        layers.append((path, layer))
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for setting in SETTINGS:
        value, origin = setting.default, "default"
        candidates = [(name, layer[setting.name]) for name, layer in layers
                      if setting.name in layer]
        candidates += [(f"${name}", env[name]) for name in (setting.legacy_env, setting.env)
                       if name and env.get(name, "") != ""]
        for where, raw in candidates:  # later ones win: user file, project file, env
            try:
                value, origin = _coerce(setting, raw, where), where
            except ConfigError as exc:
                note(exc)
        values[setting.name] = value
        sources[setting.name] = origin
    for number, problem in enumerate(problems):
        sources[f"problem:{number}"] = problem
    unknown = {k for _, layer in layers for k in layer} - set(SETTINGS_BY_NAME)
    for name in sorted(unknown):
        sources[f"unknown:{name}"] = "ignored"
    return Settings(**values, sources=sources)
