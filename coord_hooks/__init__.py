"""coord-hooks: coordinate several Claude Code sessions working on one repository.

Kept import-free on purpose: the hook hot path imports this package and must stay
standard-library only and fast.
"""

__version__ = "0.1.0"
