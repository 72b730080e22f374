//! The local SQS poller plays Lambda's event source mapping faithfully enough to trust the local
//! stack: partial batch failures reappear after the visibility timeout, and the DLQ takes over
//! after maxReceiveCount (from template.yaml).

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use wooxero_shared::config::IngestSettings;
use wooxero_tests::harness::TestStack;
use wooxero_tests::poller::{BatchSettings, Invoker, Poller};
use wooxero_tests::woo_delivery::order_json;

/// Fails every record whose job is for one order id; records everything it saw.
struct FailingOrder {
    fail_order: u64,
    empty_id: bool,
    seen: Mutex<Vec<(String, u64)>>,
}

#[async_trait]
impl Invoker for FailingOrder {
    async fn invoke(&self, event: serde_json::Value) -> anyhow::Result<SqsBatchResponse> {
        let event: SqsEvent = serde_json::from_value(event)?;
        let mut resp = SqsBatchResponse::default();
        for r in event.records {
            let id = r.message_id.clone().unwrap_or_default();
            let job = wooxero_shared::job::SyncJob::parse(r.body.as_deref().unwrap_or_default())?;
            self.seen.lock().unwrap().push((id.clone(), job.order_id.get()));
            if job.order_id.get() == self.fail_order {
                let mut f = BatchItemFailure::default();
                f.item_identifier = if self.empty_id { String::new() } else { id };
                resp.batch_item_failures.push(f);
            }
        }
        Ok(resp)
    }
}

async fn queue_jobs(t: &TestStack, orders: &[u64]) {
    for id in orders {
        let (status, _) =
            t.post_signed("order.updated", &order_json(*id, "processing", "2026-11-27T10:00:00", 1)).await;
        assert_eq!(status, 200);
    }
}

#[tokio::test]
async fn failed_items_return_after_the_visibility_timeout_and_reach_the_dlq_after_max_receives() {
    let t = TestStack::with_options(IngestSettings::default(), Some(Duration::from_secs(1))).await.unwrap();
    queue_jobs(&t, &[1, 2, 3]).await;
    let invoker = FailingOrder { fail_order: 2, empty_id: false, seen: Mutex::new(Vec::new()) };
    let settings = BatchSettings { window: Duration::from_secs(1), ..BatchSettings::from_template().unwrap() };
    let poller = Poller {
        sqs: t.clients.sqs.clone(),
        queue_url: t.stack.names.sync_queue_url.clone(),
        queue_arn: t.stack.queue_arn.clone(),
        settings,
        invoker: &invoker,
    };
    let first = poller.run_once().await.unwrap().expect("a batch");
    assert_eq!((first.received, first.deleted, first.failed), (3, 2, 1));
    // Keep polling until the failing record has been moved to the DLQ.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while t.queue_depth(&t.stack.dlq_url).await == 0 {
        assert!(tokio::time::Instant::now() < deadline, "the record never reached the DLQ");
        poller.run_once().await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let seen = invoker.seen.lock().unwrap().clone();
    let attempts_for_2 = seen.iter().filter(|(_, order)| *order == 2).count() as u64;
    assert_eq!(attempts_for_2, t.stack.max_receive_count, "delivered maxReceiveCount times, then dead-lettered");
    for ok in [1, 3] {
        assert_eq!(
            seen.iter().filter(|(_, order)| *order == ok).count(),
            1,
            "order {ok} was processed once and deleted"
        );
    }
    assert_eq!(t.queue_depth(&t.stack.names.sync_queue_url).await, 0);
    assert_eq!(t.queue_depth(&t.stack.dlq_url).await, 1);
}

#[tokio::test]
async fn an_empty_item_identifier_fails_the_whole_batch_as_lambda_does() {
    let t = TestStack::with_options(IngestSettings::default(), Some(Duration::from_secs(1))).await.unwrap();
    queue_jobs(&t, &[10, 11]).await;
    let invoker = FailingOrder { fail_order: 10, empty_id: true, seen: Mutex::new(Vec::new()) };
    let poller = Poller {
        sqs: t.clients.sqs.clone(),
        queue_url: t.stack.names.sync_queue_url.clone(),
        queue_arn: t.stack.queue_arn.clone(),
        settings: BatchSettings { batch_size: 10, window: Duration::from_secs(1) },
        invoker: &invoker,
    };
    let outcome = poller.run_once().await.unwrap().expect("a batch");
    assert!(outcome.whole_batch_failed);
    assert_eq!((outcome.deleted, outcome.failed), (0, 2));
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let ids: HashSet<u64> = t.drain_jobs().await.iter().map(|j| j.order_id.get()).collect();
    assert_eq!(ids, HashSet::from([10, 11]), "both records came back");
}
