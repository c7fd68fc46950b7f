//! The level model one candle at a time: remove what the candle crossed, then place or shrink
//! levels by the change in open interest.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use super::{LevelBin, LevelMap, LevelParams, adaptive_bin_size};
use crate::model::Candle;

/// Levels holding less than this many US dollars are left out of what the model reports.
pub const MIN_LEVEL_USD: f64 = 1.0;

/// When the lazy scale falls below this, it is folded into the stored values, so that they
/// stay far from the edges of f64 however many times OI falls.
const FOLD_SCALE_BELOW: f64 = 1e-6;

/// The incremental level engine behind [`estimate_levels`](super::estimate_levels).
///
/// Levels live in two `BTreeMap`s (longs and shorts) keyed by bin index, so removing everything
/// a candle crossed is one `split_off`, not a scan.
#[derive(Debug, Clone)]
pub struct LevelModel {
    /// `(leverage, weight)` with weights summing to 1; invalid tiers dropped.
    tiers: Vec<(f64, f64)>,
    /// Maintenance margin rate.
    mmr: f64,
    /// Bin width; fixed by the first candle when the params leave it adaptive.
    bin_size: Option<f64>,
    /// Long liquidation USD by bin index, divided by `scale`.
    longs: BTreeMap<i64, f64>,
    /// Short liquidation USD by bin index, divided by `scale`.
    shorts: BTreeMap<i64, f64>,
    /// What stored values are multiplied by to give USD. Shrinking every level when OI falls
    /// is one multiplication here rather than a pass over both maps.
    scale: f64,
    /// The OI the next change is measured from.
    last_oi: Option<f64>,
    /// The last close seen.
    price: f64,
    /// Sum of the OI increases placed.
    oi_added_usd: f64,
}

impl LevelModel {
    /// An empty model with `params`' leverage mix, margin rate and bin size.
    #[must_use]
    pub fn new(params: &LevelParams) -> Self {
        let valid: Vec<(f64, f64)> = params
            .leverage
            .iter()
            .filter(|t| positive(t.leverage) && positive(t.weight))
            .map(|t| (t.leverage, t.weight))
            .collect();
        let total: f64 = valid.iter().map(|&(_, w)| w).sum();
        Self {
            tiers: valid.into_iter().map(|(l, w)| (l, w / total)).collect(),
            mmr: if params.mmr.is_finite() {
                params.mmr
            } else {
                0.0
            },
            bin_size: params.bin_size.filter(|&b| positive(b)),
            longs: BTreeMap::new(),
            shorts: BTreeMap::new(),
            scale: 1.0,
            last_oi: None,
            price: 0.0,
            oi_added_usd: 0.0,
        }
    }

    /// Sets the OI at the start of the first candle, so the first candle's change can be
    /// measured. Without it the first reading only sets the baseline.
    #[must_use]
    pub fn with_initial_oi(mut self, oi_usd: f64) -> Self {
        if oi_usd.is_finite() && oi_usd >= 0.0 {
            self.last_oi = Some(oi_usd);
        }
        self
    }

    /// Advances the model by one closed candle, with the OI reading at its close (`None` when
    /// there is no reading yet). A candle whose close is not positive and finite is skipped.
    pub fn step(&mut self, candle: &Candle, oi_usd: Option<f64>) {
        if !positive(candle.close) {
            return;
        }
        self.price = candle.close;
        let bin = *self
            .bin_size
            .get_or_insert_with(|| adaptive_bin_size(candle.close));

        // 1. The candle traded through every long bin from its low up and every short bin
        // from its high down: those positions are gone. Most candles cross nothing, and
        // checking the end of the map first saves `split_off` its allocation.
        if candle.low.is_finite() {
            let from = bin_index(candle.low, bin);
            if self.longs.last_key_value().is_some_and(|(&i, _)| i >= from) {
                drop(self.longs.split_off(&from));
            }
        }
        if candle.high.is_finite() {
            let upto = bin_index(candle.high, bin);
            if self
                .shorts
                .first_key_value()
                .is_some_and(|(&i, _)| i <= upto)
            {
                self.shorts = self.shorts.split_off(&upto.saturating_add(1));
            }
        }

        // 2. Open interest: new positions at the close, or closed positions everywhere.
        let Some(now) = oi_usd.filter(|oi| oi.is_finite() && *oi >= 0.0) else {
            return;
        };
        if let Some(prev) = self.last_oi {
            match now.partial_cmp(&prev) {
                Some(Ordering::Greater) => self.open(now - prev, candle.close, bin),
                Some(Ordering::Less) => self.shrink(now / prev),
                _ => {}
            }
        }
        self.last_oi = Some(now);
    }

    /// Places `usd` of new positions opened at `entry` over the leverage mix, both sides.
    fn open(&mut self, usd: f64, entry: f64, bin: f64) {
        self.oi_added_usd += usd;
        for &(leverage, weight) in &self.tiers {
            let stored = weight * usd / self.scale;
            let long = entry * (1.0 - 1.0 / leverage + self.mmr);
            let short = entry * (1.0 + 1.0 / leverage - self.mmr);
            if positive(long) {
                *self.longs.entry(bin_index(long, bin)).or_insert(0.0) += stored;
            }
            if positive(short) {
                *self.shorts.entry(bin_index(short, bin)).or_insert(0.0) += stored;
            }
        }
    }

    /// Multiplies every level, both sides, by `ratio` (0 <= ratio < 1).
    fn shrink(&mut self, ratio: f64) {
        if !positive(ratio) {
            self.longs.clear();
            self.shorts.clear();
            self.scale = 1.0;
            return;
        }
        self.scale *= ratio;
        if self.scale < FOLD_SCALE_BELOW {
            let scale = self.scale;
            for map in [&mut self.longs, &mut self.shorts] {
                map.retain(|_, v| {
                    *v *= scale;
                    *v >= MIN_LEVEL_USD
                });
            }
            self.scale = 1.0;
        }
    }

    /// The current level map.
    #[must_use]
    pub fn map(&self) -> LevelMap {
        LevelMap {
            bin_size: self.bin_size.unwrap_or(0.0),
            price: self.price,
            bins: self.bins(),
        }
    }

    /// The current bins holding at least [`MIN_LEVEL_USD`] on one side, lowest price first.
    #[must_use]
    pub fn bins(&self) -> Vec<LevelBin> {
        let Some(bin) = self.bin_size else {
            return Vec::new();
        };
        let mut out = Vec::with_capacity(self.longs.len() + self.shorts.len());
        let mut push = |index: i64, long: f64, short: f64| {
            let (long_usd, short_usd) = (self.usd(long), self.usd(short));
            if long_usd > 0.0 || short_usd > 0.0 {
                #[allow(clippy::cast_precision_loss)] // Bin indices are far below 2^53.
                let price = index as f64 * bin;
                out.push(LevelBin {
                    price,
                    long_usd,
                    short_usd,
                });
            }
        };
        // A merge of two sorted maps; they rarely overlap, as longs sit below the price.
        let mut shorts = self.shorts.iter().peekable();
        for (&i, &long) in &self.longs {
            while let Some((&j, &short)) = shorts.next_if(|&(&j, _)| j < i) {
                push(j, 0.0, short);
            }
            let short = shorts.next_if(|&(&j, _)| j == i).map_or(0.0, |(_, &s)| s);
            push(i, long, short);
        }
        for (&j, &short) in shorts {
            push(j, 0.0, short);
        }
        out
    }

    /// A stored value in USD, or 0 when it is below [`MIN_LEVEL_USD`].
    fn usd(&self, stored: f64) -> f64 {
        let usd = stored * self.scale;
        if usd >= MIN_LEVEL_USD { usd } else { 0.0 }
    }

    /// The last close seen (0 before the first candle).
    #[must_use]
    pub fn price(&self) -> f64 {
        self.price
    }

    /// Sum of the OI increases placed so far, in USD.
    #[must_use]
    pub fn oi_added_usd(&self) -> f64 {
        self.oi_added_usd
    }
}

/// Positive and finite.
fn positive(x: f64) -> bool {
    x.is_finite() && x > 0.0
}

/// The bin `price` falls in: `floor(price / bin)`.
fn bin_index(price: f64, bin: f64) -> i64 {
    // The relative nudge keeps a price computed a rounding error below a bin edge (90.4999...
    // for 100 * 0.905) in the bin it is meant for.
    let x = (price / bin * (1.0 + 1e-9)).floor();
    // `as` saturates; prices are finite here, so only absurd ones reach the ends.
    #[allow(clippy::cast_possible_truncation)]
    let index = x as i64;
    index
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::levels::LeverageTier;
    use crate::model::Exchange;

    fn candle(low: f64, high: f64, close: f64) -> Candle {
        Candle {
            exchange: Exchange::Binance,
            base: "BTC".into(),
            open_ms: 0,
            interval_secs: 60,
            open: close,
            high,
            low,
            close,
        }
    }

    fn one_tier() -> LevelParams {
        LevelParams {
            leverage: vec![LeverageTier {
                leverage: 10.0,
                weight: 3.0,
            }],
            mmr: 0.005,
            bin_size: Some(0.5),
            grid_every: 1,
        }
    }

    #[test]
    fn bin_index_is_robust_to_rounding_just_below_an_edge() {
        assert_eq!(bin_index(100.0 * (1.0 - 1.0 / 10.0 + 0.005), 0.5), 181);
        assert_eq!(bin_index(0.38, 0.0002), 1900);
        assert_eq!(bin_index(90.49, 0.5), 180);
    }

    #[test]
    fn many_small_oi_falls_fold_the_scale_without_losing_levels() {
        let mut m = LevelModel::new(&one_tier()).with_initial_oi(0.0);
        m.step(&candle(100.0, 100.0, 100.0), Some(1e12));
        let mut oi = 1e12;
        for _ in 0..200 {
            oi *= 0.9;
            m.step(&candle(100.0, 100.0, 100.0), Some(oi));
        }
        // 1e12 * 0.9^200 is about $705,000 on each side.
        let map = m.map();
        assert!((map.total_long_usd() / oi - 1.0).abs() < 1e-9);
        assert!((map.total_short_usd() / oi - 1.0).abs() < 1e-9);
    }

    #[test]
    fn oi_falling_to_zero_clears_everything() {
        let mut m = LevelModel::new(&one_tier()).with_initial_oi(0.0);
        m.step(&candle(100.0, 100.0, 100.0), Some(1_000.0));
        m.step(&candle(100.0, 100.0, 100.0), Some(0.0));
        assert_eq!(m.map().bins, Vec::new());
        m.step(&candle(100.0, 100.0, 100.0), Some(500.0));
        assert_eq!(m.map().total_long_usd(), 500.0);
    }

    #[test]
    fn a_candle_with_a_bad_close_changes_nothing() {
        let mut m = LevelModel::new(&one_tier()).with_initial_oi(0.0);
        m.step(&candle(100.0, 100.0, 100.0), Some(1_000.0));
        let before = m.map();
        m.step(&candle(0.0, 1e9, f64::NAN), Some(2_000.0));
        assert_eq!(m.map(), before);
    }
}
