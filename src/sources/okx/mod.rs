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

use super::scan::Scanner;
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
        match self.collect_fast(text) {
            Some(collector) => collector.finish(),
            None => self.parse_with_serde(text),
        }
    }

    /// [`Self::parse`] without the fast path: what every frame the fast path declines gets.
    fn parse_with_serde(&self, text: &str) -> Result<Parsed, FrameError> {
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
            self.collect_item(&item.inst_id, &item.details, &mut collector);
        }
        collector.finish()
    }

    fn collect_item(&self, inst_id: &str, details: &[Detail<'_>], collector: &mut EntryCollector) {
        let Some(instrument) = self.instruments.get(inst_id) else {
            collector.skip(details.len());
            return;
        };
        for detail in details {
            collector.push(to_liquidation(instrument, detail));
        }
    }

    /// The fast path: a `liquidation-orders` data frame as OKX sends almost every one, read
    /// with [`Scanner`] in one pass. `None` for anything else (an event, another channel, an
    /// escape, a repeated field, more than [`FAST_DETAILS`] details in one item), which then
    /// goes to serde_json; for a frame it does read, the entries are the ones serde_json would
    /// give, in the same order.
    fn collect_fast(&self, text: &str) -> Option<EntryCollector> {
        let mut collector = EntryCollector::default();
        let mut s = Scanner::new(text);
        s.eat(b'{')?;
        let (mut seen_arg, mut seen_data) = (false, false);
        let mut first = true;
        while let Some(key) = s.next_key(first)? {
            first = false;
            match key {
                "arg" => {
                    if std::mem::replace(&mut seen_arg, true) {
                        return None;
                    }
                    (scan_channel(&mut s)? == CHANNEL).then_some(())?;
                }
                "data" => {
                    if std::mem::replace(&mut seen_data, true) {
                        return None;
                    }
                    s.eat(b'[')?;
                    let mut first = true;
                    while s.next_element(first)? {
                        first = false;
                        let (inst_id, details, n) = scan_item(&mut s)?;
                        self.collect_item(inst_id, &details[..n], &mut collector);
                    }
                }
                // The other fields [`Frame`] reads: an event or a reply, for serde_json.
                "event" | "code" | "msg" => return None,
                _ => s.skip_scalar()?,
            }
        }
        s.end()?;
        seen_data.then_some(collector)
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

/// The most details one data item may hold for the fast path; OKX sends one.
const FAST_DETAILS: usize = 4;

/// The `arg` object of [`OkxParser::collect_fast`]: its `channel` (empty when absent, as in
/// [`Arg`]).
fn scan_channel<'a>(s: &mut Scanner<'a>) -> Option<&'a str> {
    s.eat(b'{')?;
    let mut channel = None;
    let mut first = true;
    while let Some(key) = s.next_key(first)? {
        first = false;
        if key == "channel" {
            if channel.replace(s.string()?).is_some() {
                return None;
            }
        } else {
            s.skip_scalar()?;
        }
    }
    Some(channel.unwrap_or(""))
}

/// One item of `data`: its `instId` and its details, the first `n` of the array.
fn scan_item<'a>(s: &mut Scanner<'a>) -> Option<(&'a str, [Detail<'a>; FAST_DETAILS], usize)> {
    s.eat(b'{')?;
    let (mut inst_id, mut details) = (None, None);
    let mut first = true;
    while let Some(key) = s.next_key(first)? {
        first = false;
        match key {
            "instId" => {
                if inst_id.replace(s.string()?).is_some() {
                    return None;
                }
            }
            "details" => {
                let mut list: [Detail<'a>; FAST_DETAILS] = Default::default();
                s.eat(b'[')?;
                let (mut n, mut first) = (0, true);
                while s.next_element(first)? {
                    first = false;
                    *list.get_mut(n)? = scan_detail(s)?;
                    n += 1;
                }
                if details.replace((list, n)).is_some() {
                    return None;
                }
            }
            _ => s.skip_scalar()?,
        }
    }
    let (list, n) = details?;
    Some((inst_id?, list, n))
}

/// One detail, as [`Detail`] reads it: `side` and `posSide` may be absent.
fn scan_detail<'a>(s: &mut Scanner<'a>) -> Option<Detail<'a>> {
    s.eat(b'{')?;
    // bkPx, sz, side, posSide, ts
    let mut fields: [Option<&'a str>; 5] = [None; 5];
    let mut first = true;
    while let Some(key) = s.next_key(first)? {
        first = false;
        let slot = match key {
            "bkPx" => 0,
            "sz" => 1,
            "side" => 2,
            "posSide" => 3,
            "ts" => 4,
            _ => {
                s.skip_scalar()?;
                continue;
            }
        };
        if fields[slot].replace(s.string()?).is_some() {
            return None;
        }
    }
    let [Some(bk_px), Some(sz), side, pos_side, Some(ts)] = fields else {
        return None;
    };
    Some(Detail {
        bk_px: Cow::Borrowed(bk_px),
        sz: Cow::Borrowed(sz),
        side: Cow::Borrowed(side.unwrap_or("")),
        pos_side: Cow::Borrowed(pos_side.unwrap_or("")),
        ts: Cow::Borrowed(ts),
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
#[derive(Default, Deserialize)]
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

    /// A parser over the instrument list fixture (BTC-USDT-SWAP linear, BTC-USD-SWAP inverse).
    fn test_parser() -> OkxParser {
        let list = std::fs::read_to_string("tests/fixtures/okx/instruments.json").unwrap();
        OkxParser::from_list(parse_instruments(&list).unwrap())
    }

    /// Every fixture gets the same answer with and without the fast path, and the frames OKX
    /// sends take it.
    #[test]
    fn fixtures_answer_as_serde_json_alone_and_data_frames_take_the_fast_path() {
        let parser = test_parser();
        let mut fast = Vec::new();
        for entry in std::fs::read_dir("tests/fixtures/okx").unwrap() {
            let path = entry.unwrap().path();
            let frame = std::fs::read_to_string(&path).unwrap();
            assert_eq!(
                format!("{:?}", parser.parse(&frame)),
                format!("{:?}", parser.parse_with_serde(&frame)),
                "{}",
                path.display()
            );
            if parser.collect_fast(&frame).is_some() {
                fast.push(path.file_name().unwrap().to_string_lossy().into_owned());
            }
        }
        fast.sort();
        for name in [
            "hedge_long.json",
            "hedge_short.json",
            "inverse_sizing.json",
            "net_buy.json",
        ] {
            assert!(fast.iter().any(|f| f == name), "{name} not fast: {fast:?}");
        }
    }

    mod fast_path_matches_serde {
        use proptest::prelude::*;

        use super::test_parser;
        use crate::sources::scan::arb::{decimal, edited, field, object, other_value};

        fn text(values: &[&'static str]) -> BoxedStrategy<String> {
            field(prop::sample::select(values.to_vec()).prop_map(|v| format!("\"{v}\"")))
        }

        fn array(
            element: impl Strategy<Value = String> + 'static,
            len: std::ops::Range<usize>,
            ws: &'static str,
        ) -> BoxedStrategy<String> {
            prop::collection::vec(element, len)
                .prop_map(move |items| format!("[{ws}{}{ws}]", items.join(&format!("{ws},{ws}"))))
                .boxed()
        }

        fn frame() -> impl Strategy<Value = String> {
            prop::sample::select(vec!["", " ", "\r\n"]).prop_flat_map(|ws| {
                let detail = || object(
                    vec![
                        ("bkPx", field(decimal())),
                        ("sz", field(decimal())),
                        ("side", text(&["buy", "sell", "", "hold"])),
                        (
                            "posSide",
                            text(&["long", "short", "net", "net", "", "both"]),
                        ),
                        (
                            "ts",
                            field(prop_oneof![
                                6 => (0..2_000_000_000_000_i64).prop_map(|t| format!("\"{t}\"")),
                                1 => decimal(),
                            ]),
                        ),
                        ("bkLoss", field(Just("\"0\"".to_owned()))),
                    ],
                    &["bkPx", "sz", "side", "posSide", "ts"],
                    ws,
                );
                let item = object(
                    vec![
                        (
                            "details",
                            // OKX sends one; the fast path reads up to four.
                            prop_oneof![
                                6 => array(detail(), 1..2, ws),
                                1 => array(detail(), 0..6, ws),
                                1 => other_value().boxed(),
                            ]
                            .boxed(),
                        ),
                        (
                            "instId",
                            text(&[
                                "BTC-USDT-SWAP",
                                "BTC-USDT-SWAP",
                                "BTC-USD-SWAP",
                                "XYZ-USDT-SWAP",
                            ]),
                        ),
                        ("instType", text(&["SWAP"])),
                    ],
                    &["details", "instId"],
                    ws,
                );
                let arg = object(
                    vec![
                        (
                            "channel",
                            text(&[
                                "liquidation-orders",
                                "liquidation-orders",
                                "liquidation-orders",
                                "tickers",
                            ]),
                        ),
                        ("instType", text(&["SWAP"])),
                    ],
                    &["channel"],
                    ws,
                );
                let envelope = object(
                    vec![
                        (
                            "arg",
                            prop_oneof![8 => arg.boxed(), 1 => other_value().boxed()].boxed(),
                        ),
                        ("data", field(array(item, 0..3, ws))),
                    ],
                    &["arg", "data", "event", "code", "msg"],
                    ws,
                );
                edited(envelope, ws)
            })
        }

        /// The frames above exercise both paths, and events come out of both.
        #[test]
        fn frames_take_both_paths() {
            use proptest::strategy::ValueTree;
            let parser = test_parser();
            let mut runner = proptest::test_runner::TestRunner::deterministic();
            let (mut fast, mut events) = (0, 0);
            for _ in 0..2_000 {
                let frame = frame().new_tree(&mut runner).unwrap().current();
                fast += usize::from(parser.collect_fast(&frame).is_some());
                events += usize::from(
                    parser
                        .parse_with_serde(&frame)
                        .is_ok_and(|p| !p.events.is_empty()),
                );
            }
            assert!(
                (200..1_600).contains(&fast),
                "{fast} of 2000 on the fast path"
            );
            assert!(events > 50, "{events} of 2000 with events");
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(4_000))]

            /// Whatever the frame, the parser answers as serde_json alone would.
            #[test]
            fn on_any_frame(frame in frame()) {
                let parser = test_parser();
                prop_assert_eq!(
                    format!("{:?}", parser.parse(&frame)),
                    format!("{:?}", parser.parse_with_serde(&frame))
                );
            }
        }
    }
}
