"""The ``coord`` command line: the Typer app split by command group, plus `fast`, the
standard-library path for plain ``coord send``/``broadcast``. Parsing and formatting only.

May import: anything below it (`ops`, `context`, `coordination`, `store`, the shared
top-level modules). Kept import-free: `fast` must load without Typer.
"""
