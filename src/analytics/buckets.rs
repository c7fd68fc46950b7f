//! Per-minute buckets by exchange, symbol and side, built in memory as events arrive and
//! written to the store in batches, so window queries never scan raw events.

use std::collections::HashMap;

use crate::model::{Exchange, Liquidation, Side};

/// Which bucket an event falls in.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BucketKey {
    /// Minutes (or, for hourly rollups, hours) since the Unix epoch.
    pub slot: i64,
    /// The venue.
    pub exchange: Exchange,
    /// The venue's instrument id.
    pub symbol: String,
    /// The side of the liquidated positions.
    pub side: Side,
}

/// What a bucket holds.
#[derive(Debug, Clone, PartialEq)]
pub struct BucketTotals {
    /// The base asset of the symbol.
    pub base: String,
    /// USD liquidated.
    pub usd: f64,
    /// Number of liquidation orders.
    pub count: i64,
    /// The largest single liquidation, in USD.
    pub max_usd: f64,
}

impl BucketTotals {
    fn merge(&mut self, other: &Self) {
        self.usd += other.usd;
        self.count += other.count;
        self.max_usd = self.max_usd.max(other.max_usd);
    }
}

/// Buckets accumulated from a stream of events: the in-memory side of the aggregation.
#[derive(Debug, Default, Clone)]
pub struct MinuteBuckets {
    map: HashMap<BucketKey, BucketTotals>,
}

impl MinuteBuckets {
    /// An empty set of buckets.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one event to its minute bucket.
    pub fn record(&mut self, event: &Liquidation) {
        let key = BucketKey {
            slot: event.minute(),
            exchange: event.exchange,
            symbol: event.symbol.clone(),
            side: event.side,
        };
        let one = BucketTotals {
            base: String::new(),
            usd: event.usd,
            count: 1,
            max_usd: event.usd,
        };
        self.map
            .entry(key)
            .and_modify(|t| t.merge(&one))
            .or_insert_with(|| BucketTotals {
                base: event.base.clone(),
                ..one
            });
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

    /// The buckets, in a stable order (by slot, exchange, symbol, side).
    #[must_use]
    pub fn sorted(&self) -> Vec<(&BucketKey, &BucketTotals)> {
        let mut rows: Vec<_> = self.map.iter().collect();
        rows.sort_by(|a, b| a.0.cmp(b.0));
        rows
    }

    /// The same buckets rolled up to hours (slot = hours since the epoch).
    #[must_use]
    pub fn hourly(&self) -> Self {
        let mut hours = Self::new();
        for (key, totals) in &self.map {
            let hour_key = BucketKey {
                slot: key.slot.div_euclid(60),
                ..key.clone()
            };
            hours
                .map
                .entry(hour_key)
                .and_modify(|t| t.merge(totals))
                .or_insert_with(|| totals.clone());
        }
        hours
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
        assert_eq!(
            rows[0].1,
            &BucketTotals {
                base: "BTC".into(),
                usd: 40.0,
                count: 2,
                max_usd: 30.0
            }
        );
        let hours = b.hourly();
        assert_eq!(hours.len(), 2);
        assert_eq!(hours.total_usd(), 52.0);
    }
}
