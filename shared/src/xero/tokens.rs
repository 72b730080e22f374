//! The stored Xero token set and the provider that hands out valid access tokens.
//!
//! Xero rotates the refresh token on every refresh, so two Lambdas refreshing at once would
//! leave one of them with a dead token. One refresher per store holds a DynamoDB lease; it
//! re-reads the secret after taking the lease (a peer may have refreshed), refreshes, writes
//! `version + 1` and releases. Others wait briefly and read again. A lease whose holder died
//! expires by itself; the next holder refreshes with the still-stored old refresh token, which
//! Xero accepts within its 30-minute grace. The grace is the recovery path, never the normal one.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use time::OffsetDateTime;
use tracing::{error, info, warn};

use super::identity::{IdentityError, TokenGrant, XeroIdentity};
use crate::clock::{rfc3339, Clock};
use crate::error::StorageError;
use crate::ids::StoreId;
use crate::ports::{ConnectionUpdate, LeaseLock, StoreRepo};
use crate::store::ConnectionStatus;

/// What the store's secret holds under `"xero"`.
#[derive(Clone)]
pub struct XeroTokenSet {
    pub access_token: SecretString,
    pub refresh_token: SecretString,
    /// Unix seconds.
    pub expires_at: i64,
    pub scopes: Vec<String>,
    pub tenant_id: Option<String>,
    pub connection_id: Option<String>,
    pub auth_event_id: Option<String>,
    /// Goes up by one with every write, so a reader can tell a refresh happened.
    pub version: u64,
    pub refreshed_at: String,
}

impl std::fmt::Debug for XeroTokenSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XeroTokenSet")
            .field("expires_at", &self.expires_at)
            .field("tenant_id", &self.tenant_id)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl XeroTokenSet {
    pub fn from_grant(grant: TokenGrant, now: OffsetDateTime, version: u64) -> Self {
        XeroTokenSet {
            auth_event_id: super::identity::auth_event_id(&grant.access_token),
            access_token: grant.access_token,
            refresh_token: grant.refresh_token,
            expires_at: now.unix_timestamp() + grant.expires_in.as_secs() as i64,
            scopes: grant.scopes,
            tenant_id: None,
            connection_id: None,
            version,
            refreshed_at: rfc3339(now),
        }
    }

    /// The set after a refresh: new tokens, same tenant, next version.
    pub fn rotated(&self, grant: TokenGrant, now: OffsetDateTime) -> Self {
        let scopes = if grant.scopes.is_empty() { self.scopes.clone() } else { grant.scopes.clone() };
        XeroTokenSet {
            tenant_id: self.tenant_id.clone(),
            connection_id: self.connection_id.clone(),
            scopes,
            ..XeroTokenSet::from_grant(grant, now, self.version + 1)
        }
    }

    pub fn valid_for(&self, now: OffsetDateTime) -> Duration {
        Duration::from_secs((self.expires_at - now.unix_timestamp()).max(0) as u64)
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "access_token": self.access_token.expose_secret(),
            "refresh_token": self.refresh_token.expose_secret(),
            "expires_at": self.expires_at,
            "scopes": self.scopes,
            "tenant_id": self.tenant_id,
            "connection_id": self.connection_id,
            "auth_event_id": self.auth_event_id,
            "version": self.version,
            "refreshed_at": self.refreshed_at,
        })
    }

    pub fn from_json(v: &serde_json::Value) -> Option<Self> {
        let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_owned);
        Some(XeroTokenSet {
            access_token: SecretString::from(s("access_token")?),
            refresh_token: SecretString::from(s("refresh_token")?),
            expires_at: v.get("expires_at")?.as_i64()?,
            scopes: v
                .get("scopes")
                .and_then(|x| x.as_array())
                .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect())
                .unwrap_or_default(),
            tenant_id: s("tenant_id"),
            connection_id: s("connection_id"),
            auth_event_id: s("auth_event_id"),
            version: v.get("version").and_then(|x| x.as_u64()).unwrap_or(0),
            refreshed_at: s("refreshed_at").unwrap_or_default(),
        })
    }
}

/// The store's Xero token set in its secret.
#[async_trait]
pub trait XeroTokenVault: Send + Sync {
    async fn load_tokens(&self, store: &StoreId) -> Result<Option<XeroTokenSet>, StorageError>;
    async fn save_tokens(&self, store: &StoreId, tokens: &XeroTokenSet) -> Result<(), StorageError>;
    async fn clear_tokens(&self, store: &StoreId) -> Result<(), StorageError>;
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("store {0} is not connected to Xero")]
    NotConnected(StoreId),
    #[error("store {0} must be reconnected to Xero (its grant was revoked or expired)")]
    NeedsReconnect(StoreId),
    #[error("another refresher held the token lease too long")]
    Busy,
    #[error("refreshing the Xero token failed")]
    Identity(#[source] IdentityError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl TokenError {
    pub fn is_retryable(&self) -> bool {
        match self {
            TokenError::Busy => true,
            TokenError::Identity(e) => e.is_retryable(),
            TokenError::Storage(e) => e.is_retryable(),
            TokenError::NotConnected(_) | TokenError::NeedsReconnect(_) => false,
        }
    }
}

#[derive(Debug, Clone)]
pub struct TokenSettings {
    /// A token with less life than this is refreshed first.
    pub min_validity: Duration,
    /// Longer than a token call's timeout, so a live holder never loses its lease.
    pub lease_ttl: Duration,
    pub wait_step: Duration,
    /// How long a caller waits for another refresher before giving up (retryable).
    pub max_wait: Duration,
}

impl Default for TokenSettings {
    fn default() -> Self {
        TokenSettings {
            min_validity: Duration::from_secs(120),
            lease_ttl: Duration::from_secs(30),
            wait_step: Duration::from_millis(150),
            max_wait: Duration::from_secs(40),
        }
    }
}

pub struct TokenProvider {
    pub vault: Arc<dyn XeroTokenVault>,
    pub lease: Arc<dyn LeaseLock>,
    pub identity: Arc<dyn XeroIdentity>,
    pub stores: Arc<dyn StoreRepo>,
    pub clock: Arc<dyn Clock>,
    pub settings: TokenSettings,
}

/// A usable access token and the tenant it is for.
pub struct AccessToken {
    pub token: SecretString,
    pub tenant_id: Option<String>,
    pub version: u64,
}

impl TokenProvider {
    /// An access token valid for at least `min_validity`, refreshing it if needed.
    pub async fn access_token(&self, store: &StoreId) -> Result<AccessToken, TokenError> {
        let lease_name = format!("TOKEN#{store}");
        let holder = uuid::Uuid::new_v4().to_string();
        let deadline = tokio::time::Instant::now() + self.settings.max_wait;
        loop {
            let tokens = self.vault.load_tokens(store).await?.ok_or_else(|| TokenError::NotConnected(store.clone()))?;
            if tokens.valid_for(self.clock.now()) >= self.settings.min_validity {
                return Ok(Self::usable(tokens));
            }
            if self.lease.try_acquire(&lease_name, &holder, self.settings.lease_ttl).await? {
                let result = self.refresh_holding_lease(store).await;
                if let Err(e) = self.lease.release(&lease_name, &holder).await {
                    warn!(store_id = %store, error = %crate::error::chain(&e), "token lease not released; it will expire");
                }
                return result.map(Self::usable);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(TokenError::Busy);
            }
            tokio::time::sleep(self.settings.wait_step).await;
        }
    }

    fn usable(tokens: XeroTokenSet) -> AccessToken {
        AccessToken { token: tokens.access_token, tenant_id: tokens.tenant_id, version: tokens.version }
    }

    async fn refresh_holding_lease(&self, store: &StoreId) -> Result<XeroTokenSet, TokenError> {
        // Someone may have refreshed between our read and our lease.
        let current = self.vault.load_tokens(store).await?.ok_or_else(|| TokenError::NotConnected(store.clone()))?;
        if current.valid_for(self.clock.now()) >= self.settings.min_validity {
            return Ok(current);
        }
        // One retry on a transient failure: if Xero rotated but its answer was lost, the stored
        // refresh token is still accepted within the 30-minute grace.
        let mut attempt = 0;
        let grant = loop {
            attempt += 1;
            match self.identity.refresh(&current.refresh_token).await {
                Ok(grant) => break grant,
                Err(IdentityError::InvalidGrant) => {
                    error!(store_id = %store, alarm = "xero_needs_reconnect", "Xero refused the refresh token (invalid_grant); the store must be reconnected, its jobs are kept");
                    self.stores
                        .set_connection(store, &ConnectionUpdate::status_only(ConnectionStatus::NeedsReconnect))
                        .await?;
                    return Err(TokenError::NeedsReconnect(store.clone()));
                }
                Err(e) if e.is_retryable() && attempt < 2 => {
                    warn!(store_id = %store, error = %crate::error::chain(&e), "token refresh failed transiently; retrying with the same refresh token");
                }
                Err(e) => return Err(TokenError::Identity(e)),
            }
        };
        let next = current.rotated(grant, self.clock.now());
        self.vault.save_tokens(store, &next).await?;
        info!(store_id = %store, version = next.version, expires_at = next.expires_at, "Xero token refreshed");
        Ok(next)
    }
}
