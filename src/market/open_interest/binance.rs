//! Binance USD-M open interest: the history, `GET /futures/data/openInterestHist?symbol=..&
//! period=..&limit=..` (an array of `{"symbol","sumOpenInterest","sumOpenInterestValue",
//! "timestamp"}`, oldest first, at most 500 rows, the latest 30 days), and the present value,
//! `GET /fapi/v1/openInterest?symbol=..` (`{"openInterest":"10659.509","symbol":"BTCUSDT",
//! "time":1589437530011}`, base units). The history's `timestamp` is a string in the USD-M
//! page's example and a number in the coin-M page's; both are read.

use serde::Deserialize;

use super::{OiPeriod, clamp_limit, oldest_first};
use crate::market::{Scalar, amount, binance_body, decimal_text, endpoint, integer};
use crate::model::{Exchange, OpenInterest};
use crate::sources::FrameError;
use crate::sources::rest::{FetchError, get_text};

/// The most history rows Binance answers per request.
const MAX_LIMIT: u32 = 500;

/// Binance's present open interest of one symbol, in base units (one-sided).
#[derive(Debug, Clone, PartialEq)]
pub struct BinanceOpenInterest {
    /// The symbol (`BTCUSDT`).
    pub symbol: String,
    /// When Binance measured it, ms since the Unix epoch.
    pub ts_ms: i64,
    /// Open interest in base units (`BTC`).
    pub base_qty: f64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HistRow {
    sum_open_interest_value: Scalar,
    timestamp: Scalar,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Present {
    open_interest: Scalar,
    symbol: String,
    time: Scalar,
}

/// Parses the open-interest history into one-sided USD readings of `base`, oldest first:
/// `usd = sumOpenInterestValue`. A Binance error body is [`FrameError::Venue`].
pub fn parse_binance_open_interest_hist(
    body: &str,
    base: &str,
) -> Result<Vec<OpenInterest>, FrameError> {
    let rows: Vec<HistRow> = binance_body(body)?;
    let list = rows
        .iter()
        .map(|row| {
            Ok(OpenInterest {
                exchange: Exchange::Binance,
                base: base.to_owned(),
                ts_ms: integer("timestamp", &row.timestamp)?,
                usd: amount("sumOpenInterestValue", &row.sum_open_interest_value)?,
            })
        })
        .collect::<Result<_, FrameError>>()?;
    Ok(oldest_first(list))
}

/// Encodes readings of `symbol` as Binance answers the history, oldest first.
/// `sumOpenInterest` (base units, not read) is `"0"`.
#[must_use]
pub fn encode_binance_open_interest_hist(symbol: &str, list: &[OpenInterest]) -> String {
    let rows: Vec<serde_json::Value> = oldest_first(list.to_vec())
        .iter()
        .map(|oi| {
            serde_json::json!({
                "symbol": symbol,
                "sumOpenInterest": "0",
                "sumOpenInterestValue": decimal_text(oi.usd),
                "timestamp": oi.ts_ms,
            })
        })
        .collect();
    serde_json::Value::Array(rows).to_string()
}

/// Parses the present open interest (base units). A Binance error body is
/// [`FrameError::Venue`].
pub fn parse_binance_open_interest(body: &str) -> Result<BinanceOpenInterest, FrameError> {
    let present: Present = binance_body(body)?;
    Ok(BinanceOpenInterest {
        ts_ms: integer("time", &present.time)?,
        base_qty: amount("openInterest", &present.open_interest)?,
        symbol: present.symbol,
    })
}

/// Encodes the present open interest as Binance answers it.
#[must_use]
pub fn encode_binance_open_interest(oi: &BinanceOpenInterest) -> String {
    serde_json::json!({
        "openInterest": decimal_text(oi.base_qty),
        "symbol": oi.symbol,
        "time": oi.ts_ms,
    })
    .to_string()
}

/// The present open interest in one-sided USD at `price` (the mark or last price of `base`),
/// or `None` when the price is not finite and positive.
#[must_use]
pub fn binance_open_interest_usd(
    oi: &BinanceOpenInterest,
    base: &str,
    price: f64,
) -> Option<OpenInterest> {
    (price.is_finite() && price > 0.0).then(|| OpenInterest {
        exchange: Exchange::Binance,
        base: base.to_owned(),
        ts_ms: oi.ts_ms,
        usd: oi.base_qty * price,
    })
}

/// Fetches the newest `limit` history readings (at most 500) of `symbol` (`BTCUSDT`) from
/// `rest_url` (`https://fapi.binance.com`), as readings of `base`.
pub async fn fetch_binance_open_interest_hist(
    client: &reqwest::Client,
    rest_url: &str,
    symbol: &str,
    base: &str,
    period: OiPeriod,
    limit: u32,
) -> Result<Vec<OpenInterest>, FetchError> {
    let url = endpoint(
        rest_url,
        &format!(
            "/futures/data/openInterestHist?symbol={symbol}&period={}&limit={}",
            period.binance(),
            clamp_limit(limit, MAX_LIMIT)
        ),
    );
    let body = get_text(client, &url).await?;
    Ok(parse_binance_open_interest_hist(&body, base)?)
}

/// Fetches the present open interest of `symbol` (`BTCUSDT`) from `rest_url`.
pub async fn fetch_binance_open_interest(
    client: &reqwest::Client,
    rest_url: &str,
    symbol: &str,
) -> Result<BinanceOpenInterest, FetchError> {
    let url = endpoint(rest_url, &format!("/fapi/v1/openInterest?symbol={symbol}"));
    Ok(parse_binance_open_interest(&get_text(client, &url).await?)?)
}
