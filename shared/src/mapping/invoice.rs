//! Order + mapping + lookups → the Xero invoice, checked against Xero's arithmetic before it is
//! sent: when Xero's per-line rounding would make its Total differ from WooCommerce's `total`, a
//! rounding line to the rounding account closes the gap, so the two totals match to the cent.

use std::collections::HashMap;

use rust_decimal::Decimal;
use sha2::{Digest, Sha256};

use super::document::{ItemMode, Mapping};
use crate::money::{currency_dp, round};
use crate::woo::order::{LineTax, Order};
use crate::xero::math::{self, Totals};
use crate::xero::model::{ContactRef, Invoice, LineAmountTypes, LineItem};

/// What the builder needs from Xero: the contact, and each TaxType's effective rate (percent).
pub struct Lookups<'a> {
    pub contact_id: &'a str,
    pub tax_rates: &'a HashMap<String, Decimal>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BuiltInvoice {
    pub invoice: Invoice,
    /// Xero's figures for this invoice, as reproduced here.
    pub expected: Totals,
    /// The rounding line's amount (zero when none was needed).
    pub rounding: Decimal,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BuildError {
    #[error("{what} is taxed by WooCommerce tax rate(s) {key} ({labels}), which the mapping does not map to a Xero TaxType: add tax.rates.\"{key}\"")]
    UnmappedTax { what: String, key: String, labels: String },
    #[error("the mapping uses TaxType {0}, which this Xero organisation does not have (see GET /TaxRates)")]
    UnknownTaxType(String),
    #[error("the order total {woo} cannot be reproduced in Xero (lines come to {xero}; the {diff} gap is more than rounding): the order's totals do not reconcile")]
    DoesNotReconcile { woo: Decimal, xero: Decimal, diff: Decimal },
    #[error("the order has no lines")]
    NoLines,
    #[error("the order has no creation date")]
    NoDate,
}

/// Xero ItemCode for a SKU: as is when it fits Xero's 30 characters, else a deterministic
/// shortening (21 characters, '-', 8 hex digits of the SKU's SHA-256) that never collides by accident.
pub fn item_code(sku: &str) -> String {
    let sku = sku.trim();
    if sku.chars().count() <= 30 {
        return sku.to_owned();
    }
    let head: String = sku.chars().take(21).collect();
    let hash = hex::encode(Sha256::digest(sku.as_bytes()));
    format!("{head}-{}", &hash[..8])
}

fn tax_key(taxes: &[LineTax]) -> Option<String> {
    let mut ids: Vec<u64> = taxes.iter().map(|t| t.id).filter(|id| *id > 0).collect();
    ids.sort_unstable();
    ids.dedup();
    (!ids.is_empty()).then(|| ids.iter().map(u64::to_string).collect::<Vec<_>>().join("+"))
}

struct TaxChoice<'a> {
    mapping: &'a Mapping,
    order: &'a Order,
}

impl TaxChoice<'_> {
    fn tax_type(&self, what: &str, taxes: &[LineTax], tax_class: &str, taxable: bool) -> Result<String, BuildError> {
        match tax_key(taxes) {
            Some(key) if taxable => self.mapping.tax.rates.get(&key).cloned().ok_or_else(|| {
                let labels: Vec<String> = key
                    .split('+')
                    .map(|id| {
                        self.order
                            .tax_lines
                            .iter()
                            .find(|t| t.rate_id.to_string() == id)
                            .map(|t| format!("{id} = {}", if t.rate_code.is_empty() { &t.label } else { &t.rate_code }))
                            .unwrap_or_else(|| id.to_owned())
                    })
                    .collect();
                BuildError::UnmappedTax { what: what.to_owned(), key, labels: labels.join(", ") }
            }),
            _ => {
                let class = if tax_class.is_empty() { "standard" } else { tax_class };
                Ok(self.mapping.tax.classes.get(class).cloned().unwrap_or_else(|| self.mapping.tax.no_tax.clone()))
            }
        }
    }
}

/// Quantity and unit amount that Xero multiplies back to exactly `amount` (4-dp units); when no
/// such pair exists, one unit of the whole amount, with the quantity named in the description.
fn quantity_and_unit(quantity: Decimal, amount: Decimal, description: &mut String) -> (Decimal, Decimal) {
    if quantity > Decimal::ZERO {
        let unit = round(amount / quantity, 4);
        if round(quantity * unit, 2) == amount {
            return (quantity.normalize(), unit);
        }
        description.push_str(&format!(" (quantity {})", quantity.normalize()));
    }
    (Decimal::ONE, amount)
}

pub fn build_invoice(
    order: &Order,
    mapping: &Mapping,
    lookups: &Lookups<'_>,
    site_url: Option<&str>,
) -> Result<BuiltInvoice, BuildError> {
    if order.line_items.is_empty() && order.fee_lines.is_empty() && order.shipping_lines.is_empty() {
        return Err(BuildError::NoLines);
    }
    let types = if order.prices_include_tax { LineAmountTypes::Inclusive } else { LineAmountTypes::Exclusive };
    // Inclusive invoices carry gross amounts and Xero backs the tax out.
    let amount = |net: Decimal, tax: Decimal| if order.prices_include_tax { net + tax } else { net };
    let choice = TaxChoice { mapping, order };
    let coupons: Vec<&str> = order.coupon_lines.iter().map(|c| c.code.as_str()).filter(|c| !c.is_empty()).collect();
    let mut lines = Vec::new();

    for (i, li) in order.line_items.iter().enumerate() {
        let sku = li.sku.as_deref().map(str::trim).filter(|s| !s.is_empty());
        let mut description = li.name.trim().to_owned();
        if description.is_empty() {
            description = format!("Item {}", i + 1);
        }
        if li.subtotal != li.total && !coupons.is_empty() {
            description.push_str(&format!(" (coupon {})", coupons.join(", ")));
        }
        let tax_type = choice.tax_type(
            &format!("line {:?}", li.name),
            &li.taxes,
            &li.tax_class,
            li.total_tax != Decimal::ZERO || !li.taxes.is_empty(),
        )?;
        let (quantity, unit_amount) = quantity_and_unit(li.quantity, amount(li.total, li.total_tax), &mut description);
        let account = sku.and_then(|s| mapping.accounts.sales_by_sku.get(s)).unwrap_or(&mapping.accounts.sales).clone();
        lines.push(LineItem {
            description,
            quantity,
            unit_amount,
            item_code: match mapping.items.mode {
                ItemMode::Sku => sku.map(item_code),
                ItemMode::None => None,
            },
            account_code: account,
            tax_type,
        });
    }
    for s in &order.shipping_lines {
        let title = if s.method_title.trim().is_empty() { "Shipping" } else { s.method_title.trim() };
        let mut description = format!("Shipping: {title}");
        let tax_type = choice.tax_type(
            &format!("shipping {title:?}"),
            &s.taxes,
            "",
            s.total_tax != Decimal::ZERO || !s.taxes.is_empty(),
        )?;
        let (quantity, unit_amount) = quantity_and_unit(Decimal::ONE, amount(s.total, s.total_tax), &mut description);
        lines.push(LineItem {
            description,
            quantity,
            unit_amount,
            item_code: mapping.accounts.shipping_item.clone(),
            account_code: mapping.accounts.shipping.clone(),
            tax_type,
        });
    }
    for f in &order.fee_lines {
        let name = if f.name.trim().is_empty() { "Fee" } else { f.name.trim() };
        let mut description = name.to_owned();
        let taxable = f.tax_status != "none" && (f.total_tax != Decimal::ZERO || !f.taxes.is_empty());
        let tax_type = choice.tax_type(&format!("fee {name:?}"), &f.taxes, &f.tax_class, taxable)?;
        let (quantity, unit_amount) = quantity_and_unit(Decimal::ONE, amount(f.total, f.total_tax), &mut description);
        lines.push(LineItem {
            description,
            quantity,
            unit_amount,
            item_code: None,
            account_code: mapping.accounts.fees.clone(),
            tax_type,
        });
    }

    let rate = |tax_type: &str| {
        lookups.tax_rates.get(tax_type).copied().ok_or_else(|| BuildError::UnknownTaxType(tax_type.to_owned()))
    };
    let mut figures = Vec::with_capacity(lines.len() + 1);
    for l in &lines {
        figures.push(math::line(types, l.quantity, l.unit_amount, rate(&l.tax_type)?));
    }
    let before = math::totals(types, &figures);
    let diff = order.total - before.total;
    let dp = currency_dp(&order.currency);
    let step = Decimal::new(1, dp);
    // Each line's tax may round one step differently in WooCommerce and in Xero.
    let tolerance = step * Decimal::from(lines.len() as u64 + 1);
    if diff.abs() > tolerance {
        return Err(BuildError::DoesNotReconcile { woo: order.total, xero: before.total, diff });
    }
    let mut expected = before;
    if diff != Decimal::ZERO {
        rate(&mapping.tax.no_tax)?;
        lines.push(LineItem {
            description: "Rounding".into(),
            quantity: Decimal::ONE,
            unit_amount: diff,
            item_code: None,
            account_code: mapping.accounts.rounding.clone(),
            tax_type: mapping.tax.no_tax.clone(),
        });
        figures.push(math::line(types, Decimal::ONE, diff, rate(&mapping.tax.no_tax)?));
        expected = math::totals(types, &figures);
    }

    let date = order
        .date_created
        .as_deref()
        .or(order.date_created_gmt.as_deref())
        .and_then(|d| d.get(..10))
        .ok_or(BuildError::NoDate)?
        .to_owned();
    let due_date = time::Date::parse(&date, time::macros::format_description!("[year]-[month]-[day]"))
        .map_err(|_| BuildError::NoDate)?
        .saturating_add(time::Duration::days(i64::from(mapping.due_days)));
    let number = if order.number.is_empty() { order.id.to_string() } else { order.number.clone() };
    let invoice = Invoice {
        kind: "ACCREC".into(),
        contact: ContactRef { contact_id: lookups.contact_id.to_owned() },
        line_items: lines,
        date,
        due_date: due_date.to_string(),
        line_amount_types: types,
        invoice_number: mapping.invoice_number_for(&number, order.id),
        reference: number,
        currency_code: order.currency.to_ascii_uppercase(),
        status: mapping.invoice_status.clone(),
        url: site_url
            .filter(|u| u.starts_with("https://"))
            .map(|u| format!("{}/wp-admin/post.php?post={}&action=edit", u.trim_end_matches('/'), order.id)),
    };
    Ok(BuiltInvoice { invoice, expected, rounding: diff })
}

/// The credit note for one refund. With the refund's detail (REST keys), its lines are credited
/// (quantities, shipping, fees) and reconciled to the refund amount like an invoice; otherwise, or
/// when the detail does not add up, one line for the amount, taxed like the order when the order
/// has one tax type (amounts then include tax) and untaxed otherwise.
#[allow(clippy::too_many_arguments)]
pub fn build_credit_note(
    order: &Order,
    detail: Option<&crate::woo::order::RefundDetail>,
    amount: Decimal,
    description: &str,
    number: &str,
    date: &str,
    invoice_lines: &[LineItem],
    mapping: &Mapping,
    lookups: &Lookups<'_>,
) -> Result<crate::xero::model::CreditNote, BuildError> {
    let make = |lines: Vec<LineItem>, types: LineAmountTypes| crate::xero::model::CreditNote {
        kind: "ACCRECCREDIT".into(),
        contact: ContactRef { contact_id: lookups.contact_id.to_owned() },
        line_items: lines,
        date: date.to_owned(),
        line_amount_types: types,
        credit_note_number: number.to_owned(),
        reference: if order.number.is_empty() { order.id.to_string() } else { order.number.clone() },
        currency_code: order.currency.to_ascii_uppercase(),
        status: "AUTHORISED".into(),
    };
    if let Some(d) =
        detail.filter(|d| !d.line_items.is_empty() || !d.shipping_lines.is_empty() || !d.fee_lines.is_empty())
    {
        let abs_taxes = |t: &[crate::woo::order::LineTax]| {
            t.iter().map(|x| crate::woo::order::LineTax { id: x.id, total: x.total.abs() }).collect::<Vec<_>>()
        };
        let mut synthetic = order.clone();
        synthetic.total = amount;
        synthetic.coupon_lines.clear();
        synthetic.line_items = d
            .line_items
            .iter()
            .map(|l| crate::woo::order::LineItem {
                quantity: l.quantity.abs(),
                subtotal: l.subtotal.abs(),
                total: l.total.abs(),
                total_tax: l.total_tax.abs(),
                taxes: abs_taxes(&l.taxes),
                ..l.clone()
            })
            .collect();
        synthetic.shipping_lines = d
            .shipping_lines
            .iter()
            .map(|l| crate::woo::order::ShippingLine {
                total: l.total.abs(),
                total_tax: l.total_tax.abs(),
                taxes: abs_taxes(&l.taxes),
                ..l.clone()
            })
            .collect();
        synthetic.fee_lines = d
            .fee_lines
            .iter()
            .map(|l| crate::woo::order::FeeLine {
                total: l.total.abs(),
                total_tax: l.total_tax.abs(),
                taxes: abs_taxes(&l.taxes),
                ..l.clone()
            })
            .collect();
        synthetic.total_tax = synthetic.line_items.iter().map(|l| l.total_tax).sum::<Decimal>()
            + synthetic.shipping_lines.iter().map(|l| l.total_tax).sum::<Decimal>()
            + synthetic.fee_lines.iter().map(|l| l.total_tax).sum::<Decimal>();
        if let Ok(built) = build_invoice(&synthetic, mapping, lookups, None) {
            return Ok(make(built.invoice.line_items, built.invoice.line_amount_types));
        }
    }
    let mut tax_types: Vec<&str> =
        invoice_lines.iter().filter(|l| l.description != "Rounding").map(|l| l.tax_type.as_str()).collect();
    tax_types.sort_unstable();
    tax_types.dedup();
    let tax_type = match tax_types.as_slice() {
        [one] => (*one).to_owned(),
        _ => mapping.tax.no_tax.clone(),
    };
    lookups.tax_rates.get(&tax_type).ok_or_else(|| BuildError::UnknownTaxType(tax_type.clone()))?;
    let line = LineItem {
        description: description.to_owned(),
        quantity: Decimal::ONE,
        unit_amount: amount,
        item_code: None,
        account_code: invoice_lines
            .first()
            .map(|l| l.account_code.clone())
            .unwrap_or_else(|| mapping.accounts.sales.clone()),
        tax_type,
    };
    Ok(make(vec![line], LineAmountTypes::Inclusive))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn rates() -> HashMap<String, Decimal> {
        HashMap::from([
            ("OUTPUT2".to_owned(), dec!(15)),
            ("ZERORATEDOUTPUT".to_owned(), dec!(0)),
            ("NONE".to_owned(), dec!(0)),
            ("TAX002".to_owned(), dec!(2)),
            ("JPCT".to_owned(), dec!(10)),
        ])
    }

    fn mapping() -> Mapping {
        let mut m = Mapping::default();
        m.tax.rates.insert("1".into(), "OUTPUT2".into());
        m.tax.rates.insert("3".into(), "ZERORATEDOUTPUT".into());
        m
    }

    fn order(json: serde_json::Value) -> Order {
        serde_json::from_value(json).unwrap()
    }

    fn build(o: &Order, m: &Mapping) -> Result<BuiltInvoice, BuildError> {
        let r = rates();
        build_invoice(o, m, &Lookups { contact_id: "c-1", tax_rates: &r }, Some("https://shop.example"))
    }

    fn nz_order() -> serde_json::Value {
        serde_json::json!({
            "id": 1001, "number": "1001", "status": "processing", "currency": "NZD", "prices_include_tax": false,
            "date_created": "2026-11-27T22:14:03", "total": "126.50", "total_tax": "16.50",
            "line_items": [
                {"name": "Pendant", "quantity": 2, "subtotal": "90.00", "total": "90.00", "total_tax": "13.50", "taxes": [{"id": 1, "total": "13.5"}], "sku": "PND-01"},
                {"name": "Wrap", "quantity": 1, "subtotal": "10.00", "total": "10.00", "total_tax": "1.50", "taxes": [{"id": 1, "total": "1.5"}], "sku": null}
            ],
            "shipping_lines": [{"method_title": "Flat rate", "total": "10.00", "total_tax": "1.50", "taxes": [{"id": 1, "total": "1.5"}]}],
            "tax_lines": [{"rate_id": 1, "rate_code": "NZ-GST-1", "label": "GST", "rate_percent": 15}]
        })
    }

    #[test]
    fn an_exclusive_order_matches_to_the_cent_without_rounding() {
        let built = build(&order(nz_order()), &mapping()).unwrap();
        let inv = &built.invoice;
        assert_eq!(built.expected.total, dec!(126.50));
        assert_eq!(built.rounding, dec!(0));
        assert_eq!(inv.line_items.len(), 3);
        assert_eq!((inv.line_items[0].quantity, inv.line_items[0].unit_amount), (dec!(2), dec!(45)));
        assert_eq!(inv.line_items[0].item_code.as_deref(), Some("PND-01"));
        assert_eq!(inv.line_items[1].item_code, None, "a null SKU has no item");
        assert_eq!(inv.line_items[2].description, "Shipping: Flat rate");
        assert_eq!(
            (inv.invoice_number.as_str(), inv.reference.as_str(), inv.date.as_str()),
            ("WC-1001", "1001", "2026-11-27")
        );
        assert_eq!(inv.line_amount_types, LineAmountTypes::Exclusive);
        assert_eq!(inv.url.as_deref(), Some("https://shop.example/wp-admin/post.php?post=1001&action=edit"));
    }

    #[test]
    fn a_cent_of_rounding_gets_a_rounding_line() {
        // Three lines at 15%: WooCommerce rounds the order's tax once (11.44), Xero per line (11.43).
        let mut o = nz_order();
        o["line_items"] = serde_json::json!([
            {"name": "A", "quantity": 1, "subtotal": "25.43", "total": "25.43", "total_tax": "3.8145", "taxes": [{"id": 1, "total": "3.8145"}]},
            {"name": "B", "quantity": 1, "subtotal": "25.43", "total": "25.43", "total_tax": "3.8145", "taxes": [{"id": 1, "total": "3.8145"}]},
            {"name": "C", "quantity": 1, "subtotal": "25.43", "total": "25.43", "total_tax": "3.8145", "taxes": [{"id": 1, "total": "3.8145"}]}
        ]);
        o["shipping_lines"] = serde_json::json!([]);
        o["total_tax"] = "11.44".into();
        o["total"] = "87.73".into();
        let built = build(&order(o), &mapping()).unwrap();
        assert_eq!(built.rounding, dec!(0.01));
        let last = built.invoice.line_items.last().unwrap();
        assert_eq!(
            (last.description.as_str(), last.account_code.as_str(), last.tax_type.as_str()),
            ("Rounding", "860", "NONE")
        );
        assert_eq!(built.expected.total, dec!(87.73));
    }

    #[test]
    fn prices_including_tax_become_an_inclusive_invoice() {
        let o = order(serde_json::json!({
            "id": 211, "number": "211", "currency": "USD", "prices_include_tax": true, "date_created": "2022-01-10T10:00:00",
            "total": "18.00", "total_tax": "0.35",
            "line_items": [{"name": "Shirt", "quantity": 1, "subtotal": "17.65", "total": "17.65", "total_tax": "0.35", "taxes": [{"id": 2, "total": "0.352941"}]}]
        }));
        let mut m = mapping();
        m.tax.rates.insert("2".into(), "TAX002".into());
        let built = build(&o, &m).unwrap();
        assert_eq!(built.invoice.line_amount_types, LineAmountTypes::Inclusive);
        assert_eq!(built.invoice.line_items[0].unit_amount, dec!(18.00));
        assert_eq!(built.expected.total, dec!(18.00));
        assert_eq!(built.expected.total_tax, dec!(0.35));
    }

    #[test]
    fn an_unmapped_rate_fails_with_what_to_add() {
        let mut m = mapping();
        m.tax.rates.clear();
        let err = build(&order(nz_order()), &m).unwrap_err();
        assert!(matches!(&err, BuildError::UnmappedTax { key, .. } if key == "1"));
        assert!(err.to_string().contains("NZ-GST-1") && err.to_string().contains("tax.rates.\"1\""), "{err}");
    }

    #[test]
    fn zero_decimal_currencies_and_negative_fees() {
        let o = order(serde_json::json!({
            "id": 7, "number": "7", "currency": "JPY", "date_created": "2026-11-27T10:00:00", "total": "1500", "total_tax": "136",
            "line_items": [{"name": "Tea", "quantity": 3, "subtotal": "1364", "total": "1364", "total_tax": "136", "taxes": [{"id": 5, "total": "136.4"}]}],
            "fee_lines": [{"name": "Discount", "tax_status": "none", "total": "0", "total_tax": "0", "taxes": []}]
        }));
        let mut m = mapping();
        m.tax.rates.insert("5".into(), "JPCT".into());
        let built = build(&o, &m).unwrap();
        // Xero: 1364 × 10% = 136.40 → 1500.40; a −0.40 rounding line brings it to 1500.
        assert_eq!(built.rounding, dec!(-0.40));
        assert_eq!(built.expected.total, dec!(1500));
        assert_eq!(
            (built.invoice.line_items[0].quantity, built.invoice.line_items[0].unit_amount),
            (dec!(3), dec!(454.6667))
        );
    }

    #[test]
    fn totals_that_do_not_reconcile_are_refused_not_plugged() {
        let mut o = nz_order();
        o["total"] = "200.00".into();
        assert!(matches!(build(&order(o), &mapping()), Err(BuildError::DoesNotReconcile { .. })));
    }

    #[test]
    fn long_skus_shorten_deterministically() {
        let sku = "A-VERY-LONG-STOCK-KEEPING-UNIT-CODE-0001";
        let code = item_code(sku);
        assert_eq!(code.len(), 30);
        assert_eq!(code, item_code(sku));
        assert_ne!(code, item_code("A-VERY-LONG-STOCK-KEEPING-UNIT-CODE-0002"));
        assert_eq!(item_code("SHORT"), "SHORT");
    }
}
