//! The Xero Accounting API client: base URL injected, bearer token and tenant per call,
//! `Idempotency-Key` on every write, `summarizeErrors=false` so each element reports its own
//! errors, rate-limit headers parsed, and every failure sorted into retry-later or permanent.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;

use super::model::{
    ContactRecord, CreditNote, CreditNoteRecord, Invoice, InvoiceRecord, ItemRecord, NewContact, NewItem,
    PaymentRecord, Quote, QuoteRecord, TaxRateRecord,
};
use crate::error::BoxError;

/// Who a call is for, and a counter of the calls made for the current job.
pub struct XeroCtx {
    pub access_token: SecretString,
    pub tenant_id: String,
    pub calls: AtomicU32,
}

impl XeroCtx {
    pub fn new(access_token: SecretString, tenant_id: String) -> Self {
        XeroCtx { access_token, tenant_id, calls: AtomicU32::new(0) }
    }
    pub fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum XeroApiError {
    #[error("Xero rate limit reached ({problem}); retry after {retry_after:?}")]
    RateLimited { retry_after: Duration, problem: String },
    #[error("Xero did not answer usefully")]
    Transient(#[source] BoxError),
    #[error("Xero refused the access token (401)")]
    Unauthorized,
    #[error("Xero rejected the request: {}", .0.join("; "))]
    Validation(Vec<String>),
    #[error("Xero answered {status}: {message}")]
    Refused { status: u16, message: String },
}

impl XeroApiError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, XeroApiError::RateLimited { .. } | XeroApiError::Transient(_) | XeroApiError::Unauthorized)
    }
}

#[async_trait]
pub trait XeroAccounting: Send + Sync {
    async fn tax_rates(&self, ctx: &XeroCtx) -> Result<Vec<TaxRateRecord>, XeroApiError>;
    async fn find_contact(
        &self,
        ctx: &XeroCtx,
        field: &str,
        value: &str,
    ) -> Result<Option<ContactRecord>, XeroApiError>;
    async fn create_contact(
        &self,
        ctx: &XeroCtx,
        contact: &NewContact,
        key: &str,
    ) -> Result<ContactRecord, XeroApiError>;
    /// The items among `codes` that exist (one call for up to 25 codes).
    async fn find_items(&self, ctx: &XeroCtx, codes: &[String]) -> Result<Vec<ItemRecord>, XeroApiError>;
    /// Creates up to 50 items in one call; each element answers for itself.
    async fn create_items(
        &self,
        ctx: &XeroCtx,
        items: &[NewItem],
        key: &str,
    ) -> Result<Vec<Result<ItemRecord, Vec<String>>>, XeroApiError>;
    async fn find_invoice_by_number(&self, ctx: &XeroCtx, number: &str) -> Result<Option<InvoiceRecord>, XeroApiError>;
    async fn create_invoice(&self, ctx: &XeroCtx, invoice: &Invoice, key: &str) -> Result<InvoiceRecord, XeroApiError>;
    async fn get_invoice(&self, ctx: &XeroCtx, invoice_id: &str) -> Result<InvoiceRecord, XeroApiError>;
    /// Rewrites an invoice in place (same InvoiceID and number): lines, totals, dates.
    async fn update_invoice(
        &self,
        ctx: &XeroCtx,
        invoice_id: &str,
        invoice: &Invoice,
        key: &str,
    ) -> Result<InvoiceRecord, XeroApiError>;
    /// `VOIDED` (authorised, unpaid) or `DELETED` (draft).
    async fn set_invoice_status(
        &self,
        ctx: &XeroCtx,
        invoice_id: &str,
        status: &str,
        key: &str,
    ) -> Result<InvoiceRecord, XeroApiError>;
    async fn add_invoice_history(
        &self,
        ctx: &XeroCtx,
        invoice_id: &str,
        details: &str,
        key: &str,
    ) -> Result<(), XeroApiError>;
    /// A payment against an invoice or a credit note (`target` is `Invoice` or `CreditNote`).
    #[allow(clippy::too_many_arguments)]
    async fn create_payment(
        &self,
        ctx: &XeroCtx,
        target: &str,
        target_id: &str,
        account_code: &str,
        date: &str,
        amount: rust_decimal::Decimal,
        reference: &str,
        key: &str,
    ) -> Result<PaymentRecord, XeroApiError>;
    async fn create_credit_note(
        &self,
        ctx: &XeroCtx,
        note: &CreditNote,
        key: &str,
    ) -> Result<CreditNoteRecord, XeroApiError>;
    async fn find_credit_note(&self, ctx: &XeroCtx, number: &str) -> Result<Option<CreditNoteRecord>, XeroApiError>;
    async fn allocate_credit_note(
        &self,
        ctx: &XeroCtx,
        credit_note_id: &str,
        invoice_id: &str,
        amount: rust_decimal::Decimal,
        date: &str,
        key: &str,
    ) -> Result<(), XeroApiError>;
    async fn create_quote(&self, ctx: &XeroCtx, quote: &Quote, key: &str) -> Result<QuoteRecord, XeroApiError>;
    async fn update_quote(
        &self,
        ctx: &XeroCtx,
        quote_id: &str,
        quote: &Quote,
        key: &str,
    ) -> Result<QuoteRecord, XeroApiError>;
    async fn find_quote(&self, ctx: &XeroCtx, number: &str) -> Result<Option<QuoteRecord>, XeroApiError>;
}

pub struct HttpXeroAccounting {
    base: String,
    http: reqwest::Client,
}

impl HttpXeroAccounting {
    /// `base` is the Accounting API root, e.g. `https://api.xero.com/api.xro/2.0`.
    pub fn new(base: impl Into<String>) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .connect_timeout(Duration::from_secs(3))
            .build()?;
        Ok(HttpXeroAccounting { base: base.into().trim_end_matches('/').to_owned(), http })
    }

    async fn call<T: DeserializeOwned>(
        &self,
        ctx: &XeroCtx,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<(&serde_json::Value, &str)>,
    ) -> Result<T, XeroApiError> {
        ctx.calls.fetch_add(1, Ordering::SeqCst);
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .query(query)
            .bearer_auth(ctx.access_token.expose_secret())
            .header("xero-tenant-id", &ctx.tenant_id)
            .header("accept", "application/json");
        if let Some((json, key)) = body {
            req = req.header("Idempotency-Key", key).json(json);
        }
        let resp = req.send().await.map_err(|e| XeroApiError::Transient(Box::new(e)))?;
        let status = resp.status().as_u16();
        let header = |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        if status == 429 {
            let retry_after = header("retry-after").and_then(|v| v.trim().parse::<u64>().ok()).unwrap_or(60);
            let problem = header("x-rate-limit-problem").unwrap_or_else(|| "unknown".into()).to_ascii_lowercase();
            return Err(XeroApiError::RateLimited { retry_after: Duration::from_secs(retry_after.max(1)), problem });
        }
        let text = resp.text().await.map_err(|e| XeroApiError::Transient(Box::new(e)))?;
        match status {
            200..=299 => serde_json::from_str(&text).map_err(|e| XeroApiError::Transient(Box::new(e))),
            401 => Err(XeroApiError::Unauthorized),
            500..=599 => Err(XeroApiError::Transient(format!("HTTP {status}").into())),
            400 => Err(XeroApiError::Validation(validation_messages(&text))),
            _ => Err(XeroApiError::Refused { status, message: short_message(&text) }),
        }
    }

    /// PUT `{"<key>": [element]}` and return the one element, turning its own errors into `Validation`.
    async fn create_one<T: DeserializeOwned>(
        &self,
        ctx: &XeroCtx,
        path: &str,
        key: &str,
        element: serde_json::Value,
        idempotency_key: &str,
        extra_query: &[(&str, &str)],
    ) -> Result<T, XeroApiError> {
        self.write_one(ctx, reqwest::Method::PUT, path, key, element, idempotency_key, extra_query).await
    }

    /// PUT or POST `{"<key>": [element]}`, as `create_one`.
    #[allow(clippy::too_many_arguments)]
    async fn write_one<T: DeserializeOwned>(
        &self,
        ctx: &XeroCtx,
        method: reqwest::Method,
        path: &str,
        key: &str,
        element: serde_json::Value,
        idempotency_key: &str,
        extra_query: &[(&str, &str)],
    ) -> Result<T, XeroApiError> {
        let body = serde_json::json!({ key: [element] });
        let mut query = vec![("summarizeErrors", "false")];
        query.extend_from_slice(extra_query);
        let resp: serde_json::Value = self.call(ctx, method, path, &query, Some((&body, idempotency_key))).await?;
        let first = resp
            .get(key)
            .and_then(|l| l.get(0))
            .cloned()
            .ok_or_else(|| XeroApiError::Transient(format!("no {key} in Xero's answer").into()))?;
        let errors = element_errors(&first);
        if !errors.is_empty() {
            return Err(XeroApiError::Validation(errors));
        }
        serde_json::from_value(first).map_err(|e| XeroApiError::Transient(Box::new(e)))
    }
}

fn element_errors(element: &serde_json::Value) -> Vec<String> {
    element
        .get("ValidationErrors")
        .and_then(|v| v.as_array())
        .map(|a| a.iter().filter_map(|e| e.get("Message").and_then(|m| m.as_str()).map(str::to_owned)).collect())
        .unwrap_or_default()
}

fn validation_messages(text: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
    let mut out: Vec<String> = v
        .get("Elements")
        .and_then(|e| e.as_array())
        .into_iter()
        .flatten()
        .flat_map(|el| el.get("ValidationErrors").and_then(|e| e.as_array()).cloned().unwrap_or_default())
        .filter_map(|e| e.get("Message").and_then(|m| m.as_str()).map(str::to_owned))
        .collect();
    if out.is_empty() {
        out.push(short_message(text));
    }
    out
}

fn short_message(text: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
    v.get("Message")
        .or_else(|| v.get("Detail"))
        .and_then(|m| m.as_str())
        .map(str::to_owned)
        .unwrap_or_else(|| text.chars().take(200).collect())
}

fn to_json<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or_default()
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct List<T> {
    #[serde(
        alias = "Contacts",
        alias = "Items",
        alias = "Invoices",
        alias = "TaxRates",
        alias = "CreditNotes",
        alias = "Quotes"
    )]
    items: Vec<T>,
}

#[async_trait]
impl XeroAccounting for HttpXeroAccounting {
    async fn tax_rates(&self, ctx: &XeroCtx) -> Result<Vec<TaxRateRecord>, XeroApiError> {
        let list: List<TaxRateRecord> = self.call(ctx, reqwest::Method::GET, "/TaxRates", &[], None).await?;
        Ok(list.items)
    }

    async fn find_contact(
        &self,
        ctx: &XeroCtx,
        field: &str,
        value: &str,
    ) -> Result<Option<ContactRecord>, XeroApiError> {
        let filter = format!("{field}==\"{}\"", value.replace('"', ""));
        let list: List<ContactRecord> =
            self.call(ctx, reqwest::Method::GET, "/Contacts", &[("where", &filter)], None).await?;
        Ok(list.items.into_iter().next())
    }

    async fn create_contact(
        &self,
        ctx: &XeroCtx,
        contact: &NewContact,
        key: &str,
    ) -> Result<ContactRecord, XeroApiError> {
        self.create_one(ctx, "/Contacts", "Contacts", to_json(contact), key, &[]).await
    }

    async fn find_items(&self, ctx: &XeroCtx, codes: &[String]) -> Result<Vec<ItemRecord>, XeroApiError> {
        let filter = codes.iter().map(|c| format!("Code==\"{}\"", c.replace('"', ""))).collect::<Vec<_>>().join(" OR ");
        let list: List<ItemRecord> =
            self.call(ctx, reqwest::Method::GET, "/Items", &[("where", &filter)], None).await?;
        Ok(list.items)
    }

    async fn create_items(
        &self,
        ctx: &XeroCtx,
        items: &[NewItem],
        key: &str,
    ) -> Result<Vec<Result<ItemRecord, Vec<String>>>, XeroApiError> {
        let body = serde_json::json!({ "Items": items.iter().map(to_json).collect::<Vec<_>>() });
        let resp: serde_json::Value =
            self.call(ctx, reqwest::Method::PUT, "/Items", &[("summarizeErrors", "false")], Some((&body, key))).await?;
        let list = resp.get("Items").and_then(|v| v.as_array()).cloned().unwrap_or_default();
        Ok(list
            .into_iter()
            .map(|el| {
                let errors = element_errors(&el);
                if errors.is_empty() {
                    serde_json::from_value(el).map_err(|e| vec![e.to_string()])
                } else {
                    Err(errors)
                }
            })
            .collect())
    }

    async fn find_invoice_by_number(&self, ctx: &XeroCtx, number: &str) -> Result<Option<InvoiceRecord>, XeroApiError> {
        let list: List<InvoiceRecord> = self
            .call(ctx, reqwest::Method::GET, "/Invoices", &[("InvoiceNumbers", number), ("unitdp", "4")], None)
            .await?;
        Ok(list.items.into_iter().find(|i| i.invoice_number == number))
    }

    async fn create_invoice(&self, ctx: &XeroCtx, invoice: &Invoice, key: &str) -> Result<InvoiceRecord, XeroApiError> {
        self.create_one(ctx, "/Invoices", "Invoices", to_json(invoice), key, &[("unitdp", "4")]).await
    }

    async fn get_invoice(&self, ctx: &XeroCtx, invoice_id: &str) -> Result<InvoiceRecord, XeroApiError> {
        let list: List<InvoiceRecord> =
            self.call(ctx, reqwest::Method::GET, &format!("/Invoices/{invoice_id}"), &[("unitdp", "4")], None).await?;
        list.items
            .into_iter()
            .next()
            .ok_or_else(|| XeroApiError::Refused { status: 404, message: format!("invoice {invoice_id} not found") })
    }

    async fn update_invoice(
        &self,
        ctx: &XeroCtx,
        invoice_id: &str,
        invoice: &Invoice,
        key: &str,
    ) -> Result<InvoiceRecord, XeroApiError> {
        let mut element = to_json(invoice);
        element["InvoiceID"] = invoice_id.into();
        self.write_one(
            ctx,
            reqwest::Method::POST,
            &format!("/Invoices/{invoice_id}"),
            "Invoices",
            element,
            key,
            &[("unitdp", "4")],
        )
        .await
    }

    async fn set_invoice_status(
        &self,
        ctx: &XeroCtx,
        invoice_id: &str,
        status: &str,
        key: &str,
    ) -> Result<InvoiceRecord, XeroApiError> {
        let element = serde_json::json!({ "InvoiceID": invoice_id, "Status": status });
        self.write_one(ctx, reqwest::Method::POST, &format!("/Invoices/{invoice_id}"), "Invoices", element, key, &[])
            .await
    }

    async fn add_invoice_history(
        &self,
        ctx: &XeroCtx,
        invoice_id: &str,
        details: &str,
        key: &str,
    ) -> Result<(), XeroApiError> {
        let body = serde_json::json!({ "HistoryRecords": [{ "Details": details }] });
        let _: serde_json::Value = self
            .call(ctx, reqwest::Method::PUT, &format!("/Invoices/{invoice_id}/History"), &[], Some((&body, key)))
            .await?;
        Ok(())
    }

    async fn create_payment(
        &self,
        ctx: &XeroCtx,
        target: &str,
        target_id: &str,
        account_code: &str,
        date: &str,
        amount: rust_decimal::Decimal,
        reference: &str,
        key: &str,
    ) -> Result<PaymentRecord, XeroApiError> {
        let id_field = if target == "Invoice" { "InvoiceID" } else { "CreditNoteID" };
        let amount_json = serde_json::to_value(crate::money::Exact(amount)).unwrap_or_default();
        let element = serde_json::json!({
            target: { id_field: target_id },
            "Account": { "Code": account_code },
            "Date": date,
            "Amount": amount_json,
            "Reference": reference,
        });
        self.create_one(ctx, "/Payments", "Payments", element, key, &[]).await
    }

    async fn create_credit_note(
        &self,
        ctx: &XeroCtx,
        note: &CreditNote,
        key: &str,
    ) -> Result<CreditNoteRecord, XeroApiError> {
        self.create_one(ctx, "/CreditNotes", "CreditNotes", to_json(note), key, &[("unitdp", "4")]).await
    }

    async fn find_credit_note(&self, ctx: &XeroCtx, number: &str) -> Result<Option<CreditNoteRecord>, XeroApiError> {
        let filter = format!("CreditNoteNumber==\"{}\"", number.replace('"', ""));
        let list: List<CreditNoteRecord> =
            self.call(ctx, reqwest::Method::GET, "/CreditNotes", &[("where", &filter)], None).await?;
        Ok(list.items.into_iter().find(|c| c.credit_note_number == number))
    }

    async fn allocate_credit_note(
        &self,
        ctx: &XeroCtx,
        credit_note_id: &str,
        invoice_id: &str,
        amount: rust_decimal::Decimal,
        date: &str,
        key: &str,
    ) -> Result<(), XeroApiError> {
        let amount_json = serde_json::to_value(crate::money::Exact(amount)).unwrap_or_default();
        let body = serde_json::json!({ "Allocations": [{ "Invoice": { "InvoiceID": invoice_id }, "Amount": amount_json, "Date": date }] });
        let resp: serde_json::Value = self
            .call(
                ctx,
                reqwest::Method::PUT,
                &format!("/CreditNotes/{credit_note_id}/Allocations"),
                &[("summarizeErrors", "false")],
                Some((&body, key)),
            )
            .await?;
        let errors = resp.get("Allocations").and_then(|a| a.get(0)).map(element_errors).unwrap_or_default();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(XeroApiError::Validation(errors))
        }
    }

    async fn create_quote(&self, ctx: &XeroCtx, quote: &Quote, key: &str) -> Result<QuoteRecord, XeroApiError> {
        self.create_one(ctx, "/Quotes", "Quotes", to_json(quote), key, &[]).await
    }

    async fn update_quote(
        &self,
        ctx: &XeroCtx,
        quote_id: &str,
        quote: &Quote,
        key: &str,
    ) -> Result<QuoteRecord, XeroApiError> {
        let mut element = to_json(quote);
        element["QuoteID"] = quote_id.into();
        self.write_one(ctx, reqwest::Method::POST, &format!("/Quotes/{quote_id}"), "Quotes", element, key, &[]).await
    }

    async fn find_quote(&self, ctx: &XeroCtx, number: &str) -> Result<Option<QuoteRecord>, XeroApiError> {
        let list: List<QuoteRecord> =
            self.call(ctx, reqwest::Method::GET, "/Quotes", &[("QuoteNumber", number)], None).await?;
        Ok(list.items.into_iter().find(|q| q.quote_number == number))
    }
}
