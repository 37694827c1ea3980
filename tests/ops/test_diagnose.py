"""coord diagnose: each crafted problem is found with the right fix; a clean state is clean."""

from __future__ import annotations

import json
import os
import shlex
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from coord_hooks import fsio, health, logs
from coord_hooks.cli import health as cli_health
from coord_hooks.context import Context, open_context
from coord_hooks.ops import checks, diagnose
from coord_hooks.ops.checks import state as state_checks
from coord_hooks.ops.findings import Finding, Report

SHIM = "#!/bin/sh\nexit 0\n"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    monkeypatch.setenv("CLAUDE_PROJECT_DIR", str(root))
    return root


@pytest.fixture
def plugin(tmp_path: Path) -> Path:
    """A healthy plugin checkout: hooks.json, both shims (executable), the symlink."""
    root = tmp_path / "plugin"
    (root / "shims").mkdir(parents=True)
    (root / "bin").mkdir()
    command = '"${CLAUDE_PLUGIN_ROOT}/shims/hooks.sh" pre-tool-use'
    (root / "hooks.json").write_text(json.dumps({"hooks": {"PreToolUse": [
        {"matcher": "Edit", "hooks": [{"type": "command", "command": command}]}]}}))
    for name in ("hooks-legacy.sh", "hooks-optimized.sh"):
        (root / "shims" / name).write_text(SHIM)
        (root / "shims" / name).chmod(0o755)
    (root / "shims" / "hooks.sh").symlink_to("hooks-optimized.sh")
    (root / "bin" / "coord").write_text(SHIM)
    (root / "bin" / "coord").chmod(0o755)
    return root




@pytest.fixture
def ctx(state_dir: Path, project: Path) -> Iterator[Context]:
    context = open_context()
    yield context
    context.store.close()


@pytest.fixture
def clean(ctx: Context, pids: Callable[[], int]) -> Context:
    """A healthy, busy state: two live sessions, a held lock, read mail, fast hooks."""
    c = ctx.coordinator
    c.register("alice001-aaaa", pid=pids(), name="alice")
    c.register("bob00002-bbbb", pid=pids(), name="bob")
    c.acquire("alice001-aaaa", "src/app.py", cwd=str(ctx.project_root))
    c.send("alice001-aaaa", "bob", "taking src/app.py")
    c.broadcast("bob00002-bbbb", "hello")
    c.inbox("alice001-aaaa")
    c.inbox("bob00002-bbbb")
    for i in range(30):
        logs.log_performance(ctx.state_dir, event="pre-tool-use", ms=20 + i % 7)
    return ctx


def run(ctx: Context, plugin: Path, tmp_path: Path, **kwargs: object) -> Report:
    return diagnose.diagnose(ctx, plugin_root=plugin, home=tmp_path / "home", **kwargs)  # type: ignore[arg-type]


def only(report: Report, code: str) -> Finding:
    found = [f for f in report.findings if f.code == code]
    assert len(found) == 1, f"expected one {code}, got {[f.code for f in report.findings]}"
    return found[0]


def problems(report: Report) -> list[str]:
    return [f"{f.severity}:{f.code}" for f in report.problems()]


# --- the clean state -----------------------------------------------------------------------
def test_clean_state_has_no_warnings_or_errors(clean: Context, plugin: Path,
                                               tmp_path: Path) -> None:
    report = run(clean, plugin, tmp_path)
    assert problems(report) == []
    assert report.exit_code == 0
    stats = report.stats
    assert stats["sessions"] == {"registered": 2, "live": 2, "ended": 0, "dead": 0}
    assert stats["locks"]["total"] == stats["locks"]["active"] == 1
    assert stats["messages"]["live"] == 2
    assert stats["latency"][0]["event"] == "pre-tool-use"
    assert stats["latency"][0]["runs"] == 30
    assert stats["store"]["files"] > 0 and stats["store"]["history_samples"] == 1
    assert {f.code for f in report.findings} >= {"store-size", "messages"}


def test_report_markdown_lists_findings_fixes_and_figures(clean: Context, plugin: Path,
                                                          tmp_path: Path) -> None:
    clean.coordinator.register("dead0003-cccc", pid=2**22 + 11, pid_start="1")
    report = run(clean, plugin, tmp_path)
    path = diagnose.write_report(report, tmp_path / "out" / "report.md")
    text = path.read_text()
    assert text.startswith("# coord-hooks performance report\n")
    assert "### [WARNING] 1 dead session(s) still registered" in text
    assert "Fix: `coord cleanup`" in text
    assert "| pre-tool-use | 30 |" in text
    assert "## Store" in text and "## Coordination" in text
    assert path.stat().st_mode & 0o777 == 0o600
    assert report.to_dict()["report_path"] == str(path)


# --- each problem, with its fix --------------------------------------------------------------
def test_dead_session_and_its_lock(clean: Context, plugin: Path, tmp_path: Path) -> None:
    c = clean.coordinator
    c.register("dead0003-cccc", pid=2**22 + 11, pid_start="1", name="carol")  # gone
    with clean.store.transaction() as tx:  # as if carol took the lock while alive
        from coord_hooks.model import Lock

        now = time.time()
        tx.put_lock(Lock("docs/x.md", "dead0003-cccc", now, now, 600.0))
    report = run(clean, plugin, tmp_path)
    dead = only(report, "dead-sessions")
    assert dead.severity == "warning" and dead.fix == "coord cleanup"
    assert "dead0003 (carol)" in dead.detail
    lock = only(report, "locks-dead-holder")
    assert lock.fix == "coord cleanup" and lock.data["keys"] == ["docs/x.md"]
    assert report.exit_code == 0  # warnings only


def test_lock_of_a_missing_session_record_still_blocks(clean: Context, plugin: Path,
                                                       tmp_path: Path) -> None:
    with clean.store.transaction() as tx:  # its holder's record was lost (issue 9 item 7)
        from coord_hooks.model import Lock

        now = time.time()
        tx.put_lock(Lock("src/kept.py", "gone0004-dddd", now, now, 600.0))
        tx.put_lock(Lock("src/old.py", "gone0005-eeee", now - 900, now - 900, 600.0))
    report = run(clean, plugin, tmp_path)
    held = only(report, "locks-orphan")
    assert held.fix == "coord unlock --force src/kept.py"
    assert held.data["keys"] == ["src/kept.py"] and "gone0004, lease ends in 9m" in held.detail
    lapsed = only(report, "locks-dead-holder")
    assert lapsed.fix == "coord cleanup" and lapsed.data["keys"] == ["src/old.py"]


def test_lapsed_lock_of_an_idle_live_session(clean: Context, plugin: Path,
                                             tmp_path: Path) -> None:
    c = clean.coordinator
    c.acquire("bob00002-bbbb", "src/old.py", cwd=str(clean.project_root), ttl=60.0)
    with clean.store.transaction() as tx:  # bob's last activity was 2 h ago
        bob = tx.get_session("bob00002-bbbb")
        assert bob is not None
        bob.last_seen -= 7200
        tx.put_session(bob)
        for lock in tx.locks():
            if lock.owner == "bob00002-bbbb":
                lock.renewed_at -= 7200
                tx.put_lock(lock)
    finding = only(run(clean, plugin, tmp_path), "locks-idle")
    assert finding.fix == "coord cleanup" and finding.data["keys"] == ["src/old.py"]
    assert "idle 2h" in finding.detail


def test_unread_backlog_of_a_live_session(clean: Context, plugin: Path,
                                          tmp_path: Path) -> None:
    for i in range(state_checks.BACKLOG_WARN):
        clean.coordinator.send("alice001-aaaa", "bob", f"update {i}")
    finding = only(run(clean, plugin, tmp_path), "backlog")
    assert finding.severity == "warning"
    assert finding.fix == "coord inbox --session bob00002"
    assert finding.data["unread"] == state_checks.BACKLOG_WARN


def test_old_unread_message_is_a_backlog_too(clean: Context, plugin: Path,
                                             tmp_path: Path) -> None:
    clean.coordinator.send(None, "alice", "ping")
    later = time.time() + state_checks.BACKLOG_AGE_WARN + 60
    finding = only(run(clean, plugin, tmp_path, now=later), "backlog")
    assert finding.fix == "coord inbox --session alice001"


def test_retention_held_back_names_the_session_to_unblock(
        clean: Context, plugin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(30):
        clean.coordinator.send("alice001-aaaa", "bob", f"m{i}")
    monkeypatch.setenv("COORD_RETENTION_MESSAGES", "5")
    reopened = open_context()
    try:
        finding = only(run(reopened, plugin, tmp_path), "retention-behind")
    finally:
        reopened.store.close()
    assert finding.title == "32 live messages; retention keeps 5"
    assert finding.fix == "coord inbox --session bob00002; coord cleanup"


def test_retention_behind_with_nothing_holding_it(
        clean: Context, plugin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(30):
        clean.coordinator.broadcast(None, f"m{i}")
    clean.coordinator.inbox("alice001-aaaa")
    clean.coordinator.inbox("bob00002-bbbb")
    monkeypatch.setenv("COORD_RETENTION_MESSAGES", "5")
    reopened = open_context()
    try:
        finding = only(run(reopened, plugin, tmp_path), "retention-behind")
    finally:
        reopened.store.close()
    assert finding.fix == "coord cleanup"


def test_quarantined_files(clean: Context, plugin: Path, tmp_path: Path) -> None:
    bad = clean.state_dir / "sessions" / "broken0-x.json"
    bad.write_bytes(b"{half a rec")
    bad.chmod(0o600)
    moved = fsio.quarantine(bad, clean.state_dir, "invalid JSON")  # what a backend does
    assert moved is not None
    finding = only(run(clean, plugin, tmp_path), "quarantine")
    folder = shlex.quote(str(clean.state_dir / "quarantine"))
    assert finding.fix == f"ls -la {folder} && rm -i {folder}/*"
    assert finding.data["files"] == [moved.name]


def test_slow_hooks_and_outliers(clean: Context, plugin: Path, tmp_path: Path) -> None:
    for i in range(20):
        logs.log_performance(clean.state_dir, event="user-prompt-submit", ms=300 + i)
    report = run(clean, plugin, tmp_path)
    slow = only(report, "hook-latency")
    assert slow.data["event"] == "user-prompt-submit" and slow.data["p95_ms"] >= 300
    assert slow.fix.startswith("export COORDINATION_DEBUG=1")
    outliers = only(report, "latency-outliers")
    assert outliers.severity == "info" and outliers.title.startswith("20 of 50 hook runs")
    assert report.stats["latency_outliers"][0]["ms"] == 319


def test_slow_hooks_on_legacy_suggest_the_optimized_backend(
        clean: Context, plugin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for _ in range(10):
        logs.log_performance(clean.state_dir, event="pre-tool-use", ms=900)
    monkeypatch.setenv("COORD_BACKEND", "legacy")
    legacy = open_context()
    try:
        assert only(run(legacy, plugin, tmp_path), "hook-latency").fix == \
            "coord backend use optimized"
    finally:
        legacy.store.close()


def test_app_log_errors_and_slow_operations(clean: Context, plugin: Path,
                                            tmp_path: Path) -> None:
    for _ in range(3):
        logs.log_event(clean.state_dir, "warning", "slow_operation", hook="stop", ms=812.0)
    logs.log_event(clean.state_dir, "error", "hook_failed", error="boom")
    report = run(clean, plugin, tmp_path)
    slow = only(report, "slow-operations")
    assert slow.severity == "info" and slow.data["operations"] == {"stop": 3}
    errors = only(report, "app-errors")
    assert errors.data["events"] == {"hook_failed": 1}
    assert errors.fix.startswith("grep '\"level\": \"error\"' ")


def test_missing_performance_log_is_created_and_reported(ctx: Context, plugin: Path,
                                                         tmp_path: Path) -> None:
    report = run(ctx, plugin, tmp_path)
    assert only(report, "no-hook-runs").fix == "coord doctor"
    assert (ctx.state_dir / "logs" / "performance.log").exists()
    assert problems(report) == []


def test_loose_permissions(clean: Context, plugin: Path, tmp_path: Path) -> None:
    clean.state_dir.chmod(0o755)
    (clean.state_dir / "seq.json").chmod(0o644)
    report = run(clean, plugin, tmp_path)
    finding = only(report, "perm-loose")
    assert finding.fix == f"chmod -R go-rwx {shlex.quote(str(clean.state_dir))}"
    assert ". (0755)" in finding.detail and "seq.json (0644)" in finding.detail
    assert report.exit_code == 0


def test_world_writable_state_is_an_error(clean: Context, plugin: Path,
                                          tmp_path: Path) -> None:
    (clean.state_dir / "locks").chmod(0o777)
    report = run(clean, plugin, tmp_path)
    assert only(report, "perm-world-writable").severity == "error"
    assert report.exit_code == 1


def test_links_a_repository_planted_are_errors_with_the_rm(clean: Context, plugin: Path,
                                                            tmp_path: Path) -> None:
    clean.store.flush()  # the queued broadcast: the journal's name is free
    os.symlink(tmp_path / "bashrc", clean.state_dir / "broadcasts.jsonl")
    os.symlink(tmp_path, clean.state_dir / "index" / "stats.log")
    report = run(clean, plugin, tmp_path)
    finding = only(report, "state-links")
    assert finding.severity == "error" and report.exit_code == 1
    assert "broadcasts.jsonl" in finding.detail and "index/stats.log" in finding.detail
    assert "never followed" in finding.detail
    assert shlex.split(finding.fix.replace("&&", "")) == [
        "rm", str(clean.state_dir / "broadcasts.jsonl"),
        "rm", str(clean.state_dir / "index" / "stats.log")]


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_a_state_dir_shared_with_another_user_is_said_once(clean: Context, plugin: Path,
                                                           tmp_path: Path) -> None:
    for name in ("generation", "seq.json"):
        os.chown(clean.state_dir / name, 65534, 65534)
    report = run(clean, plugin, tmp_path)
    finding = only(report, "state-shared")
    assert finding.severity == "error"
    assert finding.title == "The state dir is shared with another user (uid 65534)"
    assert "generation" in finding.detail and "seq.json" in finding.detail
    assert finding.fix == f'sudo chown -R "$(id -u):$(id -g)" {shlex.quote(str(clean.state_dir))}'
    assert not [f for f in report.findings if f.code.startswith("perm-")]


def test_missing_symlink(clean: Context, plugin: Path, tmp_path: Path) -> None:
    (plugin / "shims" / "hooks.sh").unlink()
    report = run(clean, plugin, tmp_path)
    assert only(report, "shim-link-missing").fix == "coord shims generate"
    assert only(report, "hooks-json-target").severity == "error"  # hooks.json runs it
    assert report.exit_code == 1


def test_dangling_symlink(clean: Context, plugin: Path, tmp_path: Path) -> None:
    (plugin / "shims" / "hooks-optimized.sh").unlink()
    report = run(clean, plugin, tmp_path)
    finding = only(report, "shim-link-dangling")
    assert finding.severity == "error" and finding.fix == "coord shims generate"


def test_symlink_to_something_else(clean: Context, plugin: Path, tmp_path: Path) -> None:
    link = plugin / "shims" / "hooks.sh"
    link.unlink()
    (plugin / "shims" / "mine.sh").write_text(SHIM)
    link.symlink_to("mine.sh")
    assert only(run(clean, plugin, tmp_path), "shim-link-unknown").fix == \
        "coord backend use optimized"


def test_shim_replaced_by_a_plain_file(clean: Context, plugin: Path, tmp_path: Path) -> None:
    link = plugin / "shims" / "hooks.sh"
    link.unlink()
    link.write_text(SHIM)
    assert only(run(clean, plugin, tmp_path), "shim-link-not-symlink").severity == "warning"


def test_shim_not_executable(clean: Context, plugin: Path, tmp_path: Path) -> None:
    shim = plugin / "shims" / "hooks-legacy.sh"
    shim.chmod(0o644)
    finding = only(run(clean, plugin, tmp_path), "shim-not-executable")
    assert finding.fix == f"chmod +x {shlex.quote(str(shim))}"
    assert finding.severity == "error"


def test_hooks_json_invalid(clean: Context, plugin: Path, tmp_path: Path) -> None:
    (plugin / "hooks.json").write_text('{"hooks": {')
    finding = only(run(clean, plugin, tmp_path), "hooks-json-invalid")
    assert finding.severity == "error"
    assert finding.fix == "claude plugin install coord-hooks  # reinstall the plugin"
    (plugin / ".git").mkdir()  # in a checkout, git restores it
    finding = only(run(clean, plugin, tmp_path), "hooks-json-invalid")
    assert finding.fix == f"git -C {shlex.quote(str(plugin))} checkout -- hooks.json"


def test_no_plugin_files_is_only_a_note(clean: Context, tmp_path: Path) -> None:
    report = run(clean, tmp_path / "site-packages", tmp_path)
    assert only(report, "plugin-absent").severity == "info"
    assert problems(report) == []


def test_unknown_config_key(clean: Context, plugin: Path, tmp_path: Path) -> None:
    config = clean.state_dir / "config.toml"
    config.write_text("retention_mesages = 100\n")
    finding = only(run(clean, plugin, tmp_path), "config-unknown-key")
    assert finding.data["keys"] == ["retention_mesages"]
    assert finding.fix.startswith(f"$EDITOR {shlex.quote(str(config))}")


def test_broken_config_still_gets_a_report(state_dir: Path, project: Path, plugin: Path,
                                           tmp_path: Path) -> None:
    state_dir.mkdir(parents=True)
    (state_dir / "config.toml").write_text("lock_ttl = 'soon'\n")
    ctx, error = diagnose.open_for_diagnosis()
    try:
        assert error is not None and "lock_ttl" in error
        report = run(ctx, plugin, tmp_path, config_error=error)
    finally:
        ctx.store.close()
    finding = only(report, "config-invalid")
    assert finding.severity == "error" and report.exit_code == 1


def test_claude_settings_invalid_json(clean: Context, plugin: Path, tmp_path: Path) -> None:
    settings = clean.project_root / ".claude" / "settings.json"
    settings.parent.mkdir()
    settings.write_text('{"hooks": {}, }')
    finding = only(run(clean, plugin, tmp_path), "claude-settings-invalid")
    assert finding.severity == "error"
    assert finding.fix.startswith(f"python3 -m json.tool {shlex.quote(str(settings))}")


def test_claude_settings_pointing_at_a_missing_shim(clean: Context, plugin: Path,
                                                    tmp_path: Path) -> None:
    settings = clean.project_root / ".claude" / "settings.local.json"
    settings.parent.mkdir()
    gone = tmp_path / "old-install" / "shims" / "hooks.sh"
    settings.write_text(json.dumps({"hooks": {"Stop": [{"hooks": [
        {"type": "command", "command": f"{gone} stop"},
        {"type": "command", "command": '"${CLAUDE_PLUGIN_ROOT}/shims/hooks.sh" stop'}]}]}}))
    finding = only(run(clean, plugin, tmp_path), "claude-settings-hook-missing")
    assert finding.fix == "coord install --scope local"
    assert str(gone) in finding.detail


def test_store_growth_from_the_size_history(clean: Context, plugin: Path,
                                            tmp_path: Path) -> None:
    now = time.time()
    health.record_sample(clean.state_dir, health.SizeSample(now - 7200, 0, 0, 0, 0))
    blob = clean.state_dir / "cache"  # counts as live data: backend caches are
    blob.mkdir()
    (blob / "snapshot.bin").write_bytes(b"\0" * 3_000_000)
    report = run(clean, plugin, tmp_path, now=now)
    finding = only(report, "store-growth")
    assert finding.fix == "coord cleanup"
    assert report.stats["store"]["growth_bytes_per_day"] > 30_000_000


def test_large_live_store(clean: Context, plugin: Path, tmp_path: Path) -> None:
    blob = clean.state_dir / "cache"
    blob.mkdir()
    with open(blob / "snapshot.bin", "wb") as handle:  # sparse: costs no disk
        handle.truncate(state_checks.LIVE_WARN_BYTES + 1)
    assert only(run(clean, plugin, tmp_path), "store-large").fix == "coord cleanup"


def test_a_failing_check_is_reported_and_the_rest_still_run(
        clean: Context, plugin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(d: diagnose.Diagnosis) -> None:
        raise OSError("no /proc here")

    monkeypatch.setitem(checks.CHECKS, "check_locks", broken)
    report = run(clean, plugin, tmp_path)
    assert only(report, "check-failed:check_locks").severity == "warning"
    assert "sessions" in report.stats and "latency" in report.stats


# --- the command -----------------------------------------------------------------------------
def test_command_writes_the_report_and_prints_its_path(
        clean: Context, capsys: pytest.CaptureFixture[str]) -> None:
    rc = cli_health.main(["diagnose"])
    out = capsys.readouterr().out
    path = clean.state_dir / diagnose.REPORT_NAME
    assert out.splitlines()[0] == f"report: {path}"
    assert path.read_text().startswith("# coord-hooks performance report")
    # The repository this runs in has its own shims; the state is clean either way.
    assert rc == (1 if "ERROR" in out else 0)


def test_command_json_and_exit_code_on_error(
        clean: Context, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (clean.state_dir / "messages").chmod(0o777)
    out_path = tmp_path / "elsewhere" / "r.md"
    rc = cli_health.main(["diagnose", "--json", "--output", str(out_path)])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 1 and doc["exit_code"] == 1
    assert doc["report_path"] == str(out_path) and out_path.exists()
    assert set(doc) >= {"generated_at", "state_dir", "backend", "summary", "findings", "stats"}
    codes = {f["code"]: f for f in doc["findings"]}
    assert codes["perm-world-writable"]["fix"].startswith("chmod -R go-rwx ")
    assert all(set(f) == {"code", "severity", "title", "detail", "fix", "data"}
               for f in doc["findings"])
    assert doc["summary"]["error"] >= 1


def test_help_lists_both_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_health.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "diagnose" in out and "monitor" in out


def test_repository_plugin_files_are_healthy(ctx: Context, tmp_path: Path) -> None:
    """The shims and hooks.json in this checkout pass the plugin checks (once they exist)."""
    from coord_hooks.paths import PLUGIN_ROOT

    if not (PLUGIN_ROOT / "shims").is_dir():
        pytest.skip("no shims in this checkout yet")
    report = run(ctx, PLUGIN_ROOT, tmp_path)
    plugin_codes = [c for c in problems(report)
                    if c.split(":")[1].startswith(("shim", "hooks-json", "bin-"))]
    assert plugin_codes == []


def test_fix_commands_name_real_paths(clean: Context, plugin: Path, tmp_path: Path) -> None:
    """Paths with spaces are quoted so the fix can be pasted as is."""
    spaced = tmp_path / "my plugin"
    os.rename(plugin, spaced)
    (spaced / "shims" / "hooks-legacy.sh").chmod(0o600)
    finding = only(run(clean, spaced, tmp_path), "shim-not-executable")
    assert shlex.split(finding.fix) == ["chmod", "+x", str(spaced / "shims" / "hooks-legacy.sh")]
