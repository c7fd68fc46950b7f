//! Shared chart furniture: the title block, the footer, the plot frame, price and time axes,
//! the current-price tag, the colour scale and the "No data" panel. Sizes are given at
//! 1200x700 and scaled by the canvas.

use chrono::{DateTime, Offset, Timelike};
use chrono_tz::Tz;
use plotters::style::RGBColor;

use super::{Canvas, ChartOptions, HAlign, Ramp, TextStyle, VAlign, Weight};
use crate::render::format::{money, price};

/// Outer margin at 1200x700.
pub(crate) const MARGIN: f32 = 24.0;
/// Axis label size at 1200x700.
pub(crate) const LABEL: f32 = 14.0;

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// A linear map from data values `lo..hi` to pixels `from..to`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Axis {
    pub lo: f64,
    pub hi: f64,
    pub from: f32,
    pub to: f32,
}

impl Axis {
    fn span(&self) -> f64 {
        if self.hi > self.lo {
            self.hi - self.lo
        } else {
            1.0
        }
    }

    /// The pixel for value `v`.
    pub(crate) fn map(&self, v: f64) -> f32 {
        self.from + ((v - self.lo) / self.span()) as f32 * (self.to - self.from)
    }

    /// The value at pixel `px`.
    pub(crate) fn unmap(&self, px: f32) -> f64 {
        let pixels = if self.to == self.from {
            1.0
        } else {
            self.to - self.from
        };
        self.lo + f64::from((px - self.from) / pixels) * self.span()
    }
}

/// The plot rectangle in pixels (right and bottom exclusive).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plot {
    pub left: i32,
    pub top: i32,
    pub right: i32,
    pub bottom: i32,
}

impl Plot {
    pub(crate) fn clip(&self) -> (i32, i32, i32, i32) {
        (self.left, self.top, self.right, self.bottom)
    }

    /// The x axis for `lo..hi`, left to right.
    pub(crate) fn x_axis(&self, lo: f64, hi: f64) -> Axis {
        Axis {
            lo,
            hi,
            from: self.left as f32,
            to: self.right as f32,
        }
    }

    /// The y axis for `lo..hi`, bottom to top.
    pub(crate) fn y_axis(&self, lo: f64, hi: f64) -> Axis {
        Axis {
            lo,
            hi,
            from: self.bottom as f32,
            to: self.top as f32,
        }
    }
}

pub(crate) fn label_style(c: &Canvas<'_>) -> TextStyle {
    TextStyle::new(c.font(LABEL), Weight::Regular, c.palette.muted)
}

/// Draws the title and subtitle; returns the y where the content may start.
pub(crate) fn header(
    c: &mut Canvas<'_>,
    title: &str,
    subtitle: &[(&str, Option<RGBColor>)],
) -> i32 {
    let margin = c.px(MARGIN);
    let title_style = TextStyle::new(c.font(26.0), Weight::Bold, c.palette.text);
    let b = c.text(
        title,
        title_style,
        (margin, margin),
        HAlign::Left,
        VAlign::Top,
    );
    let sub = TextStyle::new(c.font(15.0), Weight::Regular, c.palette.muted);
    let mut x = margin;
    let y = b.bottom + c.px(14.0);
    for (part, color) in subtitle {
        let style = TextStyle {
            color: color.unwrap_or(sub.color),
            ..sub
        };
        x = c.text(part, style, (x, y), HAlign::Left, VAlign::Top).right;
    }
    (y + c.cap_height(sub) + c.px(20.0)) as i32
}

/// Draws the footer: `note` on the left, the bot's name and the time on the right. Returns the
/// y above it.
pub(crate) fn footer(c: &mut Canvas<'_>, opts: &ChartOptions, note: &str) -> i32 {
    let style = TextStyle::new(c.font(13.0), Weight::Regular, c.palette.muted);
    let y = c.height as f32 - c.px(MARGIN * 0.6);
    let margin = c.px(MARGIN);
    let stamp = format!(
        "{} · {}",
        opts.bot_name,
        timestamp(opts.now_ms, opts.time_zone)
    );
    let right = c.text(
        &stamp,
        style,
        (c.width as f32 - margin, y),
        HAlign::Right,
        VAlign::Baseline,
    );
    if !note.is_empty() && c.text_width(note, style) < right.left - margin * 2.0 {
        c.text(note, style, (margin, y), HAlign::Left, VAlign::Baseline);
    }
    (right.top - c.px(10.0)) as i32
}

/// `ms` as `2025-01-05 14:32 UTC` in `tz`.
pub(crate) fn timestamp(ms: i64, tz: Tz) -> String {
    local(ms, tz).format("%Y-%m-%d %H:%M %Z").to_string()
}

fn local(ms: i64, tz: Tz) -> DateTime<Tz> {
    DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .with_timezone(&tz)
}

/// A step of 1, 2, 2.5 or 5 times a power of ten that cuts `span` into at most `max_ticks`.
pub(crate) fn nice_step(span: f64, max_ticks: usize) -> f64 {
    let raw = span / max_ticks.max(1) as f64;
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let base = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * base)
        .find(|&s| s >= raw)
        .unwrap_or(10.0 * base)
}

/// Multiples of `step` inside `lo..=hi`; none for a range that is not finite or would need
/// more than a thousand.
pub(crate) fn ticks(lo: f64, hi: f64, step: f64) -> Vec<f64> {
    let (first, last) = ((lo / step).ceil(), (hi / step).floor());
    if !(first.is_finite() && last.is_finite() && step > 0.0) || last - first > 1_000.0 {
        return Vec::new();
    }
    (first as i64..=last as i64)
        .map(|i| i as f64 * step)
        .collect()
}

/// A price tick label: [`price`], without a fractional part when the step is whole.
pub(crate) fn price_tick(p: f64, step: f64) -> String {
    let text = price(p);
    if step >= 1.0 {
        text.split('.').next().unwrap_or(&text).to_owned()
    } else {
        text
    }
}

/// An axis label in USD: [`money`] without a fractional part of zeros (`$25M`, `$12.50M`).
pub(crate) fn money_tick(usd: f64) -> String {
    let text = money(usd);
    match text.find(".00") {
        Some(i) => format!("{}{}", &text[..i], &text[i + 3..]),
        None => text,
    }
}

/// Price ticks for `lo..hi` on a plot `height` pixels high: the step and the labelled values.
pub(crate) fn price_ticks(
    c: &Canvas<'_>,
    lo: f64,
    hi: f64,
    height: f32,
) -> (f64, Vec<(f64, String)>) {
    let max_ticks = ((height / c.px(55.0)) as usize).max(2);
    let step = nice_step(hi - lo, max_ticks);
    let labels = ticks(lo, hi, step)
        .into_iter()
        .map(|p| (p, price_tick(p, step)))
        .collect();
    (step, labels)
}

/// The plot rectangle between `top` and `bottom` (the footer's top), leaving room on the
/// left for `labels` and `right_reserve` pixels on the right.
pub(crate) fn frame(
    c: &Canvas<'_>,
    top: i32,
    bottom: i32,
    labels: &[(f64, String)],
    right_reserve: f32,
) -> Plot {
    let style = label_style(c);
    let widest = labels
        .iter()
        .map(|(_, l)| c.text_width(l, style))
        .fold(c.px(60.0), f32::max);
    let margin = c.px(MARGIN);
    Plot {
        left: (margin + widest + c.px(14.0)) as i32,
        top,
        right: (c.width as f32 - margin - right_reserve) as i32,
        bottom: bottom - (c.cap_height(style) + c.px(16.0)) as i32,
    }
}

/// Labels at the price ticks, with horizontal grid lines when `grid`; labels within `avoid`
/// (a y and half a height: the price tag) are left out.
pub(crate) fn price_axis(
    c: &mut Canvas<'_>,
    plot: &Plot,
    y: &Axis,
    labels: &[(f64, String)],
    avoid: Option<(f32, f32)>,
    grid: bool,
) {
    let style = label_style(c);
    let colour = c.palette.grid;
    for (p, label) in labels {
        let py = y.map(*p);
        if grid {
            c.hline(plot.left, plot.right, py.round() as i32, colour);
        }
        if avoid.is_some_and(|(ay, half)| (py - ay).abs() < half + c.cap_height(style)) {
            continue;
        }
        let at = (plot.left as f32 - c.px(10.0), py);
        c.text(label, style, at, HAlign::Right, VAlign::Middle);
    }
}

/// Time ticks for `t0..=t1` in `tz`: at most `max_ticks`, aligned to local whole minutes,
/// hours or days; labelled `14:00`, or `Jan 5` at midnight and for steps of a day or more.
pub(crate) fn time_ticks(t0: i64, t1: i64, tz: Tz, max_ticks: usize) -> Vec<(i64, String)> {
    const STEPS: [i64; 15] = [
        5 * MINUTE,
        10 * MINUTE,
        15 * MINUTE,
        30 * MINUTE,
        HOUR,
        2 * HOUR,
        3 * HOUR,
        4 * HOUR,
        6 * HOUR,
        12 * HOUR,
        DAY,
        2 * DAY,
        7 * DAY,
        14 * DAY,
        30 * DAY,
    ];
    let span = (t1 - t0).max(1);
    let max_ticks = max_ticks.max(1) as i64;
    let step = STEPS
        .into_iter()
        .find(|s| span / s <= max_ticks)
        .unwrap_or_else(|| (span / max_ticks / DAY + 1) * DAY);
    let start = local(t0, tz);
    let offset = i64::from(start.offset().fix().local_minus_utc()) * 1000;
    let mut t = (t0 + offset).div_euclid(step) * step - offset;
    if t < t0 {
        t += step;
    }
    let mut out = Vec::new();
    while t <= t1 {
        let at = local(t, tz);
        let midnight = at.hour() == 0 && at.minute() == 0;
        let format = if step >= DAY || midnight {
            "%b %-d"
        } else {
            "%H:%M"
        };
        out.push((t, at.format(format).to_string()));
        t += step;
    }
    out
}

/// Time labels under the plot in `tz`, with vertical grid lines when `grid`.
pub(crate) fn time_axis(c: &mut Canvas<'_>, plot: &Plot, x: &Axis, tz: Tz, grid: bool) {
    let style = label_style(c);
    let max_ticks = (((plot.right - plot.left) as f32 / c.px(110.0)) as usize).max(2);
    let colour = c.palette.grid;
    for (t, label) in time_ticks(x.lo as i64, x.hi as i64, tz, max_ticks) {
        let px = x.map(t as f64);
        if grid {
            c.vline(px.round() as i32, plot.top, plot.bottom, colour);
        }
        let half = c.text_width(&label, style) / 2.0;
        if px - half < plot.left as f32 - c.px(8.0) || px + half > c.width as f32 - c.px(4.0) {
            continue;
        }
        c.text(
            &label,
            style,
            (px, plot.bottom as f32 + c.px(10.0)),
            HAlign::Center,
            VAlign::Top,
        );
    }
}

/// A tag with the current price on the left axis at `y`; returns its y and half height for
/// [`price_axis`] to keep clear of.
pub(crate) fn price_tag(c: &mut Canvas<'_>, plot: &Plot, y: f32, p: f64) -> (f32, f32) {
    let style = TextStyle::new(c.font(LABEL), Weight::Bold, c.palette.background);
    let text = price(p);
    let half = (c.cap_height(style) / 2.0 + c.px(5.0)).round();
    let right = plot.left as f32 - c.px(2.0);
    let left = (right - c.text_width(&text, style) - c.px(14.0)).max(0.0);
    let fill = c.palette.price_line;
    c.fill_rect(
        left as i32,
        (y - half) as i32,
        right as i32,
        (y + half) as i32,
        fill,
    );
    c.text(
        &text,
        style,
        ((left + right) / 2.0, y),
        HAlign::Center,
        VAlign::Middle,
    );
    (y, half)
}

/// The width a [`colour_scale`] with `bars` bars needs for labels up to `max_usd`.
pub(crate) fn colour_scale_width(c: &Canvas<'_>, bars: usize, max_usd: f64) -> f32 {
    let style = label_style(c);
    let label = c
        .text_width(&money(max_usd), style)
        .max(c.text_width("$000K", style));
    bars as f32 * c.px(14.0) + c.px(10.0) + label + c.px(22.0)
}

/// A vertical colour scale right of the plot: one bar per ramp (with its short name over it),
/// labelled with money at five points; `usd_at(t)` gives the USD at ramp position `t`.
pub(crate) fn colour_scale(
    c: &mut Canvas<'_>,
    plot: &Plot,
    ramps: &[(Ramp, &str)],
    usd_at: impl Fn(f64) -> f64,
) {
    let bar = c.px(14.0);
    let x0 = plot.right as f32 + c.px(18.0);
    let top = plot.top as f32 + c.px(22.0);
    let bottom = plot.bottom as f32;
    let small = TextStyle::new(c.font(12.0), Weight::Bold, c.palette.muted);
    for (i, (ramp, name)) in ramps.iter().enumerate() {
        let left = (x0 + i as f32 * bar) as i32;
        let right = (x0 + (i + 1) as f32 * bar) as i32 - 1;
        for y in top as i32..bottom as i32 {
            let t = f64::from((bottom - y as f32) / (bottom - top));
            c.fill_rect(left, y, right, y + 1, ramp.at(t));
        }
        let style = TextStyle {
            color: ramp.at(0.8),
            ..small
        };
        let centre = (left + right) as f32 / 2.0;
        c.text(
            name,
            style,
            (centre, top - c.px(8.0)),
            HAlign::Center,
            VAlign::Baseline,
        );
    }
    let style = label_style(c);
    let lx = x0 + ramps.len() as f32 * bar + c.px(8.0);
    for i in 0..=4 {
        let t = f64::from(i) / 4.0;
        let y = bottom - (bottom - top) * t as f32;
        c.text(
            &money(usd_at(t)),
            style,
            (lx, y),
            HAlign::Left,
            VAlign::Middle,
        );
    }
}

/// The whole chart for empty input: the title, "No data" in the middle, the footer.
pub(crate) fn no_data(c: &mut Canvas<'_>, opts: &ChartOptions, title: &str, detail: &str) {
    let top = header(c, title, &[(detail, None)]);
    let bottom = footer(c, opts, "");
    let margin = c.px(MARGIN) as i32;
    let panel = c.palette.panel;
    c.fill_rect(margin, top, c.width - margin, bottom, panel);
    let style = TextStyle::new(c.font(40.0), Weight::Bold, c.palette.muted);
    let centre = (c.width as f32 / 2.0, (top + bottom) as f32 / 2.0);
    c.text("No data", style, centre, HAlign::Center, VAlign::Middle);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_steps_are_round() {
        assert_eq!(nice_step(1_000.0, 5), 200.0);
        assert_eq!(nice_step(9_000.0, 4), 2_500.0);
        assert_eq!(nice_step(0.07, 7), 0.01);
        assert_eq!(
            ticks(94_120.0, 95_000.0, 250.0),
            vec![94_250.0, 94_500.0, 94_750.0, 95_000.0]
        );
        assert_eq!(price_tick(94_500.0, 250.0), "$94,500");
    }

    #[test]
    fn time_ticks_fall_on_local_hours() {
        let tz: Tz = "Asia/Kolkata".parse().unwrap(); // UTC+5:30
        let t0 = 1_736_000_000_000; // 2025-01-04 14:13:20 UTC
        let got = time_ticks(t0, t0 + DAY, tz, 6);
        assert_eq!(got.len(), 6);
        assert!(
            got.iter()
                .all(|(t, _)| (t + 5 * HOUR + 30 * MINUTE) % (4 * HOUR) == 0)
        );
        assert!(got.iter().any(|(_, l)| l == "Jan 5"), "{got:?}");
        // Spans beyond a month still give a handful of ticks.
        assert!(time_ticks(0, 3_000 * DAY, Tz::UTC, 8).len() <= 9);
    }
}
