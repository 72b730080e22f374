//! Identifier newtypes. Parse, don't validate: a value of these types is always well formed.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {value:?}: {reason}")]
pub struct IdError {
    pub what: &'static str,
    pub value: String,
    pub reason: &'static str,
}

/// A store's id: it appears in webhook URLs, DynamoDB keys and secret names, so it is kept to
/// 1–64 characters of lowercase ASCII letters, digits and `-`, starting with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct StoreId(String);

impl StoreId {
    pub fn parse(value: &str) -> Result<Self, IdError> {
        let err = |reason| IdError { what: "store id", value: value.chars().take(80).collect(), reason };
        if value.is_empty() || value.len() > 64 {
            return Err(err("must be 1-64 characters"));
        }
        if !value.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
            return Err(err("may contain only a-z, 0-9 and '-'"));
        }
        if value.starts_with('-') {
            return Err(err("must start with a letter or digit"));
        }
        Ok(StoreId(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for StoreId {
    type Error = IdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        StoreId::parse(&value)
    }
}

impl From<StoreId> for String {
    fn from(id: StoreId) -> Self {
        id.0
    }
}

impl fmt::Display for StoreId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

/// A WooCommerce order id (a positive integer). WooCommerce sends it as a JSON number, but
/// `order.deleted` may carry it as a digit string, so both are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "serde_json::Value", into = "u64")]
pub struct OrderId(u64);

impl OrderId {
    pub fn new(id: u64) -> Result<Self, IdError> {
        if id == 0 {
            return Err(IdError { what: "order id", value: "0".into(), reason: "must be positive" });
        }
        Ok(OrderId(id))
    }

    pub fn get(self) -> u64 {
        self.0
    }

    pub fn from_json(value: &serde_json::Value) -> Result<Self, IdError> {
        let shown = || value.to_string().chars().take(40).collect::<String>();
        match value {
            serde_json::Value::Number(n) => match n.as_u64() {
                Some(id) => OrderId::new(id),
                None => Err(IdError { what: "order id", value: shown(), reason: "must be a positive integer" }),
            },
            serde_json::Value::String(s) => match s.trim().parse::<u64>() {
                Ok(id) => OrderId::new(id),
                Err(_) => Err(IdError { what: "order id", value: shown(), reason: "must be a positive integer" }),
            },
            _ => Err(IdError { what: "order id", value: shown(), reason: "must be a number or a digit string" }),
        }
    }
}

impl TryFrom<serde_json::Value> for OrderId {
    type Error = IdError;
    fn try_from(value: serde_json::Value) -> Result<Self, Self::Error> {
        OrderId::from_json(&value)
    }
}

impl From<OrderId> for u64 {
    fn from(id: OrderId) -> Self {
        id.0
    }
}

impl fmt::Display for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn store_ids_are_url_and_key_safe() {
        assert!(StoreId::parse("demo-store-1").is_ok());
        for bad in ["", "-x", "Demo", "a/b", "a#b", "a b", &"x".repeat(65)] {
            assert!(StoreId::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn order_ids_accept_numbers_and_digit_strings() {
        assert_eq!(OrderId::from_json(&json!(727)).map(OrderId::get), Ok(727));
        assert_eq!(OrderId::from_json(&json!("727")).map(OrderId::get), Ok(727));
        for bad in [json!(0), json!(-1), json!(1.5), json!("abc"), json!(null), json!([1])] {
            assert!(OrderId::from_json(&bad).is_err(), "{bad} should be rejected");
        }
    }
}
