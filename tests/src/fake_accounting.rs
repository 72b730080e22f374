//! A stateful fake of the Xero Accounting API, per tenant: Organisation, Accounts, TaxRates,
//! Contacts, Items and Invoices, with Xero's behaviour where this project depends on it:
//! - totals by Xero's rules (line amount = round(qty × unit, 2), tax per line rounded to 2 dp;
//!   Exclusive, Inclusive and NoTax), computed here independently of the crate under test;
//! - validation: unique ACCREC InvoiceNumber, unique active contact names, known accounts, tax
//!   types, items and contacts, unit amounts within `unitdp`; Xero's error shapes, with
//!   `summarizeErrors=false` honoured (200 with per-element errors);
//! - rate limits per tenant (60/min, 5 concurrent, a daily cap; the minute can be scaled down) →
//!   429 with Retry-After, X-Rate-Limit-Problem and the X-*-Remaining headers on every answer;
//! - Idempotency-Key remembered for 6 minutes (replays the first answer; a different request
//!   with the same key is a 400);
//! - injectable 5xx answers and slowness.
//!
//! Every exchange is recorded for `xero-contract-check`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{json, Value};

use crate::fake_identity::Shared;

pub const IDEMPOTENCY_MEMORY: Duration = Duration::from_secs(6 * 60);

#[derive(Clone, Debug)]
pub struct Limits {
    pub per_minute: u32,
    pub per_day: u32,
    pub concurrent: u32,
    /// The length of Xero's "minute" here; tests shrink it to make windows pass quickly.
    pub minute: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { per_minute: 60, per_day: 5000, concurrent: 5, minute: Duration::from_secs(60) }
    }
}

#[derive(Default)]
pub struct Faults {
    /// Answer the next N accounting calls with 500.
    pub fail_next: u32,
    /// Answer the next N calls with 429 (minute limit) whatever the counters say.
    pub throttle_next: u32,
    pub delay: Duration,
}

#[derive(Default)]
pub struct TenantBooks {
    pub payments: Vec<Value>,
    pub credit_notes: Vec<Value>,
    pub quotes: Vec<Value>,
    pub history: Vec<(String, String)>,
    pub contacts: Vec<Value>,
    pub items: Vec<Value>,
    pub invoices: Vec<Value>,
    pub tax_rates: Vec<Value>,
    pub accounts: Vec<Value>,
    minute_start: Option<Instant>,
    minute_calls: u32,
    day_calls: u32,
    in_flight: u32,
    idempotency: HashMap<String, (String, Instant, u16, Value)>,
}

#[derive(Default)]
pub struct Accounting {
    pub tenants: HashMap<String, TenantBooks>,
    pub limits: Limits,
    pub faults: Faults,
    /// Every accounting call, by method and path, for call-count assertions.
    pub calls: Vec<(String, String)>,
}

fn tax_rate(name: &str, tax_type: &str, rate: &str) -> Value {
    json!({
        "Name": name, "TaxType": tax_type, "Status": "ACTIVE", "ReportTaxType": "OUTPUT",
        "CanApplyToAssets": true, "CanApplyToEquity": true, "CanApplyToExpenses": true, "CanApplyToLiabilities": true,
        "CanApplyToRevenue": true, "DisplayTaxRate": rate.parse::<f64>().unwrap_or(0.0),
        "EffectiveRate": rate.parse::<f64>().unwrap_or(0.0),
        "TaxComponents": [{"Name": name, "Rate": rate.parse::<f64>().unwrap_or(0.0), "IsCompound": false, "IsNonRecoverable": false}]
    })
}

fn account(code: &str, name: &str, kind: &str) -> Value {
    json!({"AccountID": uuid::Uuid::new_v4().to_string(), "Code": code, "Name": name, "Type": kind, "Status": "ACTIVE",
           "TaxType": "NONE", "EnablePaymentsToAccount": kind == "BANK", "Class": if kind == "BANK" { "ASSET" } else { "REVENUE" }})
}

impl TenantBooks {
    /// A New Zealand-style demo organisation, with a few extra rates the scenario tests use.
    pub fn seeded() -> Self {
        TenantBooks {
            tax_rates: vec![
                tax_rate("15% GST on Income", "OUTPUT2", "15.0"),
                tax_rate("Zero Rated", "ZERORATEDOUTPUT", "0.0"),
                tax_rate("Exempt", "EXEMPTOUTPUT", "0.0"),
                tax_rate("No GST", "NONE", "0.0"),
                tax_rate("GST on Income 10%", "TAX001", "10.0"),
                tax_rate("VAT 20%", "TAX002", "20.0"),
                tax_rate("Reduced 5%", "TAX003", "5.0"),
                tax_rate("State + County 8.25%", "TAX004", "8.25"),
                tax_rate("Consumption 8%", "TAX005", "8.0"),
                tax_rate("Sales Tax 7.5%", "TAX006", "7.5"),
                tax_rate("Sales Tax 2%", "TAX007", "2.0"),
            ],
            accounts: vec![
                account("200", "Sales", "REVENUE"),
                account("210", "Shipping Income", "REVENUE"),
                account("260", "Other Revenue", "REVENUE"),
                account("860", "Rounding", "REVENUE"),
                account("090", "Business Bank Account", "BANK"),
                account("091", "Stripe Clearing", "BANK"),
            ],
            ..Default::default()
        }
    }
}

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/api.xro/2.0/Organisation", get(any_route))
        .route("/api.xro/2.0/Accounts", get(any_route))
        .route("/api.xro/2.0/TaxRates", get(any_route))
        .route("/api.xro/2.0/Contacts", get(any_route).put(any_route).post(any_route))
        .route("/api.xro/2.0/Items", get(any_route).put(any_route).post(any_route))
        .route("/api.xro/2.0/Invoices", get(any_route).put(any_route).post(any_route))
        .route("/api.xro/2.0/Invoices/{id}", get(any_with_id).post(any_with_id))
        .route("/api.xro/2.0/Invoices/{id}/History", axum::routing::put(any_with_id))
        .route("/api.xro/2.0/Payments", get(any_route).put(any_route))
        .route("/api.xro/2.0/CreditNotes", get(any_route).put(any_route))
        .route("/api.xro/2.0/CreditNotes/{id}/Allocations", axum::routing::put(any_with_id))
        .route("/api.xro/2.0/Quotes", get(any_route).put(any_route))
        .route("/api.xro/2.0/Quotes/{id}", get(any_with_id).post(any_with_id))
        // Not Xero: lets the local demo show what the fake holds, without a token.
        .route("/fake/invoices", get(all_invoices))
        .route("/fake/books", get(all_books))
}

async fn all_books(State(s): State<Arc<Shared>>) -> Response {
    let acc = lock(&s.accounting);
    let pick =
        |f: fn(&TenantBooks) -> &Vec<Value>| acc.tenants.values().flat_map(|b| f(b).clone()).collect::<Vec<Value>>();
    axum::Json(json!({
        "Invoices": pick(|b| &b.invoices), "Payments": pick(|b| &b.payments),
        "CreditNotes": pick(|b| &b.credit_notes), "Quotes": pick(|b| &b.quotes),
    }))
    .into_response()
}

async fn all_invoices(State(s): State<Arc<Shared>>) -> Response {
    let acc = lock(&s.accounting);
    let list: Vec<Value> = acc.tenants.values().flat_map(|b| b.invoices.clone()).collect();
    axum::Json(list).into_response()
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn ms_date(date: &str) -> String {
    let d = time::Date::parse(date, time::macros::format_description!("[year]-[month]-[day]")).ok();
    let ms = d.map(|d| d.midnight().assume_utc().unix_timestamp() * 1000).unwrap_or(0);
    format!("/Date({ms}+0000)/")
}

fn now_ms_date() -> String {
    format!("/Date({}+0000)/", time::OffsetDateTime::now_utc().unix_timestamp() * 1000)
}

fn dec(v: &Value) -> Option<Decimal> {
    match v {
        Value::Number(n) => n.to_string().parse().ok(),
        Value::String(s) => s.parse().ok(),
        Value::Null => None,
        _ => None,
    }
}

fn num(d: Decimal) -> Value {
    // Exact: through the decimal's text, never a binary float's arithmetic.
    serde_json::from_str(&d.normalize().to_string()).unwrap_or(Value::Null)
}

fn r2(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

fn error_response(message: &str, elements: Vec<Value>) -> (u16, Value) {
    (400, json!({"ErrorNumber": 10, "Type": "ValidationException", "Message": message, "Elements": elements}))
}

fn simple_error(status: u16, message: &str) -> (u16, Value) {
    (status, json!({"ErrorNumber": 0, "Type": "Error", "Message": message}))
}

struct Call<'a> {
    method: &'a Method,
    path: &'a str,
    id: Option<&'a str>,
    query: &'a HashMap<String, String>,
    body: Option<Value>,
}

async fn any_route(
    State(s): State<Arc<Shared>>,
    method: Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    handle(s, method, uri, headers, query, None, body).await
}

async fn any_with_id(
    State(s): State<Arc<Shared>>,
    method: Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    handle(s, method, uri, headers, query, Some(id), body).await
}

enum Gate {
    Go,
    Stop(u16, Value, Vec<(&'static str, String)>),
}

async fn handle(
    s: Arc<Shared>,
    method: Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    query: HashMap<String, String>,
    id: Option<String>,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let raw_query = uri.query().unwrap_or_default().to_owned();
    let body_json: Option<Value> = if body.is_empty() { None } else { serde_json::from_slice(&body).ok() };
    let tenant = headers.get("xero-tenant-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let idem_key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let fingerprint = format!("{method} {path}?{raw_query} {}", String::from_utf8_lossy(&body));

    let delay = lock(&s.accounting).faults.delay;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    // Authorisation, tenant, faults, rate limits and idempotency, in Xero's order.
    let gate = {
        let authorised = s.tenants_for_token(&headers);
        let mut acc = lock(&s.accounting);
        acc.calls.push((method.to_string(), path.clone()));
        if authorised.is_none() {
            Gate::Stop(
                401,
                json!({"Type": null, "Title": "Unauthorized", "Status": 401, "Detail": "AuthenticationUnsuccessful"}),
                vec![],
            )
        } else if !authorised.as_ref().is_some_and(|t| t.contains(&tenant)) {
            Gate::Stop(
                403,
                json!({"Type": null, "Title": "Forbidden", "Status": 403, "Detail": "AuthorizationUnsuccessful"}),
                vec![],
            )
        } else if acc.faults.fail_next > 0 {
            acc.faults.fail_next -= 1;
            Gate::Stop(
                500,
                json!({"ErrorNumber": 500, "Type": "UnknownErrorException", "Message": "An error occurred in Xero."}),
                vec![],
            )
        } else {
            let limits = acc.limits.clone();
            let forced = if acc.faults.throttle_next > 0 {
                acc.faults.throttle_next -= 1;
                true
            } else {
                false
            };
            let books = acc.tenants.entry(tenant.clone()).or_insert_with(TenantBooks::seeded);
            let now = Instant::now();
            if books.minute_start.is_none_or(|t| now.duration_since(t) >= limits.minute) {
                books.minute_start = Some(now);
                books.minute_calls = 0;
            }
            let minute_left = limits.minute.saturating_sub(now.duration_since(books.minute_start.unwrap_or(now)));
            let retry_after = minute_left.as_secs_f64().ceil().max(1.0) as u64;
            let remaining = |b: &TenantBooks| {
                vec![
                    ("X-MinLimit-Remaining", limits.per_minute.saturating_sub(b.minute_calls).to_string()),
                    ("X-DayLimit-Remaining", limits.per_day.saturating_sub(b.day_calls).to_string()),
                    ("X-AppMinLimit-Remaining", "9999".to_owned()),
                ]
            };
            if books.day_calls >= limits.per_day {
                let mut h = remaining(books);
                h.push(("Retry-After", "86400".into()));
                h.push(("X-Rate-Limit-Problem", "day".into()));
                Gate::Stop(429, Value::Null, h)
            } else if forced || books.minute_calls >= limits.per_minute {
                let mut h = remaining(books);
                h.push(("Retry-After", retry_after.to_string()));
                h.push(("X-Rate-Limit-Problem", "minute".into()));
                Gate::Stop(429, Value::Null, h)
            } else if books.in_flight >= limits.concurrent {
                let mut h = remaining(books);
                h.push(("Retry-After", "1".into()));
                h.push(("X-Rate-Limit-Problem", "concurrent".into()));
                Gate::Stop(429, Value::Null, h)
            } else {
                books.minute_calls += 1;
                books.day_calls += 1;
                books.in_flight += 1;
                Gate::Go
            }
        }
    };
    let (status, response, extra_headers) = match gate {
        Gate::Stop(status, body, headers) => (status, body, headers),
        Gate::Go => {
            let (status, response) = {
                let mut acc = lock(&s.accounting);
                let books = acc.tenants.entry(tenant.clone()).or_insert_with(TenantBooks::seeded);
                books.idempotency.retain(|_, (_, at, _, _)| at.elapsed() < IDEMPOTENCY_MEMORY);
                let replay = idem_key.as_ref().and_then(|k| books.idempotency.get(k).cloned());
                let result = match replay {
                    Some((fp, _, status, resp)) if fp == fingerprint => (status, resp),
                    Some(_) => simple_error(400, "Idempotency Key has already been used with a different request"),
                    None => {
                        let call = Call {
                            method: &method,
                            path: &path,
                            id: id.as_deref(),
                            query: &query,
                            body: body_json.clone(),
                        };
                        let result = dispatch(books, &call);
                        if let Some(k) = &idem_key {
                            if method != Method::GET {
                                // Xero caches errors too.
                                books.idempotency.insert(
                                    k.clone(),
                                    (fingerprint.clone(), Instant::now(), result.0, result.1.clone()),
                                );
                            }
                        }
                        result
                    }
                };
                if let Some(b) = acc.tenants.get_mut(&tenant) {
                    b.in_flight = b.in_flight.saturating_sub(1);
                }
                result
            };
            let acc = lock(&s.accounting);
            let b = acc.tenants.get(&tenant);
            let headers = vec![
                (
                    "X-MinLimit-Remaining",
                    b.map(|b| acc.limits.per_minute.saturating_sub(b.minute_calls)).unwrap_or(0).to_string(),
                ),
                (
                    "X-DayLimit-Remaining",
                    b.map(|b| acc.limits.per_day.saturating_sub(b.day_calls)).unwrap_or(0).to_string(),
                ),
                ("X-AppMinLimit-Remaining", "9999".to_owned()),
            ];
            (status, response, headers)
        }
    };
    s.recorder.record(
        method.as_str(),
        &path,
        &raw_query,
        body_json.as_ref(),
        status,
        if response.is_null() || status == 401 || status == 403 || status == 429 || status == 500 {
            None
        } else {
            Some(&response)
        },
    );
    let mut resp = if response.is_null() {
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR).into_response()
    } else {
        (StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), axum::Json(response))
            .into_response()
    };
    for (k, v) in extra_headers {
        if let Ok(v) = HeaderValue::from_str(&v) {
            resp.headers_mut().insert(k, v);
        }
    }
    resp
}

/// The values of `Field=="a" OR Field=="b"` filters, the form this project sends (Xero compares
/// case-insensitively).
fn where_any(query: &HashMap<String, String>, field: &str) -> Option<Vec<String>> {
    let w = query.get("where")?;
    let values: Vec<String> = w
        .split(" OR ")
        .filter_map(|part| {
            part.trim()
                .strip_prefix(field)?
                .trim_start()
                .strip_prefix("==")
                .map(|v| v.trim().trim_matches('"').to_owned())
        })
        .collect();
    Some(values)
}

fn where_eq(query: &HashMap<String, String>, field: &str) -> Option<String> {
    where_any(query, field).and_then(|v| v.into_iter().next())
}

fn dispatch(books: &mut TenantBooks, c: &Call<'_>) -> (u16, Value) {
    let resource = c.path.trim_start_matches("/api.xro/2.0/").split('/').next().unwrap_or_default();
    match (c.method.as_str(), resource) {
        ("GET", "Organisation") => (
            200,
            json!({"Organisations": [{"OrganisationID": "b2c885a9-4bb9-4a00-9b6e-6c2bf60b1a65", "Name": "Demo Company (NZ)",
                   "BaseCurrency": "NZD", "CountryCode": "NZ", "OrganisationType": "COMPANY", "Version": "NZ"}]}),
        ),
        ("GET", "Accounts") => (200, json!({ "Accounts": books.accounts })),
        ("GET", "TaxRates") => (200, json!({ "TaxRates": books.tax_rates })),
        ("GET", "Contacts") => {
            let list: Vec<Value> = books
                .contacts
                .iter()
                .filter(|ct| {
                    where_eq(c.query, "EmailAddress")
                        .is_none_or(|e| ct["EmailAddress"].as_str().is_some_and(|x| x.eq_ignore_ascii_case(&e)))
                })
                .filter(|ct| {
                    where_eq(c.query, "Name")
                        .is_none_or(|n| ct["Name"].as_str().is_some_and(|x| x.eq_ignore_ascii_case(&n)))
                })
                .cloned()
                .collect();
            (200, json!({ "Contacts": list }))
        }
        ("PUT" | "POST", "Contacts") => elements(c, "Contacts", |el| create_contact(books, el)),
        ("GET", "Items") => {
            let list: Vec<Value> = books
                .items
                .iter()
                .filter(|it| {
                    where_any(c.query, "Code").is_none_or(|codes| {
                        codes.iter().any(|code| it["Code"].as_str().is_some_and(|x| x.eq_ignore_ascii_case(code)))
                    })
                })
                .cloned()
                .collect();
            (200, json!({ "Items": list }))
        }
        ("PUT" | "POST", "Items") => elements(c, "Items", |el| create_item(books, el)),
        ("GET", "Invoices") => {
            let numbers: Vec<String> =
                c.query.get("InvoiceNumbers").map(|v| v.split(',').map(str::to_owned).collect()).unwrap_or_default();
            let list: Vec<Value> = books
                .invoices
                .iter()
                .filter(|inv| c.id.is_none_or(|id| inv["InvoiceID"] == id))
                .filter(|inv| numbers.is_empty() || numbers.iter().any(|n| inv["InvoiceNumber"] == n.as_str()))
                .cloned()
                .collect();
            if c.id.is_some() && list.is_empty() {
                return simple_error(404, "Resource not found");
            }
            (200, json!({ "Invoices": list }))
        }
        ("PUT", "Invoices") if c.path.ends_with("/History") => {
            let id = c.id.unwrap_or_default().to_owned();
            if !books.invoices.iter().any(|i| i["InvoiceID"] == id.as_str()) {
                return simple_error(404, "Resource not found");
            }
            let records = c.body.as_ref().and_then(|b| b["HistoryRecords"].as_array().cloned()).unwrap_or_default();
            let mut out = Vec::new();
            for r in records {
                let details = r["Details"].as_str().unwrap_or_default().to_owned();
                books.history.push((id.clone(), details.clone()));
                out.push(json!({"Details": details, "DateUTC": now_ms_date(), "User": "System Generated", "Changes": "Note"}));
            }
            (200, json!({ "HistoryRecords": out }))
        }
        ("PUT" | "POST", "Invoices") => {
            let unitdp = c.query.get("unitdp").and_then(|v| v.parse::<u32>().ok()).unwrap_or(2);
            match c.id {
                Some(id) => elements(c, "Invoices", |el| update_invoice(books, id, el, unitdp)),
                None => elements(c, "Invoices", |el| create_invoice(books, el, unitdp)),
            }
        }
        ("GET", "Payments") => (200, json!({ "Payments": books.payments })),
        ("PUT", "Payments") => elements(c, "Payments", |el| create_payment(books, el)),
        ("GET", "CreditNotes") => {
            let list: Vec<Value> = books
                .credit_notes
                .iter()
                .filter(|n| {
                    where_eq(c.query, "CreditNoteNumber").is_none_or(|num| n["CreditNoteNumber"] == num.as_str())
                })
                .cloned()
                .collect();
            (200, json!({ "CreditNotes": list }))
        }
        ("PUT", "CreditNotes") if c.path.ends_with("/Allocations") => {
            let id = c.id.unwrap_or_default().to_owned();
            elements(c, "Allocations", |el| allocate(books, &id, el))
        }
        ("PUT", "CreditNotes") => {
            let unitdp = c.query.get("unitdp").and_then(|v| v.parse::<u32>().ok()).unwrap_or(2);
            elements(c, "CreditNotes", |el| create_credit_note(books, el, unitdp))
        }
        ("GET", "Quotes") => {
            let list: Vec<Value> = books
                .quotes
                .iter()
                .filter(|q| c.id.is_none_or(|id| q["QuoteID"] == id))
                .filter(|q| c.query.get("QuoteNumber").is_none_or(|n| q["QuoteNumber"] == n.as_str()))
                .cloned()
                .collect();
            (200, json!({ "Quotes": list }))
        }
        ("PUT" | "POST", "Quotes") => match c.id {
            Some(id) => elements(c, "Quotes", |el| update_quote(books, id, el)),
            None => elements(c, "Quotes", |el| create_quote(books, el)),
        },
        _ => simple_error(404, "Resource not found"),
    }
}

/// Runs `create` on each element of `{"<Key>": [...]}` and answers as Xero does, honouring
/// `summarizeErrors=false`.
fn elements(
    c: &Call<'_>,
    key: &str,
    mut create: impl FnMut(&Value) -> Result<Value, (Value, Vec<String>)>,
) -> (u16, Value) {
    let Some(list) = c.body.as_ref().and_then(|b| b.get(key)).and_then(Value::as_array) else {
        return error_response(
            "A validation exception occurred",
            vec![json!({"ValidationErrors": [{"Message": format!("The request must contain {key}")}]})],
        );
    };
    let summarize = c.query.get("summarizeErrors").map(|v| v != "false").unwrap_or(true);
    let mut out = Vec::new();
    let mut any_error = false;
    for el in list {
        match create(el) {
            Ok(saved) => out.push(saved),
            Err((mut echoed, messages)) => {
                any_error = true;
                echoed["ValidationErrors"] = Value::Array(messages.iter().map(|m| json!({"Message": m})).collect());
                echoed["HasErrors"] = json!(true);
                echoed["StatusAttributeString"] = json!("ERROR");
                out.push(echoed);
            }
        }
    }
    if any_error && summarize {
        let failed: Vec<Value> = out.into_iter().filter(|e| e["HasErrors"] == json!(true)).collect();
        return error_response("A validation exception occurred", failed);
    }
    (200, json!({ key: out }))
}

fn create_contact(books: &mut TenantBooks, el: &Value) -> Result<Value, (Value, Vec<String>)> {
    let name = el["Name"].as_str().unwrap_or_default().trim().to_owned();
    let mut errors = Vec::new();
    if name.is_empty() {
        errors.push("The contact name must be specified.".to_owned());
    } else if name.chars().count() > 255 {
        errors.push("The contact name must not exceed 255 characters.".to_owned());
    } else if books.contacts.iter().any(|c| c["Name"].as_str().is_some_and(|n| n.eq_ignore_ascii_case(&name))) {
        errors.push(format!("The contact name {name} is already assigned to another contact. The contact name must be unique across all active contacts."));
    }
    let email = el["EmailAddress"].as_str().unwrap_or_default();
    if !email.is_empty() && (!email.contains('@') || email.contains(' ')) {
        errors.push("Email address must be valid.".to_owned());
    }
    if !errors.is_empty() {
        return Err((el.clone(), errors));
    }
    let mut saved = el.clone();
    saved["ContactID"] = json!(uuid::Uuid::new_v4().to_string());
    saved["ContactStatus"] = json!("ACTIVE");
    saved["UpdatedDateUTC"] = json!(now_ms_date());
    saved["HasValidationErrors"] = json!(false);
    books.contacts.push(saved.clone());
    Ok(saved)
}

fn create_item(books: &mut TenantBooks, el: &Value) -> Result<Value, (Value, Vec<String>)> {
    let code = el["Code"].as_str().unwrap_or_default().to_owned();
    let mut errors = Vec::new();
    if code.is_empty() {
        errors.push("Item code must be specified.".to_owned());
    } else if code.chars().count() > 30 {
        errors.push("The Code must not exceed 30 characters.".to_owned());
    } else if books.items.iter().any(|i| i["Code"].as_str().is_some_and(|c| c.eq_ignore_ascii_case(&code))) {
        errors.push(format!("Item code '{code}' already exists"));
    }
    if el["Name"].as_str().is_some_and(|n| n.chars().count() > 50) {
        errors.push("The Name must not exceed 50 characters.".to_owned());
    }
    if !errors.is_empty() {
        return Err((el.clone(), errors));
    }
    let mut saved = el.clone();
    saved["ItemID"] = json!(uuid::Uuid::new_v4().to_string());
    saved["IsTrackedAsInventory"] = json!(false);
    saved["UpdatedDateUTC"] = json!(now_ms_date());
    books.items.push(saved.clone());
    Ok(saved)
}

fn create_invoice(books: &mut TenantBooks, el: &Value, unitdp: u32) -> Result<Value, (Value, Vec<String>)> {
    let mut errors = Vec::new();
    let kind = el["Type"].as_str().unwrap_or_default();
    if kind != "ACCREC" && kind != "ACCPAY" {
        errors.push("Invoice Type must be specified".to_owned());
    }
    let contact_id = el["Contact"]["ContactID"].as_str().unwrap_or_default();
    let contact = books.contacts.iter().find(|c| c["ContactID"] == contact_id).cloned();
    if contact.is_none() {
        errors.push("A Contact must be specified for this type of transaction".to_owned());
    }
    let number = el["InvoiceNumber"].as_str().unwrap_or_default().to_owned();
    if kind == "ACCREC"
        && !number.is_empty()
        && books.invoices.iter().any(|i| i["InvoiceNumber"] == number.as_str() && i["Type"] == "ACCREC")
    {
        errors.push("Invoice # must be unique.".to_owned());
    }
    let status = el["Status"].as_str().unwrap_or("DRAFT");
    if !matches!(status, "DRAFT" | "SUBMITTED" | "AUTHORISED") {
        errors.push(format!("Invalid status {status} for a new invoice"));
    }
    let types = el["LineAmountTypes"].as_str().unwrap_or("Exclusive");
    let computed = compute_lines(books, el, unitdp);
    if let Err(e) = &computed {
        errors.extend(e.iter().cloned());
    }
    if !errors.is_empty() {
        return Err((el.clone(), errors));
    }
    let (saved_lines, sub_total, tax_total, total) = computed.unwrap_or_default();
    let date = el["Date"].as_str().unwrap_or("2026-01-01");
    let due = el["DueDate"].as_str().unwrap_or(date);
    let contact = contact.unwrap_or_default();
    let saved = json!({
        "Type": kind, "InvoiceID": uuid::Uuid::new_v4().to_string(), "InvoiceNumber": number,
        "Reference": el["Reference"].as_str().unwrap_or_default(),
        "Contact": {"ContactID": contact["ContactID"], "Name": contact["Name"]},
        "Date": ms_date(date), "DateString": format!("{date}T00:00:00"), "DueDate": ms_date(due), "DueDateString": format!("{due}T00:00:00"),
        "Status": status, "LineAmountTypes": types, "LineItems": saved_lines,
        "SubTotal": num(sub_total), "TotalTax": num(tax_total), "Total": num(total),
        "AmountDue": num(total), "AmountPaid": 0, "AmountCredited": 0,
        "CurrencyCode": el["CurrencyCode"].as_str().unwrap_or("NZD"), "CurrencyRate": 1,
        "UpdatedDateUTC": now_ms_date(), "HasAttachments": false, "HasErrors": false, "IsDiscounted": false,
        "StatusAttributeString": "OK",
    });
    let mut stored = saved.clone();
    if let Some(url) = el.get("Url") {
        stored["Url"] = url.clone();
    }
    books.invoices.push(stored.clone());
    Ok(stored)
}

/// Lines and totals by Xero's rules, or the validation errors.
fn compute_lines(
    books: &TenantBooks,
    el: &Value,
    unitdp: u32,
) -> Result<(Vec<Value>, Decimal, Decimal, Decimal), Vec<String>> {
    let mut errors = Vec::new();
    // Invoices say Inclusive; quotes say INCLUSIVE.
    let types = match el["LineAmountTypes"].as_str().unwrap_or("Exclusive").to_ascii_lowercase().as_str() {
        "inclusive" => "Inclusive",
        "notax" => "NoTax",
        _ => "Exclusive",
    };
    let lines = el["LineItems"].as_array().cloned().unwrap_or_default();
    if lines.is_empty() {
        errors.push("At least one line item must be specified".to_owned());
    }
    let mut saved_lines = Vec::new();
    let (mut amounts, mut tax_total) = (Decimal::ZERO, Decimal::ZERO);
    for line in &lines {
        let qty = dec(&line["Quantity"]).unwrap_or(Decimal::ONE);
        let unit = dec(&line["UnitAmount"]).unwrap_or(Decimal::ZERO);
        if unit.normalize().scale() > unitdp {
            errors.push(format!("Unit amount {unit} has more than {unitdp} decimal places"));
        }
        let mut account = line["AccountCode"].as_str().map(str::to_owned);
        if let Some(code) = line["ItemCode"].as_str() {
            match books.items.iter().find(|i| i["Code"] == code) {
                Some(item) => {
                    if account.is_none() {
                        account = item["SalesDetails"]["AccountCode"].as_str().map(str::to_owned);
                    }
                }
                None => errors.push(format!("Item code '{code}' is not valid")),
            }
        }
        match &account {
            Some(code) if books.accounts.iter().any(|a| a["Code"] == code.as_str()) => {}
            Some(code) => errors.push(format!("Account code '{code}' is not a valid code for this document.")),
            None => errors.push("Account code must be specified".to_owned()),
        }
        let tax_type = line["TaxType"].as_str().unwrap_or("NONE");
        let Some(rate) =
            books.tax_rates.iter().find(|t| t["TaxType"] == tax_type).and_then(|t| dec(&t["EffectiveRate"]))
        else {
            errors.push(format!(
                "The TaxType code '{tax_type}' does not exist or cannot be used for this type of transaction."
            ));
            continue;
        };
        let line_amount = r2(qty * unit);
        let hundred = Decimal::ONE_HUNDRED;
        let tax = match types {
            "NoTax" => Decimal::ZERO,
            "Inclusive" => r2(line_amount * rate / (hundred + rate)),
            _ => r2(line_amount * rate / hundred),
        };
        amounts += line_amount;
        tax_total += tax;
        let mut saved = line.clone();
        saved["LineItemID"] = json!(uuid::Uuid::new_v4().to_string());
        saved["LineAmount"] = num(line_amount);
        saved["TaxAmount"] = num(tax);
        saved["TaxType"] = json!(tax_type);
        if let Some(a) = account {
            saved["AccountCode"] = json!(a);
        }
        saved_lines.push(saved);
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let sub_total = if types == "Inclusive" { amounts - tax_total } else { amounts };
    Ok((saved_lines, sub_total, tax_total, sub_total + tax_total))
}

fn update_invoice(books: &mut TenantBooks, id: &str, el: &Value, unitdp: u32) -> Result<Value, (Value, Vec<String>)> {
    let Some(pos) = books.invoices.iter().position(|i| i["InvoiceID"] == id) else {
        return Err((el.clone(), vec!["Invoice not found".to_owned()]));
    };
    let current = books.invoices[pos].clone();
    let status = current["Status"].as_str().unwrap_or_default().to_owned();
    let paid = dec(&current["AmountPaid"]).unwrap_or_default() + dec(&current["AmountCredited"]).unwrap_or_default();
    let mut inv = current.clone();
    if let Some(new_status) = el["Status"].as_str() {
        if new_status != status {
            match new_status {
                "VOIDED" if paid > Decimal::ZERO => {
                    return Err((el.clone(), vec!["Invoice not of valid status for modification. This document cannot be edited as it has a payment or credit note allocated to it.".to_owned()]))
                }
                "VOIDED" if status != "AUTHORISED" && status != "SUBMITTED" => {
                    return Err((el.clone(), vec![format!("Only AUTHORISED invoices can be voided; this one is {status}")]))
                }
                "DELETED" if status != "DRAFT" && status != "SUBMITTED" => {
                    return Err((el.clone(), vec![format!("Only DRAFT and SUBMITTED invoices can be deleted; this one is {status}")]))
                }
                "VOIDED" | "DELETED" | "AUTHORISED" | "SUBMITTED" => inv["Status"] = json!(new_status),
                other => return Err((el.clone(), vec![format!("Invalid status change to {other}")])),
            }
        }
    }
    if el.get("LineItems").is_some() {
        if status == "PAID" || paid > Decimal::ZERO || status == "VOIDED" || status == "DELETED" {
            return Err((el.clone(), vec!["Invoice not of valid status for modification".to_owned()]));
        }
        let (lines, sub, tax, total) = compute_lines(books, el, unitdp).map_err(|e| (el.clone(), e))?;
        inv["LineItems"] = Value::Array(lines);
        inv["SubTotal"] = num(sub);
        inv["TotalTax"] = num(tax);
        inv["Total"] = num(total);
        inv["AmountDue"] = num(total);
        for k in ["LineAmountTypes", "Reference", "CurrencyCode"] {
            if let Some(v) = el.get(k) {
                inv[k] = v.clone();
            }
        }
    }
    inv["UpdatedDateUTC"] = json!(now_ms_date());
    books.invoices[pos] = inv.clone();
    Ok(inv)
}

fn create_payment(books: &mut TenantBooks, el: &Value) -> Result<Value, (Value, Vec<String>)> {
    let amount = dec(&el["Amount"]).unwrap_or_default();
    let account = el["Account"]["Code"].as_str().unwrap_or_default();
    let mut errors = Vec::new();
    match books.accounts.iter().find(|a| a["Code"] == account) {
        Some(a) if a["Type"] == "BANK" || a["EnablePaymentsToAccount"] == json!(true) => {}
        Some(_) => errors.push(format!("Account {account} is not a bank account and does not accept payments")),
        None => errors.push(format!("Account code '{account}' is not a valid code")),
    }
    if amount <= Decimal::ZERO {
        errors.push("Payment amount must be greater than zero".to_owned());
    }
    let (collection, id_field, id) = if let Some(id) = el["Invoice"]["InvoiceID"].as_str() {
        ("invoices", "InvoiceID", id.to_owned())
    } else if let Some(id) = el["CreditNote"]["CreditNoteID"].as_str() {
        ("credit_notes", "CreditNoteID", id.to_owned())
    } else {
        errors.push("An invoice or credit note must be specified".to_owned());
        ("", "", String::new())
    };
    if !errors.is_empty() {
        return Err((el.clone(), errors));
    }
    let docs = if collection == "invoices" { &mut books.invoices } else { &mut books.credit_notes };
    let Some(doc) = docs.iter_mut().find(|d| d[id_field] == id.as_str()) else {
        return Err((el.clone(), vec![format!("{id_field} {id} is not valid")]));
    };
    if doc["Status"] != "AUTHORISED" {
        return Err((el.clone(), vec!["Payment can only be made against an AUTHORISED document".to_owned()]));
    }
    let due_field = if collection == "invoices" { "AmountDue" } else { "RemainingCredit" };
    let due = dec(&doc[due_field]).unwrap_or_default();
    if amount > due {
        return Err((el.clone(), vec![format!("Payment amount ({amount}) exceeds the amount outstanding ({due})")]));
    }
    let left = due - amount;
    doc[due_field] = num(left);
    if collection == "invoices" {
        doc["AmountPaid"] = num(dec(&doc["AmountPaid"]).unwrap_or_default() + amount);
    }
    if left.is_zero() {
        doc["Status"] = json!("PAID");
    }
    let payment_id = uuid::Uuid::new_v4().to_string();
    let entry = json!({"PaymentID": payment_id, "Amount": num(amount), "Reference": el["Reference"].as_str().unwrap_or_default(), "Date": now_ms_date()});
    let list = doc.get("Payments").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut list = list;
    list.push(entry);
    doc["Payments"] = Value::Array(list);
    let kind = if collection == "invoices" { "ACCRECPAYMENT" } else { "ARCREDITPAYMENT" };
    let saved = json!({
        "PaymentID": payment_id, "Amount": num(amount), "Reference": el["Reference"].as_str().unwrap_or_default(),
        "Date": ms_date(el["Date"].as_str().unwrap_or("2026-01-01")), "Status": "AUTHORISED", "PaymentType": kind,
        "Account": {"Code": account}, "UpdatedDateUTC": now_ms_date(), "HasValidationErrors": false, "IsReconciled": false,
    });
    books.payments.push(saved.clone());
    Ok(saved)
}

fn create_credit_note(books: &mut TenantBooks, el: &Value, unitdp: u32) -> Result<Value, (Value, Vec<String>)> {
    let mut errors = Vec::new();
    if el["Type"] != "ACCRECCREDIT" && el["Type"] != "ACCPAYCREDIT" {
        errors.push("Credit note Type must be specified".to_owned());
    }
    let contact_id = el["Contact"]["ContactID"].as_str().unwrap_or_default();
    let contact = books.contacts.iter().find(|c| c["ContactID"] == contact_id).cloned();
    if contact.is_none() {
        errors.push("A Contact must be specified for this type of transaction".to_owned());
    }
    let number = el["CreditNoteNumber"].as_str().unwrap_or_default().to_owned();
    if !number.is_empty() && books.credit_notes.iter().any(|n| n["CreditNoteNumber"] == number.as_str()) {
        errors.push("Credit Note # must be unique.".to_owned());
    }
    let computed = compute_lines(books, el, unitdp);
    if let Err(e) = &computed {
        errors.extend(e.iter().cloned());
    }
    if !errors.is_empty() {
        return Err((el.clone(), errors));
    }
    let (lines, sub, tax, total) = computed.unwrap_or_default();
    let contact = contact.unwrap_or_default();
    let date = el["Date"].as_str().unwrap_or("2026-01-01");
    let saved = json!({
        "Type": el["Type"], "CreditNoteID": uuid::Uuid::new_v4().to_string(), "CreditNoteNumber": number,
        "Reference": el["Reference"].as_str().unwrap_or_default(), "Contact": {"ContactID": contact["ContactID"], "Name": contact["Name"]},
        "Date": ms_date(date), "DateString": format!("{date}T00:00:00"), "Status": el["Status"].as_str().unwrap_or("DRAFT"),
        "LineAmountTypes": el["LineAmountTypes"].as_str().unwrap_or("Exclusive"), "LineItems": lines,
        "SubTotal": num(sub), "TotalTax": num(tax), "Total": num(total), "RemainingCredit": num(total),
        "CurrencyCode": el["CurrencyCode"].as_str().unwrap_or("NZD"), "CurrencyRate": 1, "UpdatedDateUTC": now_ms_date(),
        "HasErrors": false, "StatusAttributeString": "OK", "Allocations": [], "Payments": [],
    });
    books.credit_notes.push(saved.clone());
    Ok(saved)
}

fn allocate(books: &mut TenantBooks, credit_note_id: &str, el: &Value) -> Result<Value, (Value, Vec<String>)> {
    let amount = dec(&el["Amount"]).unwrap_or_default();
    let invoice_id = el["Invoice"]["InvoiceID"].as_str().unwrap_or_default();
    let Some(ni) = books.credit_notes.iter().position(|n| n["CreditNoteID"] == credit_note_id) else {
        return Err((el.clone(), vec!["Credit note not found".to_owned()]));
    };
    let Some(ii) = books.invoices.iter().position(|i| i["InvoiceID"] == invoice_id) else {
        return Err((el.clone(), vec!["Invoice not found".to_owned()]));
    };
    let remaining = dec(&books.credit_notes[ni]["RemainingCredit"]).unwrap_or_default();
    let due = dec(&books.invoices[ii]["AmountDue"]).unwrap_or_default();
    if books.credit_notes[ni]["Status"] != "AUTHORISED" {
        return Err((el.clone(), vec!["Only AUTHORISED credit notes can be allocated".to_owned()]));
    }
    if amount > due {
        return Err((
            el.clone(),
            vec![format!("The amount allocated ({amount}) cannot exceed the amount due on the invoice ({due})")],
        ));
    }
    if amount > remaining {
        return Err((
            el.clone(),
            vec![format!("The amount allocated ({amount}) cannot exceed the remaining credit ({remaining})")],
        ));
    }
    let note = &mut books.credit_notes[ni];
    note["RemainingCredit"] = num(remaining - amount);
    if (remaining - amount).is_zero() {
        note["Status"] = json!("PAID");
    }
    let inv = &mut books.invoices[ii];
    inv["AmountDue"] = num(due - amount);
    inv["AmountCredited"] = num(dec(&inv["AmountCredited"]).unwrap_or_default() + amount);
    if (due - amount).is_zero() {
        inv["Status"] = json!("PAID");
    }
    Ok(
        json!({"AllocationID": uuid::Uuid::new_v4().to_string(), "Amount": num(amount), "Date": ms_date(el["Date"].as_str().unwrap_or("2026-01-01")),
              "Invoice": {"InvoiceID": invoice_id}, "CreditNote": {"CreditNoteID": credit_note_id}, "IsDeleted": false}),
    )
}

fn create_quote(books: &mut TenantBooks, el: &Value) -> Result<Value, (Value, Vec<String>)> {
    let number = el["QuoteNumber"].as_str().unwrap_or_default().to_owned();
    let mut errors = Vec::new();
    if !number.is_empty() && books.quotes.iter().any(|q| q["QuoteNumber"] == number.as_str()) {
        errors.push("Quote # must be unique.".to_owned());
    }
    let contact_id = el["Contact"]["ContactID"].as_str().unwrap_or_default();
    let contact = books.contacts.iter().find(|c| c["ContactID"] == contact_id).cloned();
    if contact.is_none() {
        errors.push("A Contact must be specified".to_owned());
    }
    if el["Date"].as_str().is_none() {
        errors.push("Date must be specified".to_owned());
    }
    let computed = compute_lines(books, el, 4);
    if let Err(e) = &computed {
        errors.extend(e.iter().cloned());
    }
    if !errors.is_empty() {
        return Err((el.clone(), errors));
    }
    let (lines, sub, tax, total) = computed.unwrap_or_default();
    let contact = contact.unwrap_or_default();
    let date = el["Date"].as_str().unwrap_or("2026-01-01");
    let saved = json!({
        "QuoteID": uuid::Uuid::new_v4().to_string(), "QuoteNumber": number, "Reference": el["Reference"].as_str().unwrap_or_default(),
        "Contact": {"ContactID": contact["ContactID"], "Name": contact["Name"]}, "Date": ms_date(date), "DateString": format!("{date}T00:00:00"),
        "ExpiryDate": ms_date(el["ExpiryDate"].as_str().unwrap_or(date)), "Status": el["Status"].as_str().unwrap_or("DRAFT"),
        "LineAmountTypes": el["LineAmountTypes"].as_str().unwrap_or("EXCLUSIVE").to_ascii_uppercase(), "LineItems": lines, "SubTotal": num(sub),
        "TotalTax": num(tax), "Total": num(total), "CurrencyCode": el["CurrencyCode"].as_str().unwrap_or("NZD"),
        "Title": el["Title"].as_str().unwrap_or_default(), "UpdatedDateUTC": now_ms_date(),
    });
    books.quotes.push(saved.clone());
    Ok(saved)
}

fn update_quote(books: &mut TenantBooks, id: &str, el: &Value) -> Result<Value, (Value, Vec<String>)> {
    let Some(pos) = books.quotes.iter().position(|q| q["QuoteID"] == id) else {
        return Err((el.clone(), vec!["Quote not found".to_owned()]));
    };
    let mut q = books.quotes[pos].clone();
    let from = q["Status"].as_str().unwrap_or("DRAFT").to_owned();
    if let Some(to) = el["Status"].as_str() {
        let allowed = matches!(
            (from.as_str(), to),
            (a, b) if a == b
        ) || matches!(
            (from.as_str(), to),
            ("DRAFT", "SENT" | "DELETED")
                | ("SENT", "ACCEPTED" | "DECLINED" | "DRAFT")
                | ("ACCEPTED", "INVOICED" | "SENT")
                | ("DECLINED", "SENT")
        );
        if !allowed {
            return Err((el.clone(), vec![format!("A quote cannot move from {from} to {to}")]));
        }
        q["Status"] = json!(to);
    }
    if el.get("LineItems").is_some() && matches!(from.as_str(), "DRAFT" | "SENT") {
        let (lines, sub, tax, total) = compute_lines(books, el, 4).map_err(|e| (el.clone(), e))?;
        q["LineItems"] = Value::Array(lines);
        q["SubTotal"] = num(sub);
        q["TotalTax"] = num(tax);
        q["Total"] = num(total);
    }
    q["UpdatedDateUTC"] = json!(now_ms_date());
    books.quotes[pos] = q.clone();
    Ok(q)
}
