//! The chart renderers: each chart is a PNG of the configured size with real content, text in
//! the embedded font, a "No data" image for empty input, both themes and custom sizes. An
//! ignored test times every chart and writes examples to `target/chart-examples/`.

use std::collections::HashSet;
use std::time::Instant;

use image::RgbImage;
use liqbot::analytics::heatmap::{HeatCell, HeatmapGrid, HeatmapSpec, PricePoint, build_heatmap};
use liqbot::analytics::levels::{
    Cluster, DEFAULT_CLUSTER_WINDOW_PCT, GridColumn, LevelBin, LevelGrid, LevelMap, LevelParams,
    clusters, estimate_levels,
};
use liqbot::market::fear_greed::FearGreedReading;
use liqbot::model::{Candle, Exchange, FearGreed, Liquidation, Side};
use liqbot::render::charts::text::{FONT_FAMILY, register_fonts, text_width};
use liqbot::render::charts::{
    ChartError, ChartOptions, Theme, fear_greed, level_map, levels_heatmap, realised_heatmap,
};
use liqbot::rng::SplitMix64;

const MIN: i64 = 60_000;
const T0: i64 = 1_736_000_000_000; // 2025-01-04 14:13:20 UTC

fn opts(theme: Theme) -> ChartOptions {
    ChartOptions {
        theme,
        now_ms: T0 + 24 * 60 * MIN,
        ..ChartOptions::default()
    }
}

fn decode(png: &[u8]) -> RgbImage {
    image::load_from_memory_with_format(png, image::ImageFormat::Png)
        .expect("a valid PNG")
        .to_rgb8()
}

/// Distinct colours in the middle half of the image.
fn middle_colours(img: &RgbImage) -> usize {
    let (w, h) = img.dimensions();
    let mut seen = HashSet::new();
    for y in h / 4..h * 3 / 4 {
        for x in w / 4..w * 3 / 4 {
            seen.insert(img.get_pixel(x, y).0);
        }
    }
    seen.len()
}

/// Distinct colours in the title band (top 8% of the image, left half).
fn title_colours(img: &RgbImage) -> usize {
    let (w, h) = img.dimensions();
    let mut seen = HashSet::new();
    for y in 0..h * 8 / 100 {
        for x in 0..w / 2 {
            seen.insert(img.get_pixel(x, y).0);
        }
    }
    seen.len()
}

/// A 4-column, 5-row grid with longs low, shorts high, a mixed cell and a price line.
fn small_grid() -> HeatmapGrid {
    let (columns, rows) = (4, 5);
    let mut cells = vec![HeatCell::default(); columns * rows];
    let mut set = |col: usize, row: usize, long_usd: f64, short_usd: f64| {
        cells[col * rows + row] = HeatCell {
            long_usd,
            short_usd,
        };
    };
    set(0, 0, 2_500_000.0, 0.0);
    set(1, 1, 400_000.0, 0.0);
    set(1, 3, 0.0, 900_000.0);
    set(2, 4, 0.0, 3_000_000.0);
    set(3, 2, 120_000.0, 80_000.0);
    set(3, 0, 50_000.0, 0.0);
    HeatmapGrid {
        coin: "BTC".into(),
        window: "4h".into(),
        start_ms: T0,
        column_ms: 60 * MIN,
        columns,
        price_min: 94_000.0,
        bin_size: 200.0,
        rows,
        cells,
        price_line: (0..=16)
            .map(|i| (T0 + i * 15 * MIN, 94_300.0 + 40.0 * i as f64))
            .collect(),
    }
}

fn bin(price: f64, long_usd: f64, short_usd: f64) -> LevelBin {
    LevelBin {
        price,
        long_usd,
        short_usd,
    }
}

/// Longs below 95,000 and shorts above it, with one cluster each side.
fn small_map() -> (LevelMap, Vec<Cluster>, Vec<Cluster>) {
    let bins = vec![
        bin(90_000.0, 8e6, 0.0),
        bin(93_000.0, 30e6, 0.0),
        bin(94_500.0, 12e6, 0.0),
        bin(95_500.0, 0.0, 15e6),
        bin(96_500.0, 0.0, 45e6),
        bin(99_000.0, 0.0, 5e6),
    ];
    let cluster = |side, price: f64, usd| Cluster {
        side,
        price,
        usd,
        distance_pct: (price - 95_000.0) * 100.0 / 95_000.0,
    };
    let map = LevelMap {
        bin_size: 50.0,
        price: 95_000.0,
        bins,
    };
    (
        map,
        vec![cluster(Side::Short, 96_525.0, 45e6)],
        vec![cluster(Side::Long, 93_025.0, 30e6)],
    )
}

/// Three snapshots with levels that grow and a price that rises.
fn small_level_grid() -> LevelGrid {
    let columns = (0..3)
        .map(|i| GridColumn {
            ts_ms: T0 + (i + 1) * 15 * MIN,
            price: 95_000.0 + 100.0 * i as f64,
            bins: vec![
                bin(93_000.0, 10e6 * (i + 1) as f64, 0.0),
                bin(94_000.0 + 100.0 * i as f64, 4e6, 0.0),
                bin(96_000.0, 0.0, 20e6),
                bin(97_500.0, 0.0, 6e6 * (i + 1) as f64),
            ],
        })
        .collect();
    LevelGrid {
        bin_size: 50.0,
        columns,
    }
}

fn fg(value: u8, classification: &str, days_ago: i64) -> FearGreed {
    FearGreed {
        ts_ms: 1_735_948_800_000 - days_ago * 86_400_000,
        value,
        classification: classification.into(),
    }
}

fn reading() -> FearGreedReading {
    FearGreedReading {
        today: fg(72, "Greed", 0),
        yesterday: Some(fg(65, "Greed", 1)),
        week_ago: Some(fg(38, "Fear", 7)),
    }
}

type Render = Box<dyn Fn(&ChartOptions) -> Result<Vec<u8>, ChartError>>;

/// Every chart kind with its small input.
fn every_chart() -> Vec<(&'static str, Render)> {
    vec![
        (
            "realised heatmap",
            Box::new(|o: &ChartOptions| realised_heatmap(&small_grid(), o)),
        ),
        (
            "level map",
            Box::new(|o: &ChartOptions| {
                let (map, above, below) = small_map();
                level_map(&map, &above, &below, "BTC", o)
            }),
        ),
        (
            "levels heatmap",
            Box::new(|o: &ChartOptions| levels_heatmap(&small_level_grid(), "BTC", o)),
        ),
        (
            "fear and greed",
            Box::new(|o: &ChartOptions| fear_greed(&reading(), o)),
        ),
    ]
}

#[test]
fn every_chart_is_a_png_of_the_configured_size_with_content() {
    for (kind, render) in every_chart() {
        let img = decode(&render(&opts(Theme::Dark)).unwrap());
        assert_eq!(img.dimensions(), (1200, 700), "{kind}");
        let colours = middle_colours(&img);
        assert!(colours >= 8, "{kind}: only {colours} colours in the middle");
    }
}

#[test]
fn custom_size_is_respected() {
    let small = ChartOptions {
        width: 800,
        height: 450,
        ..opts(Theme::Dark)
    };
    for (kind, render) in every_chart() {
        let img = decode(&render(&small).unwrap());
        assert_eq!(img.dimensions(), (800, 450), "{kind}");
        assert!(middle_colours(&img) >= 8, "{kind}");
    }
}

#[test]
fn both_themes_render_with_their_own_background() {
    for (kind, render) in every_chart() {
        let dark = decode(&render(&opts(Theme::Dark)).unwrap());
        let light = decode(&render(&opts(Theme::Light)).unwrap());
        let luma = |img: &RgbImage| {
            img.get_pixel(2, 2)
                .0
                .iter()
                .map(|&c| u32::from(c))
                .sum::<u32>()
        };
        assert!(
            luma(&dark) < 150,
            "{kind}: dark corner {:?}",
            dark.get_pixel(2, 2)
        );
        assert!(
            luma(&light) > 600,
            "{kind}: light corner {:?}",
            light.get_pixel(2, 2)
        );
        assert!(middle_colours(&light) >= 8, "{kind}");
    }
}

#[test]
fn text_uses_the_embedded_font_and_reaches_the_title() {
    // The family charts register is the embedded DejaVu Sans, and plotters resolves it to the
    // same face our text layout measures (no system font is ever looked up).
    register_fonts().unwrap();
    let desc = plotters::style::FontDesc::new(
        plotters::style::FontFamily::Name(FONT_FAMILY),
        24.0,
        plotters::style::FontStyle::Normal,
    );
    let (width, _) = desc.box_size("BTC liquidations").unwrap();
    assert_eq!(width, text_width("BTC liquidations", 24.0).unwrap() as u32);
    for (kind, render) in every_chart() {
        let img = decode(&render(&opts(Theme::Dark)).unwrap());
        // Anti-aliased glyphs leave many shades between text and background.
        let shades = title_colours(&img);
        assert!(shades >= 10, "{kind}: {shades} shades in the title band");
    }
}

#[test]
fn long_and_short_cells_are_told_apart_by_hue() {
    let img = decode(&realised_heatmap(&small_grid(), &opts(Theme::Dark)).unwrap());
    let (mut reddish, mut greenish) = (0, 0);
    for p in img.pixels() {
        let [r, g, _] = p.0.map(i32::from);
        if r > g + 60 {
            reddish += 1;
        } else if g > r + 60 {
            greenish += 1;
        }
    }
    assert!(
        reddish > 2_000 && greenish > 2_000,
        "{reddish} red, {greenish} green"
    );
}

#[test]
fn empty_inputs_render_no_data_images_of_the_right_size() {
    let empty_grid = HeatmapGrid {
        cells: vec![HeatCell::default(); 20],
        price_line: Vec::new(),
        ..small_grid()
    };
    let no_columns = HeatmapGrid {
        columns: 0,
        rows: 0,
        cells: Vec::new(),
        ..small_grid()
    };
    let empty_map = LevelMap {
        bin_size: 0.0,
        price: 0.0,
        bins: Vec::new(),
    };
    let empty_levels = LevelGrid {
        bin_size: 0.0,
        columns: Vec::new(),
    };
    let o = opts(Theme::Dark);
    let images = [
        realised_heatmap(&empty_grid, &o),
        realised_heatmap(&no_columns, &o),
        level_map(&empty_map, &[], &[], "BTC", &o),
        levels_heatmap(&empty_levels, "BTC", &o),
    ];
    let middle = |img: &RgbImage| image::imageops::crop_imm(img, 300, 175, 600, 350).to_image();
    let first = middle(&decode(images[0].as_ref().unwrap()));
    assert!(
        middle_colours(&decode(images[0].as_ref().unwrap())) >= 3,
        "text in the middle"
    );
    for png in images {
        let img = decode(&png.unwrap());
        assert_eq!(img.dimensions(), (1200, 700));
        // Every kind shows the same "No data" panel in the middle, whatever its title.
        assert!(
            middle(&img) == first,
            "the middle differs from the first no-data image"
        );
    }
}

#[test]
fn hostile_numbers_still_render() {
    let o = opts(Theme::Dark);
    let mut grid = small_grid();
    grid.cells[0].long_usd = f64::NAN;
    grid.cells[1].short_usd = f64::INFINITY;
    grid.price_line.push((T0 + 60 * MIN, f64::NAN));
    let wide = HeatmapGrid {
        bin_size: f64::INFINITY,
        ..small_grid()
    };
    let (mut map, mut above, below) = small_map();
    map.bins.push(bin(95_100.0, f64::NAN, -5.0));
    above[0].price = 1e12;
    let mut levels = small_level_grid();
    levels.columns[1].price = f64::NAN;
    levels.columns[2]
        .bins
        .push(bin(96_100.0, f64::INFINITY, 0.0));
    let mut wild = reading();
    wild.today.value = 250;
    wild.yesterday = None;
    let images = [
        realised_heatmap(&grid, &o),
        realised_heatmap(&wide, &o),
        level_map(&map, &above, &below, "BTC", &o),
        levels_heatmap(&levels, "BTC", &o),
        fear_greed(&wild, &o),
    ];
    for png in images {
        assert_eq!(decode(&png.unwrap()).dimensions(), (1200, 700));
    }
}

#[test]
fn a_zero_size_is_an_error() {
    let zero = ChartOptions {
        width: 0,
        ..opts(Theme::Dark)
    };
    assert!(matches!(
        fear_greed(&reading(), &zero),
        Err(ChartError::InvalidSize { width: 0, .. })
    ));
}

/// A day of 1-minute BTC candles, open interest and liquidations from a seeded random walk.
fn synthetic_day() -> (Vec<Candle>, Vec<(i64, f64)>, Vec<Liquidation>) {
    let mut rng = SplitMix64::new(7);
    let (mut candles, mut oi, mut events) = (Vec::new(), Vec::new(), Vec::new());
    let (mut price, mut open_interest) = (95_000.0_f64, 7.5e9_f64);
    for i in 0..1_440 {
        let open_ms = T0 + i * MIN;
        let drift = if (600..800).contains(&i) {
            -0.0004
        } else {
            0.00005
        };
        let close = price * (1.0 + drift + 0.0009 * rng.next_normal());
        let high = price.max(close) * (1.0 + 0.0004 * rng.next_normal().abs());
        let low = price.min(close) * (1.0 - 0.0004 * rng.next_normal().abs());
        let ret = close / price - 1.0;
        candles.push(Candle {
            exchange: Exchange::Binance,
            base: "BTC".into(),
            open_ms,
            interval_secs: 60,
            open: price,
            high,
            low,
            close,
        });
        open_interest *= 1.0 + 0.00012 + 0.0006 * rng.next_normal() - ret.abs() * 0.3;
        oi.push((open_ms + MIN, open_interest));
        let count = rng.below(3) + (ret.abs() * 4_000.0) as usize;
        for _ in 0..count {
            let with_move = if ret < 0.0 { Side::Long } else { Side::Short };
            let other = if ret < 0.0 { Side::Short } else { Side::Long };
            let side = if rng.next_f64() < 0.8 {
                with_move
            } else {
                other
            };
            let at = low + (high - low) * rng.next_f64();
            let usd = (9.5 + 1.3 * rng.next_normal()).exp();
            events.push(Liquidation {
                exchange: Exchange::Binance,
                symbol: "BTCUSDT".into(),
                base: "BTC".into(),
                quote: "USDT".into(),
                side,
                price: at,
                quantity: usd / at,
                usd,
                ts_ms: open_ms + rng.below(60_000) as i64,
            });
        }
        price = close;
    }
    (candles, oi, events)
}

/// Median milliseconds of `runs` calls and the PNG size.
fn time(runs: usize, render: impl Fn() -> Vec<u8>) -> (f64, usize) {
    let mut ms: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(render());
            start.elapsed().as_secs_f64() * 1_000.0
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    (ms[runs / 2], render().len())
}

#[test]
#[ignore = "timing and example images: cargo test --release --test charts -- --ignored --nocapture"]
fn render_timings_and_examples() {
    let (candles, oi, events) = synthetic_day();
    let spec = HeatmapSpec {
        coin: "BTC".into(),
        window: "24h".into(),
        start_ms: T0,
        end_ms: T0 + 1_440 * MIN,
        columns: 96,
        max_rows: 120,
    };
    let points: Vec<PricePoint> = events.iter().map(PricePoint::from).collect();
    let grid = build_heatmap(&spec, &points, &candles);
    let estimate = estimate_levels(&candles, &oi, &LevelParams::default());
    let (above, below) = clusters(&estimate.map, DEFAULT_CLUSTER_WINDOW_PCT, 3);
    let fg = reading();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/chart-examples");
    std::fs::create_dir_all(&dir).unwrap();
    type Example<'a> = Box<dyn Fn(&ChartOptions) -> Vec<u8> + 'a>;
    let charts: Vec<(&str, Example<'_>)> = vec![
        (
            "realised_heatmap",
            Box::new(|o| realised_heatmap(&grid, o).unwrap()),
        ),
        (
            "level_map",
            Box::new(|o| level_map(&estimate.map, &above, &below, "BTC", o).unwrap()),
        ),
        (
            "levels_heatmap",
            Box::new(|o| levels_heatmap(&estimate.grid, "BTC", o).unwrap()),
        ),
        ("fear_greed", Box::new(|o| fear_greed(&fg, o).unwrap())),
    ];
    let dark = opts(Theme::Dark);
    println!("{:<18} {:>10} {:>10}", "chart", "median ms", "PNG bytes");
    for (name, render) in &charts {
        let (ms, bytes) = time(50, || render(&dark));
        println!("{name:<18} {ms:>10.2} {bytes:>10}");
        std::fs::write(dir.join(format!("{name}.png")), render(&dark)).unwrap();
        std::fs::write(
            dir.join(format!("{name}_light.png")),
            render(&opts(Theme::Light)),
        )
        .unwrap();
        let small = ChartOptions {
            width: 800,
            height: 450,
            ..opts(Theme::Dark)
        };
        std::fs::write(dir.join(format!("{name}_800x450.png")), render(&small)).unwrap();
    }
    // The hand-built inputs of the tests above: few, large cells and bars.
    for (kind, render) in every_chart() {
        let name = format!("small_{}.png", kind.replace(' ', "_"));
        std::fs::write(dir.join(name), render(&dark).unwrap()).unwrap();
    }
    let empty = LevelMap {
        bin_size: 0.0,
        price: 0.0,
        bins: Vec::new(),
    };
    let png = level_map(&empty, &[], &[], "BTC", &dark).unwrap();
    std::fs::write(dir.join("no_data.png"), png).unwrap();
    println!("examples in {}", dir.display());
}
