#!/usr/bin/env bash
# The local stack: moto_server (AWS) on 127.0.0.1, the table/queues/bucket/secrets as template.yaml
# declares them, a demo store, the three functions under `cargo lambda watch`, and the SQS poller
# that plays Lambda's event source mapping.
#
#   scripts/local-stack.sh up [--no-poller]   start everything; prints KEY=VALUE lines, writes .local/env
#   scripts/local-stack.sh down               stop everything it started, by PID
#
# Endpoints come from the environment when set: XERO_API_URL, XERO_IDENTITY_URL, XERO_LOGIN_URL
# with XERO_CLIENT_ID, XERO_CLIENT_SECRET and XERO_REDIRECT_URI (e.g. a real Xero app and demo
# company), and DEMO_SITE_URL (the demo store's WooCommerce site). Without XERO_API_URL the
# project's fake Xero identity service is started and used.
source "$(dirname "$0")/lib.sh"

PIDS="$LOCAL/pids"
DEMO_STORE="${DEMO_STORE:-demo}"
# Matches scripts/make-events.py, so events/*.json are validly signed for the demo store.
DEMO_WEBHOOK_SECRET="${DEMO_WEBHOOK_SECRET:-wooxeroDemoSecret0123456789abcdefXYZ}"

down() {
  [[ -f "$PIDS" ]] || { echo "local stack: nothing to stop"; return 0; }
  while read -r name pid; do
    if kill -0 "$pid" 2>/dev/null; then
      # Each service runs in its own process group (setsid), so its children stop with it.
      kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL -- "-$pid" 2>/dev/null || true
      echo "local stack: stopped $name (pid $pid)"
    fi
  done < "$PIDS"
  rm -f "$PIDS"
}

start() { # name logfile command...
  local name="$1" logfile="$2"; shift 2
  setsid "$@" > "$logfile" 2>&1 < /dev/null &
  echo "$name $!" >> "$PIDS"
}

up() {
  local with_poller=1
  [[ "${1:-}" == "--no-poller" ]] && with_poller=0
  ensure_venv
  mkdir -p "$LOCAL"
  [[ -f "$PIDS" ]] && down >/dev/null
  : > "$PIDS"

  local moto_port watch_port
  moto_port="${MOTO_PORT:-$(free_port)}"
  watch_port="${WATCH_PORT:-$(free_port)}"
  export AWS_ENDPOINT_URL="http://127.0.0.1:$moto_port"
  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
  log "starting moto_server on $AWS_ENDPOINT_URL"
  start moto "$LOCAL/moto.log" "$VENV/bin/moto_server" -H 127.0.0.1 -p "$moto_port"
  wait_for_http "$AWS_ENDPOINT_URL/moto-api/" 30

  log "building the functions, the CLI and the local helpers"
  cargo build --quiet -p webhook-ingest -p xero-sync -p oauth-callback -p wooxero -p wooxero-tests --bin wooxero-local \
    --bin webhook-ingest --bin xero-sync --bin oauth-callback --bin wooxero

  local base="http://127.0.0.1:$watch_port"
  local api="$base/lambda-url/webhook-ingest"
  if [[ -z "${XERO_API_URL:-}" ]]; then
    # No Xero given: the project's fake identity service stands in (the same one the tests use).
    local xero_port; xero_port="$(free_port)"
    log "starting the fake Xero identity service on 127.0.0.1:$xero_port"
    mkdir -p "$LOCAL/xero-traffic"
    XERO_TRAFFIC_DIR="$LOCAL/xero-traffic" start fake-xero "$LOCAL/fake-xero.log" "$ROOT/target/debug/wooxero-local" fake-xero --port "$xero_port"
    wait_for_http "http://127.0.0.1:$xero_port/connections" 30
    export XERO_API_URL="http://127.0.0.1:$xero_port" XERO_IDENTITY_URL="http://127.0.0.1:$xero_port" XERO_LOGIN_URL="http://127.0.0.1:$xero_port"
    export XERO_CLIENT_ID="${XERO_CLIENT_ID:-FAKEXEROCLIENTID0000000000000000}"
    export XERO_CLIENT_SECRET="${XERO_CLIENT_SECRET:-fake-xero-client-secret-for-tests-only}"
  fi

  log "creating the table, queues, bucket and secrets from template.yaml"
  local env_file="$LOCAL/env"
  "$VENV/bin/python" - <<PY
import boto3, json
sm = boto3.client("secretsmanager", endpoint_url="$AWS_ENDPOINT_URL", region_name="us-east-1")
sm.create_secret(Name="wooxero-local/xero-app", SecretString=json.dumps({"client_secret": "${XERO_CLIENT_SECRET:-}"}))
PY
  {
    echo "AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL"
    echo "AWS_ACCESS_KEY_ID=testing"
    echo "AWS_SECRET_ACCESS_KEY=testing"
    echo "AWS_REGION=us-east-1"
    "$ROOT/target/debug/wooxero-local" provision --prefix wooxero-local
    echo "MAX_BODY_BYTES=${MAX_BODY_BYTES:-1048576}"
    echo "SECRET_CACHE_TTL_SECONDS=${SECRET_CACHE_TTL_SECONDS:-300}"
    echo "XERO_API_URL=$XERO_API_URL"
    echo "XERO_IDENTITY_URL=${XERO_IDENTITY_URL:-https://identity.xero.com}"
    echo "XERO_LOGIN_URL=${XERO_LOGIN_URL:-https://login.xero.com}"
    echo "XERO_CLIENT_ID=${XERO_CLIENT_ID:-}"
    echo "XERO_APP_SECRET_ID=wooxero-local/xero-app"
    echo "XERO_REDIRECT_URI=${XERO_REDIRECT_URI:-$base/lambda-url/oauth-callback/oauth/callback}"
    echo "PUBLIC_API_URL=$api"
    echo "WATCH_URL=$base"
    echo "WOOXERO_API_URL=$api"
    echo "DEMO_STORE=$DEMO_STORE"
    echo "DEMO_WEBHOOK_SECRET=$DEMO_WEBHOOK_SECRET"
    echo "RUST_LOG=${RUST_LOG:-info}"
    echo "AWS_LAMBDA_LOG_FORMAT=JSON"
  } > "$env_file"
  set -a; source "$env_file"; set +a

  log "starting the functions under cargo lambda watch on 127.0.0.1:$watch_port"
  start watch "$LOCAL/watch.log" "$VENV/bin/cargo-lambda" lambda watch --invoke-address 127.0.0.1 --invoke-port "$watch_port" \
    --env-file "$env_file" --ignore-changes
  wait_for_http "$base/" 120

  log "registering the demo store '$DEMO_STORE'"
  WOOXERO_API_URL="$api" "$ROOT/target/debug/wooxero" store add "$DEMO_STORE" \
    --site-url "${DEMO_SITE_URL:-https://shop.example}" --webhook-secret "$DEMO_WEBHOOK_SECRET" > "$LOCAL/store-add.txt"
  WOOXERO_API_URL="$api" "$ROOT/target/debug/wooxero" mapping set "$DEMO_STORE" "$ROOT/scripts/demo-mapping.json" >> "$LOCAL/store-add.txt"

  if [[ $with_poller == 1 ]]; then
    log "starting the SQS poller (plays Lambda's event source mapping for xero-sync)"
    start poller "$LOCAL/poller.log" "$ROOT/target/debug/wooxero-local" poll --watch-url "$base"
  fi

  echo "WEBHOOK_URL_${DEMO_STORE//-/_}=$api/webhooks/$DEMO_STORE"
  echo "CONNECT_URL=$base/lambda-url/oauth-callback/connect/$DEMO_STORE"
  echo "XERO_SYNC_INVOKE_URL=$base/2015-03-31/functions/xero-sync/invocations"
  grep -E '^(TABLE_NAME|SYNC_QUEUE_URL|SYNC_DLQ_URL|PAYLOAD_BUCKET|STORE_SECRET_PREFIX|AWS_ENDPOINT_URL|XERO_[A-Z_]+)=' "$env_file"
  echo "STORE_SECRET_${DEMO_STORE//-/_}=${STORE_SECRET_PREFIX}${DEMO_STORE}"
  echo "LOCAL_ENV_FILE=$env_file"
}

case "${1:-}" in
  up) shift; up "$@" ;;
  down) down ;;
  *) echo "usage: $0 up [--no-poller] | down" >&2; exit 2 ;;
esac
