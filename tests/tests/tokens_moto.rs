//! The token provider under concurrency, against moto (lease and secret) and the fake identity
//! service (rotation with a 30-minute grace).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use secrecy::ExposeSecret;
use wooxero_shared::error::StorageError;
use wooxero_shared::ids::StoreId;
use wooxero_shared::ports::{LeaseLock, StoreRepo};
use wooxero_shared::store::ConnectionStatus;
use wooxero_shared::xero::tokens::{TokenError, TokenProvider, TokenSettings, XeroTokenSet, XeroTokenVault};
use wooxero_tests::connect_harness::ConnectStack;
use wooxero_tests::fake_identity::FakeIdentityConfig;
use wooxero_tests::harness::STORE;

fn store_id() -> StoreId {
    StoreId::parse(STORE).unwrap()
}

fn settings() -> TokenSettings {
    TokenSettings {
        lease_ttl: Duration::from_secs(3),
        wait_step: Duration::from_millis(100),
        ..TokenSettings::default()
    }
}

async fn connected(config: FakeIdentityConfig) -> ConnectStack {
    let c = ConnectStack::new(config).await.unwrap();
    assert_eq!(c.connect(STORE).await.0, 200);
    c.expire_access_token(STORE).await;
    c
}

async fn twenty_concurrent(provider: &TokenProvider) -> Vec<Result<String, TokenError>> {
    let id = store_id();
    futures::future::join_all(
        (0..20).map(|_| async { provider.access_token(&id).await.map(|t| t.token.expose_secret().to_owned()) }),
    )
    .await
}

#[tokio::test]
async fn twenty_concurrent_callers_cause_exactly_one_refresh() {
    // A slow token endpoint widens the race window.
    let c = connected(FakeIdentityConfig { token_delay: Duration::from_millis(400), ..Default::default() }).await;
    let before = c.vault.load_tokens(&store_id()).await.unwrap().unwrap();
    let refreshes_before = c.fake.refresh_count();
    let results = twenty_concurrent(&c.provider(settings())).await;
    let tokens: Vec<String> = results.into_iter().map(|r| r.expect("every caller gets a token")).collect();
    assert_eq!(c.fake.refresh_count() - refreshes_before, 1, "exactly one refresh reached the token endpoint");
    assert!(tokens.iter().all(|t| *t == tokens[0]), "all 20 got the same token");
    let after = c.vault.load_tokens(&store_id()).await.unwrap().unwrap();
    assert_eq!(after.version, before.version + 1, "the secret's version went up by exactly one");
    assert_eq!(after.access_token.expose_secret(), tokens[0]);
    assert_ne!(after.refresh_token.expose_secret(), before.refresh_token.expose_secret(), "the refresh token rotated");
    // The new token is valid at Xero.
    let conns = c.identity.connections(&after.access_token, None).await.unwrap();
    assert_eq!(conns.len(), 1);
}

/// The vault of a refresher that dies right after Xero answered: it never writes.
struct DiesBeforeWriting(Arc<dyn XeroTokenVault>);

#[async_trait]
impl XeroTokenVault for DiesBeforeWriting {
    async fn load_tokens(&self, store: &StoreId) -> Result<Option<XeroTokenSet>, StorageError> {
        self.0.load_tokens(store).await
    }
    async fn save_tokens(&self, _: &StoreId, _: &XeroTokenSet) -> Result<(), StorageError> {
        Err(StorageError::permanent("crash", "the Lambda died before writing the new token set"))
    }
    async fn clear_tokens(&self, store: &StoreId) -> Result<(), StorageError> {
        self.0.clear_tokens(store).await
    }
}

/// A dead holder releases nothing.
struct NeverReleases(Arc<dyn LeaseLock>);

#[async_trait]
impl LeaseLock for NeverReleases {
    async fn try_acquire(&self, name: &str, holder: &str, ttl: Duration) -> Result<bool, StorageError> {
        self.0.try_acquire(name, holder, ttl).await
    }
    async fn release(&self, _: &str, _: &str) -> Result<(), StorageError> {
        Ok(())
    }
}

#[tokio::test]
async fn a_lease_holder_that_crashes_before_writing_is_recovered_through_the_grace() {
    let c = connected(FakeIdentityConfig::default()).await;
    let before = c.vault.load_tokens(&store_id()).await.unwrap().unwrap();
    let refreshes_before = c.fake.refresh_count();

    let mut crasher = c.provider(settings());
    crasher.vault = Arc::new(DiesBeforeWriting(c.vault.clone()));
    crasher.lease = Arc::new(NeverReleases(c.table()));
    assert!(crasher.access_token(&store_id()).await.is_err(), "the crasher got nothing out");
    assert_eq!(c.fake.refresh_count() - refreshes_before, 1, "Xero rotated the token for the crasher");

    // The others wait for the dead holder's lease to expire, then one of them refreshes with the
    // stored (now superseded) refresh token, which Xero accepts within its grace.
    let started = tokio::time::Instant::now();
    let results = twenty_concurrent(&c.provider(settings())).await;
    let tokens: Vec<String> = results.into_iter().map(|r| r.expect("every caller gets a token")).collect();
    assert!(started.elapsed() >= Duration::from_secs(2), "they waited for the lease to expire");
    assert_eq!(c.fake.refresh_count() - refreshes_before, 2, "one recovery refresh, not twenty");
    assert!(tokens.iter().all(|t| *t == tokens[0]));
    let after = c.vault.load_tokens(&store_id()).await.unwrap().unwrap();
    assert_eq!(after.version, before.version + 1);
}

#[tokio::test]
async fn a_lost_refresh_response_is_retried_with_the_same_token_under_the_grace() {
    let c = connected(FakeIdentityConfig::default()).await;
    c.fake.configure(|cfg| cfg.lose_next_refresh_response = true);
    let before = c.vault.load_tokens(&store_id()).await.unwrap().unwrap();
    let token = c.provider(settings()).access_token(&store_id()).await.expect("recovered");
    let after = c.vault.load_tokens(&store_id()).await.unwrap().unwrap();
    assert_eq!(after.version, before.version + 1);
    assert_eq!(token.token.expose_secret(), after.access_token.expose_secret());
}

#[tokio::test]
async fn a_fresh_token_is_served_without_a_refresh() {
    let c = ConnectStack::new(FakeIdentityConfig::default()).await.unwrap();
    assert_eq!(c.connect(STORE).await.0, 200);
    let refreshes = c.fake.refresh_count();
    let token = c.provider(settings()).access_token(&store_id()).await.unwrap();
    assert_eq!(c.fake.refresh_count(), refreshes);
    assert!(token.tenant_id.is_some());
}

#[tokio::test]
async fn invalid_grant_marks_the_store_for_reconnect_and_a_new_connect_recovers() {
    let c = connected(FakeIdentityConfig::default()).await;
    c.fake.revoke_all();
    let provider = c.provider(settings());
    let err = provider.access_token(&store_id()).await.err().expect("no token after revocation");
    assert!(matches!(err, TokenError::NeedsReconnect(_)), "{err:?}");
    assert!(!err.is_retryable());
    let store = c.t.table.get(&store_id()).await.unwrap().unwrap();
    assert_eq!(store.connection, ConnectionStatus::NeedsReconnect);

    assert_eq!(c.connect(STORE).await.0, 200, "a fresh connect");
    let store = c.t.table.get(&store_id()).await.unwrap().unwrap();
    assert_eq!(store.connection, ConnectionStatus::Connected);
    c.expire_access_token(STORE).await;
    assert!(provider.access_token(&store_id()).await.is_ok(), "tokens refresh again after reconnecting");
}

#[tokio::test]
async fn a_store_that_never_connected_gets_not_connected() {
    let c = ConnectStack::new(FakeIdentityConfig::default()).await.unwrap();
    let err = c.provider(settings()).access_token(&store_id()).await.err().unwrap();
    assert!(matches!(err, TokenError::NotConnected(_)));
}
