//! `GET /connect/{store_id}?t=…`, `GET /oauth/callback` and `POST /oauth/callback` (tenant choice).
//! Pages are small, escaped HTML and never show tokens.

use lambda_http::{Body, Request, RequestExt, Response};

use crate::connect::{CallbackOutcome, CallbackParams, ConnectDeps, ConnectError};
use crate::store::{webhook_url, Store, SYNCED_TOPICS};

pub struct ConnectHttp {
    pub deps: ConnectDeps,
    /// Base URL of the HTTP API, for the delivery URL shown after connecting.
    pub public_api_url: Option<String>,
}

/// Wires the connect flow to the real adapters.
pub fn connect_http(
    clients: &crate::aws::AwsClients,
    config: &crate::config::ConnectConfig,
) -> Result<ConnectHttp, crate::xero::identity::IdentitySetupError> {
    let table =
        std::sync::Arc::new(crate::aws::dynamo::DynamoTable::new(clients.dynamodb.clone(), &config.resources.table));
    let table_for_states: std::sync::Arc<dyn crate::ports::OrderStateRepo> = table.clone();
    let vault = std::sync::Arc::new(crate::aws::secrets::SecretsManagerVault::new(
        clients.secrets.clone(),
        &config.resources.store_secret_prefix,
    ));
    Ok(ConnectHttp {
        deps: ConnectDeps {
            stores: table.clone(),
            once: table,
            identity: std::sync::Arc::new(crate::xero::identity_from_config(clients, &config.xero)?),
            vault,
            clock: std::sync::Arc::new(crate::clock::SystemClock),
            settings: crate::connect::ConnectSettings::default(),
            parked: Some((
                table_for_states,
                std::sync::Arc::new(crate::aws::sqs::SqsJobQueue::new(
                    clients.sqs.clone(),
                    &config.resources.sync_queue_url,
                )),
            )),
        },
        public_api_url: config.public_api_url.clone(),
    })
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

fn page(status: u16, title: &str, body_html: &str) -> Response<Body> {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\
         <meta name=\"viewport\" content=\"width=device-width\"><style>body{{font-family:system-ui,sans-serif;max-width:42rem;margin:3rem auto;padding:0 1rem;line-height:1.5}}code{{background:#f3f3f3;padding:.1rem .3rem}}</style></head>\
         <body><h1>{t}</h1>{body_html}</body></html>",
        t = escape(title)
    );
    let mut resp = Response::new(Body::Text(html));
    *resp.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::BAD_REQUEST);
    let headers = resp.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static("no-store"));
    headers.insert("referrer-policy", http::HeaderValue::from_static("no-referrer"));
    resp
}

fn error_page(e: &ConnectError) -> Response<Body> {
    let (title, status) = match e {
        ConnectError::AccessDenied => ("Connection cancelled", e.status()),
        ConnectError::Forbidden => ("Link not valid", e.status()),
        ConnectError::UnknownStore => ("Unknown store", e.status()),
        ConnectError::Storage(_) | ConnectError::Identity(_) => ("Try again shortly", e.status()),
        _ => ("Could not connect to Xero", e.status()),
    };
    match e {
        ConnectError::Storage(_) | ConnectError::Identity(_) => {
            tracing::error!(error = %crate::error::chain(e), status, "connect flow failed");
        }
        _ => tracing::warn!(error = %e, status, "connect flow refused"),
    }
    let message = match e {
        ConnectError::Storage(_) => {
            "Something on our side did not answer. Nothing was stored; please start again from a new connect link."
                .to_owned()
        }
        ConnectError::Identity(_) => {
            "Xero did not complete the sign-in. Nothing was stored; please start again from a new connect link."
                .to_owned()
        }
        other => other.to_string(),
    };
    page(status, title, &format!("<p>{}</p>", escape(&message)))
}

fn connected_page(store: &Store, api_url: &str) -> Response<Body> {
    let tenant = store.tenant_name.as_deref().or(store.tenant_id.as_deref()).unwrap_or("your organisation");
    let body = format!(
        "<p>Store <code>{store}</code> is now connected to the Xero organisation <strong>{tenant}</strong>.</p>\
         <p>In WooCommerce → Settings → Advanced → Webhooks, add one webhook per topic:</p>\
         <ul><li>Delivery URL: <code>{url}</code></li><li>Topics: {topics}</li><li>API version: WP REST API Integration v3</li>\
         <li>Secret: the one <code>wooxero store add</code> printed</li></ul><p>You can close this page.</p>",
        store = escape(store.id.as_str()),
        tenant = escape(tenant),
        url = escape(&webhook_url(api_url, &store.id)),
        topics = SYNCED_TOPICS.iter().map(|t| format!("<code>{t}</code>")).collect::<Vec<_>>().join(", "),
    );
    page(200, "Connected to Xero", &body)
}

fn redirect(location: &str) -> Response<Body> {
    let mut resp =
        page(302, "Continue to Xero", &format!("<p><a href=\"{0}\">Continue to Xero</a></p>", escape(location)));
    if let Ok(v) = http::HeaderValue::from_str(location) {
        resp.headers_mut().insert(http::header::LOCATION, v);
    }
    resp
}

fn api_url(h: &ConnectHttp, req: &Request) -> String {
    if let Some(url) = &h.public_api_url {
        return url.clone();
    }
    let host = req.headers().get(http::header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("localhost");
    format!("https://{host}")
}

fn query(req: &Request, name: &str) -> Option<String> {
    req.query_string_parameters_ref().and_then(|q| q.first(name)).map(str::to_owned)
}

/// The oauth-callback Lambda handler. Never returns `Err`.
pub async fn handle_connect(h: &ConnectHttp, req: Request) -> Result<Response<Body>, std::convert::Infallible> {
    let path = req.raw_http_path().to_owned();
    let path = if path.is_empty() { req.uri().path().to_owned() } else { path };
    let method = req.method().clone();
    let resp = if method == http::Method::GET && path.contains("/connect/") {
        let store = super::path_param(&req, "store_id", "/connect/").unwrap_or_default();
        match h.deps.start(&store, query(&req, "t").as_deref()).await {
            Ok(location) => redirect(&location),
            Err(e) => error_page(&e),
        }
    } else if path.ends_with("/oauth/callback") && method == http::Method::GET {
        let params =
            CallbackParams { code: query(&req, "code"), state: query(&req, "state"), error: query(&req, "error") };
        match h.deps.callback(params).await {
            Ok(CallbackOutcome::Connected { store }) => connected_page(&store, &api_url(h, &req)),
            Ok(CallbackOutcome::ChooseTenant { store, choice, tenants }) => {
                let options: String = tenants
                    .iter()
                    .map(|t| {
                        format!(
                            "<p><label><input type=\"radio\" name=\"tenant_id\" value=\"{id}\" required> {name}</label></p>",
                            id = escape(&t.tenant_id),
                            name = escape(t.tenant_name.as_deref().unwrap_or(&t.tenant_id))
                        )
                    })
                    .collect();
                let action = path.clone();
                let body = format!(
                    "<p>You authorised several Xero organisations. Which one should store <code>{store}</code> send its invoices to?</p>\
                     <form method=\"post\" action=\"{action}\"><input type=\"hidden\" name=\"choice\" value=\"{choice}\">{options}\
                     <button type=\"submit\">Connect</button></form>",
                    store = escape(store.as_str()),
                    action = escape(&action),
                    choice = escape(&choice),
                );
                page(200, "Choose an organisation", &body)
            }
            Err(e) => error_page(&e),
        }
    } else if path.ends_with("/oauth/callback") && method == http::Method::POST {
        let form: Vec<(String, String)> = url::form_urlencoded::parse(req.body().as_ref()).into_owned().collect();
        let field = |k: &str| form.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone()).unwrap_or_default();
        match h.deps.choose(&field("choice"), &field("tenant_id")).await {
            Ok(store) => connected_page(&store, &api_url(h, &req)),
            Err(e) => error_page(&e),
        }
    } else {
        page(404, "Not found", "<p>Nothing here.</p>")
    };
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escapes_markup() {
        assert_eq!(escape("<b a=\"1\">O'Neil & Co</b>"), "&lt;b a=&quot;1&quot;&gt;O&#x27;Neil &amp; Co&lt;/b&gt;");
    }
}
