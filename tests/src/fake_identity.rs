//! A fake Xero identity service, faithful where this project depends on it:
//! - authorize auto-consents (or answers `error=access_denied` when told to);
//! - the token endpoint checks client credentials, the code, the redirect URI and the PKCE verifier;
//! - refresh rotates the refresh token on every use; the previous one keeps working for a
//!   30-minute grace; a revoked or superseded one gives `invalid_grant`;
//! - access tokens are JWT-shaped with an `authentication_event_id` claim and a configurable life;
//! - `GET /connections` (with `authEventId`), `DELETE /connections/{id}` and revocation work.
//!
//! Connections calls are recorded for the contract check; token calls are recorded too (the
//! checker counts them as skipped).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Form, Json, Router};
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::recorder::Recorder;

pub const CLIENT_ID: &str = "FAKEXEROCLIENTID0000000000000000";
pub const CLIENT_SECRET: &str = "fake-xero-client-secret-for-tests-only";
const GRACE: Duration = Duration::from_secs(30 * 60);

#[derive(Clone, Debug)]
pub struct Tenant {
    pub tenant_id: String,
    pub name: String,
}

struct CodeGrant {
    redirect_uri: String,
    challenge: String,
    grant_id: String,
    used: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum RefreshState {
    Current,
    /// Superseded; usable until the instant.
    Grace(Instant),
    Dead,
}

struct Grant {
    auth_event_id: String,
    revoked: bool,
}

struct Conn {
    id: String,
    tenant: Tenant,
    auth_event_id: String,
    grant_id: String,
    created: String,
}

#[derive(Default)]
struct IdState {
    codes: HashMap<String, CodeGrant>,
    refresh: HashMap<String, (String, RefreshState)>,
    access: HashMap<String, (String, Instant)>,
    grants: HashMap<String, Grant>,
    connections: Vec<Conn>,
}

pub struct FakeIdentityConfig {
    pub deny_consent: bool,
    /// The organisations the next consent authorises.
    pub tenants: Vec<Tenant>,
    pub access_token_life: Duration,
    /// Process the next refresh, then fail to answer it (a lost response).
    pub lose_next_refresh_response: bool,
    /// Delay every token call (to widen race windows in concurrency tests).
    pub token_delay: Duration,
}

impl Default for FakeIdentityConfig {
    fn default() -> Self {
        FakeIdentityConfig {
            deny_consent: false,
            tenants: vec![Tenant { tenant_id: uuid::Uuid::new_v4().to_string(), name: "Demo Company (NZ)".into() }],
            access_token_life: Duration::from_secs(1800),
            lose_next_refresh_response: false,
            token_delay: Duration::ZERO,
        }
    }
}

pub struct Shared {
    state: Mutex<IdState>,
    pub accounting: Mutex<crate::fake_accounting::Accounting>,
    pub config: Mutex<FakeIdentityConfig>,
    pub refreshes: std::sync::atomic::AtomicUsize,
    pub code_exchanges: std::sync::atomic::AtomicUsize,
    pub(crate) recorder: Recorder,
}

impl Shared {
    /// The tenants a bearer token may reach, or None when the token is unknown, expired or revoked.
    pub(crate) fn tenants_for_token(&self, headers: &HeaderMap) -> Option<Vec<String>> {
        let st = lock(&self.state);
        let grant = bearer_grant(&st, headers)?;
        Some(st.connections.iter().filter(|c| c.grant_id == grant).map(|c| c.tenant.tenant_id.clone()).collect())
    }
}

#[derive(Clone)]
pub struct FakeIdentity {
    pub shared: Arc<Shared>,
    pub base_url: String,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn jwt(grant: &Grant, life: Duration) -> String {
    let b64 = |v: serde_json::Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let header = b64(serde_json::json!({"alg": "RS256", "kid": "fake", "typ": "JWT"}));
    let exp = time::OffsetDateTime::now_utc().unix_timestamp() + life.as_secs() as i64;
    let payload = b64(serde_json::json!({
        "iss": "https://identity.xero.com", "exp": exp, "authentication_event_id": grant.auth_event_id,
        "xero_userid": "fake-user", "jti": new_id(),
    }));
    format!("{header}.{payload}.{}", uuid::Uuid::new_v4().simple())
}

impl FakeIdentity {
    /// Serves the fake on 127.0.0.1 (a free port) until the process ends.
    pub async fn start(config: FakeIdentityConfig) -> anyhow::Result<Self> {
        Self::start_on(0, config).await
    }

    pub async fn start_on(port: u16, config: FakeIdentityConfig) -> anyhow::Result<Self> {
        let shared = Arc::new(Shared {
            state: Mutex::new(IdState::default()),
            accounting: Mutex::new(Default::default()),
            config: Mutex::new(config),
            refreshes: Default::default(),
            code_exchanges: Default::default(),
            recorder: Recorder::from_env("xero"),
        });
        let app = Router::new()
            .route("/identity/connect/authorize", get(authorize))
            .route("/connect/token", post(token))
            .route("/connect/revocation", post(revoke))
            .route("/connections", get(connections))
            .route("/connections/{id}", delete(delete_connection))
            .merge(crate::fake_accounting::routes())
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let base_url = format!("http://{}", listener.local_addr()?);
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(FakeIdentity { shared, base_url })
    }

    pub fn refresh_count(&self) -> usize {
        self.shared.refreshes.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn configure(&self, f: impl FnOnce(&mut FakeIdentityConfig)) {
        f(&mut lock(&self.shared.config));
    }

    /// Revokes every grant, as a user removing the app in Xero would.
    pub fn revoke_all(&self) {
        let mut st = lock(&self.shared.state);
        for g in st.grants.values_mut() {
            g.revoked = true;
        }
        st.connections.clear();
    }

    pub fn connection_count(&self) -> usize {
        lock(&self.shared.state).connections.len()
    }
}

#[derive(serde::Deserialize)]
struct AuthorizeQuery {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    scope: Option<String>,
    state: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

async fn authorize(State(s): State<Arc<Shared>>, Query(q): Query<AuthorizeQuery>) -> Response {
    let (Some(redirect_uri), Some(state)) = (q.redirect_uri.clone(), q.state.clone()) else {
        return (StatusCode::BAD_REQUEST, "missing redirect_uri or state").into_response();
    };
    if q.response_type.as_deref() != Some("code") || q.client_id.as_deref() != Some(CLIENT_ID) {
        return (StatusCode::BAD_REQUEST, "unauthorized_client").into_response();
    }
    if q.code_challenge_method.as_deref() != Some("S256") || q.code_challenge.is_none() {
        return (StatusCode::BAD_REQUEST, "PKCE S256 required by this fake").into_response();
    }
    if !q.scope.unwrap_or_default().split(' ').any(|s| s == "offline_access") {
        return (StatusCode::BAD_REQUEST, "invalid_scope").into_response();
    }
    let sep = if redirect_uri.contains('?') { '&' } else { '?' };
    let enc = |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
    let config = lock(&s.config);
    if config.deny_consent {
        return found(format!("{redirect_uri}{sep}error=access_denied&state={}", enc(&state))).into_response();
    }
    let mut st = lock(&s.state);
    let grant_id = new_id();
    let auth_event_id = new_id();
    for t in &config.tenants {
        // One connection per tenant per user and app: a reconnect replaces the old one.
        st.connections.retain(|c| c.tenant.tenant_id != t.tenant_id);
        st.connections.push(Conn {
            id: new_id(),
            tenant: t.clone(),
            auth_event_id: auth_event_id.clone(),
            grant_id: grant_id.clone(),
            created: time::OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
        });
    }
    st.grants.insert(grant_id.clone(), Grant { auth_event_id, revoked: false });
    let code = uuid::Uuid::new_v4().simple().to_string();
    st.codes.insert(
        code.clone(),
        CodeGrant {
            redirect_uri: redirect_uri.clone(),
            challenge: q.code_challenge.unwrap_or_default(),
            grant_id,
            used: false,
        },
    );
    found(format!("{redirect_uri}{sep}code={code}&state={}&scope=offline_access", enc(&state))).into_response()
}

/// Xero's login service answers consent with a 302.
fn found(location: String) -> Response {
    (StatusCode::FOUND, [(axum::http::header::LOCATION, location)]).into_response()
}

fn oauth_error(status: StatusCode, error: &str) -> Response {
    (status, Json(serde_json::json!({ "error": error }))).into_response()
}

fn client_ok(headers: &HeaderMap) -> bool {
    let Some(auth) = headers.get("authorization").and_then(|v| v.to_str().ok()) else { return false };
    let Some(b64) = auth.strip_prefix("Basic ") else { return false };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(b64.trim()) else { return false };
    // RFC 6749 2.3.1: id and secret are form-urlencoded inside Basic auth.
    let text = String::from_utf8_lossy(&decoded).into_owned();
    let Some((id, secret)) = text.split_once(':') else { return false };
    let dec = |v: &str| url::form_urlencoded::parse(format!("x={v}").as_bytes()).next().map(|(_, v)| v.into_owned());
    dec(id).as_deref() == Some(CLIENT_ID) && dec(secret).as_deref() == Some(CLIENT_SECRET)
}

fn issue(st: &mut IdState, grant_id: &str, life: Duration) -> serde_json::Value {
    let grant = &st.grants[grant_id];
    let access = jwt(grant, life);
    let refresh = uuid::Uuid::new_v4().simple().to_string();
    st.access.insert(access.clone(), (grant_id.to_owned(), Instant::now() + life));
    st.refresh.insert(refresh.clone(), (grant_id.to_owned(), RefreshState::Current));
    serde_json::json!({
        "access_token": access, "expires_in": life.as_secs(), "token_type": "Bearer", "refresh_token": refresh,
        "scope": "offline_access accounting.invoices accounting.payments accounting.contacts accounting.settings",
    })
}

async fn token(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let (delay, life) = {
        let c = lock(&s.config);
        (c.token_delay, c.access_token_life)
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let response = token_inner(&s, &headers, &form, life);
    let body = serde_json::Value::Object(
        form.iter().filter(|(k, _)| *k == "grant_type").map(|(k, v)| (k.clone(), v.clone().into())).collect(),
    );
    s.recorder.record("POST", "/connect/token", "", Some(&body), response.status().as_u16(), None);
    response
}

fn token_inner(s: &Shared, headers: &HeaderMap, form: &HashMap<String, String>, life: Duration) -> Response {
    if !client_ok(headers) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    let mut st = lock(&s.state);
    match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            s.code_exchanges.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let code = form.get("code").cloned().unwrap_or_default();
            let Some(c) = st.codes.get_mut(&code) else { return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant") };
            if c.used || Some(&c.redirect_uri) != form.get("redirect_uri") {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
            }
            let verifier = form.get("code_verifier").cloned().unwrap_or_default();
            let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
            if computed != c.challenge {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
            }
            c.used = true;
            let grant_id = c.grant_id.clone();
            Json(issue(&mut st, &grant_id, life)).into_response()
        }
        Some("refresh_token") => {
            s.refreshes.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let presented = form.get("refresh_token").cloned().unwrap_or_default();
            let Some((grant_id, state)) = st.refresh.get(&presented).cloned() else {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
            };
            let usable = match state {
                RefreshState::Current => true,
                RefreshState::Grace(until) => Instant::now() < until,
                RefreshState::Dead => false,
            };
            if !usable || st.grants.get(&grant_id).is_none_or(|g| g.revoked) {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
            }
            // Rotation: the presented token enters (or stays in) its grace; earlier ones die.
            for (tok, (gid, st8)) in st.refresh.iter_mut() {
                if *gid == grant_id && *tok != presented && *st8 == RefreshState::Current {
                    *st8 = RefreshState::Dead;
                }
            }
            if state == RefreshState::Current {
                st.refresh.insert(presented, (grant_id.clone(), RefreshState::Grace(Instant::now() + GRACE)));
            }
            let body = issue(&mut st, &grant_id, life);
            let mut config = lock(&s.config);
            if config.lose_next_refresh_response {
                config.lose_next_refresh_response = false;
                return (StatusCode::BAD_GATEWAY, "upstream connection reset").into_response();
            }
            Json(body).into_response()
        }
        _ => oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type"),
    }
}

async fn revoke(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if !client_ok(&headers) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    let mut st = lock(&s.state);
    let token = form.get("token").cloned().unwrap_or_default();
    if let Some((grant_id, _)) = st.refresh.get(&token).cloned() {
        if let Some(g) = st.grants.get_mut(&grant_id) {
            g.revoked = true;
        }
        // Revoking removes all of the grant's connections.
        st.connections.retain(|c| c.grant_id != grant_id);
    }
    s.recorder.record("POST", "/connect/revocation", "", None, 200, None);
    StatusCode::OK.into_response()
}

fn bearer_grant(st: &IdState, headers: &HeaderMap) -> Option<String> {
    let token = headers.get("authorization")?.to_str().ok()?.strip_prefix("Bearer ")?;
    let (grant_id, until) = st.access.get(token)?;
    (Instant::now() < *until && !st.grants.get(grant_id)?.revoked).then(|| grant_id.clone())
}

async fn connections(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let st = lock(&s.state);
    let query = q.get("authEventId").map(|v| format!("authEventId={v}")).unwrap_or_default();
    if bearer_grant(&st, &headers).is_none() {
        s.recorder.record("GET", "/connections", &query, None, 401, None);
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let list: Vec<serde_json::Value> = st
        .connections
        .iter()
        .filter(|c| q.get("authEventId").is_none_or(|e| *e == c.auth_event_id))
        .map(|c| {
            serde_json::json!({
                "id": c.id, "authEventId": c.auth_event_id, "tenantId": c.tenant.tenant_id, "tenantType": "ORGANISATION",
                "tenantName": c.tenant.name, "createdDateUtc": c.created, "updatedDateUtc": c.created,
            })
        })
        .collect();
    let body = serde_json::Value::Array(list);
    s.recorder.record("GET", "/connections", &query, None, 200, Some(&body));
    Json(body).into_response()
}

async fn delete_connection(State(s): State<Arc<Shared>>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let mut st = lock(&s.state);
    let path = format!("/connections/{id}");
    if bearer_grant(&st, &headers).is_none() {
        s.recorder.record("DELETE", &path, "", None, 401, None);
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let before = st.connections.len();
    st.connections.retain(|c| c.id != id);
    let status = if st.connections.len() < before { StatusCode::NO_CONTENT } else { StatusCode::NOT_FOUND };
    s.recorder.record("DELETE", &path, "", None, status.as_u16(), None);
    status.into_response()
}
