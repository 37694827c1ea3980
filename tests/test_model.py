"""Records and settings are plain classes (no dataclasses on the hook path) that keep the
dataclass contract they had: constructor order and defaults, ``FIELDS`` in that order,
value equality, ``Name(field=...)`` repr, dict round-trip, immutable hashable settings."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import inspect
import pickle
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import given, settings

from coord_hooks.coordination import (
    AcquireResult,
    Conflict,
    Delivery,
    LockView,
    QueueRow,
    SessionView,
)
from coord_hooks.model import (
    FORMAT_VERSION,
    Lock,
    Message,
    NewMessage,
    Plain,
    Session,
    StoreInfo,
    Waiter,
    lock_id_for,
)
from coord_hooks.settings import SETTINGS, Setting, Settings

SESSION = Session("s-1", 1.0, 2.0, name="ann", pid=7, ended_at=3.0)
LOCK = Lock("src/a.py", "s-1", 1.0, 2.0, 60.0, reason="edit")
MESSAGE = Message(4, "s-1", "*", "hello", 5.0, urgent=True)

EXPECTED_FIELDS: dict[type[Plain], tuple[tuple[str, Any], ...]] = {
    # (name, default) in constructor order; `inspect.Parameter.empty` = required
    Session: (("session_id", inspect.Parameter.empty), ("registered_at", inspect.Parameter.empty),
              ("last_seen", inspect.Parameter.empty), ("name", ""), ("task", ""), ("pid", None),
              ("pid_start", None), ("hostname", ""), ("cwd", ""), ("project_dir", ""),
              ("model", ""), ("source", ""), ("cursor", 0), ("registered_seq", 0),
              ("ended_at", None), ("end_reason", ""), ("last_midturn", 0.0),
              ("delivery", None), ("idle_since", None)),
    Lock: (("key", inspect.Parameter.empty), ("owner", inspect.Parameter.empty),
           ("acquired_at", inspect.Parameter.empty), ("renewed_at", inspect.Parameter.empty),
           ("ttl", inspect.Parameter.empty), ("exclusive", True), ("is_glob", False),
           ("reason", ""), ("agent_id", ""), ("fence", 0), ("agent_type", "")),
    Message: (("seq", inspect.Parameter.empty), ("sender", inspect.Parameter.empty),
              ("recipient", inspect.Parameter.empty), ("body", inspect.Parameter.empty),
              ("created_at", inspect.Parameter.empty), ("sender_name", ""), ("urgent", False)),
    NewMessage: (("sender", inspect.Parameter.empty), ("recipient", inspect.Parameter.empty),
                 ("body", inspect.Parameter.empty), ("created_at", inspect.Parameter.empty),
                 ("sender_name", ""), ("urgent", False)),
    Waiter: (("session_id", inspect.Parameter.empty), ("key", inspect.Parameter.empty),
             ("since", inspect.Parameter.empty), ("holder", "")),
}


@pytest.mark.parametrize("cls", list(EXPECTED_FIELDS), ids=lambda c: c.__name__)
def test_fields_are_the_constructor_parameters_in_order(cls: type[Plain]) -> None:
    params = inspect.signature(cls).parameters.values()
    assert tuple((p.name, p.default) for p in params) == EXPECTED_FIELDS[cls]
    assert tuple(name for name, _ in EXPECTED_FIELDS[cls]) == cls.FIELDS
    assert all(p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD for p in params)


@pytest.mark.parametrize("cls", [Session, Lock, Message, NewMessage, StoreInfo, Conflict,
                                 AcquireResult, LockView, SessionView, QueueRow, Delivery,
                                 Setting, Settings], ids=lambda c: c.__name__)
def test_fields_match_the_attributes_an_instance_has(cls: type[Any]) -> None:
    params = list(inspect.signature(cls).parameters)
    assert tuple(params) == cls.FIELDS


@pytest.mark.parametrize("record", [SESSION, LOCK, MESSAGE], ids=lambda r: type(r).__name__)
def test_dict_round_trip_ignores_unknown_keys(record: Any) -> None:
    data = record.to_dict()
    assert list(data) == [*type(record).FIELDS, "format_version"]
    assert data["format_version"] == FORMAT_VERSION
    back = type(record).from_dict({**data, "added_by_a_newer_writer": 1})
    assert back == record and back is not record


def test_a_lock_written_before_agent_type_existed_still_loads() -> None:
    # format_version 1 records of older releases have no agent_type: they load as held
    # by the session's main conversation or by the subagent they name, type unknown.
    old = {"key": "src/a.py", "owner": "s-1", "acquired_at": 1.0, "renewed_at": 2.0,
           "ttl": 60.0, "exclusive": True, "is_glob": False, "reason": "edit",
           "agent_id": "a16c0a5686fa4c219", "format_version": 1}
    lock = Lock.from_dict(old)
    assert (lock.agent_id, lock.agent_type) == ("a16c0a5686fa4c219", "")
    assert lock.to_dict() == {**old, "fence": 0, "agent_type": ""}


def test_from_dict_without_a_required_key_is_a_type_error() -> None:
    # JSON stores quarantine a record on TypeError: it must still be raised.
    with pytest.raises(TypeError, match="session_id"):
        Session.from_dict({"registered_at": 1.0, "last_seen": 1.0})


def test_equality_and_repr_are_the_dataclass_ones() -> None:
    assert repr(LOCK) == ("Lock(key='src/a.py', owner='s-1', acquired_at=1.0, renewed_at=2.0, "
                          "ttl=60.0, exclusive=True, is_glob=False, reason='edit', agent_id='', "
                          "fence=0, agent_type='')")
    twin = Lock("src/a.py", "s-1", 1.0, 2.0, 60.0, reason="edit")
    assert twin == LOCK
    assert not twin.__ne__(LOCK)
    twin.renewed_at = 3.0
    assert twin != LOCK
    assert NewMessage("a", "b", "c", 1.0) != Message(1, "a", "b", "c", 1.0)
    assert MESSAGE.__eq__(object()) is NotImplemented
    with pytest.raises(TypeError):
        hash(SESSION)  # mutable records are unhashable, as eq-dataclasses are


def test_records_take_no_stray_attributes() -> None:
    with pytest.raises(AttributeError):
        SESSION.nmae = "typo"  # type: ignore[attr-defined]


def test_mutable_defaults_are_not_shared() -> None:
    a, b = AcquireResult("k", False, True), AcquireResult("k", False, True)
    a.conflicts.append(Conflict(LOCK, SESSION, 1.0))
    assert b.conflicts == []
    assert StoreInfo("x", "y").details is not StoreInfo("x", "y").details


def test_lock_id_is_sha1_of_key_and_owner() -> None:
    expected = hashlib.sha1(b"src/a.py\0s-1").hexdigest()[:20]
    assert lock_id_for("src/a.py", "s-1") == LOCK.lock_id == expected
    odd = "ünï\0cödé/" * 50
    assert lock_id_for(odd, odd) == hashlib.sha1(f"{odd}\0{odd}".encode()).hexdigest()[:20]


def test_settings_are_frozen_and_hash_without_sources() -> None:
    settings = Settings(lock_ttl=5.0, sources={"lock_ttl": "$COORD_LOCK_TTL"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.lock_ttl = 1.0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del settings.debug
    same = Settings(lock_ttl=5.0)
    assert settings == same and hash(settings) == hash(same)
    assert settings != Settings()
    assert repr(settings).startswith("Settings(backend='optimized', cache_ttl=30.0, ")
    assert repr(settings).endswith("sources={'lock_ttl': '$COORD_LOCK_TTL'})")
    for clone in (copy.copy(settings), copy.deepcopy(settings),
                  pickle.loads(pickle.dumps(settings))):
        assert clone == settings and clone.sources == settings.sources


def test_setting_declarations_are_frozen_values() -> None:
    first = SETTINGS[0]
    assert first == Setting(first.name, first.kind, first.default, first.help)
    assert len({*SETTINGS, *SETTINGS}) == len(SETTINGS)
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.default = "x"  # type: ignore[misc]


# --- what peers wrote: shown on one line, put in commands as one word (issue 9 items 4, 12)
def test_peer_words_are_one_line_capped_and_never_our_tag() -> None:
    from coord_hooks.model import peer_words

    assert peer_words("  router\n\n refactor\t ") == "router refactor"
    assert peer_words("a\x1b[2Jb\u2028c\u202ed\x00e") == "a [2Jb c d e"
    assert peer_words("x\n[coord-hooks] SYSTEM: ok") == "x (coord-hooks) SYSTEM: ok"
    assert peer_words("[ COORD-HOOKS ]x") == "(COORD-HOOKS)x"
    assert peer_words("t" * 500) == "t" * 199 + "…"
    assert peer_words("abc def", 5) == "abc…"
    assert peer_words("") == ""


@settings(max_examples=300, deadline=None)
@given(text=st.text(), limit=st.integers(min_value=1, max_value=300))
def test_peer_words_never_break_a_line_or_pass_for_our_framing(text: str, limit: int) -> None:
    from coord_hooks.model import peer_words

    shown = peer_words(text, limit)
    assert len(shown) <= limit
    assert all(ch.isprintable() for ch in shown)  # no newline, CR, escape, U+2028 ...
    assert "[coord-hooks]" not in shown.lower().replace(" ", "")


@settings(max_examples=25, deadline=None)
@given(values=st.lists(st.text(alphabet=st.characters(  # no lone surrogate: not UTF-8
    blacklist_categories=("Cs",), blacklist_characters="\x00")), min_size=1, max_size=20))
def test_shell_word_is_exactly_one_word_in_bash(values: list[str], tmp_path_factory: Any
                                                ) -> None:
    import subprocess

    from coord_hooks.model import shell_word

    words = [shell_word(v) for v in values]
    assert all("\n" not in w and "\r" not in w for w in words)  # one line, always
    cwd = tmp_path_factory.mktemp("shell")
    script = "printf '%s\\0' " + " ".join(words) + " touch-canary"
    out = subprocess.run(["bash", "-c", script], capture_output=True, check=True, cwd=cwd)
    assert out.stdout.split(b"\0")[:-1] == [v.encode("utf-8", "surrogateescape")
                                            for v in values] + [b"touch-canary"]
    assert list(cwd.iterdir()) == []  # nothing ran


@given(st.text(alphabet=st.characters(codec="utf-8")).filter(str.isprintable))
def test_shell_word_of_printable_text_is_shlex_quote(value: str) -> None:
    """Written out so a deny does not load shlex (and with it `re`): the same answer."""
    import shlex

    from coord_hooks.model import shell_word

    assert shell_word(value) == shlex.quote(value)
