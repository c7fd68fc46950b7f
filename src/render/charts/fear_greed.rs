//! The Fear & Greed gauge: a semicircle from 0 (extreme fear) to 100 (extreme greed) in five
//! bands with a needle at today's value, today's value and classification large under it, and
//! yesterday's and last week's readings beside it. Credits alternative.me.

use std::f32::consts::PI;

use plotters::style::RGBColor;

use super::axes::{MARGIN, footer, header};
use super::{Canvas, ChartError, ChartOptions, HAlign, TextStyle, VAlign, Weight, render};
use crate::market::fear_greed::FearGreedReading;
use crate::model::FearGreed;

/// The five bands: upper bound (exclusive, except the last), name and colour.
const BANDS: [(u8, &str, RGBColor); 5] = [
    (25, "Extreme Fear", RGBColor(220, 56, 52)),
    (47, "Fear", RGBColor(240, 132, 50)),
    (55, "Neutral", RGBColor(236, 196, 60)),
    (75, "Greed", RGBColor(140, 196, 72)),
    (101, "Extreme Greed", RGBColor(42, 168, 92)),
];

/// The band index for `value`.
fn band(value: f32) -> usize {
    BANDS
        .iter()
        .position(|&(upper, ..)| value < f32::from(upper))
        .unwrap_or(BANDS.len() - 1)
}

/// `colour` as text on the canvas: darker on a light background, where yellow and light green
/// would not read.
fn ink(c: &Canvas<'_>, colour: RGBColor) -> RGBColor {
    let bg = c.palette.background;
    if u16::from(bg.0) + u16::from(bg.1) + u16::from(bg.2) > 384 {
        let dim = |v: u8| (f32::from(v) * 0.72) as u8;
        RGBColor(dim(colour.0), dim(colour.1), dim(colour.2))
    } else {
        colour
    }
}

/// The gauge angle for `value`: π at 0 (left), 0 at 100 (right).
fn angle(value: f32) -> f32 {
    PI * (1.0 - value.clamp(0.0, 100.0) / 100.0)
}

/// Draws `reading` as a PNG gauge.
#[must_use = "the PNG bytes are the point of the call"]
pub fn fear_greed(reading: &FearGreedReading, opts: &ChartOptions) -> Result<Vec<u8>, ChartError> {
    render(opts, |c| draw(c, reading, opts))
}

fn draw(c: &mut Canvas<'_>, reading: &FearGreedReading, opts: &ChartOptions) {
    let date = chrono::DateTime::from_timestamp_millis(reading.today.ts_ms)
        .map(|d| format!("Reading for {}", d.format("%b %-d, %Y")))
        .unwrap_or_default();
    let top = header(c, "Crypto Fear & Greed Index", &[(&date, None)]) as f32;
    let bottom = footer(c, opts, "Data: alternative.me") as f32;
    let margin = c.px(MARGIN);
    let split = c.width as f32 * 0.64;

    // The gauge, as large as fits with its labels, the value under it, centred vertically.
    let label = TextStyle::new(c.font(15.0), Weight::Bold, c.palette.muted);
    let value_style = TextStyle::new(c.font(72.0), Weight::Bold, c.palette.text);
    let class_style = TextStyle::new(c.font(28.0), Weight::Bold, c.palette.text);
    let pop = c.px(8.0);
    let above = pop + c.px(16.0) + c.cap_height(label) + c.px(8.0);
    let below = c.px(30.0) + c.cap_height(value_style) + c.px(20.0) + c.cap_height(class_style);
    let radius = ((split - margin) / 2.0 - c.px(40.0))
        .min(bottom - top - above - below - c.px(16.0))
        .max(c.px(40.0));
    let slack = ((bottom - top) - (above + radius + below)).max(0.0);
    let centre = ((margin + split) / 2.0, top + slack * 0.4 + above + radius);
    let gauge = Gauge {
        centre,
        radius,
        pop,
    };
    let value = f32::from(reading.today.value);
    gauge.draw_bands(c, band(value));
    gauge.band_names(c, label);
    gauge.draw_needle(c, value);

    let colour = ink(c, BANDS[band(value)].2);
    let at = (centre.0, centre.1 + c.px(30.0));
    let v = c.text(
        &reading.today.value.to_string(),
        value_style,
        at,
        HAlign::Center,
        VAlign::Top,
    );
    let class = TextStyle {
        color: colour,
        ..class_style
    };
    let at = (centre.0, v.bottom + c.px(20.0));
    c.text(
        &reading.today.classification,
        class,
        at,
        HAlign::Center,
        VAlign::Top,
    );

    // Yesterday and last week, smaller, on the right, level with the gauge.
    let x = split + c.px(40.0);
    let mut y = centre.1 - radius * 0.8;
    for (name, past) in [
        ("Yesterday", &reading.yesterday),
        ("Last week", &reading.week_ago),
    ] {
        past_reading(c, (x, y), name, past.as_ref());
        y += radius * 0.75;
    }
}

/// Where the gauge is: its centre, outer radius, and how far the current band stands out.
struct Gauge {
    centre: (f32, f32),
    radius: f32,
    pop: f32,
}

impl Gauge {
    /// The five bands as an anti-aliased ring with a small gap between bands; the `current`
    /// band stands out beyond the others.
    fn draw_bands(&self, c: &mut Canvas<'_>, current: usize) {
        let ((cx, cy), radius) = (self.centre, self.radius);
        let inner = radius * 0.66;
        let outer = radius + self.pop;
        let gap = c.px(1.5).max(1.0);
        // Band boundaries as unit rays from the centre: a point's signed distance to one is a
        // cross product, negative once the point is past it (towards greed). No trigonometry
        // per pixel.
        let rays: Vec<(f32, f32)> = BANDS[..BANDS.len() - 1]
            .iter()
            .map(|&(upper, ..)| {
                let b = angle(f32::from(upper));
                (b.cos(), b.sin())
            })
            .collect();
        let (near, far) = ((inner - 1.0).max(0.0).powi(2), (outer + 1.0).powi(2));
        for py in (cy - outer - 1.0) as i32..=(cy + 1.0) as i32 {
            for px in (cx - outer - 1.0) as i32..=(cx + outer + 1.0) as i32 {
                let (dx, dy) = (px as f32 + 0.5 - cx, cy - (py as f32 + 0.5));
                let r2 = dx * dx + dy * dy;
                if r2 > far || r2 < near || dy < -1.0 {
                    continue;
                }
                let r = r2.sqrt();
                let (mut index, mut edge_distance) = (0, f32::INFINITY);
                for &(cos, sin) in &rays {
                    let side = cos * dy - sin * dx;
                    index += usize::from(side < 0.0);
                    edge_distance = edge_distance.min(side.abs());
                }
                let edge = if index == current { outer } else { radius };
                let ring = (edge - r + 0.5).clamp(0.0, 1.0) * (r - inner + 0.5).clamp(0.0, 1.0);
                let base = (dy + 0.5).clamp(0.0, 1.0);
                let coverage = ring * base * (edge_distance - gap + 0.5).clamp(0.0, 1.0);
                c.blend(px, py, BANDS[index].2, coverage);
            }
        }
    }

    /// Band names: the two extremes under the ends of the ring, the others outside it at
    /// their band's middle.
    fn band_names(&self, c: &mut Canvas<'_>, style: TextStyle) {
        let ((cx, cy), radius) = (self.centre, self.radius);
        let end = radius * 0.83;
        let below = cy + c.px(12.0);
        let last = BANDS.len() - 1;
        let mut lower = 0u8;
        for (i, &(upper, name, color)) in BANDS.iter().enumerate() {
            let style = TextStyle {
                color: ink(c, color),
                ..style
            };
            let mid = angle((f32::from(lower) + f32::from(upper.min(100))) / 2.0);
            lower = upper;
            if i == 0 || i == last {
                let x = if i == 0 { cx - end } else { cx + end };
                c.text(name, style, (x, below), HAlign::Center, VAlign::Top);
                continue;
            }
            let r = radius + self.pop + c.px(14.0);
            let at = (cx + r * mid.cos(), cy - r * mid.sin());
            let h = match mid.cos() {
                x if x < -0.3 => HAlign::Right,
                x if x > 0.3 => HAlign::Left,
                _ => HAlign::Center,
            };
            c.text(name, style, at, h, VAlign::Baseline);
        }
    }

    /// A tapered needle from the centre to `value`, with a round hub.
    fn draw_needle(&self, c: &mut Canvas<'_>, value: f32) {
        let ((cx, cy), radius) = (self.centre, self.radius);
        let theta = angle(value);
        let (ux, uy) = (theta.cos(), -theta.sin());
        let length = radius * 0.9;
        let (base, tip) = (c.px(7.0).max(3.0), c.px(1.5).max(1.0));
        let hub = c.px(13.0).max(5.0);
        let colour = c.palette.text;
        let (tx, ty) = (cx + ux * length, cy + uy * length);
        let pad = hub + 2.0;
        for py in (cy.min(ty) - pad) as i32..=(cy.max(ty) + pad) as i32 {
            for px in (cx.min(tx) - pad) as i32..=(cx.max(tx) + pad) as i32 {
                let (dx, dy) = (px as f32 + 0.5 - cx, py as f32 + 0.5 - cy);
                let along = dx * ux + dy * uy;
                let across = (dx * uy - dy * ux).abs();
                let half = base + (tip - base) * (along / length).clamp(0.0, 1.0);
                let needle = if (0.0..=length + 1.0).contains(&along) {
                    (half - across + 0.5).clamp(0.0, 1.0) * (length - along + 0.5).clamp(0.0, 1.0)
                } else {
                    0.0
                };
                let disc = (hub - dx.hypot(dy) + 0.5).clamp(0.0, 1.0);
                c.blend(px, py, colour, needle.max(disc));
            }
        }
    }
}

/// One earlier reading: its name, value and classification; "n/a" when missing.
fn past_reading(c: &mut Canvas<'_>, (x, y): (f32, f32), name: &str, reading: Option<&FearGreed>) {
    let name_style = TextStyle::new(c.font(18.0), Weight::Regular, c.palette.muted);
    let n = c.text(name, name_style, (x, y), HAlign::Left, VAlign::Top);
    let value_style = TextStyle::new(c.font(44.0), Weight::Bold, c.palette.text);
    let at = (x, n.bottom + c.px(16.0));
    let Some(reading) = reading else {
        c.text(
            "n/a",
            TextStyle {
                color: c.palette.muted,
                ..value_style
            },
            at,
            HAlign::Left,
            VAlign::Top,
        );
        return;
    };
    let v = c.text(
        &reading.value.to_string(),
        value_style,
        at,
        HAlign::Left,
        VAlign::Top,
    );
    let colour = ink(c, BANDS[band(f32::from(reading.value))].2);
    let class_style = TextStyle::new(c.font(22.0), Weight::Bold, colour);
    c.text(
        &reading.classification,
        class_style,
        (v.right + c.px(16.0), v.bottom),
        HAlign::Left,
        VAlign::Baseline,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_follow_the_index_scale() {
        let names: Vec<&str> = [0.0, 24.0, 25.0, 50.0, 60.0, 75.0, 100.0]
            .into_iter()
            .map(|v| BANDS[band(v)].1)
            .collect();
        assert_eq!(
            names,
            [
                "Extreme Fear",
                "Extreme Fear",
                "Fear",
                "Neutral",
                "Greed",
                "Extreme Greed",
                "Extreme Greed"
            ]
        );
        assert_eq!(angle(0.0), PI);
        assert_eq!(angle(100.0), 0.0);
    }
}
