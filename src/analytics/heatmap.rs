//! The realised heatmap: USD liquidated per (time column, price bin) cell, longs and shorts
//! apart, with the price line, for one coin over a window. Pure: built from stored events
//! and candles.

use serde::Serialize;

use super::levels::adaptive_bin_size;
use crate::model::{Candle, Liquidation, Side};

/// What a heatmap needs of one liquidation: when, at what price, how much, which side.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PricePoint {
    /// Event time, ms since the epoch.
    pub ts_ms: i64,
    /// The price it was liquidated at.
    pub price: f64,
    /// USD value.
    pub usd: f64,
    /// Long or short.
    pub side: Side,
}

impl From<&Liquidation> for PricePoint {
    fn from(e: &Liquidation) -> Self {
        Self {
            ts_ms: e.ts_ms,
            price: e.price,
            usd: e.usd,
            side: e.side,
        }
    }
}

/// One cell of the heatmap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct HeatCell {
    /// USD of long positions liquidated in the cell.
    pub long_usd: f64,
    /// USD of short positions liquidated in the cell.
    pub short_usd: f64,
}

/// USD liquidated per time column and price bin.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HeatmapGrid {
    /// The coin.
    pub coin: String,
    /// The window label (`24h`).
    pub window: String,
    /// Start of the first column, ms.
    pub start_ms: i64,
    /// Width of a column, ms.
    pub column_ms: i64,
    /// Number of time columns.
    pub columns: usize,
    /// Lower edge of the lowest price bin.
    pub price_min: f64,
    /// Height of a price bin.
    pub bin_size: f64,
    /// Number of price bins.
    pub rows: usize,
    /// Cells, column by column: `cells[column * rows + row]`.
    pub cells: Vec<HeatCell>,
    /// The price line: `(ts_ms, close)` per candle in the window.
    pub price_line: Vec<(i64, f64)>,
}

impl HeatmapGrid {
    /// The cell at `column`, `row`.
    #[must_use]
    pub fn cell(&self, column: usize, row: usize) -> HeatCell {
        self.cells[column * self.rows + row]
    }

    /// The largest single cell total, for the colour scale.
    #[must_use]
    pub fn max_cell_usd(&self) -> f64 {
        self.cells
            .iter()
            .map(|c| c.long_usd.max(c.short_usd))
            .fold(0.0, f64::max)
    }

    /// USD over all cells.
    #[must_use]
    pub fn total_usd(&self) -> f64 {
        self.cells.iter().map(|c| c.long_usd + c.short_usd).sum()
    }
}

/// What heatmap to build.
#[derive(Debug, Clone)]
pub struct HeatmapSpec {
    /// The coin.
    pub coin: String,
    /// The window label (`24h`).
    pub window: String,
    /// Start of the window, ms.
    pub start_ms: i64,
    /// End of the window (exclusive), ms.
    pub end_ms: i64,
    /// Number of time columns.
    pub columns: usize,
    /// Most price bins.
    pub max_rows: usize,
}

/// The grid of a heatmap: its time columns and price bins.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeatAxis {
    /// Start of the window, ms.
    pub start_ms: i64,
    /// End of the window (exclusive), ms.
    pub end_ms: i64,
    /// Number of time columns.
    pub columns: usize,
    /// Length of one column, ms.
    pub column_ms: i64,
    /// Lower edge of the first price bin.
    pub price_min: f64,
    /// Height of a price bin.
    pub bin_size: f64,
    /// Number of price bins.
    pub rows: usize,
}

impl HeatAxis {
    /// The axis for `spec` when the window's events priced from `lo` to `hi` (`None` without
    /// events): the price axis spans that and the candles' range, with a margin, in bins that
    /// suit the price, widened until they fit in `max_rows`.
    #[must_use]
    pub fn new(spec: &HeatmapSpec, event_prices: Option<(f64, f64)>, candles: &[Candle]) -> Self {
        let HeatmapSpec {
            start_ms,
            end_ms,
            max_rows,
            ..
        } = *spec;
        let columns = spec.columns.max(1);
        let column_ms = ((end_ms - start_ms).max(1) + columns as i64 - 1) / columns as i64;
        let in_window = |ts: i64| ts >= start_ms && ts < end_ms;
        let prices = candles
            .iter()
            .filter(|c| in_window(c.open_ms))
            .flat_map(|c| [c.low, c.high])
            .chain(event_prices.into_iter().flat_map(|(lo, hi)| [lo, hi]))
            .filter(|p| p.is_finite() && *p > 0.0);
        let (lo, hi) = prices.fold((f64::INFINITY, 0.0_f64), |(lo, hi), p| {
            (lo.min(p), hi.max(p))
        });
        let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
        let margin = ((hi - lo) * 0.05).max(hi * 0.001);
        let mut bin_size = adaptive_bin_size(hi.max(f64::MIN_POSITIVE));
        let span = (hi - lo) + 2.0 * margin;
        while span / bin_size > max_rows.max(1) as f64 {
            bin_size *= 2.0;
        }
        let price_min = ((lo - margin).max(0.0) / bin_size).floor() * bin_size;
        let rows =
            (((hi + margin - price_min) / bin_size).ceil() as usize).clamp(1, max_rows.max(1));
        Self {
            start_ms,
            end_ms,
            columns,
            column_ms,
            price_min,
            bin_size,
            rows,
        }
    }

    /// The column of a time in the window.
    #[must_use]
    pub fn column(&self, ts_ms: i64) -> usize {
        (((ts_ms - self.start_ms) / self.column_ms).max(0) as usize).min(self.columns - 1)
    }

    /// The price bin of a price.
    #[must_use]
    pub fn row(&self, price: f64) -> usize {
        (((price - self.price_min) / self.bin_size).floor().max(0.0) as usize).min(self.rows - 1)
    }
}

/// USD liquidated in one cell on one side, as the store sums it (see [`HeatAxis`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BinnedUsd {
    /// The time column, `(ts - start) / column_ms`.
    pub column: i64,
    /// The price bin, `floor((price - price_min) / bin_size)`.
    pub row: i64,
    /// Long or short.
    pub side: Side,
    /// USD summed.
    pub usd: f64,
}

/// Builds the heatmap `spec` asks for from the coin's events and candles. The price axis
/// spans the candles' range and every event's price, with a margin.
#[must_use]
pub fn build_heatmap(spec: &HeatmapSpec, events: &[PricePoint], candles: &[Candle]) -> HeatmapGrid {
    let in_window = |ts: i64| ts >= spec.start_ms && ts < spec.end_ms;
    let range = events
        .iter()
        .filter(|e| in_window(e.ts_ms) && e.price.is_finite() && e.price > 0.0)
        .fold(None, |range: Option<(f64, f64)>, e| {
            Some(range.map_or((e.price, e.price), |(lo, hi)| {
                (lo.min(e.price), hi.max(e.price))
            }))
        });
    let axis = HeatAxis::new(spec, range, candles);
    let binned: Vec<BinnedUsd> = events
        .iter()
        .filter(|e| in_window(e.ts_ms))
        .map(|e| BinnedUsd {
            column: axis.column(e.ts_ms) as i64,
            row: axis.row(e.price) as i64,
            side: e.side,
            usd: e.usd,
        })
        .collect();
    heatmap_from_cells(spec, &axis, &binned, candles)
}

/// The heatmap of `spec` on `axis` from USD already summed per cell (by the store, or by
/// [`build_heatmap`]); cells outside the axis are clamped to its edges.
#[must_use]
pub fn heatmap_from_cells(
    spec: &HeatmapSpec,
    axis: &HeatAxis,
    binned: &[BinnedUsd],
    candles: &[Candle],
) -> HeatmapGrid {
    let (columns, rows) = (axis.columns, axis.rows);
    let mut cells = vec![HeatCell::default(); columns * rows];
    for b in binned {
        let column = usize::try_from(b.column.max(0))
            .unwrap_or(0)
            .min(columns - 1);
        let row = usize::try_from(b.row.max(0)).unwrap_or(0).min(rows - 1);
        let cell = &mut cells[column * rows + row];
        match b.side {
            Side::Long => cell.long_usd += b.usd,
            Side::Short => cell.short_usd += b.usd,
        }
    }
    HeatmapGrid {
        coin: spec.coin.clone(),
        window: spec.window.clone(),
        start_ms: axis.start_ms,
        column_ms: axis.column_ms,
        columns,
        price_min: axis.price_min,
        bin_size: axis.bin_size,
        rows,
        cells,
        price_line: candles
            .iter()
            .filter(|c| c.open_ms >= axis.start_ms && c.open_ms < axis.end_ms)
            .map(|c| (c.open_ms, c.close))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Exchange;

    fn liq(ts_ms: i64, price: f64, side: Side, usd: f64) -> PricePoint {
        PricePoint::from(&Liquidation {
            exchange: Exchange::Bybit,
            symbol: "BTCUSDT".into(),
            base: "BTC".into(),
            quote: "USDT".into(),
            side,
            price,
            quantity: usd / price,
            usd,
            ts_ms,
        })
    }

    #[test]
    fn events_land_in_their_time_column_and_price_bin() {
        let events = [
            liq(0, 100.0, Side::Long, 10.0),
            liq(59_999, 100.0, Side::Long, 5.0),
            liq(60_000, 110.0, Side::Short, 7.0),
            liq(120_000, 105.0, Side::Long, 99.0), // outside the window
        ];
        let spec = HeatmapSpec {
            coin: "BTC".into(),
            window: "2m".into(),
            start_ms: 0,
            end_ms: 120_000,
            columns: 2,
            max_rows: 100,
        };
        let grid = build_heatmap(&spec, &events, &[]);
        assert_eq!(grid.columns, 2);
        assert_eq!(grid.total_usd(), 22.0);
        let row_100 = ((100.0 - grid.price_min) / grid.bin_size).floor() as usize;
        assert_eq!(
            grid.cell(0, row_100),
            HeatCell {
                long_usd: 15.0,
                short_usd: 0.0
            }
        );
        let row_110 = ((110.0 - grid.price_min) / grid.bin_size).floor() as usize;
        assert_eq!(grid.cell(1, row_110).short_usd, 7.0);
        assert!(grid.rows <= 100);
        assert_eq!(grid.max_cell_usd(), 15.0);
    }
}
