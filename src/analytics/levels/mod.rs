//! Estimated liquidation levels: where leveraged positions opened during the data window would
//! be force-closed, from one venue's candles and the market's open interest (OI).
//!
//! It is a model, not a measurement: nobody outside an exchange knows real entry prices or
//! leverage. When OI rises, the new positions are assumed to open at the candle's close and are
//! spread over a leverage mix; each slice sits at its liquidation price, long `E(1-1/L+mmr)`
//! and short `E(1+1/L-mmr)`, in a price bin. A candle that trades into a bin liquidates it, and
//! when OI falls every level shrinks in proportion. The method, its defaults and what it cannot
//! know are written up in `docs/levels-model.md`.
//!
//! [`estimate_levels`] runs the whole history; [`LevelModel`] is the same engine one candle at a
//! time, and [`clusters`] turns a map into "~$1B of shorts at $94k" lines.

mod clusters;
mod engine;

use crate::model::Candle;

pub use clusters::{Cluster, DEFAULT_CLUSTER_WINDOW_PCT, clusters};
pub use engine::{LevelModel, MIN_LEVEL_USD};

/// One slice of the leverage mix: the share `weight` of new open interest assumed to be opened
/// at `leverage`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LeverageTier {
    /// Leverage, e.g. `10.0` for 10x. Tiers at or below 0 are ignored.
    pub leverage: f64,
    /// Relative weight; weights are normalised to sum to 1, so `1, 1` means half and half.
    pub weight: f64,
}

/// The model's assumptions. The defaults are a guess at a typical retail mix, not a measurement.
#[derive(Debug, Clone, PartialEq)]
pub struct LevelParams {
    /// How new open interest is spread over leverage (default 5x/10x/25x/50x/100x with weights
    /// 0.10/0.25/0.30/0.20/0.15).
    pub leverage: Vec<LeverageTier>,
    /// Maintenance margin rate, as a fraction of notional (default 0.005, i.e. 0.5%).
    pub mmr: f64,
    /// Width of a price bin in quote currency; `None` picks one from the first candle's close
    /// with [`adaptive_bin_size`].
    pub bin_size: Option<f64>,
    /// Keep a snapshot for the levels-over-time grid every this many candles (default 15).
    pub grid_every: usize,
}

impl Default for LevelParams {
    fn default() -> Self {
        let tier = |leverage, weight| LeverageTier { leverage, weight };
        Self {
            leverage: vec![
                tier(5.0, 0.10),
                tier(10.0, 0.25),
                tier(25.0, 0.30),
                tier(50.0, 0.20),
                tier(100.0, 0.15),
            ],
            mmr: 0.005,
            bin_size: None,
            grid_every: 15,
        }
    }
}

/// Estimated liquidations in one price bin.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LevelBin {
    /// The bin's lower edge; the bin covers `price .. price + bin_size`.
    pub price: f64,
    /// USD of long positions that would be liquidated in this bin.
    pub long_usd: f64,
    /// USD of short positions that would be liquidated in this bin.
    pub short_usd: f64,
}

/// The cumulative level map after the last candle.
#[derive(Debug, Clone, PartialEq)]
pub struct LevelMap {
    /// Width of every bin (0 before the first candle).
    pub bin_size: f64,
    /// The last close (0 before the first candle).
    pub price: f64,
    /// Bins holding at least [`MIN_LEVEL_USD`] on one side, lowest price first.
    pub bins: Vec<LevelBin>,
}

impl LevelMap {
    /// USD of all estimated long liquidations.
    #[must_use]
    pub fn total_long_usd(&self) -> f64 {
        self.bins.iter().map(|b| b.long_usd).sum()
    }

    /// USD of all estimated short liquidations.
    #[must_use]
    pub fn total_short_usd(&self) -> f64 {
        self.bins.iter().map(|b| b.short_usd).sum()
    }
}

/// The level map as it stood at one moment: one column of a levels-over-time heatmap.
#[derive(Debug, Clone, PartialEq)]
pub struct GridColumn {
    /// The close time of the candle after which the snapshot was taken, ms since the epoch.
    pub ts_ms: i64,
    /// That candle's close.
    pub price: f64,
    /// The bins at that moment, lowest price first.
    pub bins: Vec<LevelBin>,
}

/// Levels over time, one column every [`LevelParams::grid_every`] candles and one for the last.
#[derive(Debug, Clone, PartialEq)]
pub struct LevelGrid {
    /// Width of every bin, as in [`LevelMap::bin_size`].
    pub bin_size: f64,
    /// Columns, oldest first.
    pub columns: Vec<GridColumn>,
}

/// Everything [`estimate_levels`] works out.
#[derive(Debug, Clone, PartialEq)]
pub struct LevelEstimate {
    /// The levels still standing after the last candle.
    pub map: LevelMap,
    /// The levels over time.
    pub grid: LevelGrid,
    /// Sum of every OI increase the model placed, in USD: no side of the map can exceed it.
    pub oi_added_usd: f64,
}

/// Runs the level model over `candles` (one venue, one coin, sorted by `open_ms`) with
/// `open_interest` as `(ts_ms, usd)` one-sided OI across venues, sorted by time.
///
/// Each candle is paired with the latest OI reading at or before its close; the first candle's
/// change is measured from the latest reading at or before its open. Until the first reading
/// the model knows nothing about OI and places nothing. Readings that are negative or not
/// finite are skipped.
#[must_use]
pub fn estimate_levels(
    candles: &[Candle],
    open_interest: &[(i64, f64)],
    params: &LevelParams,
) -> LevelEstimate {
    let mut oi = OiCursor::new(open_interest);
    let mut model = LevelModel::new(params);
    if let Some(usd) = candles.first().and_then(|c| oi.at(c.open_ms)) {
        model = model.with_initial_oi(usd);
    }
    let every = params.grid_every.max(1);
    let mut columns = Vec::with_capacity(candles.len() / every + 1);
    for (i, candle) in candles.iter().enumerate() {
        let close_ms = candle.open_ms + i64::from(candle.interval_secs) * 1000;
        model.step(candle, oi.at(close_ms));
        if (i + 1) % every == 0 || i + 1 == candles.len() {
            columns.push(GridColumn {
                ts_ms: close_ms,
                price: model.price(),
                bins: model.bins(),
            });
        }
    }
    let map = model.map();
    LevelEstimate {
        grid: LevelGrid {
            bin_size: map.bin_size,
            columns,
        },
        map,
        oi_added_usd: model.oi_added_usd(),
    }
}

/// A bin width for a coin trading at `price`: the largest of 1, 2 or 5 times a power of ten
/// that is not above 0.1% of the price (BTC at 95,000 -> 50, ETH at 3,300 -> 2, DOGE at 0.38
/// -> 0.0002). A price that is not positive and finite gets 1.
#[must_use]
pub fn adaptive_bin_size(price: f64) -> f64 {
    let target = price * 0.001;
    if !(target.is_finite() && target > 0.0) {
        return 1.0;
    }
    #[allow(clippy::cast_possible_truncation)] // |log10| of a finite f64 is below 400.
    let mut exp = target.log10().floor() as i32;
    // log10 may land a hair below an exact power of ten.
    if power_of_ten(exp + 1) <= target {
        exp += 1;
    }
    [5.0, 2.0, 1.0]
        .into_iter()
        .map(|m| {
            // Dividing by an exact power of ten keeps 0.0002 the same double as the literal.
            if exp >= 0 {
                m * power_of_ten(exp)
            } else {
                m / power_of_ten(-exp)
            }
        })
        .find(|&size| size <= target)
        .unwrap_or(target)
}

/// 10^exp for exp >= 0 exact, otherwise the nearest double.
fn power_of_ten(exp: i32) -> f64 {
    if exp >= 0 {
        10f64.powi(exp)
    } else {
        1.0 / 10f64.powi(-exp)
    }
}

/// Walks a sorted OI series forward: the latest valid reading at or before a time.
struct OiCursor<'a> {
    series: &'a [(i64, f64)],
    next: usize,
    latest: Option<f64>,
}

impl<'a> OiCursor<'a> {
    fn new(series: &'a [(i64, f64)]) -> Self {
        Self {
            series,
            next: 0,
            latest: None,
        }
    }

    /// The latest valid reading at or before `ts_ms`; calls must not go back in time.
    fn at(&mut self, ts_ms: i64) -> Option<f64> {
        while let Some(&(ts, usd)) = self.series.get(self.next) {
            if ts > ts_ms {
                break;
            }
            if usd.is_finite() && usd >= 0.0 {
                self.latest = Some(usd);
            }
            self.next += 1;
        }
        self.latest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_weights_sum_to_one() {
        let total: f64 = LevelParams::default()
            .leverage
            .iter()
            .map(|t| t.weight)
            .sum();
        assert!((total - 1.0).abs() < 1e-12);
    }

    #[test]
    fn adaptive_bin_size_handles_exact_powers_of_ten() {
        assert_eq!(adaptive_bin_size(100_000.0), 100.0);
        assert_eq!(adaptive_bin_size(1_000.0), 1.0);
        assert_eq!(adaptive_bin_size(1.0), 0.001);
        assert_eq!(adaptive_bin_size(0.0), 1.0);
        assert_eq!(adaptive_bin_size(f64::NAN), 1.0);
    }

    #[test]
    fn oi_cursor_returns_the_latest_valid_reading() {
        let series = [(10, 1.0), (20, f64::NAN), (30, -5.0), (40, 4.0)];
        let mut c = OiCursor::new(&series);
        assert_eq!(c.at(5), None);
        assert_eq!(c.at(10), Some(1.0));
        assert_eq!(c.at(35), Some(1.0));
        assert_eq!(c.at(40), Some(4.0));
        assert_eq!(c.at(1_000), Some(4.0));
    }
}
