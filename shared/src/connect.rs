//! Connecting a store to its Xero organisation: operator-issued one-time links, the OAuth2
//! authorization-code flow with PKCE and a single-use `state`, tenant selection, and disconnect.
//!
//! Only an operator can start a connection (`wooxero connect` prints a link that works once for
//! 15 minutes), otherwise anyone could bind a store to their own Xero organisation and receive its
//! invoices.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use oauth2::PkceCodeChallenge;
use rand::RngCore;
use sha2::{Digest, Sha256};
use tracing::{info, warn};

use crate::clock::Clock;
use crate::error::StorageError;
use crate::ids::StoreId;
use crate::ports::{ConnectionUpdate, OneTimeTokens, StoreRepo, TenantLink};
use crate::store::{ConnectionStatus, Store};
use crate::xero::identity::{auth_event_id, Connection, IdentityError, XeroIdentity};
use crate::xero::tokens::{TokenProvider, XeroTokenSet, XeroTokenVault};

pub const LINK_TTL: Duration = Duration::from_secs(15 * 60);
pub const STATE_TTL: Duration = Duration::from_secs(10 * 60);

pub struct ConnectDeps {
    pub stores: Arc<dyn StoreRepo>,
    pub once: Arc<dyn OneTimeTokens>,
    pub identity: Arc<dyn XeroIdentity>,
    pub vault: Arc<dyn XeroTokenVault>,
    pub clock: Arc<dyn Clock>,
    pub settings: ConnectSettings,
    /// Where jobs parked while the store could not sync are re-queued once it is connected.
    pub parked: Option<(Arc<dyn crate::ports::OrderStateRepo>, Arc<dyn crate::ports::QueueControl>)>,
}

#[derive(Debug, Clone)]
pub struct ConnectSettings {
    pub link_ttl: Duration,
    pub state_ttl: Duration,
}

impl Default for ConnectSettings {
    fn default() -> Self {
        ConnectSettings { link_ttl: LINK_TTL, state_ttl: STATE_TTL }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("unknown store")]
    UnknownStore,
    #[error("this connect link is missing, expired or already used; ask the operator for a new one (`wooxero connect <store>`)")]
    Forbidden,
    #[error("this sign-in attempt is unknown, expired or already used; start again from a new connect link")]
    InvalidState,
    #[error("the Xero connection was cancelled in Xero; nothing was changed")]
    AccessDenied,
    #[error("Xero returned an error: {0}")]
    XeroError(String),
    #[error("Xero did not report an organisation for this consent")]
    NoTenant,
    #[error("that organisation was not among those just authorised")]
    UnknownTenant,
    #[error("talking to Xero failed")]
    Identity(#[from] IdentityError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl ConnectError {
    pub fn status(&self) -> u16 {
        match self {
            ConnectError::UnknownStore => 404,
            ConnectError::Forbidden => 403,
            ConnectError::InvalidState | ConnectError::NoTenant | ConnectError::UnknownTenant => 400,
            ConnectError::AccessDenied => 200,
            ConnectError::XeroError(_) => 400,
            ConnectError::Identity(e) if e.is_retryable() => 502,
            ConnectError::Identity(_) => 400,
            ConnectError::Storage(_) => 503,
        }
    }
}

/// 32 random bytes, URL-safe base64: unguessable link tokens, states and PKCE verifiers.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn link_key(token: &str) -> String {
    // Only the hash is stored: a leaked table does not leak working links.
    format!("LINK#{}", hex::encode(Sha256::digest(token.as_bytes())))
}

/// A one-time token for `GET /connect/{store}?t=…`, valid for `ttl`. Needs no Xero settings, so
/// the CLI can call it directly.
pub async fn create_link(
    stores: &dyn StoreRepo,
    once: &dyn OneTimeTokens,
    store: &StoreId,
    ttl: Duration,
) -> Result<String, ConnectError> {
    stores.get(store).await?.ok_or(ConnectError::UnknownStore)?;
    let token = random_token();
    once.put(&link_key(&token), &serde_json::json!({ "store_id": store }), ttl).await?;
    Ok(token)
}

/// What the callback query string carries.
#[derive(Debug, Default)]
pub struct CallbackParams {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
}

#[derive(Debug)]
pub enum CallbackOutcome {
    Connected {
        store: Store,
    },
    /// Several organisations were authorised: the user picks one, protected by `choice`.
    ChooseTenant {
        store: StoreId,
        choice: String,
        tenants: Vec<Connection>,
    },
}

impl ConnectDeps {
    async fn known_store(&self, id: &StoreId) -> Result<Store, ConnectError> {
        self.stores.get(id).await?.ok_or(ConnectError::UnknownStore)
    }

    /// For the CLI: a one-time token for `GET /connect/{store}?t=…`, valid for 15 minutes.
    pub async fn create_link(&self, store: &StoreId) -> Result<String, ConnectError> {
        create_link(self.stores.as_ref(), self.once.as_ref(), store, self.settings.link_ttl).await
    }

    /// `GET /connect/{store}?t=…`: consumes the link and returns Xero's consent URL.
    pub async fn start(&self, store_segment: &str, link_token: Option<&str>) -> Result<String, ConnectError> {
        let store = StoreId::parse(store_segment).map_err(|_| ConnectError::UnknownStore)?;
        let token = link_token.filter(|t| !t.is_empty()).ok_or(ConnectError::Forbidden)?;
        let link = self.once.consume(&link_key(token)).await?.ok_or(ConnectError::Forbidden)?;
        if link.get("store_id").and_then(|v| v.as_str()) != Some(store.as_str()) {
            warn!(store_id = %store, "connect link used for another store");
            return Err(ConnectError::Forbidden);
        }
        self.known_store(&store).await?;
        let state = random_token();
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let record = serde_json::json!({ "store_id": store, "pkce_verifier": verifier.secret() });
        self.once.put(&format!("STATE#{state}"), &record, self.settings.state_ttl).await?;
        info!(store_id = %store, "Xero connect started");
        Ok(self.identity.authorize_url(&state, &challenge))
    }

    /// `GET /oauth/callback`: consumes the state, exchanges the code, finds the tenant(s).
    pub async fn callback(&self, params: CallbackParams) -> Result<CallbackOutcome, ConnectError> {
        let state = params.state.filter(|s| !s.is_empty()).ok_or(ConnectError::InvalidState)?;
        // Consumed first, whatever else the callback says: a state works once.
        let record = self.once.consume(&format!("STATE#{state}")).await?.ok_or(ConnectError::InvalidState)?;
        let store = record
            .get("store_id")
            .and_then(|v| v.as_str())
            .and_then(|s| StoreId::parse(s).ok())
            .ok_or(ConnectError::InvalidState)?;
        let verifier = record.get("pkce_verifier").and_then(|v| v.as_str()).ok_or(ConnectError::InvalidState)?;
        match params.error.as_deref() {
            Some("access_denied") => {
                info!(store_id = %store, "Xero consent declined");
                return Err(ConnectError::AccessDenied);
            }
            Some(other) => return Err(ConnectError::XeroError(other.chars().take(80).collect())),
            None => {}
        }
        let code = params.code.filter(|c| !c.is_empty()).ok_or(ConnectError::InvalidState)?;
        self.known_store(&store).await?;

        let grant = self.identity.exchange_code(&code, verifier).await?;
        let event = auth_event_id(&grant.access_token);
        let previous_version = self.vault.load_tokens(&store).await?.map(|t| t.version).unwrap_or(0);
        let tokens = XeroTokenSet::from_grant(grant, self.clock.now(), previous_version + 1);
        let mut tenants = self.identity.connections(&tokens.access_token, event.as_deref()).await?;
        if event.is_some() {
            tenants.retain(|c| c.auth_event_id.is_none() || c.auth_event_id == event);
        }
        tenants.retain(|c| c.tenant_type.is_empty() || c.tenant_type.eq_ignore_ascii_case("ORGANISATION"));
        match tenants.len() {
            0 => Err(ConnectError::NoTenant),
            1 => {
                let tenant = tenants.remove(0);
                Ok(CallbackOutcome::Connected { store: self.finish(&store, tokens, &tenant).await? })
            }
            _ => {
                // Keep the tokens in the store's secret (no tenant yet, so the store stays as it
                // was) and let the user pick, under a new single-use state.
                self.vault.save_tokens(&store, &tokens).await?;
                let choice = random_token();
                let record = serde_json::json!({ "store_id": store, "tenants": tenants });
                self.once.put(&format!("CHOICE#{choice}"), &record, self.settings.state_ttl).await?;
                Ok(CallbackOutcome::ChooseTenant { store, choice, tenants })
            }
        }
    }

    /// `POST /oauth/callback` with the chosen tenant.
    pub async fn choose(&self, choice: &str, tenant_id: &str) -> Result<Store, ConnectError> {
        let record = self.once.consume(&format!("CHOICE#{choice}")).await?.ok_or(ConnectError::InvalidState)?;
        let store = record
            .get("store_id")
            .and_then(|v| v.as_str())
            .and_then(|s| StoreId::parse(s).ok())
            .ok_or(ConnectError::InvalidState)?;
        let tenants: Vec<Connection> =
            serde_json::from_value(record.get("tenants").cloned().unwrap_or_default()).unwrap_or_default();
        let tenant = tenants.into_iter().find(|t| t.tenant_id == tenant_id).ok_or(ConnectError::UnknownTenant)?;
        let tokens = self.vault.load_tokens(&store).await?.ok_or(ConnectError::InvalidState)?;
        self.finish(&store, tokens, &tenant).await
    }

    async fn finish(
        &self,
        store: &StoreId,
        mut tokens: XeroTokenSet,
        tenant: &Connection,
    ) -> Result<Store, ConnectError> {
        tokens.tenant_id = Some(tenant.tenant_id.clone());
        tokens.connection_id = Some(tenant.id.clone());
        self.vault.save_tokens(store, &tokens).await?;
        let update = ConnectionUpdate {
            status: ConnectionStatus::Connected,
            tenant: Some(TenantLink {
                tenant_id: tenant.tenant_id.clone(),
                tenant_name: tenant.tenant_name.clone(),
                connection_id: tenant.id.clone(),
                connected_at: self.clock.now().replace_nanosecond(0).unwrap_or(self.clock.now()),
            }),
        };
        if !self.stores.set_connection(store, &update).await? {
            return Err(ConnectError::UnknownStore);
        }
        info!(store_id = %store, tenant_id = %tenant.tenant_id, "store connected to Xero");
        if let Some((states, queue)) = &self.parked {
            match crate::admin::requeue_parked(states.as_ref(), queue.as_ref(), store).await {
                Ok(n) => info!(store_id = %store, requeued = n, "parked jobs re-queued after connecting"),
                // The connection stands; `wooxero resume` re-queues them later.
                Err(e) => warn!(store_id = %store, error = %crate::error::chain(&e), "could not re-queue parked jobs"),
            }
        }
        self.known_store(store).await
    }

    /// Removes the Xero connection: deletes it at Xero, revokes the refresh token, forgets the
    /// tokens and marks the store disconnected. Xero-side failures are reported but do not keep
    /// the tokens: an operator who disconnects means it.
    pub async fn disconnect(&self, store: &StoreId, tokens: &TokenProvider) -> Result<Vec<String>, ConnectError> {
        self.known_store(store).await?;
        let mut notes = Vec::new();
        if let Some(set) = self.vault.load_tokens(store).await? {
            match (tokens.access_token(store).await, &set.connection_id) {
                (Ok(access), Some(connection_id)) => {
                    match self.identity.delete_connection(&access.token, connection_id).await {
                        Ok(true) => notes.push("Xero connection deleted".to_owned()),
                        Ok(false) => notes.push("Xero no longer knew the connection".to_owned()),
                        Err(e) => {
                            notes.push(format!("deleting the Xero connection failed: {}", crate::error::chain(&e)))
                        }
                    }
                }
                (Err(e), _) => {
                    notes.push(format!("no usable access token ({e}); the connection was not deleted at Xero"))
                }
                (Ok(_), None) => notes.push("no connection id recorded".to_owned()),
            }
            // Re-read: the access-token call may have rotated the refresh token.
            let latest = self.vault.load_tokens(store).await?.unwrap_or(set);
            match self.identity.revoke(&latest.refresh_token).await {
                Ok(()) => notes.push("refresh token revoked".to_owned()),
                Err(e) => notes.push(format!("revoking the refresh token failed: {}", crate::error::chain(&e))),
            }
            self.vault.clear_tokens(store).await?;
        } else {
            notes.push("no Xero tokens were stored".to_owned());
        }
        self.stores.set_connection(store, &ConnectionUpdate::status_only(ConnectionStatus::Disconnected)).await?;
        info!(store_id = %store, "store disconnected from Xero");
        Ok(notes)
    }
}
