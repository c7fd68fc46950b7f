//! OKX v5 open interest: the present value, `GET /api/v5/public/open-interest?instType=SWAP&
//! instId=..` (`{"code":"0","msg":"","data":[{"instId","instType","oi","oiCcy","oiUsd","ts"}]}`,
//! every value a string), and the history, `GET /api/v5/rubik/stat/contracts/
//! open-interest-history?instId=..&period=..&limit=..` (`data` rows `[ts, oi, oiCcy, oiUsd]`,
//! strings, at most 100 rows). Both are read as `usd = oiUsd`.

use serde::Deserialize;

use super::{OiPeriod, clamp_limit, oldest_first};
use crate::market::{Scalar, amount, column, decimal_text, endpoint, integer, okx_data};
use crate::model::{Exchange, OpenInterest};
use crate::sources::FrameError;
use crate::sources::rest::{FetchError, get_text};

/// The most history rows OKX answers per request.
const MAX_LIMIT: u32 = 100;

/// Column of `oiUsd` in a history row `[ts, oi, oiCcy, oiUsd]`.
const HISTORY_OI_USD: usize = 3;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Row {
    oi_usd: Scalar,
    ts: Scalar,
}

/// Parses the present open interest into one reading of `base` per row (one row when the
/// request named an `instId`), oldest first. `code != "0"` is [`FrameError::Venue`].
pub fn parse_okx_open_interest(body: &str, base: &str) -> Result<Vec<OpenInterest>, FrameError> {
    let rows: Vec<Row> = okx_data(body)?;
    let list = rows
        .iter()
        .map(|row| reading(base, &row.ts, &row.oi_usd))
        .collect::<Result<_, _>>()?;
    Ok(oldest_first(list))
}

/// Parses the open-interest history into readings of `base`, oldest first. `code != "0"` is
/// [`FrameError::Venue`].
pub fn parse_okx_open_interest_history(
    body: &str,
    base: &str,
) -> Result<Vec<OpenInterest>, FrameError> {
    let rows: Vec<Vec<Scalar>> = okx_data(body)?;
    let list = rows
        .iter()
        .map(|row| {
            let ts = column(row, 0, "ts")?;
            reading(base, ts, column(row, HISTORY_OI_USD, "oiUsd")?)
        })
        .collect::<Result<_, _>>()?;
    Ok(oldest_first(list))
}

fn reading(base: &str, ts: &Scalar, oi_usd: &Scalar) -> Result<OpenInterest, FrameError> {
    Ok(OpenInterest {
        exchange: Exchange::Okx,
        base: base.to_owned(),
        ts_ms: integer("ts", ts)?,
        usd: amount("oiUsd", oi_usd)?,
    })
}

/// Encodes readings of `inst_id` as OKX answers the present open interest, one row each.
/// `oi` and `oiCcy` (not read) are `"0"`.
#[must_use]
pub fn encode_okx_open_interest(inst_id: &str, list: &[OpenInterest]) -> String {
    let data: Vec<serde_json::Value> = list
        .iter()
        .map(|oi| {
            serde_json::json!({
                "instId": inst_id,
                "instType": "SWAP",
                "oi": "0",
                "oiCcy": "0",
                "oiUsd": decimal_text(oi.usd),
                "ts": oi.ts_ms.to_string(),
            })
        })
        .collect();
    serde_json::json!({ "code": "0", "msg": "", "data": data }).to_string()
}

/// Encodes readings as OKX answers the history, newest first. `oi` and `oiCcy` (not read) are
/// `"0"`.
#[must_use]
pub fn encode_okx_open_interest_history(list: &[OpenInterest]) -> String {
    let mut sorted = oldest_first(list.to_vec());
    sorted.reverse();
    let data: Vec<serde_json::Value> = sorted
        .iter()
        .map(|oi| serde_json::json!([oi.ts_ms.to_string(), "0", "0", decimal_text(oi.usd)]))
        .collect();
    serde_json::json!({ "code": "0", "msg": "", "data": data }).to_string()
}

/// Fetches the present open interest of the swap `inst_id` (`BTC-USDT-SWAP`) from `rest_url`
/// (`https://www.okx.com`), as readings of `base`.
pub async fn fetch_okx_open_interest(
    client: &reqwest::Client,
    rest_url: &str,
    inst_id: &str,
    base: &str,
) -> Result<Vec<OpenInterest>, FetchError> {
    let url = endpoint(
        rest_url,
        &format!("/api/v5/public/open-interest?instType=SWAP&instId={inst_id}"),
    );
    Ok(parse_okx_open_interest(
        &get_text(client, &url).await?,
        base,
    )?)
}

/// Fetches the newest `limit` history readings (at most 100) of `inst_id` from `rest_url`, as
/// readings of `base`.
pub async fn fetch_okx_open_interest_history(
    client: &reqwest::Client,
    rest_url: &str,
    inst_id: &str,
    base: &str,
    period: OiPeriod,
    limit: u32,
) -> Result<Vec<OpenInterest>, FetchError> {
    let url = endpoint(
        rest_url,
        &format!(
            "/api/v5/rubik/stat/contracts/open-interest-history?instId={inst_id}&period={}&limit={}",
            period.okx(),
            clamp_limit(limit, MAX_LIMIT)
        ),
    );
    let body = get_text(client, &url).await?;
    Ok(parse_okx_open_interest_history(&body, base)?)
}
