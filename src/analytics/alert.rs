//! What an alert says: one large liquidation, or a cascade of them in a short time. Deciding
//! when to fire is the scheduler's job; these are the facts a fired alert carries.

use serde::Serialize;

use crate::model::Liquidation;

/// A fired alert.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Alert {
    /// One liquidation at or above a threshold.
    Large {
        /// The liquidation.
        event: Liquidation,
        /// The threshold it crossed, USD.
        threshold_usd: f64,
    },
    /// Many liquidations within a short window.
    Cascade(Cascade),
    /// The price moved through one of the largest estimated liquidation clusters.
    LevelCross(LevelCross),
}

/// The price crossing an estimated liquidation cluster.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LevelCross {
    /// The coin.
    pub coin: String,
    /// `Short` for a cluster above the price crossed upward (short positions liquidated),
    /// `Long` for one below crossed downward.
    pub side: crate::model::Side,
    /// The cluster's price.
    pub level_price: f64,
    /// The USD the model estimated at the cluster.
    pub usd: f64,
    /// The price at the previous check.
    pub from_price: f64,
    /// The price now.
    pub price: f64,
    /// When it was seen, ms.
    pub ts_ms: i64,
}

/// The clusters the price went through between two checks: a cluster above crossed when the
/// price rose to or past it, one below when it fell to or past it.
#[must_use]
pub fn level_crosses(
    coin: &str,
    clusters: &[crate::analytics::Cluster],
    from_price: f64,
    price: f64,
    ts_ms: i64,
) -> Vec<LevelCross> {
    clusters
        .iter()
        .filter(|c| {
            (from_price < c.price && c.price <= price) || (from_price > c.price && c.price >= price)
        })
        .map(|c| LevelCross {
            coin: coin.to_owned(),
            side: c.side,
            level_price: c.price,
            usd: c.usd,
            from_price,
            price,
            ts_ms,
        })
        .collect()
}

/// Liquidations adding up to at least a threshold within a few minutes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cascade {
    /// One coin, or `None` for all coins.
    pub coin: Option<String>,
    /// Start of the window, ms.
    pub start_ms: i64,
    /// End of the window, ms.
    pub end_ms: i64,
    /// USD liquidated in the window.
    pub usd: f64,
    /// USD of longs liquidated.
    pub long_usd: f64,
    /// USD of shorts liquidated.
    pub short_usd: f64,
    /// Number of liquidation orders.
    pub count: i64,
    /// The threshold it crossed, USD.
    pub threshold_usd: f64,
}

impl Cascade {
    /// The window's length in whole minutes.
    #[must_use]
    pub fn minutes(&self) -> i64 {
        ((self.end_ms - self.start_ms) / 60_000).max(1)
    }
}

/// The heaviest run of liquidations within any `window_ms` span of `events` (sorted by time),
/// as a cascade, when it reaches `threshold_usd`.
#[must_use]
pub fn heaviest_cascade(
    events: &[Liquidation],
    coin: Option<&str>,
    window_ms: i64,
    threshold_usd: f64,
) -> Option<Cascade> {
    let events: Vec<&Liquidation> = events
        .iter()
        .filter(|e| coin.is_none_or(|c| c == e.base))
        .collect();
    let (mut best_usd, mut best) = (0.0, None);
    let (mut start, mut usd) = (0, 0.0);
    for end in 0..events.len() {
        usd += events[end].usd;
        while events[end].ts_ms - events[start].ts_ms >= window_ms {
            usd -= events[start].usd;
            start += 1;
        }
        if usd > best_usd {
            best_usd = usd;
            best = Some((start, end));
        }
    }
    let (start, end) = best?;
    if best_usd < threshold_usd {
        return None;
    }
    let run = &events[start..=end];
    let long_usd = run
        .iter()
        .filter(|e| e.side == crate::model::Side::Long)
        .map(|e| e.usd)
        .sum();
    Some(Cascade {
        coin: coin.map(str::to_owned),
        start_ms: run[0].ts_ms,
        end_ms: run[0].ts_ms + window_ms,
        usd: run.iter().map(|e| e.usd).sum(),
        long_usd,
        short_usd: run.iter().map(|e| e.usd).sum::<f64>() - long_usd,
        count: i64::try_from(run.len()).unwrap_or(i64::MAX),
        threshold_usd,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Exchange, Side};

    fn liq(ts_ms: i64, usd: f64, side: Side) -> Liquidation {
        Liquidation {
            exchange: Exchange::Okx,
            symbol: "BTC-USDT-SWAP".into(),
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
    fn the_heaviest_fifteen_minutes_is_found_and_split_by_side() {
        let min = 60_000;
        let events = [
            liq(0, 10.0, Side::Long),
            liq(20 * min, 30.0, Side::Long),
            liq(25 * min, 20.0, Side::Short),
            liq(34 * min, 5.0, Side::Long),
            liq(36 * min, 50.0, Side::Long),
        ];
        let c = heaviest_cascade(&events, None, 15 * min, 50.0).unwrap();
        assert_eq!(
            (c.start_ms, c.usd, c.long_usd, c.short_usd, c.count),
            (25 * min, 75.0, 55.0, 20.0, 3)
        );
        assert_eq!(c.minutes(), 15);
        assert_eq!(heaviest_cascade(&events, None, 15 * min, 1_000.0), None);
        assert_eq!(heaviest_cascade(&events, Some("ETH"), 15 * min, 1.0), None);
    }
}
