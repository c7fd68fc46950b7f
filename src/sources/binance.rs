//! Binance USD-M futures: the all-market liquidation stream `!forceOrder@arr`.
//!
//! The stream lives on the `/market/ws/` path (`wss://fstream.binance.com/market/ws/!forceOrder@arr`);
//! the old `/ws/` path stopped carrying forceOrder on 2026-04-23. Despite the `@arr` name each
//! frame is usually one event object; arrays of events and the combined-stream wrapper
//! `{"stream":..,"data":..}` are accepted too.
//!
//! **Binance totals are a lower bound.** Binance pushes at most one liquidation per symbol per
//! second: a snapshot of the latest forced order within each 1000 ms window. Every other
//! liquidation of that symbol in the same second is never sent, so sums built from this stream
//! undercount busy moments, and posts should say so.
//!
//! Sides: `o.S` is the side of the forced *order*. `SELL` closes a long, so it is a
//! [`Side::Long`] liquidation; `BUY` closes a short.
//!
//! Entries in a frame that carry an unusable value (a price that is not a number, an unknown
//! side) are counted in [`Parsed::rejected`]; when no entry of the frame is usable, the frame is
//! an error instead.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::scan::Scanner;
use super::{EntryCollector as Collector, FrameError, Parsed, parse_decimal};
use smol_str::StrExt;

use crate::model::{Exchange, Liquidation, Side, SmolStr, split_symbol};

/// The websocket path of the all-market liquidation stream, relative to the stream host.
pub const STREAM_PATH: &str = "/market/ws/!forceOrder@arr";

/// Parses Binance USD-M `forceOrder` frames into liquidations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BinanceParser;

impl BinanceParser {
    /// Parses one text frame: a `forceOrder` event object, an array of them, or the
    /// combined-stream wrapper. Other event types and subscription replies are control frames;
    /// an error reply is [`FrameError::Venue`].
    pub fn parse(&self, text: &str) -> Result<Parsed, FrameError> {
        let mut collector = Collector::default();
        if let Some(order) = force_order(text) {
            collector.push(order.to_liquidation());
            return collector.finish();
        }
        Self::parse_with_serde(text)
    }

    /// [`Self::parse`] without the fast path: what every frame the fast path declines gets.
    fn parse_with_serde(text: &str) -> Result<Parsed, FrameError> {
        let frame: OneOrMany<Envelope<'_>> = serde_json::from_str(text)?;
        let mut collector = Collector::default();
        match frame {
            OneOrMany::One(envelope) => envelope.collect_into(&mut collector)?,
            OneOrMany::Many(envelopes) => {
                for envelope in envelopes {
                    envelope.collect_into(&mut collector)?;
                }
            }
        }
        collector.finish()
    }
}

/// Encodes one liquidation as the object frame Binance sends (`q = z = quantity`,
/// `p = ap = price`, `X` FILLED, `T = E = ts`). Used by the market simulator and tests.
#[must_use]
pub fn encode(event: &Liquidation) -> String {
    let order_side = match event.side {
        Side::Long => "SELL",
        Side::Short => "BUY",
    };
    let quantity = event.quantity.to_string();
    let price = event.price.to_string();
    serde_json::json!({
        "e": "forceOrder",
        "E": event.ts_ms,
        "o": {
            "s": event.symbol,
            "S": order_side,
            "o": "LIMIT",
            "f": "IOC",
            "q": quantity,
            "p": price,
            "ap": price,
            "X": "FILLED",
            "l": quantity,
            "z": quantity,
            "T": event.ts_ms,
        }
    })
    .to_string()
}

/// One JSON object of the stream: an event, a combined-stream wrapper, or a reply to a
/// request (`{"result":null,"id":1}`, or an error).
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(default, borrow)]
    e: Cow<'a, str>,
    #[serde(default, borrow)]
    o: Option<Order<'a>>,
    #[serde(default, borrow)]
    data: Option<OneOrMany<Event<'a>>>,
    #[serde(default)]
    id: Option<IgnoredAny>,
    #[serde(default)]
    error: Option<ErrorReply>,
    #[serde(default)]
    msg: Option<String>,
}

/// The event inside a combined-stream wrapper.
#[derive(Deserialize)]
struct Event<'a> {
    #[serde(default, borrow)]
    e: Cow<'a, str>,
    #[serde(default, borrow)]
    o: Option<Order<'a>>,
}

/// The `o` object of a `forceOrder` event; fields not read here are ignored.
#[derive(Deserialize)]
struct Order<'a> {
    #[serde(borrow)]
    s: Cow<'a, str>,
    #[serde(rename = "S", borrow)]
    side: Cow<'a, str>,
    #[serde(borrow)]
    q: Cow<'a, str>,
    #[serde(borrow)]
    p: Cow<'a, str>,
    #[serde(borrow)]
    ap: Cow<'a, str>,
    #[serde(borrow)]
    z: Cow<'a, str>,
    #[serde(rename = "T")]
    trade_time: i64,
}

/// `{"error":{"code":2,"msg":"Invalid request: ..."},"id":1}`.
#[derive(Deserialize)]
struct ErrorReply {
    #[serde(default)]
    code: Option<serde_json::Value>,
    #[serde(default)]
    msg: String,
}

impl Envelope<'_> {
    fn collect_into(self, collector: &mut Collector) -> Result<(), FrameError> {
        if let Some(error) = self.error {
            let code = match error.code {
                Some(serde_json::Value::String(code)) => code,
                Some(code) => code.to_string(),
                None => String::new(),
            };
            return Err(FrameError::Venue(format!("{code}: {}", error.msg)));
        }
        if let Some(data) = self.data {
            match data {
                OneOrMany::One(event) => collect_force_order(collector, &event.e, event.o)?,
                OneOrMany::Many(events) => {
                    for event in events {
                        collect_force_order(collector, &event.e, event.o)?;
                    }
                }
            }
            return Ok(());
        }
        if self.e.is_empty() {
            // A request reply: `{"result":null,"id":1}` acknowledges, `{"code":..,"msg":..}`
            // refuses.
            return match (self.msg, self.id) {
                (Some(msg), _) => Err(FrameError::Venue(msg)),
                (None, Some(_)) => Ok(()),
                (None, None) => Err(FrameError::Invalid(
                    "neither an event nor a reply to a request".into(),
                )),
            };
        }
        collect_force_order(collector, &self.e, self.o)
    }
}

/// The fast path: the order of a frame that is one `forceOrder` event object, as Binance sends
/// almost every frame, read with [`Scanner`] in one pass. `None` for anything else (another
/// shape, an escape, a repeated field, a number with a fraction among the fields), which then
/// goes to serde_json; for a frame it does read, the order is the one serde_json would give.
fn force_order(text: &str) -> Option<Order<'_>> {
    let mut s = Scanner::new(text);
    s.eat(b'{')?;
    let (mut event_type, mut order) = (None, None);
    let mut first = true;
    while let Some(key) = s.next_key(first)? {
        first = false;
        match key {
            "e" => {
                if event_type.replace(s.string()?).is_some() {
                    return None;
                }
            }
            "o" => {
                if order.replace(scan_order(&mut s)?).is_some() {
                    return None;
                }
            }
            // The other fields [`Envelope`] reads: a reply or a wrapper, for serde_json.
            "data" | "id" | "error" | "msg" => return None,
            _ => s.skip_scalar()?,
        }
    }
    s.end()?;
    (event_type? == "forceOrder").then_some(())?;
    order
}

/// The `o` object of [`force_order`]: every field [`Order`] reads, once each.
fn scan_order<'a>(s: &mut Scanner<'a>) -> Option<Order<'a>> {
    s.eat(b'{')?;
    // s, S, q, p, ap, z
    let mut fields: [Option<&'a str>; 6] = [None; 6];
    let mut trade_time = None;
    let mut first = true;
    while let Some(key) = s.next_key(first)? {
        first = false;
        let slot = match key {
            "s" => 0,
            "S" => 1,
            "q" => 2,
            "p" => 3,
            "ap" => 4,
            "z" => 5,
            "T" => {
                if trade_time.replace(s.integer()?).is_some() {
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
    let [
        Some(symbol),
        Some(side),
        Some(q),
        Some(p),
        Some(ap),
        Some(z),
    ] = fields
    else {
        return None;
    };
    Some(Order {
        s: Cow::Borrowed(symbol),
        side: Cow::Borrowed(side),
        q: Cow::Borrowed(q),
        p: Cow::Borrowed(p),
        ap: Cow::Borrowed(ap),
        z: Cow::Borrowed(z),
        trade_time: trade_time?,
    })
}

/// Adds a `forceOrder` event to `collector`; other event types carry no liquidation.
fn collect_force_order(
    collector: &mut Collector,
    event_type: &str,
    order: Option<Order<'_>>,
) -> Result<(), FrameError> {
    if event_type != "forceOrder" {
        return Ok(());
    }
    let order = order.ok_or_else(|| FrameError::Invalid("forceOrder event without `o`".into()))?;
    collector.push(order.to_liquidation());
    Ok(())
}

impl Order<'_> {
    fn to_liquidation(&self) -> Result<Liquidation, FrameError> {
        let side = match &*self.side {
            "SELL" => Side::Long,
            "BUY" => Side::Short,
            other => return Err(FrameError::Invalid(format!("unknown side {other:?}"))),
        };
        // `z` and `ap` describe what was filled; an order not (yet) filled carries zeros there,
        // and its original quantity and limit price are the best we have.
        let filled = parse_decimal("o.z", &self.z)?;
        let quantity = if filled > 0.0 {
            filled
        } else {
            parse_decimal("o.q", &self.q)?
        };
        let average = parse_decimal("o.ap", &self.ap)?;
        let price = if average > 0.0 {
            average
        } else {
            parse_decimal("o.p", &self.p)?
        };
        if quantity <= 0.0 || price <= 0.0 {
            return Err(FrameError::Invalid(format!(
                "{}: zero quantity or price",
                self.s
            )));
        }
        let (base, quote) = split_symbol(&self.s);
        Ok(Liquidation {
            exchange: Exchange::Binance,
            symbol: SmolStr::new(&*self.s),
            base: base.to_ascii_uppercase_smolstr(),
            quote: SmolStr::new_static(quote),
            side,
            price,
            quantity,
            usd: price * quantity,
            ts_ms: self.trade_time,
        })
    }
}

/// A JSON value that is either one `T` or an array of them, read without buffering.
enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<'de, T> Deserialize<'de> for OneOrMany<T>
where
    T: Deserialize<'de>,
{
    fn deserialize<D>(deserializer: D) -> Result<Self, D::Error>
    where
        D: Deserializer<'de>,
    {
        struct OneOrManyVisitor<T>(PhantomData<T>);

        impl<'de, T> Visitor<'de> for OneOrManyVisitor<T>
        where
            T: Deserialize<'de>,
        {
            type Value = OneOrMany<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an event object or an array of event objects")
            }

            fn visit_map<A>(self, map: A) -> Result<Self::Value, A::Error>
            where
                A: MapAccess<'de>,
            {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(OneOrMany::One)
            }

            fn visit_seq<A>(self, mut seq: A) -> Result<Self::Value, A::Error>
            where
                A: SeqAccess<'de>,
            {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(1));
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(OneOrMany::Many(items))
            }
        }

        deserializer.deserialize_any(OneOrManyVisitor(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(side: Side) -> Liquidation {
        Liquidation {
            exchange: Exchange::Binance,
            symbol: "ETHUSDT".into(),
            base: "ETH".into(),
            quote: "USDT".into(),
            side,
            price: 2500.5,
            quantity: 1.25,
            usd: 2500.5 * 1.25,
            ts_ms: 1_700_000_000_123,
        }
    }

    #[test]
    fn encoded_frames_parse_back_to_the_same_event_for_both_sides() {
        for side in [Side::Long, Side::Short] {
            let parsed = BinanceParser.parse(&encode(&event(side))).unwrap();
            assert_eq!(parsed.events, vec![event(side)]);
            assert_eq!(parsed.rejected, 0);
        }
    }

    #[test]
    fn order_fields_borrow_from_the_frame() {
        let frame = encode(&event(Side::Long));
        let envelope: Envelope<'_> = serde_json::from_str(&frame).unwrap();
        let order = envelope.o.unwrap();
        assert!(matches!(order.s, Cow::Borrowed(_)));
        assert!(matches!(order.ap, Cow::Borrowed(_)));
    }

    #[test]
    fn unfilled_order_falls_back_to_original_quantity_and_limit_price() {
        let frame = r#"{"e":"forceOrder","E":1,"o":{"s":"BTCUSDT","S":"BUY","q":"2","p":"100","ap":"0","z":"0","T":7}}"#;
        let parsed = BinanceParser.parse(frame).unwrap();
        assert_eq!(parsed.events[0].quantity, 2.0);
        assert_eq!(parsed.events[0].price, 100.0);
        assert_eq!(parsed.events[0].usd, 200.0);
    }

    /// Fixture and simulator frames take the fast path (or it would never run).
    #[test]
    fn frames_as_binance_sends_them_take_the_fast_path() {
        let fixture =
            std::fs::read_to_string("tests/fixtures/binance/long_liquidated.json").unwrap();
        for frame in [
            fixture,
            encode(&event(Side::Long)),
            encode(&event(Side::Short)),
        ] {
            assert!(force_order(&frame).is_some(), "{frame}");
            assert_eq!(
                format!("{:?}", BinanceParser.parse(&frame)),
                format!("{:?}", BinanceParser::parse_with_serde(&frame))
            );
        }
    }

    /// Two frames the property test below found the first fast path reading differently
    /// from serde_json: `-0` (a float to serde_json) and a 19-digit integer (it overflowed).
    #[test]
    fn found_by_the_property_test() {
        for frame in [
            r#"{"e":"forceOrder","o":{"s":"BTCUSDT","S":"SELL","q":"1","p":"2","ap":"2","z":"1","T":-0}}"#,
            r#"{"e":"forceOrder","o":{"s":"BTCUSDT","S":"SELL","q":"1","p":"2","ap":"2","z":"1","T":1,"x":12882152672326076068}}"#,
        ] {
            assert!(force_order(frame).is_none(), "{frame}");
            assert_eq!(
                format!("{:?}", BinanceParser.parse(frame)),
                format!("{:?}", BinanceParser::parse_with_serde(frame))
            );
        }
    }

    mod fast_path_matches_serde {
        use proptest::prelude::*;

        use super::super::*;
        use crate::sources::scan::arb::{decimal, edited, field, object, other_value};

        fn frame() -> impl Strategy<Value = String> {
            prop::sample::select(vec!["", " ", "\r\n", "\t "]).prop_flat_map(|ws| {
                let order = object(
                    vec![
                        ("s", field(Just("\"BTCUSDT\"".to_owned()))),
                        (
                            "S",
                            field(
                                prop::sample::select(vec!["\"SELL\"", "\"BUY\"", "\"HOLD\""])
                                    .prop_map(str::to_owned),
                            ),
                        ),
                        ("q", field(decimal())),
                        ("p", field(decimal())),
                        ("ap", field(decimal())),
                        ("z", field(decimal())),
                        (
                            "T",
                            field(
                                prop_oneof![8 => 0..2_000_000_000_000_i64, 1 => any::<i64>()]
                                    .prop_map(|n| n.to_string()),
                            ),
                        ),
                        ("X", field(Just("\"FILLED\"".to_owned()))),
                    ],
                    &["s", "S", "q", "p", "ap", "z", "T"],
                    ws,
                );
                let event_type = field(
                    prop::sample::select(
                        vec!["\"forceOrder\""; 6]
                            .into_iter()
                            .chain(["\"aggTrade\""])
                            .collect::<Vec<_>>(),
                    )
                    .prop_map(str::to_owned),
                );
                let envelope = object(
                    vec![
                        ("e", event_type),
                        ("E", field(Just("1650898329201".to_owned()))),
                        (
                            "o",
                            prop_oneof![8 => order.boxed(), 1 => other_value().boxed()].boxed(),
                        ),
                    ],
                    &["e", "o", "data", "id", "error", "msg"],
                    ws,
                );
                edited(envelope, ws)
            })
        }

        /// The frames above exercise both paths, and events come out of both.
        #[test]
        fn frames_take_both_paths() {
            use proptest::strategy::ValueTree;
            let mut runner = proptest::test_runner::TestRunner::deterministic();
            let (mut fast, mut events) = (0, 0);
            for _ in 0..2_000 {
                let frame = frame().new_tree(&mut runner).unwrap().current();
                fast += usize::from(force_order(&frame).is_some());
                events += usize::from(
                    BinanceParser::parse_with_serde(&frame).is_ok_and(|p| !p.events.is_empty()),
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

            /// Whatever the frame, the parser answers as serde_json alone would.
            #[test]
            fn on_any_frame(frame in frame()) {
                prop_assert_eq!(
                    format!("{:?}", BinanceParser.parse(&frame)),
                    format!("{:?}", BinanceParser::parse_with_serde(&frame))
                );
            }
        }
    }
}
