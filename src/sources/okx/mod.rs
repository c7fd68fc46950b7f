//! OKX v5 public liquidations: the channel `liquidation-orders` with `instType` SWAP.
//!
//! Endpoint: `wss://ws.okx.com:8443/ws/v5/public`, one subscription for all perpetual swaps
//! ([`subscribe_message`]). Keepalive is the bare text `ping`, answered by the bare text `pong`.
//! OKX does not promise a complete feed, nor one in time order.
//!
//! Sides: `posSide` is the liquidated position in hedge mode (`long`, `short`). In net mode
//! (`posSide` `net`, or empty) the order side decides: a `sell` closes a long, a `buy` a short.
//!
//! Sizes: `sz` counts contracts, so the parser needs each instrument's contract value `ctVal`
//! from `/api/v5/public/instruments?instType=SWAP` ([`fetch_instruments`]). On linear swaps
//! `sz * ctVal` is the base quantity and the notional is that times `bkPx`; on inverse swaps
//! `sz * ctVal` is the notional in USD and the base quantity is that over `bkPx`.
//!
//! A detail on an instrument the parser does not know, or with an unusable value, is counted in
//! [`Parsed::rejected`]. A frame in which nothing was usable because of an unusable value is an
//! error instead; one that only names unknown instruments is not (the instrument list is stale,
//! not the frame).

mod instruments;

use std::borrow::Cow;
use std::collections::HashMap;

use serde::Deserialize;

use super::{EntryCollector, FrameError, Parsed, parse_decimal};
use crate::model::{Exchange, Liquidation, Side, SmolStr};

pub use instruments::{OkxInstrument, encode_instruments, fetch_instruments, parse_instruments};

/// The keepalive OKX expects within 30 seconds of silence; the answer is the text `pong`.
pub const PING: &str = "ping";

/// The channel name of the liquidation feed.
pub const CHANNEL: &str = "liquidation-orders";

/// The one subscription the liquidation feed needs: every perpetual swap.
#[must_use]
pub fn subscribe_message() -> String {
    serde_json::json!({
        "op": "subscribe",
        "args": [{ "channel": CHANNEL, "instType": "SWAP" }],
    })
    .to_string()
}

/// Parses `liquidation-orders` frames into liquidations, sized with the instrument list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OkxParser {
    instruments: HashMap<String, OkxInstrument>,
}

impl OkxParser {
    /// A parser that sizes liquidations with `instruments`, keyed by `instId`.
    #[must_use]
    pub fn new(instruments: HashMap<String, OkxInstrument>) -> Self {
        Self { instruments }
    }

    /// A parser built from an instrument list as [`fetch_instruments`] returns it.
    #[must_use]
    pub fn from_list<I>(instruments: I) -> Self
    where
        I: IntoIterator<Item = OkxInstrument>,
    {
        Self::new(
            instruments
                .into_iter()
                .map(|instrument| (instrument.inst_id.clone(), instrument))
                .collect(),
        )
    }

    /// The instruments this parser knows, keyed by `instId`.
    #[must_use]
    pub fn instruments(&self) -> &HashMap<String, OkxInstrument> {
        &self.instruments
    }

    /// Parses one text frame. The text `pong`, subscription acknowledgements and other events
    /// are control frames; an `error` event is [`FrameError::Venue`].
    pub fn parse(&self, text: &str) -> Result<Parsed, FrameError> {
        if text.trim() == "pong" {
            return Ok(Parsed::control());
        }
        let frame: Frame<'_> = serde_json::from_str(text)?;
        if frame.event == "error" {
            let code = match frame.code {
                Some(serde_json::Value::String(code)) => code,
                Some(code) => code.to_string(),
                None => String::new(),
            };
            return Err(FrameError::Venue(format!("{code}: {}", frame.msg)));
        }
        if !frame.event.is_empty() {
            return Ok(Parsed::control());
        }
        let Some(data) = frame.data else {
            return Err(FrameError::Invalid(
                "neither an event nor channel data".into(),
            ));
        };
        if frame.arg.is_some_and(|arg| arg.channel != CHANNEL) {
            // A channel this parser does not read carries no liquidation.
            return Ok(Parsed::control());
        }
        self.collect(&data)
    }

    fn collect(&self, data: &[Data<'_>]) -> Result<Parsed, FrameError> {
        let mut collector = EntryCollector::default();
        for item in data {
            let Some(instrument) = self.instruments.get(&*item.inst_id) else {
                collector.skip(item.details.len());
                continue;
            };
            for detail in &item.details {
                collector.push(to_liquidation(instrument, detail));
            }
        }
        collector.finish()
    }
}

fn to_liquidation(
    instrument: &OkxInstrument,
    detail: &Detail<'_>,
) -> Result<Liquidation, FrameError> {
    let side = match (&*detail.pos_side, &*detail.side) {
        ("long", _) | ("net" | "", "sell") => Side::Long,
        ("short", _) | ("net" | "", "buy") => Side::Short,
        (pos_side, side) => {
            return Err(FrameError::Invalid(format!(
                "unknown posSide {pos_side:?} / side {side:?}"
            )));
        }
    };
    let contracts = parse_decimal("sz", &detail.sz)?;
    let price = parse_decimal("bkPx", &detail.bk_px)?;
    if contracts <= 0.0 || price <= 0.0 {
        return Err(FrameError::Invalid(format!(
            "{}: zero size or price",
            instrument.inst_id
        )));
    }
    let ts_ms = detail
        .ts
        .parse()
        .map_err(|_| FrameError::Invalid(format!("ts is not a timestamp: {:?}", detail.ts)))?;
    let face = contracts * instrument.ct_val;
    let (quantity, usd) = if instrument.inverse {
        (face / price, face)
    } else {
        (face, face * price)
    };
    Ok(Liquidation {
        exchange: Exchange::Okx,
        symbol: SmolStr::new(&instrument.inst_id),
        base: SmolStr::new(&instrument.base),
        quote: SmolStr::new(&instrument.quote),
        side,
        price,
        quantity,
        usd,
        ts_ms,
    })
}

/// Encodes `events` as one `liquidation-orders` frame, one data item per instrument in order of
/// first appearance, in hedge mode (`posSide` long/short). `sz` is the event's size in contracts
/// of its instrument; events on instruments not in `instruments` are left out. Used by the
/// market simulator and tests.
#[must_use]
pub fn encode(events: &[Liquidation], instruments: &HashMap<String, OkxInstrument>) -> String {
    let mut items: Vec<(&OkxInstrument, Vec<serde_json::Value>)> = Vec::new();
    for event in events {
        let Some(instrument) = instruments.get(event.symbol.as_str()) else {
            continue;
        };
        let face = if instrument.inverse {
            event.usd
        } else {
            event.quantity
        };
        // Round away the float noise of the division so whole contracts print as integers.
        let contracts = (face / instrument.ct_val * 1e9).round() / 1e9;
        let (pos_side, side) = match event.side {
            Side::Long => ("long", "sell"),
            Side::Short => ("short", "buy"),
        };
        let detail = serde_json::json!({
            "bkLoss": "0",
            "bkPx": event.price.to_string(),
            "ccy": "",
            "posSide": pos_side,
            "side": side,
            "sz": contracts.to_string(),
            "ts": event.ts_ms.to_string(),
        });
        match items
            .iter_mut()
            .find(|(known, _)| known.inst_id == event.symbol)
        {
            Some((_, details)) => details.push(detail),
            None => items.push((instrument, vec![detail])),
        }
    }
    let data: Vec<serde_json::Value> = items
        .into_iter()
        .map(|(instrument, details)| {
            let family = format!("{}-{}", instrument.base, instrument.quote);
            serde_json::json!({
                "details": details,
                "instFamily": family,
                "instId": instrument.inst_id,
                "instType": "SWAP",
                "uly": family,
            })
        })
        .collect();
    serde_json::json!({
        "arg": { "channel": CHANNEL, "instType": "SWAP" },
        "data": data,
    })
    .to_string()
}

/// Any OKX public frame: channel data or an event (`subscribe`, `error`, `notice`, ...).
#[derive(Deserialize)]
struct Frame<'a> {
    #[serde(default, borrow)]
    event: Cow<'a, str>,
    #[serde(default)]
    code: Option<serde_json::Value>,
    #[serde(default, borrow)]
    msg: Cow<'a, str>,
    #[serde(default, borrow)]
    arg: Option<Arg<'a>>,
    #[serde(default, borrow)]
    data: Option<Vec<Data<'a>>>,
}

#[derive(Deserialize)]
struct Arg<'a> {
    #[serde(default, borrow)]
    channel: Cow<'a, str>,
}

/// The liquidations of one instrument.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Data<'a> {
    #[serde(borrow)]
    inst_id: Cow<'a, str>,
    #[serde(borrow)]
    details: Vec<Detail<'a>>,
}

/// One liquidation order.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Detail<'a> {
    #[serde(borrow)]
    bk_px: Cow<'a, str>,
    #[serde(borrow)]
    sz: Cow<'a, str>,
    #[serde(default, borrow)]
    side: Cow<'a, str>,
    #[serde(default, borrow)]
    pos_side: Cow<'a, str>,
    #[serde(borrow)]
    ts: Cow<'a, str>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscription_covers_every_swap() {
        assert_eq!(
            subscribe_message(),
            r#"{"args":[{"channel":"liquidation-orders","instType":"SWAP"}],"op":"subscribe"}"#
        );
    }

    #[test]
    fn detail_fields_borrow_from_the_frame() {
        let frame = r#"{"arg":{"channel":"liquidation-orders"},"data":[{"instId":"BTC-USDT-SWAP","details":[{"bkPx":"1","sz":"2","side":"buy","posSide":"net","ts":"3"}]}]}"#;
        let parsed: Frame<'_> = serde_json::from_str(frame).unwrap();
        let data = &parsed.data.unwrap()[0];
        assert!(matches!(data.inst_id, Cow::Borrowed(_)));
        assert!(matches!(data.details[0].bk_px, Cow::Borrowed(_)));
    }

    #[test]
    fn unknown_position_side_is_rejected() {
        let parser = OkxParser::from_list([OkxInstrument {
            inst_id: "BTC-USDT-SWAP".into(),
            base: "BTC".into(),
            quote: "USDT".into(),
            ct_val: 0.01,
            inverse: false,
        }]);
        let frame = r#"{"data":[{"instId":"BTC-USDT-SWAP","details":[{"bkPx":"1","sz":"2","side":"sell","posSide":"both","ts":"3"}]}]}"#;
        assert!(matches!(parser.parse(frame), Err(FrameError::Invalid(_))));
    }
}
