//! The mapping document: JSON, stored per store, validated on `wooxero mapping set`. Every field
//! has a default (see docs/mapping.md), so `{}` is a valid mapping for a shop with untaxed sales.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Mapping {
    /// Order statuses that create the invoice.
    pub triggers: Vec<String>,
    /// `DRAFT` or `AUTHORISED`.
    pub invoice_status: String,
    /// Due date = invoice date + this many days.
    pub due_days: u32,
    /// InvoiceNumber template; `{number}` is the WooCommerce order number, `{id}` its id.
    pub invoice_number: String,
    pub accounts: Accounts,
    pub tax: Tax,
    pub contacts: Contacts,
    pub items: Items,
    /// `invoice`, or `quote`: pending orders become quotes, accepted and invoiced once paid.
    pub document: DocumentKind,
    pub payments: Payments,
    pub refunds: Refunds,
    pub quotes: Quotes,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    Invoice,
    Quote,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Payments {
    /// Record WooCommerce payments in Xero.
    pub record: bool,
    /// Statuses in which an order with `date_paid` counts as paid.
    pub paid_statuses: Vec<String>,
    /// Gateway (`payment_method`, e.g. `stripe`, `bacs`) → Xero bank account code.
    pub accounts: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaidRefund {
    /// Money went back through the gateway: a payment on the credit note from its bank account.
    CashRefund,
    /// Leave the credit note open (e.g. store credit); an accountant settles it.
    LeaveOpen,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Refunds {
    /// What a credit note does when the invoice no longer has enough due to allocate it to.
    pub when_paid: PaidRefund,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Quotes {
    /// Statuses that create or update the quote (quote mode only).
    pub statuses: Vec<String>,
    /// `DRAFT` or `SENT`.
    pub status: String,
    pub expiry_days: u32,
    /// QuoteNumber template, as `invoice_number`.
    pub number: String,
}

impl Default for Payments {
    fn default() -> Self {
        Payments {
            record: true,
            paid_statuses: vec!["processing".into(), "completed".into()],
            accounts: BTreeMap::new(),
        }
    }
}

impl Default for Refunds {
    fn default() -> Self {
        Refunds { when_paid: PaidRefund::CashRefund }
    }
}

impl Default for Quotes {
    fn default() -> Self {
        Quotes {
            statuses: vec!["pending".into(), "on-hold".into()],
            status: "DRAFT".into(),
            expiry_days: 30,
            number: "QU-{number}".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Accounts {
    pub sales: String,
    pub sales_by_sku: BTreeMap<String, String>,
    pub shipping: String,
    /// When set, shipping lines use this Xero item (its code) as well as the shipping account.
    pub shipping_item: Option<String>,
    pub fees: String,
    pub rounding: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Tax {
    /// WooCommerce tax rate id → Xero TaxType. A line taxed by several rates uses the key of
    /// its rate ids joined by `+` in ascending order (e.g. `"4+7"`).
    pub rates: BTreeMap<String, String>,
    /// Tax class (`""` is `standard`) → TaxType, used for lines without a rate.
    pub classes: BTreeMap<String, String>,
    /// TaxType for lines that carry no tax at all (no rate, or tax status `none`).
    pub no_tax: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContactMode {
    /// Find by email, else create from the billing details.
    MatchOrCreate,
    /// One contact for every order.
    CatchAll,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Contacts {
    pub mode: ContactMode,
    pub catch_all_name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemMode {
    /// SKU → ItemCode (created untracked when missing).
    Sku,
    /// Lines carry no item code.
    None,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Items {
    pub mode: ItemMode,
}

impl Default for Mapping {
    fn default() -> Self {
        Mapping {
            triggers: vec!["processing".into(), "completed".into()],
            invoice_status: "AUTHORISED".into(),
            due_days: 0,
            invoice_number: "WC-{number}".into(),
            accounts: Accounts::default(),
            tax: Tax::default(),
            contacts: Contacts::default(),
            items: Items::default(),
            document: DocumentKind::Invoice,
            payments: Payments::default(),
            refunds: Refunds::default(),
            quotes: Quotes::default(),
        }
    }
}

impl Default for Accounts {
    fn default() -> Self {
        Accounts {
            sales: "200".into(),
            sales_by_sku: BTreeMap::new(),
            shipping: "200".into(),
            shipping_item: None,
            fees: "200".into(),
            rounding: "860".into(),
        }
    }
}

impl Default for Tax {
    fn default() -> Self {
        Tax { rates: BTreeMap::new(), classes: BTreeMap::new(), no_tax: "NONE".into() }
    }
}

impl Default for Contacts {
    fn default() -> Self {
        Contacts { mode: ContactMode::MatchOrCreate, catch_all_name: "WooCommerce Sales".into() }
    }
}

impl Default for Items {
    fn default() -> Self {
        Items { mode: ItemMode::Sku }
    }
}

/// One problem in a mapping document: where, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct MappingIssue {
    pub path: String,
    pub reason: String,
}

#[derive(Debug, thiserror::Error)]
pub enum MappingError {
    #[error("the mapping is not valid JSON of the expected shape: {0}")]
    Shape(String),
    #[error("the mapping has {} problem(s): {}", .0.len(), .0.iter().map(|i| i.to_string()).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<MappingIssue>),
}

const STATUSES: [&str; 9] = [
    "pending",
    "processing",
    "on-hold",
    "completed",
    "cancelled",
    "refunded",
    "failed",
    "checkout-draft",
    "ready-for-pickup",
];

fn account_ok(code: &str) -> bool {
    !code.is_empty() && code.len() <= 10 && code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
}

fn tax_type_ok(t: &str) -> bool {
    !t.is_empty() && t.len() <= 50 && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl Mapping {
    /// Parses and validates a document, naming each problem by its field path.
    pub fn parse(text: &str) -> Result<Mapping, MappingError> {
        let mapping: Mapping = serde_json::from_str(text).map_err(|e| MappingError::Shape(e.to_string()))?;
        mapping.validate()?;
        Ok(mapping)
    }

    pub fn validate(&self) -> Result<(), MappingError> {
        let mut issues = Vec::new();
        let mut bad = |path: String, reason: &str| issues.push(MappingIssue { path, reason: reason.to_owned() });
        if self.triggers.is_empty() {
            bad("triggers".into(), "must name at least one order status");
        }
        for (i, t) in self.triggers.iter().enumerate() {
            if t == "checkout-draft" {
                bad(format!("triggers[{i}]"), "checkout-draft orders are unpaid drafts and never create an invoice");
            } else if !STATUSES.contains(&t.as_str())
                && !t.chars().all(|c| c.is_ascii_lowercase() || c == '-' || c.is_ascii_digit())
            {
                bad(format!("triggers[{i}]"), "is not a WooCommerce status slug");
            }
        }
        if !matches!(self.invoice_status.as_str(), "DRAFT" | "AUTHORISED") {
            bad("invoice_status".into(), "must be DRAFT or AUTHORISED");
        }
        if self.due_days > 365 {
            bad("due_days".into(), "must be 0..=365");
        }
        if !self.invoice_number.contains("{number}") && !self.invoice_number.contains("{id}") {
            bad("invoice_number".into(), "must contain {number} or {id}, or every order would get the same number");
        }
        let rendered = self.invoice_number.replace("{number}", "1").replace("{id}", "1");
        if rendered.contains('{') || rendered.contains('}') {
            bad("invoice_number".into(), "only {number} and {id} may be used");
        }
        if self.invoice_number.len() > 200 {
            bad("invoice_number".into(), "is too long (Xero allows 255 characters)");
        }
        for (path, code) in [
            ("accounts.sales", &self.accounts.sales),
            ("accounts.shipping", &self.accounts.shipping),
            ("accounts.fees", &self.accounts.fees),
            ("accounts.rounding", &self.accounts.rounding),
        ] {
            if !account_ok(code) {
                bad(path.into(), "must be a Xero account code (1-10 letters, digits, '-' or '.')");
            }
        }
        for (sku, code) in &self.accounts.sales_by_sku {
            if !account_ok(code) {
                bad(format!("accounts.sales_by_sku.{sku}"), "must be a Xero account code");
            }
        }
        if let Some(item) = &self.accounts.shipping_item {
            if item.is_empty() || item.len() > 30 {
                bad("accounts.shipping_item".into(), "must be a Xero item code of 1-30 characters");
            }
        }
        for (key, tax_type) in &self.tax.rates {
            let ids: Vec<&str> = key.split('+').collect();
            if ids.iter().any(|id| id.parse::<u64>().is_err()) {
                bad(format!("tax.rates.{key}"), "key must be a WooCommerce tax rate id, or ids joined by '+'");
            } else if ids.windows(2).any(|w| w[0].parse::<u64>().ok() >= w[1].parse::<u64>().ok()) {
                bad(format!("tax.rates.{key}"), "combined rate ids must be in ascending order");
            }
            if !tax_type_ok(tax_type) {
                bad(format!("tax.rates.{key}"), "must be a Xero TaxType code such as OUTPUT2");
            }
        }
        for (class, tax_type) in &self.tax.classes {
            if !tax_type_ok(tax_type) {
                bad(format!("tax.classes.{class}"), "must be a Xero TaxType code");
            }
        }
        if !tax_type_ok(&self.tax.no_tax) {
            bad("tax.no_tax".into(), "must be a Xero TaxType code such as NONE");
        }
        if self.contacts.mode == ContactMode::CatchAll && self.contacts.catch_all_name.trim().is_empty() {
            bad("contacts.catch_all_name".into(), "must be set when contacts.mode is catch_all");
        }
        if self.contacts.catch_all_name.len() > 255 {
            bad("contacts.catch_all_name".into(), "is longer than Xero's 255 characters");
        }
        for (gateway, code) in &self.payments.accounts {
            if !account_ok(code) {
                bad(format!("payments.accounts.{gateway}"), "must be a Xero bank account code");
            }
        }
        for (i, t) in self.payments.paid_statuses.iter().enumerate() {
            if t == "checkout-draft" || t == "pending" {
                bad(format!("payments.paid_statuses[{i}]"), "an unpaid status cannot count as paid");
            }
        }
        if !matches!(self.quotes.status.as_str(), "DRAFT" | "SENT") {
            bad("quotes.status".into(), "must be DRAFT or SENT");
        }
        if !self.quotes.number.contains("{number}") && !self.quotes.number.contains("{id}") {
            bad("quotes.number".into(), "must contain {number} or {id}");
        }
        if self.document == DocumentKind::Quote {
            for (i, t) in self.quotes.statuses.iter().enumerate() {
                if self.triggers.contains(t) {
                    bad(format!("quotes.statuses[{i}]"), "a status cannot both quote and invoice");
                }
            }
        }
        if issues.is_empty() {
            Ok(())
        } else {
            Err(MappingError::Invalid(issues))
        }
    }

    pub fn invoice_number_for(&self, order_number: &str, order_id: u64) -> String {
        self.invoice_number.replace("{number}", order_number).replace("{id}", &order_id.to_string())
    }

    pub fn quote_number_for(&self, order_number: &str, order_id: u64) -> String {
        self.quotes.number.replace("{number}", order_number).replace("{id}", &order_id.to_string())
    }

    pub fn quotes_on(&self, status: &str) -> bool {
        self.document == DocumentKind::Quote && self.quotes.statuses.iter().any(|t| t == status)
    }

    pub fn paid(&self, status: &str, date_paid: Option<&str>) -> bool {
        date_paid.is_some() && self.payments.paid_statuses.iter().any(|t| t == status)
    }

    pub fn triggers_on(&self, status: &str) -> bool {
        status != "checkout-draft" && self.triggers.iter().any(|t| t == status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_document_is_the_defaults() {
        let m = Mapping::parse("{}").unwrap();
        assert_eq!(m, Mapping::default());
        assert!(m.triggers_on("processing") && m.triggers_on("completed") && !m.triggers_on("pending"));
        assert_eq!(m.invoice_number_for("1001", 1001), "WC-1001");
    }

    #[test]
    fn every_problem_is_named_by_path() {
        let doc = r#"{"triggers":["checkout-draft"],"invoice_status":"PAID","invoice_number":"INV",
            "accounts":{"sales":"","sales_by_sku":{"A":"bad code!"}},"tax":{"rates":{"x":"OUTPUT","7+4":"GST"},"no_tax":""}}"#;
        let MappingError::Invalid(issues) = Mapping::parse(doc).unwrap_err() else { panic!("expected issues") };
        let paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
        for want in [
            "triggers[0]",
            "invoice_status",
            "invoice_number",
            "accounts.sales",
            "accounts.sales_by_sku.A",
            "tax.rates.x",
            "tax.rates.7+4",
            "tax.no_tax",
        ] {
            assert!(paths.contains(&want), "{want} missing from {paths:?}");
        }
    }

    #[test]
    fn unknown_fields_and_wrong_types_are_refused() {
        let err = Mapping::parse(r#"{"trigers":["processing"]}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `trigers`"), "{err}");
        let err = Mapping::parse(r#"{"due_days":"7"}"#).unwrap_err();
        assert!(matches!(err, MappingError::Shape(_)), "{err}");
    }
}
