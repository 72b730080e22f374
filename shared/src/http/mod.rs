//! Lambda HTTP (API Gateway HttpApi) entry points: map a `lambda_http::Request` onto a use case
//! and its outcome onto a response. Errors never escape as 5xx unless our side failed.

pub mod connect;
pub mod webhook;

use lambda_http::{Body, Response};

/// A small JSON response. Bodies carry stable codes and short messages, never internals.
pub fn json_response(status: u16, body: serde_json::Value) -> Response<Body> {
    let mut resp = Response::new(Body::Text(body.to_string()));
    *resp.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    resp
}

/// The value of a path parameter, from API Gateway's `pathParameters` or, where the event has
/// none (e.g. `cargo lambda watch` without a router), from the path itself after `prefix`.
pub fn path_param(req: &lambda_http::Request, name: &str, prefix: &str) -> Option<String> {
    use lambda_http::RequestExt;
    if let Some(v) = req.path_parameters_ref().and_then(|p| p.first(name)) {
        return Some(v.to_owned());
    }
    let path = req.raw_http_path();
    let path = if path.is_empty() { req.uri().path() } else { path };
    let idx = path.find(prefix)?;
    let rest = &path[idx + prefix.len()..];
    let segment = rest.split('/').next().unwrap_or_default();
    (!segment.is_empty()).then(|| segment.to_owned())
}
