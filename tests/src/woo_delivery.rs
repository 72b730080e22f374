//! Builds WooCommerce deliveries as WooCommerce sends them: raw body, `X-WC-Webhook-*` headers and
//! the base64 HMAC-SHA256 signature.

/// WooCommerce's signature of `body`: the same code webhook-ingest verifies with.
pub fn signature(body: &[u8], secret: &str) -> String {
    wooxero_shared::woo::webhook::sign(body, &secrecy::SecretString::from(secret.to_owned()))
}

/// The headers WooCommerce sends with a signed delivery.
pub fn headers(topic: &str, body: &[u8], secret: &str, webhook_id: u64) -> Vec<(String, String)> {
    let (resource, event) = topic.split_once('.').unwrap_or((topic, ""));
    vec![
        ("content-type".into(), "application/json".into()),
        ("user-agent".into(), "WooCommerce/9.4.0 Hookshot (WordPress/6.7)".into()),
        ("x-wc-webhook-source".into(), "https://shop.example/".into()),
        ("x-wc-webhook-topic".into(), topic.into()),
        ("x-wc-webhook-resource".into(), resource.into()),
        ("x-wc-webhook-event".into(), event.into()),
        ("x-wc-webhook-signature".into(), signature(body, secret)),
        ("x-wc-webhook-id".into(), webhook_id.to_string()),
        ("x-wc-webhook-delivery-id".into(), uuid::Uuid::new_v4().simple().to_string()),
    ]
}

/// A synthetic order in WooCommerce's v3 REST shape (money as strings, GMT dates without offset).
pub fn order_json(id: u64, status: &str, modified_gmt: &str, line_count: usize) -> String {
    let lines: Vec<serde_json::Value> = (0..line_count)
        .map(|i| {
            serde_json::json!({
                "id": 100 + i, "name": format!("Item {i}"), "product_id": 10 + i, "variation_id": 0,
                "quantity": 1, "tax_class": "", "subtotal": "10.00", "subtotal_tax": "1.50",
                "total": "10.00", "total_tax": "1.50", "taxes": [{"id": 1, "total": "1.5", "subtotal": "1.5"}],
                "meta_data": [], "sku": format!("SKU-{i}"), "price": 10
            })
        })
        .collect();
    let total = format!("{:.2}", line_count as f64 * 11.5);
    serde_json::json!({
        "id": id, "parent_id": 0, "status": status, "currency": "NZD", "version": "9.4.0",
        "prices_include_tax": false, "date_created": "2026-11-27T09:00:00", "date_created_gmt": "2026-11-27T09:00:00",
        "date_modified": modified_gmt, "date_modified_gmt": modified_gmt,
        "discount_total": "0.00", "discount_tax": "0.00", "shipping_total": "0.00", "shipping_tax": "0.00",
        "cart_tax": format!("{:.2}", line_count as f64 * 1.5), "total": total, "total_tax": format!("{:.2}", line_count as f64 * 1.5),
        "customer_id": 0, "order_key": "wc_order_x", "number": id.to_string(),
        "billing": {"first_name": "Aroha", "last_name": "Ngata", "email": "aroha@example.nz", "phone": "", "company": "",
                    "address_1": "1 Queen St", "address_2": "", "city": "Auckland", "state": "", "postcode": "1010", "country": "NZ"},
        "shipping": {}, "payment_method": "bacs", "payment_method_title": "Direct bank transfer", "transaction_id": "",
        "date_paid": null, "date_paid_gmt": null, "line_items": lines, "tax_lines": [], "shipping_lines": [], "fee_lines": [],
        "coupon_lines": [], "refunds": [], "meta_data": []
    })
    .to_string()
}
