"""Admin commands for ``coord`` (a command group of `coord_hooks.cli.app`): hook, shims, backend,
install, uninstall, doctor, demo. Parsing and formatting only; the work is done in
`coord_hooks.ops.shims`, `install`, `doctor` and `demo`.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

from coord_hooks.cli.common import CoordCommand
from coord_hooks.errors import UsageError
from coord_hooks.ops import install as installer
from coord_hooks.ops import shims
from coord_hooks.store import BACKENDS

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
ScopeOpt = Annotated[str, typer.Option(
    "--scope", metavar="SCOPE",
    help="Settings file: user (~/.claude/settings.json), project (.claude/settings.json) "
         "or local (.claude/settings.local.json).")]


def _echo(text: str = "") -> None:
    typer.echo(text)


def _json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


def _project_root() -> Path:
    from coord_hooks.paths import find_project_root

    return find_project_root()


def _check_scope(scope: str) -> str:
    if scope not in installer.SCOPES:
        raise UsageError(f"unknown scope {scope!r}: choose {', '.join(installer.SCOPES)}")
    return scope


# --- hook ------------------------------------------------------------------------------------
def hook(
    event: Annotated[str, typer.Argument(
        metavar="EVENT", help="session-start, user-prompt-submit, pre-tool-use, "
                              "post-tool-use, post-tool-use-failure, stop, subagent-start, "
                              "subagent-stop, "
                              "pre-compact or session-end.")],
    backend: Annotated[str | None, typer.Option(
        "--backend", metavar="NAME", help="Store backend (the shims pass it).")] = None,
) -> None:
    """Run one Claude Code hook event: payload on stdin, one JSON object or nothing out.

    Claude Code calls this through shims/hooks.sh; it always exits 0 (failures are
    logged to <state dir>/logs/app.log). `coord hook` is normally dispatched before
    this command line is even loaded, for speed.
    """
    from coord_hooks.hook.entry import run_hook

    args = [event, *(["--backend", backend] if backend else [])]
    try:
        fd = sys.stdin.fileno()
    except (AttributeError, OSError, ValueError):  # stdin replaced in-process (tests)
        fd = _pipe_from(sys.stdin)
        try:
            raise typer.Exit(run_hook(args, stdin=fd)) from None
        finally:
            os.close(fd)
    raise typer.Exit(run_hook(args, stdin=fd))


def _pipe_from(stream: Any) -> int:
    """A pipe's read end that yields what ``stream`` holds."""
    data = stream.buffer.read() if hasattr(stream, "buffer") else stream.read().encode()
    read_end, write_end = os.pipe()

    def feed() -> None:
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(data)

    threading.Thread(target=feed, daemon=True).start()
    return read_end


# --- shims -----------------------------------------------------------------------------------
shims_app = typer.Typer(help="The hook shims Claude Code runs (shims/hooks-*.sh).",
                        no_args_is_help=True)


@shims_app.command("generate", cls=CoordCommand)
def shims_generate(
    directory: Annotated[Path | None, typer.Option(
        "--dir", metavar="DIR", help="Where to write them (default: the plugin's shims/).")
    ] = None,
    force: Annotated[bool, typer.Option(
        "--force", help="Overwrite files that coord-hooks did not generate.")] = False,
) -> None:
    """Write hooks-<backend>.sh for every backend, and the hooks.sh symlink if missing.

    The shims written here are portable (no machine path in them): they find the
    plugin from their own location and a python3 >= 3.10 on PATH.
    """
    target = directory or shims.plugin_shims_dir()
    result = shims.generate(target, force=force)
    for path in result.written:
        _echo(f"wrote {path}")
    for path in result.unchanged:
        _echo(f"unchanged {path}")
    link = target / shims.LINK_NAME
    if result.link_created:
        _echo(f"created {link} -> {shims.shim_name(shims.DEFAULT_BACKEND)}")
    else:
        _echo(f"kept {link} -> {_readlink(link)}")


def _readlink(path: Path) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return "(not a symlink)" if path.exists() else "(missing)"


# --- backend ---------------------------------------------------------------------------------
backend_app = typer.Typer(help="Show or switch the store backend the hooks use.",
                          invoke_without_command=True)


def _shim_dirs() -> list[tuple[str, Path]]:
    """The shims the hooks run: the plugin's copies (wherever this coord runs from: a
    pip/pipx install finds the installed plugin) and `coord install`'s."""
    from coord_hooks.ops import plugins
    from coord_hooks.ops.doctor import installed_shim_dirs

    found = [(copy.label, copy.shims) for copy in plugins.find()]
    found += [("installed", folder) for folder in installed_shim_dirs(_project_root())]
    return [(label, folder) for label, folder in found if folder.is_dir()]


def backend_state() -> dict[str, Any]:
    """Symlink targets, the environment override and what hooks and the CLI will use."""
    from coord_hooks.context import choose_backend
    from coord_hooks.paths import resolve_state_dir
    from coord_hooks.settings import load_settings
    from coord_hooks.store.layout import backend_for

    state_dir = resolve_state_dir()
    settings = load_settings(state_dir if state_dir.is_dir() else None)
    links = {str(folder): {"scope": label, "link": _readlink(folder / shims.LINK_NAME),
                           "backend": shims.linked_backend(folder)}
             for label, folder in _shim_dirs()}
    env = os.environ.get("COORD_BACKEND", "").strip() or None
    first = next((v["backend"] for v in links.values() if v["backend"]), None)
    # This project's data decides between the JSON layout and coord.db (`store.layout`).
    hooks = backend_for(state_dir, env or first or settings.backend)
    return {
        "links": links,
        "env_override": env,
        "config": settings.backend if settings.sources.get("backend") != "default" else None,
        "config_source": settings.sources.get("backend", "default"),
        "effective_hooks": hooks,
        "effective_cli": choose_backend(settings, None),
        "available": sorted(BACKENDS),
    }


@backend_app.callback()
def backend_show(cli: typer.Context, as_json: JsonOpt = False) -> None:
    """Show which backend the hooks use: shims/hooks.sh target, $COORD_BACKEND, result.

    Switch with `coord backend use legacy|optimized|sqlite|redis`; $COORD_BACKEND
    overrides both for one process.
    """
    if cli.invoked_subcommand is not None:
        return
    state = backend_state()
    if as_json:
        _json(state)
        return
    for folder, info in state["links"].items():
        _echo(f"{info['scope']} shims: {folder}/hooks.sh -> {info['link']}")
    if not state["links"]:
        _echo("no shims found (run `coord shims generate`)")
    _echo(f"$COORD_BACKEND: {state['env_override'] or '(not set)'}")
    if state["config"]:
        _echo(f"config: backend = {state['config']} ({state['config_source']})")
    _echo(f"hooks use: {state['effective_hooks']}")
    _echo(f"coord commands use: {state['effective_cli']}")
    _echo(f"available: {', '.join(state['available'])}")


@backend_app.command("use", cls=CoordCommand)
def backend_use(
    name: Annotated[str, typer.Argument(metavar="BACKEND",
                                        help="legacy, optimized, sqlite or redis.")],
) -> None:
    """Point shims/hooks.sh at hooks-BACKEND.sh (atomically; takes effect on the next hook).

    A project whose state is in another layout (JSON files, coord.db, redis) keeps
    using it until `coord migrate --to json|sqlite|redis` moves it. For redis, set the
    server first (COORD_REDIS_URL or a [redis] section in the config file).
    """
    from coord_hooks.paths import resolve_state_dir
    from coord_hooks.store.layout import BACKEND_LAYOUT, backend_for

    if name not in BACKENDS:
        raise UsageError(f"unknown backend {name!r}: choose {', '.join(sorted(BACKENDS))}")
    folders = _shim_dirs()
    if not folders:
        raise UsageError("no shims found; run `coord shims generate` first")
    for label, folder in folders:
        link = shims.use_backend(folder, name)
        _echo(f"{label}: {link} -> {_readlink(link)}")
    if os.environ.get("COORD_BACKEND", "").strip() not in ("", name):
        _echo(f"note: $COORD_BACKEND={os.environ['COORD_BACKEND']} still overrides it "
              "where it is set")
    state_dir = resolve_state_dir()
    used = backend_for(state_dir, name)
    if used != name:
        held = "in coord.db" if BACKEND_LAYOUT.get(used) == "sqlite" else "JSON files"
        _echo(f"note: a migration is needed here: this project's state ({state_dir}) is "
              f"{held}, which the {name} backend does not read, so its hooks and commands "
              f"stay on the {used} backend until you run `coord migrate --to "
              f"{BACKEND_LAYOUT[name]}`")


# --- install / uninstall ---------------------------------------------------------------------
def install(
    scope: ScopeOpt = "user",
    allow_coord: Annotated[bool, typer.Option(
        "--allow-coord", help=f"Also add the permission rule {installer.ALLOW_RULE}, so "
                              "models may run coord without asking.")] = False,
    no_hooks: Annotated[bool, typer.Option(
        "--no-hooks", help="Do not add hooks (e.g. with --allow-coord when the plugin "
                           "already provides them).")] = False,
    shims_dir: Annotated[Path | None, typer.Option(
        "--shims-dir", metavar="DIR", help="Where to write this machine's shims.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add the coord-hooks hooks to a Claude Code settings file (without the plugin).

    Idempotent; every other entry of the file is kept; a timestamped backup is written
    before any change. `coord uninstall` removes exactly what this added.
    """
    report = installer.install(_check_scope(scope), _project_root(), shims_dir=shims_dir,
                               hooks=not no_hooks, allow_coord=allow_coord)
    if as_json:
        _json(report.__dict__)
        return
    verb = "updated" if report.changed else "already up to date:"
    _echo(f"{verb} {report.settings_file} ({report.scope} scope)")
    if report.backup:
        _echo(f"backup: {report.backup}")
    if report.shims_dir:
        _echo(f"hooks: {report.hooks_added} events -> {report.shims_dir / shims.LINK_NAME}")
    if report.allow_added:
        _echo(f"permission rule added: {installer.ALLOW_RULE}")
    for warning in report.warnings:
        _echo(f"warning: {warning}")


def uninstall(scope: ScopeOpt = "user", as_json: JsonOpt = False) -> None:
    """Remove the hooks (and permission rule) `coord install` added to a settings file."""
    report = installer.uninstall(_check_scope(scope), _project_root())
    if as_json:
        _json(report.__dict__)
        return
    if not report.changed:
        _echo(f"nothing of coord-hooks in {report.settings_file}")
    else:
        _echo(f"removed {report.hooks_removed} hook entries from {report.settings_file}"
              + (f" and the rule {installer.ALLOW_RULE}" if report.allow_removed else ""))
        if report.backup:
            _echo(f"backup: {report.backup}")
    for path in report.shims_removed:
        _echo(f"removed {path}")


# --- doctor / demo ---------------------------------------------------------------------------
def doctor(
    no_run: Annotated[bool, typer.Option(
        "--no-run", help="Skip the synthetic hook events.")] = False,
    plugin_dir: Annotated[list[Path] | None, typer.Option(
        "--plugin-dir", metavar="DIR",
        help="Also check the plugin in this folder (as given to claude --plugin-dir); "
             "repeatable.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Check python, shims, symlink, registration, state dir, and run a hook for real.

    Finds the plugin wherever this coord runs from: the checkout it belongs to, the
    copies Claude Code installed (~/.claude/plugins), the shims settings files run, and
    --plugin-dir. One line per check (ok / warn / fail); exit status 1 if anything failed.
    """
    from coord_hooks.ops import doctor as doc
    from coord_hooks.paths import resolve_state_dir

    checks = doc.run_checks(_project_root(), resolve_state_dir(), run_hooks=not no_run,
                            plugin_dirs=plugin_dir or ())
    if as_json:
        _json({"checks": [c.to_dict() for c in checks]})
    else:
        width = max(len(c.name) for c in checks)
        for c in checks:
            _echo(f"{c.status:<4}  {c.name:<{width}}  {c.detail}")
    raise typer.Exit(doc.exit_status(checks))


def demo(
    keep: Annotated[bool, typer.Option(
        "--keep", help="Keep the demo project and its state directory.")] = False,
) -> None:
    """Three scripted sessions through the real hooks, with checks.

    Shows a registration, a denied edit with its reason and a broadcast delivered, in a
    throwaway project. Exit status 0 only if everything behaved as expected.
    """
    from coord_hooks.ops.demo import run_demo

    raise typer.Exit(0 if run_demo(_echo, keep=keep) else 1)


def register(app: typer.Typer) -> None:
    """Add the admin commands to the ``coord`` Typer app."""
    app.command("hook", hidden=True, cls=CoordCommand)(hook)
    app.add_typer(shims_app, name="shims")
    app.add_typer(backend_app, name="backend")
    app.command("install", cls=CoordCommand)(install)
    app.command("uninstall", cls=CoordCommand)(uninstall)
    app.command("doctor", cls=CoordCommand)(doctor)
    app.command("demo", cls=CoordCommand)(demo)
