use async_trait::async_trait;

use super::classify;
use crate::error::StorageError;
use crate::job::SyncJob;
use crate::ports::JobQueue;

pub struct SqsJobQueue {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsJobQueue {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        SqsJobQueue { client, queue_url: queue_url.into() }
    }
}

#[async_trait]
impl JobQueue for SqsJobQueue {
    async fn send(&self, job: &SyncJob) -> Result<String, StorageError> {
        let out = self
            .client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(job.to_json())
            .send()
            .await
            .map_err(|e| classify("sqs.send_message", e))?;
        Ok(out.message_id.unwrap_or_default())
    }
}

#[async_trait]
impl crate::ports::QueueControl for SqsJobQueue {
    async fn delay(&self, receipt_handle: &str, delay: std::time::Duration) -> Result<(), StorageError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(delay.as_secs().clamp(1, 43_200) as i32)
            .send()
            .await
            .map_err(|e| classify("sqs.change_message_visibility", e))?;
        Ok(())
    }

    async fn requeue_after(&self, job_json: &str, delay: std::time::Duration) -> Result<(), StorageError> {
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(job_json)
            .delay_seconds(delay.as_secs().min(900) as i32)
            .send()
            .await
            .map_err(|e| classify("sqs.send_message", e))?;
        Ok(())
    }
}
