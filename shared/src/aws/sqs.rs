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
