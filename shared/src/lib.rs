//! wooxero's library crate: domain types, ports (narrow traits), their AWS adapters and in-memory
//! fakes, and the use cases the Lambda functions and the CLI wire up.
//!
//! Layering: `ids`, `store`, `job`, `woo` are domain; `ports` are the traits; `aws` and `memory` are
//! adapters; `ingest` is a use case; `http` maps Lambda HTTP events onto the use cases.

pub mod admin;
pub mod aws;
pub mod clock;
pub mod config;
pub mod connect;
pub mod error;
pub mod http;
pub mod ids;
pub mod ingest;
pub mod job;
pub mod mapping;
#[cfg(any(test, feature = "test-util"))]
pub mod memory;
pub mod money;
pub mod ports;
pub mod retry;
pub mod secrets;
pub mod store;
pub mod sync;
pub mod telemetry;
pub mod woo;
pub mod xero;
