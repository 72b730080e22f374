//! The whole pipeline for end-to-end sync tests: signed deliveries into the real ingest handler,
//! jobs on SQS (moto), the poller handing them to the real xero-sync batch handler in process,
//! Xero (fake identity + accounting) and WooCommerce REST (fake) over HTTP.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use serde_json::Value;
use wooxero_shared::aws::s3::S3PayloadStore;
use wooxero_shared::aws::sqs::SqsJobQueue;
use wooxero_shared::aws::woo::HttpWooApi;
use wooxero_shared::clock::SystemClock;
use wooxero_shared::config::IngestSettings;
use wooxero_shared::connect::ConnectSettings;
use wooxero_shared::ids::{OrderId, StoreId};
use wooxero_shared::mapping::Mapping;
use wooxero_shared::ports::{MappingRepo, OrderState, OrderStateRepo};
use wooxero_shared::sync::SyncDeps;
use wooxero_shared::xero::api::HttpXeroAccounting;
use wooxero_shared::xero::tokens::TokenSettings;

use crate::connect_harness::ConnectStack;
use crate::fake_identity::FakeIdentityConfig;
use crate::fake_woo::FakeWoo;
use crate::harness::{TestStack, STORE};
use crate::poller::{BatchOutcome, BatchSettings, Invoker, Poller};

pub struct SyncStack {
    pub c: ConnectStack,
    pub woo: FakeWoo,
    pub deps: Arc<SyncDeps>,
    pub queue: Arc<SqsJobQueue>,
}

/// Runs xero-sync's batch handler in this process, as Lambda would with the poller's event.
pub struct InProcess {
    pub deps: Arc<SyncDeps>,
    pub queue: Arc<SqsJobQueue>,
}

#[async_trait]
impl Invoker for InProcess {
    async fn invoke(&self, event: Value) -> anyhow::Result<SqsBatchResponse> {
        let event: SqsEvent = serde_json::from_value(event)?;
        Ok(wooxero_shared::sync::handle_batch(&self.deps, self.queue.as_ref(), event).await)
    }
}

pub fn store_id() -> StoreId {
    StoreId::parse(STORE).unwrap_or_else(|_| unreachable!())
}

impl SyncStack {
    /// A connected store with `mapping`, its site being the fake WooCommerce.
    pub async fn new(mapping: Mapping) -> anyhow::Result<Self> {
        Self::with(mapping, FakeIdentityConfig::default()).await
    }

    pub async fn with(mapping: Mapping, identity: FakeIdentityConfig) -> anyhow::Result<Self> {
        let woo = FakeWoo::start().await?;
        let t = TestStack::with_site(IngestSettings::default(), Some(Duration::from_secs(1)), &woo.base_url).await?;
        let c = ConnectStack::build(identity, ConnectSettings::default(), t).await?;
        let (status, page) = c.connect(STORE).await;
        anyhow::ensure!(status == 200, "connect failed: {page}");
        let table = c.table();
        MappingRepo::put(table.as_ref(), &store_id(), &mapping).await?;
        let queue = Arc::new(SqsJobQueue::new(c.t.clients.sqs.clone(), &c.t.stack.names.sync_queue_url));
        let deps = Arc::new(SyncDeps {
            stores: table.clone(),
            states: table.clone(),
            cache: table.clone(),
            mappings: table,
            payloads: Arc::new(S3PayloadStore::new(c.t.clients.s3.clone(), &c.t.stack.names.payload_bucket)),
            tokens: c.provider(TokenSettings::default()),
            xero: Arc::new(HttpXeroAccounting::new(format!("{}/api.xro/2.0", c.fake.base_url))?),
            woo: Arc::new(HttpWooApi::new()?),
            woo_keys: c.vault.clone(),
            clock: Arc::new(SystemClock),
        });
        Ok(SyncStack { c, woo, deps, queue })
    }

    pub async fn deliver(&self, topic: &str, order: &str) -> u16 {
        self.c.t.post_signed(topic, order).await.0
    }

    /// Polls until the queue stays empty (failed items come back after their delay), at most `limit`.
    pub async fn run_until_idle(&self, limit: Duration) -> Vec<BatchOutcome> {
        let invoker = InProcess { deps: self.deps.clone(), queue: self.queue.clone() };
        let poller = Poller {
            sqs: self.c.t.clients.sqs.clone(),
            queue_url: self.c.t.stack.names.sync_queue_url.clone(),
            queue_arn: self.c.t.stack.queue_arn.clone(),
            settings: BatchSettings { batch_size: 10, window: Duration::from_secs(1) },
            invoker: &invoker,
        };
        let deadline = tokio::time::Instant::now() + limit;
        let mut outcomes = Vec::new();
        while tokio::time::Instant::now() < deadline {
            match poller.run_once().await {
                Ok(Some(o)) => outcomes.push(o),
                Ok(None) => {
                    if self.c.t.queue_depth(&self.c.t.stack.names.sync_queue_url).await == 0 {
                        break;
                    }
                }
                Err(e) => panic!("poller: {e:#}"),
            }
        }
        outcomes
    }

    pub fn invoices(&self) -> Vec<Value> {
        let acc = self.c.fake.shared.accounting.lock().unwrap_or_else(|p| p.into_inner());
        acc.tenants.values().flat_map(|b| b.invoices.clone()).collect()
    }

    pub fn contacts(&self) -> Vec<Value> {
        let acc = self.c.fake.shared.accounting.lock().unwrap_or_else(|p| p.into_inner());
        acc.tenants.values().flat_map(|b| b.contacts.clone()).collect()
    }

    pub fn xero_calls(&self) -> Vec<(String, String)> {
        self.c.fake.shared.accounting.lock().unwrap_or_else(|p| p.into_inner()).calls.clone()
    }

    pub fn with_accounting<R>(&self, f: impl FnOnce(&mut crate::fake_accounting::Accounting) -> R) -> R {
        f(&mut self.c.fake.shared.accounting.lock().unwrap_or_else(|p| p.into_inner()))
    }

    pub async fn state(&self, order: u64) -> Option<OrderState> {
        OrderStateRepo::get(self.c.table().as_ref(), &store_id(), OrderId::new(order).ok()?).await.ok().flatten()
    }
}
