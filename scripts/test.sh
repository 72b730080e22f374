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
status=0
cargo test --workspace --no-fail-fast "$@" 2>&1 | tee "$LOCAL/test-output.txt" || status=$?
# One closing line for the whole suite (cargo prints one per test binary, the last often doc-tests with 0).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed;?$/) p += $i; if ($(i+1) ~ /^failed;?$/) f += $i } }
     END { printf "all tests: %d passed, %d failed\n", p, f; if (p == 0) exit 1 }' "$LOCAL/test-output.txt" | tee "$LOCAL/test-summary.txt"
exit "$status"
