//! Every Xero URL comes from configuration whose default is the real Xero, so the same code runs
//! against a demo company or a local fake.

use url::Url;

use crate::config::{ConfigError, Env};

#[derive(Debug, Clone)]
pub struct XeroEndpoints {
    /// `https://api.xero.com`: the Accounting API lives under `/api.xro/2.0`, connections at `/connections`.
    pub api: Url,
    /// `https://identity.xero.com`: token and revocation endpoints.
    pub identity: Url,
    /// `https://login.xero.com`: the consent page.
    pub login: Url,
}

fn base(env_value: Option<String>, name: &'static str, default: &str) -> Result<Url, ConfigError> {
    let text = env_value.unwrap_or_else(|| default.to_owned());
    let url = Url::parse(text.trim_end_matches('/'))
        .map_err(|e| ConfigError::Invalid { name, reason: format!("{text:?}: {e}") })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ConfigError::Invalid { name, reason: format!("{text:?} is not an http(s) URL") });
    }
    Ok(url)
}

fn join(base: &Url, path: &str) -> String {
    format!("{}{}", base.as_str().trim_end_matches('/'), path)
}

impl XeroEndpoints {
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        Ok(XeroEndpoints {
            api: base(env.optional("XERO_API_URL"), "XERO_API_URL", "https://api.xero.com")?,
            identity: base(env.optional("XERO_IDENTITY_URL"), "XERO_IDENTITY_URL", "https://identity.xero.com")?,
            login: base(env.optional("XERO_LOGIN_URL"), "XERO_LOGIN_URL", "https://login.xero.com")?,
        })
    }

    pub fn authorize_url(&self) -> String {
        join(&self.login, "/identity/connect/authorize")
    }
    pub fn token_url(&self) -> String {
        join(&self.identity, "/connect/token")
    }
    pub fn revocation_url(&self) -> String {
        join(&self.identity, "/connect/revocation")
    }
    pub fn connections_url(&self) -> String {
        join(&self.api, "/connections")
    }
    pub fn accounting_url(&self) -> String {
        join(&self.api, "/api.xro/2.0")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_real_xero_and_overrides_apply() {
        let real = XeroEndpoints::from_env(&Env(|_: &str| None)).unwrap();
        assert_eq!(real.authorize_url(), "https://login.xero.com/identity/connect/authorize");
        assert_eq!(real.token_url(), "https://identity.xero.com/connect/token");
        assert_eq!(real.connections_url(), "https://api.xero.com/connections");
        assert_eq!(real.accounting_url(), "https://api.xero.com/api.xro/2.0");
        let local = XeroEndpoints::from_env(&Env(|k: &str| {
            (k == "XERO_IDENTITY_URL").then(|| "http://127.0.0.1:9/".to_owned())
        }))
        .unwrap();
        assert_eq!(local.token_url(), "http://127.0.0.1:9/connect/token");
        assert!(XeroEndpoints::from_env(&Env(|_: &str| Some("ftp://x".to_owned()))).is_err());
    }
}
