"""Settings: precedence, sources, validation, and the user config location."""

from __future__ import annotations

import sys
from pathlib import Path

import platformdirs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coord_hooks.errors import ConfigError
from coord_hooks.settings import (
    SETTINGS,
    Settings,
    load_settings,
    read_config_file,
    user_config_dir,
    user_config_file,
)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def user_file() -> Path:
    return user_config_file()  # under the isolated XDG_CONFIG_HOME


def test_defaults_match_the_dataclass(tmp_path: Path) -> None:
    loaded = load_settings(tmp_path, environ={})
    assert loaded == Settings()
    assert set(loaded.sources.values()) == {"default"}
    for setting in SETTINGS:
        assert getattr(Settings(), setting.name) == setting.default


def test_precedence_env_then_seed_then_project_then_user(tmp_path: Path,
                                                         user_file: Path) -> None:
    write(user_file, "cache_ttl = 1\nlock_ttl = 11\nretention_messages = 111\n"
                     "session_ttl = 1111\n")
    project = write(tmp_path / "config.toml", "cache_ttl = 2\nlock_ttl = 22\n"
                                              "retention_messages = 222\n")
    env = {"COORD_CACHE_TTL": "4", "CACHE_TTL": "3", "COORD_LOCK_TTL": "44"}
    loaded = load_settings(tmp_path, environ=env)
    assert (loaded.cache_ttl, loaded.lock_ttl, loaded.retention_messages,
            loaded.session_ttl, loaded.max_message_chars) == (4.0, 44.0, 222, 1111.0, 4000)
    assert loaded.sources["cache_ttl"] == "$COORD_CACHE_TTL"
    assert loaded.sources["lock_ttl"] == "$COORD_LOCK_TTL"
    assert loaded.sources["retention_messages"] == str(project)
    assert loaded.sources["session_ttl"] == str(user_file)
    assert loaded.sources["max_message_chars"] == "default"

    seed_only = load_settings(tmp_path, environ={"CACHE_TTL": "3"})
    assert seed_only.cache_ttl == 3.0 and seed_only.sources["cache_ttl"] == "$CACHE_TTL"


@pytest.mark.parametrize(("seed", "name", "raw", "value"), [
    ("CACHE_TTL", "cache_ttl", "12.5", 12.5),
    ("BROADCAST_BATCH_SIZE", "broadcast_batch_size", "7", 7),
    ("BATCH_FLUSH_INTERVAL", "batch_flush_interval", "0.5", 0.5),
    ("COORDINATION_DEBUG", "debug", "true", True),
])
def test_seed_names_are_honoured(seed: str, name: str, raw: str, value: object) -> None:
    loaded = load_settings(None, environ={seed: raw})
    assert getattr(loaded, name) == value and loaded.sources[name] == f"${seed}"


def test_empty_env_value_is_ignored(tmp_path: Path) -> None:
    write(tmp_path / "config.toml", "lock_ttl = 22\n")
    loaded = load_settings(tmp_path, environ={"COORD_LOCK_TTL": ""})
    assert loaded.lock_ttl == 22.0


def test_coord_config_names_the_user_file(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    explicit = write(tmp_path / "elsewhere.toml", "[coord]\nmidturn_wait = 5\n")
    monkeypatch.setenv("COORD_CONFIG", str(explicit))
    assert user_config_file() == explicit
    loaded = load_settings(None, environ={})
    assert loaded.midturn_wait == 5.0 and loaded.sources["midturn_wait"] == str(explicit)


@pytest.mark.parametrize(("raw", "expected"), [
    ("1", True), ("yes", True), ("ON", True), ("true", True),
    ("0", False), ("no", False), ("off", False), ("False", False),
])
def test_booleans(raw: str, expected: bool) -> None:
    assert load_settings(None, environ={"COORD_DEBUG": raw}).debug is expected


@pytest.mark.parametrize(("env", "needle"), [
    ({"COORD_LOCK_TTL": "soon"}, "lock_ttl"),
    ({"COORD_RETENTION_MESSAGES": "-1"}, "retention_messages"),
    ({"COORD_MAX_MESSAGE_CHARS": "4.5"}, "max_message_chars"),
    ({"COORD_DEBUG": "maybe"}, "debug"),
    ({"COORD_BACKEND": "memcached"}, "backend"),
    ({"CACHE_TTL": "x"}, "$CACHE_TTL"),
])
def test_bad_values_are_config_errors(env: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle.replace("$", r"\$")) as info:
        load_settings(None, environ=env)
    assert info.value.exit_code == 2


def test_bad_value_in_a_file_names_the_file(tmp_path: Path) -> None:
    project = write(tmp_path / "config.toml", 'session_ttl = "forever"\n')
    with pytest.raises(ConfigError, match=r"config\.toml") as info:
        load_settings(tmp_path, environ={})
    assert str(project) in str(info.value)


def test_invalid_toml_is_a_config_error(tmp_path: Path) -> None:
    write(tmp_path / "config.toml", "lock_ttl = = 3\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(tmp_path, environ={})


def test_unknown_keys_are_reported_not_fatal(tmp_path: Path) -> None:
    write(tmp_path / "config.toml", "lock_ttl = 5\ncolour = 'blue'\n")
    loaded = load_settings(tmp_path, environ={})
    assert loaded.lock_ttl == 5.0 and loaded.sources["unknown:colour"] == "ignored"


def test_missing_file_reads_empty(tmp_path: Path) -> None:
    assert read_config_file(tmp_path / "absent.toml") == {}


def test_replace_marks_overrides() -> None:
    changed = load_settings(None, environ={}).replace(lock_ttl=5.0)
    assert changed.lock_ttl == 5.0 and changed.sources["lock_ttl"] == "override"
    assert changed.sources["cache_ttl"] == "default"


@pytest.mark.parametrize("xdg", [None, "", "custom-config"])
def test_user_config_dir_agrees_with_platformdirs(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  xdg: str | None) -> None:
    if xdg is None:
        monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    elif xdg:
        monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / xdg))
    else:
        monkeypatch.setenv("XDG_CONFIG_HOME", "")
    expected = Path(platformdirs.user_config_dir("coord-hooks", appauthor=False))
    assert user_config_dir() == expected


def test_settings_module_is_standard_library_only() -> None:
    import subprocess

    code = ("import sys, coord_hooks.settings; "
            "bad = [m for m in ('platformdirs', 'typer', 'rich', 'portalocker', 'orjson') "
            "if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(("text", "needle"), [
    ("retention_messages = 2.5\n", "retention_messages"),  # would silently become 2
    ("lock_ttl = true\n", "lock_ttl"),  # would silently become 1.0
    ("max_message_chars = false\n", "max_message_chars"),
])
def test_wrong_toml_types_are_config_errors(tmp_path: Path, text: str, needle: str) -> None:
    write(tmp_path / "config.toml", text)
    with pytest.raises(ConfigError, match=needle):
        load_settings(tmp_path, environ={})


@pytest.mark.parametrize("raw", ["nan", "NaN", "-inf", "inf", "1e400"])
def test_not_a_number_is_refused(raw: str) -> None:
    # A NaN lock TTL would make every lease look lapsed: any session could take any lock.
    with pytest.raises(ConfigError, match="lock_ttl"):
        load_settings(None, environ={"COORD_LOCK_TTL": raw})


def test_the_project_file_cannot_choose_the_server_or_the_identity(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A clone may commit .claude-coordination/config.toml: where to connect, with which
    password and as whom come from the user's own file and environment only."""
    user = tmp_path / "user.toml"
    user.write_text('[redis]\nurl = "redis://mine:6379/0"\npassword = "s3"\n')
    monkeypatch.setenv("COORD_CONFIG", str(user))
    state = tmp_path / "state"
    state.mkdir()
    (state / "config.toml").write_text(
        'lock_ttl = 60\nhost_id = "them"\nproject_id = "their/app"\n'
        '[redis]\nurl = "redis://attacker.example:6379/0"\npassword = "x"\n')
    for lenient in (False, True):
        settings = load_settings(state, {}, lenient=lenient)
        assert (settings.redis_url, settings.redis_password, settings.host_id,
                settings.project_id) == ("redis://mine:6379/0", "s3", "", "")
        assert settings.lock_ttl == 60  # the rest of the file still counts
        ignored = settings.config_problems
        assert len(ignored) == 4 and all("ignored" in p for p in ignored)


def test_a_redis_section_sets_the_redis_settings(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config.toml"
    config.write_text('backend = "redis"\n[redis]\nurl = "rediss://team.example:6380/2"\n'
                      'password = "s3"\ntimeout = 0.5\nconnect_timeout = 0.25\n')
    monkeypatch.setenv("COORD_CONFIG", str(config))
    settings = load_settings(None, {})
    assert (settings.backend, settings.redis_url, settings.redis_password,
            settings.redis_timeout, settings.redis_connect_timeout) == (
        "redis", "rediss://team.example:6380/2", "s3", 0.5, 0.25)
    assert settings.sources["redis_url"] == str(config)
    env = load_settings(None, {"COORD_REDIS_URL": "unix:///run/r.sock",
                               "COORD_HOST_ID": "box-1", "COORD_PROJECT_ID": "team/app"})
    assert (env.redis_url, env.host_id, env.project_id) == ("unix:///run/r.sock", "box-1",
                                                            "team/app")
    from coord_hooks.cli.views import settings_dict

    shown = settings_dict(settings)
    assert shown["redis_password"]["value"] == "***"
    url = settings_dict(settings.replace(redis_url="redis://u:pw@h/0"))["redis_url"]["value"]
    assert url == "redis://u:***@h/0"


def test_the_python_310_parser_reads_the_redis_section_too(tmp_path: Path) -> None:
    from coord_hooks.settings import _parse_flat_toml

    text = 'lock_ttl = 60\n[redis]\nurl = "redis://h:1/0"  # team server\n[coord]\ndebug = 1\n'
    assert _parse_flat_toml(text, tmp_path / "c.toml") == {
        "lock_ttl": "60", "redis_url": "redis://h:1/0", "debug": "1"}


# --- parse_simple_toml: a settings file read without tomllib (its import costs a hook ~15 ms)
def _toml_string(value: str) -> str:
    escapes = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r", "\b": "\\b",
               "\f": "\\f"}
    return '"' + "".join(escapes.get(ch, ch) for ch in value) + '"'


_plain_text = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc"))
                      | st.sampled_from("\t\n\r\b\f\\\"'#=[] "), max_size=12)
_bare_keys = st.text(alphabet="abcXYZ019_-", min_size=1, max_size=8)
_scalars = st.one_of(
    st.integers(min_value=-10**20, max_value=10**20).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.booleans().map(lambda b: "true" if b else "false"),
    _plain_text.map(_toml_string),
    st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="'"),
            max_size=12).map(lambda s: f"'{s}'"),
)
_comments = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=10
                    ).map(lambda s: "# " + s)


@st.composite
def _settings_files(draw: st.DrawFn) -> str:
    lines: list[str] = []
    keys: set[str] = set()
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from(["pair", "pair", "comment", "blank", "table"]))
        taken = frozenset(keys)
        if kind == "pair":
            key = draw(_bare_keys.filter(lambda k, taken=taken: k not in taken))
            keys.add(key)
            tail = draw(st.sampled_from(["", " ", "\t# note"]))
            lines.append(f"{key} = {draw(_scalars)}{tail}")
        elif kind == "comment":
            lines.append(draw(_comments))
        elif kind == "blank":
            lines.append(draw(st.sampled_from(["", "  ", "\t"])))
        else:
            lines.append(f"[{draw(_bare_keys.filter(lambda k, taken=taken: k not in taken))}]")
            keys = {lines[-1][1:-1]}  # a new table; its name may not come back
    return draw(st.sampled_from(["\n", "\r\n"])).join(lines)


@settings(max_examples=600)
@given(_settings_files())
def test_simple_settings_files_read_as_tomllib_reads_them(text: str) -> None:
    import tomllib

    from coord_hooks.settings import parse_simple_toml

    try:
        expected = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        assert parse_simple_toml(text) is None
        return
    got = parse_simple_toml(text)
    assert got is not None, text  # a settings file of these forms never needs tomllib
    assert got == expected


@settings(max_examples=2000)
@given(st.text(alphabet=st.sampled_from(list("ab1_-.+eE \t\r\n#=[]\"'\\tu\x01\x7f")) |
               st.characters(), max_size=30))
def test_whatever_it_reads_tomllib_reads_the_same(text: str) -> None:
    """Any text at all: an answer is tomllib's answer; anything else is left to tomllib."""
    import tomllib

    from coord_hooks.settings import parse_simple_toml

    got = parse_simple_toml(text)
    if got is not None:
        assert tomllib.loads(text) == got, text


def test_a_settings_file_does_not_load_tomllib(tmp_path: Path) -> None:
    import subprocess
    import sys

    config = tmp_path / "config.toml"
    config.write_text('# mine\nlock_ttl = 900\n[redis]\nurl = "redis://127.0.0.1:6390/0"\n')
    code = ("import sys; sys.path.insert(0, sys.argv[1])\n"
            "from coord_hooks.settings import read_config_file\n"
            "print(sorted(read_config_file(sys.argv[2]).items()), 'tomllib' in sys.modules)")
    done = subprocess.run([sys.executable, "-I", "-S", "-c", code,
                           str(Path(__file__).resolve().parents[1]), str(config)],
                          capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ("[('lock_ttl', 900), ('redis_url', "
                                   "'redis://127.0.0.1:6390/0')] False")
