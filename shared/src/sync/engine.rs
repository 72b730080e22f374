//! One job, start to finish. The order of steps is what makes it exactly-once:
//! 1. converge: an event older than (or as old as) what was handled is acknowledged, no writes;
//! 2. a paused or disconnected store parks the job in DynamoDB (re-queued on resume/connect);
//! 3. before creating an invoice, the order state is marked `creating` with its InvoiceNumber;
//!    a retry that finds that mark looks the invoice up by number first, so a Lambda that died
//!    between Xero's answer and the state write causes no second invoice;
//! 4. every create carries an Idempotency-Key (covers network retries within Xero's 6 minutes).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rust_decimal::Decimal;
use sha2::{Digest, Sha256};
use tracing::{info, warn};

use crate::clock::{rfc3339, Clock};
use crate::error::{chain, StorageError};
use crate::ids::StoreId;
use crate::job::SyncJob;
use crate::mapping::document::{ContactMode, DocumentKind, PaidRefund};
use crate::mapping::invoice::{build_credit_note, build_invoice, BuildError, Lookups};
use crate::mapping::Mapping;
use crate::ports::{
    CreditNoteState, DocRef, LookupCache, MappingRepo, OrderState, OrderStateRepo, PayloadStore, QuoteState, StoreRepo,
    SyncStatus, WooApi, WooFetchError, WooKeyVault,
};
use crate::store::{ConnectionStatus, Store, StoreStatus};
use crate::woo::order::{Order, RefundDetail};
use crate::xero::api::{XeroAccounting, XeroApiError, XeroCtx};
use crate::xero::model::{Address, NewContact, NewItem, Phone, Quote, SalesDetails};
use crate::xero::tokens::{TokenError, TokenProvider};

/// What one job is working on.
struct Run<'a> {
    store: &'a Store,
    job: &'a SyncJob,
    order: &'a Order,
    mapping: &'a Mapping,
    ctx: &'a XeroCtx,
    state: &'a mut OrderState,
    /// Contact id and tax rates, resolved once per job when first needed.
    lookups: Option<(String, HashMap<String, Decimal>)>,
    /// The order as an invoice, built once per job when first needed.
    built: Option<crate::mapping::invoice::BuiltInvoice>,
    /// Steps that could not be done (unmapped gateway, …): reported on the order, others still run.
    problems: Vec<String>,
}

fn content_hash<T: serde::Serialize>(doc: &T) -> String {
    hex::encode(Sha256::digest(serde_json::to_string(doc).unwrap_or_default().as_bytes()))
}

pub struct SyncDeps {
    pub stores: Arc<dyn StoreRepo>,
    pub states: Arc<dyn OrderStateRepo>,
    pub cache: Arc<dyn LookupCache>,
    pub mappings: Arc<dyn MappingRepo>,
    pub payloads: Arc<dyn PayloadStore>,
    pub tokens: TokenProvider,
    pub xero: Arc<dyn XeroAccounting>,
    pub woo: Arc<dyn WooApi>,
    pub woo_keys: Arc<dyn WooKeyVault>,
    pub clock: Arc<dyn Clock>,
}

/// How a job ended; everything but `Retry` is acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    /// The order's documents were brought up to date (payments, refunds, edits, cancellation).
    Converged {
        xero_calls: u32,
    },
    Created {
        invoice_number: String,
        xero_calls: u32,
    },
    /// Found an invoice created by an earlier attempt and recorded it.
    Adopted {
        invoice_number: String,
    },
    /// Older than, or the same as, what was already handled.
    Stale,
    /// Nothing to do in Xero (status outside the triggers, a draft, a trashed order, …).
    Skipped(String),
    /// Kept aside until the store is resumed or reconnected.
    Parked(String),
    /// Recorded as `failed` with the reason; waits for an operator.
    Failed(String),
    /// Put back on the queue for at least this long.
    Retry {
        after: Duration,
        reason: String,
    },
    /// Xero's rate limit: back on the queue after `Retry-After`. Throttling is not the job's
    /// fault, so it must never use up the job's receives and push it to the DLQ.
    Throttled {
        after: Duration,
        reason: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Xero(#[from] XeroApiError),
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error("fetching the order from WooCommerce failed")]
    Woo(#[from] WooFetchError),
    #[error("another worker changed the order's state at the same time")]
    Conflict,
    #[error("{0}")]
    Permanent(String),
}

const TAX_RATES_TTL: Duration = Duration::from_secs(3600);

/// A credit note's settlement was started (allocation or cash refund); a retry checks Xero first.
const SETTLING: &str = "settling";

fn idempotency_key(parts: &[&str]) -> String {
    hex::encode(Sha256::digest(parts.join("|").as_bytes()))
}

impl SyncDeps {
    /// Runs one job. Errors that are worth retrying come back as `Retry`; permanent ones are
    /// recorded on the order and come back as `Failed`.
    pub async fn process(&self, job: &SyncJob, receive_count: u32) -> JobOutcome {
        match self.process_inner(job).await {
            Ok(outcome) => outcome,
            Err(e) => self.classify_failure(job, e, receive_count).await,
        }
    }

    async fn classify_failure(&self, job: &SyncJob, e: SyncError, receive_count: u32) -> JobOutcome {
        // 15 s, 30 s, 60 s, 120 s … by how often the message was received (about 7.5 minutes
        // before the fifth receive sends a job that keeps failing to the DLQ).
        let backoff = Duration::from_secs((15u64 << receive_count.saturating_sub(1).min(6)).min(900));
        let reason = chain(&e);
        match e {
            SyncError::Xero(XeroApiError::RateLimited { retry_after, .. }) => {
                JobOutcome::Throttled { after: retry_after, reason }
            }
            SyncError::Xero(ref x) if x.is_retryable() => JobOutcome::Retry { after: backoff, reason },
            SyncError::Token(ref t) if t.is_retryable() => JobOutcome::Retry { after: backoff, reason },
            SyncError::Token(TokenError::NeedsReconnect(_) | TokenError::NotConnected(_)) => {
                match self.park(job, "the store must be reconnected to Xero").await {
                    Ok(o) => o,
                    Err(e) => JobOutcome::Retry { after: backoff, reason: chain(&e) },
                }
            }
            SyncError::Storage(ref s) if s.is_retryable() => JobOutcome::Retry { after: backoff, reason },
            SyncError::Woo(WooFetchError::Transient(_)) | SyncError::Conflict => {
                JobOutcome::Retry { after: backoff, reason }
            }
            _ => match self.record_failure(job, &reason).await {
                Ok(()) => JobOutcome::Failed(reason),
                Err(e) => JobOutcome::Retry { after: backoff, reason: chain(&e) },
            },
        }
    }

    async fn record_failure(&self, job: &SyncJob, reason: &str) -> Result<(), SyncError> {
        for _ in 0..3 {
            let mut state = self.state_of(job).await?;
            // A failure after the invoice exists keeps the invoice recorded; the order shows the error.
            if state.invoice_id.is_none() {
                state.status = SyncStatus::Failed;
            }
            state.pending_job = Some(job.to_json());
            state.last_error = Some(reason.chars().take(1000).collect());
            state.attempts += 1;
            self.note(&mut state, format!("{} failed: {}", job.topic, reason.chars().take(300).collect::<String>()));
            if self.states.put(&state).await? {
                warn!(store_id = %job.store_id, order_id = %job.order_id, reason, "order sync failed permanently");
                return Ok(());
            }
        }
        Err(SyncError::Conflict)
    }

    /// The order's state, or a fresh one.
    async fn state_of(&self, job: &SyncJob) -> Result<OrderState, SyncError> {
        Ok(self
            .states
            .get(&job.store_id, job.order_id)
            .await?
            .unwrap_or_else(|| OrderState::new(job.store_id.clone(), job.order_id)))
    }

    fn note(&self, state: &mut OrderState, event: String) {
        state.updated_at = rfc3339(self.clock.now());
        state.events.push(format!("{} {event}", state.updated_at));
        // Keep the record well under DynamoDB's item limit.
        if state.events.len() > 50 {
            state.events.drain(..state.events.len() - 50);
        }
    }

    async fn park(&self, job: &SyncJob, why: &str) -> Result<JobOutcome, SyncError> {
        for _ in 0..3 {
            let mut state = self.state_of(job).await?;
            // Keep the newest job: an older one adds nothing.
            let newer = match (&state.pending_job, &job.modified_gmt) {
                (Some(parked), Some(m)) => {
                    SyncJob::parse(parked).ok().and_then(|p| p.modified_gmt).is_none_or(|pm| *m >= pm)
                }
                _ => true,
            };
            if newer {
                state.pending_job = Some(job.to_json());
            }
            if state.status != SyncStatus::Synced {
                state.status = SyncStatus::Parked;
            }
            self.note(&mut state, format!("{} parked: {why}", job.topic));
            if self.states.put(&state).await? {
                info!(store_id = %job.store_id, order_id = %job.order_id, why, "job parked");
                return Ok(JobOutcome::Parked(why.to_owned()));
            }
        }
        Err(SyncError::Conflict)
    }

    async fn load_order(&self, store: &Store, job: &SyncJob) -> Result<Option<Vec<u8>>, SyncError> {
        // Webhook bodies can be stale or coalesced: with REST keys, WooCommerce's current order wins.
        if let Some(keys) = self.woo_keys.woo_keys(&store.id).await? {
            return Ok(self.woo.order(&store.site_url, &keys, job.order_id.get()).await?);
        }
        match (&job.body, &job.body_ref) {
            (Some(body), _) => Ok(Some(body.clone().into_bytes())),
            (None, Some(r)) => Ok(Some(self.payloads.get(r).await?)),
            (None, None) => Err(SyncError::Permanent("the job carries no body".into())),
        }
    }

    async fn process_inner(&self, job: &SyncJob) -> Result<JobOutcome, SyncError> {
        let Some(store) = self.stores.get(&job.store_id).await? else {
            return Ok(JobOutcome::Skipped(format!("store {} no longer exists", job.store_id)));
        };
        if job.topic == "order.deleted" {
            // Trash is reversible in WooCommerce; nothing changes in Xero without a human check.
            info!(store_id = %store.id, order_id = %job.order_id, "order trashed in WooCommerce; Xero unchanged");
            return self.note_only(job, "order trashed in WooCommerce; Xero unchanged").await;
        }
        if store.status == StoreStatus::Paused {
            return self.park(job, "the store is paused").await;
        }
        if store.connection != ConnectionStatus::Connected {
            return self.park(job, "the store is not connected to Xero").await;
        }
        let Some(body) = self.load_order(&store, job).await? else {
            return Ok(JobOutcome::Skipped("WooCommerce no longer has the order".into()));
        };
        let order = Order::parse(&body).map_err(|e| SyncError::Permanent(format!("the order is not readable: {e}")))?;
        let mut state = self
            .states
            .get(&store.id, job.order_id)
            .await?
            .unwrap_or_else(|| OrderState::new(store.id.clone(), job.order_id));

        let modified = order.date_modified_gmt.clone().or_else(|| job.modified_gmt.clone());
        let handled = matches!(state.status, SyncStatus::Synced | SyncStatus::Skipped);
        if handled && state.modified_gmt.is_some() && modified <= state.modified_gmt && state.last_error.is_none() {
            return Ok(JobOutcome::Stale);
        }
        let mapping = self.mappings.get(&store.id).await?.unwrap_or_default();
        let paid = mapping.paid(&order.status, order.date_paid_gmt.as_deref());
        let cancelling = matches!(order.status.as_str(), "cancelled" | "failed");
        let wants_invoice =
            !cancelling && (mapping.triggers_on(&order.status) || (mapping.document == DocumentKind::Quote && paid));
        let wants_quote = state.invoice_id.is_none() && !cancelling && mapping.quotes_on(&order.status);
        let has_documents = state.invoice_id.is_some() || state.quote.is_some();
        if !has_documents && !wants_invoice && !wants_quote {
            let why = format!("status {:?} does not trigger an invoice", order.status);
            state.status = SyncStatus::Skipped;
            state.modified_gmt = modified.clone();
            state.order_status = Some(order.status.clone());
            state.last_error = None;
            self.note(&mut state, format!("{} skipped: {why}", job.topic));
            return if self.states.put(&state).await? {
                Ok(JobOutcome::Skipped(why))
            } else {
                Err(SyncError::Conflict)
            };
        }

        let token = self.tokens.access_token(&store.id).await?;
        let tenant = token
            .tenant_id
            .clone()
            .or(store.tenant_id.clone())
            .ok_or_else(|| SyncError::Permanent("no Xero tenant recorded".into()))?;
        let ctx = XeroCtx::new(token.token, tenant);
        let order_number = if order.number.is_empty() { order.id.to_string() } else { order.number.clone() };
        let number = mapping.invoice_number_for(&order_number, order.id);
        let mut run = Run {
            store: &store,
            job,
            order: &order,
            mapping: &mapping,
            ctx: &ctx,
            state: &mut state,
            lookups: None,
            built: None,
            problems: Vec::new(),
        };
        let mut outcome = None;

        if wants_quote {
            self.quote_step(&mut run).await?;
        } else if run.state.invoice_id.is_none() && wants_invoice {
            if run.state.quote.is_some() {
                self.accept_quote(&mut run).await?;
            }
            outcome = Some(self.create_invoice_step(&mut run, &number).await?);
        }
        if run.state.invoice_id.is_some() {
            if !cancelling {
                self.edit_step(&mut run).await?;
                if paid && mapping.payments.record {
                    self.payment_step(&mut run).await?;
                }
            }
            self.refund_steps(&mut run).await?;
            if cancelling {
                self.cancel_step(&mut run).await?;
            }
        }

        // Converged: record the order version handled, and any step that could not be done.
        let problems = std::mem::take(&mut run.problems);
        let calls = ctx.calls();
        state.modified_gmt = modified;
        state.order_status = Some(order.status.clone());
        state.xero_calls += calls;
        state.status = if problems.is_empty() { SyncStatus::Synced } else { SyncStatus::Failed };
        state.last_error = (!problems.is_empty()).then(|| problems.join("; "));
        state.pending_job = (!problems.is_empty()).then(|| job.to_json());
        self.note(
            &mut state,
            format!(
                "{} handled ({} Xero calls){}",
                job.topic,
                calls,
                if problems.is_empty() { String::new() } else { format!("; problems: {}", problems.join("; ")) }
            ),
        );
        if !self.states.put(&state).await? {
            return Err(SyncError::Conflict);
        }
        info!(store_id = %store.id, order_id = %order.id, status = %order.status, xero_calls = calls, problems = problems.len(), "order converged");
        if !problems.is_empty() {
            warn!(store_id = %store.id, order_id = %order.id, reason = %problems.join("; "), "order step failed");
            return Ok(JobOutcome::Failed(problems.join("; ")));
        }
        Ok(outcome.unwrap_or(JobOutcome::Converged { xero_calls: calls }))
    }

    async fn note_only(&self, job: &SyncJob, what: &str) -> Result<JobOutcome, SyncError> {
        if let Some(mut state) = self.states.get(&job.store_id, job.order_id).await? {
            self.note(&mut state, format!("{}: {what}", job.topic));
            if !self.states.put(&state).await? {
                return Err(SyncError::Conflict);
            }
        }
        Ok(JobOutcome::Skipped(what.to_owned()))
    }

    /// Writes the state mid-run (before or after a Xero write), keeping the revision in step.
    async fn save(&self, state: &mut OrderState) -> Result<(), SyncError> {
        if !self.states.put(state).await? {
            return Err(SyncError::Conflict);
        }
        state.rev += 1;
        Ok(())
    }

    async fn built_invoice(
        &self,
        run: &mut Run<'_>,
        number: &str,
    ) -> Result<crate::mapping::invoice::BuiltInvoice, SyncError> {
        // Built once per job: the order, mapping and lookups do not change within it.
        let mut built = match &run.built {
            Some(built) => built.clone(),
            None => {
                let lookups = self.lookups(run).await?;
                let built = build_invoice(
                    run.order,
                    run.mapping,
                    &Lookups { contact_id: &lookups.0, tax_rates: &lookups.1 },
                    Some(run.store.site_url.as_str()),
                )
                .map_err(|e: BuildError| SyncError::Permanent(e.to_string()))?;
                run.built = Some(built.clone());
                built
            }
        };
        built.invoice.invoice_number = number.to_owned();
        Ok(built)
    }

    async fn lookups(&self, run: &mut Run<'_>) -> Result<(String, HashMap<String, Decimal>), SyncError> {
        if let Some(l) = &run.lookups {
            return Ok(l.clone());
        }
        let rates = self.tax_rates(&run.store.id, run.ctx).await?;
        let contact = self.contact(&run.store.id, run.order, run.mapping, run.ctx).await?;
        run.lookups = Some((contact, rates));
        Ok(run.lookups.clone().unwrap_or_default())
    }

    async fn create_invoice_step(&self, run: &mut Run<'_>, number: &str) -> Result<JobOutcome, SyncError> {
        let ctx = run.ctx;
        // A previous attempt may have created the invoice and died before recording it.
        if run.state.status == SyncStatus::Creating {
            if let Some(found) = self.xero.find_invoice_by_number(ctx, number).await? {
                return Ok(self.record_invoice(run, &found.invoice_id, number, found.total, None, true));
            }
        }
        let built = self.built_invoice(run, number).await?;
        self.items_for(run, &built.invoice.line_items).await?;

        // Mark before creating, so a crash after Xero's answer is recoverable by number.
        run.state.status = SyncStatus::Creating;
        run.state.invoice_number = Some(number.to_owned());
        self.note(run.state, format!("{} creating invoice {number}", run.job.topic));
        self.save(run.state).await?;
        let key = idempotency_key(&[
            run.store.id.as_str(),
            &run.order.id.to_string(),
            number,
            &run.state.attempts.to_string(),
        ]);
        let hash = content_hash(&built.invoice);
        let created = match self.xero.create_invoice(ctx, &built.invoice, &key).await {
            Ok(inv) => inv,
            Err(XeroApiError::Validation(msgs)) if msgs.iter().any(|m| m.contains("must be unique")) => {
                match self.xero.find_invoice_by_number(ctx, number).await? {
                    Some(found)
                        if found.reference == run.order.number
                            || found.reference.is_empty()
                            || found.total == run.order.total =>
                    {
                        return Ok(self.record_invoice(run, &found.invoice_id, number, found.total, Some(hash), true));
                    }
                    _ => {
                        return Err(SyncError::Permanent(format!(
                            "InvoiceNumber {number} is already used in Xero by another document"
                        )))
                    }
                }
            }
            Err(XeroApiError::Validation(msgs)) => {
                return Err(SyncError::Permanent(format!("Xero rejected the invoice: {}", msgs.join("; "))))
            }
            Err(e) => return Err(e.into()),
        };
        if created.total != run.order.total {
            warn!(store_id = %run.store.id, order_id = %run.order.id, xero_total = %created.total, woo_total = %run.order.total, "Xero total differs from the order total");
        }
        let outcome =
            self.record_invoice(run, &created.invoice_id, &created.invoice_number, created.total, Some(hash), false);
        self.save(run.state).await?;
        Ok(outcome)
    }

    /// Every item code on these lines exists in Xero afterwards.
    async fn items_for(&self, run: &Run<'_>, lines: &[crate::xero::model::LineItem]) -> Result<(), SyncError> {
        let wanted: Vec<NewItem> = lines
            .iter()
            .filter_map(|line| {
                let code = line.item_code.as_ref()?;
                (run.mapping.accounts.shipping_item.as_deref() != Some(code.as_str())).then(|| NewItem {
                    code: code.clone(),
                    name: line.description.chars().take(50).collect(),
                    description: line.description.chars().take(4000).collect(),
                    is_sold: true,
                    is_purchased: false,
                    sales_details: SalesDetails {
                        unit_price: line.unit_amount,
                        account_code: line.account_code.clone(),
                    },
                })
            })
            .collect();
        self.ensure_items(&run.store.id, wanted, run.ctx).await
    }

    fn record_invoice(
        &self,
        run: &mut Run<'_>,
        invoice_id: &str,
        number: &str,
        total: Decimal,
        hash: Option<String>,
        adopted: bool,
    ) -> JobOutcome {
        let state = &mut *run.state;
        state.status = SyncStatus::Synced;
        state.invoice_id = Some(invoice_id.to_owned());
        state.invoice_number = Some(number.to_owned());
        state.total = Some(format!("{total:.2}"));
        if hash.is_some() {
            state.invoice_hash = hash;
        }
        let verb = if adopted { "found existing" } else { "created" };
        self.note(state, format!("{verb} invoice {number} (total {total:.2})"));
        info!(store_id = %state.store_id, order_id = %run.order.id, invoice_number = number, total = %total, woo_total = %run.order.total, adopted, "invoice synced");
        if adopted {
            JobOutcome::Adopted { invoice_number: number.to_owned() }
        } else {
            JobOutcome::Created { invoice_number: number.to_owned(), xero_calls: run.ctx.calls() }
        }
    }

    /// An unpaid invoice follows the order (rewritten in place); a paid one gets a History note.
    async fn edit_step(&self, run: &mut Run<'_>) -> Result<(), SyncError> {
        let Some(invoice_id) = run.state.invoice_id.clone() else { return Ok(()) };
        let number = run.state.invoice_number.clone().unwrap_or_default();
        let built = self.built_invoice(run, &number).await?;
        let hash = content_hash(&built.invoice);
        let Some(previous) = run.state.invoice_hash.clone() else {
            run.state.invoice_hash = Some(hash);
            return Ok(());
        };
        if previous == hash {
            return Ok(());
        }
        let current = self.xero.get_invoice(run.ctx, &invoice_id).await?;
        let settled =
            current.amount_paid > Decimal::ZERO || current.amount_credited > Decimal::ZERO || current.status == "PAID";
        if settled || matches!(current.status.as_str(), "VOIDED" | "DELETED") {
            let modified = run.order.date_modified_gmt.clone().unwrap_or_default();
            let note_key = format!("edit:{modified}");
            if !run.state.history_notes.contains(&note_key) {
                let details = format!(
                    "WooCommerce order {} changed after payment (modified {modified} GMT; order total {:.2}, invoice total {:.2}). The invoice was not changed; review it.",
                    run.order.number, run.order.total, current.total
                );
                let key = idempotency_key(&[run.store.id.as_str(), &run.order.id.to_string(), "history", &modified]);
                self.xero.add_invoice_history(run.ctx, &invoice_id, &details, &key).await?;
                run.state.history_notes.push(note_key);
                self.note(
                    run.state,
                    format!("order changed after payment: History note added to {number}; invoice unchanged"),
                );
                self.save(run.state).await?;
            }
            return Ok(());
        }
        self.items_for(run, &built.invoice.line_items).await?;
        let key = idempotency_key(&[run.store.id.as_str(), &run.order.id.to_string(), "update", &hash]);
        let updated = match self.xero.update_invoice(run.ctx, &invoice_id, &built.invoice, &key).await {
            Ok(u) => u,
            Err(XeroApiError::Validation(msgs)) => {
                run.problems.push(format!("updating invoice {number}: {}", msgs.join("; ")));
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        };
        run.state.invoice_hash = Some(hash);
        run.state.total = Some(format!("{:.2}", updated.total));
        self.note(run.state, format!("invoice {number} updated in place (total {:.2})", updated.total));
        self.save(run.state).await
    }

    async fn payment_step(&self, run: &mut Run<'_>) -> Result<(), SyncError> {
        if run.state.payment.is_some() {
            return Ok(());
        }
        let Some(invoice_id) = run.state.invoice_id.clone() else { return Ok(()) };
        let Some(account) = run.mapping.payments.accounts.get(&run.order.payment_method).cloned() else {
            run.problems.push(format!(
                "payment not recorded: gateway {:?} has no Xero bank account in the mapping (add payments.accounts.{})",
                run.order.payment_method, run.order.payment_method
            ));
            return Ok(());
        };
        let invoice = self.xero.get_invoice(run.ctx, &invoice_id).await?;
        if run.state.payment_pending {
            // Crashed after paying? Xero's invoice tells.
            if let Some(p) = invoice.payments.first() {
                run.state.payment = Some(DocRef { id: p.payment_id.clone(), amount: format!("{:.2}", p.amount) });
                run.state.payment_pending = false;
                self.note(run.state, format!("found existing payment of {:.2}", p.amount));
                return self.save(run.state).await;
            }
        }
        if invoice.status == "DRAFT" {
            run.problems.push(
                "payment not recorded: the invoice is a DRAFT (Xero takes payments on AUTHORISED invoices)".into(),
            );
            return Ok(());
        }
        let amount = run.order.total.min(invoice.amount_due);
        if amount <= Decimal::ZERO {
            return Ok(());
        }
        run.state.payment_pending = true;
        self.save(run.state).await?;
        let date = run.order.date_paid_gmt.as_deref().and_then(|d| d.get(..10)).unwrap_or_default().to_owned();
        let reference = if run.order.transaction_id.is_empty() {
            format!("WooCommerce order {}", run.order.number)
        } else {
            run.order.transaction_id.clone()
        };
        let key = idempotency_key(&[
            run.store.id.as_str(),
            &run.order.id.to_string(),
            "payment",
            &run.state.attempts.to_string(),
        ]);
        match self.xero.create_payment(run.ctx, "Invoice", &invoice_id, &account, &date, amount, &reference, &key).await
        {
            Ok(p) => {
                run.state.payment = Some(DocRef { id: p.payment_id, amount: format!("{amount:.2}") });
                run.state.payment_pending = false;
                self.note(run.state, format!("payment of {amount:.2} recorded on account {account} ({reference})"));
                self.save(run.state).await
            }
            Err(XeroApiError::Validation(msgs)) => {
                run.state.payment_pending = false;
                run.problems.push(format!("payment not recorded: {}", msgs.join("; ")));
                self.save(run.state).await
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn refund_details(&self, run: &Run<'_>) -> Result<Vec<RefundDetail>, SyncError> {
        match self.woo_keys.woo_keys(&run.store.id).await? {
            Some(keys) => {
                let body = self.woo.refunds(&run.store.site_url, &keys, run.order.id).await?;
                Ok(serde_json::from_slice(&body).unwrap_or_default())
            }
            None => Ok(Vec::new()),
        }
    }

    /// Each WooCommerce refund becomes exactly one credit note, allocated or cash-refunded.
    async fn refund_steps(&self, run: &mut Run<'_>) -> Result<(), SyncError> {
        // Refunds deleted in WooCommerce are reported, and their credit notes kept.
        for cn in run.state.credit_notes.iter_mut() {
            if cn.refund_id != 0 && !cn.deleted_in_woo && !run.order.refunds.iter().any(|r| r.id == cn.refund_id) {
                cn.deleted_in_woo = true;
                let msg = format!(
                    "refund {} was deleted in WooCommerce; credit note {} is kept for review",
                    cn.refund_id, cn.number
                );
                warn!(order_id = %run.order.id, "{msg}");
                run.state.events.push(format!("{} {msg}", crate::clock::rfc3339(self.clock.now())));
            }
        }
        let new_refunds: Vec<_> = run
            .order
            .refunds
            .iter()
            .filter(|r| r.id > 0 && !r.total.is_zero())
            .filter(|r| {
                run.state
                    .credit_notes
                    .iter()
                    .find(|c| c.refund_id == r.id)
                    .is_none_or(|c| matches!(c.settled.as_deref(), None | Some(SETTLING)))
            })
            .cloned()
            .collect();
        if new_refunds.is_empty() {
            return Ok(());
        }
        let details = self.refund_details(run).await?;
        for refund in new_refunds {
            let detail = details.iter().find(|d| d.id == refund.id);
            let reason = if refund.reason.is_empty() { String::new() } else { format!(": {}", refund.reason) };
            let description = format!("Refund {} of order {}{reason}", refund.id, run.order.number);
            let date = detail.and_then(|d| d.date_created.as_deref()).and_then(|d| d.get(..10)).map(str::to_owned);
            self.credit_step(run, refund.id, refund.total.abs(), &description, detail, date).await?;
        }
        Ok(())
    }

    /// Creates (once) and settles (once) one credit note.
    async fn credit_step(
        &self,
        run: &mut Run<'_>,
        refund_id: u64,
        amount: Decimal,
        description: &str,
        detail: Option<&RefundDetail>,
        date: Option<String>,
    ) -> Result<(), SyncError> {
        let Some(invoice_id) = run.state.invoice_id.clone() else { return Ok(()) };
        let invoice_number = run.state.invoice_number.clone().unwrap_or_default();
        let suffix = if refund_id == 0 { "CANCEL".to_owned() } else { refund_id.to_string() };
        let number = format!("{invoice_number}-CN{suffix}");
        let date = date.unwrap_or_else(|| self.clock.now().date().to_string());
        // Only an entry left by an earlier attempt can mean Xero already has the credit note.
        let earlier_attempt = run.state.credit_notes.iter().any(|c| c.refund_id == refund_id);
        if !earlier_attempt {
            run.state.credit_notes.push(CreditNoteState {
                refund_id,
                number: number.clone(),
                amount: format!("{amount:.2}"),
                id: None,
                settled: None,
                deleted_in_woo: false,
            });
        }
        let idx = run.state.credit_notes.iter().position(|c| c.refund_id == refund_id).unwrap_or_default();
        if run.state.credit_notes[idx].id.is_none() {
            // Marked before the write: a retry looks the credit note up by number first.
            self.save(run.state).await?;
            let existing = if earlier_attempt { self.xero.find_credit_note(run.ctx, &number).await? } else { None };
            let id = match existing {
                Some(found) => found.credit_note_id,
                None => {
                    let lookups = self.lookups(run).await?;
                    let built = self.built_invoice(run, &invoice_number).await?;
                    let note = build_credit_note(
                        run.order,
                        detail,
                        amount,
                        description,
                        &number,
                        &date,
                        &built.invoice.line_items,
                        run.mapping,
                        &Lookups { contact_id: &lookups.0, tax_rates: &lookups.1 },
                    )
                    .map_err(|e| SyncError::Permanent(e.to_string()))?;
                    let key = idempotency_key(&[run.store.id.as_str(), &run.order.id.to_string(), "credit", &number]);
                    match self.xero.create_credit_note(run.ctx, &note, &key).await {
                        Ok(created) => created.credit_note_id,
                        Err(XeroApiError::Validation(msgs)) => {
                            run.problems.push(format!("credit note {number} not created: {}", msgs.join("; ")));
                            return Ok(());
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
            };
            run.state.credit_notes[idx].id = Some(id);
            self.note(run.state, format!("credit note {number} for {amount:.2} created"));
            self.save(run.state).await?;
        }
        match run.state.credit_notes[idx].settled.as_deref() {
            None => {}
            Some(SETTLING) => {
                // An earlier attempt started settling: did Xero finish it?
                let note = self.xero.find_credit_note(run.ctx, &number).await?;
                if note.as_ref().is_some_and(|n| n.remaining_credit.is_zero()) {
                    run.state.credit_notes[idx].settled = Some("settled".into());
                    self.note(run.state, format!("credit note {number} found settled"));
                    return self.save(run.state).await;
                }
            }
            Some(_) => return Ok(()),
        }
        let credit_id = run.state.credit_notes[idx].id.clone().unwrap_or_default();
        let invoice = self.xero.get_invoice(run.ctx, &invoice_id).await?;
        let settle_date = date.clone();
        let settles_with_a_write = (invoice.amount_due >= amount && invoice.status == "AUTHORISED")
            || (run.mapping.refunds.when_paid == PaidRefund::CashRefund
                && run.mapping.payments.accounts.contains_key(&run.order.payment_method));
        if settles_with_a_write {
            // Marked before the write, like the credit note itself.
            run.state.credit_notes[idx].settled = Some(SETTLING.into());
            self.save(run.state).await?;
        }
        if invoice.amount_due >= amount && invoice.status == "AUTHORISED" {
            let key = idempotency_key(&[run.store.id.as_str(), &run.order.id.to_string(), "allocate", &number]);
            match self.xero.allocate_credit_note(run.ctx, &credit_id, &invoice_id, amount, &settle_date, &key).await {
                Ok(()) => {
                    run.state.credit_notes[idx].settled = Some("allocated".into());
                    self.note(run.state, format!("credit note {number} allocated to {invoice_number}"));
                }
                Err(XeroApiError::Validation(msgs)) => {
                    run.state.credit_notes[idx].settled = None;
                    run.problems.push(format!("allocating {number}: {}", msgs.join("; ")))
                }
                Err(e) => return Err(e.into()),
            }
        } else if run.mapping.refunds.when_paid == PaidRefund::LeaveOpen {
            run.state.credit_notes[idx].settled = Some("open".into());
            self.note(run.state, format!("credit note {number} left open (refunds.when_paid = leave_open)"));
        } else {
            let Some(account) = run.mapping.payments.accounts.get(&run.order.payment_method).cloned() else {
                run.problems.push(format!(
                    "credit note {number} not refunded: gateway {:?} has no Xero bank account in the mapping (payments.accounts)",
                    run.order.payment_method
                ));
                return self.save(run.state).await;
            };
            let key = idempotency_key(&[run.store.id.as_str(), &run.order.id.to_string(), "cash-refund", &number]);
            let reference = format!("Refund of WooCommerce order {}", run.order.number);
            match self
                .xero
                .create_payment(run.ctx, "CreditNote", &credit_id, &account, &settle_date, amount, &reference, &key)
                .await
            {
                Ok(_) => {
                    run.state.credit_notes[idx].settled = Some("refunded".into());
                    self.note(run.state, format!("credit note {number} refunded from account {account}"));
                }
                Err(XeroApiError::Validation(msgs)) => {
                    run.state.credit_notes[idx].settled = None;
                    run.problems.push(format!("refunding {number}: {}", msgs.join("; ")))
                }
                Err(e) => return Err(e.into()),
            }
        }
        self.save(run.state).await
    }

    /// Cancelled or failed after an invoice exists: delete a draft, void an unpaid invoice, credit
    /// what was paid and not yet refunded. Never both a void and a credit note.
    async fn cancel_step(&self, run: &mut Run<'_>) -> Result<(), SyncError> {
        if run.state.cancelled.is_some() {
            return Ok(());
        }
        let Some(invoice_id) = run.state.invoice_id.clone() else { return Ok(()) };
        let number = run.state.invoice_number.clone().unwrap_or_default();
        let invoice = self.xero.get_invoice(run.ctx, &invoice_id).await?;
        let paid = invoice.amount_paid;
        let key = idempotency_key(&[run.store.id.as_str(), &run.order.id.to_string(), "cancel"]);
        let done = match invoice.status.as_str() {
            "VOIDED" => "voided",
            "DELETED" => "deleted",
            "DRAFT" | "SUBMITTED" => {
                self.xero.set_invoice_status(run.ctx, &invoice_id, "DELETED", &key).await?;
                "deleted"
            }
            "AUTHORISED" if paid.is_zero() && invoice.amount_credited.is_zero() => {
                self.xero.set_invoice_status(run.ctx, &invoice_id, "VOIDED", &key).await?;
                "voided"
            }
            _ => {
                let refunded: Decimal = run
                    .state
                    .credit_notes
                    .iter()
                    .filter(|c| c.refund_id != 0)
                    .filter_map(|c| c.amount.parse::<Decimal>().ok())
                    .sum();
                let unrefunded = (paid - refunded).max(Decimal::ZERO);
                if unrefunded > Decimal::ZERO {
                    let description = format!("Cancellation of order {} (paid, not refunded)", run.order.number);
                    self.credit_step(run, 0, unrefunded, &description, None, None).await?;
                    if run.state.credit_notes.iter().any(|c| c.refund_id == 0 && c.id.is_none()) {
                        return Ok(());
                    }
                }
                "credited"
            }
        };
        run.state.cancelled = Some(done.to_owned());
        self.note(run.state, format!("order {}: invoice {number} {done}", run.order.status));
        self.save(run.state).await
    }

    /// Quote mode: a pending or on-hold order is a quote, created once and updated as it changes.
    async fn quote_step(&self, run: &mut Run<'_>) -> Result<(), SyncError> {
        let order_number =
            if run.order.number.is_empty() { run.order.id.to_string() } else { run.order.number.clone() };
        let number = run.mapping.quote_number_for(&order_number, run.order.id);
        let quote = self.quote_document(run, &number, &run.mapping.quotes.status.clone()).await?;
        let hash = content_hash(&quote);
        self.items_for(run, &quote.line_items).await?;
        match run.state.quote.clone() {
            Some(QuoteState { id: Some(id), hash: Some(h), .. }) if h == hash => {
                let _ = id;
                Ok(())
            }
            Some(QuoteState { id: Some(id), .. }) => {
                let key = idempotency_key(&[run.store.id.as_str(), &run.order.id.to_string(), "quote-update", &hash]);
                let updated = self.xero.update_quote(run.ctx, &id, &quote, &key).await?;
                run.state.quote =
                    Some(QuoteState { id: Some(id), number: number.clone(), status: updated.status, hash: Some(hash) });
                self.note(run.state, format!("quote {number} updated (total {:.2})", updated.total));
                self.save(run.state).await
            }
            _ => {
                if run.state.quote.is_none() {
                    run.state.quote =
                        Some(QuoteState { id: None, number: number.clone(), status: "pending".into(), hash: None });
                    self.save(run.state).await?;
                }
                let record = match self.xero.find_quote(run.ctx, &number).await? {
                    Some(found) => found,
                    None => {
                        let key =
                            idempotency_key(&[run.store.id.as_str(), &run.order.id.to_string(), "quote", &number]);
                        match self.xero.create_quote(run.ctx, &quote, &key).await {
                            Ok(q) => q,
                            Err(XeroApiError::Validation(msgs)) => {
                                return Err(SyncError::Permanent(format!(
                                    "Xero rejected the quote: {}",
                                    msgs.join("; ")
                                )))
                            }
                            Err(e) => return Err(e.into()),
                        }
                    }
                };
                run.state.quote = Some(QuoteState {
                    id: Some(record.quote_id),
                    number: number.clone(),
                    status: record.status,
                    hash: Some(hash),
                });
                run.state.status = SyncStatus::Synced;
                self.note(run.state, format!("quote {number} created (total {:.2})", record.total));
                self.save(run.state).await
            }
        }
    }

    /// The order as a quote: the invoice's lines, contact and date, expiring after `quotes.expiry_days`.
    async fn quote_document(&self, run: &mut Run<'_>, number: &str, status: &str) -> Result<Quote, SyncError> {
        let built = self.built_invoice(run, number).await?.invoice;
        let expiry = time::Date::parse(&built.date, time::macros::format_description!("[year]-[month]-[day]"))
            .map(|d| d.saturating_add(time::Duration::days(i64::from(run.mapping.quotes.expiry_days))).to_string())
            .unwrap_or_else(|_| built.date.clone());
        Ok(Quote {
            title: format!("WooCommerce order {}", built.reference),
            contact: built.contact,
            line_items: built.line_items,
            date: built.date,
            expiry_date: expiry,
            line_amount_types: built.line_amount_types,
            quote_number: number.to_owned(),
            reference: built.reference,
            currency_code: built.currency_code,
            status: status.to_owned(),
        })
    }

    /// The order was paid: its quote is accepted (sent first if still a draft), then invoiced.
    async fn accept_quote(&self, run: &mut Run<'_>) -> Result<(), SyncError> {
        let Some(QuoteState { id: Some(id), number, status, hash }) = run.state.quote.clone() else { return Ok(()) };
        if status == "ACCEPTED" || status == "INVOICED" {
            return Ok(());
        }
        let mut quote = self.quote_document(run, &number, "SENT").await?;
        if status == "DRAFT" {
            let key = idempotency_key(&[run.store.id.as_str(), &run.order.id.to_string(), "quote-sent", &number]);
            self.xero.update_quote(run.ctx, &id, &quote, &key).await?;
        }
        quote.status = "ACCEPTED".into();
        let key = idempotency_key(&[run.store.id.as_str(), &run.order.id.to_string(), "quote-accepted", &number]);
        let accepted = self.xero.update_quote(run.ctx, &id, &quote, &key).await?;
        run.state.quote = Some(QuoteState { id: Some(id), number: number.clone(), status: accepted.status, hash });
        self.note(run.state, format!("quote {number} accepted"));
        self.save(run.state).await
    }

    async fn tax_rates(&self, store: &StoreId, ctx: &XeroCtx) -> Result<HashMap<String, Decimal>, SyncError> {
        if let Some(cached) = self.cache.get(store, "TAXRATES").await? {
            if let Ok(map) = serde_json::from_str::<HashMap<String, Decimal>>(&cached) {
                return Ok(map);
            }
        }
        let rates: HashMap<String, Decimal> = self
            .xero
            .tax_rates(ctx)
            .await?
            .into_iter()
            .filter(|r| r.status.is_empty() || r.status == "ACTIVE")
            .map(|r| (r.tax_type, r.effective_rate))
            .collect();
        self.cache
            .put(store, "TAXRATES", &serde_json::to_string(&rates).unwrap_or_default(), Some(TAX_RATES_TTL))
            .await?;
        Ok(rates)
    }

    async fn contact(
        &self,
        store: &StoreId,
        order: &Order,
        mapping: &Mapping,
        ctx: &XeroCtx,
    ) -> Result<String, SyncError> {
        let email = order.billing.email.trim().to_lowercase();
        let catch_all = mapping.contacts.mode == ContactMode::CatchAll || email.is_empty();
        let cache_key = if catch_all {
            format!("CONTACT#name:{}", mapping.contacts.catch_all_name)
        } else {
            format!("CONTACT#{email}")
        };
        if let Some(id) = self.cache.get(store, &cache_key).await? {
            return Ok(id);
        }
        let found = if catch_all {
            self.xero.find_contact(ctx, "Name", &mapping.contacts.catch_all_name).await?
        } else {
            self.xero.find_contact(ctx, "EmailAddress", &email).await?
        };
        let id = match found {
            Some(c) => c.contact_id,
            None if catch_all => {
                let new = NewContact {
                    name: mapping.contacts.catch_all_name.clone(),
                    first_name: String::new(),
                    last_name: String::new(),
                    email_address: String::new(),
                    contact_number: String::new(),
                    addresses: vec![],
                    phones: vec![],
                };
                self.xero
                    .create_contact(ctx, &new, &idempotency_key(&[store.as_str(), "contact", &new.name]))
                    .await?
                    .contact_id
            }
            None => self.create_customer(store, order, &email, ctx).await?,
        };
        self.cache.put(store, &cache_key, &id, None).await?;
        Ok(id)
    }

    async fn create_customer(
        &self,
        store: &StoreId,
        order: &Order,
        email: &str,
        ctx: &XeroCtx,
    ) -> Result<String, SyncError> {
        let b = &order.billing;
        let base_name: String = order.customer_name().chars().take(200).collect();
        let mut new = NewContact {
            name: base_name.clone(),
            first_name: b.first_name.trim().chars().take(255).collect(),
            last_name: b.last_name.trim().chars().take(255).collect(),
            email_address: email.to_owned(),
            contact_number: if order.customer_id > 0 { format!("woo-{}", order.customer_id) } else { String::new() },
            addresses: vec![Address {
                address_type: "POBOX".into(),
                address_line1: b.address_1.clone(),
                address_line2: b.address_2.clone(),
                city: b.city.clone(),
                region: b.state.clone(),
                postal_code: b.postcode.clone(),
                country: b.country.clone(),
            }],
            phones: if b.phone.trim().is_empty() {
                vec![]
            } else {
                vec![Phone { phone_type: "DEFAULT".into(), phone_number: b.phone.trim().chars().take(50).collect() }]
            },
        };
        match self
            .xero
            .create_contact(ctx, &new, &idempotency_key(&[store.as_str(), "contact", email, &new.name]))
            .await
        {
            Ok(c) => Ok(c.contact_id),
            // Names are unique among active Xero contacts: a namesake gets "Name (email)".
            Err(XeroApiError::Validation(msgs)) if msgs.iter().any(|m| m.contains("already assigned")) => {
                new.name = format!("{base_name} ({email})");
                let c = self
                    .xero
                    .create_contact(ctx, &new, &idempotency_key(&[store.as_str(), "contact", email, &new.name]))
                    .await?;
                Ok(c.contact_id)
            }
            Err(XeroApiError::Validation(msgs)) => {
                Err(SyncError::Permanent(format!("Xero rejected the contact: {}", msgs.join("; "))))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Makes sure every item code on the invoice exists in Xero: cached codes cost nothing, the
    /// rest are looked up together and the missing ones created in one batch.
    async fn ensure_items(&self, store: &StoreId, wanted: Vec<NewItem>, ctx: &XeroCtx) -> Result<(), SyncError> {
        let mut unknown = Vec::new();
        for item in wanted {
            if !unknown.iter().any(|u: &NewItem| u.code == item.code)
                && self.cache.get(store, &format!("ITEM#{}", item.code)).await?.is_none()
            {
                unknown.push(item);
            }
        }
        for chunk in unknown.chunks(25) {
            let codes: Vec<String> = chunk.iter().map(|i| i.code.clone()).collect();
            let found = self.xero.find_items(ctx, &codes).await?;
            for f in &found {
                self.cache.put(store, &format!("ITEM#{}", f.code), &f.item_id, None).await?;
            }
            let missing: Vec<NewItem> =
                chunk.iter().filter(|i| !found.iter().any(|f| f.code.eq_ignore_ascii_case(&i.code))).cloned().collect();
            if missing.is_empty() {
                continue;
            }
            let key = idempotency_key(&[
                store.as_str(),
                "items",
                &missing.iter().map(|i| i.code.as_str()).collect::<Vec<_>>().join(","),
            ]);
            for (item, result) in missing.iter().zip(self.xero.create_items(ctx, &missing, &key).await?) {
                match result {
                    Ok(created) => {
                        self.cache.put(store, &format!("ITEM#{}", item.code), &created.item_id, None).await?
                    }
                    // Created meanwhile by another worker: fine.
                    Err(msgs) if msgs.iter().any(|m| m.contains("already exists")) => {}
                    Err(msgs) => {
                        return Err(SyncError::Permanent(format!(
                            "Xero rejected item {}: {}",
                            item.code,
                            msgs.join("; ")
                        )))
                    }
                }
            }
        }
        Ok(())
    }
}
