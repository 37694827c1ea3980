"""coord_hooks.cli.views: the dicts behind --json and the rows behind the tables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from coord_hooks.cli import views
from coord_hooks.coordination import (
    AcquireResult,
    Conflict,
    LockView,
    QueueRow,
    SessionView,
)
from coord_hooks.model import Lock, Message, Session
from coord_hooks.settings import SETTINGS, Settings, load_settings

NOW = 1_800_000_000.0
ALICE = Session(session_id="aaaa1111-0000", registered_at=NOW - 3600, last_seen=NOW - 300,
                name="alice", task="router", pid=42, cwd="/p")
BOB = Session(session_id="bbbb2222-0000", registered_at=NOW - 60, last_seen=NOW - 5)

SESSION_KEYS = {"session_id", "handle", "name", "task", "state", "live", "end_reason", "pid",
                "hostname", "cwd", "project_dir", "model", "source", "registered_at",
                "last_seen", "ended_at", "idle_s", "locks", "unread"}
LOCK_KEYS = {"key", "is_glob", "exclusive", "owner", "holder_handle", "holder_name", "reason",
             "agent_id", "agent_type", "acquired_at", "renewed_at", "ttl_s", "age_s", "idle_s",
             "active", "fence"}
MESSAGE_KEYS = {"seq", "created_at", "age_s", "sender", "sender_handle", "sender_name",
                "recipient", "recipient_handle", "recipient_name", "broadcast", "urgent", "body"}


def _lock(key: str = "src/app.py", **kw: Any) -> Lock:
    data: dict[str, Any] = {"key": key, "owner": ALICE.session_id, "acquired_at": NOW - 600,
                            "renewed_at": NOW - 120, "ttl": 1800.0}
    data.update(kw)
    return Lock(**data)


@pytest.mark.parametrize(("seconds", "text"), [
    (None, "-"), (0.4, "0s ago"), (59.9, "59s ago"), (60, "1m ago"), (3599, "59m ago"),
    (7200, "2h ago"), (3 * 86400, "3d ago"), (-5, "0s ago"),
])
def test_age_text(seconds: float | None, text: str) -> None:
    assert views.age_text(seconds) == text


@pytest.mark.parametrize(("seconds", "text"), [
    (1800.0, "30m"), (3600.0, "1h"), (90.0, "90s"), (60.0, "1m"), (7200.0, "2h"), (1.5, "1.5s"),
])
def test_duration_text(seconds: float, text: str) -> None:
    assert views.duration_text(seconds) == text


def test_session_dict_and_row() -> None:
    view = SessionView(ALICE, live=True, locks=[_lock(), _lock("b.py"), _lock("c.py"),
                                                _lock("d.py")], unread=2)
    d = views.session_dict(view, NOW)
    assert set(d) == SESSION_KEYS
    assert d["session_id"] == ALICE.session_id and d["handle"] == "aaaa1111"
    assert d["state"] == "live" and d["live"] is True
    assert d["idle_s"] == 300.0
    assert d["locks"] == ["src/app.py", "b.py", "c.py", "d.py"]
    assert d["unread"] == 2
    assert views.session_row(d) == ["aaaa1111", "alice", "router", "live", "42", "5m ago",
                                    "src/app.py, b.py, c.py +1", "2", "/p"]
    json.dumps(d)  # plain data only


def test_session_states() -> None:
    ended = Session(session_id="cccc3333", registered_at=NOW, last_seen=NOW,
                    ended_at=NOW, end_reason="superseded")
    d = views.session_dict(SessionView(ended, live=False, locks=[], unread=0), NOW)
    assert d["state"] == "ended"
    assert views.session_row(d)[3] == "ended (superseded)"
    dead = views.session_dict(SessionView(BOB, live=False, locks=[], unread=0), NOW)
    assert dead["state"] == "dead"
    assert views.session_row(dead)[1:3] == ["-", "-"]  # no name, no task
    assert views.session_row(dead)[4] == "-"  # no pid


def test_lock_dict_and_row() -> None:
    lock = _lock(reason="refactor", is_glob=False)
    d = views.lock_dict(LockView(lock, ALICE, True, NOW))
    assert set(d) == LOCK_KEYS
    assert d["holder_handle"] == "aaaa1111" and d["holder_name"] == "alice"
    assert d["age_s"] == 600.0
    # idle: the later of lock renewal (120 s ago) and holder heartbeat (300 s ago)
    assert d["idle_s"] == 120.0
    assert views.lock_row(d) == ["src/app.py", "aaaa1111 (alice)", "exclusive", "refactor",
                                 "10m ago", "2m ago", "30m", "active"]
    glob = views.lock_dict(LockView(_lock("docs/**", exclusive=False, is_glob=True, ttl=90.0),
                                    None, False, NOW))
    assert glob["holder_name"] == ""
    assert views.lock_row(glob) == ["docs/**", "aaaa1111", "shared glob", "-", "10m ago",
                                    "2m ago", "90s", "lapsed"]
    sub = views.lock_dict(LockView(_lock(agent_id="a16c0a5686fa4c219", agent_type="Explore"),
                                   ALICE, True, NOW))
    assert (sub["agent_id"], sub["agent_type"]) == ("a16c0a5686fa4c219", "Explore")
    assert views.lock_row(sub)[1] == "aaaa1111 (alice) / subagent a16c0a56 Explore"


def test_message_dict_direct_from_human() -> None:
    message = Message(seq=7, sender="human", recipient=ALICE.session_id, body="hi [there]",
                      created_at=NOW - 90, sender_name="pat (human)", urgent=True)
    d = views.message_dict(message, NOW, {ALICE.session_id: ALICE})
    assert set(d) == MESSAGE_KEYS
    assert d["sender_handle"] == "human" and d["recipient_handle"] == "aaaa1111"
    assert d["recipient_name"] == "alice" and d["broadcast"] is False and d["urgent"] is True
    assert d["age_s"] == 90.0
    assert views.message_row(d) == ["7", "1m ago", "pat (human)", "aaaa1111 (alice)",
                                    "URGENT: hi [there]"]


def test_message_dict_broadcast_from_session() -> None:
    message = Message(seq=8, sender=ALICE.session_id, recipient="*", body="all",
                      created_at=NOW, sender_name="alice")
    d = views.message_dict(message, NOW, {})
    assert d["broadcast"] is True and d["recipient_handle"] == "*"
    assert views.message_row(d) == ["8", "0s ago", "aaaa1111 (alice)", "everyone", "all"]
    # a sender without a name shows its handle once, not "bbbb2222 (bbbb2222)"
    anon = Message(seq=9, sender=BOB.session_id, recipient=ALICE.session_id, body="x",
                   created_at=NOW, sender_name="bbbb2222")
    assert views.message_row(views.message_dict(anon, NOW, {}))[2:4] == ["bbbb2222",
                                                                         "aaaa1111"]


def test_messages_dicts_labels_recipients() -> None:
    message = Message(seq=1, sender="human", recipient=BOB.session_id, body="b",
                      created_at=NOW)
    [d] = views.messages_dicts([message], NOW, [ALICE, BOB])
    assert d["recipient_handle"] == "bbbb2222" and d["recipient_name"] == ""


def test_queue_dict_and_row() -> None:
    d = views.queue_dict(QueueRow(ALICE, True, 3, 1, 125.0))
    assert d == {"session_id": ALICE.session_id, "handle": "aaaa1111", "name": "alice",
                 "live": True, "unread": 3, "urgent": 1, "oldest_unread_age_s": 125.0}
    assert views.queue_row(d) == ["aaaa1111 (alice)", "live", "3", "1", "2m ago"]
    none = views.queue_dict(QueueRow(BOB, False, 0, 0, None))
    assert views.queue_row(none) == ["bbbb2222", "ended", "0", "0", "-"]


def test_acquire_dict_granted_and_denied() -> None:
    granted = views.acquire_dict("./a.py", AcquireResult("a.py", False, True,
                                                         lock=_lock("a.py"), renewed=True))
    assert granted == {"target": "./a.py", "key": "a.py", "is_glob": False, "granted": True,
                       "renewed": True, "exclusive": True, "ttl_s": 1800.0, "reason": "",
                       "conflicts": [], "denial": None}
    conflict = Conflict(_lock("a.py", reason="mine"), ALICE, NOW)
    denied = views.acquire_dict("a.py", AcquireResult("a.py", False, False,
                                                      conflicts=[conflict]))
    assert denied["granted"] is False and denied["exclusive"] is None
    assert denied["conflicts"] == [conflict.to_dict()]
    assert denied["denial"] == conflict.describe("a.py")
    assert "aaaa1111 (alice)" in denied["denial"]


def test_release_dict() -> None:
    d = views.release_dict("a.py", "a.py", [_lock("a.py")], True, None)
    assert d == {"target": "a.py", "key": "a.py", "forced": True, "error": None,
                 "released": [{"key": "a.py", "owner": ALICE.session_id,
                               "holder_handle": "aaaa1111"}]}


def test_settings_dict_reports_sources(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("lock_ttl = 60\nbogus = 1\n")
    monkeypatch.setenv("CACHE_TTL", "7")
    settings = load_settings(tmp_path)
    d = views.settings_dict(settings)
    assert list(d) == [s.name for s in SETTINGS]
    assert d["cache_ttl"] == {"value": 7.0, "source": "$CACHE_TTL",
                              "env": "COORD_CACHE_TTL or CACHE_TTL",
                              "help": "seconds a cached snapshot may be reused (0 disables)"}
    assert d["lock_ttl"]["value"] == 60.0
    assert d["lock_ttl"]["source"] == str(tmp_path / "config.toml")
    assert d["max_message_chars"]["source"] == "default"
    assert views.ignored_settings(settings) == ["bogus"]
    assert views.config_row("debug", d["debug"])[:3] == ["debug", "false", "default"]


def test_cache_view_without_cache_says_so() -> None:
    d = views.cache_view("legacy", Settings(), {"generation": 3})
    assert d == {"backend": "legacy", "cache_ttl_s": 30.0, "available": False, "cache": None,
                 "note": "the legacy backend keeps no cache"}


def test_cache_view_shows_backend_cache() -> None:
    cache = {"entries": 4, "hits": 10, "misses": 2}
    d = views.cache_view("optimized", Settings(), {"cache": cache})
    assert d["available"] is True and d["cache"] == cache and d["note"] is None


def test_performance_view_empty(tmp_path: Path) -> None:
    d = views.performance_view("legacy", Settings(), tmp_path)
    assert d["runs"] == 0 and d["events"] == {} and d["slow_operations"] == []
    assert d["note"] == "no hook runs recorded yet"
    assert d["log"] == str(tmp_path / "logs" / "performance.log")


def test_performance_view_percentiles(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    # the hook's own format: hook=<event>, ms=<total>
    lines = [json.dumps({"ts": 1, "hook": "pre-tool-use", "ms": float(ms), "backend": "x"})
             for ms in range(100, 0, -1)]
    lines += [json.dumps({"event": "stop", "duration_ms": 4}), "not json", "[1, 2]",
              json.dumps({"event": "stop"}), json.dumps({"event": "stop", "ms": True}),
              json.dumps({"ms": 5.0})]
    (logs / "performance.log").write_text("\n".join(lines) + "\n")
    (logs / "app.log").write_text(
        json.dumps({"ts": 5, "level": "warning", "event": "slow_operation", "hook": "stop",
                    "ms": 900, "backend": "legacy", "outcome": "ok", "steps": {"a": 1}}) + "\n"
        + json.dumps({"event": "quarantined"}) + "\n")
    d = views.performance_view("legacy", Settings(), tmp_path)
    assert d["runs"] == 101
    assert d["events"] == {
        "pre-tool-use": {"runs": 100, "p50_ms": 50.0, "p95_ms": 95.0, "max_ms": 100.0},
        "stop": {"runs": 1, "p50_ms": 4.0, "p95_ms": 4.0, "max_ms": 4.0},
    }
    assert d["slow_operations"] == [{"ts": 5, "event": "stop", "ms": 900.0,
                                     "backend": "legacy", "outcome": "ok"}]
    assert d["note"] is None
    assert views.performance_row("stop", d["events"]["stop"]) == ["stop", "1", "4", "4", "4"]


def test_performance_view_window_keeps_most_recent(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    old = [json.dumps({"event": "stop", "ms": 1000.0})] * 50
    new = [json.dumps({"event": "stop", "ms": 1.0})] * 10
    (logs / "performance.log").write_text("\n".join(old + new) + "\n")
    d = views.performance_view("legacy", Settings(), tmp_path, window=10)
    assert d["events"]["stop"] == {"runs": 10, "p50_ms": 1.0, "p95_ms": 1.0, "max_ms": 1.0}


@pytest.mark.parametrize(("values", "q", "expected"), [
    ([5.0], 0.5, 5.0), ([1.0, 2.0], 0.5, 1.0), ([3.0, 1.0, 2.0], 0.95, 3.0),
    ([float(v) for v in range(1, 21)], 0.95, 19.0),
])
def test_percentile_nearest_rank(values: list[float], q: float, expected: float) -> None:
    assert views.percentile(values, q) == expected
