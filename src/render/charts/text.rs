//! Text for the charts: the embedded DejaVu Sans (from the `dejavu` crate, never a system
//! font), laid out and rasterised with ab_glyph.
//!
//! plotters' ab_glyph text path places each glyph's bitmap at the pen position and ignores the
//! glyph's left side bearing, so letters come out unevenly spaced ("B TCUSDT"). Here each glyph
//! is positioned at pen + kerning, outlined at that exact (sub-pixel) position, and its
//! coverage is drawn from the outline's pixel bounds, which include the bearing. The fonts are
//! also registered with plotters under [`FONT_FAMILY`], so any plotters text resolves to the
//! same embedded face.

use std::sync::OnceLock;

use ab_glyph::{Font, FontRef, Glyph, PxScale, ScaleFont, point};
use plotters::style::{FontStyle, RGBColor, register_font};

use super::{Canvas, ChartError};

/// The family name the embedded fonts are registered under with plotters.
pub const FONT_FAMILY: &str = "DejaVu Sans";

/// The parsed embedded fonts.
pub(crate) struct Fonts {
    regular: FontRef<'static>,
    bold: FontRef<'static>,
}

static FONTS: OnceLock<Option<Fonts>> = OnceLock::new();

/// The embedded fonts, parsed and registered with plotters on first use.
pub(crate) fn fonts() -> Result<&'static Fonts, ChartError> {
    FONTS
        .get_or_init(|| {
            let regular = dejavu::sans::regular();
            let bold = dejavu::sans::bold();
            for name in [FONT_FAMILY, "sans-serif"] {
                register_font(name, FontStyle::Normal, regular).ok()?;
                register_font(name, FontStyle::Bold, bold).ok()?;
            }
            Some(Fonts {
                regular: FontRef::try_from_slice(regular).ok()?,
                bold: FontRef::try_from_slice(bold).ok()?,
            })
        })
        .as_ref()
        .ok_or(ChartError::Font)
}

/// Registers the embedded DejaVu Sans with plotters as [`FONT_FAMILY`] (and `sans-serif`).
/// Every chart does this itself; calling it again does nothing.
pub fn register_fonts() -> Result<(), ChartError> {
    fonts().map(|_| ())
}

/// The advance width of `text` in pixels at `size` (the font's ascent-to-descent height), in
/// the regular face: what a chart allots for it.
#[must_use = "the width is the point of the call"]
pub fn text_width(text: &str, size: f32) -> Result<f32, ChartError> {
    Ok(layout(&fonts()?.regular, size, text).1)
}

/// Regular or bold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Weight {
    Regular,
    Bold,
}

/// Where the anchor point is, horizontally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HAlign {
    Left,
    Center,
    Right,
}

/// Where the anchor point is, vertically: the top or middle of capital letters, or the
/// baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VAlign {
    Top,
    Middle,
    Baseline,
}

/// Size (pixels, ascent to descent), weight and colour.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TextStyle {
    pub size: f32,
    pub weight: Weight,
    pub color: RGBColor,
}

impl TextStyle {
    pub(crate) fn new(size: f32, weight: Weight, color: RGBColor) -> Self {
        Self {
            size,
            weight,
            color,
        }
    }
}

/// Where drawn text went: from the left of the first advance to the right of the last, and
/// from the top of the capitals to the baseline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct TextBox {
    pub left: f32,
    pub top: f32,
    pub right: f32,
    pub bottom: f32,
}

/// Glyphs of `text` positioned on a baseline at y = 0 from x = 0, and the advance width.
fn layout(font: &FontRef<'static>, size: f32, text: &str) -> (Vec<Glyph>, f32) {
    let scaled = font.as_scaled(PxScale::from(size));
    let mut glyphs = Vec::with_capacity(text.len());
    let mut x = 0.0;
    let mut prev = None;
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(prev) = prev {
            x += scaled.kern(prev, id);
        }
        glyphs.push(id.with_scale_and_position(size, point(x, 0.0)));
        x += scaled.h_advance(id);
        prev = Some(id);
    }
    (glyphs, x)
}

fn face(weight: Weight) -> Option<&'static FontRef<'static>> {
    let fonts = fonts().ok()?;
    Some(match weight {
        Weight::Regular => &fonts.regular,
        Weight::Bold => &fonts.bold,
    })
}

/// Height of capital letters at `size`.
fn cap_height(font: &FontRef<'static>, size: f32) -> f32 {
    let scaled = font.as_scaled(PxScale::from(size));
    font.outline(font.glyph_id('H')).map_or(size * 0.6, |o| {
        o.bounds.height().abs() * scaled.v_scale_factor()
    })
}

impl Canvas<'_> {
    /// The advance width of `text` in `style`.
    pub(crate) fn text_width(&self, text: &str, style: TextStyle) -> f32 {
        face(style.weight).map_or(0.0, |font| layout(font, style.size, text).1)
    }

    /// The height of capitals in `style`.
    pub(crate) fn cap_height(&self, style: TextStyle) -> f32 {
        face(style.weight).map_or(style.size * 0.6, |font| cap_height(font, style.size))
    }

    /// Draws `text` anchored at `at` and returns where it went.
    pub(crate) fn text(
        &mut self,
        text: &str,
        style: TextStyle,
        at: (f32, f32),
        h: HAlign,
        v: VAlign,
    ) -> TextBox {
        let Some(font) = face(style.weight) else {
            return TextBox {
                left: at.0,
                top: at.1,
                right: at.0,
                bottom: at.1,
            };
        };
        let (glyphs, width) = layout(font, style.size, text);
        let cap = cap_height(font, style.size);
        let left = match h {
            HAlign::Left => at.0,
            HAlign::Center => at.0 - width / 2.0,
            HAlign::Right => at.0 - width,
        };
        let baseline = match v {
            VAlign::Top => at.1 + cap,
            VAlign::Middle => at.1 + cap / 2.0,
            VAlign::Baseline => at.1,
        };
        for mut glyph in glyphs {
            glyph.position = point(glyph.position.x + left, baseline);
            let Some(outlined) = font.outline_glyph(glyph) else {
                continue;
            };
            let bounds = outlined.px_bounds();
            let (x0, y0) = (bounds.min.x as i32, bounds.min.y as i32);
            outlined.draw(|x, y, coverage| {
                self.blend(x0 + x as i32, y0 + y as i32, style.color, coverage);
            });
        }
        TextBox {
            left,
            top: baseline - cap,
            right: left + width,
            bottom: baseline,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::charts::Theme;

    /// Column ranges (start, end exclusive) that hold ink, in a white RGB image.
    fn ink_runs(buf: &[u8], width: usize) -> Vec<(i32, i32)> {
        let height = buf.len() / 3 / width;
        let inked = |x: usize| (0..height).any(|y| buf[(y * width + x) * 3] < 200);
        let mut runs = Vec::new();
        let mut start = None;
        for x in 0..=width {
            match (start, x < width && inked(x)) {
                (None, true) => start = Some(x as i32),
                (Some(s), false) => {
                    runs.push((s, x as i32));
                    start = None;
                }
                _ => {}
            }
        }
        runs
    }

    #[test]
    fn glyphs_start_where_their_bearing_puts_them() {
        let (width, height, size) = (700u32, 100u32, 64.0);
        let mut buf = vec![0u8; (width * height * 3) as usize];
        let origin = (10.4, 80.0);
        {
            let mut canvas = Canvas::new(&mut buf, width, height, Theme::Light);
            canvas.fill_rect(0, 0, width as i32, height as i32, RGBColor(255, 255, 255));
            let style = TextStyle::new(size, Weight::Regular, RGBColor(0, 0, 0));
            canvas.text("BTCUSDT", style, origin, HAlign::Left, VAlign::Baseline);
        }
        // Where ab_glyph says each glyph's ink is: pen position + kerning + left side bearing
        // (the outline's left edge) to the outline's right edge. Glyphs whose ink touches
        // ("TC" at this size) make one run.
        let font = &fonts().unwrap().regular;
        let h_scale = font.as_scaled(PxScale::from(size)).h_scale_factor();
        let (glyphs, _) = layout(font, size, "BTCUSDT");
        let mut expected: Vec<(f32, f32)> = Vec::new();
        for g in &glyphs {
            let bounds = font.outline(g.id).unwrap().bounds;
            let x = g.position.x + origin.0;
            let (left, right) = (x + bounds.min.x * h_scale, x + bounds.max.x * h_scale);
            match expected.last_mut() {
                Some(last) if left - last.1 < 1.0 => last.1 = right,
                _ => expected.push((left, right)),
            }
        }
        // The test means something: ignoring the bearing would move 'B' by more than 4 px.
        let b = font.outline(font.glyph_id('B')).unwrap().bounds;
        assert!(b.min.x * h_scale > 4.0);

        let runs = ink_runs(&buf, width as usize);
        assert_eq!(runs.len(), expected.len(), "{runs:?} vs {expected:?}");
        for ((start, end), (left, right)) in runs.iter().zip(&expected) {
            assert!(
                (*start as f32 - left).abs() <= 1.0 && (*end as f32 - right).abs() <= 1.0,
                "ink at {start}..{end}, ab_glyph puts it at {left}..{right}"
            );
        }
    }

    #[test]
    fn width_matches_plotters_measurement_of_the_registered_font() {
        register_fonts().unwrap();
        let desc = plotters::style::FontDesc::new(
            plotters::style::FontFamily::Name(FONT_FAMILY),
            20.0,
            FontStyle::Normal,
        );
        let (plotters_width, _) = desc.box_size("BTCUSDT $94,512.3").unwrap();
        let ours = text_width("BTCUSDT $94,512.3", 20.0).unwrap();
        assert_eq!(plotters_width, ours as u32);
    }
}
