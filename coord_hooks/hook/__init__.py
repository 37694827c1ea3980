"""The Claude Code hook hot path: ``coord hook EVENT`` (see `coord_hooks.hook.entry`).

Kept import-free: ``coord_hooks.__main__`` imports `entry` before anything else, and
everything here must stay standard library only (tests/hook/test_imports.py checks it).
"""
