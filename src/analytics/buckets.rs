//! Per-minute buckets by exchange, symbol and side, built in memory as events arrive and
//! written to the store in batches, so window queries never scan raw events.
//!
//! Buckets are keyed by numbers: each instrument (exchange and symbol) is numbered the first
//! time it is seen, so an event costs two hash lookups and no allocation, and a bucket seen for
//! the first time copies no string.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::model::{Exchange, Liquidation, Side, SmolStr};

/// Which bucket an event falls in, as [`MinuteBuckets::sorted`] lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct BucketKey<'a> {
    /// Minutes (or, for hourly rollups, hours) since the Unix epoch.
    pub slot: i64,
    /// The venue.
    pub exchange: Exchange,
    /// The venue's instrument id.
    pub symbol: &'a str,
    /// The side of the liquidated positions.
    pub side: Side,
    /// The base asset of the symbol.
    pub base: &'a str,
}

/// An instrument seen, numbered by its place in [`MinuteBuckets::instruments`].
#[derive(Debug, Clone)]
struct Instrument {
    exchange: Exchange,
    symbol: SmolStr,
    base: SmolStr,
}

/// A fast hasher for bucket keys (the multiply-rotate of rustc's `FxHasher`). The keys come
/// from venues' instrument lists, so there is no hash flooding to defend against.
#[derive(Debug, Default, Clone, Copy)]
pub struct FxHasher {
    hash: u64,
}

impl FxHasher {
    const SEED: u64 = 0x517c_c1b7_2722_0a95;

    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(Self::SEED);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0_u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0_u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn write_i64(&mut self, i: i64) {
        self.add(i.cast_unsigned());
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

/// Builds [`FxHasher`]s, for maps keyed by names from venues' instrument lists.
pub type FxBuild = BuildHasherDefault<FxHasher>;

/// What a bucket holds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BucketTotals {
    /// USD liquidated.
    pub usd: f64,
    /// Number of liquidation orders.
    pub count: i64,
    /// The largest single liquidation, in USD.
    pub max_usd: f64,
    /// The price of that largest liquidation.
    pub max_price: f64,
    /// When that largest liquidation happened, ms since the Unix epoch.
    pub max_ts_ms: i64,
}

impl BucketTotals {
    fn merge(&mut self, other: &Self) {
        self.usd += other.usd;
        self.count += other.count;
        // The first of equal largest ones stays, as the store's upsert keeps it.
        if other.max_usd > self.max_usd {
            self.max_usd = other.max_usd;
            self.max_price = other.max_price;
            self.max_ts_ms = other.max_ts_ms;
        }
    }
}

/// Buckets accumulated from a stream of events: the in-memory side of the aggregation.
#[derive(Debug, Default, Clone)]
pub struct MinuteBuckets {
    /// Every instrument seen, in the order first seen.
    instruments: Vec<Instrument>,
    /// Each exchange's symbols, to their number in `instruments`.
    numbers: [HashMap<SmolStr, u32, FxBuild>; Exchange::ALL.len()],
    /// (slot, instrument number, side) to the bucket.
    map: HashMap<(i64, u32, Side), BucketTotals, FxBuild>,
}

impl MinuteBuckets {
    /// An empty set of buckets.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one event to its minute bucket.
    pub fn record(&mut self, event: &Liquidation) {
        let one = BucketTotals {
            usd: event.usd,
            count: 1,
            max_usd: event.usd,
            max_price: event.price,
            max_ts_ms: event.ts_ms,
        };
        let instrument = self.instrument(event);
        self.map
            .entry((event.minute(), instrument, event.side))
            .and_modify(|totals| totals.merge(&one))
            .or_insert(one);
    }

    /// The number of `event`'s instrument, numbering it if it is new.
    fn instrument(&mut self, event: &Liquidation) -> u32 {
        let numbers = &mut self.numbers[event.exchange as usize];
        if let Some(&number) = numbers.get(event.symbol.as_str()) {
            return number;
        }
        let number = u32::try_from(self.instruments.len()).expect("fewer than 2^32 instruments");
        numbers.insert(event.symbol.clone(), number);
        self.instruments.push(Instrument {
            exchange: event.exchange,
            symbol: event.symbol.clone(),
            base: event.base.clone(),
        });
        number
    }

    /// Number of distinct buckets.
    #[must_use]
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when no event has been recorded.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The buckets, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (BucketKey<'_>, &BucketTotals)> {
        self.map.iter().map(|(&(slot, number, side), totals)| {
            let instrument = &self.instruments[number as usize];
            let key = BucketKey {
                slot,
                exchange: instrument.exchange,
                symbol: &instrument.symbol,
                side,
                base: &instrument.base,
            };
            (key, totals)
        })
    }

    /// The buckets, in a stable order (by slot, exchange, symbol, side).
    #[must_use]
    pub fn sorted(&self) -> Vec<(BucketKey<'_>, &BucketTotals)> {
        let mut rows: Vec<_> = self.iter().collect();
        rows.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        rows
    }

    /// The same buckets rolled up to hours (slot = hours since the epoch).
    #[must_use]
    pub fn hourly(&self) -> Self {
        let mut map: HashMap<_, BucketTotals, FxBuild> = HashMap::default();
        for (&(slot, number, side), totals) in &self.map {
            map.entry((slot.div_euclid(60), number, side))
                .and_modify(|t| t.merge(totals))
                .or_insert(*totals);
        }
        Self {
            instruments: self.instruments.clone(),
            numbers: self.numbers.clone(),
            map,
        }
    }

    /// Total USD over all buckets.
    #[must_use]
    pub fn total_usd(&self) -> f64 {
        self.map.values().map(|t| t.usd).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(ts_ms: i64, side: Side, usd: f64) -> Liquidation {
        Liquidation {
            exchange: Exchange::Binance,
            symbol: "BTCUSDT".into(),
            base: "BTC".into(),
            quote: "USDT".into(),
            side,
            price: 100.0,
            quantity: usd / 100.0,
            usd,
            ts_ms,
        }
    }

    #[test]
    fn events_in_one_minute_and_side_share_a_bucket() {
        let mut b = MinuteBuckets::new();
        b.record(&event(1_000, Side::Long, 10.0));
        b.record(&event(59_999, Side::Long, 30.0));
        b.record(&event(60_000, Side::Long, 5.0));
        b.record(&event(2_000, Side::Short, 7.0));
        let rows = b.sorted();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].0.slot, 0);
        assert_eq!((rows[0].0.symbol, rows[0].0.base), ("BTCUSDT", "BTC"));
        assert_eq!(
            rows[0].1,
            &BucketTotals {
                usd: 40.0,
                count: 2,
                max_usd: 30.0,
                max_price: 100.0,
                max_ts_ms: 59_999,
            }
        );
        let hours = b.hourly();
        assert_eq!(hours.len(), 2);
        assert_eq!(hours.total_usd(), 52.0);
    }
}
