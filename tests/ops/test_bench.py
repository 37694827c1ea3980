"""``./benchmark.sh`` / ``coord bench``: the quick run works end to end, and its parts
(state builder, child measurement, report, chart) do what the figures rely on.

No timing is asserted here (figures belong to the benchmark's report, not to tests).
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from coord_hooks.ops import bench
from coord_hooks.store import open_store

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_quick_benchmark_runs_and_its_json_parses(tmp_path: Path) -> None:
    out = tmp_path / "results"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COORD_", "CLAUDE"))}
    env["COORD_PYTHON"] = sys.executable
    result = subprocess.run([str(REPO / "benchmark.sh"), "--quick", "--json", "--out", str(out)],
                            env=env, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert json.loads((out / bench.RESULT_JSON).read_text()) == report
    backends = report["config"]["backends"]
    assert backends[:2] == ["legacy", "optimized"]
    assert report["failures"] == [], report["failures"][:3]
    # the ablation and the floor sections ran too (tests/ops/test_ablation.py, test_floor.py)
    assert report["ablation"]["failures"] == [] and len(report["ablation"]["gains"]) == 7
    assert set(report["floor"]["attempts"][0]["hooks"]) >= {"pre-tool-use (Edit, renew)"}
    rounds = report["config"]["rounds"]
    for op in bench.OPERATIONS:
        for backend in backends:
            stats = report["operations"][op][backend]
            assert stats["n"] == rounds and 0 < stats["p50_ms"] <= stats["p95_ms"]
        cmp = report["operations"][op]["vs_legacy"]["optimized"]
        assert cmp["ratio"] > 0 and cmp["paired_ratio"] > 0
    for backend in backends:
        assert report["operations"]["memory"][backend]["p50_kb"] > 1000
    for label in ("python3 -c pass (PATH)", "resolved -c pass", "resolved -I -S -c pass"):
        assert report["baselines"][label]["n"] == rounds
    for event in ("session-start", "user-prompt-submit", "pre-tool-use", "stop",
                  "pre-tool-use (bash)", "pre-tool-use (bash write)"):
        assert report["events"][event]["optimized"]["vs_python3_p50"] > 0
    [bash] = [t for t in report["targets"] if t["target"].startswith("pre-tool-use (bash)")]
    assert bash["value"] > 0 and bash["paired"] > 0 and bash["limit"] == 1.2
    assert [p["messages"] for p in report["scaling"]["points"]] == [0, 300]
    assert report["scaling"]["growth_vs_empty"]["optimized"]["pre-tool-use"] > 0
    assert {t["target"] for t in report["targets"]} >= {
        "File locking: optimized >= 2x faster than legacy",
        "pre-tool-use p50 <= 1.5x python3 -c pass"}
    svg = ET.parse(out / bench.RESULT_SVG).getroot()
    assert svg.tag.endswith("svg") and len(list(svg.iter())) > 50
    # The progress bar went to stderr, never into the JSON on stdout.
    assert result.stdout.lstrip().startswith("{")
    if "redis" in backends:  # a valkey/redis server could be started (the test extra)
        assert report["redis_server"].startswith("local ")
        trips = report["round_trips"]["redis"]
        assert trips["PreToolUse (locked)"] >= 5 and trips["UserPromptSubmit (ok)"] >= 3
        assert report["events"]["pre-tool-use"]["redis_vs_sqlite"]["paired_ratio"] > 0
        assert "pre-tool-use p50: redis <= 1.2x sqlite" in {t["target"] for t in
                                                            report["targets"]}


def test_built_state_reads_the_same_through_every_json_backend(tmp_path: Path) -> None:
    sizes = bench.Sizes(sessions=5, locks=120, messages=250)
    template = tmp_path / "template"
    roles = bench.build_json_state(template, sizes, now=1_700_000_000.0)
    assert len({roles.reader, roles.locker, roles.sender, roles.holder}) == 4
    seen = []
    for backend in ("legacy", "optimized"):
        state = tmp_path / backend
        bench.clone_state(template, state, backend)
        store = open_store(backend, state)
        with store.read() as view:
            sessions, locks = view.sessions(), view.locks()
            messages = view.messages_after(0)
            assert len(sessions) == 5 and len(locks) == 121  # + the deny-case lock
            assert view.last_seq() == 250 and view.message_count() == 250
            assert [m.seq for m in messages] == list(range(1, 251))
            assert sum(lk.is_glob for lk in locks) == 2
        seen.append((sessions, sorted(locks, key=lambda lk: lk.lock_id), messages))
        store.close()
    assert seen[0] == seen[1]


def test_clones_do_not_share_changes(tmp_path: Path) -> None:
    """States are hard-linked copies: a write in one must never show in another."""
    template = tmp_path / "template"
    roles = bench.build_json_state(template, bench.Sizes(3, 10, 20), now=1_700_000_000.0)
    for backend in ("legacy", "optimized"):
        bench.clone_state(template, tmp_path / backend, backend)
    store = open_store("optimized", tmp_path / "optimized")
    with store.transaction() as tx:
        me = tx.get_session(roles.reader)
        assert me is not None
        me.name = "changed"
        tx.put_session(me)
        tx.archive_messages(10)
    with open_store("legacy", tmp_path / "legacy").read() as view:
        them = view.get_session(roles.reader)
        assert them is not None and them.name != "changed"
        assert view.message_count() == 20


def test_spawner_reports_the_childs_own_peak_rss(tmp_path: Path) -> None:
    """A child forked straight from a big parent would report the parent's RSS."""
    ballast = bytearray(150 * 1024 * 1024)  # make this process big, pages touched
    for i in range(0, len(ballast), 4096):
        ballast[i] = 1
    spawner = bench.Spawner(tmp_path)
    try:
        small = spawner.run([sys.executable, "-I", "-S", "-c", "pass"], dict(os.environ))
        big = spawner.run([sys.executable, "-I", "-S", "-c", "b = bytearray(80 << 20)"
                           "\nfor i in range(0, len(b), 4096): b[i] = 1"], dict(os.environ))
        echo = spawner.run(["cat"], dict(os.environ), stdin=b"hello")
    finally:
        spawner.close()
    del ballast
    assert small.rc == 0 and small.rss_kb < 60 * 1024
    assert big.rss_kb - small.rss_kb > 70 * 1024
    assert echo.stdout == b"hello" and small.ms > 0


def test_targets_and_ratios() -> None:
    assert bench.percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert bench.percentile([float(v) for v in range(1, 21)], 95) == 19.0
    assert bench.ratio(30.0, 10.0) == 3.0 and bench.ratio(1.0, 0.0) is None
    assert bench.faster_pct(100.0, 40.0) == 60.0
    entry = {"legacy": {"p50_ms": 90.0}, "optimized": {"p50_ms": 30.0}}
    bench._compare(entry, ["legacy", "optimized"], "p50_ms")
    assert entry["vs_legacy"] == {"optimized": {"ratio": 3.0, "faster_pct": 66.7}}
    # Paired: the median of per-round ratios, which drift in load hits alike.
    rounds = {"legacy": [bench.Sample(ms, 0, 0) for ms in (100.0, 300.0, 50.0)],
              "optimized": [bench.Sample(ms, 0, 0) for ms in (50.0, 100.0, 50.0)]}
    bench._compare(entry, ["legacy", "optimized"], "p50_ms", rounds)
    assert entry["vs_legacy"]["optimized"]["paired_ratio"] == 2.0


def test_sqlite_joins_only_with_its_shim(monkeypatch: pytest.MonkeyPatch,
                                         tmp_path: Path) -> None:
    monkeypatch.setattr(bench, "SHIMS", tmp_path)
    monkeypatch.setitem(bench.BACKENDS, "sqlite", "coord_hooks.store.sqlite:SqliteStore")
    assert bench.available_backends() == ("legacy", "optimized")
    (tmp_path / "hooks-sqlite.sh").write_text("#!/bin/sh\n")
    assert bench.available_backends() == ("legacy", "optimized", "sqlite")


# --- the chart ---------------------------------------------------------------------------------
def _text_boxes(svg: str) -> list[tuple[str, float, float, float, float]]:
    """(text, x0, y0, x1, y1) of every <text>, with a generous width per character."""
    boxes = []
    for el in ET.fromstring(svg).iter("{http://www.w3.org/2000/svg}text"):
        text = el.text or ""
        size = float(el.get("font-size", "12"))
        width = 0.6 * size * len(text)
        x, y = float(el.get("x", 0)), float(el.get("y", 0))
        anchor = el.get("text-anchor", "start")
        x0 = x - width if anchor == "end" else x - width / 2 if anchor == "middle" else x
        boxes.append((text, x0, y - 0.8 * size, x0 + width, y + 0.2 * size))
    return boxes


def _plot_area(svg: str) -> tuple[float, float, float, float]:
    axes = [el for el in ET.fromstring(svg).iter("{http://www.w3.org/2000/svg}line")
            if el.get("stroke") == "#333"]
    xs = [float(el.get(k, 0)) for el in axes for k in ("x1", "x2")]
    ys = [float(el.get(k, 0)) for el in axes for k in ("y1", "y2")]
    return min(xs), min(ys), max(xs), max(ys)


def _overlapping(a: tuple[str, float, float, float, float],
                 b: tuple[str, float, float, float, float]) -> bool:
    return a[1] < b[3] and b[1] < a[3] and a[2] < b[4] and b[2] < a[4]


def _many_points(report: dict[str, Any]) -> dict[str, Any]:
    wide = copy.deepcopy(report)
    points = wide["scaling"]["points"]
    template = points[-1]
    for n in range(1, 9):
        point = copy.deepcopy(template)
        point["messages"] = 100_000 * (n + 1)
        points.append(point)
    return wide


@pytest.mark.parametrize("many", [False, True])
def test_chart_labels_do_not_overlap_each_other_or_the_lines(many: bool) -> None:
    report = json.loads((REPO / "docs" / "benchmark" / "benchmark.json").read_text())
    svg = bench.render_svg(_many_points(report) if many else report)
    boxes = _text_boxes(svg)
    width = float(svg.split('width="', 1)[1].split('"', 1)[0])
    height = float(svg.split('height="', 1)[1].split('"', 1)[0])
    for box in boxes:
        assert box[1] >= 0 and box[3] <= width and box[2] >= 0 and box[4] <= height, box
    clashes = [(a[0], b[0]) for i, a in enumerate(boxes) for b in boxes[i + 1:]
               if _overlapping(a, b)]
    assert clashes == []
    left, top, right, bottom = _plot_area(svg)
    inside = [b[0] for b in boxes if _overlapping(b, ("plot", left, top, right, bottom))]
    assert inside == []  # no label sits on the lines
    assert "python3 -c pass from PATH" in svg  # the baseline is still named, in the key
