//! Window summaries: totals, long/short split, per exchange, top coins, the largest single
//! liquidation, the change against the previous window, and how much of the window the bot
//! has actually seen. A pure function of what the store returns.

use std::collections::BTreeMap;

use serde::Serialize;

use super::window::{MinuteRange, Window};
use crate::model::{Exchange, Side};

/// One row of a window query: totals for one exchange, coin and side.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WindowRow {
    /// The venue.
    pub exchange: Exchange,
    /// The base asset.
    pub base: String,
    /// The liquidated side.
    pub side: Side,
    /// USD liquidated.
    pub usd: f64,
    /// Number of liquidation orders.
    pub count: i64,
}

/// The largest single liquidation in a window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Largest {
    /// The venue.
    pub exchange: Exchange,
    /// The venue's instrument id.
    pub symbol: String,
    /// The base asset.
    pub base: String,
    /// The liquidated side.
    pub side: Side,
    /// Its size in USD.
    pub usd: f64,
    /// Its price; `None` when the raw event is past the retention period.
    pub price: Option<f64>,
    /// Its exchange time in ms; `None` when the raw event is past the retention period.
    pub ts_ms: Option<i64>,
}

/// Totals for one coin or one exchange.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CoinTotals {
    /// The coin (base asset) or exchange name.
    pub name: String,
    /// USD liquidated, both sides.
    pub usd: f64,
    /// USD of long positions liquidated.
    pub long_usd: f64,
    /// USD of short positions liquidated.
    pub short_usd: f64,
    /// Number of liquidation orders.
    pub count: i64,
}

impl CoinTotals {
    fn add(&mut self, row: &WindowRow) {
        self.usd += row.usd;
        self.count += row.count;
        match row.side {
            Side::Long => self.long_usd += row.usd,
            Side::Short => self.short_usd += row.usd,
        }
    }

    /// Share of longs in the USD total, 0 to 1; 0 when the total is 0.
    #[must_use]
    pub fn long_share(&self) -> f64 {
        if self.usd > 0.0 {
            self.long_usd / self.usd
        } else {
            0.0
        }
    }
}

/// Everything [`summarize`] needs, as the store returns it.
#[derive(Debug, Clone)]
pub struct SummaryInput {
    /// The window asked for.
    pub window: Window,
    /// One coin, or all coins when `None`.
    pub coin: Option<String>,
    /// The minutes the window covers.
    pub range: MinuteRange,
    /// Rows for `range`.
    pub current: Vec<WindowRow>,
    /// USD liquidated in `range.previous()`.
    pub previous_usd: f64,
    /// The largest single liquidation in `range`.
    pub largest: Option<Largest>,
    /// The first minute (in ms) the store holds data for; `None` for an empty store.
    pub collected_since_ms: Option<i64>,
    /// How many coins to list.
    pub top_n: usize,
}

/// A window summary, ready for rendering.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// The window label (`24h`).
    pub window: &'static str,
    /// The coin, or `None` for all coins.
    pub coin: Option<String>,
    /// Start of the window, ms since the epoch.
    pub start_ms: i64,
    /// End of the window (exclusive), ms since the epoch.
    pub end_ms: i64,
    /// Both sides together.
    pub total: CoinTotals,
    /// Per exchange, largest first.
    pub by_exchange: Vec<CoinTotals>,
    /// The largest coins by USD, at most `top_n`.
    pub top_coins: Vec<CoinTotals>,
    /// How many coins had liquidations in the window.
    pub coin_count: usize,
    /// The largest single liquidation.
    pub largest: Option<Largest>,
    /// The previous window's total, when the bot saw all of it.
    pub previous_usd: Option<f64>,
    /// Change of the total against the previous window, in percent, when it is known and the
    /// previous total is not zero.
    pub change_pct: Option<f64>,
    /// What part of the window the data covers.
    pub coverage: Coverage,
}

/// How much of a window the stored data covers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Coverage {
    /// The first moment (ms) the store has data for, if any.
    pub collected_since_ms: Option<i64>,
    /// True when data collection started before the window did.
    pub complete: bool,
    /// Minutes of the window the bot has data for.
    pub covered_minutes: i64,
    /// True when any figure includes Binance, whose feed is throttled to one liquidation per
    /// symbol per second, so its totals are a lower bound.
    pub binance_lower_bound: bool,
}

/// Computes a window summary.
#[must_use]
pub fn summarize(input: SummaryInput) -> Summary {
    let range = input.range;
    let mut total = CoinTotals {
        name: "total".into(),
        ..CoinTotals::default()
    };
    let mut exchanges: BTreeMap<Exchange, CoinTotals> = BTreeMap::new();
    let mut coins: BTreeMap<&str, CoinTotals> = BTreeMap::new();
    for row in &input.current {
        total.add(row);
        exchanges
            .entry(row.exchange)
            .or_insert_with(|| CoinTotals {
                name: row.exchange.display_name().into(),
                ..CoinTotals::default()
            })
            .add(row);
        coins
            .entry(&row.base)
            .or_insert_with(|| CoinTotals {
                name: row.base.clone(),
                ..CoinTotals::default()
            })
            .add(row);
    }
    let by_exchange = sorted_by_usd(exchanges.into_values().collect());
    let coin_count = coins.len();
    let mut top_coins = sorted_by_usd(coins.into_values().collect());
    top_coins.truncate(input.top_n);

    let since = input.collected_since_ms;
    let covered_start = since.map_or(range.end_ms(), |s| s.max(range.start_ms()));
    let covered_minutes = ((range.end_ms() - covered_start).max(0)) / 60_000;
    let previous_complete = since.is_some_and(|s| s <= range.previous().start_ms());
    let previous_usd = previous_complete.then_some(input.previous_usd);
    let change_pct = previous_usd
        .filter(|p| *p > 0.0)
        .map(|p| (total.usd - p) / p * 100.0);

    Summary {
        window: input.window.label(),
        coin: input.coin,
        start_ms: range.start_ms(),
        end_ms: range.end_ms(),
        by_exchange,
        top_coins,
        coin_count,
        largest: input.largest,
        previous_usd,
        change_pct,
        coverage: Coverage {
            collected_since_ms: since,
            complete: since.is_some_and(|s| s <= range.start_ms()),
            covered_minutes,
            binance_lower_bound: input
                .current
                .iter()
                .any(|r| r.exchange == Exchange::Binance),
        },
        total,
    }
}

fn sorted_by_usd(mut rows: Vec<CoinTotals>) -> Vec<CoinTotals> {
    rows.sort_by(|a, b| b.usd.total_cmp(&a.usd).then_with(|| a.name.cmp(&b.name)));
    rows
}
