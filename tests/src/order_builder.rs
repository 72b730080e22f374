//! Builds WooCommerce orders the way WooCommerce computes them (line totals excluding tax, line
//! tax rounded per line, order tax the sum), so that scenario tests cover real shapes: prices
//! with or without tax, several rates, coupons, fees, shipping lines, currencies.

use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{json, Value};

#[derive(Clone)]
pub struct Rate {
    pub id: u64,
    pub code: &'static str,
    pub percent: Decimal,
}

#[derive(Clone)]
pub struct Line {
    pub name: String,
    pub sku: Option<String>,
    pub quantity: Decimal,
    /// The shelf price per unit (gross when prices include tax).
    pub price: Decimal,
    /// Discount on the whole line from coupons, in shelf terms.
    pub discount: Decimal,
    pub rates: Vec<Rate>,
}

#[derive(Clone)]
pub struct OrderBuilder {
    pub id: u64,
    pub status: String,
    pub currency: String,
    pub prices_include_tax: bool,
    pub modified: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub lines: Vec<Line>,
    pub shipping: Vec<(String, Decimal, Vec<Rate>)>,
    pub fees: Vec<(String, Decimal, Vec<Rate>)>,
    pub coupons: Vec<String>,
    pub dp: u32,
    pub paid: Option<String>,
    pub payment_method: String,
    pub transaction_id: String,
    /// (refund id, amount, reason)
    pub refunds: Vec<(u64, Decimal, String)>,
}

fn round(d: Decimal, dp: u32) -> Decimal {
    d.round_dp_with_strategy(dp, RoundingStrategy::MidpointAwayFromZero)
}

/// A decimal as a JSON number token, as WooCommerce sends quantities, prices and rates.
fn jnum(d: Decimal) -> Value {
    serde_json::from_str(&d.normalize().to_string()).unwrap_or(Value::Null)
}

fn s(d: Decimal, dp: u32) -> String {
    format!("{:.*}", dp as usize, round(d, dp))
}

impl OrderBuilder {
    pub fn new(id: u64) -> Self {
        OrderBuilder {
            id,
            status: "processing".into(),
            currency: "NZD".into(),
            prices_include_tax: false,
            modified: "2026-11-27T10:00:00".into(),
            email: format!("customer{id}@example.nz"),
            first_name: "Aroha".into(),
            last_name: format!("Customer{id}"),
            lines: vec![],
            shipping: vec![],
            fees: vec![],
            coupons: vec![],
            dp: 2,
            paid: None,
            payment_method: "stripe".into(),
            transaction_id: String::new(),
            refunds: vec![],
        }
    }

    pub fn line(mut self, name: &str, sku: Option<&str>, qty: i64, price: Decimal, rates: &[Rate]) -> Self {
        self.lines.push(Line {
            name: name.into(),
            sku: sku.map(str::to_owned),
            quantity: Decimal::from(qty),
            price,
            discount: Decimal::ZERO,
            rates: rates.to_vec(),
        });
        self
    }

    /// Splits the net (or gross) amount and tax of `amount` the way WooCommerce does.
    fn split(&self, amount: Decimal, rates: &[Rate]) -> (Decimal, Vec<(u64, Decimal)>) {
        let pct: Decimal = rates.iter().map(|r| r.percent).sum();
        let net = if self.prices_include_tax {
            round(amount * Decimal::ONE_HUNDRED / (Decimal::ONE_HUNDRED + pct), self.dp)
        } else {
            amount
        };
        let taxes: Vec<(u64, Decimal)> = rates.iter().map(|r| (r.id, net * r.percent / Decimal::ONE_HUNDRED)).collect();
        if self.prices_include_tax {
            // The tax is what is left of the gross amount, split by rate.
            let tax_total = amount - net;
            let raw: Decimal = taxes.iter().map(|t| t.1).sum();
            let scaled = taxes
                .iter()
                .map(|(id, t)| (*id, if raw.is_zero() { Decimal::ZERO } else { tax_total * t / raw }))
                .collect();
            return (net, scaled);
        }
        (net, taxes)
    }

    pub fn build(&self) -> (Value, Decimal) {
        let dp = self.dp;
        let mut lines_json = Vec::new();
        let (mut net_sum, mut tax_sum, mut shipping_total, mut discount_total) =
            (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
        let mut rate_ids = std::collections::BTreeMap::new();
        for (i, l) in self.lines.iter().enumerate() {
            let gross_before = l.price * l.quantity;
            let (sub_net, _) = self.split(gross_before, &l.rates);
            let (net, taxes) = self.split(gross_before - l.discount, &l.rates);
            let line_tax = round(taxes.iter().map(|t| t.1).sum::<Decimal>(), dp);
            net_sum += round(net, dp);
            tax_sum += line_tax;
            discount_total += round(sub_net - net, dp);
            for r in &l.rates {
                rate_ids.insert(r.id, r.clone());
            }
            lines_json.push(json!({
                "id": 100 + i, "name": l.name, "product_id": 10 + i, "variation_id": 0, "quantity": jnum(l.quantity),
                "tax_class": "", "subtotal": s(sub_net, dp), "subtotal_tax": s(line_tax, dp), "total": s(net, dp), "total_tax": s(line_tax, dp),
                "taxes": taxes.iter().map(|(id, t)| json!({"id": id, "total": t.round_dp(6).to_string(), "subtotal": t.round_dp(6).to_string()})).collect::<Vec<_>>(),
                "meta_data": [], "sku": l.sku, "price": jnum((net / l.quantity).round_dp(6))
            }));
        }
        let mut shipping_json = Vec::new();
        let mut shipping_tax = Decimal::ZERO;
        for (title, amount, rates) in &self.shipping {
            let (net, taxes) = self.split(*amount, rates);
            let tax = round(taxes.iter().map(|t| t.1).sum::<Decimal>(), dp);
            shipping_total += round(net, dp);
            shipping_tax += tax;
            for r in rates {
                rate_ids.insert(r.id, r.clone());
            }
            shipping_json.push(json!({"id": 900 + shipping_json.len(), "method_title": title, "method_id": "flat_rate", "instance_id": "1",
                "total": s(net, dp), "total_tax": s(tax, dp),
                "taxes": taxes.iter().map(|(id, t)| json!({"id": id, "total": t.round_dp(6).to_string(), "subtotal": ""})).collect::<Vec<_>>()}));
        }
        let mut fees_json = Vec::new();
        let mut fee_net = Decimal::ZERO;
        for (name, amount, rates) in &self.fees {
            let (net, taxes) = self.split(*amount, rates);
            let tax = round(taxes.iter().map(|t| t.1).sum::<Decimal>(), dp);
            fee_net += round(net, dp);
            tax_sum += tax;
            for r in rates {
                rate_ids.insert(r.id, r.clone());
            }
            fees_json.push(json!({"id": 950 + fees_json.len(), "name": name, "tax_class": "", "tax_status": if rates.is_empty() { "none" } else { "taxable" },
                "amount": amount.to_string(), "total": s(net, dp), "total_tax": s(tax, dp),
                "taxes": taxes.iter().map(|(id, t)| json!({"id": id, "total": t.round_dp(6).to_string(), "subtotal": ""})).collect::<Vec<_>>()}));
        }
        let total_tax = tax_sum + shipping_tax;
        let total = net_sum + shipping_total + fee_net + total_tax;
        let order = json!({
            "id": self.id, "parent_id": 0, "number": self.id.to_string(), "order_key": format!("wc_order_{}", self.id), "created_via": "checkout",
            "version": "9.4.0", "status": self.status, "currency": self.currency, "prices_include_tax": self.prices_include_tax,
            "date_created": "2026-11-27T09:00:00", "date_created_gmt": "2026-11-27T09:00:00",
            "date_modified": self.modified, "date_modified_gmt": self.modified, "date_paid": self.paid, "date_paid_gmt": self.paid,
            "discount_total": s(discount_total, dp), "discount_tax": "0.00", "shipping_total": s(shipping_total, dp), "shipping_tax": s(shipping_tax, dp),
            "cart_tax": s(tax_sum, dp), "total": s(total, dp), "total_tax": s(total_tax, dp), "customer_id": 0,
            "billing": {"first_name": self.first_name, "last_name": self.last_name, "company": "", "address_1": "1 Queen St", "address_2": "",
                        "city": "Auckland", "state": "", "postcode": "1010", "country": "NZ", "email": self.email, "phone": "+64 9 000 0000"},
            "shipping": {}, "payment_method": self.payment_method, "payment_method_title": "Card", "transaction_id": self.transaction_id,
            "line_items": lines_json, "shipping_lines": shipping_json, "fee_lines": fees_json,
            "coupon_lines": self.coupons.iter().enumerate().map(|(i, c)| json!({"id": 990 + i, "code": c, "discount": "0"})).collect::<Vec<_>>(),
            "tax_lines": rate_ids.values().map(|r| json!({"id": 800 + r.id, "rate_code": r.code, "rate_id": r.id, "label": r.code, "compound": false,
                "tax_total": "0", "shipping_tax_total": "0", "rate_percent": jnum(r.percent)})).collect::<Vec<_>>(),
            "refunds": self.refunds.iter().map(|(id, amount, reason)| json!({"id": id, "reason": reason, "total": format!("-{}", s(*amount, dp))})).collect::<Vec<_>>(),
            "meta_data": []
        });
        (order, round(total, dp))
    }
}
