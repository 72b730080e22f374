//! Xero: endpoints, the identity (OAuth2) client, stored token sets and the token provider.

pub mod api;
pub mod endpoints;
pub mod identity;
pub mod math;
pub mod model;
pub mod tokens;

use std::sync::Arc;

use crate::aws::dynamo::DynamoTable;
use crate::aws::secrets::{SecretsManagerClientSecret, SecretsManagerVault};
use crate::aws::AwsClients;
use crate::config::{ResourceNames, XeroConfig};

/// Xero's identity service over HTTP, with the client secret from Secrets Manager.
pub fn identity_from_config(
    clients: &AwsClients,
    config: &XeroConfig,
) -> Result<identity::HttpXeroIdentity, identity::IdentitySetupError> {
    let secret = Arc::new(SecretsManagerClientSecret::new(clients.secrets.clone(), &config.app_secret_id));
    identity::HttpXeroIdentity::new(config.app.clone(), secret, config.endpoints.clone())
}

/// The token provider on the real adapters.
pub fn token_provider(
    clients: &AwsClients,
    names: &ResourceNames,
    identity: Arc<dyn identity::XeroIdentity>,
) -> tokens::TokenProvider {
    let table = Arc::new(DynamoTable::new(clients.dynamodb.clone(), &names.table));
    tokens::TokenProvider {
        vault: Arc::new(SecretsManagerVault::new(clients.secrets.clone(), &names.store_secret_prefix)),
        lease: table.clone(),
        identity,
        stores: table,
        clock: Arc::new(crate::clock::SystemClock),
        settings: tokens::TokenSettings::default(),
    }
}
