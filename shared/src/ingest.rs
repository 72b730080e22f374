//! The webhook-ingest use case: turn one signed WooCommerce delivery into at most one queued
//! sync job, and say which HTTP status WooCommerce should get.
//!
//! WooCommerce never retries a delivery and disables a webhook after repeated failures, so a
//! client's mistake gets a 4xx that explains it, a delivery we could not store gets a 503 (after
//! retrying within a ~3 s budget) and everything else gets a 200.

use std::sync::Arc;

use http::HeaderMap;
use tracing::{error, info, warn};

use crate::clock::{rfc3339, Clock};
use crate::config::IngestSettings;
use crate::error::{chain, StorageError};
use crate::ids::StoreId;
use crate::job::{SyncJob, JOB_VERSION};
use crate::ports::{Claim, Dedupe, JobQueue, PayloadStore, StoreRepo, WebhookSecrets};
use crate::retry::{with_budget, RetryBudget};
use crate::woo::webhook::{self, BodyError, OrderTopic, SignatureError};

pub struct IngestDeps {
    pub stores: Arc<dyn StoreRepo>,
    pub secrets: Arc<dyn WebhookSecrets>,
    pub dedupe: Arc<dyn Dedupe>,
    pub queue: Arc<dyn JobQueue>,
    pub payloads: Arc<dyn PayloadStore>,
    pub clock: Arc<dyn Clock>,
    pub settings: IngestSettings,
}

/// One HTTP delivery, already stripped of Lambda's event envelope.
pub struct Delivery<'a> {
    /// The `{store_id}` path segment, unparsed.
    pub store: &'a str,
    pub headers: &'a HeaderMap,
    /// The raw body, base64-decoded when API Gateway encoded it.
    pub body: &'a [u8],
}

#[derive(Debug, PartialEq, Eq)]
pub enum Accepted {
    Ping,
    Queued { message_id: String, via_payload_store: bool },
    Duplicate,
    IgnoredTopic(String),
}

#[derive(Debug, thiserror::Error)]
pub enum Rejected {
    #[error("unknown store")]
    UnknownStore,
    #[error("body of {size} bytes exceeds the {limit}-byte limit")]
    TooLarge { size: usize, limit: usize },
    #[error(transparent)]
    Unauthorized(#[from] SignatureError),
    #[error("the X-WC-Webhook-Topic header is missing")]
    NoTopic,
    #[error(transparent)]
    BadBody(#[from] BodyError),
    /// Our side failed: storage unavailable after retries, or the store's secret is missing.
    #[error("{what}")]
    Unavailable {
        what: &'static str,
        #[source]
        source: Option<StorageError>,
    },
}

impl Accepted {
    pub fn status(&self) -> u16 {
        200
    }
    pub fn code(&self) -> &'static str {
        match self {
            Accepted::Ping => "ping",
            Accepted::Queued { .. } => "queued",
            Accepted::Duplicate => "duplicate",
            Accepted::IgnoredTopic(_) => "ignored_topic",
        }
    }
}

impl Rejected {
    pub fn status(&self) -> u16 {
        match self {
            Rejected::UnknownStore => 404,
            Rejected::TooLarge { .. } => 413,
            Rejected::Unauthorized(_) => 401,
            Rejected::NoTopic | Rejected::BadBody(_) => 400,
            Rejected::Unavailable { .. } => 503,
        }
    }
    pub fn code(&self) -> &'static str {
        match self {
            Rejected::UnknownStore => "unknown_store",
            Rejected::TooLarge { .. } => "payload_too_large",
            Rejected::Unauthorized(_) => "bad_signature",
            Rejected::NoTopic => "missing_topic",
            Rejected::BadBody(_) => "not_an_order",
            Rejected::Unavailable { .. } => "temporarily_unavailable",
        }
    }
}

impl IngestDeps {
    fn budget(&self) -> RetryBudget {
        RetryBudget { total: self.settings.storage_budget, ..RetryBudget::default() }
    }

    pub async fn handle(&self, d: Delivery<'_>) -> Result<Accepted, Rejected> {
        let topic_header = webhook::header_str(d.headers, webhook::HEADER_TOPIC).unwrap_or("-").to_owned();
        let result = self.handle_inner(&d).await;
        // One line per delivery, with what an operator searches by. No body, no secret.
        match &result {
            Ok(ok) => {
                info!(store_id = d.store, topic = %topic_header, outcome = ok.code(), status = 200, "webhook delivery")
            }
            Err(e @ Rejected::Unavailable { .. }) => {
                error!(store_id = d.store, topic = %topic_header, outcome = e.code(), status = e.status(), error = %chain(e), "webhook delivery not stored")
            }
            Err(e) => {
                warn!(store_id = d.store, topic = %topic_header, outcome = e.code(), status = e.status(), error = %chain(e), "webhook delivery rejected")
            }
        }
        result
    }

    async fn handle_inner(&self, d: &Delivery<'_>) -> Result<Accepted, Rejected> {
        let store_id = StoreId::parse(d.store).map_err(|_| Rejected::UnknownStore)?;
        if d.body.len() > self.settings.max_body_bytes {
            return Err(Rejected::TooLarge { size: d.body.len(), limit: self.settings.max_body_bytes });
        }
        let store = with_budget(self.budget(), "stores.get", || self.stores.get(&store_id))
            .await
            .map_err(|e| Rejected::Unavailable { what: "store lookup failed", source: Some(e) })?;
        if store.is_none() {
            return Err(Rejected::UnknownStore);
        }
        if webhook::is_ping(d.headers, d.body) {
            return Ok(Accepted::Ping);
        }
        let secret = with_budget(self.budget(), "secrets.webhook_secret", || self.secrets.webhook_secret(&store_id))
            .await
            .map_err(|e| Rejected::Unavailable { what: "webhook secret lookup failed", source: Some(e) })?
            .ok_or(Rejected::Unavailable { what: "the store has no webhook secret", source: None })?;
        // Verify before parsing anything.
        webhook::verify_signature(d.headers, d.body, &secret)?;

        let topic_name = webhook::header_str(d.headers, webhook::HEADER_TOPIC).ok_or(Rejected::NoTopic)?;
        let Some(topic) = OrderTopic::parse(topic_name) else {
            return Ok(Accepted::IgnoredTopic(topic_name.chars().take(64).collect()));
        };
        let envelope = webhook::parse_order_envelope(topic, d.body)?;
        let body_sha256 = webhook::sha256_hex(d.body);

        let dedupe_key = format!("{store_id}#{body_sha256}");
        let claim =
            with_budget(self.budget(), "dedupe.claim", || self.dedupe.claim(&dedupe_key, self.settings.dedupe_window))
                .await
                .map_err(|e| Rejected::Unavailable { what: "dedupe check failed", source: Some(e) })?;
        if claim == Claim::Duplicate {
            info!(store_id = %store_id, order_id = %envelope.order_id, topic = topic.as_str(), "identical re-delivery, not queued again");
            return Ok(Accepted::Duplicate);
        }

        match self.enqueue(&store_id, topic, envelope, body_sha256, d).await {
            Ok(accepted) => Ok(accepted),
            Err(e) => {
                // Forget the claim so that a re-sent delivery is queued rather than called a duplicate.
                if let Err(release) = self.dedupe.release(&dedupe_key).await {
                    error!(store_id = %store_id, error = %chain(&release), "could not release dedupe claim");
                }
                Err(Rejected::Unavailable { what: "queueing the sync job failed", source: Some(e) })
            }
        }
    }

    async fn enqueue(
        &self,
        store_id: &StoreId,
        topic: OrderTopic,
        envelope: webhook::OrderEnvelope,
        body_sha256: String,
        d: &Delivery<'_>,
    ) -> Result<Accepted, StorageError> {
        let raw = String::from_utf8_lossy(d.body).into_owned(); // valid UTF-8: it parsed as JSON
        let mut job = SyncJob {
            v: JOB_VERSION,
            store_id: store_id.clone(),
            topic: topic.as_str().to_owned(),
            order_id: envelope.order_id,
            modified_gmt: envelope.modified_gmt,
            webhook_id: webhook::header_str(d.headers, webhook::HEADER_WEBHOOK_ID).and_then(|s| s.parse().ok()),
            delivery_id: webhook::header_str(d.headers, webhook::HEADER_DELIVERY_ID)
                .map(|s| s.chars().take(128).collect()),
            received_at: rfc3339(self.clock.now()),
            body_sha256,
            body: Some(raw),
            body_ref: None,
        };
        let mut via_payload_store = false;
        if job.to_json().len() > self.settings.max_queue_message_bytes {
            let key = format!("payloads/{}/{}.json", store_id, job.body_sha256);
            let body_ref = with_budget(self.budget(), "payloads.put", || self.payloads.put(&key, d.body)).await?;
            job.body = None;
            job.body_ref = Some(body_ref);
            via_payload_store = true;
        }
        let message_id = with_budget(self.budget(), "queue.send", || self.queue.send(&job)).await?;
        info!(store_id = %store_id, order_id = %job.order_id, topic = %job.topic, via_payload_store, "sync job queued");
        Ok(Accepted::Queued { message_id, via_payload_store })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SystemClock;
    use crate::memory::{MemoryDedupe, MemoryPayloads, MemoryQueue, MemorySecrets, MemoryStores};
    use crate::store::{Store, StoreStatus};
    use crate::woo::webhook::sign;
    use http::HeaderValue;
    use secrecy::SecretString;

    const SECRET: &str = "s3cretS3cret";
    const ORDER: &str = r#"{"id":727,"status":"processing","date_modified_gmt":"2026-11-27T10:00:00","total":"10.00"}"#;

    struct World {
        stores: Arc<MemoryStores>,
        secrets: Arc<MemorySecrets>,
        dedupe: Arc<MemoryDedupe>,
        queue: Arc<MemoryQueue>,
        payloads: Arc<MemoryPayloads>,
        deps: IngestDeps,
    }

    fn world() -> World {
        let id = StoreId::parse("demo").unwrap();
        let mut paused =
            Store::new(StoreId::parse("paused").unwrap(), "https://p.example".parse().unwrap(), SystemClock.now());
        paused.status = StoreStatus::Paused;
        let stores = Arc::new(MemoryStores::with([
            Store::new(id.clone(), "https://shop.example".parse().unwrap(), SystemClock.now()),
            paused,
        ]));
        let secrets = Arc::new(MemorySecrets::default());
        secrets.put(&id, SECRET);
        secrets.put(&StoreId::parse("paused").unwrap(), SECRET);
        let (dedupe, queue, payloads) =
            (Arc::new(MemoryDedupe::default()), Arc::new(MemoryQueue::default()), Arc::new(MemoryPayloads::default()));
        let deps = IngestDeps {
            stores: stores.clone(),
            secrets: secrets.clone(),
            dedupe: dedupe.clone(),
            queue: queue.clone(),
            payloads: payloads.clone(),
            clock: Arc::new(SystemClock),
            settings: IngestSettings::default(),
        };
        World { stores, secrets, dedupe, queue, payloads, deps }
    }

    fn signed(topic: &str, body: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(webhook::HEADER_TOPIC, HeaderValue::from_str(topic).unwrap());
        h.insert(
            webhook::HEADER_SIGNATURE,
            HeaderValue::from_str(&sign(body.as_bytes(), &SecretString::from(SECRET))).unwrap(),
        );
        h.insert(webhook::HEADER_WEBHOOK_ID, HeaderValue::from_static("12"));
        h.insert(webhook::HEADER_DELIVERY_ID, HeaderValue::from_static("d-1"));
        h
    }

    async fn deliver(w: &World, store: &str, headers: &HeaderMap, body: &str) -> Result<Accepted, Rejected> {
        w.deps.handle(Delivery { store, headers, body: body.as_bytes() }).await
    }

    fn status(r: &Result<Accepted, Rejected>) -> u16 {
        match r {
            Ok(a) => a.status(),
            Err(e) => e.status(),
        }
    }

    #[tokio::test]
    async fn a_signed_order_becomes_one_job_with_everything_the_consumer_needs() {
        let w = world();
        let r = deliver(&w, "demo", &signed("order.created", ORDER), ORDER).await;
        assert!(matches!(r, Ok(Accepted::Queued { via_payload_store: false, .. })), "{r:?}");
        let jobs = w.queue.jobs();
        assert_eq!(jobs.len(), 1);
        let job = &jobs[0];
        assert_eq!((job.store_id.as_str(), job.topic.as_str(), job.order_id.get()), ("demo", "order.created", 727));
        assert_eq!(job.modified_gmt.as_deref(), Some("2026-11-27T10:00:00"));
        assert_eq!((job.webhook_id, job.delivery_id.as_deref()), (Some(12), Some("d-1")));
        assert_eq!(job.body.as_deref(), Some(ORDER));
        assert_eq!(job.body_sha256, webhook::sha256_hex(ORDER.as_bytes()));
    }

    #[tokio::test]
    async fn ping_gets_exactly_200_and_queues_nothing() {
        let w = world();
        let r = deliver(&w, "demo", &HeaderMap::new(), "webhook_id=12").await;
        assert_eq!(r.unwrap(), Accepted::Ping);
        assert!(w.queue.jobs().is_empty());
    }

    #[tokio::test]
    async fn every_client_mistake_gets_its_4xx_and_queues_nothing() {
        let w = world();
        // Unknown store, and a path segment that cannot be a store id.
        assert_eq!(status(&deliver(&w, "nope", &signed("order.created", ORDER), ORDER).await), 404);
        assert_eq!(status(&deliver(&w, "../etc", &signed("order.created", ORDER), ORDER).await), 404);
        // Missing, malformed and wrong signatures.
        let mut unsigned = signed("order.created", ORDER);
        unsigned.remove(webhook::HEADER_SIGNATURE);
        assert_eq!(status(&deliver(&w, "demo", &unsigned, ORDER).await), 401);
        let mut garbage_sig = signed("order.created", ORDER);
        garbage_sig.insert(webhook::HEADER_SIGNATURE, HeaderValue::from_static("%%%"));
        assert_eq!(status(&deliver(&w, "demo", &garbage_sig, ORDER).await), 401);
        assert_eq!(status(&deliver(&w, "demo", &signed("order.created", ORDER), "{\"id\":728}").await), 401);
        // A ping body with WooCommerce headers is not a ping, and is unsigned here.
        assert_eq!(status(&deliver(&w, "demo", &unsigned, "webhook_id=1").await), 401);
        // Signed but not JSON, not an object, no id, or WooCommerce's error object.
        for body in [
            "not json",
            "[1,2]",
            "{}",
            r#"{"code":"woocommerce_rest_cannot_view","message":"x","data":{"status":401}}"#,
        ] {
            assert_eq!(status(&deliver(&w, "demo", &signed("order.updated", body), body).await), 400, "{body}");
        }
        // Signed without a topic.
        let mut no_topic = signed("order.created", ORDER);
        no_topic.remove(webhook::HEADER_TOPIC);
        assert_eq!(status(&deliver(&w, "demo", &no_topic, ORDER).await), 400);
        // Too large.
        let big = format!(r#"{{"id":1,"pad":"{}"}}"#, "x".repeat(1024 * 1024));
        assert_eq!(status(&deliver(&w, "demo", &signed("order.created", &big), &big).await), 413);
        assert!(w.queue.jobs().is_empty());
    }

    #[tokio::test]
    async fn topics_we_do_not_sync_are_acknowledged_and_ignored() {
        let w = world();
        let body = r#"{"id":5,"name":"A product"}"#;
        let r = deliver(&w, "demo", &signed("product.updated", body), body).await;
        assert_eq!(r.unwrap(), Accepted::IgnoredTopic("product.updated".into()));
        assert!(w.queue.jobs().is_empty());
    }

    #[tokio::test]
    async fn deleted_orders_may_carry_a_string_id() {
        let w = world();
        let body = r#"{"id":"727"}"#;
        deliver(&w, "demo", &signed("order.deleted", body), body).await.unwrap();
        let job = &w.queue.jobs()[0];
        assert_eq!((job.order_id.get(), job.modified_gmt.as_deref()), (727, None));
    }

    #[tokio::test]
    async fn identical_redeliveries_queue_one_job() {
        let w = world();
        for _ in 0..5 {
            assert_eq!(status(&deliver(&w, "demo", &signed("order.updated", ORDER), ORDER).await), 200);
        }
        assert_eq!(w.queue.jobs().len(), 1);
        // A different body for the same order is a new event.
        let newer = ORDER.replace("10:00:00", "10:05:00");
        deliver(&w, "demo", &signed("order.updated", &newer), &newer).await.unwrap();
        assert_eq!(w.queue.jobs().len(), 2);
    }

    #[tokio::test]
    async fn a_paused_store_still_takes_deliveries() {
        let w = world();
        let r = deliver(&w, "paused", &signed("order.created", ORDER), ORDER).await;
        assert!(matches!(r, Ok(Accepted::Queued { .. })));
        assert_eq!(w.queue.jobs().len(), 1);
    }

    #[tokio::test]
    async fn bodies_too_big_for_the_queue_travel_through_the_payload_store() {
        let w = world();
        let body =
            format!(r#"{{"id":9,"date_modified_gmt":"2026-11-27T10:00:00","pad":"{}"}}"#, "y".repeat(300 * 1024));
        let r = deliver(&w, "demo", &signed("order.updated", &body), &body).await;
        assert!(matches!(r, Ok(Accepted::Queued { via_payload_store: true, .. })), "{r:?}");
        let job = &w.queue.jobs()[0];
        assert!(job.body.is_none());
        let back = w.payloads.get(job.body_ref.as_ref().unwrap()).await.unwrap();
        assert_eq!(back, body.as_bytes());
    }

    #[tokio::test(start_paused = true)]
    async fn brief_storage_failures_are_retried_within_the_request() {
        let w = world();
        w.queue.faults.fail_next(2);
        w.dedupe.faults.fail_next(1);
        w.stores.faults.fail_next(1);
        let r = deliver(&w, "demo", &signed("order.created", ORDER), ORDER).await;
        assert!(matches!(r, Ok(Accepted::Queued { .. })), "{r:?}");
        assert_eq!(w.queue.jobs().len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn lasting_queue_failure_is_503_and_the_redelivery_is_not_called_a_duplicate() {
        let w = world();
        w.queue.faults.fail_next(1000);
        let r = deliver(&w, "demo", &signed("order.created", ORDER), ORDER).await;
        assert_eq!(status(&r), 503);
        w.queue.faults.fail_next(0);
        let r = deliver(&w, "demo", &signed("order.created", ORDER), ORDER).await;
        assert!(matches!(r, Ok(Accepted::Queued { .. })), "{r:?}");
        assert_eq!(w.queue.jobs().len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn lasting_store_or_secret_failure_is_503() {
        let w = world();
        w.stores.faults.fail_next(1000);
        assert_eq!(status(&deliver(&w, "demo", &signed("order.created", ORDER), ORDER).await), 503);
        w.stores.faults.fail_next(0);
        w.secrets.faults.fail_next(1000);
        assert_eq!(status(&deliver(&w, "demo", &signed("order.created", ORDER), ORDER).await), 503);
        assert!(w.queue.jobs().is_empty());
    }
}
