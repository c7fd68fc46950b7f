//! OKX's swap list, `GET /api/v5/public/instruments?instType=SWAP`: the contract value of every
//! perpetual, without which a liquidation's `sz` (in contracts) has no size.

use serde::Deserialize;

use crate::sources::FrameError;
use crate::sources::rest::{FetchError, get_text};

/// What the parser needs to know about one perpetual swap.
#[derive(Debug, Clone, PartialEq)]
pub struct OkxInstrument {
    /// The instrument id, as in frames (`BTC-USDT-SWAP`).
    pub inst_id: String,
    /// The base asset (`BTC`).
    pub base: String,
    /// The quote currency (`USDT`, `USDC`, `USD`).
    pub quote: String,
    /// The value of one contract (`ctVal * ctMult`): base units on linear swaps, USD on
    /// inverse ones.
    pub ct_val: f64,
    /// Whether the swap is inverse (coin-margined, contracts worth a fixed USD amount).
    pub inverse: bool,
}

#[derive(Deserialize)]
struct Body {
    code: String,
    #[serde(default)]
    msg: String,
    #[serde(default)]
    data: Vec<Row>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Row {
    inst_id: String,
    #[serde(default)]
    uly: String,
    #[serde(default)]
    ct_val: String,
    #[serde(default)]
    ct_mult: String,
    #[serde(default)]
    ct_type: String,
}

/// Parses the swap list. A `code` other than `"0"` is [`FrameError::Venue`]. Rows without a
/// positive contract value or a `ctType` of `linear` / `inverse` are left out: they cannot size
/// a liquidation. Instruments of every state are kept, since a suspended swap's liquidations
/// still need a size.
pub fn parse_instruments(body: &str) -> Result<Vec<OkxInstrument>, FrameError> {
    let body: Body = serde_json::from_str(body)?;
    if body.code != "0" {
        return Err(FrameError::Venue(format!(
            "code {}: {}",
            body.code, body.msg
        )));
    }
    Ok(body.data.into_iter().filter_map(to_instrument).collect())
}

fn to_instrument(row: Row) -> Option<OkxInstrument> {
    let inverse = match &*row.ct_type {
        "linear" => false,
        "inverse" => true,
        _ => return None,
    };
    let ct_val: f64 = row.ct_val.parse().ok()?;
    let ct_mult: f64 = if row.ct_mult.is_empty() {
        1.0
    } else {
        row.ct_mult.parse().ok()?
    };
    let ct_val = ct_val * ct_mult;
    if !(ct_val.is_finite() && ct_val > 0.0) {
        return None;
    }
    // `uly` is `BASE-QUOTE`; the instrument id starts the same way (`BTC-USDT-SWAP`).
    let pair = if row.uly.is_empty() {
        &row.inst_id
    } else {
        &row.uly
    };
    let mut parts = pair.split('-');
    let base = parts.next()?.to_ascii_uppercase();
    // Instrument families such as `BTC-USD_UM` carry a suffix after the quote.
    let quote = parts.next()?.split('_').next()?.to_ascii_uppercase();
    if base.is_empty() || quote.is_empty() {
        return None;
    }
    Some(OkxInstrument {
        inst_id: row.inst_id,
        base,
        quote,
        ct_val,
        inverse,
    })
}

/// Encodes a swap list as OKX answers it (all rows live). Used by the market simulator's REST
/// endpoint and tests.
#[must_use]
pub fn encode_instruments(list: &[OkxInstrument]) -> String {
    let rows: Vec<serde_json::Value> = list
        .iter()
        .map(|instrument| {
            let family = format!("{}-{}", instrument.base, instrument.quote);
            let (ct_type, ct_val_ccy, settle) = if instrument.inverse {
                ("inverse", &instrument.quote, &instrument.base)
            } else {
                ("linear", &instrument.base, &instrument.quote)
            };
            serde_json::json!({
                "instType": "SWAP",
                "instId": instrument.inst_id,
                "uly": family,
                "instFamily": family,
                "ctVal": instrument.ct_val.to_string(),
                "ctMult": "1",
                "ctValCcy": ct_val_ccy,
                "ctType": ct_type,
                "settleCcy": settle,
                "state": "live",
            })
        })
        .collect();
    serde_json::json!({ "code": "0", "msg": "", "data": rows }).to_string()
}

/// Fetches the swap list from `rest_url` (`https://www.okx.com`).
pub async fn fetch_instruments(
    client: &reqwest::Client,
    rest_url: &str,
) -> Result<Vec<OkxInstrument>, FetchError> {
    let url = format!(
        "{}/api/v5/public/instruments?instType=SWAP",
        rest_url.trim_end_matches('/')
    );
    Ok(parse_instruments(&get_text(client, &url).await?)?)
}
