//! Test support for wooxero: the local AWS stack on moto (provisioned from `template.yaml`), the
//! SQS poller that plays Lambda's event source mapping, delivery signing, and the local fakes.
#![recursion_limit = "256"]

pub mod connect_harness;
pub mod crash;
pub mod env;
pub mod fake_accounting;
pub mod fake_identity;
pub mod fake_woo;
pub mod harness;
pub mod order_builder;
pub mod poller;
pub mod provision;
pub mod recorder;
pub mod sync_harness;
pub mod template;
pub mod woo_delivery;
