//! WooCommerce webhook deliveries, as `class-wc-webhook.php` sends them (see docs/woocommerce.md
//! in the team material): `X-WC-Webhook-*` headers, a base64 HMAC-SHA256 signature of the raw
//! body, a form-encoded ping without headers, and JSON bodies whose shape depends on the topic.

use base64::Engine;
use hmac::{Hmac, Mac};
use http::HeaderMap;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::ids::{IdError, OrderId};

pub const HEADER_SIGNATURE: &str = "x-wc-webhook-signature";
pub const HEADER_TOPIC: &str = "x-wc-webhook-topic";
pub const HEADER_WEBHOOK_ID: &str = "x-wc-webhook-id";
pub const HEADER_DELIVERY_ID: &str = "x-wc-webhook-delivery-id";
const HEADER_PREFIX: &str = "x-wc-webhook-";

/// WooCommerce's ping: no `X-WC-Webhook-*` headers and a body of exactly `webhook_id=<digits>`.
pub fn is_ping(headers: &HeaderMap, body: &[u8]) -> bool {
    let has_wc_headers = headers.keys().any(|k| k.as_str().starts_with(HEADER_PREFIX));
    if has_wc_headers {
        return false;
    }
    let Some(digits) = body.strip_prefix(b"webhook_id=") else {
        return false;
    };
    !digits.is_empty() && digits.iter().all(u8::is_ascii_digit)
}

/// base64(HMAC-SHA256(body, secret)), as WooCommerce computes it.
pub fn sign(body: &[u8], secret: &SecretString) -> String {
    let mut mac = hmac_for(secret);
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn hmac_for(secret: &SecretString) -> Hmac<Sha256> {
    // HMAC accepts keys of any length, so this never fails.
    <Hmac<Sha256> as Mac>::new_from_slice(secret.expose_secret().as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the X-WC-Webhook-Signature header is missing")]
    Missing,
    #[error("the X-WC-Webhook-Signature header is not base64 of a SHA-256 MAC")]
    Malformed,
    #[error("the signature does not match the body and this store's webhook secret")]
    Mismatch,
}

/// Checks the signature header against the raw body, in constant time.
pub fn verify_signature(headers: &HeaderMap, body: &[u8], secret: &SecretString) -> Result<(), SignatureError> {
    let header = headers.get(HEADER_SIGNATURE).ok_or(SignatureError::Missing)?;
    let given = base64::engine::general_purpose::STANDARD
        .decode(header.as_bytes().trim_ascii())
        .map_err(|_| SignatureError::Malformed)?;
    if given.len() != 32 {
        return Err(SignatureError::Malformed);
    }
    let mut mac = hmac_for(secret);
    mac.update(body);
    mac.verify_slice(&given).map_err(|_| SignatureError::Mismatch)
}

pub fn sha256_hex(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// Topics this product turns into sync jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderTopic {
    Created,
    Updated,
    Deleted,
    Restored,
}

impl OrderTopic {
    pub fn parse(topic: &str) -> Option<Self> {
        match topic {
            "order.created" => Some(OrderTopic::Created),
            "order.updated" => Some(OrderTopic::Updated),
            "order.deleted" => Some(OrderTopic::Deleted),
            "order.restored" => Some(OrderTopic::Restored),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OrderTopic::Created => "order.created",
            OrderTopic::Updated => "order.updated",
            OrderTopic::Deleted => "order.deleted",
            OrderTopic::Restored => "order.restored",
        }
    }
}

pub fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|s| !s.is_empty())
}

/// What ingest needs from an order body: enough to key and route the job, nothing more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderEnvelope {
    pub order_id: OrderId,
    pub modified_gmt: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("the body is not JSON")]
    NotJson(#[source] serde_json::Error),
    #[error("the body is not a JSON object")]
    NotObject,
    #[error("WooCommerce sent its REST error {code:?} instead of an order (does the webhook's user still have permission to read orders?)")]
    WooError { code: String },
    #[error("the body has no order id")]
    NoId,
    #[error("the body's order id is not usable")]
    BadId(#[source] IdError),
    #[error("date_modified_gmt {0:?} is not a WooCommerce GMT timestamp (YYYY-MM-DDTHH:MM:SS)")]
    BadModified(String),
}

/// Reads the order id and modification time from a delivery's body. A full order for
/// created/updated/restored; `{"id": N}` (N possibly a digit string) for deleted.
pub fn parse_order_envelope(topic: OrderTopic, body: &[u8]) -> Result<OrderEnvelope, BodyError> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(BodyError::NotJson)?;
    let obj = value.as_object().ok_or(BodyError::NotObject)?;
    if obj.get("id").is_none() {
        if let (Some(code), Some(_)) = (obj.get("code").and_then(|c| c.as_str()), obj.get("message")) {
            return Err(BodyError::WooError { code: code.chars().take(80).collect() });
        }
        return Err(BodyError::NoId);
    }
    let order_id = OrderId::from_json(&obj["id"]).map_err(BodyError::BadId)?;
    let modified_gmt = match (topic, obj.get("date_modified_gmt")) {
        (OrderTopic::Deleted, _) | (_, None) | (_, Some(serde_json::Value::Null)) => None,
        (_, Some(serde_json::Value::String(s))) if is_wc_gmt_timestamp(s) => Some(s.clone()),
        (_, Some(other)) => return Err(BodyError::BadModified(other.to_string().chars().take(40).collect())),
    };
    Ok(OrderEnvelope { order_id, modified_gmt })
}

fn is_wc_gmt_timestamp(s: &str) -> bool {
    let format = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    time::PrimitiveDateTime::parse(s, format).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    #[test]
    fn signature_matches_a_known_vector() {
        // GIVEN the RFC 4231 test case 2 key and data, WHEN signed, THEN the MAC is the published
        // one (5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843), base64-encoded.
        let sig = sign(b"what do ya want for nothing?", &secret("Jefe"));
        assert_eq!(sig, "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=");
    }

    #[test]
    fn verify_accepts_the_right_signature_only() {
        let body = br#"{"id":1}"#;
        let mut headers = HeaderMap::new();
        assert_eq!(verify_signature(&headers, body, &secret("s")), Err(SignatureError::Missing));
        headers.insert(HEADER_SIGNATURE, HeaderValue::from_static("not base64!"));
        assert_eq!(verify_signature(&headers, body, &secret("s")), Err(SignatureError::Malformed));
        headers.insert(HEADER_SIGNATURE, HeaderValue::from_str(&sign(body, &secret("other"))).unwrap());
        assert_eq!(verify_signature(&headers, body, &secret("s")), Err(SignatureError::Mismatch));
        headers.insert(HEADER_SIGNATURE, HeaderValue::from_str(&sign(body, &secret("s"))).unwrap());
        assert_eq!(verify_signature(&headers, body, &secret("s")), Ok(()));
        // One changed byte of the body breaks it: the MAC covers the raw bytes.
        assert_eq!(verify_signature(&headers, br#"{"id":2}"#, &secret("s")), Err(SignatureError::Mismatch));
    }

    #[test]
    fn ping_is_form_body_without_wc_headers() {
        let none = HeaderMap::new();
        assert!(is_ping(&none, b"webhook_id=12"));
        assert!(!is_ping(&none, b"webhook_id="));
        assert!(!is_ping(&none, b"webhook_id=12&x=1"));
        assert!(!is_ping(&none, b"{\"id\":1}"));
        let mut with = HeaderMap::new();
        with.insert(HEADER_TOPIC, HeaderValue::from_static("order.created"));
        assert!(!is_ping(&with, b"webhook_id=12"));
    }

    #[test]
    fn envelopes_of_every_body_kind() {
        let full = br#"{"id":727,"status":"processing","date_modified_gmt":"2026-11-27T10:00:00"}"#;
        let env = parse_order_envelope(OrderTopic::Created, full).unwrap();
        assert_eq!(env.order_id.get(), 727);
        assert_eq!(env.modified_gmt.as_deref(), Some("2026-11-27T10:00:00"));
        let deleted = parse_order_envelope(OrderTopic::Deleted, br#"{"id":"727"}"#).unwrap();
        assert_eq!((deleted.order_id.get(), deleted.modified_gmt), (727, None));
        assert!(matches!(parse_order_envelope(OrderTopic::Updated, b"nope"), Err(BodyError::NotJson(_))));
        assert!(matches!(parse_order_envelope(OrderTopic::Updated, b"[1]"), Err(BodyError::NotObject)));
        assert!(matches!(parse_order_envelope(OrderTopic::Updated, b"{}"), Err(BodyError::NoId)));
        let woo_err = br#"{"code":"woocommerce_rest_cannot_view","message":"no","data":{"status":401}}"#;
        assert!(matches!(parse_order_envelope(OrderTopic::Updated, woo_err), Err(BodyError::WooError { .. })));
        assert!(matches!(parse_order_envelope(OrderTopic::Updated, br#"{"id":"x"}"#), Err(BodyError::BadId(_))));
        let bad_date = br#"{"id":1,"date_modified_gmt":"yesterday"}"#;
        assert!(matches!(parse_order_envelope(OrderTopic::Updated, bad_date), Err(BodyError::BadModified(_))));
    }
}
