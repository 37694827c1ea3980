"""Operational tools, off the hook path: install, shims, doctor, demo, diagnose, monitor, bench.

May import: the standard library, third-party packages (lazily), and the rooms below it
(the shared top-level modules, `store`, `coordination`, `context`); never `cli` or `hook`.
"""
