//! A local stack plus the fake Xero identity, with the connect flow and token provider wired to
//! the real adapters (DynamoDB and Secrets Manager on moto, HTTP to the fake).

use std::sync::Arc;
use std::time::Duration;

use lambda_http::{Body, Response};
use secrecy::SecretString;
use wooxero_shared::aws::dynamo::DynamoTable;
use wooxero_shared::aws::secrets::{SecretsManagerClientSecret, SecretsManagerVault};
use wooxero_shared::clock::SystemClock;
use wooxero_shared::config::IngestSettings;
use wooxero_shared::connect::{ConnectDeps, ConnectSettings};
use wooxero_shared::http::connect::ConnectHttp;
use wooxero_shared::xero::endpoints::XeroEndpoints;
use wooxero_shared::xero::identity::{HttpXeroIdentity, XeroApp, XeroIdentity};
use wooxero_shared::xero::tokens::{TokenProvider, TokenSettings};

use crate::fake_identity::{FakeIdentity, FakeIdentityConfig, CLIENT_ID, CLIENT_SECRET};
use crate::harness::TestStack;

pub const REDIRECT_URI: &str = "https://wooxero.example/oauth/callback";
pub const API_URL: &str = "https://wooxero.example";

pub struct ConnectStack {
    pub t: TestStack,
    pub fake: FakeIdentity,
    pub identity: Arc<dyn XeroIdentity>,
    pub http: ConnectHttp,
    pub vault: Arc<SecretsManagerVault>,
}

impl ConnectStack {
    pub async fn new(config: FakeIdentityConfig) -> anyhow::Result<Self> {
        Self::with_settings(config, ConnectSettings::default()).await
    }

    pub async fn with_settings(config: FakeIdentityConfig, settings: ConnectSettings) -> anyhow::Result<Self> {
        Self::build(config, settings, TestStack::new(IngestSettings::default()).await?).await
    }

    pub async fn build(config: FakeIdentityConfig, settings: ConnectSettings, t: TestStack) -> anyhow::Result<Self> {
        let fake = FakeIdentity::start(config).await?;
        // The app's client secret lives in its own secret, as in AWS.
        let app_secret_id = format!("{}xero-app", t.stack.names.store_secret_prefix.trim_end_matches("stores/"));
        t.clients
            .secrets
            .create_secret()
            .name(&app_secret_id)
            .secret_string(serde_json::json!({ "client_secret": CLIENT_SECRET }).to_string())
            .send()
            .await?;
        let endpoints = XeroEndpoints {
            api: fake.base_url.parse()?,
            identity: fake.base_url.parse()?,
            login: fake.base_url.parse()?,
        };
        let app = XeroApp {
            client_id: CLIENT_ID.into(),
            redirect_uri: REDIRECT_URI.into(),
            scopes: wooxero_shared::config::DEFAULT_XERO_SCOPES.split(' ').map(str::to_owned).collect(),
        };
        let secret = Arc::new(SecretsManagerClientSecret::new(t.clients.secrets.clone(), app_secret_id));
        let identity: Arc<dyn XeroIdentity> = Arc::new(HttpXeroIdentity::new(app, secret, endpoints)?);
        let vault = t.vault.clone();
        let table = Arc::new(t.table.clone());
        let http = ConnectHttp {
            deps: ConnectDeps {
                stores: table.clone(),
                once: table,
                identity: identity.clone(),
                vault: vault.clone(),
                clock: Arc::new(SystemClock),
                settings,
                parked: Some((
                    Arc::new(t.table.clone()),
                    Arc::new(wooxero_shared::aws::sqs::SqsJobQueue::new(
                        t.clients.sqs.clone(),
                        &t.stack.names.sync_queue_url,
                    )),
                )),
            },
            public_api_url: Some(API_URL.into()),
        };
        Ok(ConnectStack { t, fake, identity, http, vault })
    }

    pub fn table(&self) -> Arc<DynamoTable> {
        Arc::new(self.t.table.clone())
    }

    pub fn provider(&self, settings: TokenSettings) -> TokenProvider {
        TokenProvider {
            vault: self.vault.clone(),
            lease: self.table(),
            identity: self.identity.clone(),
            stores: self.table(),
            clock: Arc::new(SystemClock),
            settings,
        }
    }

    /// Runs the oauth-callback handler on an API Gateway event.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        body: &str,
    ) -> (u16, String, Option<String>) {
        let event = http_event(method, path, query, body);
        let req = lambda_http::request::from_str(&event.to_string()).expect("a valid API Gateway event");
        let resp: Response<Body> =
            wooxero_shared::http::connect::handle_connect(&self.http, req).await.unwrap_or_else(|e| match e {});
        let location = resp.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let text = String::from_utf8_lossy(resp.body().as_ref()).into_owned();
        (resp.status().as_u16(), text, location)
    }

    /// Follows Xero's consent page (the fake auto-consents) and returns the callback's query.
    pub async fn consent(&self, authorize_url: &str) -> Vec<(String, String)> {
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let resp = client.get(authorize_url).send().await.expect("fake authorize");
        assert_eq!(resp.status().as_u16(), 302, "consent redirects back");
        let location = resp.headers()["location"].to_str().unwrap().to_owned();
        assert!(location.starts_with(REDIRECT_URI), "{location}");
        url::Url::parse(&location).unwrap().query_pairs().into_owned().collect()
    }

    /// The whole happy path: link → /connect → consent → /oauth/callback. Returns the page.
    pub async fn connect(&self, store: &str) -> (u16, String) {
        let id = wooxero_shared::ids::StoreId::parse(store).unwrap();
        let token = self.http.deps.create_link(&id).await.expect("a link");
        let (status, _, location) = self.request("GET", &format!("/connect/{store}"), &[("t", &token)], "").await;
        assert_eq!(status, 302);
        let query = self.consent(&location.expect("a Location")).await;
        let q: Vec<(&str, &str)> = query.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let (status, page, _) = self.request("GET", "/oauth/callback", &q, "").await;
        (status, page)
    }

    pub async fn expire_access_token(&self, store: &str) {
        use wooxero_shared::xero::tokens::XeroTokenVault;
        let id = wooxero_shared::ids::StoreId::parse(store).unwrap();
        let mut tokens = self.vault.load_tokens(&id).await.unwrap().expect("connected");
        tokens.expires_at = time::OffsetDateTime::now_utc().unix_timestamp() - 10;
        self.vault.save_tokens(&id, &tokens).await.unwrap();
    }
}

pub fn secret(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

pub fn http_event(method: &str, path: &str, query: &[(&str, &str)], body: &str) -> serde_json::Value {
    let raw_query: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(query.iter()).finish();
    let params: serde_json::Map<String, serde_json::Value> =
        query.iter().map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string()))).collect();
    let mut event = serde_json::json!({
        "version": "2.0", "routeKey": format!("{method} {path}"), "rawPath": path, "rawQueryString": raw_query,
        "headers": {"host": "wooxero.example", "content-type": "application/x-www-form-urlencoded"},
        "requestContext": {
            "accountId": "123456789012", "apiId": "test", "domainName": "wooxero.example", "domainPrefix": "wooxero",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "test"},
            "requestId": "r", "routeKey": format!("{method} {path}"), "stage": "$default", "time": "04/Dec/2026:10:00:00 +0000",
            "timeEpoch": 1796378400000u64
        },
        "body": body, "isBase64Encoded": false,
    });
    if !params.is_empty() {
        event["queryStringParameters"] = serde_json::Value::Object(params);
    }
    if let Some(store) = path.strip_prefix("/connect/") {
        event["pathParameters"] = serde_json::json!({ "store_id": store });
    }
    event
}

pub fn short(d: u64) -> Duration {
    Duration::from_millis(d)
}
