//! The xero-sync use case. For now it parses and acknowledges each job; turning jobs into Xero
//! documents comes with the sync issues.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};

use crate::job::SyncJob;

/// Logs each record on its own (one bad record never fails the batch) and acknowledges all.
pub async fn acknowledge_batch(event: SqsEvent) -> SqsBatchResponse {
    let failures: Vec<BatchItemFailure> = Vec::new();
    for record in &event.records {
        let message_id = record.message_id.as_deref().unwrap_or("-");
        match record.body.as_deref().map(SyncJob::parse) {
            Some(Ok(job)) => tracing::info!(
                message_id,
                store_id = %job.store_id,
                order_id = %job.order_id,
                topic = %job.topic,
                "sync job received (syncing to Xero is not built yet)"
            ),
            Some(Err(e)) => {
                tracing::error!(message_id, error = %crate::error::chain(&e), "unreadable sync job acknowledged")
            }
            None => tracing::error!(message_id, "sync record without a body acknowledged"),
        }
    }
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failures;
    response
}
