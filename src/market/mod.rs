//! Market context over REST: the Fear & Greed index, open interest and candles, each as a pure
//! parser of one response body, an encoder writing the same format (for the simulator's REST
//! endpoints and tests), and a thin `fetch_*` that GETs the body and parses it.
//!
//! Every base URL is a parameter; nothing here knows a production host. Numbers arrive as
//! strings in most of these APIs and are read strictly: a price must be finite and positive,
//! an amount finite and non-negative, a timestamp a non-negative integer. Unknown fields are
//! ignored. A body that is not the documented shape is [`FrameError::Json`], a value that is
//! unusable is [`FrameError::Invalid`], and a venue's own error code (Bybit `retCode != 0`, OKX
//! `code != "0"`, a Binance `{"code":..,"msg":..}` body, a non-null alternative.me
//! `metadata.error`) is [`FrameError::Venue`].
//!
//! Conventions of the output, whatever the venue's order or units:
//! - series (candles, open-interest history) come out **oldest first**;
//! - open interest is **one-sided USD** ([`crate::model::OpenInterest`]); how each venue's figure
//!   is converted, and what its documentation says about sides, is in [`open_interest`];
//! - OKX candles still forming (`confirm == "0"`) are dropped, see [`candles`].

pub mod candles;
pub mod fear_greed;
pub mod open_interest;

use std::borrow::Cow;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::sources::{FrameError, parse_decimal};

/// A JSON scalar a venue sends as a string or as a number (`"1583127900000"` or
/// `1583127900000`); read through [`Scalar::text`] so both parse the same way.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum Scalar {
    /// A JSON string.
    Text(String),
    /// A JSON number.
    Number(serde_json::Number),
}

impl Scalar {
    /// The scalar as text, as the venue would have quoted it.
    pub(crate) fn text(&self) -> Cow<'_, str> {
        match self {
            Self::Text(text) => Cow::Borrowed(text),
            Self::Number(number) => Cow::Owned(number.to_string()),
        }
    }
}

/// Reads a timestamp in milliseconds (or any non-negative integer).
pub(crate) fn integer(field: &str, value: &Scalar) -> Result<i64, FrameError> {
    match value.text().parse::<i64>() {
        Ok(v) if v >= 0 => Ok(v),
        _ => Err(FrameError::Invalid(format!(
            "{field} is not a timestamp: {value:?}"
        ))),
    }
}

/// Reads an amount: finite and non-negative.
pub(crate) fn amount(field: &str, value: &Scalar) -> Result<f64, FrameError> {
    parse_decimal(field, &value.text())
}

/// Reads a price: finite and positive.
pub(crate) fn price(field: &str, value: &Scalar) -> Result<f64, FrameError> {
    match amount(field, value)? {
        v if v > 0.0 => Ok(v),
        _ => Err(FrameError::Invalid(format!("{field} is not positive"))),
    }
}

/// Column `index` of a positional row, or [`FrameError::Invalid`] naming the column.
pub(crate) fn column<'a>(
    row: &'a [Scalar],
    index: usize,
    name: &str,
) -> Result<&'a Scalar, FrameError> {
    row.get(index).ok_or_else(|| {
        FrameError::Invalid(format!(
            "row of {} columns has no {name} (column {index})",
            row.len()
        ))
    })
}

/// A request's `limit` within 1 and the venue's documented maximum.
pub(crate) fn clamp_limit(limit: u32, max: u32) -> u32 {
    limit.clamp(1, max)
}

/// `rest_url` (with or without a trailing slash) joined to a path and query.
pub(crate) fn endpoint(rest_url: &str, path_and_query: &str) -> String {
    format!("{}{path_and_query}", rest_url.trim_end_matches('/'))
}

/// A number written the way the venues quote them: a plain decimal that parses back to the
/// same `f64` (Rust's shortest round-trip form, never an exponent).
pub(crate) fn decimal_text(value: f64) -> String {
    format!("{value}")
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BybitEnvelope {
    ret_code: i64,
    #[serde(default)]
    ret_msg: String,
    #[serde(default)]
    result: serde_json::Value,
}

/// The `result` of a Bybit v5 reply; `retCode != 0` is [`FrameError::Venue`]. The envelope is
/// checked first, since an error reply carries `"result":{}` in no documented shape.
pub(crate) fn bybit_result<T: DeserializeOwned>(body: &str) -> Result<T, FrameError> {
    let envelope: BybitEnvelope = serde_json::from_str(body)?;
    if envelope.ret_code != 0 {
        return Err(FrameError::Venue(format!(
            "retCode {}: {}",
            envelope.ret_code, envelope.ret_msg
        )));
    }
    Ok(serde_json::from_value(envelope.result)?)
}

#[derive(Deserialize)]
struct OkxEnvelope {
    code: Scalar,
    #[serde(default)]
    msg: String,
    #[serde(default)]
    data: serde_json::Value,
}

/// The `data` rows of an OKX v5 reply; `code != "0"` is [`FrameError::Venue`].
pub(crate) fn okx_data<T: DeserializeOwned>(body: &str) -> Result<Vec<T>, FrameError> {
    let envelope: OkxEnvelope = serde_json::from_str(body)?;
    let code = envelope.code.text();
    if code != "0" {
        return Err(FrameError::Venue(format!("code {code}: {}", envelope.msg)));
    }
    Ok(serde_json::from_value(envelope.data)?)
}

#[derive(Deserialize)]
struct BinanceError {
    code: i64,
    msg: String,
}

/// A Binance USD-M reply of shape `T`. Binance has no envelope: an error is a body of its own
/// shape, `{"code":-1121,"msg":"Invalid symbol."}`, which is [`FrameError::Venue`].
pub(crate) fn binance_body<T: DeserializeOwned>(body: &str) -> Result<T, FrameError> {
    match serde_json::from_str(body) {
        Ok(value) => Ok(value),
        Err(error) => match serde_json::from_str::<BinanceError>(body) {
            Ok(venue) => Err(FrameError::Venue(format!(
                "code {}: {}",
                venue.code, venue.msg
            ))),
            Err(_) => Err(FrameError::Json(error)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_text_round_trips_without_an_exponent() {
        for value in [0.0, 0.1, 17055.5, 1e-7, 1.5e21, 150_570_784.078_099_8] {
            let text = decimal_text(value);
            assert!(!text.contains('e'), "{text}");
            assert_eq!(text.parse::<f64>().unwrap(), value);
        }
    }

    #[test]
    fn scalars_read_the_same_from_strings_and_numbers() {
        let text: Scalar = serde_json::from_str(r#""1583127900000""#).unwrap();
        let number: Scalar = serde_json::from_str("1583127900000").unwrap();
        assert_eq!(integer("t", &text).unwrap(), 1_583_127_900_000);
        assert_eq!(integer("t", &number).unwrap(), 1_583_127_900_000);
        let fraction: Scalar = serde_json::from_str("1.5").unwrap();
        assert!(integer("t", &fraction).is_err());
        let negative: Scalar = serde_json::from_str("-1").unwrap();
        assert!(integer("t", &negative).is_err());
        assert!(price("p", &Scalar::Text("0".into())).is_err());
        assert!(amount("a", &Scalar::Text("NaN".into())).is_err());
    }
}
