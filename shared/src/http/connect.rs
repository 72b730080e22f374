//! `GET /connect/{store_id}` and `GET /oauth/callback`. The Xero connect flow is not built yet:
//! the routes exist so the stack deploys whole, and answer that plainly.

use lambda_http::{Body, Request, Response};

pub async fn not_yet_available(req: Request) -> Result<Response<Body>, std::convert::Infallible> {
    tracing::info!(
        path = req.uri().path(),
        "connect request received; the connect flow is not built yet"
    );
    Ok(super::json_response(
        501,
        serde_json::json!({"error": "not_implemented", "message": "connecting a store to Xero is not available in this version"}),
    ))
}
