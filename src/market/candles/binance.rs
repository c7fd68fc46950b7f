//! Binance USD-M klines, `GET /fapi/v1/klines?symbol=..&interval=..&limit=..`.
//!
//! Format, from <https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/Kline-Candlestick-Data>:
//! an array of rows `[open time, "open", "high", "low", "close", "volume", close time,
//! "quote volume", trades, "taker buy base", "taker buy quote", "ignore"]`, oldest first, times
//! as JSON numbers and prices as strings. At most 1500 rows per request.

use super::{CandleInterval, candle_from_row, clamp_limit, oldest_first, price_columns};
use crate::market::{Scalar, binance_body, endpoint};
use crate::model::{Candle, Exchange};
use crate::sources::FrameError;
use crate::sources::rest::{FetchError, get_text};

/// The most rows Binance answers per request.
const MAX_LIMIT: u32 = 1500;

/// Parses a klines reply into candles of `base`, oldest first. A Binance error body
/// (`{"code":..,"msg":..}`) is [`FrameError::Venue`].
pub fn parse_binance_candles(
    body: &str,
    base: &str,
    interval_secs: u32,
) -> Result<Vec<Candle>, FrameError> {
    let rows: Vec<Vec<Scalar>> = binance_body(body)?;
    let candles = rows
        .iter()
        .map(|row| candle_from_row(Exchange::Binance, base, interval_secs, row))
        .collect::<Result<_, _>>()?;
    Ok(oldest_first(candles))
}

/// Encodes candles as Binance answers klines, oldest first. Volumes and trade counts, which
/// liqbot does not read, are zero.
#[must_use]
pub fn encode_binance_candles(candles: &[Candle]) -> String {
    let rows: Vec<serde_json::Value> = oldest_first(candles.to_vec())
        .iter()
        .map(|candle| {
            let [_, open, high, low, close] = price_columns(candle);
            let close_ms = candle.open_ms + i64::from(candle.interval_secs) * 1000 - 1;
            serde_json::json!([
                candle.open_ms,
                open,
                high,
                low,
                close,
                "0",
                close_ms,
                "0",
                0,
                "0",
                "0",
                "0"
            ])
        })
        .collect();
    serde_json::Value::Array(rows).to_string()
}

/// Fetches the newest `limit` candles (at most 1500) of `symbol` (`BTCUSDT`) from `rest_url`
/// (`https://fapi.binance.com`), as candles of `base`.
pub async fn fetch_binance_candles(
    client: &reqwest::Client,
    rest_url: &str,
    symbol: &str,
    base: &str,
    interval: CandleInterval,
    limit: u32,
) -> Result<Vec<Candle>, FetchError> {
    let url = endpoint(
        rest_url,
        &format!(
            "/fapi/v1/klines?symbol={symbol}&interval={}&limit={}",
            interval.binance(),
            clamp_limit(limit, MAX_LIMIT)
        ),
    );
    let body = get_text(client, &url).await?;
    Ok(parse_binance_candles(&body, base, interval.secs())?)
}
