#!/usr/bin/env bash
# README command 1: set up and run the main job locally. Starts the local stack (moto, the three
# functions under cargo lambda watch, the SQS poller), registers the demo store, replays the
# signed WooCommerce deliveries in events/ into webhook-ingest over HTTP, and shows what was
# queued and what xero-sync received. KEEP=1 leaves the stack running (stop it with
# scripts/local-stack.sh down).
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
ensure_venv
if [[ "${KEEP:-0}" != 1 ]]; then trap '"$ROOT/scripts/local-stack.sh" down >/dev/null 2>&1 || true' EXIT; fi

"$ROOT/scripts/local-stack.sh" up
set -a; source "$LOCAL/env"; set +a
: > "$LOCAL/watch.log.mark"
before=$(wc -l < "$LOCAL/watch.log")

log "connecting the demo store to Xero through oauth-callback (the browser's part played by curl)"
link=$("$ROOT/target/debug/wooxero" connect "$DEMO_STORE" | tail -n 1)
echo "  link: ${link%%\?t=*}?t=…"
curl -sS -L --max-redirs 5 "$link" | "$VENV/bin/python" -c '
import html, re, sys
page = sys.stdin.read()
text = re.sub(r"<[^>]+>", " ", re.sub(r"<(style|title)>.*?</\1>", "", page, flags=re.S))
print("  page: " + " ".join(html.unescape(text).split()))'
"$ROOT/target/debug/wooxero" store show "$DEMO_STORE" | sed -n '1,11p' | sed 's/^/  /'

log "replaying events/webhook-*.json into webhook-ingest (signed with the demo store's secret)"
"$ROOT/target/debug/wooxero-local" replay --webhook-url "$WOOXERO_API_URL/webhooks/$DEMO_STORE"

log "waiting for the poller to hand the queued jobs to xero-sync"
for _ in $(seq 1 60); do
  depth=$("$VENV/bin/python" - <<PY
import boto3
q = boto3.client("sqs", endpoint_url="$AWS_ENDPOINT_URL", region_name="us-east-1")
names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"]
a = q.get_queue_attributes(QueueUrl="$SYNC_QUEUE_URL", AttributeNames=names)["Attributes"]
print(sum(int(a.get(n, 0)) for n in names))
PY
)
  [[ "$depth" == 0 ]] && grep -q "batch of" "$LOCAL/poller.log" && break
  sleep 1
done
sed 's/^/  /' "$LOCAL/poller.log"

log "invoices in the local Xero (the fake's store), against the replayed orders"
"$VENV/bin/python" - "$XERO_API_URL/fake/invoices" "$ROOT/events" <<'PY'
import base64, glob, json, os, sys, urllib.request
invoices = json.load(urllib.request.urlopen(sys.argv[1]))
orders = {}
for path in sorted(glob.glob(os.path.join(sys.argv[2], "webhook-*.json"))):
    ev = json.load(open(path, encoding="utf-8"))
    body = base64.b64decode(ev["body"]).decode() if ev.get("isBase64Encoded") else ev.get("body", "")
    try:
        o = json.loads(body)
    except ValueError:
        continue
    if isinstance(o, dict) and "total" in o:
        orders[str(o.get("number", o.get("id")))] = o["total"]
print("  %-10s %-24s %10s %10s  %s" % ("INVOICE", "CONTACT", "TOTAL", "ORDER", "MATCH"))
for inv in invoices:
    woo = orders.get(inv.get("Reference"), "?")
    total = f'{inv["Total"]:.2f}' if isinstance(inv["Total"], (int, float)) else str(inv["Total"])
    print("  %-10s %-24s %10s %10s  %s" % (inv["InvoiceNumber"], inv["Contact"]["Name"][:24], total, woo, "yes" if total == woo else "NO"))
print(f"  {len(invoices)} invoice(s) for {len(orders)} replayed order number(s); trashed, pending and duplicate deliveries create none.")
books = json.load(urllib.request.urlopen(sys.argv[1].replace("/fake/invoices", "/fake/books")))
for p in books["Payments"]:
    kind = "payment on invoice" if p["PaymentType"] == "ACCRECPAYMENT" else "refund paid out on credit note"
    print(f'  {kind:<32} {p["Amount"]:>8.2f}  account {p["Account"]["Code"]}  ref {p["Reference"]}')
for n in books["CreditNotes"]:
    print(f'  credit note {n["CreditNoteNumber"]:<20} {n["Total"]:>8.2f}  status {n["Status"]}  ({n["LineItems"][0]["Description"]})')
for inv in books["Invoices"]:
    print(f'  invoice {inv["InvoiceNumber"]}: status {inv["Status"]}, total {inv["Total"]:.2f}, paid {inv["AmountPaid"]:.2f}, due {inv["AmountDue"]:.2f}')
PY
"$ROOT/target/debug/wooxero" status "$DEMO_STORE" | sed 's/^/  /'
log "order 1001's history (wooxero status demo 1001)"
"$ROOT/target/debug/wooxero" status "$DEMO_STORE" 1001 | sed 's/^/  /'
