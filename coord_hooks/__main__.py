"""Entry point for ``coord`` and ``python -m coord_hooks``.

``coord hook EVENT`` is dispatched here, before Typer (or anything outside the standard
library) is imported: hooks run before every edit and must start fast. So are the plain
forms of ``coord send`` and ``coord broadcast`` (`coord_hooks.cli.fast`), which the model
runs for every message. Everything else goes to the Typer app in `coord_hooks.cli.app`,
or, where Typer is not installed (a plugin Claude Code installed: it runs no pip), to the
standard-library commands of `coord_hooks.cli.fast`.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] == "hook" and not {"-h", "--help"} & set(args[1:]):
        if argv is None:  # this process is the hook: it lives for a few milliseconds, and
            import gc  # collecting cycles would only cost it time (~1 ms of its imports)

            gc.disable()
        from coord_hooks.hook.entry import exit_process, run_hook

        status = run_hook(args[1:])
        if argv is None:
            # Leave now: a delivery was just marked done, and Claude Code counts the
            # hook's output only once the process has exited (teardown takes ms).
            exit_process(status)
        raise SystemExit(status)
    from coord_hooks.cli.fast import CLI_PACKAGES, run_fast, run_plain

    code = run_fast(args)
    if code is not None:
        raise SystemExit(code)
    try:
        from coord_hooks.cli.app import run_cli
    except ModuleNotFoundError as missing:
        if (missing.name or "").split(".")[0] not in CLI_PACKAGES:
            raise
        raise SystemExit(run_plain(args)) from None
    raise SystemExit(run_cli(args))


if __name__ == "__main__":
    main()
