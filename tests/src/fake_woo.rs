//! A fake WooCommerce REST API: `GET /wp-json/wc/v3/orders/{id}` with consumer key/secret
//! (Basic auth), serving whatever order versions a test puts in it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine;

pub const CONSUMER_KEY: &str = "ck_fake0000000000000000000000000000000000";
pub const CONSUMER_SECRET: &str = "cs_fake0000000000000000000000000000000000";

#[derive(Default)]
pub struct WooState {
    pub orders: HashMap<u64, String>,
    pub refunds: HashMap<u64, String>,
    pub requests: usize,
}

#[derive(Clone)]
pub struct FakeWoo {
    pub state: Arc<Mutex<WooState>>,
    pub base_url: String,
}

impl FakeWoo {
    pub async fn start() -> anyhow::Result<Self> {
        let state = Arc::new(Mutex::new(WooState::default()));
        let app = Router::new()
            .route("/wp-json/wc/v3/orders/{id}", get(order))
            .route("/wp-json/wc/v3/orders/{id}/refunds", get(refunds))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base_url = format!("http://{}", listener.local_addr()?);
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(FakeWoo { state, base_url })
    }

    pub fn put_order(&self, id: u64, json: &str) {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).orders.insert(id, json.to_owned());
    }

    /// The refunds list (`GET /orders/{id}/refunds`) for an order, as JSON.
    pub fn put_refunds(&self, id: u64, json: &str) {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).refunds.insert(id, json.to_owned());
    }

    pub fn requests(&self) -> usize {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).requests
    }
}

async fn order(State(state): State<Arc<Mutex<WooState>>>, headers: HeaderMap, Path(id): Path<u64>) -> Response {
    let expected = base64::engine::general_purpose::STANDARD.encode(format!("{CONSUMER_KEY}:{CONSUMER_SECRET}"));
    let authorised = headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Basic {expected}"));
    let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
    st.requests += 1;
    if !authorised {
        return (StatusCode::UNAUTHORIZED, axum::Json(serde_json::json!({"code": "woocommerce_rest_cannot_view", "message": "Sorry, you cannot view this resource.", "data": {"status": 401}}))).into_response();
    }
    match st.orders.get(&id) {
        Some(body) => ([("content-type", "application/json")], body.clone()).into_response(),
        None => (StatusCode::NOT_FOUND, axum::Json(serde_json::json!({"code": "woocommerce_rest_shop_order_invalid_id", "message": "Invalid ID.", "data": {"status": 404}}))).into_response(),
    }
}

async fn refunds(State(state): State<Arc<Mutex<WooState>>>, headers: HeaderMap, Path(id): Path<u64>) -> Response {
    let expected = base64::engine::general_purpose::STANDARD.encode(format!("{CONSUMER_KEY}:{CONSUMER_SECRET}"));
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(&format!("Basic {expected}")) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
    st.requests += 1;
    let body = st.refunds.get(&id).cloned().unwrap_or_else(|| "[]".to_owned());
    ([("content-type", "application/json")], body).into_response()
}
