//! WooCommerce: webhook deliveries (headers, signature, ping, body kinds) and, later, orders.

pub mod order;
pub mod webhook;
