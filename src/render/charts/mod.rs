//! Charts: pure functions from the analytics models to PNG images held in memory.
//!
//! Every chart is drawn on a `Canvas`: plotters' [`BitMapBackend`] over an RGB buffer for
//! rectangles and pixels, our own anti-aliased lines and arcs, and text laid out and rasterised
//! by [`text`] with the embedded DejaVu Sans. plotters' own ab_glyph text path ignores each
//! glyph's left side bearing, so charts never draw text through it. (A `DrawingBackend` wrapper
//! that overrides `draw_text` would need the `plotters-backend` types, which plotters does not
//! re-export.) The layout is pixel-based and scales with the configured size; the axes, title
//! block, colour scale and footer shared by the charts live in `axes`.

mod axes;
mod fear_greed;
mod heatmap;
mod levels;
pub mod text;

use std::fmt::Display;

use chrono_tz::Tz;
use plotters::backend::BitMapBackend;
use plotters::prelude::DrawingBackend;
use plotters::style::{Color, RGBColor};
use serde::{Deserialize, Serialize};

pub use fear_greed::fear_greed;
pub use heatmap::realised_heatmap;
pub use levels::{level_map, levels_heatmap};
pub(crate) use text::{HAlign, TextStyle, VAlign, Weight};

/// The largest width or height a chart may have, in pixels.
pub const MAX_SIDE: u32 = 8_192;

/// Colours for a chart.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Theme {
    /// Dark background, light text: readable on a phone in dark mode.
    #[default]
    Dark,
    /// Light background, dark text.
    Light,
}

/// What every chart needs besides its data.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartOptions {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Colours.
    pub theme: Theme,
    /// The name in the footer.
    pub bot_name: String,
    /// The zone for times on axes and in the footer.
    pub time_zone: Tz,
    /// The time printed in the footer, ms since the Unix epoch.
    pub now_ms: i64,
}

impl Default for ChartOptions {
    fn default() -> Self {
        Self {
            width: 1200,
            height: 700,
            theme: Theme::Dark,
            bot_name: "liqbot".to_owned(),
            time_zone: Tz::UTC,
            now_ms: 0,
        }
    }
}

/// Why a chart could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    /// The configured size is zero or above [`MAX_SIDE`]; fix the configuration.
    #[error("chart size {width}x{height} is not between 1x1 and {MAX_SIDE}x{MAX_SIDE}")]
    InvalidSize {
        /// The configured width.
        width: u32,
        /// The configured height.
        height: u32,
    },
    /// The embedded font could not be loaded: a broken build, not a runtime condition.
    #[error("the embedded font could not be loaded")]
    Font,
    /// The bitmap backend failed while drawing.
    #[error("drawing failed: {0}")]
    Draw(String),
    /// The image could not be encoded as PNG.
    #[error("PNG encoding failed: {0}")]
    Encode(String),
}

/// A colour ramp: evenly spaced stops, interpolated linearly.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ramp(&'static [(u8, u8, u8)]);

impl Ramp {
    /// The colour at `t` in 0..=1 (clamped).
    pub(crate) fn at(self, t: f64) -> RGBColor {
        let stops = self.0;
        let t = if t.is_finite() {
            t.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let pos = t * (stops.len() - 1) as f64;
        let i = (pos.floor() as usize).min(stops.len() - 2);
        let f = pos - i as f64;
        let (a, b) = (stops[i], stops[i + 1]);
        let mix = |x: u8, y: u8| (f64::from(x) + (f64::from(y) - f64::from(x)) * f).round() as u8;
        RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
    }
}

/// Viridis, for the levels-over-time heatmap (what readers know from market heatmaps).
pub(crate) const VIRIDIS: Ramp = Ramp(&[
    (46, 8, 72),
    (64, 42, 124),
    (52, 94, 141),
    (33, 145, 140),
    (68, 190, 112),
    (170, 220, 50),
    (253, 231, 37),
]);

/// The colours of one theme.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Palette {
    pub background: RGBColor,
    pub panel: RGBColor,
    pub grid: RGBColor,
    pub text: RGBColor,
    pub muted: RGBColor,
    pub long: RGBColor,
    pub short: RGBColor,
    pub long_ramp: Ramp,
    pub short_ramp: Ramp,
    pub price_line: RGBColor,
}

impl Palette {
    fn of(theme: Theme) -> Self {
        match theme {
            Theme::Dark => Self {
                background: RGBColor(17, 20, 28),
                panel: RGBColor(25, 29, 40),
                grid: RGBColor(48, 54, 70),
                text: RGBColor(232, 235, 242),
                muted: RGBColor(150, 157, 175),
                long: RGBColor(240, 96, 72),
                short: RGBColor(38, 200, 160),
                long_ramp: Ramp(&[(92, 36, 36), (196, 58, 44), (246, 128, 52), (255, 226, 130)]),
                short_ramp: Ramp(&[
                    (22, 74, 76),
                    (20, 140, 128),
                    (44, 208, 160),
                    (190, 255, 226),
                ]),
                price_line: RGBColor(245, 245, 250),
            },
            Theme::Light => Self {
                background: RGBColor(255, 255, 255),
                panel: RGBColor(246, 247, 250),
                grid: RGBColor(222, 225, 232),
                text: RGBColor(24, 27, 36),
                muted: RGBColor(96, 102, 118),
                long: RGBColor(214, 64, 44),
                short: RGBColor(18, 150, 118),
                long_ramp: Ramp(&[
                    (252, 212, 190),
                    (244, 140, 92),
                    (212, 58, 40),
                    (122, 16, 16),
                ]),
                short_ramp: Ramp(&[(196, 238, 224), (88, 200, 166), (18, 142, 112), (6, 76, 64)]),
                price_line: RGBColor(20, 22, 30),
            },
        }
    }
}

/// A drawing surface: plotters' bitmap backend over an RGB buffer, with the chart's palette and
/// a scale factor for sizes (1.0 at 1200x700). The first backend error is kept and reported by
/// [`render`], so drawing code stays free of error plumbing.
pub(crate) struct Canvas<'a> {
    backend: BitMapBackend<'a>,
    pub width: i32,
    pub height: i32,
    pub palette: Palette,
    pub scale: f32,
    error: Option<String>,
}

impl<'a> Canvas<'a> {
    /// A canvas over `buf` (`width * height * 3` bytes, RGB).
    pub(crate) fn new(buf: &'a mut [u8], width: u32, height: u32, theme: Theme) -> Self {
        let scale = (width as f32 / 1200.0)
            .min(height as f32 / 700.0)
            .clamp(0.5, 4.0);
        Self {
            backend: BitMapBackend::with_buffer(buf, (width, height)),
            width: width as i32,
            height: height as i32,
            palette: Palette::of(theme),
            scale,
            error: None,
        }
    }

    fn check<E: Display>(&mut self, result: Result<(), E>) {
        if let Err(e) = result {
            self.error.get_or_insert_with(|| e.to_string());
        }
    }

    /// `v` pixels at 1200x700, scaled to this canvas.
    pub(crate) fn px(&self, v: f32) -> f32 {
        v * self.scale
    }

    /// A font size of `v` pixels at 1200x700, scaled, and never below 10 px.
    pub(crate) fn font(&self, v: f32) -> f32 {
        (v * self.scale).max(10.0)
    }

    /// Fills `x0..x1` by `y0..y1` (exclusive ends).
    pub(crate) fn fill_rect(&mut self, x0: i32, y0: i32, x1: i32, y1: i32, color: RGBColor) {
        let result = self.backend.draw_rect((x0, y0), (x1, y1), &color, true);
        self.check(result);
    }

    /// Blends `color` over the pixel at `x`, `y` with opacity `alpha` (0..=1).
    pub(crate) fn blend(&mut self, x: i32, y: i32, color: RGBColor, alpha: f32) {
        if alpha <= 0.0 || x < 0 || y < 0 || x >= self.width || y >= self.height {
            return;
        }
        let result = self.backend.draw_pixel(
            (x, y),
            color.mix(f64::from(alpha.min(1.0))).to_backend_color(),
        );
        self.check(result);
    }

    /// A horizontal line one pixel high from `x0` to `x1` (exclusive).
    pub(crate) fn hline(&mut self, x0: i32, x1: i32, y: i32, color: RGBColor) {
        self.fill_rect(x0, y, x1, y + 1, color);
    }

    /// A vertical line one pixel wide from `y0` to `y1` (exclusive).
    pub(crate) fn vline(&mut self, x: i32, y0: i32, y1: i32, color: RGBColor) {
        self.fill_rect(x, y0, x + 1, y1, color);
    }

    /// An anti-aliased polyline through `points` in one or more `strokes` (the first drawn
    /// lowest, e.g. a dark halo under a light line), clipped to `clip` (x0, y0, x1, y1).
    /// Coverage is the maximum over segments, so joints are not drawn twice.
    pub(crate) fn polyline(
        &mut self,
        points: &[(f32, f32)],
        strokes: &[(f32, RGBColor)],
        clip: (i32, i32, i32, i32),
    ) {
        let widest = strokes.iter().map(|s| s.0).fold(0.0, f32::max);
        let reach = widest / 2.0 + 1.0;
        let (lo, hi) = points.iter().fold(
            (
                (f32::INFINITY, f32::INFINITY),
                (f32::NEG_INFINITY, f32::NEG_INFINITY),
            ),
            |(lo, hi), &(x, y)| ((lo.0.min(x), lo.1.min(y)), (hi.0.max(x), hi.1.max(y))),
        );
        let (mx0, my0) = (
            ((lo.0 - reach).floor() as i32).max(clip.0),
            ((lo.1 - reach).floor() as i32).max(clip.1),
        );
        let (mx1, my1) = (
            ((hi.0 + reach).ceil() as i32).min(clip.2),
            ((hi.1 + reach).ceil() as i32).min(clip.3),
        );
        if points.len() < 2 || strokes.is_empty() || mx1 <= mx0 || my1 <= my0 {
            return;
        }
        let mw = (mx1 - mx0) as usize;
        // The nearest distance to the line per pixel, in 1/16 px, saturating.
        let mut nearest = vec![u16::MAX; mw * (my1 - my0) as usize];
        for seg in points.windows(2) {
            let ((ax, ay), (bx, by)) = (seg[0], seg[1]);
            let x0 = ((ax.min(bx) - reach).floor() as i32).max(mx0);
            let x1 = ((ax.max(bx) + reach).ceil() as i32).min(mx1);
            let y0 = ((ay.min(by) - reach).floor() as i32).max(my0);
            let y1 = ((ay.max(by) + reach).ceil() as i32).min(my1);
            for y in y0..y1 {
                let row = (y - my0) as usize * mw;
                for x in x0..x1 {
                    let d = segment_distance((x as f32 + 0.5, y as f32 + 0.5), seg[0], seg[1]);
                    let cell = &mut nearest[row + (x - mx0) as usize];
                    *cell = (*cell).min((d * 16.0).min(65_535.0) as u16);
                }
            }
        }
        for &(width, color) in strokes {
            let half = width / 2.0;
            let limit = ((half + 0.5) * 16.0).ceil() as u16;
            for (i, &d) in nearest.iter().enumerate() {
                if d >= limit {
                    continue;
                }
                let coverage = (half + 0.5 - f32::from(d) / 16.0).clamp(0.0, 1.0);
                if coverage > 0.0 {
                    let (x, y) = ((i % mw) as i32 + mx0, (i / mw) as i32 + my0);
                    self.blend(x, y, color, coverage);
                }
            }
        }
    }

    /// A dashed horizontal line at `y` from `x0` to `x1`.
    pub(crate) fn dashed_hline(&mut self, x0: i32, x1: i32, y: i32, color: RGBColor) {
        let (dash, gap) = (self.px(8.0).max(4.0) as i32, self.px(5.0).max(3.0) as i32);
        let mut x = x0;
        while x < x1 {
            self.fill_rect(x, y, (x + dash).min(x1), y + 2, color);
            x += dash + gap;
        }
    }
}

/// Distance from `p` to the segment `a`-`b`.
fn segment_distance(p: (f32, f32), a: (f32, f32), b: (f32, f32)) -> f32 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 {
        (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (qx, qy) = (a.0 + t * dx - p.0, a.1 + t * dy - p.1);
    (qx * qx + qy * qy).sqrt()
}

/// Draws a chart of `opts`' size and theme with `draw` and encodes it as PNG.
pub(crate) fn render(
    opts: &ChartOptions,
    draw: impl FnOnce(&mut Canvas<'_>),
) -> Result<Vec<u8>, ChartError> {
    let (width, height) = (opts.width, opts.height);
    if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
        return Err(ChartError::InvalidSize { width, height });
    }
    text::fonts()?;
    let mut buf = vec![0u8; width as usize * height as usize * 3];
    {
        let mut canvas = Canvas::new(&mut buf, width, height, opts.theme);
        let background = canvas.palette.background;
        canvas.fill_rect(0, 0, canvas.width, canvas.height, background);
        draw(&mut canvas);
        if let Some(e) = canvas.error {
            return Err(ChartError::Draw(e));
        }
    }
    encode_png(&buf, width, height)
}

/// Encodes an RGB buffer as PNG.
///
/// Neither plotters nor a direct dependency of ours exposes an in-memory PNG encoder, so this
/// goes through plotters' file target (the `image` crate) and a private temporary file. With
/// `png` as a direct dependency this becomes an in-memory `png::Encoder` over a `Vec<u8>`.
fn encode_png(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>, ChartError> {
    let encode = |e: &dyn Display| ChartError::Encode(e.to_string());
    let mut out = Vec::with_capacity(rgb.len() / 8);
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fast);
    let mut writer = encoder.write_header().map_err(|e| encode(&e))?;
    writer.write_image_data(rgb).map_err(|e| encode(&e))?;
    writer.finish().map_err(|e| encode(&e))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn themes_are_lowercase_in_config() {
        let themes: Vec<Theme> = serde_json::from_str(r#"["dark", "light"]"#).unwrap();
        assert_eq!(themes, [Theme::Dark, Theme::Light]);
        assert_eq!(
            serde_json::to_string(&Theme::default()).unwrap(),
            r#""dark""#
        );
    }

    #[test]
    fn ramps_interpolate_between_their_stops() {
        let ramp = Ramp(&[(0, 0, 0), (100, 200, 250)]);
        assert_eq!(ramp.at(0.0), RGBColor(0, 0, 0));
        assert_eq!(ramp.at(0.5), RGBColor(50, 100, 125));
        assert_eq!(ramp.at(7.0), RGBColor(100, 200, 250));
        assert_eq!(ramp.at(f64::NAN), RGBColor(0, 0, 0));
    }
}
