//! Bybit v5 klines, `GET /v5/market/kline?category=..&symbol=..&interval=..&limit=..`.
//!
//! Format, from <https://bybit-exchange.github.io/docs/v5/market/kline>:
//! `{"retCode":0,"retMsg":"OK","result":{"symbol":..,"category":..,"list":[["startTime",
//! "openPrice","highPrice","lowPrice","closePrice","volume","turnover"],..]}}`, every column a
//! string, the list "sorted in reverse by startTime" (newest first). At most 1000 rows.

use serde::Deserialize;

use super::{CandleInterval, candle_from_row, clamp_limit, oldest_first, price_columns};
use crate::market::{Scalar, bybit_result, endpoint};
use crate::model::{Candle, Exchange};
use crate::sources::FrameError;
use crate::sources::bybit::BybitContract;
use crate::sources::rest::{FetchError, get_text};

/// The most rows Bybit answers per request.
const MAX_LIMIT: u32 = 1000;

#[derive(Deserialize)]
struct KlineResult {
    list: Vec<Vec<Scalar>>,
}

/// Parses a kline reply into candles of `base`, oldest first. `retCode != 0` is
/// [`FrameError::Venue`].
pub fn parse_bybit_candles(
    body: &str,
    base: &str,
    interval_secs: u32,
) -> Result<Vec<Candle>, FrameError> {
    let result: KlineResult = bybit_result(body)?;
    let candles = result
        .list
        .iter()
        .map(|row| candle_from_row(Exchange::Bybit, base, interval_secs, row))
        .collect::<Result<_, _>>()?;
    Ok(oldest_first(candles))
}

/// Encodes candles of `symbol` as Bybit answers klines, newest first. Volume and turnover,
/// which liqbot does not read, are zero.
#[must_use]
pub fn encode_bybit_candles(symbol: &str, contract: BybitContract, candles: &[Candle]) -> String {
    let mut sorted = oldest_first(candles.to_vec());
    sorted.reverse();
    let list: Vec<serde_json::Value> = sorted
        .iter()
        .map(|candle| {
            let [start, open, high, low, close] = price_columns(candle);
            serde_json::json!([start, open, high, low, close, "0", "0"])
        })
        .collect();
    serde_json::json!({
        "retCode": 0,
        "retMsg": "OK",
        "result": { "symbol": symbol, "category": contract.category(), "list": list },
        "retExtInfo": {},
        "time": 0,
    })
    .to_string()
}

/// Fetches the newest `limit` candles (at most 1000) of `symbol` (`BTCUSDT`, `BTCUSD`) from
/// `rest_url` (`https://api.bybit.com`), as candles of `base`.
pub async fn fetch_bybit_candles(
    client: &reqwest::Client,
    rest_url: &str,
    contract: BybitContract,
    symbol: &str,
    base: &str,
    interval: CandleInterval,
    limit: u32,
) -> Result<Vec<Candle>, FetchError> {
    let url = endpoint(
        rest_url,
        &format!(
            "/v5/market/kline?category={}&symbol={symbol}&interval={}&limit={}",
            contract.category(),
            interval.bybit(),
            clamp_limit(limit, MAX_LIMIT)
        ),
    );
    let body = get_text(client, &url).await?;
    Ok(parse_bybit_candles(&body, base, interval.secs())?)
}
