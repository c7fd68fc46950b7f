//! Bybit v5 open interest, `GET /v5/market/open-interest?category=..&symbol=..&intervalTime=..
//! &limit=..`: `{"retCode":0,"retMsg":"OK","result":{"symbol":..,"category":..,"list":[
//! {"openInterest":"..","singleOpenInterest":"..","timestamp":".."},..],"nextPageCursor":""}}`,
//! newest first, at most 200 rows. Values are base coins on linear contracts and USD on inverse
//! ones; see the parent module on sides.

use serde::Deserialize;

use super::{OiPeriod, clamp_limit};
use crate::market::{Scalar, amount, bybit_result, decimal_text, endpoint, integer};
use crate::model::{Exchange, OpenInterest};
use crate::sources::FrameError;
use crate::sources::bybit::BybitContract;
use crate::sources::rest::{FetchError, get_text};

/// The most rows Bybit answers per request.
const MAX_LIMIT: u32 = 200;

/// How many sides Bybit's `openInterest` counts. Bybit's v5 documentation of
/// `GET /v5/market/open-interest` (<https://bybit-exchange.github.io/docs/v5/market/open-interest>)
/// describes it as "Open interest. The value is the sum of both sides", and `singleOpenInterest`
/// as "The value is the single side"; its example pairs `63910691` with `31955346`. Used only
/// when a row has no `singleOpenInterest`.
pub const BYBIT_OPEN_INTEREST_SIDES: f64 = 2.0;

/// One Bybit open-interest reading, one-sided, in the contract's own unit.
#[derive(Debug, Clone, PartialEq)]
pub struct BybitOpenInterest {
    /// When Bybit measured it, ms since the Unix epoch.
    pub ts_ms: i64,
    /// One side's open interest: base coins on linear contracts, USD on inverse ones.
    pub one_sided: f64,
}

#[derive(Deserialize)]
struct OiResult {
    list: Vec<Row>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Row {
    open_interest: Scalar,
    #[serde(default)]
    single_open_interest: Option<Scalar>,
    timestamp: Scalar,
}

/// Parses an open-interest reply into one-sided readings, oldest first: `singleOpenInterest`
/// when present, else `openInterest / BYBIT_OPEN_INTEREST_SIDES`. `retCode != 0` is
/// [`FrameError::Venue`].
pub fn parse_bybit_open_interest(body: &str) -> Result<Vec<BybitOpenInterest>, FrameError> {
    let result: OiResult = bybit_result(body)?;
    let mut list = result
        .list
        .iter()
        .map(|row| {
            let both = amount("openInterest", &row.open_interest)?;
            let one_sided = match &row.single_open_interest {
                Some(single) => amount("singleOpenInterest", single)?,
                None => both / BYBIT_OPEN_INTEREST_SIDES,
            };
            Ok(BybitOpenInterest {
                ts_ms: integer("timestamp", &row.timestamp)?,
                one_sided,
            })
        })
        .collect::<Result<Vec<_>, FrameError>>()?;
    list.sort_by_key(|oi| oi.ts_ms);
    Ok(list)
}

/// Converts readings of `base` to one-sided USD, oldest first. Inverse readings are USD already;
/// linear ones (base coins) are multiplied by `price_at(ts_ms)` (for instance
/// [`crate::market::candles::price_at`] over the venue's candles), and left out when it has no
/// finite, positive price for the moment.
#[must_use]
pub fn bybit_open_interest_usd<F>(
    list: &[BybitOpenInterest],
    contract: BybitContract,
    base: &str,
    price_at: F,
) -> Vec<OpenInterest>
where
    F: Fn(i64) -> Option<f64>,
{
    let mut out: Vec<OpenInterest> = list
        .iter()
        .filter_map(|oi| {
            let usd = match contract {
                BybitContract::Inverse => oi.one_sided,
                BybitContract::Linear => {
                    let price = price_at(oi.ts_ms).filter(|p| p.is_finite() && *p > 0.0)?;
                    oi.one_sided * price
                }
            };
            Some(OpenInterest {
                exchange: Exchange::Bybit,
                base: base.to_owned(),
                ts_ms: oi.ts_ms,
                usd,
            })
        })
        .collect();
    out.sort_by_key(|oi| oi.ts_ms);
    out
}

/// Encodes readings of `symbol` as Bybit answers them, newest first, with both the two-sided
/// `openInterest` and the one-sided `singleOpenInterest`.
#[must_use]
pub fn encode_bybit_open_interest(
    symbol: &str,
    contract: BybitContract,
    list: &[BybitOpenInterest],
) -> String {
    let mut sorted = list.to_vec();
    sorted.sort_by_key(|oi| std::cmp::Reverse(oi.ts_ms));
    let rows: Vec<serde_json::Value> = sorted
        .iter()
        .map(|oi| {
            serde_json::json!({
                "openInterest": decimal_text(oi.one_sided * BYBIT_OPEN_INTEREST_SIDES),
                "singleOpenInterest": decimal_text(oi.one_sided),
                "timestamp": oi.ts_ms.to_string(),
            })
        })
        .collect();
    serde_json::json!({
        "retCode": 0,
        "retMsg": "OK",
        "result": {
            "symbol": symbol,
            "category": contract.category(),
            "list": rows,
            "nextPageCursor": "",
        },
        "retExtInfo": {},
        "time": 0,
    })
    .to_string()
}

/// Fetches the newest `limit` readings (at most 200) of `symbol` (`BTCUSDT`, `BTCUSD`) from
/// `rest_url` (`https://api.bybit.com`), in the contract's unit; convert them with
/// [`bybit_open_interest_usd`].
pub async fn fetch_bybit_open_interest(
    client: &reqwest::Client,
    rest_url: &str,
    contract: BybitContract,
    symbol: &str,
    period: OiPeriod,
    limit: u32,
) -> Result<Vec<BybitOpenInterest>, FetchError> {
    let url = endpoint(
        rest_url,
        &format!(
            "/v5/market/open-interest?category={}&symbol={symbol}&intervalTime={}&limit={}",
            contract.category(),
            period.bybit(),
            clamp_limit(limit, MAX_LIMIT)
        ),
    );
    Ok(parse_bybit_open_interest(&get_text(client, &url).await?)?)
}
