#!/usr/bin/env bash
# benchmark.sh: the coord-hooks backends side by side, through the real hook shims, one
# process per call as Claude Code runs them (the seed's five operations, per-event hook
# latency next to a bare `python3 -c pass`, and a scaling sweep). Results and an SVG
# chart go to ./benchmark-results/ (--out). All options: ./benchmark.sh --help
#
#   ./benchmark.sh                 defaults: 15 sessions, 1k locks, 10k messages (minutes)
#   ./benchmark.sh --quick         tiny state, few rounds (seconds; CI)
#   ./benchmark.sh --json          the JSON report on stdout instead of tables
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# The benchmark itself needs the CLI's packages (typer, rich); a checkout's own venv
# has them. bin/coord finds another Python with them otherwise (or set COORD_PYTHON).
if [ -z "${COORD_PYTHON:-}" ] && [ -x "$root/.venv/bin/python" ]; then
  export COORD_PYTHON="$root/.venv/bin/python"
fi
exec "$root/bin/coord" bench "$@"
