//! Test support for wooxero: the local AWS stack on moto (provisioned from `template.yaml`), the
//! SQS poller that plays Lambda's event source mapping, delivery signing, and the local fakes.

pub mod connect_harness;
pub mod env;
pub mod fake_identity;
pub mod harness;
pub mod poller;
pub mod provision;
pub mod recorder;
pub mod template;
pub mod woo_delivery;
