//! A store: one WooCommerce site that syncs into one Xero organisation.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ids::StoreId;

/// Whether the store's sync jobs run. Intake never stops: a paused store's webhooks are still
/// verified and queued, and its jobs wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreStatus {
    Active,
    Paused,
}

impl StoreStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StoreStatus::Active => "active",
            StoreStatus::Paused => "paused",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(StoreStatus::Active),
            "paused" => Some(StoreStatus::Paused),
            _ => None,
        }
    }
}

/// The store's link to Xero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionStatus {
    NotConnected,
    Connected,
    NeedsReconnect,
    Disconnected,
}

impl ConnectionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionStatus::NotConnected => "not_connected",
            ConnectionStatus::Connected => "connected",
            ConnectionStatus::NeedsReconnect => "needs_reconnect",
            ConnectionStatus::Disconnected => "disconnected",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "not_connected" => Some(ConnectionStatus::NotConnected),
            "connected" => Some(ConnectionStatus::Connected),
            "needs_reconnect" => Some(ConnectionStatus::NeedsReconnect),
            "disconnected" => Some(ConnectionStatus::Disconnected),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Store {
    pub id: StoreId,
    pub site_url: url::Url,
    pub status: StoreStatus,
    pub connection: ConnectionStatus,
    pub created_at: OffsetDateTime,
    pub tenant_id: Option<String>,
    pub tenant_name: Option<String>,
    pub connection_id: Option<String>,
    pub connected_at: Option<OffsetDateTime>,
}

impl Store {
    /// Applies a connection update the way the repositories store it.
    pub fn apply(&mut self, update: &crate::ports::ConnectionUpdate) {
        self.connection = update.status;
        if let Some(t) = &update.tenant {
            self.tenant_id = Some(t.tenant_id.clone());
            self.tenant_name = t.tenant_name.clone();
            self.connection_id = Some(t.connection_id.clone());
            self.connected_at = Some(t.connected_at);
        } else if update.status == ConnectionStatus::Disconnected {
            self.tenant_id = None;
            self.tenant_name = None;
            self.connection_id = None;
        }
    }

    pub fn new(id: StoreId, site_url: url::Url, now: OffsetDateTime) -> Self {
        Store {
            id,
            site_url,
            status: StoreStatus::Active,
            connection: ConnectionStatus::NotConnected,
            // Whole seconds: records and listings need no more.
            created_at: now.replace_nanosecond(0).unwrap_or(now),
            tenant_id: None,
            tenant_name: None,
            connection_id: None,
            connected_at: None,
        }
    }
}

/// What an operator pastes into WooCommerce → Settings → Advanced → Webhooks.
pub struct WebhookSetup<'a> {
    pub delivery_url: String,
    pub secret: Option<&'a str>,
}

pub const SYNCED_TOPICS: [&str; 4] = ["order.created", "order.updated", "order.deleted", "order.restored"];

impl WebhookSetup<'_> {
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("WooCommerce → Settings → Advanced → Webhooks → Add webhook, once per topic:\n");
        out.push_str(&format!("  Delivery URL: {}\n", self.delivery_url));
        match self.secret {
            Some(secret) => out.push_str(&format!("  Secret:       {secret}\n")),
            None => out.push_str("  Secret:       (as set when the store was added; `wooxero store add` printed it)\n"),
        }
        out.push_str(&format!("  Topics:       {}\n", SYNCED_TOPICS.join(", ")));
        out.push_str("  API version:  WP REST API Integration v3\n");
        out.push_str("  Status:       Active\n");
        out
    }
}

/// The delivery URL for a store, from the API's base URL.
pub fn webhook_url(api_base: &str, store: &StoreId) -> String {
    format!("{}/webhooks/{}", api_base.trim_end_matches('/'), store)
}
