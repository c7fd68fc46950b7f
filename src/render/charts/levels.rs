//! Estimated liquidation levels, two ways: the level map (horizontal bars by price, longs
//! below the price and shorts above it, the largest clusters labelled) and the levels-over-time
//! heatmap (time across, price up, colour by estimated USD, like the market's well-known
//! liquidation heatmaps). Both say "Estimated": the levels come from a model.

use super::axes::{
    Axis, LABEL, Plot, colour_scale, colour_scale_width, footer, frame, header, label_style,
    money_tick, nice_step, no_data, price_axis, price_tag, price_tick, price_ticks, ticks,
    time_axis,
};
use super::{Canvas, ChartError, ChartOptions, HAlign, TextStyle, VAlign, VIRIDIS, Weight, render};
use plotters::style::RGBColor;

use crate::analytics::levels::{Cluster, LevelBin, LevelGrid, LevelMap};
use crate::model::Side;
use crate::render::format::{money, pct_signed};

const NOTE: &str = "Estimated from candles and open interest: a model, not a measurement";

/// Draws `map` as a PNG: estimated liquidation levels by price around the current price, with
/// the clusters in `above` (shorts) and `below` (longs) labelled. An empty map gives a
/// "No data" image.
#[must_use = "the PNG bytes are the point of the call"]
pub fn level_map(
    map: &LevelMap,
    above: &[Cluster],
    below: &[Cluster],
    coin: &str,
    opts: &ChartOptions,
) -> Result<Vec<u8>, ChartError> {
    render(opts, |c| draw_map(c, map, above, below, coin, opts))
}

/// Draws `grid` as a PNG: estimated liquidation levels over time with the price line. A grid
/// without levels gives a "No data" image.
#[must_use = "the PNG bytes are the point of the call"]
pub fn levels_heatmap(
    grid: &LevelGrid,
    coin: &str,
    opts: &ChartOptions,
) -> Result<Vec<u8>, ChartError> {
    render(opts, |c| draw_grid(c, grid, coin, opts))
}

/// The price span of `bins` and `prices` (with the top bin's width), padded by 3%.
fn price_span<'a>(
    bins: impl Iterator<Item = &'a LevelBin>,
    prices: impl Iterator<Item = f64>,
    bin_size: f64,
) -> Option<(f64, f64)> {
    let (lo, hi) = bins
        .filter(|b| b.long_usd + b.short_usd > 0.0)
        .flat_map(|b| [b.price, b.price + bin_size])
        .chain(prices.filter(|p| *p > 0.0))
        .filter(|p| p.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
            (lo.min(p), hi.max(p))
        });
    let pad = (hi - lo).max(bin_size) * 0.03;
    (lo <= hi).then(|| ((lo - pad).max(0.0), hi + pad))
}

/// Rows of `bin_size * k` for a plot `height` pixels high, at least `min_px` pixels each:
/// the display bin and the number of rows from `lo` to `hi`.
fn display_rows(lo: f64, hi: f64, bin_size: f64, height: f32, min_px: f32) -> (f64, usize) {
    let bins = ((hi - lo) / bin_size).ceil().max(1.0);
    let k = (bins * f64::from(min_px) / f64::from(height.max(1.0)))
        .ceil()
        .max(1.0);
    let size = bin_size * k;
    (size, ((hi - lo) / size).ceil().max(1.0) as usize)
}

/// Sums `bins` into display rows of `size` from `lo`: (long, short) USD per row.
fn sum_rows(bins: &[LevelBin], lo: f64, size: f64, rows: usize) -> Vec<(f64, f64)> {
    let mut out = vec![(0.0, 0.0); rows];
    for b in bins {
        let row = ((b.price - lo) / size).floor();
        if row >= 0.0 && (row as usize) < rows {
            // A value that is not a finite, positive amount draws nothing.
            let usd = |v: f64| if v.is_finite() { v.max(0.0) } else { 0.0 };
            let cell = &mut out[row as usize];
            cell.0 += usd(b.long_usd);
            cell.1 += usd(b.short_usd);
        }
    }
    out
}

fn draw_map(
    c: &mut Canvas<'_>,
    map: &LevelMap,
    above: &[Cluster],
    below: &[Cluster],
    coin: &str,
    opts: &ChartOptions,
) {
    let title = format!("{coin} estimated liquidation levels");
    let usable = map.bin_size > 0.0 && map.price > 0.0 && map.price.is_finite();
    let span = price_span(map.bins.iter(), std::iter::once(map.price), map.bin_size);
    let Some((lo, hi)) =
        span.filter(|_| usable && map.total_long_usd() + map.total_short_usd() > 0.0)
    else {
        no_data(
            c,
            opts,
            &title,
            "Estimated: no levels yet (open interest has not risen)",
        );
        return;
    };
    let palette = c.palette;
    let (long_text, short_text) = (
        format!("Longs below {}", money(map.total_long_usd())),
        format!("Shorts above {}", money(map.total_short_usd())),
    );
    let top = header(
        c,
        &title,
        &[
            (
                "Estimated USD liquidated if price reaches each level:   ",
                None,
            ),
            (&short_text, Some(palette.short)),
            ("   ", None),
            (&long_text, Some(palette.long)),
        ],
    );
    let bottom = footer(c, opts, NOTE);
    let (_, labels) = price_ticks(c, lo, hi, (bottom - top) as f32 - c.px(40.0));
    let plot = frame(c, top, bottom, &labels, 0.0);
    let y = plot.y_axis(lo, hi);
    let (size, n) = display_rows(
        lo,
        hi,
        map.bin_size,
        (plot.bottom - plot.top) as f32,
        c.px(4.0),
    );
    let rows = sum_rows(&map.bins, lo, size, n);
    let max = rows.iter().map(|(l, s)| l + s).fold(0.0, f64::max);
    // Room right of the longest bar for a cluster label.
    let x = plot.x_axis(0.0, max * 1.5);
    c.fill_rect(plot.left, plot.top, plot.right, plot.bottom, palette.panel);
    let tag_y = y.map(map.price);
    price_axis(c, &plot, &y, &labels, Some((tag_y, c.px(12.0))), true);
    usd_axis(c, &plot, &x);

    let gap = i32::from(y.map(lo) - y.map(lo + size) >= 4.0);
    for (i, &(long, short)) in rows.iter().enumerate() {
        let y0 = y.map(lo + size * (i + 1) as f64).round() as i32;
        let y1 = (y.map(lo + size * i as f64).round() as i32 - gap).max(y0 + 1);
        let x_long = x.map(long).round() as i32;
        let x_short = x.map(long + short).round() as i32;
        c.fill_rect(plot.left, y0, x_long, y1, palette.long);
        c.fill_rect(x_long, y0, x_short, y1, palette.short);
    }
    c.dashed_hline(plot.left, plot.right, tag_y.round() as i32, palette.text);
    price_tag(c, &plot, tag_y, map.price);
    let rows = Rows {
        usd: &rows,
        lo,
        size,
    };
    label_clusters(
        c,
        &plot,
        (&x, &y),
        &rows,
        map.bin_size,
        above.iter().chain(below),
    );
}

/// The display rows as the level map draws them: (long, short) USD per row from `lo`, rows
/// `size` high.
struct Rows<'a> {
    usd: &'a [(f64, f64)],
    lo: f64,
    size: f64,
}

impl Rows<'_> {
    fn index(&self, price: f64) -> usize {
        (((price - self.lo) / self.size).floor().max(0.0) as usize).min(self.usd.len() - 1)
    }

    /// The longest bar (USD) among rows from `a` to `b` in price.
    fn longest(&self, a: f64, b: f64) -> f64 {
        let (i, j) = (self.index(a.min(b)), self.index(a.max(b)));
        self.usd[i..=j]
            .iter()
            .map(|(l, s)| l + s)
            .fold(0.0, f64::max)
    }
}

/// Labels each cluster right of the bars near its price, joined to the end of its own bar by
/// an elbow line; labels that would overlap are pushed apart vertically.
fn label_clusters<'a>(
    c: &mut Canvas<'_>,
    plot: &Plot,
    (x, y): (&Axis, &Axis),
    rows: &Rows<'_>,
    bin_size: f64,
    clusters: impl Iterator<Item = &'a Cluster>,
) {
    let style = TextStyle::new(c.font(LABEL), Weight::Bold, c.palette.text);
    let line = c.cap_height(style) + c.px(9.0);
    let mut labels: Vec<(f32, &Cluster)> = clusters
        .filter(|k| k.usd > 0.0 && (y.lo..=y.hi).contains(&k.price))
        .map(|k| (y.map(k.price), k))
        .collect();
    labels.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (top, bottom) = (
        plot.top as f32 + line / 2.0,
        plot.bottom as f32 - line / 2.0,
    );
    let mut placed: Vec<f32> = Vec::with_capacity(labels.len());
    for (want, _) in &labels {
        let floor = placed.last().map_or(top, |p| p + line);
        placed.push(want.max(floor));
    }
    // Push back up from the bottom if the stack ran off the plot.
    let mut ceiling = bottom;
    for p in placed.iter_mut().rev() {
        *p = p.min(ceiling);
        ceiling = *p - line;
    }
    for ((want, k), at) in labels.into_iter().zip(placed) {
        let color = if k.side == Side::Short {
            c.palette.short
        } else {
            c.palette.long
        };
        let side = if k.side == Side::Short {
            "shorts"
        } else {
            "longs"
        };
        let text = format!(
            "~{} {side} at {} ({})",
            money(k.usd),
            price_tick(k.price, bin_size),
            pct_signed(k.distance_pct)
        );
        let (span_lo, span_hi) = (
            y.unmap(want.max(at) + line / 2.0),
            y.unmap(want.min(at) - line / 2.0),
        );
        let clear = x.map(rows.longest(span_lo, span_hi)) + c.px(24.0);
        let lx = clear.min(plot.right as f32 - c.text_width(&text, style) - c.px(6.0));
        let own = x.map(rows.longest(k.price, k.price));
        let elbow = lx - c.px(12.0);
        // A thin muted leader, so it does not read as part of a bar.
        let leader = [(own + c.px(5.0), want), (elbow, want), (lx - c.px(4.0), at)];
        let muted = c.palette.muted;
        c.polyline(&leader, &[(c.px(1.2).max(1.0), muted)], plot.clip());
        let dot = c.px(3.0).max(2.0) as i32;
        let (dx, dy) = (own.round() as i32, want.round() as i32);
        c.fill_rect(dx - dot, dy - dot, dx + dot, dy + dot, color);
        c.text(
            &text,
            TextStyle { color, ..style },
            (lx, at),
            HAlign::Left,
            VAlign::Middle,
        );
    }
}

/// Vertical grid lines and money labels under the plot for a USD x axis.
fn usd_axis(c: &mut Canvas<'_>, plot: &Plot, x: &Axis) {
    let style = label_style(c);
    let max_ticks = (((plot.right - plot.left) as f32 / c.px(120.0)) as usize).max(2);
    let step = nice_step(x.hi - x.lo, max_ticks);
    let grid = c.palette.grid;
    for usd in ticks(x.lo, x.hi, step) {
        let px = x.map(usd);
        c.vline(px.round() as i32, plot.top, plot.bottom, grid);
        c.text(
            &money_tick(usd),
            style,
            (px, plot.bottom as f32 + c.px(10.0)),
            HAlign::Center,
            VAlign::Top,
        );
    }
}

fn draw_grid(c: &mut Canvas<'_>, grid: &LevelGrid, coin: &str, opts: &ChartOptions) {
    let title = format!("{coin} estimated liquidation levels over time");
    let columns = &grid.columns;
    let span = price_span(
        columns.iter().flat_map(|col| &col.bins),
        columns.iter().map(|col| col.price),
        grid.bin_size,
    );
    let has_levels = columns
        .iter()
        .flat_map(|col| &col.bins)
        .any(|b| b.long_usd + b.short_usd > 0.0);
    let Some((lo, hi)) = span.filter(|_| grid.bin_size > 0.0 && has_levels) else {
        no_data(
            c,
            opts,
            &title,
            "Estimated: no levels yet (open interest has not risen)",
        );
        return;
    };
    let top = header(
        c,
        &title,
        &[(
            "Estimated USD that would be liquidated at each price, longs and shorts together",
            None,
        )],
    );
    let bottom = footer(c, opts, NOTE);
    let step = match (columns.first(), columns.last()) {
        (Some(first), Some(last)) if columns.len() > 1 => {
            (last.ts_ms - first.ts_ms) / (columns.len() as i64 - 1)
        }
        _ => 3_600_000,
    }
    .max(1);
    let (t0, t1) = (columns[0].ts_ms - step, columns[columns.len() - 1].ts_ms);
    let (_, labels) = price_ticks(c, lo, hi, (bottom - top) as f32 - c.px(40.0));
    // The scale's labels are known only after summing; reserve for a wide one.
    let plot = frame(c, top, bottom, &labels, colour_scale_width(c, 1, 999e9));
    let (x, y) = (plot.x_axis(t0 as f64, t1 as f64), plot.y_axis(lo, hi));
    let (size, n) = display_rows(
        lo,
        hi,
        grid.bin_size,
        (plot.bottom - plot.top) as f32,
        c.px(2.0),
    );
    let sums: Vec<Vec<f64>> = columns
        .iter()
        .map(|col| {
            sum_rows(&col.bins, lo, size, n)
                .into_iter()
                .map(|(l, s)| l + s)
                .collect()
        })
        .collect();
    let max = sums.iter().flatten().copied().fold(0.0, f64::max);
    c.fill_rect(
        plot.left,
        plot.top,
        plot.right,
        plot.bottom,
        VIRIDIS.at(0.0),
    );
    let last = columns[columns.len() - 1].price;
    // No grid lines: they would cut through the colour field.
    time_axis(c, &plot, &x, opts.time_zone, false);
    price_axis(
        c,
        &plot,
        &y,
        &labels,
        Some((y.map(last), c.px(12.0))),
        false,
    );
    for (i, (col, rows)) in columns.iter().zip(&sums).enumerate() {
        let x0 = x.map((col.ts_ms - step) as f64).round() as i32;
        let x1 = x.map(col.ts_ms as f64).round() as i32;
        let x0 = if i == 0 { plot.left } else { x0 };
        for (r, &usd) in rows.iter().enumerate() {
            if usd > 0.0 {
                let y0 = y.map(lo + size * (r + 1) as f64).round() as i32;
                let y1 = y.map(lo + size * r as f64).round() as i32;
                c.fill_rect(
                    x0,
                    y0,
                    x1.max(x0 + 1),
                    y1.max(y0 + 1),
                    VIRIDIS.at((usd / max).sqrt()),
                );
            }
        }
    }
    let points: Vec<(f32, f32)> = columns
        .iter()
        .filter(|col| col.price > 0.0 && col.price.is_finite())
        .map(|col| (x.map(col.ts_ms as f64), y.map(col.price)))
        .collect();
    let width = c.px(2.0).max(1.5);
    let strokes = [
        (width + 2.5, VIRIDIS.at(0.0)),
        (width, RGBColor(255, 255, 255)),
    ];
    c.polyline(&points, &strokes, plot.clip());
    price_tag(c, &plot, y.map(last), last);
    colour_scale(c, &plot, &[(VIRIDIS, "USD")], |t| max * t * t);
}
