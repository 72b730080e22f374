//! Ports: the narrow traits the use cases depend on. Each has an AWS adapter (`crate::aws`) and an
//! in-memory fake (`crate::memory`, feature `test-util`).

use std::time::Duration;

use async_trait::async_trait;
use secrecy::SecretString;

use crate::error::StorageError;
use crate::ids::StoreId;
use crate::job::{BodyRef, SyncJob};
use crate::store::{ConnectionStatus, Store, StoreStatus};

#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("already exists")]
    AlreadyExists,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

#[async_trait]
pub trait StoreRepo: Send + Sync {
    async fn get(&self, id: &StoreId) -> Result<Option<Store>, StorageError>;
    /// Creates the store; fails with `AlreadyExists` rather than overwriting.
    async fn create(&self, store: &Store) -> Result<(), CreateError>;
    async fn list(&self) -> Result<Vec<Store>, StorageError>;
    /// Returns false when the store does not exist.
    async fn set_status(&self, id: &StoreId, status: StoreStatus) -> Result<bool, StorageError>;
    /// Records the store's link to Xero. Returns false when the store does not exist.
    async fn set_connection(&self, id: &StoreId, update: &ConnectionUpdate) -> Result<bool, StorageError>;
}

/// A change to a store's Xero link. `tenant: None` keeps the tenant fields as they are, except
/// when the status is `Disconnected`, which clears them.
#[derive(Debug, Clone)]
pub struct ConnectionUpdate {
    pub status: ConnectionStatus,
    pub tenant: Option<TenantLink>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantLink {
    pub tenant_id: String,
    pub tenant_name: Option<String>,
    pub connection_id: String,
    pub connected_at: time::OffsetDateTime,
}

impl ConnectionUpdate {
    pub fn status_only(status: ConnectionStatus) -> Self {
        ConnectionUpdate { status, tenant: None }
    }
}

/// A distributed lease (one holder at a time; it expires by itself if the holder dies).
#[async_trait]
pub trait LeaseLock: Send + Sync {
    async fn try_acquire(&self, name: &str, holder: &str, ttl: Duration) -> Result<bool, StorageError>;
    /// Releases only if `holder` still holds it.
    async fn release(&self, name: &str, holder: &str) -> Result<(), StorageError>;
}

/// Single-use, expiring records: connect links and OAuth states.
#[async_trait]
pub trait OneTimeTokens: Send + Sync {
    async fn put(&self, key: &str, value: &serde_json::Value, ttl: Duration) -> Result<(), StorageError>;
    /// Atomically removes the record and returns its value, if it exists and has not expired.
    async fn consume(&self, key: &str) -> Result<Option<serde_json::Value>, StorageError>;
}

/// The store's webhook secret, kept in the store's own secret (which later also holds its Xero
/// tokens and WooCommerce REST keys).
#[async_trait]
pub trait WebhookSecrets: Send + Sync {
    async fn webhook_secret(&self, id: &StoreId) -> Result<Option<SecretString>, StorageError>;
}

/// The store's secret document as a whole, for the CLI and the token vault.
#[async_trait]
pub trait StoreSecretVault: WebhookSecrets {
    async fn create_store_secret(&self, id: &StoreId, webhook_secret: &SecretString) -> Result<(), CreateError>;
    async fn set_webhook_secret(&self, id: &StoreId, webhook_secret: &SecretString) -> Result<(), StorageError>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// First sighting: go ahead.
    New,
    /// Seen within the window: do nothing.
    Duplicate,
}

/// Remembers keys for a while; `claim` is atomic across concurrent callers.
#[async_trait]
pub trait Dedupe: Send + Sync {
    async fn claim(&self, key: &str, ttl: Duration) -> Result<Claim, StorageError>;
    /// Forgets a claim whose work failed, so a re-delivery is not mistaken for a duplicate.
    async fn release(&self, key: &str) -> Result<(), StorageError>;
}

#[async_trait]
pub trait JobQueue: Send + Sync {
    /// Returns the queue's message id.
    async fn send(&self, job: &SyncJob) -> Result<String, StorageError>;
}

/// Holds webhook bodies too big to travel inside a queue message (claim check).
#[async_trait]
pub trait PayloadStore: Send + Sync {
    async fn put(&self, key: &str, body: &[u8]) -> Result<BodyRef, StorageError>;
    async fn get(&self, body_ref: &BodyRef) -> Result<Vec<u8>, StorageError>;
}
