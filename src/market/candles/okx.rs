//! OKX v5 candles, `GET /api/v5/market/candles?instId=..&bar=..&limit=..`.
//!
//! Format, from <https://www.okx.com/docs-v5/en/#order-book-trading-market-data-get-candlesticks>:
//! `{"code":"0","msg":"","data":[[ts,o,h,l,c,vol,volCcy,volCcyQuote,confirm],..]}`, every
//! column a string, newest first; `confirm` is `"0"` while the candle is still forming and
//! `"1"` once it is complete. At most 300 rows per request.

use super::{CandleInterval, candle_from_row, clamp_limit, oldest_first, price_columns};
use crate::market::{Scalar, endpoint, okx_data};
use crate::model::{Candle, Exchange};
use crate::sources::FrameError;
use crate::sources::rest::{FetchError, get_text};

/// The most rows OKX answers per request.
const MAX_LIMIT: u32 = 300;

/// Column of the `confirm` flag.
const CONFIRM: usize = 8;

/// Parses a candles reply into the **completed** candles of `base`, oldest first: rows with
/// `confirm == "0"` are still forming and left out; a row too short to carry `confirm` counts as
/// complete. `code != "0"` is [`FrameError::Venue`].
pub fn parse_okx_candles(
    body: &str,
    base: &str,
    interval_secs: u32,
) -> Result<Vec<Candle>, FrameError> {
    let rows: Vec<Vec<Scalar>> = okx_data(body)?;
    let mut candles = Vec::with_capacity(rows.len());
    for row in &rows {
        let candle = candle_from_row(Exchange::Okx, base, interval_secs, row)?;
        match row.get(CONFIRM).map(Scalar::text).as_deref() {
            None | Some("1") => candles.push(candle),
            Some("0") => {}
            Some(other) => {
                return Err(FrameError::Invalid(format!(
                    "confirm is neither \"0\" nor \"1\": {other:?}"
                )));
            }
        }
    }
    Ok(oldest_first(candles))
}

/// Encodes candles as OKX answers them, newest first and all complete (`confirm` `"1"`).
/// Volumes, which liqbot does not read, are zero.
#[must_use]
pub fn encode_okx_candles(candles: &[Candle]) -> String {
    let mut sorted = oldest_first(candles.to_vec());
    sorted.reverse();
    let data: Vec<serde_json::Value> = sorted
        .iter()
        .map(|candle| {
            let [ts, open, high, low, close] = price_columns(candle);
            serde_json::json!([ts, open, high, low, close, "0", "0", "0", "1"])
        })
        .collect();
    serde_json::json!({ "code": "0", "msg": "", "data": data }).to_string()
}

/// Fetches the newest `limit` candles (at most 300, the forming one then dropped) of `inst_id`
/// (`BTC-USDT-SWAP`) from `rest_url` (`https://www.okx.com`), as candles of `base`.
pub async fn fetch_okx_candles(
    client: &reqwest::Client,
    rest_url: &str,
    inst_id: &str,
    base: &str,
    interval: CandleInterval,
    limit: u32,
) -> Result<Vec<Candle>, FetchError> {
    let url = endpoint(
        rest_url,
        &format!(
            "/api/v5/market/candles?instId={inst_id}&bar={}&limit={}",
            interval.okx(),
            clamp_limit(limit, MAX_LIMIT)
        ),
    );
    let body = get_text(client, &url).await?;
    Ok(parse_okx_candles(&body, base, interval.secs())?)
}
