//! The SQS side of xero-sync: each record parsed on its own (one bad record never fails the
//! batch), bounded concurrency, retries reported as batch item failures with their visibility
//! delay set, never an empty item id.

use std::time::Duration;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use futures::StreamExt;

use super::engine::{JobOutcome, SyncDeps};
use crate::job::SyncJob;
use crate::ports::QueueControl;

/// Jobs of one batch run at most this many at once (Xero allows 5 concurrent calls per tenant).
pub const BATCH_CONCURRENCY: usize = 4;

/// From this receive on, a throttled job is re-sent rather than returned (the queue's
/// maxReceiveCount is 5).
pub const THROTTLE_REQUEUE_AT: u32 = 3;

pub async fn handle_batch(deps: &SyncDeps, queue: &dyn QueueControl, event: SqsEvent) -> SqsBatchResponse {
    let failures: Vec<String> = futures::stream::iter(event.records)
        .map(|record| async move { handle_record(deps, queue, record).await })
        .buffer_unordered(BATCH_CONCURRENCY)
        .filter_map(|failed| async move { failed })
        .collect()
        .await;
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failures
        .into_iter()
        .map(|id| {
            let mut f = BatchItemFailure::default();
            f.item_identifier = id;
            f
        })
        .collect();
    response
}

/// Returns the message id when the record must come back.
async fn handle_record(deps: &SyncDeps, queue: &dyn QueueControl, record: SqsMessage) -> Option<String> {
    // Without an id the record cannot be reported (an empty id would fail the whole batch).
    let Some(message_id) = record.message_id.clone().filter(|id| !id.is_empty()) else {
        tracing::error!("SQS record without a message id; it cannot be reported and is acknowledged");
        return None;
    };
    let receive_count: u32 = record.attributes.get("ApproximateReceiveCount").and_then(|v| v.parse().ok()).unwrap_or(1);
    let job = match record.body.as_deref().map(SyncJob::parse) {
        Some(Ok(job)) => job,
        Some(Err(e)) => {
            tracing::error!(message_id, error = %crate::error::chain(&e), "unreadable sync job; acknowledged (see the DLQ alarm for poison messages)");
            return None;
        }
        None => {
            tracing::error!(message_id, "sync record without a body; acknowledged");
            return None;
        }
    };
    let outcome = deps.process(&job, receive_count).await;
    let span_fields = (job.store_id.as_str(), job.order_id.get(), job.topic.as_str());
    match &outcome {
        // Near the receive limit, a throttled job goes back as a fresh message (receive count
        // reset) and the original is acknowledged; earlier, its visibility is set as for retries.
        JobOutcome::Throttled { after, reason } if receive_count >= THROTTLE_REQUEUE_AT => {
            tracing::warn!(
                message_id,
                store_id = span_fields.0,
                order_id = span_fields.1,
                retry_after_s = after.as_secs(),
                reason,
                "throttled again; re-sent as a new message"
            );
            match queue.requeue_after(&job.to_json(), (*after).max(Duration::from_secs(1))).await {
                Ok(()) => None,
                Err(e) => {
                    tracing::warn!(message_id, error = %crate::error::chain(&e), "could not re-send the throttled job; it returns to the queue");
                    Some(message_id)
                }
            }
        }
        JobOutcome::Retry { after, reason } | JobOutcome::Throttled { after, reason } => {
            tracing::warn!(
                message_id,
                store_id = span_fields.0,
                order_id = span_fields.1,
                topic = span_fields.2,
                retry_after_s = after.as_secs(),
                reason,
                "sync job will be retried"
            );
            if let Some(receipt) = record.receipt_handle.as_deref() {
                if let Err(e) = queue.delay(receipt, (*after).max(Duration::from_secs(1))).await {
                    tracing::warn!(message_id, error = %crate::error::chain(&e), "could not set the retry delay; the queue's visibility timeout applies");
                }
            }
            Some(message_id)
        }
        other => {
            tracing::info!(message_id, store_id = span_fields.0, order_id = span_fields.1, topic = span_fields.2, outcome = ?other, "sync job done");
            None
        }
    }
}
