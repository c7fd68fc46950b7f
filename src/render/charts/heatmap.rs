//! The realised heatmap: time across, price up, each cell coloured by the USD liquidated in it
//! (longs on a red-to-amber ramp, shorts on a teal ramp; a mixed cell shows its larger side),
//! with the price line over it and a colour scale beside it.

use super::axes::{
    colour_scale, colour_scale_width, footer, frame, header, no_data, price_axis, price_tag,
    price_ticks, time_axis,
};
use super::{Canvas, ChartError, ChartOptions, render};
use crate::analytics::heatmap::HeatmapGrid;
use crate::render::format::money;

/// Draws `grid` as a PNG: the realised liquidation heatmap with the price line. A grid
/// without liquidations gives a "No data" image.
#[must_use = "the PNG bytes are the point of the call"]
pub fn realised_heatmap(grid: &HeatmapGrid, opts: &ChartOptions) -> Result<Vec<u8>, ChartError> {
    render(opts, |c| draw(c, grid, opts))
}

/// Colour position for `usd` on a scale up to `max`: square root, so the many small cells stay
/// visible next to the few large ones.
fn intensity(usd: f64, max: f64) -> f64 {
    (usd / max).sqrt()
}

fn is_drawable(grid: &HeatmapGrid) -> bool {
    grid.columns > 0
        && grid.rows > 0
        && grid.cells.len() >= grid.columns * grid.rows
        && grid.column_ms > 0
        && grid.bin_size > 0.0
        && grid.price_min.is_finite()
        && grid.max_cell_usd() > 0.0
}

fn draw(c: &mut Canvas<'_>, grid: &HeatmapGrid, opts: &ChartOptions) {
    let title = format!("{} liquidations, last {}", grid.coin, grid.window);
    if !is_drawable(grid) {
        no_data(c, opts, &title, "No liquidations recorded in this window");
        return;
    }
    let max = grid.max_cell_usd();
    let (longs, shorts) = grid.cells.iter().fold((0.0, 0.0), |(l, s), cell| {
        (l + cell.long_usd, s + cell.short_usd)
    });
    let (long_text, short_text) = (
        format!("Longs {}", money(longs)),
        format!("Shorts {}", money(shorts)),
    );
    let palette = c.palette;
    let top = header(
        c,
        &title,
        &[
            ("Realised, by time and price:   ", None),
            (&long_text, Some(palette.long)),
            ("   ", None),
            (&short_text, Some(palette.short)),
            ("   liquidated", None),
        ],
    );
    let bottom = footer(
        c,
        opts,
        "Cell colour: USD liquidated; a cell with both sides shows the larger",
    );

    let (t0, t1) = (
        grid.start_ms,
        grid.start_ms + grid.column_ms * grid.columns as i64,
    );
    let (lo, hi) = (
        grid.price_min,
        grid.price_min + grid.bin_size * grid.rows as f64,
    );
    let (_, labels) = price_ticks(c, lo, hi, (bottom - top) as f32 - c.px(40.0));
    let plot = frame(c, top, bottom, &labels, colour_scale_width(c, 2, max));
    let (x, y) = (plot.x_axis(t0 as f64, t1 as f64), plot.y_axis(lo, hi));
    c.fill_rect(plot.left, plot.top, plot.right, plot.bottom, palette.panel);

    let last = grid
        .price_line
        .last()
        .map(|&(_, p)| p)
        .filter(|p| (lo..=hi).contains(p));
    let tag = last.map(|p| (y.map(p), c.px(12.0)));
    time_axis(c, &plot, &x, opts.time_zone, true);
    price_axis(c, &plot, &y, &labels, tag, true);

    for column in 0..grid.columns {
        let x0 = x.map((t0 + grid.column_ms * column as i64) as f64).round() as i32;
        let x1 = x
            .map((t0 + grid.column_ms * (column as i64 + 1)) as f64)
            .round() as i32;
        for row in 0..grid.rows {
            let cell = grid.cell(column, row);
            let (usd, ramp) = if cell.long_usd >= cell.short_usd {
                (cell.long_usd, palette.long_ramp)
            } else {
                (cell.short_usd, palette.short_ramp)
            };
            if usd <= 0.0 {
                continue;
            }
            let y0 = y.map(lo + grid.bin_size * (row + 1) as f64).round() as i32;
            let y1 = y.map(lo + grid.bin_size * row as f64).round() as i32;
            c.fill_rect(
                x0,
                y0,
                x1.max(x0 + 1),
                y1.max(y0 + 1),
                ramp.at(intensity(usd, max)),
            );
        }
    }

    let points: Vec<(f32, f32)> = grid
        .price_line
        .iter()
        .filter(|(ts, p)| p.is_finite() && (t0..=t1).contains(ts))
        .map(|&(ts, p)| (x.map(ts as f64), y.map(p)))
        .collect();
    let width = c.px(2.0).max(1.5);
    let strokes = [
        (width + 2.5, palette.background),
        (width, palette.price_line),
    ];
    c.polyline(&points, &strokes, plot.clip());
    if let Some(p) = last {
        price_tag(c, &plot, y.map(p), p);
    }
    colour_scale(
        c,
        &plot,
        &[(palette.long_ramp, "L"), (palette.short_ramp, "S")],
        |t| max * t * t,
    );
}
