#!/usr/bin/env python3
"""Regenerates events/*.json: API Gateway HTTP API (v2) events for `cargo lambda invoke --data-file`
and for the replay in README command 1. Webhook deliveries are signed as WooCommerce signs them
(base64 HMAC-SHA256 of the raw body) with the local demo store's secret, DEMO_WEBHOOK_SECRET below.
The orders are synthetic (the real samples in ../shared stay out of this repository)."""
import base64, hashlib, hmac, json, os

DEMO_STORE = "demo"
DEMO_WEBHOOK_SECRET = "wooxeroDemoSecret0123456789abcdefXYZ"
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "events")


def order(oid, status, modified, paid=None, lines=None, refunds=None):
    lines = lines or [("Pounamu pendant", "PND-01", 2, "45.00", "6.75"), ("Gift wrap", None, 1, "5.00", "0.75")]
    items = []
    for i, (name, sku, qty, total, tax) in enumerate(lines):
        items.append({"id": 500 + i, "name": name, "product_id": 90 + i, "variation_id": 0, "quantity": qty,
                      "tax_class": "", "subtotal": total, "subtotal_tax": tax, "total": total, "total_tax": tax,
                      "taxes": [{"id": 1, "total": tax, "subtotal": tax}], "meta_data": [], "sku": sku,
                      "price": float(total) / qty})
    net = sum(float(l[3]) for l in lines) + 10.0
    tax = sum(float(l[4]) for l in lines) + 1.5
    return {
        "id": oid, "parent_id": 0, "status": status, "currency": "NZD", "version": "9.4.0", "prices_include_tax": False,
        "date_created": "2026-11-27T22:14:03", "date_created_gmt": "2026-11-27T09:14:03",
        "date_modified": modified[1], "date_modified_gmt": modified[0],
        "discount_total": "0.00", "discount_tax": "0.00", "shipping_total": "10.00", "shipping_tax": "1.50",
        "cart_tax": f"{tax - 1.5:.2f}", "total": f"{net + tax:.2f}", "total_tax": f"{tax:.2f}", "customer_id": 0,
        "order_key": f"wc_order_{oid}abc", "number": str(oid),
        "billing": {"first_name": "Aroha", "last_name": "Ngāti", "company": "", "address_1": "1 Queen Street",
                    "address_2": "", "city": "Auckland", "state": "AUK", "postcode": "1010", "country": "NZ",
                    "email": "aroha@example.nz", "phone": "+64 21 000 0000"},
        "shipping": {"first_name": "Aroha", "last_name": "Ngāti", "company": "", "address_1": "1 Queen Street",
                     "address_2": "", "city": "Auckland", "state": "AUK", "postcode": "1010", "country": "NZ"},
        "payment_method": "stripe", "payment_method_title": "Credit card", "transaction_id": "ch_3Q" if paid else "",
        "date_paid": paid, "date_paid_gmt": paid, "date_completed": None, "date_completed_gmt": None,
        "line_items": items,
        "tax_lines": [{"id": 7, "rate_code": "NZ-GST-1", "rate_id": 1, "label": "GST", "compound": False,
                       "tax_total": f"{tax - 1.5:.2f}", "shipping_tax_total": "1.50", "rate_percent": 15}],
        "shipping_lines": [{"id": 8, "method_title": "Flat rate", "method_id": "flat_rate", "instance_id": "1",
                            "total": "10.00", "total_tax": "1.50", "taxes": [{"id": 1, "total": "1.5", "subtotal": ""}],
                            "meta_data": []}],
        "fee_lines": [], "coupon_lines": [], "refunds": refunds or [], "meta_data": [],
    }


def http_event(path, body, headers, method="POST", b64=False, store=DEMO_STORE):
    raw = body if isinstance(body, bytes) else body.encode()
    return {
        "version": "2.0", "routeKey": f"{method} /webhooks/{{store_id}}", "rawPath": path, "rawQueryString": "",
        "headers": headers,
        "requestContext": {"accountId": "123456789012", "apiId": "local", "domainName": "127.0.0.1",
                           "domainPrefix": "local", "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                                                              "sourceIp": "127.0.0.1", "userAgent": headers.get("user-agent", "")},
                           "requestId": "local", "routeKey": f"{method} /webhooks/{{store_id}}", "stage": "$default",
                           "time": "27/Nov/2026:09:14:05 +0000", "timeEpoch": 1795770845000},
        "pathParameters": {"store_id": store},
        "body": base64.b64encode(raw).decode() if b64 else raw.decode(),
        "isBase64Encoded": b64,
    }


def delivery(topic, payload, webhook_id=3, sign=True, b64=False):
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).replace("/", "\\/").encode()
    sig = base64.b64encode(hmac.new(DEMO_WEBHOOK_SECRET.encode(), body, hashlib.sha256).digest()).decode()
    # A well-formed signature made with the wrong secret, as after a secret rotated on one side only.
    wrong_sig = base64.b64encode(hmac.new(b"an-old-secret", body, hashlib.sha256).digest()).decode()
    resource, event = topic.split(".", 1)
    headers = {"content-type": "application/json", "user-agent": "WooCommerce/9.4.0 Hookshot (WordPress/6.7.1)",
               "x-wc-webhook-source": "https://shop.example/", "x-wc-webhook-topic": topic,
               "x-wc-webhook-resource": resource, "x-wc-webhook-event": event,
               "x-wc-webhook-signature": sig if sign else wrong_sig,
               "x-wc-webhook-id": str(webhook_id), "x-wc-webhook-delivery-id": hashlib.md5(body).hexdigest()}
    return http_event(f"/webhooks/{DEMO_STORE}", body, headers, b64=b64)


def write(name, event):
    with open(os.path.join(OUT, name), "w", encoding="utf-8") as fh:
        json.dump(event, fh, ensure_ascii=False, indent=2)
        fh.write("\n")


def main():
    os.makedirs(OUT, exist_ok=True)
    created = order(1001, "pending", ("2026-11-27T09:14:03", "2026-11-27T22:14:03"))
    paid = order(1001, "processing", ("2026-11-27T09:14:40", "2026-11-27T22:14:40"), paid="2026-11-27T09:14:39")
    second = order(1002, "processing", ("2026-11-27T10:02:11", "2026-11-27T23:02:11"), paid="2026-11-27T10:02:10",
                   lines=[("Harakeke kete", "KETE-L", 1, "120.00", "18.00")])
    write("webhook-01-ping.json", http_event(f"/webhooks/{DEMO_STORE}", "webhook_id=3",
                                             {"content-type": "application/x-www-form-urlencoded",
                                              "user-agent": "WooCommerce/9.4.0 Hookshot (WordPress/6.7.1)"}))
    write("webhook-02-order-created.json", delivery("order.created", created))
    write("webhook-03-order-updated-paid.json", delivery("order.updated", paid))
    write("webhook-04-order-updated-paid-duplicate.json", delivery("order.updated", paid))
    write("webhook-05-order-created-base64.json", delivery("order.created", second, b64=True))
    write("webhook-06-order-deleted-string-id.json", delivery("order.deleted", {"id": "1002"}))
    write("webhook-07-product-updated-ignored.json", delivery("product.updated", {"id": 90, "name": "Pounamu pendant"}))
    write("webhook-08-bad-signature.json", delivery("order.updated", paid, sign=False))
    refunded = order(1001, "processing", ("2026-11-28T20:41:12", "2026-11-29T09:41:12"), paid="2026-11-27T09:14:39",
                     refunds=[{"id": 1201, "reason": "Gift wrap not included", "total": "-5.75"}])
    write("webhook-09-order-updated-partially-refunded.json", delivery("order.updated", refunded))
    job = {"v": 1, "store_id": DEMO_STORE, "topic": "order.updated", "order_id": 1001,
           "modified_gmt": "2026-11-27T09:14:40", "webhook_id": 3, "received_at": "2026-11-27T09:14:41Z",
           "body_sha256": "0" * 64, "body": json.dumps(paid, ensure_ascii=False)}
    write("sqs-sync-job.json", {"Records": [{
        "messageId": "059f36b4-87a3-44ab-83d2-661975830a7d", "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a",
        "body": json.dumps(job, ensure_ascii=False), "attributes": {"ApproximateReceiveCount": "1",
        "SentTimestamp": "1795770845000", "SenderId": "AIDAIENQZJOLO23YVJ4VO", "ApproximateFirstReceiveTimestamp": "1795770845001"},
        "messageAttributes": {}, "md5OfBody": hashlib.md5(json.dumps(job).encode()).hexdigest(), "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:wooxero-local-sync", "awsRegion": "us-east-1"}]})
    connect = http_event(f"/connect/{DEMO_STORE}", "", {"user-agent": "Mozilla/5.0"}, method="GET")
    connect["routeKey"] = connect["requestContext"]["routeKey"] = "GET /connect/{store_id}"
    connect["rawQueryString"] = "t=example-one-time-token"
    connect["queryStringParameters"] = {"t": "example-one-time-token"}
    del connect["body"]
    write("http-connect-start.json", connect)


if __name__ == "__main__":
    main()
