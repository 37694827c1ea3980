#!/usr/bin/env bash
# Install the pinned Claude Code CLI for the end-to-end tests (tests/e2e). scripts/test.sh
# runs it; the demo and the rest of the suite do not need it.
#
#   scripts/install-claude-cli.sh
#
# Installs @anthropic-ai/claude-code@$COORD_E2E_CLI_VERSION (default 2.1.330)
# into $COORD_E2E_CLI_HOME (default ~/.cache/coord-hooks-e2e) and prints the
# path of a working `claude` binary on the LAST line of stdout; everything
# else goes to stderr. tests/e2e/harness.py looks in the same directory.
#
# Idempotent: an install of the right version is reused without touching npm.
# Without npm it exits 0 and prints no path: the e2e tests then skip.
#
# The version is pinned on purpose: an unpinned install once gave an older
# release than `latest`, and the e2e tests rely on 2.1.330's behaviour.
set -euo pipefail

VERSION="${COORD_E2E_CLI_VERSION:-2.1.330}"
PREFIX="${COORD_E2E_CLI_HOME:-$HOME/.cache/coord-hooks-e2e}"
PKG="@anthropic-ai/claude-code"
WRAPPER="$PREFIX/node_modules/.bin/claude"
# The npm package is a thin wrapper; the real program is this native binary
# from an optional dependency. The wrapper is a failing stub when install
# scripts were skipped (--ignore-scripts), so fall back to the binary.
NATIVE="$PREFIX/node_modules/@anthropic-ai/claude-code-linux-x64/claude"

log() { printf 'install-claude-cli: %s\n' "$*" >&2; }

# Print the first candidate whose `--version` names $VERSION; return 1 if none.
working_binary() {
  local bin out
  for bin in "$WRAPPER" "$NATIVE"; do
    [ -x "$bin" ] || continue
    out="$("$bin" --version 2>/dev/null)" || continue
    case "$out" in
      "$VERSION" | "$VERSION "*) printf '%s\n' "$bin"; return 0 ;;
    esac
  done
  return 1
}

if bin="$(working_binary)"; then
  log "claude $VERSION already installed in $PREFIX"
  printf '%s\n' "$bin"
  exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
  log "npm not found: cannot install $PKG@$VERSION; the e2e tests will be skipped"
  exit 0
fi

mkdir -p "$PREFIX"
log "installing $PKG@$VERSION into $PREFIX for the end-to-end tests:"
log "  a ~175 MB download (its native binary), ~380 MB installed; once, then reused"
start=$SECONDS
npm install --no-audit --no-fund --loglevel=http --prefix "$PREFIX" "$PKG@$VERSION" >&2

if ! bin="$(working_binary)"; then
  log "installed, but no working claude $VERSION binary under $PREFIX"
  exit 1
fi
log "claude $("$bin" --version 2>/dev/null) at $bin (took $((SECONDS - start)) s)"
printf '%s\n' "$bin"
