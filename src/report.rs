//! Reports: the store queried and the analytics run for one request, as the scheduler and the
//! chat commands will ask for them. Market context for a coin lives here; window summaries
//! are [`crate::store::window_summary`].

use crate::analytics::context::{CoinContext, coin_context, combined_open_interest};
use crate::analytics::levels::{
    Cluster, LevelEstimate, LevelParams, LeverageTier, clusters, estimate_levels,
};
use crate::config::MarketConfig;
use crate::market::fear_greed::{FearGreedReading, reading};
use crate::pollers::RunningPollers;
use crate::store::{MarketStore, SqlStore, StoreError};

/// Market context and estimated liquidation levels for one coin.
#[derive(Debug, Clone)]
pub struct MarketReport {
    /// The coin.
    pub coin: String,
    /// Price and open interest, when candles are stored.
    pub context: Option<CoinContext>,
    /// Today's, yesterday's and last week's Fear & Greed, when stored.
    pub fear_greed: Option<FearGreedReading>,
    /// The largest estimated clusters of short liquidations above the price.
    pub above: Vec<Cluster>,
    /// The largest estimated clusters of long liquidations below the price.
    pub below: Vec<Cluster>,
    /// Hours of candles the level estimate rests on.
    pub levels_hours: f64,
    /// Pollers whose data is stale (failing for longer than their interval).
    pub stale: Vec<String>,
}

/// The level model's parameters from config.
#[must_use]
pub fn level_params(market: &MarketConfig) -> LevelParams {
    LevelParams {
        leverage: market
            .levels
            .leverage
            .iter()
            .zip(&market.levels.weights)
            .map(|(&leverage, &weight)| LeverageTier { leverage, weight })
            .collect(),
        mmr: market.levels.mmr,
        ..LevelParams::default()
    }
}

/// Builds the market report of `coin` at `now_ms` from stored candles, open interest and
/// Fear & Greed readings.
pub async fn market_report(
    store: &SqlStore,
    market: &MarketConfig,
    coin: &str,
    now_ms: i64,
    pollers: Option<&RunningPollers>,
) -> Result<MarketReport, StoreError> {
    Ok(
        market_report_with_levels(store, market, coin, now_ms, pollers)
            .await?
            .0,
    )
}

/// [`market_report`] together with the whole level estimate (map and grid over time) the
/// level images are drawn from.
pub async fn market_report_with_levels(
    store: &SqlStore,
    market: &MarketConfig,
    coin: &str,
    now_ms: i64,
    pollers: Option<&RunningPollers>,
) -> Result<(MarketReport, LevelEstimate), StoreError> {
    let from = now_ms - i64::try_from(market.history_hours).unwrap_or(168) * 3_600_000;
    let candles = store
        .candles(market.candles_from, coin, from, now_ms + 60_000)
        .await?;
    let open_interest = store.open_interest(coin, from, now_ms + 60_000).await?;
    let fear_greed = reading(&store.fear_greed(31).await?);
    let estimate = estimate_levels(
        &candles,
        &combined_open_interest(&open_interest),
        &level_params(market),
    );
    let (above, below) = clusters(&estimate.map, market.levels.cluster_window_pct, 2);
    let levels_hours = match (candles.first(), candles.last()) {
        (Some(a), Some(b)) => (b.open_ms - a.open_ms) as f64 / 3_600_000.0,
        _ => 0.0,
    };
    let stale = pollers.map_or_else(Vec::new, |p| {
        p.statuses
            .iter()
            .filter(|s| s.is_stale(now_ms))
            .map(|s| s.name.clone())
            .collect()
    });
    let report = MarketReport {
        coin: coin.to_owned(),
        context: coin_context(coin, &candles, &open_interest, now_ms),
        fear_greed,
        above,
        below,
        levels_hours,
        stale,
    };
    Ok((report, estimate))
}
