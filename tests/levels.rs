//! The estimated liquidation-level model against hand-computed levels: where a level is placed,
//! when a candle removes it, how it shrinks with open interest, clusters, bin sizes, and
//! properties that must hold for any market.

use liqbot::analytics::levels::{
    Cluster, GridColumn, LevelBin, LevelMap, LevelParams, LeverageTier, adaptive_bin_size,
    clusters, estimate_levels,
};
use liqbot::model::Side::{Long, Short};
use liqbot::model::{Candle, Exchange};
use pretty_assertions::assert_eq;
use proptest::prelude::*;

const MIN: i64 = 60_000;

/// The 1-minute candle that opens at minute `i`.
fn candle(i: i64, low: f64, high: f64, close: f64) -> Candle {
    Candle {
        exchange: Exchange::Binance,
        base: "BTC".into(),
        open_ms: i * MIN,
        interval_secs: 60,
        open: close,
        high,
        low,
        close,
    }
}

/// `(leverage, weight)` tiers, mmr 0.005, a fixed bin size, a grid column every candle.
fn params(tiers: &[(f64, f64)], bin_size: f64) -> LevelParams {
    LevelParams {
        leverage: tiers
            .iter()
            .map(|&(leverage, weight)| LeverageTier { leverage, weight })
            .collect(),
        mmr: 0.005,
        bin_size: Some(bin_size),
        grid_every: 1,
    }
}

fn bin(price: f64, long_usd: f64, short_usd: f64) -> LevelBin {
    LevelBin {
        price,
        long_usd,
        short_usd,
    }
}

/// One candle closing at 100 while OI rises from 0 to 1,000 with a single 10x tier: the long
/// sits at 100 * (1 - 0.1 + 0.005) = 90.5 and the short at 100 * (1 + 0.1 - 0.005) = 109.5.
fn one_10x_position() -> (Vec<Candle>, Vec<(i64, f64)>) {
    (
        vec![candle(0, 100.0, 100.0, 100.0)],
        vec![(0, 0.0), (MIN, 1_000.0)],
    )
}

#[test]
fn new_open_interest_places_a_long_and_a_short_level_where_the_formula_puts_them() {
    let (candles, oi) = one_10x_position();
    let got = estimate_levels(&candles, &oi, &params(&[(10.0, 1.0)], 0.5));
    let bins = vec![bin(90.5, 1_000.0, 0.0), bin(109.5, 0.0, 1_000.0)];
    assert_eq!(
        got.map,
        LevelMap {
            bin_size: 0.5,
            price: 100.0,
            bins: bins.clone(),
        }
    );
    assert_eq!(
        got.grid.columns,
        vec![GridColumn {
            ts_ms: MIN,
            price: 100.0,
            bins,
        }]
    );
    assert_eq!(got.oi_added_usd, 1_000.0);
}

#[test]
fn the_leverage_mix_splits_new_open_interest_by_normalised_weight() {
    // Weights 1 and 3 are 25% and 75%; 20x puts the long at 95.5 and the short at 104.5.
    let (candles, oi) = one_10x_position();
    let got = estimate_levels(&candles, &oi, &params(&[(10.0, 1.0), (20.0, 3.0)], 0.5));
    assert_eq!(
        got.map.bins,
        vec![
            bin(90.5, 250.0, 0.0),
            bin(95.5, 750.0, 0.0),
            bin(104.5, 0.0, 750.0),
            bin(109.5, 0.0, 250.0),
        ]
    );
}

/// The 10x position, then `next` with OI unchanged.
fn after(next: Candle) -> Vec<LevelBin> {
    let (mut candles, oi) = one_10x_position();
    candles.push(next);
    estimate_levels(&candles, &oi, &params(&[(10.0, 1.0)], 0.5))
        .map
        .bins
}

#[test]
fn a_candle_whose_low_reaches_a_long_level_liquidates_it() {
    assert_eq!(
        after(candle(1, 90.2, 101.0, 95.0)),
        vec![bin(109.5, 0.0, 1_000.0)]
    );
}

#[test]
fn a_candle_whose_high_reaches_a_short_level_liquidates_it() {
    assert_eq!(
        after(candle(1, 99.0, 109.6, 105.0)),
        vec![bin(90.5, 1_000.0, 0.0)]
    );
}

#[test]
fn levels_stay_while_candles_do_not_reach_their_bins() {
    // The long bin is 90.5..91 and the short bin 109.5..110.
    assert_eq!(
        after(candle(1, 91.0, 109.4, 100.0)),
        vec![bin(90.5, 1_000.0, 0.0), bin(109.5, 0.0, 1_000.0)]
    );
}

#[test]
fn a_candle_trading_inside_a_bin_clears_the_whole_bin() {
    // The model's resolution is one bin: with 1.0-wide bins the long at 90.5 is in 90..91,
    // and a low of 90.8 clears that bin although it stays above 90.5.
    let (mut candles, oi) = one_10x_position();
    candles.push(candle(1, 90.8, 100.0, 95.0));
    let got = estimate_levels(&candles, &oi, &params(&[(10.0, 1.0)], 1.0));
    assert_eq!(got.map.bins, vec![bin(109.0, 0.0, 1_000.0)]);
}

#[test]
fn levels_shrink_in_proportion_when_open_interest_falls() {
    // Two tiers of $500 each side; OI 1,000 -> 750 leaves every level at 75%.
    let candles = vec![
        candle(0, 100.0, 100.0, 100.0),
        candle(1, 99.0, 101.0, 100.0),
    ];
    let oi = [(0, 0.0), (MIN, 1_000.0), (2 * MIN, 750.0)];
    let got = estimate_levels(&candles, &oi, &params(&[(10.0, 1.0), (20.0, 1.0)], 0.5));
    assert_eq!(
        got.map.bins,
        vec![
            bin(90.5, 375.0, 0.0),
            bin(95.5, 375.0, 0.0),
            bin(104.5, 0.0, 375.0),
            bin(109.5, 0.0, 375.0),
        ]
    );
    assert_eq!(got.oi_added_usd, 1_000.0);
}

#[test]
fn nothing_is_placed_before_the_first_open_interest_reading() {
    // The first reading (at 1.5 min) is only a baseline for the candle closing at 2 min; the
    // rise to 800 is placed at the close of the candle whose close the reading falls on (110).
    let candles = vec![
        candle(0, 100.0, 100.0, 100.0),
        candle(1, 100.0, 100.0, 100.0),
        candle(2, 110.0, 110.0, 110.0),
    ];
    let oi = [(90_000, 500.0), (3 * MIN, 800.0)];
    let got = estimate_levels(&candles, &oi, &params(&[(10.0, 1.0)], 0.5));
    // 110 * 0.905 = 99.55 (bin 99.5) and 110 * 1.095 = 120.45 (bin 120).
    assert_eq!(
        got.map.bins,
        vec![bin(99.5, 300.0, 0.0), bin(120.0, 0.0, 300.0)]
    );
    assert_eq!(got.oi_added_usd, 300.0);
}

#[test]
fn the_grid_keeps_every_nth_candle_and_always_the_last() {
    let candles: Vec<Candle> = (0..7).map(|i| candle(i, 100.0, 100.0, 100.0)).collect();
    let mut p = params(&[(10.0, 1.0)], 0.5);
    p.grid_every = 3;
    let got = estimate_levels(&candles, &[(0, 0.0), (MIN, 1_000.0)], &p);
    let times: Vec<i64> = got.grid.columns.iter().map(|c| c.ts_ms).collect();
    assert_eq!(times, vec![3 * MIN, 6 * MIN, 7 * MIN]);
    assert_eq!(got.grid.bin_size, 0.5);
}

#[test]
fn the_worked_example_in_the_docs_holds() {
    // docs/levels-model.md: BTC closes at 95,000 as OI rises by $100M (default parameters,
    // bins of 50); a candle with low 93,520 and high 95,300 takes the 50x and 100x longs; OI
    // then falls 10%.
    let candles = vec![
        candle(0, 95_000.0, 95_000.0, 95_000.0),
        candle(1, 93_520.0, 95_300.0, 94_000.0),
        candle(2, 94_000.0, 94_000.0, 94_000.0),
    ];
    let oi = [(0, 1e9), (MIN, 1.1e9), (3 * MIN, 0.99e9)];
    let got = estimate_levels(&candles, &oi, &LevelParams::default());
    let millions = |usd: f64| (usd / 1e5).round() / 10.0;
    let bins: Vec<(f64, f64, f64)> = got
        .map
        .bins
        .iter()
        .map(|b| (b.price, millions(b.long_usd), millions(b.short_usd)))
        .collect();
    assert_eq!(
        bins,
        vec![
            (76_450.0, 9.0, 0.0),
            (85_950.0, 22.5, 0.0),
            (91_650.0, 27.0, 0.0),
            (95_450.0, 0.0, 13.5),
            (96_400.0, 0.0, 18.0),
            (98_300.0, 0.0, 27.0),
            (104_000.0, 0.0, 22.5),
            (113_500.0, 0.0, 9.0),
        ]
    );
    assert_eq!(
        (
            millions(got.map.total_long_usd()),
            millions(got.map.total_short_usd())
        ),
        (58.5, 90.0)
    );
}

fn long(price: f64, usd: f64) -> LevelBin {
    bin(price, usd, 0.0)
}

fn short(price: f64, usd: f64) -> LevelBin {
    bin(price, 0.0, usd)
}

fn cluster(side: liqbot::model::Side, price: f64, usd: f64, distance_pct: f64) -> Cluster {
    Cluster {
        side,
        price,
        usd,
        distance_pct,
    }
}

#[test]
fn clusters_above_and_below_the_price_are_found_and_ranked_by_usd() {
    // Bins 1 wide at price 100: a 3% window reaches 1.5 either side of a bin's middle, so one
    // neighbour on each side. Shorts below the price and longs above it do not count.
    let map = LevelMap {
        bin_size: 1.0,
        price: 100.0,
        bins: vec![
            long(80.0, 2_000.0),
            long(90.0, 500.0),
            long(91.0, 500.0),
            long(95.0, 50.0),
            short(98.0, 999.0),
            short(101.0, 100.0),
            short(102.0, 300.0),
            short(103.0, 100.0),
            long(105.0, 999.0),
            short(110.0, 1_000.0),
            short(120.0, 200.0),
            short(121.0, 200.0),
        ],
    };
    let (above, below) = clusters(&map, 3.0, 3);
    assert_eq!(
        above,
        vec![
            cluster(Short, 110.5, 1_000.0, 10.5),
            // (101.5 * 100 + 102.5 * 300 + 103.5 * 100) / 500
            cluster(Short, 102.5, 500.0, 2.5),
            cluster(Short, 121.0, 400.0, 21.0),
        ]
    );
    assert_eq!(
        below,
        vec![
            cluster(Long, 80.5, 2_000.0, -19.5),
            cluster(Long, 91.0, 1_000.0, -9.0),
            cluster(Long, 95.5, 50.0, -4.5),
        ]
    );
    let (above, below) = clusters(&map, 3.0, 1);
    assert_eq!((above.len(), below.len()), (1, 1));
}

#[test]
fn adaptive_bin_size_is_about_a_tenth_of_a_percent_on_a_1_2_5_step() {
    assert_eq!(adaptive_bin_size(95_000.0), 50.0);
    assert_eq!(adaptive_bin_size(3_300.0), 2.0);
    assert_eq!(adaptive_bin_size(0.38), 0.0002);
    assert_eq!(adaptive_bin_size(180.0), 0.1);
    assert_eq!(adaptive_bin_size(250.0), 0.2);

    let candles = vec![candle(0, 3_300.0, 3_300.0, 3_300.0)];
    let got = estimate_levels(&candles, &[], &LevelParams::default());
    assert_eq!(got.map.bin_size, 2.0);
}

#[test]
fn default_params_put_the_100x_long_half_a_percent_under_the_price() {
    // 95,000 * (1 - 0.01 + 0.005) = 94,525, bin 94,500 of 50; weight 0.15 of $1M.
    let candles = vec![candle(0, 95_000.0, 95_000.0, 95_000.0)];
    let got = estimate_levels(&candles, &[(0, 0.0), (MIN, 1e6)], &LevelParams::default());
    let nearest = got.map.bins.iter().rfind(|b| b.long_usd > 0.0).copied();
    let nearest = nearest.map(|b| (b.price, b.long_usd.round()));
    assert_eq!(nearest, Some((94_500.0, 150_000.0)));
}

/// One candle of a generated market: a return, the upper and lower wick as fractions, and an
/// OI reading at its close, if any.
type Step = (f64, f64, f64, Option<f64>);

/// A starting price and the candles that follow it.
fn market() -> impl Strategy<Value = (f64, Vec<Step>)> {
    (
        0.01f64..100_000.0,
        prop::collection::vec(
            (
                -0.05f64..0.05,
                0.0f64..0.03,
                0.0f64..0.03,
                prop::option::weighted(0.6, 1.0f64..1e9),
            ),
            1..150,
        ),
    )
}

proptest! {
    #[test]
    fn no_side_ever_holds_more_than_the_open_interest_added(
        (start, steps) in market(),
        grid_every in 1usize..20,
    ) {
        let mut price = start;
        let mut candles = Vec::new();
        let mut oi = Vec::new();
        let mut added = 0.0;
        let mut last: Option<f64> = None;
        for (i, &(ret, up, down, reading)) in steps.iter().enumerate() {
            let i = i64::try_from(i).unwrap();
            let open = price;
            price *= 1.0 + ret;
            candles.push(Candle {
                open,
                high: open.max(price) * (1.0 + up),
                low: open.min(price) * (1.0 - down),
                ..candle(i, 0.0, 0.0, price)
            });
            if let Some(usd) = reading {
                oi.push(((i + 1) * MIN, usd));
                if let Some(prev) = last {
                    added += (usd - prev).max(0.0);
                }
                last = Some(usd);
            }
        }
        let params = LevelParams { grid_every, ..LevelParams::default() };
        let got = estimate_levels(&candles, &oi, &params);
        let bound = added * (1.0 + 1e-9) + 1e-6;
        prop_assert!((got.oi_added_usd - added).abs() <= added * 1e-12);
        let mut maps: Vec<&[LevelBin]> = got.grid.columns.iter().map(|c| c.bins.as_slice()).collect();
        maps.push(&got.map.bins);
        for bins in maps {
            for b in bins {
                prop_assert!(b.price.is_finite() && b.long_usd >= 0.0 && b.short_usd >= 0.0, "{b:?}");
                prop_assert!(b.long_usd.is_finite() && b.short_usd.is_finite(), "{b:?}");
            }
            prop_assert!(bins.windows(2).all(|w| w[0].price < w[1].price));
            let long: f64 = bins.iter().map(|b| b.long_usd).sum();
            let short: f64 = bins.iter().map(|b| b.short_usd).sum();
            prop_assert!(long <= bound, "longs {long} > added {added}");
            prop_assert!(short <= bound, "shorts {short} > added {added}");
        }
    }
}

#[test]
#[ignore = "a timing, meaningful only with --release"]
fn levels_report_over_a_week_of_minutes() {
    let report = liqbot::bench::levels_report(7, 50);
    println!("{report}");
    assert!(report.starts_with("levels: 7 days of 1m candles (10080)"));
}
