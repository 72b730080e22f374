//! In-memory fakes of every port, for unit tests here and handler tests in the tests crate.
//! Each can be told to fail its next calls transiently, to exercise the retry and 503 paths.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use secrecy::SecretString;
use tokio::time::Instant;

use crate::error::StorageError;
use crate::ids::StoreId;
use crate::job::{BodyRef, SyncJob};
use crate::ports::{
    Claim, ConnectionUpdate, CreateError, Dedupe, JobQueue, LeaseLock, OneTimeTokens, PayloadStore, StoreRepo,
    StoreSecretVault, WebhookSecrets,
};
use crate::store::{Store, StoreStatus};

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Makes the next N calls fail with a transient error.
#[derive(Debug, Default)]
pub struct Faults(AtomicU32);

impl Faults {
    pub fn fail_next(&self, n: u32) {
        self.0.store(n, Ordering::SeqCst);
    }
    fn check(&self, op: &'static str) -> Result<(), StorageError> {
        let hit = self.0.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
        if hit {
            Err(StorageError::transient(op, "injected fault"))
        } else {
            Ok(())
        }
    }
}

#[derive(Default)]
pub struct MemoryStores {
    stores: Mutex<HashMap<StoreId, Store>>,
    pub faults: Faults,
}

impl MemoryStores {
    pub fn with(stores: impl IntoIterator<Item = Store>) -> Self {
        let s = MemoryStores::default();
        lock(&s.stores).extend(stores.into_iter().map(|st| (st.id.clone(), st)));
        s
    }
}

#[async_trait]
impl StoreRepo for MemoryStores {
    async fn get(&self, id: &StoreId) -> Result<Option<Store>, StorageError> {
        self.faults.check("stores.get")?;
        Ok(lock(&self.stores).get(id).cloned())
    }
    async fn create(&self, store: &Store) -> Result<(), CreateError> {
        self.faults.check("stores.create")?;
        let mut map = lock(&self.stores);
        if map.contains_key(&store.id) {
            return Err(CreateError::AlreadyExists);
        }
        map.insert(store.id.clone(), store.clone());
        Ok(())
    }
    async fn list(&self) -> Result<Vec<Store>, StorageError> {
        self.faults.check("stores.list")?;
        let mut all: Vec<Store> = lock(&self.stores).values().cloned().collect();
        all.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(all)
    }
    async fn set_status(&self, id: &StoreId, status: StoreStatus) -> Result<bool, StorageError> {
        self.faults.check("stores.set_status")?;
        Ok(lock(&self.stores).get_mut(id).map(|s| s.status = status).is_some())
    }
    async fn set_connection(&self, id: &StoreId, update: &ConnectionUpdate) -> Result<bool, StorageError> {
        self.faults.check("stores.set_connection")?;
        Ok(lock(&self.stores).get_mut(id).map(|s| s.apply(update)).is_some())
    }
}

#[derive(Default)]
pub struct MemoryLeases {
    leases: Mutex<HashMap<String, (String, Instant)>>,
}

#[async_trait]
impl LeaseLock for MemoryLeases {
    async fn try_acquire(&self, name: &str, holder: &str, ttl: Duration) -> Result<bool, StorageError> {
        let mut map = lock(&self.leases);
        let now = Instant::now();
        match map.get(name) {
            Some((_, until)) if *until > now => Ok(false),
            _ => {
                map.insert(name.to_owned(), (holder.to_owned(), now + ttl));
                Ok(true)
            }
        }
    }
    async fn release(&self, name: &str, holder: &str) -> Result<(), StorageError> {
        let mut map = lock(&self.leases);
        if map.get(name).is_some_and(|(h, _)| h == holder) {
            map.remove(name);
        }
        Ok(())
    }
}

#[derive(Default)]
pub struct MemoryOneTime {
    records: Mutex<HashMap<String, (serde_json::Value, Instant)>>,
}

#[async_trait]
impl OneTimeTokens for MemoryOneTime {
    async fn put(&self, key: &str, value: &serde_json::Value, ttl: Duration) -> Result<(), StorageError> {
        lock(&self.records).insert(key.to_owned(), (value.clone(), Instant::now() + ttl));
        Ok(())
    }
    async fn consume(&self, key: &str) -> Result<Option<serde_json::Value>, StorageError> {
        Ok(lock(&self.records).remove(key).filter(|(_, until)| *until > Instant::now()).map(|(v, _)| v))
    }
}

#[derive(Default)]
pub struct MemorySecrets {
    secrets: Mutex<HashMap<StoreId, String>>,
    reads: AtomicUsize,
    pub faults: Faults,
}

impl MemorySecrets {
    pub fn put(&self, id: &StoreId, secret: &str) {
        lock(&self.secrets).insert(id.clone(), secret.to_owned());
    }
    pub fn reads(&self) -> usize {
        self.reads.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl WebhookSecrets for MemorySecrets {
    async fn webhook_secret(&self, id: &StoreId) -> Result<Option<SecretString>, StorageError> {
        self.faults.check("secrets.get")?;
        self.reads.fetch_add(1, Ordering::SeqCst);
        Ok(lock(&self.secrets).get(id).map(|s| SecretString::from(s.clone())))
    }
}

#[async_trait]
impl StoreSecretVault for MemorySecrets {
    async fn create_store_secret(&self, id: &StoreId, webhook_secret: &SecretString) -> Result<(), CreateError> {
        use secrecy::ExposeSecret;
        let mut map = lock(&self.secrets);
        if map.contains_key(id) {
            return Err(CreateError::AlreadyExists);
        }
        map.insert(id.clone(), webhook_secret.expose_secret().to_owned());
        Ok(())
    }
    async fn set_webhook_secret(&self, id: &StoreId, webhook_secret: &SecretString) -> Result<(), StorageError> {
        use secrecy::ExposeSecret;
        self.put(id, webhook_secret.expose_secret());
        Ok(())
    }
}

#[derive(Default)]
pub struct MemoryDedupe {
    claims: Mutex<HashMap<String, Instant>>,
    pub faults: Faults,
}

#[async_trait]
impl Dedupe for MemoryDedupe {
    async fn claim(&self, key: &str, ttl: Duration) -> Result<Claim, StorageError> {
        self.faults.check("dedupe.claim")?;
        let mut map = lock(&self.claims);
        let now = Instant::now();
        match map.get(key) {
            Some(expires) if *expires > now => Ok(Claim::Duplicate),
            _ => {
                map.insert(key.to_owned(), now + ttl);
                Ok(Claim::New)
            }
        }
    }
    async fn release(&self, key: &str) -> Result<(), StorageError> {
        lock(&self.claims).remove(key);
        Ok(())
    }
}

#[derive(Default)]
pub struct MemoryQueue {
    jobs: Mutex<Vec<SyncJob>>,
    pub faults: Faults,
}

impl MemoryQueue {
    pub fn jobs(&self) -> Vec<SyncJob> {
        lock(&self.jobs).clone()
    }
}

#[async_trait]
impl JobQueue for MemoryQueue {
    async fn send(&self, job: &SyncJob) -> Result<String, StorageError> {
        self.faults.check("queue.send")?;
        let mut jobs = lock(&self.jobs);
        jobs.push(job.clone());
        Ok(format!("mem-{}", jobs.len()))
    }
}

#[derive(Default)]
pub struct MemoryPayloads {
    objects: Mutex<HashMap<String, Vec<u8>>>,
    pub faults: Faults,
}

#[async_trait]
impl PayloadStore for MemoryPayloads {
    async fn put(&self, key: &str, body: &[u8]) -> Result<BodyRef, StorageError> {
        self.faults.check("payloads.put")?;
        lock(&self.objects).insert(key.to_owned(), body.to_vec());
        Ok(BodyRef {
            bucket: "memory".into(),
            key: key.to_owned(),
            size: body.len(),
            sha256: crate::woo::webhook::sha256_hex(body),
        })
    }
    async fn get(&self, body_ref: &BodyRef) -> Result<Vec<u8>, StorageError> {
        self.faults.check("payloads.get")?;
        lock(&self.objects)
            .get(&body_ref.key)
            .cloned()
            .ok_or_else(|| StorageError::permanent("payloads.get", format!("no object {}", body_ref.key)))
    }
}
