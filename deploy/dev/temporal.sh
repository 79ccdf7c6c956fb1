#!/usr/bin/env bash
# Installs Temporal's CLI (which carries the dev server) into .codexion/bin when absent.
# Usage: deploy/dev/temporal.sh install   -> prints the binary's path
set -euo pipefail

TEMPORAL_CLI_VERSION="${TEMPORAL_CLI_VERSION:-v1.5.1}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
data="${CODEXION_DATA_DIR:-$root/.codexion}"
bin="$data/bin"

cmd="${1:-install}"
case "$cmd" in
  install)
    if [ -x "$bin/temporal" ]; then
      echo "$bin/temporal"
      exit 0
    fi
    if ! command -v go >/dev/null 2>&1; then
      echo "temporal.sh: the go command is needed to build the Temporal CLI; install Go or set CODEXION_TEMPORAL_ADDRESS" >&2
      exit 2
    fi
    mkdir -p "$bin"
    echo "temporal.sh: building Temporal CLI $TEMPORAL_CLI_VERSION into $bin (a few minutes on a cold cache)" >&2
    # Build into a temporary name so an interrupted build never leaves a half-written binary.
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    GOBIN="$tmp" go install "github.com/temporalio/cli/cmd/temporal@$TEMPORAL_CLI_VERSION" >&2
    mv "$tmp/temporal" "$bin/temporal"
    echo "$bin/temporal"
    ;;
  path)
    echo "$bin/temporal"
    ;;
  *)
    echo "usage: temporal.sh install|path" >&2
    exit 2
    ;;
esac
