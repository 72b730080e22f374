//! Money: `rust_decimal::Decimal`, never floating point. WooCommerce sends amounts as strings
//! (sometimes numbers); Xero takes and returns JSON numbers. These helpers read both exactly and
//! write Decimals as exact JSON number tokens.

use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Deserializer, Serializer};

/// Rounds the way Xero does (half away from zero) to `dp` places.
pub fn round(value: Decimal, dp: u32) -> Decimal {
    value.round_dp_with_strategy(dp, RoundingStrategy::MidpointAwayFromZero)
}

fn parse(text: &str) -> Option<Decimal> {
    let t = text.trim();
    if t.is_empty() {
        return Some(Decimal::ZERO);
    }
    Decimal::from_str(t).or_else(|_| Decimal::from_scientific(t)).ok()
}

/// A JSON string or number as a Decimal; `null` and `""` are zero.
pub fn de_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    match &v {
        serde_json::Value::Null => Ok(Decimal::ZERO),
        serde_json::Value::String(s) => {
            parse(s).ok_or_else(|| serde::de::Error::custom(format!("not an amount: {s:?}")))
        }
        // The number's own shortest text (e.g. 17.647059), not a binary float.
        serde_json::Value::Number(n) => {
            parse(&n.to_string()).ok_or_else(|| serde::de::Error::custom(format!("not an amount: {n}")))
        }
        other => Err(serde::de::Error::custom(format!("not an amount: {other}"))),
    }
}

pub fn de_lenient_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    match v {
        serde_json::Value::Null => Ok(None),
        other => de_lenient(other).map(Some).map_err(serde::de::Error::custom),
    }
}

/// Writes a Decimal as an exact JSON number token.
pub fn ser_number<S: Serializer>(value: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    let raw =
        serde_json::value::RawValue::from_string(value.normalize().to_string()).map_err(serde::ser::Error::custom)?;
    serde::Serialize::serialize(&raw, s)
}

pub fn ser_number_opt<S: Serializer>(value: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(v) => ser_number(v, s),
        None => s.serialize_none(),
    }
}

/// A Decimal that serialises as an exact JSON number.
pub struct Exact(pub Decimal);

impl serde::Serialize for Exact {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ser_number(&self.0, s)
    }
}

/// Decimal places of an ISO currency as shops price it (zero for JPY, KRW and the like).
pub fn currency_dp(code: &str) -> u32 {
    match code.to_ascii_uppercase().as_str() {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX" | "UYI" | "VND"
        | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        _ => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[derive(Deserialize, serde::Serialize)]
    struct T {
        #[serde(deserialize_with = "de_lenient", serialize_with = "ser_number")]
        a: Decimal,
    }

    #[test]
    fn reads_strings_numbers_and_blanks_exactly() {
        for (json, want) in [
            (r#"{"a":"17.65"}"#, dec!(17.65)),
            (r#"{"a":17.647059}"#, dec!(17.647059)),
            (r#"{"a":""}"#, dec!(0)),
            (r#"{"a":null}"#, dec!(0)),
            (r#"{"a":"-10.00"}"#, dec!(-10)),
        ] {
            let t: T = serde_json::from_str(json).unwrap();
            assert_eq!(t.a, want, "{json}");
        }
        assert!(serde_json::from_str::<T>(r#"{"a":"abc"}"#).is_err());
    }

    #[test]
    fn writes_exact_number_tokens() {
        assert_eq!(serde_json::to_string(&T { a: dec!(0.1) }).unwrap(), r#"{"a":0.1}"#);
        assert_eq!(serde_json::to_string(&T { a: dec!(12.3400) }).unwrap(), r#"{"a":12.34}"#);
    }

    #[test]
    fn rounds_half_away_from_zero() {
        assert_eq!(round(dec!(2.345), 2), dec!(2.35));
        assert_eq!(round(dec!(-2.345), 2), dec!(-2.35));
        assert_eq!(round(dec!(2.5), 0), dec!(3));
    }
}
