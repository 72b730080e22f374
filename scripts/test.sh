#!/usr/bin/env bash
# README command 2: every test. Installs the Python tools into .venv, starts the local stack
# (moto + the functions under cargo lambda watch), runs the whole Rust test suite against it, and
# stops what it started.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
ensure_venv
mkdir -p "$LOCAL"
# Every Xero exchange of the fakes is recorded here; .ci/run proves it with xero-contract-check.
rm -rf "$LOCAL/xero-traffic" && mkdir -p "$LOCAL/xero-traffic"
export XERO_TRAFFIC_DIR="$LOCAL/xero-traffic"
trap '"$ROOT/scripts/local-stack.sh" down >/dev/null 2>&1 || true' EXIT
"$ROOT/scripts/local-stack.sh" up --no-poller > "$LOCAL/stack.txt" 2>"$LOCAL/stack.err" || { cat "$LOCAL/stack.err" "$LOCAL/stack.txt" >&2; exit 1; }
set -a; source "$LOCAL/env"; set +a
export WOOXERO_LOCAL_ENV="$LOCAL/env"
log "running the test suite (unit, moto integration, binaries under cargo lambda watch)"
cargo test --workspace --no-fail-fast "$@"
