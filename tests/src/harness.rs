//! One fresh local stack per test (unique resource names in the shared moto), with a store
//! registered, and helpers to drive the real webhook handler with API Gateway events.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName;
use secrecy::SecretString;
use wooxero_shared::aws::dynamo::DynamoTable;
use wooxero_shared::aws::secrets::SecretsManagerVault;
use wooxero_shared::aws::AwsClients;
use wooxero_shared::clock::{Clock, SystemClock};
use wooxero_shared::config::{IngestConfig, IngestSettings};
use wooxero_shared::ids::StoreId;
use wooxero_shared::ingest::IngestDeps;
use wooxero_shared::job::SyncJob;
use wooxero_shared::ports::{StoreRepo, StoreSecretVault};
use wooxero_shared::store::Store;

use crate::provision::{provision, LocalStack, ProvisionOptions};
use crate::woo_delivery;

pub const STORE: &str = "shop-1";
pub const SECRET: &str = "testSecretABCDEFGHIJ0123456789";

pub struct TestStack {
    pub stack: LocalStack,
    pub clients: AwsClients,
    pub table: DynamoTable,
    pub vault: Arc<SecretsManagerVault>,
    pub ingest: IngestDeps,
}

impl TestStack {
    pub async fn new(settings: IngestSettings) -> anyhow::Result<Self> {
        Self::with_options(settings, None).await
    }

    pub async fn with_options(settings: IngestSettings, visibility_timeout: Option<Duration>) -> anyhow::Result<Self> {
        Self::with_site(settings, visibility_timeout, "https://shop.example").await
    }

    pub async fn with_site(
        settings: IngestSettings,
        visibility_timeout: Option<Duration>,
        site_url: &str,
    ) -> anyhow::Result<Self> {
        let sdk = crate::env::sdk_config().await?;
        let prefix = format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let stack =
            provision(&sdk, &ProvisionOptions { prefix, visibility_timeout_override: visibility_timeout }).await?;
        let clients = AwsClients::new(&sdk, &stack.names);
        let table = DynamoTable::new(clients.dynamodb.clone(), &stack.names.table);
        let vault = Arc::new(SecretsManagerVault::new(clients.secrets.clone(), &stack.names.store_secret_prefix));
        let id = StoreId::parse(STORE)?;
        vault.create_store_secret(&id, &SecretString::from(SECRET)).await?;
        table.create(&Store::new(id, site_url.parse()?, SystemClock.now())).await?;
        let config = IngestConfig { resources: stack.names.clone(), settings };
        let ingest = wooxero_shared::http::webhook::ingest_deps(&clients, &config);
        Ok(TestStack { stack, clients, table, vault, ingest })
    }

    /// Runs the real Lambda handler on an API Gateway HTTP API event.
    pub async fn post(
        &self,
        store: &str,
        headers: &[(String, String)],
        body: &[u8],
        base64: bool,
    ) -> (u16, serde_json::Value) {
        let event = api_event(store, headers, body, base64);
        let req = lambda_http::request::from_str(&event.to_string()).expect("a valid API Gateway event");
        let resp =
            wooxero_shared::http::webhook::handle_webhook(&self.ingest, req).await.unwrap_or_else(|e| match e {});
        let status = resp.status().as_u16();
        let body: serde_json::Value = serde_json::from_slice(resp.body().as_ref()).unwrap_or(serde_json::Value::Null);
        (status, body)
    }

    pub async fn post_signed(&self, topic: &str, body: &str) -> (u16, serde_json::Value) {
        let headers = woo_delivery::headers(topic, body.as_bytes(), SECRET, 7);
        self.post(STORE, &headers, body.as_bytes(), false).await
    }

    /// Every job on the sync queue (received and deleted).
    pub async fn drain_jobs(&self) -> Vec<SyncJob> {
        let mut jobs = Vec::new();
        loop {
            let out = self
                .clients
                .sqs
                .receive_message()
                .queue_url(&self.stack.names.sync_queue_url)
                .max_number_of_messages(10)
                .send()
                .await
                .expect("receive from moto");
            let messages = out.messages.unwrap_or_default();
            if messages.is_empty() {
                return jobs;
            }
            for m in messages {
                jobs.push(SyncJob::parse(m.body().unwrap_or_default()).expect("a valid job"));
                self.clients
                    .sqs
                    .delete_message()
                    .queue_url(&self.stack.names.sync_queue_url)
                    .receipt_handle(m.receipt_handle().unwrap_or_default())
                    .send()
                    .await
                    .expect("delete from moto");
            }
        }
    }

    pub async fn queue_depth(&self, url: &str) -> u64 {
        let out = self
            .clients
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
            .send()
            .await
            .expect("queue attributes");
        let attrs = out.attributes.unwrap_or_default();
        [
            QueueAttributeName::ApproximateNumberOfMessages,
            QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
            QueueAttributeName::ApproximateNumberOfMessagesDelayed,
        ]
        .iter()
        .filter_map(|k| attrs.get(k).and_then(|v| v.parse::<u64>().ok()))
        .sum()
    }
}

/// An API Gateway HTTP API (payload v2) event for `POST /webhooks/{store_id}`.
pub fn api_event(store: &str, headers: &[(String, String)], body: &[u8], base64: bool) -> serde_json::Value {
    use base64::Engine;
    let path = format!("/webhooks/{store}");
    let headers: serde_json::Map<String, serde_json::Value> =
        headers.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect();
    serde_json::json!({
        "version": "2.0",
        "routeKey": "POST /webhooks/{store_id}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012", "apiId": "test", "domainName": "test.local", "domainPrefix": "test",
            "http": {"method": "POST", "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "WooCommerce"},
            "requestId": "r", "routeKey": "POST /webhooks/{store_id}", "stage": "$default", "time": "27/Nov/2026:09:14:05 +0000",
            "timeEpoch": 1795770845000u64
        },
        "pathParameters": {"store_id": store},
        "body": if base64 { base64::engine::general_purpose::STANDARD.encode(body) } else { String::from_utf8_lossy(body).into_owned() },
        "isBase64Encoded": base64,
    })
}
