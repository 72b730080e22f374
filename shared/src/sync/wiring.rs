//! xero-sync on the real adapters.

use std::sync::Arc;

use crate::aws::dynamo::DynamoTable;
use crate::aws::s3::S3PayloadStore;
use crate::aws::secrets::SecretsManagerVault;
use crate::aws::sqs::SqsJobQueue;
use crate::aws::woo::HttpWooApi;
use crate::aws::AwsClients;
use crate::clock::SystemClock;
use crate::config::SyncConfig;
use crate::error::BoxError;
use crate::xero::api::HttpXeroAccounting;

use super::engine::SyncDeps;

pub fn sync_deps(clients: &AwsClients, config: &SyncConfig) -> Result<(SyncDeps, SqsJobQueue), BoxError> {
    let r = &config.resources;
    let table = Arc::new(DynamoTable::new(clients.dynamodb.clone(), &r.table));
    let vault = Arc::new(SecretsManagerVault::new(clients.secrets.clone(), &r.store_secret_prefix));
    let identity = Arc::new(crate::xero::identity_from_config(clients, &config.xero)?);
    let deps = SyncDeps {
        stores: table.clone(),
        states: table.clone(),
        cache: table.clone(),
        mappings: table,
        payloads: Arc::new(S3PayloadStore::new(clients.s3.clone(), &r.payload_bucket)),
        tokens: crate::xero::token_provider(clients, r, identity),
        xero: Arc::new(HttpXeroAccounting::new(config.xero.endpoints.accounting_url())?),
        woo: Arc::new(HttpWooApi::new()?),
        woo_keys: vault,
        clock: Arc::new(SystemClock),
    };
    Ok((deps, SqsJobQueue::new(clients.sqs.clone(), &r.sync_queue_url)))
}
