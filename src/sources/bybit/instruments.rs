//! Bybit's instrument list, `GET /v5/market/instruments-info?category=..&limit=1000&cursor=..`:
//! which perpetuals trade, so the runner knows which topics to subscribe to, and their base and
//! quote coins.

use serde::Deserialize;

use super::BybitContract;
use crate::sources::FrameError;
use crate::sources::rest::{FetchError, get_text};

/// Bybit answers at most this many instruments per page.
const PAGE_LIMIT: usize = 1000;

/// A guard against a cursor that never ends; Bybit lists a few hundred perpetuals.
const MAX_PAGES: usize = 50;

/// One tradable perpetual.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BybitInstrument {
    /// The symbol, as in topics and frames (`BTCUSDT`, `BTCUSD`).
    pub symbol: String,
    /// The base coin (`BTC`).
    pub base: String,
    /// The quote coin (`USDT`, `USDC`, `USD`).
    pub quote: String,
}

/// One page of the instrument list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstrumentsPage {
    /// The perpetuals on this page that are trading.
    pub symbols: Vec<BybitInstrument>,
    /// The cursor of the next page, if there is one.
    pub next_cursor: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Body {
    ret_code: i64,
    #[serde(default)]
    ret_msg: String,
    #[serde(default)]
    result: Option<ResultBody>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResultBody {
    #[serde(default)]
    list: Vec<Row>,
    #[serde(default)]
    next_page_cursor: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Row {
    symbol: String,
    #[serde(default)]
    contract_type: String,
    #[serde(default)]
    status: String,
    base_coin: String,
    quote_coin: String,
}

/// Parses one page of the instrument list, keeping the perpetuals (`LinearPerpetual`,
/// `InversePerpetual`) whose status is `Trading`. A `retCode` other than 0 is
/// [`FrameError::Venue`].
pub fn parse_instruments(body: &str) -> Result<InstrumentsPage, FrameError> {
    let body: Body = serde_json::from_str(body)?;
    if body.ret_code != 0 {
        return Err(FrameError::Venue(format!(
            "retCode {}: {}",
            body.ret_code, body.ret_msg
        )));
    }
    let result = body
        .result
        .ok_or_else(|| FrameError::Invalid("instruments reply without result".into()))?;
    let symbols = result
        .list
        .into_iter()
        .filter(|row| {
            row.status == "Trading"
                && matches!(&*row.contract_type, "LinearPerpetual" | "InversePerpetual")
        })
        .map(|row| BybitInstrument {
            symbol: row.symbol,
            base: row.base_coin.to_ascii_uppercase(),
            quote: row.quote_coin,
        })
        .collect();
    let next_cursor = result.next_page_cursor.filter(|cursor| !cursor.is_empty());
    Ok(InstrumentsPage {
        symbols,
        next_cursor,
    })
}

/// Encodes an instrument-list page as Bybit answers it (all rows trading perpetuals of
/// `contract`). Used by the market simulator's REST endpoint and tests.
#[must_use]
pub fn encode_instruments(
    list: &[BybitInstrument],
    contract: BybitContract,
    next_cursor: Option<&str>,
) -> String {
    let contract_type = match contract {
        BybitContract::Linear => "LinearPerpetual",
        BybitContract::Inverse => "InversePerpetual",
    };
    let rows: Vec<serde_json::Value> = list
        .iter()
        .map(|instrument| {
            let settle = match contract {
                BybitContract::Linear => &instrument.quote,
                BybitContract::Inverse => &instrument.base,
            };
            serde_json::json!({
                "symbol": instrument.symbol,
                "contractType": contract_type,
                "status": "Trading",
                "baseCoin": instrument.base,
                "quoteCoin": instrument.quote,
                "settleCoin": settle,
            })
        })
        .collect();
    serde_json::json!({
        "retCode": 0,
        "retMsg": "OK",
        "result": {
            "category": contract.category(),
            "list": rows,
            "nextPageCursor": next_cursor.unwrap_or(""),
        },
        "retExtInfo": {},
        "time": 0,
    })
    .to_string()
}

/// Fetches every trading perpetual of `contract` from `rest_url` (`https://api.bybit.com`),
/// following the page cursor to the end.
pub async fn fetch_instruments(
    client: &reqwest::Client,
    rest_url: &str,
    contract: BybitContract,
) -> Result<Vec<BybitInstrument>, FetchError> {
    let first = format!(
        "{}/v5/market/instruments-info?category={}&limit={PAGE_LIMIT}",
        rest_url.trim_end_matches('/'),
        contract.category()
    );
    let mut instruments = Vec::new();
    let mut url = first.clone();
    for _ in 0..MAX_PAGES {
        let page = parse_instruments(&get_text(client, &url).await?)?;
        instruments.extend(page.symbols);
        match page.next_cursor {
            // Bybit hands the cursor out already URL-encoded: it goes back verbatim.
            Some(cursor) => url = format!("{first}&cursor={cursor}"),
            None => return Ok(instruments),
        }
    }
    Err(FetchError::Body(FrameError::Invalid(format!(
        "instrument list still had a next page after {MAX_PAGES} pages"
    ))))
}
