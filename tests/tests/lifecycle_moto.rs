//! xero-sync part 2 end to end: the order lifecycle (payments, refunds, cancellations, trash,
//! edits, quotes), each step exactly once, totals to the cent.

use std::time::Duration;

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde_json::Value;
use wooxero_shared::mapping::document::DocumentKind;
use wooxero_shared::mapping::Mapping;
use wooxero_shared::ports::{SyncStatus, WooKeyVault, WooKeys};
use wooxero_tests::order_builder::{OrderBuilder, Rate};
use wooxero_tests::sync_harness::{store_id, SyncStack};

const GST: Rate = Rate { id: 1, code: "NZ-GST-1", percent: dec!(15) };
const RUN: Duration = Duration::from_secs(60);

fn mapping() -> Mapping {
    let mut m = Mapping::default();
    m.tax.rates.insert("1".into(), "OUTPUT2".into());
    m.accounts.shipping = "210".into();
    m.payments.accounts.insert("stripe".into(), "091".into());
    m.payments.accounts.insert("bacs".into(), "090".into());
    m
}

fn d(v: &Value) -> Decimal {
    v.to_string().trim_matches('"').parse().unwrap_or_default()
}

/// Pendant ×2 at 45 + shipping 10, 15% GST: 115.00.
fn order(id: u64) -> OrderBuilder {
    let mut b = OrderBuilder::new(id).line("Pendant", Some("PND"), 2, dec!(45), &[GST]);
    b.shipping = vec![("Courier".into(), dec!(10), vec![GST])];
    b
}

fn paid(mut b: OrderBuilder, at: &str) -> OrderBuilder {
    b.paid = Some("2026-11-27T10:00:00".into());
    b.transaction_id = "ch_3QabcXYZ".into();
    b.modified = at.into();
    b
}

async fn send(s: &SyncStack, topic: &str, b: &OrderBuilder) {
    assert_eq!(s.deliver(topic, &b.build().0.to_string()).await, 200);
    s.run_until_idle(RUN).await;
}

fn books(s: &SyncStack) -> (Vec<Value>, Vec<Value>, Vec<Value>, Vec<Value>) {
    s.with_accounting(|a| {
        let b = a.tenants.values().next().expect("a tenant");
        (b.invoices.clone(), b.payments.clone(), b.credit_notes.clone(), b.quotes.clone())
    })
}

#[tokio::test]
async fn paid_at_checkout_records_one_payment_on_the_gateway_account() {
    let s = SyncStack::new(mapping()).await.unwrap();
    let b = paid(order(100), "2026-11-27T10:00:05");
    send(&s, "order.created", &b).await;
    send(&s, "order.updated", &b).await; // the same version again
    let (invoices, payments, _, _) = books(&s);
    assert_eq!(invoices.len(), 1);
    assert_eq!(payments.len(), 1);
    assert_eq!(d(&payments[0]["Amount"]), dec!(115.00));
    assert_eq!(payments[0]["Account"]["Code"], "091");
    assert_eq!(payments[0]["Reference"], "ch_3QabcXYZ");
    assert_eq!(invoices[0]["Status"], "PAID");
    let state = s.state(100).await.unwrap();
    assert_eq!(state.payment.unwrap().amount, "115.00");
}

#[tokio::test]
async fn paid_later_on_hold_then_processing() {
    let mut m = mapping();
    m.triggers = vec!["on-hold".into(), "processing".into(), "completed".into()];
    let s = SyncStack::new(m).await.unwrap();
    let mut b = order(101);
    b.status = "on-hold".into();
    b.payment_method = "bacs".into();
    send(&s, "order.created", &b).await;
    let (invoices, payments, _, _) = books(&s);
    assert_eq!((invoices.len(), payments.len()), (1, 0), "invoiced, not paid yet");
    let mut later = paid(order(101), "2026-11-28T09:00:00");
    later.payment_method = "bacs".into();
    send(&s, "order.updated", &later).await;
    let (invoices, payments, _, _) = books(&s);
    assert_eq!((invoices.len(), payments.len()), (1, 1));
    assert_eq!(payments[0]["Account"]["Code"], "090");
    assert_eq!(invoices[0]["Status"], "PAID");
}

#[tokio::test]
async fn an_unmapped_gateway_fails_the_payment_step_and_keeps_the_invoice() {
    let s = SyncStack::new(mapping()).await.unwrap();
    let mut b = paid(order(102), "2026-11-27T10:00:05");
    b.payment_method = "afterpay".into();
    send(&s, "order.created", &b).await;
    let (invoices, payments, _, _) = books(&s);
    assert_eq!((invoices.len(), payments.len()), (1, 0));
    let state = s.state(102).await.unwrap();
    assert_eq!(state.status, SyncStatus::Failed);
    assert!(state.invoice_id.is_some());
    assert!(state.last_error.unwrap().contains("payments.accounts.afterpay"));
}

#[tokio::test]
async fn partial_refunds_after_payment_become_cash_refunded_credit_notes() {
    let s = SyncStack::new(mapping()).await.unwrap();
    let mut b = paid(order(103), "2026-11-27T10:00:05");
    send(&s, "order.created", &b).await;
    b.refunds = vec![(501, dec!(20), "scratched".into())];
    b.modified = "2026-11-28T10:00:00".into();
    send(&s, "order.updated", &b).await;
    b.refunds.push((502, dec!(11.50), "late".into()));
    b.modified = "2026-11-29T10:00:00".into();
    send(&s, "order.updated", &b).await;
    send(&s, "order.updated", &b).await; // duplicate
    let (_, payments, notes, _) = books(&s);
    assert_eq!(notes.len(), 2, "one credit note per refund");
    let total: Decimal = notes.iter().map(|n| d(&n["Total"])).sum();
    assert_eq!(total, dec!(31.50), "credit notes add up to the refunds to the cent");
    assert!(notes.iter().all(|n| n["Type"] == "ACCRECCREDIT" && n["Status"] == "PAID"), "cash-refunded");
    assert_eq!(payments.len(), 3, "the invoice payment and two refund payments");
    assert!(payments.iter().filter(|p| p["PaymentType"] == "ARCREDITPAYMENT").all(|p| p["Account"]["Code"] == "091"));
}

#[tokio::test]
async fn a_full_refund_and_a_refund_of_shipping_only_from_the_refund_detail() {
    let s = SyncStack::new(mapping()).await.unwrap();
    let keys = WooKeys {
        consumer_key: wooxero_tests::fake_woo::CONSUMER_KEY.into(),
        consumer_secret: secrecy::SecretString::from(wooxero_tests::fake_woo::CONSUMER_SECRET),
    };
    s.c.vault.set_woo_keys(&store_id(), &keys).await.unwrap();
    let mut b = paid(order(104), "2026-11-27T10:00:05");
    s.woo.put_order(104, &b.build().0.to_string());
    send(&s, "order.created", &b).await;
    // Shipping refunded alone, as WooCommerce's refunds endpoint describes it (negative figures).
    b.refunds = vec![(601, dec!(11.50), "shipping".into())];
    b.modified = "2026-11-28T10:00:00".into();
    s.woo.put_order(104, &b.build().0.to_string());
    s.woo.put_refunds(104, r#"[{"id":601,"date_created":"2026-11-28T10:00:00","amount":"11.50","reason":"shipping","line_items":[],
        "shipping_lines":[{"id":1,"method_title":"Courier","method_id":"flat_rate","total":"-10.00","total_tax":"-1.50","taxes":[{"id":1,"total":"-1.5"}]}],"fee_lines":[]}]"#);
    send(&s, "order.updated", &b).await;
    let (_, _, notes, _) = books(&s);
    assert_eq!(notes.len(), 1);
    assert_eq!(d(&notes[0]["Total"]), dec!(11.50));
    assert_eq!(notes[0]["LineItems"][0]["Description"], "Shipping: Courier", "credited line by line from the detail");
    assert_eq!(notes[0]["LineItems"][0]["AccountCode"], "210");
    // Then the rest: a full refund.
    b.refunds.push((602, dec!(103.50), "returned".into()));
    b.status = "refunded".into();
    b.modified = "2026-11-29T10:00:00".into();
    s.woo.put_order(104, &b.build().0.to_string());
    send(&s, "order.updated", &b).await;
    let (_, _, notes, _) = books(&s);
    assert_eq!(notes.len(), 2);
    assert_eq!(notes.iter().map(|n| d(&n["Total"])).sum::<Decimal>(), dec!(115.00));
}

#[tokio::test]
async fn a_refund_of_an_unpaid_invoice_is_allocated_to_it() {
    let mut m = mapping();
    m.triggers.push("on-hold".into());
    let s = SyncStack::new(m).await.unwrap();
    let mut b = order(105);
    b.status = "on-hold".into();
    send(&s, "order.created", &b).await;
    b.refunds = vec![(701, dec!(26.50), "discount agreed".into())];
    b.modified = "2026-11-28T10:00:00".into();
    send(&s, "order.updated", &b).await;
    let (invoices, payments, notes, _) = books(&s);
    assert_eq!(notes.len(), 1);
    assert_eq!(d(&notes[0]["RemainingCredit"]), dec!(0), "allocated in full");
    assert_eq!(d(&invoices[0]["AmountDue"]), dec!(88.50));
    assert!(payments.is_empty(), "no cash moved");
    // Paid later: the payment is for what is still due.
    let mut later = paid(order(105), "2026-11-29T10:00:00");
    later.refunds = b.refunds.clone();
    send(&s, "order.updated", &later).await;
    let (invoices, payments, _, _) = books(&s);
    assert_eq!(payments.len(), 1);
    assert_eq!(d(&payments[0]["Amount"]), dec!(88.50));
    assert_eq!(invoices[0]["Status"], "PAID");
}

#[tokio::test]
async fn cancellations_void_delete_or_credit() {
    // Unpaid → void.
    let s = SyncStack::new(mapping()).await.unwrap();
    let mut b = order(106);
    send(&s, "order.created", &b).await;
    b.status = "cancelled".into();
    b.modified = "2026-11-28T10:00:00".into();
    send(&s, "order.updated", &b).await;
    send(&s, "order.updated", &b).await;
    let (invoices, _, notes, _) = books(&s);
    assert_eq!(invoices[0]["Status"], "VOIDED");
    assert!(notes.is_empty());
    assert_eq!(s.state(106).await.unwrap().cancelled.as_deref(), Some("voided"));

    // Paid → a credit note for what was paid, never a void.
    let mut p = paid(order(107), "2026-11-27T10:00:05");
    send(&s, "order.created", &p).await;
    p.status = "cancelled".into();
    p.modified = "2026-11-28T10:00:00".into();
    send(&s, "order.updated", &p).await;
    let (invoices, _, notes, _) = books(&s);
    let inv = invoices.iter().find(|i| i["InvoiceNumber"] == "WC-107").unwrap();
    assert_eq!(inv["Status"], "PAID", "a paid invoice is not voided");
    assert_eq!(notes.len(), 1);
    assert_eq!(d(&notes[0]["Total"]), dec!(115.00));

    // Draft → deleted.
    let mut m = mapping();
    m.invoice_status = "DRAFT".into();
    let s2 = SyncStack::new(m).await.unwrap();
    let mut b = order(108);
    send(&s2, "order.created", &b).await;
    b.status = "failed".into();
    b.modified = "2026-11-28T10:00:00".into();
    send(&s2, "order.updated", &b).await;
    let (invoices, _, _, _) = books(&s2);
    assert_eq!(invoices[0]["Status"], "DELETED");
}

#[tokio::test]
async fn trash_changes_nothing_and_restore_resyncs() {
    let s = SyncStack::new(mapping()).await.unwrap();
    let b = order(109);
    send(&s, "order.created", &b).await;
    assert_eq!(s.deliver("order.deleted", r#"{"id":"109"}"#).await, 200);
    s.run_until_idle(RUN).await;
    let (invoices, _, _, _) = books(&s);
    assert_eq!(invoices[0]["Status"], "AUTHORISED", "trash is reversible: Xero unchanged");
    let mut restored = order(109);
    restored.modified = "2026-11-28T10:00:00".into();
    send(&s, "order.restored", &restored).await;
    let (invoices, _, _, _) = books(&s);
    assert_eq!(invoices.len(), 1);
    let state = s.state(109).await.unwrap();
    assert_eq!(state.modified_gmt.as_deref(), Some("2026-11-28T10:00:00"));
    assert!(state.events.iter().any(|e| e.contains("trashed")));
}

#[tokio::test]
async fn edits_update_an_unpaid_invoice_in_place_and_annotate_a_paid_one() {
    let s = SyncStack::new(mapping()).await.unwrap();
    let b = order(110);
    send(&s, "order.created", &b).await;
    let mut edited = order(110).line("Chain", Some("CHN"), 1, dec!(20), &[GST]);
    edited.modified = "2026-11-28T10:00:00".into();
    send(&s, "order.updated", &edited).await;
    let (invoices, _, _, _) = books(&s);
    assert_eq!(invoices.len(), 1, "updated in place, no second invoice");
    assert_eq!(invoices[0]["InvoiceNumber"], "WC-110");
    assert_eq!(d(&invoices[0]["Total"]), dec!(138.00));
    assert_eq!(invoices[0]["LineItems"].as_array().unwrap().len(), 3);

    let p = paid(order(111), "2026-11-27T10:00:05");
    send(&s, "order.created", &p).await;
    let mut changed = paid(order(111).line("Chain", Some("CHN"), 1, dec!(20), &[GST]), "2026-11-28T10:00:00");
    changed.transaction_id = p.transaction_id.clone();
    send(&s, "order.updated", &changed).await;
    send(&s, "order.updated", &changed).await;
    let (invoices, _, _, _) = books(&s);
    let inv = invoices.iter().find(|i| i["InvoiceNumber"] == "WC-111").unwrap();
    assert_eq!(d(&inv["Total"]), dec!(115.00), "a paid invoice is not rewritten");
    let notes = s.with_accounting(|a| a.tenants.values().next().unwrap().history.clone());
    assert_eq!(notes.iter().filter(|(id, _)| *id == inv["InvoiceID"].as_str().unwrap()).count(), 1, "one History note");
    assert!(s.state(111).await.unwrap().events.iter().any(|e| e.contains("changed after payment")));
}

#[tokio::test]
async fn quote_mode_quotes_pending_orders_and_invoices_them_when_paid() {
    let mut m = mapping();
    m.document = DocumentKind::Quote;
    let s = SyncStack::new(m).await.unwrap();
    let mut b = order(112);
    b.status = "pending".into();
    send(&s, "order.created", &b).await;
    let (invoices, _, _, quotes) = books(&s);
    assert_eq!((invoices.len(), quotes.len()), (0, 1), "{:?}", s.state(112).await);
    assert_eq!(quotes[0]["QuoteNumber"], "QU-112");
    assert_eq!(d(&quotes[0]["Total"]), dec!(115.00));
    let p = paid(order(112), "2026-11-28T10:00:00");
    send(&s, "order.updated", &p).await;
    let (invoices, payments, _, quotes) = books(&s);
    assert_eq!(quotes.len(), 1);
    assert_eq!(quotes[0]["Status"], "ACCEPTED");
    assert_eq!(invoices.len(), 1);
    assert_eq!(payments.len(), 1);
}

#[tokio::test]
async fn every_step_delivered_twice_and_out_of_order_gives_the_same_documents_once() {
    let s = SyncStack::new(mapping()).await.unwrap();
    let created = order(113);
    let paid_v = paid(order(113), "2026-11-27T11:00:00");
    let mut refunded = paid(order(113), "2026-11-28T11:00:00");
    refunded.refunds = vec![(801, dec!(26.50), "one".into())];
    // Newest first, then the older versions, each twice.
    for b in [&refunded, &refunded, &paid_v, &created, &paid_v, &created] {
        assert_eq!(s.deliver("order.updated", &b.build().0.to_string()).await, 200);
    }
    s.run_until_idle(RUN).await;
    let (invoices, payments, notes, _) = books(&s);
    assert_eq!(invoices.len(), 1);
    assert_eq!(notes.len(), 1);
    assert_eq!(payments.len(), 2, "one invoice payment, one cash refund");
    assert_eq!(s.state(113).await.unwrap().modified_gmt.as_deref(), Some("2026-11-28T11:00:00"));
}

async fn crash_at(
    step: &'static str,
    m: Mapping,
    versions: Vec<OrderBuilder>,
) -> (SyncStack, Vec<Value>, Vec<Value>, Vec<Value>, Vec<Value>) {
    let mut s = SyncStack::new(m).await.unwrap();
    let inner = std::sync::Arc::new(
        wooxero_shared::xero::api::HttpXeroAccounting::new(format!("{}/api.xro/2.0", s.c.fake.base_url)).unwrap(),
    );
    std::sync::Arc::get_mut(&mut s.deps).unwrap().xero =
        std::sync::Arc::new(wooxero_tests::crash::CrashOnce::new(inner, step));
    for v in &versions {
        send(&s, "order.updated", v).await;
    }
    let (i, p, c, q) = books(&s);
    (s, i, p, c, q)
}

#[tokio::test]
async fn a_crash_between_the_xero_write_and_the_state_write_at_each_step_duplicates_nothing() {
    let base = paid(order(114), "2026-11-27T11:00:00");
    let mut refunded = paid(order(114), "2026-11-28T11:00:00");
    refunded.refunds = vec![(901, dec!(26.50), "one".into())];
    for step in ["create_invoice", "create_payment", "create_credit_note"] {
        let (s, invoices, payments, notes, _) = crash_at(
            step,
            mapping(),
            vec![paid(order(114), "2026-11-27T11:00:00"), {
                let mut r = paid(order(114), "2026-11-28T11:00:00");
                r.refunds = refunded.refunds.clone();
                r
            }],
        )
        .await;
        assert_eq!(invoices.len(), 1, "{step}");
        assert_eq!(notes.len(), 1, "{step}");
        assert_eq!(payments.len(), 2, "{step}: one payment, one cash refund");
        assert_eq!(s.state(114).await.unwrap().status, SyncStatus::Synced, "{step}");
    }
    let _ = base;
    // Allocation (unpaid invoice), void, in-place update and History note.
    let mut m = mapping();
    m.triggers.push("on-hold".into());
    let mut unpaid = order(115);
    unpaid.status = "on-hold".into();
    let mut unpaid_refund = order(115);
    unpaid_refund.status = "on-hold".into();
    unpaid_refund.refunds = vec![(902, dec!(6.50), "x".into())];
    unpaid_refund.modified = "2026-11-28T10:00:00".into();
    let (_, _, payments, notes, _) =
        crash_at("allocate_credit_note", m.clone(), vec![unpaid.clone(), unpaid_refund]).await;
    assert_eq!((notes.len(), payments.len()), (1, 0));
    assert_eq!(d(&notes[0]["RemainingCredit"]), dec!(0));

    let mut cancelled = order(116);
    cancelled.status = "cancelled".into();
    cancelled.modified = "2026-11-28T10:00:00".into();
    let (_, invoices, _, notes, _) = crash_at("set_invoice_status", mapping(), vec![order(116), cancelled]).await;
    assert_eq!(invoices[0]["Status"], "VOIDED");
    assert!(notes.is_empty());

    let mut edited = order(117).line("Chain", Some("CHN"), 1, dec!(20), &[GST]);
    edited.modified = "2026-11-28T10:00:00".into();
    let (_, invoices, _, _, _) = crash_at("update_invoice", mapping(), vec![order(117), edited]).await;
    assert_eq!(invoices.len(), 1);
    assert_eq!(d(&invoices[0]["Total"]), dec!(138.00));

    let (s, invoices, _, _, _) = crash_at(
        "add_invoice_history",
        mapping(),
        vec![paid(order(118), "2026-11-27T11:00:00"), {
            let mut c = paid(order(118).line("Chain", Some("CHN"), 1, dec!(20), &[GST]), "2026-11-28T10:00:00");
            c.transaction_id = "ch_3QabcXYZ".into();
            c
        }],
    )
    .await;
    let id = invoices[0]["InvoiceID"].as_str().unwrap().to_owned();
    let notes = s.with_accounting(|a| a.tenants.values().next().unwrap().history.clone());
    assert_eq!(notes.iter().filter(|(i, _)| *i == id).count(), 1, "the History note is not repeated");

    let mut qm = mapping();
    qm.document = DocumentKind::Quote;
    let mut pending = order(119);
    pending.status = "pending".into();
    let (_, _, _, _, quotes) = crash_at("create_quote", qm, vec![pending]).await;
    assert_eq!(quotes.len(), 1);
}
