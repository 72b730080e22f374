//! The per-store mapping document (what WooCommerce things become in Xero) and the pure function
//! that turns an order into a Xero invoice, reproducing Xero's arithmetic first.

pub mod document;
pub mod invoice;

pub use document::{Mapping, MappingError};
