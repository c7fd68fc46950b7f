//! Bybit v5 public liquidations: the topic `allLiquidation.{symbol}`, one per symbol.
//!
//! Endpoints: `wss://stream.bybit.com/v5/public/linear` (USDT and USDC contracts) and
//! `.../v5/public/inverse` (coin-margined contracts such as `BTCUSD`). There is no all-market
//! topic, so the runner fetches the instrument list ([`fetch_instruments`]) and subscribes in
//! batches ([`subscribe_messages`]). Bybit documents this feed as complete: every liquidation is
//! pushed, batched every 500 ms.
//!
//! Sides: on this channel `S` is the side of the liquidated **position**, not of the order:
//! `Buy` means a long was liquidated, `Sell` a short.
//!
//! Sizes: on linear contracts `v` is the base quantity and the notional is `v * p`; on inverse
//! contracts `v` counts 1-USD contracts, so the notional is `v` and the base quantity `v / p`.
//! `p` is the bankruptcy price.
//!
//! Entries of a frame with an unusable value are counted in [`Parsed::rejected`]; when no entry
//! of a frame is usable, the frame is an error instead.

mod instruments;

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer};

use super::scan::Scanner;
use super::{EntryCollector, FrameError, Parsed, parse_decimal};
use smol_str::StrExt;

use crate::model::{Exchange, Liquidation, Side, SmolStr, split_symbol};

pub use instruments::{
    BybitInstrument, InstrumentsPage, encode_instruments, fetch_instruments, parse_instruments,
};

/// The keepalive Bybit asks clients to send every 20 seconds.
pub const PING: &str = r#"{"op":"ping"}"#;

/// The topic prefix of the liquidation channel.
pub const TOPIC_PREFIX: &str = "allLiquidation.";

/// Which kind of contract a connection carries; it decides what `v` means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BybitContract {
    /// USDT and USDC margined contracts: `v` is the base quantity.
    Linear,
    /// Coin-margined contracts (`BTCUSD`): `v` is a count of 1-USD contracts.
    Inverse,
}

impl BybitContract {
    /// The `category` Bybit uses in URLs (`linear`, `inverse`).
    #[must_use]
    pub fn category(self) -> &'static str {
        match self {
            Self::Linear => "linear",
            Self::Inverse => "inverse",
        }
    }
}

/// Parses `allLiquidation` frames of one connection into liquidations.
#[derive(Debug, Clone, PartialEq)]
pub struct BybitParser {
    /// The contract kind of the connection the frames come from.
    pub contract: BybitContract,
    /// Base and quote by symbol, from the instrument list; symbols not in it are split by name.
    instruments: HashMap<String, BybitInstrument>,
}

impl BybitParser {
    /// A parser that derives base and quote from the symbol's name (`BTCUSDT` → BTC, USDT).
    #[must_use]
    pub fn new(contract: BybitContract) -> Self {
        Self {
            contract,
            instruments: HashMap::new(),
        }
    }

    /// A parser that takes base and quote from the venue's instrument list, falling back to the
    /// symbol's name for symbols not in it.
    #[must_use]
    pub fn with_instruments<I>(contract: BybitContract, instruments: I) -> Self
    where
        I: IntoIterator<Item = BybitInstrument>,
    {
        Self {
            contract,
            instruments: instruments
                .into_iter()
                .map(|instrument| (instrument.symbol.clone(), instrument))
                .collect(),
        }
    }

    /// Parses one text frame. Subscription acknowledgements and pongs are control frames; a
    /// refused request (`"success":false`) is [`FrameError::Venue`].
    ///
    /// A plain `allLiquidation` frame is read by the strict scanner ([`topic_entries`]);
    /// anything it declines goes to serde_json, which answers as it would have alone.
    pub fn parse(&self, text: &str) -> Result<Parsed, FrameError> {
        if let Some(entries) = topic_entries(text) {
            return self.collect(&entries);
        }
        self.parse_with_serde(text)
    }

    /// [`Self::parse`] without the fast path: what every frame the fast path declines gets.
    fn parse_with_serde(&self, text: &str) -> Result<Parsed, FrameError> {
        let frame: Frame<'_> = serde_json::from_str(text)?;
        if frame.topic.starts_with(TOPIC_PREFIX) {
            let entries = frame
                .data
                .ok_or_else(|| FrameError::Invalid(format!("{} without data", frame.topic)))?;
            return self.collect(&entries);
        }
        if !frame.op.is_empty() {
            if frame.success == Some(false) {
                return Err(FrameError::Venue(format!(
                    "{}: {}",
                    frame.op, frame.ret_msg
                )));
            }
            return Ok(Parsed::control());
        }
        if !frame.topic.is_empty() {
            // A topic this parser does not read carries no liquidation.
            return Ok(Parsed::control());
        }
        Err(FrameError::Invalid(
            "neither a topic message nor a reply to a request".into(),
        ))
    }

    fn collect(&self, entries: &[Entry<'_>]) -> Result<Parsed, FrameError> {
        let mut collector = EntryCollector::default();
        for entry in entries {
            collector.push(self.to_liquidation(entry));
        }
        collector.finish()
    }

    fn to_liquidation(&self, entry: &Entry<'_>) -> Result<Liquidation, FrameError> {
        let side = match &*entry.side {
            "Buy" => Side::Long,
            "Sell" => Side::Short,
            other => return Err(FrameError::Invalid(format!("unknown side {other:?}"))),
        };
        let size = parse_decimal("v", &entry.v)?;
        let price = parse_decimal("p", &entry.p)?;
        if size <= 0.0 || price <= 0.0 {
            return Err(FrameError::Invalid(format!(
                "{}: zero size or price",
                entry.s
            )));
        }
        let (quantity, usd) = match self.contract {
            BybitContract::Linear => (size, size * price),
            BybitContract::Inverse => (size / price, size),
        };
        let (base, quote) = match self.instruments.get(&*entry.s) {
            Some(instrument) => (
                SmolStr::new(&instrument.base),
                SmolStr::new(&instrument.quote),
            ),
            None => {
                let (base, quote) = split_symbol(&entry.s);
                (
                    base.to_ascii_uppercase_smolstr(),
                    SmolStr::new_static(quote),
                )
            }
        };
        Ok(Liquidation {
            exchange: Exchange::Bybit,
            symbol: SmolStr::new(&*entry.s),
            base,
            quote,
            side,
            price,
            quantity,
            usd,
            ts_ms: entry.time,
        })
    }
}

/// Subscription requests for the liquidation topics of `symbols`, at most `batch` topics each
/// (a `batch` of 0 is taken as 1).
#[must_use]
pub fn subscribe_messages(symbols: &[String], batch: usize) -> Vec<String> {
    symbols
        .chunks(batch.max(1))
        .map(|chunk| {
            let args: Vec<String> = chunk
                .iter()
                .map(|symbol| format!("{TOPIC_PREFIX}{symbol}"))
                .collect();
            serde_json::json!({ "op": "subscribe", "args": args }).to_string()
        })
        .collect()
}

/// Encodes `events` as the one frame Bybit would push on the topic of `symbol`. The contract
/// decides `v` (base quantity on linear, USD on inverse); the frame's `ts` is the latest event
/// time. Used by the market simulator and tests.
#[must_use]
pub fn encode(contract: BybitContract, symbol: &str, events: &[Liquidation]) -> String {
    let data: Vec<serde_json::Value> = events
        .iter()
        .map(|event| {
            let size = match contract {
                BybitContract::Linear => event.quantity,
                BybitContract::Inverse => event.usd,
            };
            let side = match event.side {
                Side::Long => "Buy",
                Side::Short => "Sell",
            };
            serde_json::json!({
                "T": event.ts_ms,
                "s": event.symbol,
                "S": side,
                "v": size.to_string(),
                "p": event.price.to_string(),
            })
        })
        .collect();
    let ts = events.iter().map(|event| event.ts_ms).max().unwrap_or(0);
    serde_json::json!({
        "topic": format!("{TOPIC_PREFIX}{symbol}"),
        "type": "snapshot",
        "ts": ts,
        "data": data,
    })
    .to_string()
}

/// The entries of a plain `allLiquidation` frame, as [`Frame`] would read them, by the strict
/// scanner: an object with a `topic` of the channel and a `data` array of flat entries, each
/// field once, strings without escapes and `T` an integer. `None` for anything else (a reply, a
/// string time, an escape, a repeated field, bytes that are not JSON), for serde_json.
fn topic_entries(text: &str) -> Option<Vec<Entry<'_>>> {
    let mut s = Scanner::new(text);
    s.eat(b'{')?;
    let (mut topic, mut entries) = (None, None);
    let mut first = true;
    while let Some(key) = s.next_key(first)? {
        first = false;
        match key {
            "topic" => {
                if topic.replace(s.string()?).is_some() {
                    return None;
                }
            }
            "data" => {
                let mut list = Vec::new();
                s.eat(b'[')?;
                let mut first = true;
                while s.next_element(first)? {
                    first = false;
                    list.push(scan_entry(&mut s)?);
                }
                if entries.replace(list).is_some() {
                    return None;
                }
            }
            // The other fields [`Frame`] reads: a reply, for serde_json.
            "op" | "success" | "ret_msg" => return None,
            _ => s.skip_scalar()?,
        }
    }
    s.end()?;
    topic?.starts_with(TOPIC_PREFIX).then_some(())?;
    entries
}

/// One entry of `data`: every field [`Entry`] reads, once each.
fn scan_entry<'a>(s: &mut Scanner<'a>) -> Option<Entry<'a>> {
    s.eat(b'{')?;
    // s, S, v, p
    let mut fields: [Option<&'a str>; 4] = [None; 4];
    let mut time = None;
    let mut first = true;
    while let Some(key) = s.next_key(first)? {
        first = false;
        let slot = match key {
            "s" => 0,
            "S" => 1,
            "v" => 2,
            "p" => 3,
            "T" => {
                if time.replace(s.integer()?).is_some() {
                    return None;
                }
                continue;
            }
            _ => {
                s.skip_scalar()?;
                continue;
            }
        };
        if fields[slot].replace(s.string()?).is_some() {
            return None;
        }
    }
    let [Some(symbol), Some(side), Some(v), Some(p)] = fields else {
        return None;
    };
    Some(Entry {
        time: time?,
        s: Cow::Borrowed(symbol),
        side: Cow::Borrowed(side),
        v: Cow::Borrowed(v),
        p: Cow::Borrowed(p),
    })
}

/// Any Bybit public frame: a topic message or a reply to `subscribe` / `ping`.
#[derive(Deserialize)]
struct Frame<'a> {
    #[serde(default, borrow)]
    topic: Cow<'a, str>,
    #[serde(default, borrow)]
    op: Cow<'a, str>,
    #[serde(default)]
    success: Option<bool>,
    #[serde(default, borrow)]
    ret_msg: Cow<'a, str>,
    #[serde(default, borrow)]
    data: Option<Vec<Entry<'a>>>,
}

/// One liquidation in an `allLiquidation` frame.
#[derive(Deserialize)]
struct Entry<'a> {
    #[serde(rename = "T", deserialize_with = "millis")]
    time: i64,
    #[serde(borrow)]
    s: Cow<'a, str>,
    #[serde(rename = "S", borrow)]
    side: Cow<'a, str>,
    #[serde(borrow)]
    v: Cow<'a, str>,
    #[serde(borrow)]
    p: Cow<'a, str>,
}

/// A millisecond timestamp written as a number (as documented) or as a string.
fn millis<'de, D>(deserializer: D) -> Result<i64, D::Error>
where
    D: Deserializer<'de>,
{
    struct MillisVisitor;

    impl Visitor<'_> for MillisVisitor {
        type Value = i64;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a millisecond timestamp")
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
            Ok(v)
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
            i64::try_from(v).map_err(E::custom)
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<i64, E> {
            v.parse().map_err(E::custom)
        }
    }

    deserializer.deserialize_any(MillisVisitor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscriptions_come_in_batches_of_at_most_the_given_size() {
        let symbols: Vec<String> = ["BTCUSDT", "ETHUSDT", "SOLUSDT"].map(String::from).to_vec();
        assert_eq!(
            subscribe_messages(&symbols, 2),
            vec![
                r#"{"args":["allLiquidation.BTCUSDT","allLiquidation.ETHUSDT"],"op":"subscribe"}"#,
                r#"{"args":["allLiquidation.SOLUSDT"],"op":"subscribe"}"#,
            ]
        );
        assert_eq!(subscribe_messages(&symbols, 0).len(), 3);
        assert!(subscribe_messages(&[], 10).is_empty());
    }

    #[test]
    fn timestamps_are_read_as_numbers_or_strings() {
        let parser = BybitParser::new(BybitContract::Linear);
        for t in ["1700000000000", r#""1700000000000""#] {
            let frame = format!(
                r#"{{"topic":"allLiquidation.BTCUSDT","data":[{{"T":{t},"s":"BTCUSDT","S":"Buy","v":"1","p":"2"}}]}}"#
            );
            assert_eq!(
                parser.parse(&frame).unwrap().events[0].ts_ms,
                1_700_000_000_000
            );
        }
    }

    mod fast_path_matches_serde {
        use proptest::prelude::*;

        use super::super::*;
        use crate::sources::scan::arb::{decimal, edited, field, object, other_value};

        fn frame() -> impl Strategy<Value = String> {
            prop::sample::select(vec!["", " ", "\r\n", "\t "]).prop_flat_map(|ws| {
                let entry = object(
                    vec![
                        (
                            "T",
                            field(prop_oneof![
                                8 => (0..2_000_000_000_000_i64).prop_map(|n| n.to_string()),
                                1 => any::<i64>().prop_map(|n| n.to_string()),
                                1 => (0..2_000_000_000_000_i64).prop_map(|n| format!("\"{n}\"")),
                            ]),
                        ),
                        ("s", field(Just("\"BTCUSDT\"".to_owned()))),
                        (
                            "S",
                            field(
                                prop::sample::select(vec!["\"Buy\"", "\"Sell\"", "\"Hold\""])
                                    .prop_map(str::to_owned),
                            ),
                        ),
                        ("v", field(decimal())),
                        ("p", field(decimal())),
                    ],
                    &["T", "s", "S", "v", "p"],
                    ws,
                );
                let data = prop_oneof![
                    8 => prop::collection::vec(entry, 0..4)
                        .prop_map(move |entries| format!("[{ws}{}{ws}]", entries.join(","))),
                    1 => other_value(),
                ];
                let topic = field(
                    prop::sample::select(vec![
                        "\"allLiquidation.BTCUSDT\"",
                        "\"allLiquidation.BTCUSDT\"",
                        "\"allLiquidation.BTCUSDT\"",
                        "\"tickers.BTCUSDT\"",
                    ])
                    .prop_map(str::to_owned),
                );
                let envelope = object(
                    vec![
                        ("topic", topic),
                        ("type", field(Just("\"snapshot\"".to_owned()))),
                        ("ts", field(Just("1700000000000".to_owned()))),
                        ("data", data.boxed()),
                    ],
                    &["topic", "data", "op", "success", "ret_msg"],
                    ws,
                );
                edited(envelope, ws)
            })
        }

        /// The frames above exercise both paths, and events come out of both.
        #[test]
        fn frames_take_both_paths() {
            use proptest::strategy::ValueTree;
            let parser = BybitParser::new(BybitContract::Linear);
            let mut runner = proptest::test_runner::TestRunner::deterministic();
            let (mut fast, mut events) = (0, 0);
            for _ in 0..2_000 {
                let frame = frame().new_tree(&mut runner).unwrap().current();
                fast += usize::from(topic_entries(&frame).is_some());
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
            assert!(events > 100, "{events} of 2000 with events");
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(4_000))]

            /// Whatever the frame, the parser answers as serde_json alone would, on both
            /// contract kinds.
            #[test]
            fn on_any_frame(frame in frame()) {
                for contract in [BybitContract::Linear, BybitContract::Inverse] {
                    let parser = BybitParser::new(contract);
                    prop_assert_eq!(
                        format!("{:?}", parser.parse(&frame)),
                        format!("{:?}", parser.parse_with_serde(&frame))
                    );
                }
            }
        }
    }

    #[test]
    fn entry_fields_borrow_from_the_frame() {
        let frame = r#"{"topic":"allLiquidation.BTCUSDT","data":[{"T":1,"s":"BTCUSDT","S":"Buy","v":"1","p":"2"}]}"#;
        let parsed: Frame<'_> = serde_json::from_str(frame).unwrap();
        assert!(matches!(parsed.topic, Cow::Borrowed(_)));
        let entry = &parsed.data.unwrap()[0];
        assert!(matches!(entry.s, Cow::Borrowed(_)));
        assert!(matches!(entry.v, Cow::Borrowed(_)));
    }
}
