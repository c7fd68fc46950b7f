//! The realised heatmap: USD liquidated per (time column, price bin) cell, longs and shorts
//! apart, with the price line, for one coin over a window. Pure: built from stored events
//! and candles.

use serde::Serialize;

use super::levels::adaptive_bin_size;
use crate::model::{Candle, Liquidation, Side};

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

/// Builds the heatmap `spec` asks for from the coin's events and candles. The price axis
/// spans the candles' range and every event's price, with a margin.
#[must_use]
pub fn build_heatmap(
    spec: &HeatmapSpec,
    events: &[Liquidation],
    candles: &[Candle],
) -> HeatmapGrid {
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
        .chain(
            events
                .iter()
                .filter(|e| in_window(e.ts_ms))
                .map(|e| e.price),
        )
        .filter(|p| p.is_finite() && *p > 0.0);
    let (lo, hi) = prices.fold((f64::INFINITY, 0.0_f64), |(lo, hi), p| {
        (lo.min(p), hi.max(p))
    });
    let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
    let margin = ((hi - lo) * 0.05).max(hi * 0.001);
    // A bin that suits the price, widened until the range fits in `max_rows`.
    let mut bin_size = adaptive_bin_size(hi.max(f64::MIN_POSITIVE));
    let span = (hi - lo) + 2.0 * margin;
    while span / bin_size > max_rows.max(1) as f64 {
        bin_size *= 2.0;
    }
    let price_min = ((lo - margin).max(0.0) / bin_size).floor() * bin_size;
    let rows = (((hi + margin - price_min) / bin_size).ceil() as usize).clamp(1, max_rows.max(1));
    let mut cells = vec![HeatCell::default(); columns * rows];
    for e in events.iter().filter(|e| in_window(e.ts_ms)) {
        let column = (((e.ts_ms - start_ms) / column_ms) as usize).min(columns - 1);
        let row = (((e.price - price_min) / bin_size).floor().max(0.0) as usize).min(rows - 1);
        let cell = &mut cells[column * rows + row];
        match e.side {
            Side::Long => cell.long_usd += e.usd,
            Side::Short => cell.short_usd += e.usd,
        }
    }
    HeatmapGrid {
        coin: spec.coin.clone(),
        window: spec.window.clone(),
        start_ms,
        column_ms,
        columns,
        price_min,
        bin_size,
        rows,
        cells,
        price_line: candles
            .iter()
            .filter(|c| in_window(c.open_ms))
            .map(|c| (c.open_ms, c.close))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Exchange;

    fn liq(ts_ms: i64, price: f64, side: Side, usd: f64) -> Liquidation {
        Liquidation {
            exchange: Exchange::Bybit,
            symbol: "BTCUSDT".into(),
            base: "BTC".into(),
            quote: "USDT".into(),
            side,
            price,
            quantity: usd / price,
            usd,
            ts_ms,
        }
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
