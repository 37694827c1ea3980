"""The benchmark's ablation (`coord_hooks.ops.ablation`): each variant really switches off
what it says, and the in-process runner measures the real handlers.

No timing is asserted here (figures belong to the benchmark's report, not to tests).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from coord_hooks.ops import ablation, bench, shims

NAMES = {v.name: v for v in ablation.VARIANTS}


def _probe(root: Path, flags: list[str], code: str) -> str:
    boot = f"import sys; sys.path[:] = [{str(root)!r}] + [p for p in sys.path if p]\n{code}"
    done = subprocess.run([sys.executable, *flags, "-c", boot], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_blocking_portalocker_makes_legacy_take_the_stdlib_flock(tmp_path: Path) -> None:
    code = ("from coord_hooks.store.jsonfiles import LegacyStore\n"
            f"store = LegacyStore(__import__('pathlib').Path({str(tmp_path / 's')!r}))\n"
            "print(type(store._mutex()).__name__, 'portalocker' in sys.modules)")
    blocked = NAMES["legacy, no portalocker"]
    assert blocked.python_flags() == ["-I"]  # site-packages stay: only portalocker goes
    root = ablation.variant_root(tmp_path / "work", blocked)
    assert _probe(root, blocked.python_flags(), code) == "FlockLock False"
    # the same interpreter and flags without the stand-in do load portalocker
    shipped = NAMES["legacy"]
    assert _probe(ablation.variant_root(tmp_path / "work", shipped), shipped.python_flags(),
                  code) == "_PortalockerMutex True"
    no_site = NAMES["legacy, no site"]
    assert _probe(ablation.variant_root(tmp_path / "work", no_site), no_site.python_flags(),
                  code + "\nprint('site' in sys.modules)") == "FlockLock False\nFalse"


def test_variant_shims_run_with_the_variants_flags(tmp_path: Path) -> None:
    for name in ("optimized", "optimized, with site-packages", "legacy, no site"):
        variant = NAMES[name]
        root = ablation.variant_root(tmp_path, variant)
        text = ablation.variant_shim(tmp_path, variant, root).read_text()
        assert shims.flags_line(variant.python_flags()) in text
        assert f"BACKEND={variant.backend}" in text
    assert NAMES["optimized"].python_flags() == ["-I", "-S"]
    assert NAMES["optimized, with site-packages"].python_flags() == ["-I"]


def test_each_switch_is_one_setting_the_optimized_store_reads() -> None:
    from coord_hooks.settings import load_settings
    from coord_hooks.store.optimized import EAGER_FLAGS

    assert load_settings(None, NAMES["optimized, cache off"].env).cache_ttl == 0
    assert load_settings(None, NAMES["optimized, batches off"].env).broadcast_batch_size == 1
    assert set(NAMES["optimized, eager loading"].env) == set(EAGER_FLAGS)
    assert NAMES["optimized"].env == {}


def test_a_quick_ablation_runs_every_variant_both_ways(tmp_path: Path) -> None:
    result = ablation.run(bench.Sizes(3, 20, 40), rounds=1, python=sys.executable,
                          workdir=tmp_path)
    assert result["failures"] == [], result["failures"][:2]
    for op in ablation.OPERATIONS:
        for variant in ablation.VARIANTS:
            for mode in ablation.MODES:
                stats = result["operations"][op][variant.name][mode]
                assert stats["n"] == 1 and stats["p50_ms"] > 0, (op, variant.name, mode)
    gains = {row["gain"]: row for row in result["gains"]}
    assert set(gains) == {v.gain for v in ablation.VARIANTS if v.gain}
    assert gains["legacy's portalocker import"]["without"] == "legacy"
    assert gains["the snapshot cache"]["with"] == "optimized"
    assert all(kb and kb > 1000 for kb in result["memory_kb"].values())
    json.dumps(result)  # the report is plain JSON


def test_the_in_process_runner_times_the_real_handler(tmp_path: Path) -> None:
    template = tmp_path / "state"
    roles = bench.build_json_state(template, bench.Sizes(3, 5, 5), now=__import__("time").time())
    env = bench.base_env(tmp_path, sys.executable)
    env.update(COORD_STATE_DIR=str(template), CLAUDE_PROJECT_DIR=str(tmp_path))
    held = bench.edit_payload("pre-tool-use", roles.locker, tmp_path, tmp_path / "bench" /
                              "held.py")
    runner = ablation.InProcess(sys.executable, ["-I", "-S"], ablation.PLUGIN_ROOT, env,
                                tmp_path / "io")
    try:
        denied = runner.run("hook", ["pre-tool-use", "--backend", "optimized"], env, held)
        again = runner.run("hook", ["pre-tool-use", "--backend", "optimized"], env, held)
    finally:
        runner.close()
    assert denied.rc == 0 and denied.ms > 0
    decision = json.loads(denied.stdout)["hookSpecificOutput"]["permissionDecision"]
    assert decision == "deny" and again.stdout == denied.stdout
