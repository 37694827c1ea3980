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


@pytest.mark.parametrize("backend", ["sqlite", "optimized"])
def test_a_layout_that_moves_between_choice_and_open_is_retryable(
        state_dir: Path, backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 9 item 3: the context chose ``backend`` from the layout it just read; when a
    migration lands before the store is open, that is `LayoutChangedError` (a hook then
    opens again), never the misconfiguration error a fixed ``--backend`` would get."""
    from coord_hooks.errors import LayoutChangedError

    other = "json" if backend == "sqlite" else "sqlite"
    state_dir.mkdir()
    layout.write_marker(state_dir, other)
    with pytest.raises(LayoutChangedError, match=f"moved to the {other} layout"):
        open_store(backend, state_dir, chosen_by_layout=True)
    with pytest.raises(StoreError, match=f"uses the {other} layout") as plain:
        open_store(backend, state_dir)
    assert not isinstance(plain.value, LayoutChangedError)
    # the marker moving after open_store's own check, before the backend's (sqlite) check
    real = layout.check
    calls: list[bool] = []

    def late(state: Path, name: str, waited: bool = False) -> None:
        calls.append(waited)
        if len(calls) > 1:
            real(state, name, waited)

    monkeypatch.setattr(layout, "check", late)
    if backend == "sqlite":
        with pytest.raises(LayoutChangedError):
            open_store(backend, state_dir, chosen_by_layout=True)
        assert calls == [True, False, True]
