"""What an analysis finds: `Target`, `Unresolved` (and its kinds), `Analysis`."""

from __future__ import annotations

from coord_hooks.model import Plain

# Unresolved kinds (stable strings: the hook and tests match on them).
VARIABLE = "variable"  # $X, ${X}, $((...)) where a path is needed
COMMAND_SUBSTITUTION = "command-substitution"  # $(...) or `...` where a path is needed
GLOB = "glob"  # unquoted *, ?, [...] where a path is needed (or a too large {a,b})
TILDE = "tilde"  # ~user, or ~ without a known home
CWD = "cwd"  # a relative path after a `cd` that could not be resolved
DYNAMIC = "dynamic"  # names only known at run time: xargs, find -delete/-exec, tar -x
PROGRAM = "program"  # runs code whose writes are not parsed: python -c, make, ./x.sh
UNKNOWN_COMMAND = "unknown-command"  # a command this analysis does not know
GIT_WORKTREE = "git-worktree"  # git switching/resetting/merging: rewrites the work tree
PATCH = "patch"  # git apply / patch: targets are named inside the diff
PARSE = "parse"  # not valid shell (the part before the error is still analyzed)
LIMIT = "limit"  # too long or too deep to analyze
INTERNAL = "internal"  # a bug here: the hook fails open


class _Fact(Plain):
    """A value compared and hashed by its fields (the analysis deduplicates them)."""

    __slots__ = ()

    def __hash__(self) -> int:  # type: ignore[override]  # never changed once made
        return hash(self._astuple())


class Target(_Fact):
    """A file the command would write: absolute normalized ``path``, the ``form`` (the
    construct: ``redirect``, ``sed-i``, ``mv``...) and ``op``: ``write``, ``delete``,
    ``move-src`` (renamed away) or ``move-dst`` (renamed onto). A folder path stands for
    everything inside it (``rm -r dir``, ``git checkout -- .``)."""

    __slots__ = ("form", "op", "path")
    FIELDS = ("path", "form", "op")

    def __init__(self, path: str, form: str, op: str) -> None:
        self.path = path
        self.form = form
        self.op = op


class Unresolved(_Fact):
    """Something the analysis could not judge: ``kind`` (one of the constants above),
    the ``form`` or command it concerns, and ``detail`` (the word or command as
    written, shortened)."""

    __slots__ = ("detail", "form", "kind")
    FIELDS = ("kind", "form", "detail")

    def __init__(self, kind: str, form: str, detail: str) -> None:
        self.kind = kind
        self.form = form
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.form} {self.detail} ({self.kind})" if self.detail else \
            f"{self.form} ({self.kind})"


class Analysis(Plain):
    """What a command writes (`targets`) and what could not be judged (`unresolved`).

    ``judged`` is True when nothing is unresolved: the targets are then all the files
    the command can write (as far as the forms it knows go). Targets found
    next to something unresolved are still real targets.
    """

    __slots__ = ("targets", "unresolved")
    FIELDS = ("targets", "unresolved")

    def __init__(self, targets: list[Target], unresolved: list[Unresolved]) -> None:
        self.targets = targets
        self.unresolved = unresolved

    @property
    def judged(self) -> bool:
        return not self.unresolved
