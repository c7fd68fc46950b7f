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
}
