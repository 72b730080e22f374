//! Plays Lambda's SQS event source mapping locally, where nothing polls SQS: receive up to
//! `BatchSize` records within `MaximumBatchingWindowInSeconds`, invoke xero-sync with a real SQS
//! event, delete the records that succeeded, and leave those in `batchItemFailures` to reappear
//! after the visibility timeout (moto moves them to the DLQ after `maxReceiveCount`).

use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use aws_lambda_events::event::sqs::SqsBatchResponse;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};

use crate::template::{as_u64, Template};

#[derive(Debug, Clone, Copy)]
pub struct BatchSettings {
    pub batch_size: usize,
    pub window: Duration,
}

impl BatchSettings {
    /// The SQS event's settings in `template.yaml`.
    pub fn from_template() -> anyhow::Result<Self> {
        let t = Template::load()?;
        let event = t.sqs_event()?;
        Ok(BatchSettings {
            batch_size: as_u64(event.get("BatchSize")).unwrap_or(10) as usize,
            window: Duration::from_secs(as_u64(event.get("MaximumBatchingWindowInSeconds")).unwrap_or(0)),
        })
    }
}

/// Something that runs xero-sync on an SQS event.
#[async_trait]
pub trait Invoker: Send + Sync {
    async fn invoke(&self, event: serde_json::Value) -> anyhow::Result<SqsBatchResponse>;
}

/// Invokes a function served by `cargo lambda watch` (Lambda's Invoke API on loopback).
pub struct HttpInvoker {
    pub url: String,
    pub client: reqwest::Client,
}

impl HttpInvoker {
    pub fn watch(base: &str, function: &str) -> Self {
        HttpInvoker {
            url: format!("{}/2015-03-31/functions/{function}/invocations", base.trim_end_matches('/')),
            client: reqwest::Client::new(),
        }
    }
}

#[async_trait]
impl Invoker for HttpInvoker {
    async fn invoke(&self, event: serde_json::Value) -> anyhow::Result<SqsBatchResponse> {
        let resp = self.client.post(&self.url).json(&event).timeout(Duration::from_secs(120)).send().await?;
        let status = resp.status();
        let text = resp.text().await?;
        if !status.is_success() {
            anyhow::bail!("invocation failed with {status}: {text}");
        }
        // An empty or null response means full success, as in Lambda.
        if text.trim().is_empty() || text.trim() == "null" {
            return Ok(SqsBatchResponse::default());
        }
        serde_json::from_str(&text)
            .with_context(|| format!("the function's response is not an SQS batch response: {text}"))
    }
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BatchOutcome {
    pub received: usize,
    pub deleted: usize,
    pub failed: usize,
    /// The whole batch was left on the queue (invocation error, or an invalid item id).
    pub whole_batch_failed: bool,
}

pub struct Poller<'a> {
    pub sqs: aws_sdk_sqs::Client,
    pub queue_url: String,
    pub queue_arn: String,
    pub settings: BatchSettings,
    pub invoker: &'a dyn Invoker,
}

impl Poller<'_> {
    /// Gathers one batch (up to the batch size, within the window) and hands it to the function.
    /// Returns None when the queue had nothing.
    pub async fn run_once(&self) -> anyhow::Result<Option<BatchOutcome>> {
        let deadline = tokio::time::Instant::now() + self.settings.window;
        let mut messages = Vec::new();
        loop {
            let want = (self.settings.batch_size - messages.len()).min(10) as i32;
            let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
            // The first receive long-polls at least a second; later ones only fill the window.
            let wait = if messages.is_empty() { remaining.as_secs().clamp(1, 20) } else { remaining.as_secs().min(20) };
            let out = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(want)
                .wait_time_seconds(wait as i32)
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .send()
                .await
                .context("receiving from the sync queue")?;
            messages.extend(out.messages.unwrap_or_default());
            let window_left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if messages.len() >= self.settings.batch_size || window_left < Duration::from_secs(1) {
                break;
            }
        }
        if messages.is_empty() {
            return Ok(None);
        }
        let records: Vec<serde_json::Value> = messages
            .iter()
            .map(|m| {
                let attributes: serde_json::Map<String, serde_json::Value> = m
                    .attributes()
                    .map(|a| {
                        a.iter().map(|(k, v)| (k.as_str().to_owned(), serde_json::Value::String(v.clone()))).collect()
                    })
                    .unwrap_or_default();
                serde_json::json!({
                    "messageId": m.message_id(),
                    "receiptHandle": m.receipt_handle(),
                    "body": m.body(),
                    "attributes": attributes,
                    "messageAttributes": {},
                    "md5OfBody": m.md5_of_body(),
                    "eventSource": "aws:sqs",
                    "eventSourceARN": self.queue_arn,
                    "awsRegion": crate::env::REGION,
                })
            })
            .collect();
        let event = serde_json::json!({ "Records": records });
        let mut outcome = BatchOutcome { received: messages.len(), ..Default::default() };
        let failed_ids: Vec<String> = match self.invoker.invoke(event).await {
            Ok(resp) => {
                let ids: Vec<String> = resp.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect();
                let known = |id: &String| messages.iter().any(|m| m.message_id() == Some(id.as_str()));
                if ids.iter().any(|id| id.is_empty() || !known(id)) {
                    // Lambda retries the whole batch when an item id is empty or unknown.
                    outcome.whole_batch_failed = true;
                    messages.iter().filter_map(|m| m.message_id().map(str::to_owned)).collect()
                } else {
                    ids
                }
            }
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "invocation failed; the whole batch returns after the visibility timeout");
                outcome.whole_batch_failed = true;
                messages.iter().filter_map(|m| m.message_id().map(str::to_owned)).collect()
            }
        };
        let to_delete: Vec<DeleteMessageBatchRequestEntry> = messages
            .iter()
            .filter(|m| !failed_ids.iter().any(|id| Some(id.as_str()) == m.message_id()))
            .enumerate()
            .filter_map(|(i, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(format!("m{i}"))
                    .receipt_handle(m.receipt_handle()?)
                    .build()
                    .ok()
            })
            .collect();
        outcome.failed = messages.len() - to_delete.len();
        outcome.deleted = to_delete.len();
        for chunk in to_delete.chunks(10) {
            self.sqs
                .delete_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(chunk.to_vec()))
                .send()
                .await
                .context("deleting processed records")?;
        }
        Ok(Some(outcome))
    }
}
