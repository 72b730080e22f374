//! Typed configuration, read once at cold start. A missing or malformed variable fails start-up
//! with its name, never a request.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// Reads variables from a lookup function, so tests need not touch the process environment.
pub struct Env<F: Fn(&str) -> Option<String>>(pub F);

pub fn process_env() -> Env<impl Fn(&str) -> Option<String>> {
    Env(|k: &str| std::env::var(k).ok().filter(|v| !v.is_empty()))
}

impl<F: Fn(&str) -> Option<String>> Env<F> {
    pub fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        (self.0)(name).ok_or(ConfigError::Missing(name))
    }

    pub fn optional(&self, name: &'static str) -> Option<String> {
        (self.0)(name)
    }

    pub fn number_or(&self, name: &'static str, default: u64) -> Result<u64, ConfigError> {
        match (self.0)(name) {
            None => Ok(default),
            Some(v) => v.trim().parse().map_err(|e| ConfigError::Invalid { name, reason: format!("{v:?}: {e}") }),
        }
    }

    pub fn flag(&self, name: &'static str) -> Result<bool, ConfigError> {
        match (self.0)(name).as_deref() {
            None | Some("0") | Some("false") => Ok(false),
            Some("1") | Some("true") => Ok(true),
            Some(v) => Err(ConfigError::Invalid { name, reason: format!("{v:?}: expected true or false") }),
        }
    }
}

/// Where the shared AWS resources are; every component reads the same names.
#[derive(Debug, Clone)]
pub struct ResourceNames {
    pub table: String,
    pub sync_queue_url: String,
    pub payload_bucket: String,
    /// Store secrets are named `{prefix}{store_id}`.
    pub store_secret_prefix: String,
    /// Path-style S3 addressing, needed by local S3 emulators reached through `AWS_ENDPOINT_URL`.
    pub s3_force_path_style: bool,
}

impl ResourceNames {
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        Ok(ResourceNames {
            table: env.required("TABLE_NAME")?,
            sync_queue_url: env.required("SYNC_QUEUE_URL")?,
            payload_bucket: env.required("PAYLOAD_BUCKET")?,
            store_secret_prefix: env.required("STORE_SECRET_PREFIX")?,
            s3_force_path_style: env.flag("S3_FORCE_PATH_STYLE")?,
        })
    }
}

#[derive(Debug, Clone)]
pub struct IngestConfig {
    pub resources: ResourceNames,
    pub settings: IngestSettings,
}

#[derive(Debug, Clone)]
pub struct IngestSettings {
    /// Larger bodies get 413.
    pub max_body_bytes: usize,
    /// A job whose JSON would exceed this travels with its body in S3.
    pub max_queue_message_bytes: usize,
    pub secret_cache_ttl: Duration,
    /// How long an identical body counts as a re-delivery.
    pub dedupe_window: Duration,
    /// Time for storage retries within one request.
    pub storage_budget: Duration,
}

impl Default for IngestSettings {
    fn default() -> Self {
        IngestSettings {
            max_body_bytes: 1024 * 1024,
            max_queue_message_bytes: 256 * 1024,
            secret_cache_ttl: Duration::from_secs(300),
            dedupe_window: Duration::from_secs(24 * 3600),
            storage_budget: Duration::from_secs(3),
        }
    }
}

impl IngestConfig {
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        let d = IngestSettings::default();
        let max_body = env.number_or("MAX_BODY_BYTES", d.max_body_bytes as u64)?;
        if max_body == 0 || max_body > 6 * 1024 * 1024 {
            return Err(ConfigError::Invalid {
                name: "MAX_BODY_BYTES",
                reason: "must be 1..=6291456 (Lambda's payload limit)".into(),
            });
        }
        let ttl = env.number_or("SECRET_CACHE_TTL_SECONDS", d.secret_cache_ttl.as_secs())?;
        if ttl > 300 {
            return Err(ConfigError::Invalid {
                name: "SECRET_CACHE_TTL_SECONDS",
                reason: "at most 300 (5 minutes)".into(),
            });
        }
        Ok(IngestConfig {
            resources: ResourceNames::from_env(env)?,
            settings: IngestSettings {
                max_body_bytes: max_body as usize,
                max_queue_message_bytes: env.number_or("MAX_QUEUE_MESSAGE_BYTES", d.max_queue_message_bytes as u64)?
                    as usize,
                secret_cache_ttl: Duration::from_secs(ttl),
                ..d
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> Env<impl Fn(&str) -> Option<String>> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Env(move |k: &str| map.get(k).cloned())
    }

    const BASE: [(&str, &str); 4] =
        [("TABLE_NAME", "t"), ("SYNC_QUEUE_URL", "q"), ("PAYLOAD_BUCKET", "b"), ("STORE_SECRET_PREFIX", "p/")];

    #[test]
    fn names_the_missing_variable() {
        let err = IngestConfig::from_env(&env(&BASE[..2])).unwrap_err();
        assert_eq!(err.to_string(), "environment variable PAYLOAD_BUCKET is not set");
    }

    #[test]
    fn the_sync_starts_before_the_xero_app_is_configured_but_the_connect_flow_does_not() {
        let mut pairs = BASE.to_vec();
        pairs.push(("XERO_APP_SECRET_ID", "stack/xero-app"));
        assert!(SyncConfig::from_env(&env(&pairs)).is_ok());
        let err = ConnectConfig::from_env(&env(&pairs)).unwrap_err();
        assert_eq!(err.to_string(), "environment variable XERO_CLIENT_ID is not set");
    }

    #[test]
    fn defaults_and_overrides() {
        let cfg = IngestConfig::from_env(&env(&BASE)).unwrap();
        assert_eq!(cfg.settings.max_body_bytes, 1024 * 1024);
        let mut pairs = BASE.to_vec();
        pairs.push(("MAX_BODY_BYTES", "2048"));
        pairs.push(("S3_FORCE_PATH_STYLE", "true"));
        let cfg = IngestConfig::from_env(&env(&pairs)).unwrap();
        assert_eq!(cfg.settings.max_body_bytes, 2048);
        assert!(cfg.resources.s3_force_path_style);
        pairs.push(("SECRET_CACHE_TTL_SECONDS", "900"));
        assert!(IngestConfig::from_env(&env(&pairs)).is_err());
    }
}

pub const DEFAULT_XERO_SCOPES: &str =
    "offline_access accounting.invoices accounting.payments accounting.contacts accounting.settings";

/// The Xero app and endpoints, for every component that talks to Xero's identity service.
#[derive(Debug, Clone)]
pub struct XeroConfig {
    pub endpoints: crate::xero::endpoints::XeroEndpoints,
    pub app: crate::xero::identity::XeroApp,
    /// The Secrets Manager secret holding `{"client_secret": "..."}`.
    pub app_secret_id: String,
}

impl XeroConfig {
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        let scopes: Vec<String> = env
            .optional("XERO_SCOPES")
            .unwrap_or_else(|| DEFAULT_XERO_SCOPES.to_owned())
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        if !scopes.iter().any(|s| s == "offline_access") {
            return Err(ConfigError::Invalid {
                name: "XERO_SCOPES",
                reason: "must include offline_access (no refresh token without it)".into(),
            });
        }
        Ok(XeroConfig {
            endpoints: crate::xero::endpoints::XeroEndpoints::from_env(env)?,
            app: crate::xero::identity::XeroApp {
                client_id: env.required("XERO_CLIENT_ID")?,
                redirect_uri: env.required("XERO_REDIRECT_URI")?,
                scopes,
            },
            app_secret_id: env.required("XERO_APP_SECRET_ID")?,
        })
    }
}

#[derive(Debug, Clone)]
pub struct ConnectConfig {
    pub resources: ResourceNames,
    pub xero: XeroConfig,
    /// Base URL of the HTTP API, shown on the success page; from the Host header when unset.
    pub public_api_url: Option<String>,
}

impl ConnectConfig {
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        Ok(ConnectConfig {
            resources: ResourceNames::from_env(env)?,
            xero: XeroConfig::from_env(env)?,
            public_api_url: env.optional("PUBLIC_API_URL"),
        })
    }
}

#[derive(Debug, Clone)]
pub struct SyncConfig {
    pub resources: ResourceNames,
    pub xero: XeroConfig,
}

impl SyncConfig {
    /// The Xero app may be configured after the stack is deployed: until then no store can be
    /// connected, so jobs are parked, and the sync must still start rather than fail every batch.
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        let lenient = Env(|k: &str| {
            (env.0)(k).or_else(|| match k {
                "XERO_CLIENT_ID" => Some("not-configured".into()),
                "XERO_REDIRECT_URI" => Some("https://not-configured.invalid/oauth/callback".into()),
                _ => None,
            })
        });
        Ok(SyncConfig { resources: ResourceNames::from_env(env)?, xero: XeroConfig::from_env(&lenient)? })
    }
}
