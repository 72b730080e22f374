//! The xero-sync use case: each queued "order X changed" job converges the order's Xero
//! documents on the newest order version, exactly once.

pub mod batch;
pub mod engine;
pub mod wiring;

pub use batch::handle_batch;
pub use engine::{JobOutcome, SyncDeps, SyncError};
