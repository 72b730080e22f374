//! `POST /webhooks/{store_id}`.

use std::sync::Arc;

use lambda_http::{Body, Request, Response};

use super::{json_response, path_param};
use crate::aws::dynamo::DynamoTable;
use crate::aws::s3::S3PayloadStore;
use crate::aws::secrets::SecretsManagerVault;
use crate::aws::sqs::SqsJobQueue;
use crate::aws::AwsClients;
use crate::clock::SystemClock;
use crate::config::IngestConfig;
use crate::ingest::{Accepted, Delivery, IngestDeps, Rejected};
use crate::secrets::CachedWebhookSecrets;

/// Wires the ingest use case to the real AWS adapters.
pub fn ingest_deps(clients: &AwsClients, config: &IngestConfig) -> IngestDeps {
    let r = &config.resources;
    let table = Arc::new(DynamoTable::new(clients.dynamodb.clone(), &r.table));
    let vault = Arc::new(SecretsManagerVault::new(clients.secrets.clone(), &r.store_secret_prefix));
    IngestDeps {
        stores: table.clone(),
        secrets: Arc::new(CachedWebhookSecrets::new(vault, config.settings.secret_cache_ttl)),
        dedupe: table,
        queue: Arc::new(SqsJobQueue::new(clients.sqs.clone(), &r.sync_queue_url)),
        payloads: Arc::new(S3PayloadStore::new(clients.s3.clone(), &r.payload_bucket)),
        clock: Arc::new(SystemClock),
        settings: config.settings.clone(),
    }
}

/// The webhook-ingest Lambda handler. Never returns `Err`: every outcome is a response.
pub async fn handle_webhook(deps: &IngestDeps, req: Request) -> Result<Response<Body>, std::convert::Infallible> {
    if req.method() != http::Method::POST {
        return Ok(json_response(405, serde_json::json!({"error": "method_not_allowed", "message": "use POST"})));
    }
    let store = path_param(&req, "store_id", "/webhooks/").unwrap_or_default();
    // lambda_http has already base64-decoded the body when the event had isBase64Encoded.
    let body: &[u8] = req.body().as_ref();
    let delivery = Delivery { store: &store, headers: req.headers(), body };
    Ok(match deps.handle(delivery).await {
        Ok(accepted) => json_response(accepted.status(), accepted_body(&accepted)),
        Err(rejected) => json_response(rejected.status(), rejected_body(&rejected)),
    })
}

fn accepted_body(a: &Accepted) -> serde_json::Value {
    match a {
        Accepted::IgnoredTopic(topic) => serde_json::json!({"outcome": a.code(), "topic": topic}),
        _ => serde_json::json!({"outcome": a.code()}),
    }
}

fn rejected_body(r: &Rejected) -> serde_json::Value {
    // Our own failures are described in logs, not to the caller.
    let message = match r {
        Rejected::Unavailable { .. } => "the delivery could not be stored; please re-send it".to_owned(),
        other => crate::error::chain(other),
    };
    serde_json::json!({"error": r.code(), "message": message})
}
