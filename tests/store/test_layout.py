"""Which layout a state dir holds, and how backends of the other layout are kept out."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from coord_hooks.context import choose_backend, open_context
from coord_hooks.errors import StoreError
from coord_hooks.settings import load_settings
from coord_hooks.store import layout, open_store


def write_json_session(state_dir: Path) -> None:
    (state_dir / "sessions").mkdir(parents=True, exist_ok=True)
    (state_dir / "sessions" / "s1.json").write_text(json.dumps(
        {"session_id": "s1", "registered_at": 1.0, "last_seen": 1.0}))


def test_detect(state_dir: Path) -> None:
    assert layout.detect(state_dir) is None  # missing
    for sub in ("sessions", "locks", "messages"):
        (state_dir / sub).mkdir(parents=True)
    assert layout.detect(state_dir) is None  # empty folders a JSON store made
    write_json_session(state_dir)
    assert layout.detect(state_dir) == "json"
    assert layout.detect(state_dir, want="json") is None  # JSON folders not scanned
    (state_dir / "coord.db").write_bytes(b"")
    assert layout.detect(state_dir) == "sqlite"  # no marker: the database wins
    layout.write_marker(state_dir, "json", "a test")
    assert layout.detect(state_dir) == "json"  # the marker wins over both
    assert (state_dir / "layout").read_text().startswith("json\n")
    (state_dir / "layout").write_text("bogus\n")
    assert layout.read_marker(state_dir) is None


@pytest.mark.parametrize("name", ["seq.json", "broadcasts.jsonl"])
def test_counter_or_queued_broadcasts_alone_mean_json(state_dir: Path, name: str) -> None:
    state_dir.mkdir()
    (state_dir / name).write_text("{}\n")
    assert layout.detect(state_dir) == "json"


def test_backends_refuse_the_other_layout_clearly(state_dir: Path) -> None:
    state_dir.mkdir()
    layout.write_marker(state_dir, "sqlite")
    with pytest.raises(StoreError) as caught:
        open_store("optimized", state_dir)
    message = str(caught.value)
    assert "uses the sqlite layout" in message and "coord migrate --to json" in message
    assert not (state_dir / "sessions").exists()  # no empty JSON store was started

    other = state_dir.parent / "json-state"
    write_json_session(other)
    with pytest.raises(StoreError, match="coord migrate --to sqlite"):
        open_store("sqlite", other)
    assert not (other / "coord.db").exists()


def test_preferences_follow_the_layout(state_dir: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(None, {})
    assert choose_backend(settings, "optimized", {}, state_dir) == "optimized"
    state_dir.mkdir()
    layout.write_marker(state_dir, "sqlite")
    # A shim, a config file or $COORD_BACKEND naming a JSON backend: redirected.
    assert choose_backend(settings, "optimized", {}, state_dir) == "sqlite"
    assert choose_backend(settings, "legacy", {}, state_dir) == "sqlite"
    env = {"COORD_BACKEND": "legacy"}
    assert choose_backend(load_settings(None, env), None, env, state_dir) == "sqlite"
    layout.write_marker(state_dir, "json")
    assert choose_backend(settings, "sqlite", {}, state_dir) == "optimized"
    assert choose_backend(settings, "legacy", {}, state_dir) == "legacy"
    # Without an explicit state dir, $COORD_STATE_DIR's is consulted.
    monkeypatch.setenv("COORD_STATE_DIR", str(state_dir))
    assert choose_backend(settings, "sqlite") == "optimized"


def test_coord_backend_sqlite_on_a_new_dir_claims_it(state_dir: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COORD_BACKEND", "sqlite")
    ctx = open_context()
    assert ctx.backend == "sqlite"
    ctx.coordinator.register("s1")
    ctx.store.close()
    assert layout.read_marker(state_dir) == "sqlite"
    monkeypatch.delenv("COORD_BACKEND")
    ctx = open_context(backend="optimized")  # what hooks-optimized.sh asks for
    assert ctx.backend == "sqlite"
    with ctx.store.read() as view:
        assert [s.session_id for s in view.sessions()] == ["s1"]
    ctx.store.close()


def test_coord_backend_sqlite_on_json_data_stays_json(state_dir: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    write_json_session(state_dir)
    monkeypatch.setenv("COORD_BACKEND", "sqlite")
    ctx = open_context()
    assert ctx.backend == "optimized"  # the data is JSON until `coord migrate`
    with ctx.store.read() as view:
        assert [s.session_id for s in view.sessions()] == ["s1"]
    assert not os.path.exists(state_dir / "coord.db")
