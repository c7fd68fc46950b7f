//! Market context for a coin: last price and its 24h change, open interest across venues and
//! its 24h change, and the combined open-interest series the level model reads. Pure
//! functions of stored candles and open-interest points.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::{Candle, Exchange, OpenInterest};

/// How old a venue's latest open-interest point may be and still count as current.
const OI_FRESH_MS: i64 = 30 * 60_000;
const DAY_MS: i64 = 86_400_000;

/// Price and open interest of one coin.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CoinContext {
    /// The coin.
    pub base: String,
    /// Last close.
    pub price: f64,
    /// Change of the price over 24h, when candles reach back that far.
    pub price_change_24h_pct: Option<f64>,
    /// Open interest summed over the venues with a current reading.
    pub oi_usd: Option<f64>,
    /// Change of open interest over 24h, over the venues that have both readings.
    pub oi_change_24h_pct: Option<f64>,
    /// The venues counted in `oi_usd`.
    pub oi_venues: Vec<Exchange>,
}

/// The latest point of each venue at or before `at_ms` (and not older than `max_age_ms`).
fn latest_per_venue(
    points: &[OpenInterest],
    at_ms: i64,
    max_age_ms: i64,
) -> BTreeMap<Exchange, f64> {
    let mut latest: BTreeMap<Exchange, (i64, f64)> = BTreeMap::new();
    for p in points
        .iter()
        .filter(|p| p.ts_ms <= at_ms && p.ts_ms >= at_ms - max_age_ms)
    {
        let entry = latest.entry(p.exchange).or_insert((p.ts_ms, p.usd));
        if p.ts_ms >= entry.0 {
            *entry = (p.ts_ms, p.usd);
        }
    }
    latest.into_iter().map(|(e, (_, usd))| (e, usd)).collect()
}

/// The context of a coin at `now_ms`, from its candles (oldest first) and open interest.
#[must_use]
pub fn coin_context(
    base: &str,
    candles: &[Candle],
    open_interest: &[OpenInterest],
    now_ms: i64,
) -> Option<CoinContext> {
    let last = candles.iter().rev().find(|c| c.open_ms <= now_ms)?;
    let day_ago = now_ms - DAY_MS;
    // The candle a day before the last one, allowing for a few missing minutes.
    let target = last.open_ms - DAY_MS;
    let then = candles
        .iter()
        .rev()
        .find(|c| c.open_ms <= target && c.open_ms > target - 10 * 60_000);
    let price_change_24h_pct = then
        .filter(|c| c.close > 0.0)
        .map(|c| (last.close - c.close) / c.close * 100.0);
    let now_oi = latest_per_venue(open_interest, now_ms, OI_FRESH_MS);
    let then_oi = latest_per_venue(open_interest, day_ago, OI_FRESH_MS);
    let oi_usd = (!now_oi.is_empty()).then(|| now_oi.values().sum());
    let both: Vec<Exchange> = now_oi
        .keys()
        .filter(|e| then_oi.contains_key(e))
        .copied()
        .collect();
    let then_total: f64 = both.iter().map(|e| then_oi[e]).sum();
    let now_total: f64 = both.iter().map(|e| now_oi[e]).sum();
    let oi_change_24h_pct =
        (then_total > 0.0).then(|| (now_total - then_total) / then_total * 100.0);
    Some(CoinContext {
        base: base.to_owned(),
        price: last.close,
        price_change_24h_pct,
        oi_usd,
        oi_change_24h_pct,
        oi_venues: now_oi.keys().copied().collect(),
    })
}

/// One open-interest series across venues, `(ts_ms, usd)`, for the level model.
///
/// The model reads changes, so the series is built from changes: it starts at the sum of the
/// venues reporting at the first timestamp and moves by the sum of each venue's change since
/// that venue's previous point. A venue whose history starts later adds its changes from then
/// on, not its whole open interest at once (which would look like a burst of new positions).
#[must_use]
pub fn combined_open_interest(points: &[OpenInterest]) -> Vec<(i64, f64)> {
    let mut by_ts: BTreeMap<i64, Vec<&OpenInterest>> = BTreeMap::new();
    for p in points {
        by_ts.entry(p.ts_ms).or_default().push(p);
    }
    let mut last: BTreeMap<Exchange, f64> = BTreeMap::new();
    let mut level = 0.0;
    let mut out = Vec::with_capacity(by_ts.len());
    for (i, (ts, group)) in by_ts.into_iter().enumerate() {
        for p in group {
            match last.insert(p.exchange, p.usd) {
                Some(prev) => level += p.usd - prev,
                None if i == 0 => level += p.usd,
                None => {}
            }
        }
        out.push((ts, level.max(0.0)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oi(exchange: Exchange, ts_ms: i64, usd: f64) -> OpenInterest {
        OpenInterest {
            exchange,
            base: "BTC".into(),
            ts_ms,
            usd,
        }
    }

    fn candle(open_ms: i64, close: f64) -> Candle {
        Candle {
            exchange: Exchange::Binance,
            base: "BTC".into(),
            open_ms,
            interval_secs: 60,
            open: close,
            high: close,
            low: close,
            close,
        }
    }

    #[test]
    fn a_venue_joining_later_adds_its_changes_not_its_size() {
        let points = [
            oi(Exchange::Binance, 0, 100.0),
            oi(Exchange::Binance, 300, 110.0),
            oi(Exchange::Bybit, 300, 500.0),
            oi(Exchange::Binance, 600, 105.0),
            oi(Exchange::Bybit, 600, 520.0),
        ];
        assert_eq!(
            combined_open_interest(&points),
            vec![(0, 100.0), (300, 110.0), (600, 125.0)]
        );
    }

    #[test]
    fn context_sums_current_venues_and_compares_like_with_like() {
        let now = 2 * DAY_MS;
        let candles = [
            candle(DAY_MS - 60_000, 100.0),
            candle(DAY_MS, 101.0),
            candle(now - 60_000, 110.0),
        ];
        let points = [
            oi(Exchange::Binance, DAY_MS - 60_000, 1_000.0),
            oi(Exchange::Binance, now - 300_000, 900.0),
            // OKX has no reading a day ago: counted now, left out of the change.
            oi(Exchange::Okx, now - 300_000, 500.0),
        ];
        let got = coin_context("BTC", &candles, &points, now).unwrap();
        assert_eq!(got.price, 110.0);
        assert_eq!(got.price_change_24h_pct, Some(10.0));
        assert_eq!(got.oi_usd, Some(1_400.0));
        assert_eq!(got.oi_change_24h_pct, Some(-10.0));
        assert_eq!(got.oi_venues, vec![Exchange::Binance, Exchange::Okx]);
    }
}
