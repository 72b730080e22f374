//! Xero Accounting API types this project sends and reads (PascalCase JSON, numbers as exact
//! Decimals). Responses are read leniently: Xero adds fields, and regional enums vary.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::money::{de_lenient, ser_number};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LineAmountTypes {
    Exclusive,
    Inclusive,
    NoTax,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContactRef {
    #[serde(rename = "ContactID")]
    pub contact_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LineItem {
    pub description: String,
    #[serde(serialize_with = "ser_number")]
    pub quantity: Decimal,
    #[serde(serialize_with = "ser_number")]
    pub unit_amount: Decimal,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item_code: Option<String>,
    pub account_code: String,
    pub tax_type: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Invoice {
    #[serde(rename = "Type")]
    pub kind: String,
    pub contact: ContactRef,
    pub line_items: Vec<LineItem>,
    pub date: String,
    pub due_date: String,
    pub line_amount_types: LineAmountTypes,
    pub invoice_number: String,
    pub reference: String,
    pub currency_code: String,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ValidationError {
    pub message: String,
}

/// An invoice as Xero returns it (only what this project reads).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct InvoiceRecord {
    #[serde(rename = "InvoiceID")]
    pub invoice_id: String,
    pub invoice_number: String,
    pub status: String,
    #[serde(deserialize_with = "de_lenient")]
    pub sub_total: Decimal,
    #[serde(deserialize_with = "de_lenient")]
    pub total_tax: Decimal,
    #[serde(deserialize_with = "de_lenient")]
    pub total: Decimal,
    #[serde(deserialize_with = "de_lenient")]
    pub amount_due: Decimal,
    #[serde(deserialize_with = "de_lenient")]
    pub amount_paid: Decimal,
    #[serde(deserialize_with = "de_lenient")]
    pub amount_credited: Decimal,
    pub currency_code: String,
    pub reference: String,
    pub payments: Vec<PaymentRecord>,
    pub has_errors: bool,
    pub validation_errors: Vec<ValidationError>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PaymentRecord {
    #[serde(rename = "PaymentID")]
    pub payment_id: String,
    #[serde(deserialize_with = "de_lenient")]
    pub amount: Decimal,
    pub reference: String,
    pub status: String,
}

/// A sales credit note (ACCRECCREDIT) as sent.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreditNote {
    #[serde(rename = "Type")]
    pub kind: String,
    pub contact: ContactRef,
    pub line_items: Vec<LineItem>,
    pub date: String,
    pub line_amount_types: LineAmountTypes,
    pub credit_note_number: String,
    pub reference: String,
    pub currency_code: String,
    pub status: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreditNoteRecord {
    #[serde(rename = "CreditNoteID")]
    pub credit_note_id: String,
    pub credit_note_number: String,
    pub status: String,
    #[serde(deserialize_with = "de_lenient")]
    pub total: Decimal,
    #[serde(deserialize_with = "de_lenient")]
    pub remaining_credit: Decimal,
}

/// A quote as sent.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Quote {
    pub contact: ContactRef,
    pub line_items: Vec<LineItem>,
    pub date: String,
    pub expiry_date: String,
    /// Quotes spell these in capitals (`QuoteLineAmountTypes`: EXCLUSIVE, INCLUSIVE, NOTAX).
    #[serde(serialize_with = "quote_line_amount_types")]
    pub line_amount_types: LineAmountTypes,
    pub quote_number: String,
    pub reference: String,
    pub currency_code: String,
    pub status: String,
    pub title: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct QuoteRecord {
    #[serde(rename = "QuoteID")]
    pub quote_id: String,
    pub quote_number: String,
    pub status: String,
    #[serde(deserialize_with = "de_lenient")]
    pub total: Decimal,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Address {
    pub address_type: String,
    pub address_line1: String,
    pub address_line2: String,
    pub city: String,
    pub region: String,
    pub postal_code: String,
    pub country: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Phone {
    pub phone_type: String,
    pub phone_number: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NewContact {
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub first_name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub last_name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub email_address: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub contact_number: String,
    pub addresses: Vec<Address>,
    pub phones: Vec<Phone>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContactRecord {
    #[serde(rename = "ContactID")]
    pub contact_id: String,
    pub name: String,
    pub email_address: String,
    pub has_validation_errors: bool,
    pub validation_errors: Vec<ValidationError>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SalesDetails {
    #[serde(serialize_with = "ser_number")]
    pub unit_price: Decimal,
    pub account_code: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NewItem {
    pub code: String,
    pub name: String,
    pub description: String,
    pub is_sold: bool,
    pub is_purchased: bool,
    pub sales_details: SalesDetails,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ItemRecord {
    #[serde(rename = "ItemID")]
    pub item_id: String,
    pub code: String,
    pub validation_errors: Vec<ValidationError>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TaxRateRecord {
    pub name: String,
    pub tax_type: String,
    pub status: String,
    #[serde(deserialize_with = "de_lenient")]
    pub effective_rate: Decimal,
}

fn quote_line_amount_types<S: serde::Serializer>(t: &LineAmountTypes, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(match t {
        LineAmountTypes::Exclusive => "EXCLUSIVE",
        LineAmountTypes::Inclusive => "INCLUSIVE",
        LineAmountTypes::NoTax => "NOTAX",
    })
}
