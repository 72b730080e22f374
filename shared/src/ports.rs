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

/// Where an order stands in Xero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncStatus {
    /// The invoice exists and matches the newest order handled.
    Synced,
    /// A create was started; a retry must look for the invoice before creating it.
    Creating,
    /// Permanently failed (validation, mapping); waits for `wooxero retry`.
    Failed,
    /// Not (yet) something to invoice: a status outside the triggers, a draft.
    Skipped,
    /// Kept aside while the store is paused or must reconnect; re-queued on resume/connect.
    Parked,
}

impl SyncStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncStatus::Synced => "synced",
            SyncStatus::Creating => "creating",
            SyncStatus::Failed => "failed",
            SyncStatus::Skipped => "skipped",
            SyncStatus::Parked => "parked",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [SyncStatus::Synced, SyncStatus::Creating, SyncStatus::Failed, SyncStatus::Skipped, SyncStatus::Parked]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// The per-order record: what was synced, the Xero documents, the last error.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OrderState {
    pub store_id: StoreId,
    pub order_id: crate::ids::OrderId,
    pub status: SyncStatus,
    /// `date_modified_gmt` of the newest order version handled.
    pub modified_gmt: Option<String>,
    pub order_status: Option<String>,
    pub invoice_id: Option<String>,
    pub invoice_number: Option<String>,
    pub total: Option<String>,
    pub last_error: Option<String>,
    pub attempts: u32,
    pub xero_calls: u32,
    /// The job kept for later: while parked, or after a permanent failure (for `wooxero retry`).
    pub pending_job: Option<String>,
    pub events: Vec<String>,
    /// Fingerprint of the invoice content last sent (to tell an edit from a no-op).
    #[serde(default)]
    pub invoice_hash: Option<String>,
    #[serde(default)]
    pub payment: Option<DocRef>,
    /// A payment write was started; a retry checks Xero before paying again.
    #[serde(default)]
    pub payment_pending: bool,
    #[serde(default)]
    pub credit_notes: Vec<CreditNoteState>,
    /// `voided`, `deleted` or `credited` once a cancellation was carried out.
    #[serde(default)]
    pub cancelled: Option<String>,
    #[serde(default)]
    pub quote: Option<QuoteState>,
    /// Keys of History notes already added (one per changed order version).
    #[serde(default)]
    pub history_notes: Vec<String>,
    pub updated_at: String,
    /// Optimistic-concurrency counter: every write expects the revision it read.
    pub rev: u64,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DocRef {
    pub id: String,
    pub amount: String,
}

/// One WooCommerce refund (or the cancellation of a paid order, `refund_id` 0) as a credit note.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CreditNoteState {
    pub refund_id: u64,
    pub number: String,
    pub amount: String,
    pub id: Option<String>,
    /// `allocated`, `refunded` (cash) or `open`; None until settled.
    pub settled: Option<String>,
    /// The refund is gone from WooCommerce (the credit note is kept and reported).
    #[serde(default)]
    pub deleted_in_woo: bool,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct QuoteState {
    pub id: Option<String>,
    pub number: String,
    pub status: String,
    pub hash: Option<String>,
}

impl OrderState {
    pub fn new(store_id: StoreId, order_id: crate::ids::OrderId) -> Self {
        OrderState {
            store_id,
            order_id,
            status: SyncStatus::Skipped,
            modified_gmt: None,
            order_status: None,
            invoice_id: None,
            invoice_number: None,
            total: None,
            last_error: None,
            attempts: 0,
            xero_calls: 0,
            pending_job: None,
            events: Vec::new(),
            invoice_hash: None,
            payment: None,
            payment_pending: false,
            credit_notes: Vec::new(),
            cancelled: None,
            quote: None,
            history_notes: Vec::new(),
            updated_at: String::new(),
            rev: 0,
        }
    }
}

#[async_trait]
pub trait OrderStateRepo: Send + Sync {
    async fn get(&self, store: &StoreId, order: crate::ids::OrderId) -> Result<Option<OrderState>, StorageError>;
    /// Writes `state` if the stored revision is still `state.rev` (0 = absent); returns false on
    /// a conflicting write. The stored revision becomes `state.rev + 1`.
    async fn put(&self, state: &OrderState) -> Result<bool, StorageError>;
    async fn list_by_status(&self, store: &StoreId, status: SyncStatus) -> Result<Vec<OrderState>, StorageError>;
}

/// Xero ids this project already resolved (contacts by email, items by code, tax rates).
#[async_trait]
pub trait LookupCache: Send + Sync {
    async fn get(&self, store: &StoreId, key: &str) -> Result<Option<String>, StorageError>;
    async fn put(&self, store: &StoreId, key: &str, value: &str, ttl: Option<Duration>) -> Result<(), StorageError>;
}

#[async_trait]
pub trait MappingRepo: Send + Sync {
    async fn get(&self, store: &StoreId) -> Result<Option<crate::mapping::Mapping>, StorageError>;
    async fn put(&self, store: &StoreId, mapping: &crate::mapping::Mapping) -> Result<(), StorageError>;
}

/// The sync queue as the consumer sees it.
#[async_trait]
pub trait QueueControl: Send + Sync {
    /// Keeps a received message invisible for `delay` (≤ 12 h), so it comes back then.
    async fn delay(&self, receipt_handle: &str, delay: Duration) -> Result<(), StorageError>;
    /// Sends a job body again (resume, reconnect, retry).
    async fn requeue(&self, job_json: &str) -> Result<(), StorageError> {
        self.requeue_after(job_json, Duration::ZERO).await
    }
    /// Sends a job body again, invisible for `delay` (≤ 15 minutes).
    async fn requeue_after(&self, job_json: &str, delay: Duration) -> Result<(), StorageError>;
}

/// The store's WooCommerce REST keys, when an operator set them.
#[derive(Clone)]
pub struct WooKeys {
    pub consumer_key: String,
    pub consumer_secret: SecretString,
}

#[async_trait]
pub trait WooKeyVault: Send + Sync {
    async fn woo_keys(&self, store: &StoreId) -> Result<Option<WooKeys>, StorageError>;
    async fn set_woo_keys(&self, store: &StoreId, keys: &WooKeys) -> Result<(), StorageError>;
}

#[derive(Debug, thiserror::Error)]
pub enum WooFetchError {
    #[error("WooCommerce did not answer usefully")]
    Transient(#[source] crate::error::BoxError),
    #[error("WooCommerce refused the REST keys ({0})")]
    Unauthorized(u16),
}

/// WooCommerce's REST API: the current order, when the webhook body may be stale.
#[async_trait]
pub trait WooApi: Send + Sync {
    /// The order's JSON, or None when WooCommerce no longer has it (404).
    async fn order(&self, site_url: &url::Url, keys: &WooKeys, order_id: u64)
        -> Result<Option<Vec<u8>>, WooFetchError>;
    /// `GET /orders/{id}/refunds`: the refunds with their lines.
    async fn refunds(&self, site_url: &url::Url, keys: &WooKeys, order_id: u64) -> Result<Vec<u8>, WooFetchError>;
}
