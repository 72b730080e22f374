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
use crate::mapping::document::ContactMode;
use crate::mapping::invoice::{build_invoice, BuildError, Lookups};
use crate::mapping::Mapping;
use crate::ports::{
    LookupCache, MappingRepo, OrderState, OrderStateRepo, PayloadStore, StoreRepo, SyncStatus, WooApi, WooFetchError,
    WooKeyVault,
};
use crate::store::{ConnectionStatus, Store, StoreStatus};
use crate::woo::order::Order;
use crate::xero::api::{XeroAccounting, XeroApiError, XeroCtx};
use crate::xero::model::{Address, NewContact, NewItem, Phone, SalesDetails};
use crate::xero::tokens::{TokenError, TokenProvider};

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
        let backoff = Duration::from_secs((10u64 << receive_count.min(6)).min(900));
        let reason = chain(&e);
        match e {
            SyncError::Xero(XeroApiError::RateLimited { retry_after, .. }) => {
                JobOutcome::Retry { after: retry_after, reason }
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
            let mut state = self
                .states
                .get(&job.store_id, job.order_id)
                .await?
                .unwrap_or_else(|| OrderState::new(job.store_id.clone(), job.order_id));
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
            let mut state = self
                .states
                .get(&job.store_id, job.order_id)
                .await?
                .unwrap_or_else(|| OrderState::new(job.store_id.clone(), job.order_id));
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
            return Ok(JobOutcome::Skipped("trashed in WooCommerce; Xero unchanged".into()));
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
        if handled && state.modified_gmt.is_some() && modified <= state.modified_gmt {
            return Ok(JobOutcome::Stale);
        }
        let mapping = self.mappings.get(&store.id).await?.unwrap_or_default();
        if state.invoice_id.is_some() {
            // Edits, payments and refunds of invoiced orders are the lifecycle part of the sync.
            state.modified_gmt = modified.clone();
            state.order_status = Some(order.status.clone());
            self.note(&mut state, format!("{} seen (status {}); invoice already exists", job.topic, order.status));
            return if self.states.put(&state).await? { Ok(JobOutcome::Stale) } else { Err(SyncError::Conflict) };
        }
        if !mapping.triggers_on(&order.status) {
            let why = format!("status {:?} does not trigger an invoice", order.status);
            state.status = SyncStatus::Skipped;
            state.modified_gmt = modified.clone();
            state.order_status = Some(order.status.clone());
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

        // A previous attempt may have created the invoice and died before recording it.
        if state.status == SyncStatus::Creating {
            if let Some(found) = self.xero.find_invoice_by_number(&ctx, &number).await? {
                return self
                    .record_created(
                        state,
                        &order,
                        modified,
                        &found.invoice_id,
                        &found.invoice_number,
                        found.total,
                        &ctx,
                        true,
                    )
                    .await;
            }
        }

        let tax_rates = self.tax_rates(&store.id, &ctx).await?;
        let contact_id = self.contact(&store.id, &order, &mapping, &ctx).await?;
        let built = build_invoice(
            &order,
            &mapping,
            &Lookups { contact_id: &contact_id, tax_rates: &tax_rates },
            Some(store.site_url.as_str()),
        )
        .map_err(|e: BuildError| SyncError::Permanent(e.to_string()))?;
        let wanted: Vec<NewItem> = built
            .invoice
            .line_items
            .iter()
            .filter_map(|line| {
                let code = line.item_code.as_ref()?;
                (mapping.accounts.shipping_item.as_deref() != Some(code.as_str())).then(|| NewItem {
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
        self.ensure_items(&store.id, wanted, &ctx).await?;

        // Mark before creating, so a crash after Xero's answer is recoverable by number.
        state.status = SyncStatus::Creating;
        state.invoice_number = Some(number.clone());
        self.note(&mut state, format!("{} creating invoice {number}", job.topic));
        if !self.states.put(&state).await? {
            return Err(SyncError::Conflict);
        }
        state.rev += 1;
        let key = idempotency_key(&[store.id.as_str(), &order.id.to_string(), &number, &state.attempts.to_string()]);
        let created = match self.xero.create_invoice(&ctx, &built.invoice, &key).await {
            Ok(inv) => inv,
            Err(XeroApiError::Validation(msgs)) if msgs.iter().any(|m| m.contains("must be unique")) => {
                match self.xero.find_invoice_by_number(&ctx, &number).await? {
                    Some(found) if found.total == order.total || found.invoice_number == number => {
                        return self
                            .record_created(
                                state,
                                &order,
                                modified,
                                &found.invoice_id,
                                &number,
                                found.total,
                                &ctx,
                                true,
                            )
                            .await;
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
        if created.total != built.expected.total || created.total != order.total {
            warn!(store_id = %store.id, order_id = %order.id, xero_total = %created.total, woo_total = %order.total, "Xero total differs from the order total");
        }
        self.record_created(
            state,
            &order,
            modified,
            &created.invoice_id,
            &created.invoice_number,
            created.total,
            &ctx,
            false,
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn record_created(
        &self,
        mut state: OrderState,
        order: &Order,
        modified: Option<String>,
        invoice_id: &str,
        number: &str,
        total: Decimal,
        ctx: &XeroCtx,
        adopted: bool,
    ) -> Result<JobOutcome, SyncError> {
        state.status = SyncStatus::Synced;
        state.invoice_id = Some(invoice_id.to_owned());
        state.invoice_number = Some(number.to_owned());
        state.total = Some(format!("{total:.2}"));
        state.modified_gmt = modified;
        state.order_status = Some(order.status.clone());
        state.last_error = None;
        state.xero_calls += ctx.calls();
        let verb = if adopted { "found existing" } else { "created" };
        self.note(&mut state, format!("{verb} invoice {number} (total {total}, {} Xero calls)", ctx.calls()));
        if !self.states.put(&state).await? {
            return Err(SyncError::Conflict);
        }
        info!(store_id = %state.store_id, order_id = %order.id, invoice_number = number, total = %total, woo_total = %order.total, xero_calls = ctx.calls(), adopted, "invoice synced");
        Ok(if adopted {
            JobOutcome::Adopted { invoice_number: number.to_owned() }
        } else {
            JobOutcome::Created { invoice_number: number.to_owned(), xero_calls: ctx.calls() }
        })
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
