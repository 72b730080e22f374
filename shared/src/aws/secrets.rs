//! Per-store secrets in Secrets Manager: one JSON document per store, named `{prefix}{store_id}`,
//! holding the webhook secret now and the Xero tokens and WooCommerce REST keys later. Writers
//! change their own field and keep the others.

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};

use super::classify;
use crate::error::StorageError;
use crate::ids::StoreId;
use crate::ports::{CreateError, StoreSecretVault, WebhookSecrets};
use crate::xero::tokens::{XeroTokenSet, XeroTokenVault};

pub struct SecretsManagerVault {
    client: aws_sdk_secretsmanager::Client,
    prefix: String,
}

impl SecretsManagerVault {
    pub fn new(client: aws_sdk_secretsmanager::Client, prefix: impl Into<String>) -> Self {
        SecretsManagerVault { client, prefix: prefix.into() }
    }

    pub fn secret_name(&self, id: &StoreId) -> String {
        format!("{}{}", self.prefix, id)
    }

    /// The store's whole document, or None when the secret does not exist.
    async fn read_document(
        &self,
        id: &StoreId,
    ) -> Result<Option<serde_json::Map<String, serde_json::Value>>, StorageError> {
        let result = self.client.get_secret_value().secret_id(self.secret_name(id)).send().await;
        let out = match result {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => return Ok(None),
            Err(e) => return Err(classify("secretsmanager.get_secret_value", e)),
        };
        let text = out.secret_string.unwrap_or_default();
        // The error names the secret, never its content.
        let doc: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text).map_err(|_| {
            StorageError::permanent(
                "secretsmanager.get_secret_value",
                format!("secret {} is not a JSON object", self.secret_name(id)),
            )
        })?;
        Ok(Some(doc))
    }
}

#[async_trait]
impl WebhookSecrets for SecretsManagerVault {
    async fn webhook_secret(&self, id: &StoreId) -> Result<Option<SecretString>, StorageError> {
        Ok(self.read_document(id).await?.and_then(|doc| {
            doc.get("webhook_secret").and_then(|v| v.as_str()).map(|s| SecretString::from(s.to_owned()))
        }))
    }
}

#[async_trait]
impl StoreSecretVault for SecretsManagerVault {
    async fn create_store_secret(&self, id: &StoreId, webhook_secret: &SecretString) -> Result<(), CreateError> {
        let doc = serde_json::json!({ "webhook_secret": webhook_secret.expose_secret() });
        let result = self
            .client
            .create_secret()
            .name(self.secret_name(id))
            .description(format!("wooxero store {id}: webhook secret, Xero tokens, WooCommerce REST keys"))
            .secret_string(doc.to_string())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_exists_exception()) => {
                Err(CreateError::AlreadyExists)
            }
            Err(e) => Err(classify("secretsmanager.create_secret", e).into()),
        }
    }

    async fn set_webhook_secret(&self, id: &StoreId, webhook_secret: &SecretString) -> Result<(), StorageError> {
        self.update_field(id, "webhook_secret", Some(webhook_secret.expose_secret().into())).await
    }
}

impl SecretsManagerVault {
    /// Sets (or removes) one top-level field and keeps the others.
    async fn update_field(
        &self,
        id: &StoreId,
        field: &str,
        value: Option<serde_json::Value>,
    ) -> Result<(), StorageError> {
        let Some(mut doc) = self.read_document(id).await? else {
            return Err(StorageError::permanent(
                "secretsmanager.put_secret_value",
                format!("secret {} does not exist", self.secret_name(id)),
            ));
        };
        match value {
            Some(v) => doc.insert(field.to_owned(), v),
            None => doc.remove(field),
        };
        self.client
            .put_secret_value()
            .secret_id(self.secret_name(id))
            .secret_string(serde_json::Value::Object(doc).to_string())
            .send()
            .await
            .map_err(|e| classify("secretsmanager.put_secret_value", e))?;
        Ok(())
    }
}

#[async_trait]
impl XeroTokenVault for SecretsManagerVault {
    async fn load_tokens(&self, store: &StoreId) -> Result<Option<XeroTokenSet>, StorageError> {
        Ok(self.read_document(store).await?.and_then(|doc| doc.get("xero").and_then(XeroTokenSet::from_json)))
    }

    async fn save_tokens(&self, store: &StoreId, tokens: &XeroTokenSet) -> Result<(), StorageError> {
        self.update_field(store, "xero", Some(tokens.to_json())).await
    }

    async fn clear_tokens(&self, store: &StoreId) -> Result<(), StorageError> {
        self.update_field(store, "xero", None).await
    }
}

/// The Xero app's client secret, in its own secret as `{"client_secret": "..."}`.
pub struct SecretsManagerClientSecret {
    client: aws_sdk_secretsmanager::Client,
    secret_id: String,
}

impl SecretsManagerClientSecret {
    pub fn new(client: aws_sdk_secretsmanager::Client, secret_id: impl Into<String>) -> Self {
        SecretsManagerClientSecret { client, secret_id: secret_id.into() }
    }
}

#[async_trait]
impl crate::xero::identity::ClientSecretSource for SecretsManagerClientSecret {
    async fn client_secret(&self) -> Result<SecretString, StorageError> {
        let out = self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .send()
            .await
            .map_err(|e| classify("secretsmanager.get_secret_value(xero app)", e))?;
        let doc: serde_json::Value = serde_json::from_str(out.secret_string().unwrap_or_default()).unwrap_or_default();
        match doc.get("client_secret").and_then(|v| v.as_str()).filter(|s| !s.is_empty()) {
            Some(secret) => Ok(SecretString::from(secret.to_owned())),
            None => Err(StorageError::permanent(
                "secretsmanager.get_secret_value(xero app)",
                format!("secret {} has no client_secret; set it to the Xero app's client secret", self.secret_id),
            )),
        }
    }
}

#[async_trait]
impl crate::ports::WooKeyVault for SecretsManagerVault {
    async fn woo_keys(&self, store: &StoreId) -> Result<Option<crate::ports::WooKeys>, StorageError> {
        let doc = self.read_document(store).await?;
        let keys = doc.as_ref().and_then(|d| d.get("woo_rest"));
        let field =
            |k: &str| keys.and_then(|v| v.get(k)).and_then(|v| v.as_str()).filter(|s| !s.is_empty()).map(str::to_owned);
        Ok(match (field("consumer_key"), field("consumer_secret")) {
            (Some(key), Some(secret)) => {
                Some(crate::ports::WooKeys { consumer_key: key, consumer_secret: SecretString::from(secret) })
            }
            _ => None,
        })
    }

    async fn set_woo_keys(&self, store: &StoreId, keys: &crate::ports::WooKeys) -> Result<(), StorageError> {
        let value = serde_json::json!({
            "consumer_key": keys.consumer_key,
            "consumer_secret": keys.consumer_secret.expose_secret(),
        });
        self.update_field(store, "woo_rest", Some(value)).await
    }
}
