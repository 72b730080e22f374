//! Per-store secrets in Secrets Manager: one JSON document per store, named `{prefix}{store_id}`,
//! holding the webhook secret now and the Xero tokens and WooCommerce REST keys later. Writers
//! change their own field and keep the others.

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};

use super::classify;
use crate::error::StorageError;
use crate::ids::StoreId;
use crate::ports::{CreateError, StoreSecretVault, WebhookSecrets};

pub struct SecretsManagerVault {
    client: aws_sdk_secretsmanager::Client,
    prefix: String,
}

impl SecretsManagerVault {
    pub fn new(client: aws_sdk_secretsmanager::Client, prefix: impl Into<String>) -> Self {
        SecretsManagerVault {
            client,
            prefix: prefix.into(),
        }
    }

    pub fn secret_name(&self, id: &StoreId) -> String {
        format!("{}{}", self.prefix, id)
    }

    /// The store's whole document, or None when the secret does not exist.
    async fn read_document(
        &self,
        id: &StoreId,
    ) -> Result<Option<serde_json::Map<String, serde_json::Value>>, StorageError> {
        let result = self
            .client
            .get_secret_value()
            .secret_id(self.secret_name(id))
            .send()
            .await;
        let out = match result {
            Ok(out) => out,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                return Ok(None)
            }
            Err(e) => return Err(classify("secretsmanager.get_secret_value", e)),
        };
        let text = out.secret_string.unwrap_or_default();
        // The error names the secret, never its content.
        let doc: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&text).map_err(|_| {
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
            doc.get("webhook_secret")
                .and_then(|v| v.as_str())
                .map(|s| SecretString::from(s.to_owned()))
        }))
    }
}

#[async_trait]
impl StoreSecretVault for SecretsManagerVault {
    async fn create_store_secret(
        &self,
        id: &StoreId,
        webhook_secret: &SecretString,
    ) -> Result<(), CreateError> {
        let doc = serde_json::json!({ "webhook_secret": webhook_secret.expose_secret() });
        let result = self
            .client
            .create_secret()
            .name(self.secret_name(id))
            .description(format!(
                "wooxero store {id}: webhook secret, Xero tokens, WooCommerce REST keys"
            ))
            .secret_string(doc.to_string())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_exists_exception()) =>
            {
                Err(CreateError::AlreadyExists)
            }
            Err(e) => Err(classify("secretsmanager.create_secret", e).into()),
        }
    }

    async fn set_webhook_secret(
        &self,
        id: &StoreId,
        webhook_secret: &SecretString,
    ) -> Result<(), StorageError> {
        let mut doc = self.read_document(id).await?.unwrap_or_default();
        doc.insert(
            "webhook_secret".into(),
            webhook_secret.expose_secret().into(),
        );
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
