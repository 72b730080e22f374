//! webhook-ingest end to end: the real Lambda handler with the real AWS adapters against moto.

use std::time::Duration;

use secrecy::SecretString;
use wooxero_shared::config::IngestSettings;
use wooxero_shared::ids::StoreId;
use wooxero_shared::ports::{PayloadStore, StoreSecretVault};
use wooxero_tests::harness::{TestStack, SECRET, STORE};
use wooxero_tests::woo_delivery::{self, order_json};

#[tokio::test]
async fn a_signed_delivery_ends_up_as_one_sqs_job() {
    let t = TestStack::new(IngestSettings::default()).await.unwrap();
    let body = order_json(727, "processing", "2026-11-27T10:00:00", 2);
    let (status, resp) = t.post_signed("order.created", &body).await;
    assert_eq!((status, resp["outcome"].as_str()), (200, Some("queued")), "{resp}");
    let jobs = t.drain_jobs().await;
    assert_eq!(jobs.len(), 1);
    let job = &jobs[0];
    assert_eq!((job.store_id.as_str(), job.topic.as_str(), job.order_id.get()), (STORE, "order.created", 727));
    assert_eq!(job.modified_gmt.as_deref(), Some("2026-11-27T10:00:00"));
    assert_eq!(job.webhook_id, Some(7));
    assert!(job.delivery_id.is_some());
    assert_eq!(job.body.as_deref(), Some(body.as_str()), "the raw body travels unchanged");
}

#[tokio::test]
async fn five_identical_deliveries_end_up_as_one_job() {
    let t = TestStack::new(IngestSettings::default()).await.unwrap();
    let body = order_json(728, "processing", "2026-11-27T10:00:00", 1);
    let mut outcomes = Vec::new();
    for _ in 0..5 {
        // Each re-delivery has its own delivery id, as WooCommerce's do.
        let (status, resp) = t.post_signed("order.updated", &body).await;
        assert_eq!(status, 200);
        outcomes.push(resp["outcome"].as_str().unwrap_or_default().to_owned());
    }
    assert_eq!(outcomes, ["queued", "duplicate", "duplicate", "duplicate", "duplicate"]);
    assert_eq!(t.drain_jobs().await.len(), 1);
}

#[tokio::test]
async fn concurrent_identical_deliveries_queue_one_job() {
    let t = TestStack::new(IngestSettings::default()).await.unwrap();
    let body = order_json(729, "processing", "2026-11-27T10:00:00", 1);
    let results = futures::future::join_all((0..5).map(|_| t.post_signed("order.updated", &body))).await;
    assert!(results.iter().all(|(s, _)| *s == 200));
    assert_eq!(t.drain_jobs().await.len(), 1);
}

#[tokio::test]
async fn an_oversized_body_goes_through_s3_and_comes_back_whole() {
    let t = TestStack::new(IngestSettings::default()).await.unwrap();
    // 1,500 line items: about 390 KiB, over SQS's 256 KiB and under the 1 MiB limit.
    let body = order_json(730, "processing", "2026-11-27T10:00:00", 1500);
    assert!(body.len() > 256 * 1024 && body.len() < 1024 * 1024, "{}", body.len());
    let (status, resp) = t.post_signed("order.updated", &body).await;
    assert_eq!((status, resp["outcome"].as_str()), (200, Some("queued")), "{resp}");
    let jobs = t.drain_jobs().await;
    assert_eq!(jobs.len(), 1);
    assert!(jobs[0].body.is_none());
    let body_ref = jobs[0].body_ref.as_ref().expect("a claim check");
    assert_eq!(body_ref.bucket, t.stack.names.payload_bucket);
    let store = wooxero_shared::aws::s3::S3PayloadStore::new(t.clients.s3.clone(), &t.stack.names.payload_bucket);
    let back = store.get(body_ref).await.unwrap();
    assert_eq!(back, body.as_bytes());
}

#[tokio::test]
async fn a_rotated_secret_is_picked_up_after_the_cache_ttl() {
    let settings = IngestSettings { secret_cache_ttl: Duration::from_secs(1), ..IngestSettings::default() };
    let t = TestStack::new(settings).await.unwrap();
    let first = order_json(731, "processing", "2026-11-27T10:00:00", 1);
    assert_eq!(t.post_signed("order.updated", &first).await.0, 200); // warms the cache with the old secret
    let new_secret = "rotatedSecretZYXWVUTSRQ9876543210";
    t.vault.set_webhook_secret(&StoreId::parse(STORE).unwrap(), &SecretString::from(new_secret)).await.unwrap();
    let second = order_json(731, "processing", "2026-11-27T10:05:00", 1);
    let signed_new = woo_delivery::headers("order.updated", second.as_bytes(), new_secret, 7);
    // Within the TTL the cached old secret still answers.
    assert_eq!(t.post(STORE, &signed_new, second.as_bytes(), false).await.0, 401);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(t.post(STORE, &signed_new, second.as_bytes(), false).await.0, 200);
    let signed_old = woo_delivery::headers("order.updated", second.as_bytes(), SECRET, 7);
    assert_eq!(t.post(STORE, &signed_old, second.as_bytes(), false).await.0, 401);
    assert_eq!(t.drain_jobs().await.len(), 2);
}

#[tokio::test]
async fn unknown_store_bad_signature_and_garbage_queue_nothing() {
    let t = TestStack::new(IngestSettings::default()).await.unwrap();
    let body = order_json(732, "processing", "2026-11-27T10:00:00", 1);
    let signed = woo_delivery::headers("order.created", body.as_bytes(), SECRET, 7);
    assert_eq!(t.post("no-such-store", &signed, body.as_bytes(), false).await.0, 404);
    let wrong = woo_delivery::headers("order.created", body.as_bytes(), "notTheSecret0123456789", 7);
    assert_eq!(t.post(STORE, &wrong, body.as_bytes(), false).await.0, 401);
    let unsigned: Vec<_> = signed.iter().filter(|(k, _)| k != "x-wc-webhook-signature").cloned().collect();
    assert_eq!(t.post(STORE, &unsigned, body.as_bytes(), false).await.0, 401);
    for garbage in ["", "<html>", "{\"no\":\"id\"}", "[]", "\u{0}\u{1}"] {
        let (status, resp) = t.post_signed("order.updated", garbage).await;
        assert_eq!(status, 400, "{garbage:?}: {resp}");
        assert_eq!(resp["error"], "not_an_order");
    }
    let huge = format!("{{\"id\":1,\"pad\":\"{}\"}}", "z".repeat(1024 * 1024));
    assert_eq!(t.post_signed("order.updated", &huge).await.0, 413);
    assert_eq!(t.queue_depth(&t.stack.names.sync_queue_url).await, 0);
}

#[tokio::test]
async fn ping_base64_bodies_string_ids_and_ignored_topics() {
    let t = TestStack::new(IngestSettings::default()).await.unwrap();
    let ping_headers = vec![("content-type".to_owned(), "application/x-www-form-urlencoded".to_owned())];
    let (status, _) = t.post(STORE, &ping_headers, b"webhook_id=3", false).await;
    assert_eq!(status, 200);
    let body = order_json(733, "processing", "2026-11-27T10:00:00", 1);
    let headers = woo_delivery::headers("order.created", body.as_bytes(), SECRET, 7);
    assert_eq!(t.post(STORE, &headers, body.as_bytes(), true).await.0, 200, "base64-encoded event body");
    let deleted = r#"{"id":"733"}"#;
    assert_eq!(t.post_signed("order.deleted", deleted).await.0, 200);
    let (status, resp) = t.post_signed("coupon.created", r#"{"id":5,"code":"BF50"}"#).await;
    assert_eq!((status, resp["outcome"].as_str()), (200, Some("ignored_topic")));
    let jobs = t.drain_jobs().await;
    let mut summary: Vec<_> = jobs.iter().map(|j| (j.topic.clone(), j.order_id.get())).collect();
    summary.sort();
    assert_eq!(summary, [("order.created".to_owned(), 733), ("order.deleted".to_owned(), 733)]);
}
