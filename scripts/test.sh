#!/usr/bin/env bash
# The test command: bootstrap if needed, lint, type-check, then the whole pytest suite.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || scripts/bootstrap.sh
.venv/bin/ruff check coord_hooks tests
.venv/bin/mypy coord_hooks
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
