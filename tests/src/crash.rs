//! A Xero client that "dies" right after one kind of write: Xero has done the work, the caller
//! gets an error and records nothing, as when a Lambda is killed between Xero's answer and the
//! state write. Used to prove that every step recovers without a second document.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use rust_decimal::Decimal;
use wooxero_shared::xero::api::{XeroAccounting, XeroApiError, XeroCtx};
use wooxero_shared::xero::model::*;

pub struct CrashOnce {
    pub inner: Arc<dyn XeroAccounting>,
    /// `create_invoice`, `update_invoice`, `set_invoice_status`, `add_invoice_history`, `create_payment`,
    /// `create_credit_note`, `allocate_credit_note`, `create_quote`, `update_quote`.
    pub after: &'static str,
    pub crashed: AtomicBool,
}

impl CrashOnce {
    pub fn new(inner: Arc<dyn XeroAccounting>, after: &'static str) -> Self {
        CrashOnce { inner, after, crashed: AtomicBool::new(false) }
    }

    fn die<T>(&self, step: &str, result: Result<T, XeroApiError>) -> Result<T, XeroApiError> {
        let value = result?;
        if step == self.after && !self.crashed.swap(true, Ordering::SeqCst) {
            return Err(XeroApiError::Transient(format!("the Lambda died right after {step}").into()));
        }
        Ok(value)
    }
}

#[async_trait]
impl XeroAccounting for CrashOnce {
    async fn tax_rates(&self, c: &XeroCtx) -> Result<Vec<TaxRateRecord>, XeroApiError> {
        self.inner.tax_rates(c).await
    }
    async fn find_contact(&self, c: &XeroCtx, f: &str, v: &str) -> Result<Option<ContactRecord>, XeroApiError> {
        self.inner.find_contact(c, f, v).await
    }
    async fn create_contact(&self, c: &XeroCtx, n: &NewContact, k: &str) -> Result<ContactRecord, XeroApiError> {
        self.inner.create_contact(c, n, k).await
    }
    async fn find_items(&self, c: &XeroCtx, codes: &[String]) -> Result<Vec<ItemRecord>, XeroApiError> {
        self.inner.find_items(c, codes).await
    }
    async fn create_items(
        &self,
        c: &XeroCtx,
        i: &[NewItem],
        k: &str,
    ) -> Result<Vec<Result<ItemRecord, Vec<String>>>, XeroApiError> {
        self.inner.create_items(c, i, k).await
    }
    async fn find_invoice_by_number(&self, c: &XeroCtx, n: &str) -> Result<Option<InvoiceRecord>, XeroApiError> {
        self.inner.find_invoice_by_number(c, n).await
    }
    async fn create_invoice(&self, c: &XeroCtx, i: &Invoice, k: &str) -> Result<InvoiceRecord, XeroApiError> {
        let r = self.inner.create_invoice(c, i, k).await;
        self.die("create_invoice", r)
    }
    async fn get_invoice(&self, c: &XeroCtx, id: &str) -> Result<InvoiceRecord, XeroApiError> {
        self.inner.get_invoice(c, id).await
    }
    async fn update_invoice(&self, c: &XeroCtx, id: &str, i: &Invoice, k: &str) -> Result<InvoiceRecord, XeroApiError> {
        let r = self.inner.update_invoice(c, id, i, k).await;
        self.die("update_invoice", r)
    }
    async fn set_invoice_status(&self, c: &XeroCtx, id: &str, s: &str, k: &str) -> Result<InvoiceRecord, XeroApiError> {
        let r = self.inner.set_invoice_status(c, id, s, k).await;
        self.die("set_invoice_status", r)
    }
    async fn add_invoice_history(&self, c: &XeroCtx, id: &str, d: &str, k: &str) -> Result<(), XeroApiError> {
        let r = self.inner.add_invoice_history(c, id, d, k).await;
        self.die("add_invoice_history", r)
    }
    async fn create_payment(
        &self,
        c: &XeroCtx,
        target: &str,
        id: &str,
        account: &str,
        date: &str,
        amount: Decimal,
        reference: &str,
        k: &str,
    ) -> Result<PaymentRecord, XeroApiError> {
        let r = self.inner.create_payment(c, target, id, account, date, amount, reference, k).await;
        self.die("create_payment", r)
    }
    async fn create_credit_note(&self, c: &XeroCtx, n: &CreditNote, k: &str) -> Result<CreditNoteRecord, XeroApiError> {
        let r = self.inner.create_credit_note(c, n, k).await;
        self.die("create_credit_note", r)
    }
    async fn find_credit_note(&self, c: &XeroCtx, n: &str) -> Result<Option<CreditNoteRecord>, XeroApiError> {
        self.inner.find_credit_note(c, n).await
    }
    async fn allocate_credit_note(
        &self,
        c: &XeroCtx,
        cn: &str,
        inv: &str,
        a: Decimal,
        d: &str,
        k: &str,
    ) -> Result<(), XeroApiError> {
        let r = self.inner.allocate_credit_note(c, cn, inv, a, d, k).await;
        self.die("allocate_credit_note", r)
    }
    async fn create_quote(&self, c: &XeroCtx, q: &Quote, k: &str) -> Result<QuoteRecord, XeroApiError> {
        let r = self.inner.create_quote(c, q, k).await;
        self.die("create_quote", r)
    }
    async fn update_quote(&self, c: &XeroCtx, id: &str, q: &Quote, k: &str) -> Result<QuoteRecord, XeroApiError> {
        let r = self.inner.update_quote(c, id, q, k).await;
        self.die("update_quote", r)
    }
    async fn find_quote(&self, c: &XeroCtx, n: &str) -> Result<Option<QuoteRecord>, XeroApiError> {
        self.inner.find_quote(c, n).await
    }
}
