//! Xero's identity service: code exchange (with PKCE), refresh, revocation, and the connections
//! (tenants) a token reaches. Built on the `oauth2` crate.

use std::time::Duration;

use async_trait::async_trait;
use oauth2::basic::{BasicClient, BasicErrorResponseType};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError, RevocationUrl, Scope, TokenResponse, TokenUrl,
};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::endpoints::XeroEndpoints;
use crate::error::BoxError;

/// A token set as the identity service hands it out.
#[derive(Debug)]
pub struct TokenGrant {
    pub access_token: SecretString,
    pub refresh_token: SecretString,
    pub expires_in: Duration,
    pub scopes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Connection {
    pub id: String,
    pub tenant_id: String,
    #[serde(default)]
    pub tenant_type: String,
    #[serde(default)]
    pub tenant_name: Option<String>,
    #[serde(default)]
    pub auth_event_id: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// The grant is revoked, expired, or was rotated past its 30-minute grace: reconnect.
    #[error("Xero refused the grant (invalid_grant)")]
    InvalidGrant,
    /// Any other definite refusal (bad client credentials, bad code, wrong scope).
    #[error("Xero refused the request: {0}")]
    Refused(String),
    /// Network trouble, timeouts, 5xx: the same call may work again.
    #[error("Xero identity call failed transiently")]
    Transient(#[source] BoxError),
}

impl IdentityError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, IdentityError::Transient(_))
    }
}

#[async_trait]
pub trait XeroIdentity: Send + Sync {
    /// The URL of Xero's consent page for this state and PKCE challenge.
    fn authorize_url(&self, state: &str, pkce_challenge: &PkceCodeChallenge) -> String;
    async fn exchange_code(&self, code: &str, pkce_verifier: &str) -> Result<TokenGrant, IdentityError>;
    async fn refresh(&self, refresh_token: &SecretString) -> Result<TokenGrant, IdentityError>;
    async fn revoke(&self, refresh_token: &SecretString) -> Result<(), IdentityError>;
    async fn connections(
        &self,
        access_token: &SecretString,
        auth_event_id: Option<&str>,
    ) -> Result<Vec<Connection>, IdentityError>;
    /// Returns false when Xero did not know the connection (404).
    async fn delete_connection(&self, access_token: &SecretString, connection_id: &str) -> Result<bool, IdentityError>;
}

/// The Xero app's registration (the client secret is fetched when needed, see [`ClientSecretSource`]).
#[derive(Debug, Clone)]
pub struct XeroApp {
    pub client_id: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
}

/// Where the app's client secret lives (its own Secrets Manager secret in AWS). Read per use, so
/// an operator who sets or rotates it needs no redeploy.
#[async_trait]
pub trait ClientSecretSource: Send + Sync {
    async fn client_secret(&self) -> Result<SecretString, crate::error::StorageError>;
}

/// A fixed client secret (tests, local stack).
pub struct StaticClientSecret(pub SecretString);

#[async_trait]
impl ClientSecretSource for StaticClientSecret {
    async fn client_secret(&self) -> Result<SecretString, crate::error::StorageError> {
        Ok(self.0.clone())
    }
}

type XeroOauthClient = BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointSet, EndpointSet>;

pub struct HttpXeroIdentity {
    app: XeroApp,
    secret: std::sync::Arc<dyn ClientSecretSource>,
    endpoints: XeroEndpoints,
    http: reqwest::Client,
}

#[derive(Debug, thiserror::Error)]
pub enum IdentitySetupError {
    #[error("invalid Xero URL or redirect URI")]
    Url(#[from] url::ParseError),
    #[error("building the HTTP client")]
    Http(#[from] reqwest::Error),
}

impl HttpXeroIdentity {
    pub fn new(
        app: XeroApp,
        secret: std::sync::Arc<dyn ClientSecretSource>,
        endpoints: XeroEndpoints,
    ) -> Result<Self, IdentitySetupError> {
        // Fail at cold start on malformed URLs rather than on the first request.
        AuthUrl::new(endpoints.authorize_url())?;
        TokenUrl::new(endpoints.token_url())?;
        RedirectUrl::new(app.redirect_uri.clone())?;
        // No redirects on token calls (SSRF guard, as the oauth2 crate recommends), bounded time.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(3))
            .build()?;
        Ok(HttpXeroIdentity { app, secret, endpoints, http })
    }

    fn client_without_secret(&self) -> Result<XeroOauthClient, IdentityError> {
        let bad = |e: url::ParseError| IdentityError::Refused(format!("invalid Xero URL: {e}"));
        Ok(BasicClient::new(ClientId::new(self.app.client_id.clone()))
            .set_auth_uri(AuthUrl::new(self.endpoints.authorize_url()).map_err(bad)?)
            .set_token_uri(TokenUrl::new(self.endpoints.token_url()).map_err(bad)?)
            .set_revocation_url(RevocationUrl::new(self.endpoints.revocation_url()).map_err(bad)?)
            .set_redirect_uri(RedirectUrl::new(self.app.redirect_uri.clone()).map_err(bad)?))
    }

    async fn client(&self) -> Result<XeroOauthClient, IdentityError> {
        let secret = self.secret.client_secret().await.map_err(|e| IdentityError::Transient(Box::new(e)))?;
        Ok(self.client_without_secret()?.set_client_secret(ClientSecret::new(secret.expose_secret().to_owned())))
    }
}

fn grant_from<T: TokenResponse>(
    resp: &T,
    previous_refresh: Option<&SecretString>,
) -> Result<TokenGrant, IdentityError> {
    let refresh = match (resp.refresh_token(), previous_refresh) {
        (Some(r), _) => SecretString::from(r.secret().clone()),
        (None, Some(prev)) => prev.clone(),
        (None, None) => {
            return Err(IdentityError::Refused("no refresh token returned: is offline_access among the scopes?".into()))
        }
    };
    Ok(TokenGrant {
        access_token: SecretString::from(resp.access_token().secret().clone()),
        refresh_token: refresh,
        expires_in: resp.expires_in().unwrap_or(Duration::from_secs(1800)),
        scopes: resp.scopes().map(|s| s.iter().map(|s| s.to_string()).collect()).unwrap_or_default(),
    })
}

fn token_error<RE: std::error::Error + Send + Sync + 'static>(
    e: RequestTokenError<RE, oauth2::StandardErrorResponse<BasicErrorResponseType>>,
) -> IdentityError {
    match e {
        RequestTokenError::ServerResponse(resp) => match resp.error() {
            BasicErrorResponseType::InvalidGrant => IdentityError::InvalidGrant,
            other => IdentityError::Refused(other.to_string()),
        },
        RequestTokenError::Request(e) => IdentityError::Transient(Box::new(e)),
        RequestTokenError::Parse(e, _) => IdentityError::Transient(Box::new(e)),
        RequestTokenError::Other(text) => IdentityError::Transient(text.into()),
    }
}

fn http_error(e: reqwest::Error) -> IdentityError {
    IdentityError::Transient(Box::new(e))
}

async fn status_error(resp: reqwest::Response) -> IdentityError {
    let status = resp.status();
    if status.is_server_error() || status.as_u16() == 429 {
        IdentityError::Transient(format!("HTTP {status}").into())
    } else {
        IdentityError::Refused(format!("HTTP {status}"))
    }
}

#[async_trait]
impl XeroIdentity for HttpXeroIdentity {
    fn authorize_url(&self, state: &str, pkce_challenge: &PkceCodeChallenge) -> String {
        let state = state.to_owned();
        // The URLs were checked at construction, so this cannot fail; an empty URL would show as a 400 at Xero.
        let Ok(client) = self.client_without_secret() else { return String::new() };
        let (url, _) = client
            .authorize_url(move || CsrfToken::new(state))
            .add_scopes(self.app.scopes.iter().map(|s| Scope::new(s.clone())))
            .set_pkce_challenge(pkce_challenge.clone())
            .url();
        url.to_string()
    }

    async fn exchange_code(&self, code: &str, pkce_verifier: &str) -> Result<TokenGrant, IdentityError> {
        let resp = self
            .client()
            .await?
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
            .request_async(&self.http)
            .await
            .map_err(token_error)?;
        grant_from(&resp, None)
    }

    async fn refresh(&self, refresh_token: &SecretString) -> Result<TokenGrant, IdentityError> {
        let token = RefreshToken::new(refresh_token.expose_secret().to_owned());
        let client = self.client().await?;
        let resp = client.exchange_refresh_token(&token).request_async(&self.http).await.map_err(token_error)?;
        grant_from(&resp, Some(refresh_token))
    }

    async fn revoke(&self, refresh_token: &SecretString) -> Result<(), IdentityError> {
        // RFC 7009 by hand: the oauth2 crate insists on an https revocation URL, which a local
        // stand-in for Xero does not have.
        let secret = self.secret.client_secret().await.map_err(|e| IdentityError::Transient(Box::new(e)))?;
        let resp = self
            .http
            .post(self.endpoints.revocation_url())
            .basic_auth(&self.app.client_id, Some(secret.expose_secret()))
            .form(&[("token", refresh_token.expose_secret()), ("token_type_hint", "refresh_token")])
            .send()
            .await
            .map_err(http_error)?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(status_error(resp).await)
        }
    }

    async fn connections(
        &self,
        access_token: &SecretString,
        auth_event_id: Option<&str>,
    ) -> Result<Vec<Connection>, IdentityError> {
        let mut req = self.http.get(self.endpoints.connections_url()).bearer_auth(access_token.expose_secret());
        if let Some(id) = auth_event_id {
            req = req.query(&[("authEventId", id)]);
        }
        let resp = req.send().await.map_err(http_error)?;
        if !resp.status().is_success() {
            return Err(status_error(resp).await);
        }
        resp.json().await.map_err(http_error)
    }

    async fn delete_connection(&self, access_token: &SecretString, connection_id: &str) -> Result<bool, IdentityError> {
        let url = format!("{}/{}", self.endpoints.connections_url(), urlencode(connection_id));
        let resp = self.http.delete(url).bearer_auth(access_token.expose_secret()).send().await.map_err(http_error)?;
        match resp.status().as_u16() {
            200..=299 => Ok(true),
            404 => Ok(false),
            _ => Err(status_error(resp).await),
        }
    }
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The `authentication_event_id` claim of a Xero access token (a JWT), which names the consent
/// that produced it. The token came straight from Xero over TLS, so its payload is read, not verified.
pub fn auth_event_id(access_token: &SecretString) -> Option<String> {
    use base64::Engine;
    let payload = access_token.expose_secret().split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("authentication_event_id")?.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    #[test]
    fn reads_the_auth_event_id_claim() {
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"authentication_event_id":"ae-1","xero_userid":"u"}"#);
        let jwt = SecretString::from(format!("eyJhbGciOiJSUzI1NiJ9.{payload}.sig"));
        assert_eq!(auth_event_id(&jwt).as_deref(), Some("ae-1"));
        assert_eq!(auth_event_id(&SecretString::from("opaque")), None);
    }
}
