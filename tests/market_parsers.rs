//! The market-context parsers (Fear & Greed, open interest, candles) against documented-format
//! bodies in `tests/fixtures/market/` (each folder's README says where the format comes from),
//! the unit conversions against hand-computed values, the encoders against the parsers, and the
//! fetchers against a local REST server.

use std::collections::HashMap;

use liqbot::market::candles::{self, CandleInterval};
use liqbot::market::fear_greed::{self, FearGreedReading};
use liqbot::market::open_interest::{self, BinanceOpenInterest, BybitOpenInterest, OiPeriod};
use liqbot::model::{Candle, Exchange, FearGreed, OpenInterest};
use liqbot::sources::FrameError;
use liqbot::sources::bybit::BybitContract;
use liqbot::sources::rest::FetchError;
use pretty_assertions::assert_eq;
use proptest::prelude::*;

fn fixture(path: &str) -> String {
    let full = format!(
        "{}/tests/fixtures/market/{path}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&full).unwrap_or_else(|error| panic!("{full}: {error}"))
}

fn assert_malformed<T: std::fmt::Debug>(result: Result<T, FrameError>, what: &str) {
    assert!(
        matches!(result, Err(FrameError::Json(_))),
        "{what}: {result:?}"
    );
}

fn assert_invalid<T: std::fmt::Debug>(result: Result<T, FrameError>, what: &str) {
    assert!(
        matches!(result, Err(FrameError::Invalid(_))),
        "{what}: {result:?}"
    );
}

fn assert_venue_error<T: std::fmt::Debug>(result: Result<T, FrameError>, what: &str) {
    assert!(
        matches!(result, Err(FrameError::Venue(_))),
        "{what}: {result:?}"
    );
}

/// USD rounded to cents, so products of decimal strings compare exactly.
fn cents(list: Vec<OpenInterest>) -> Vec<OpenInterest> {
    list.into_iter()
        .map(|oi| OpenInterest {
            usd: (oi.usd * 100.0).round() / 100.0,
            ..oi
        })
        .collect()
}

fn oi(exchange: Exchange, ts_ms: i64, usd: f64) -> OpenInterest {
    OpenInterest {
        exchange,
        base: "BTC".into(),
        ts_ms,
        usd,
    }
}

fn candle(exchange: Exchange, open_ms: i64, interval_secs: u32, ohlc: [f64; 4]) -> Candle {
    let [open, high, low, close] = ohlc;
    Candle {
        exchange,
        base: "BTC".into(),
        open_ms,
        interval_secs,
        open,
        high,
        low,
        close,
    }
}

// ---------------------------------------------------------------------------------------------
// Fear & Greed

const DAY_MS: i64 = 86_400_000;
const TODAY_MS: i64 = 1_730_937_600_000;

fn fng(days_ago: i64, value: u8, classification: &str) -> FearGreed {
    FearGreed {
        ts_ms: TODAY_MS - days_ago * DAY_MS,
        value,
        classification: classification.into(),
    }
}

#[test]
fn fear_greed_list_parses_newest_first_with_seconds_as_milliseconds() {
    let list = fear_greed::parse_fear_greed(&fixture("fear_greed/documented.json")).unwrap();
    assert_eq!(
        list,
        vec![
            fng(0, 70, "Greed"),
            fng(1, 68, "Greed"),
            fng(2, 74, "Greed"),
            fng(3, 55, "Greed"),
            fng(4, 52, "Neutral"),
            fng(5, 50, "Neutral"),
            fng(6, 42, "Fear"),
            fng(7, 39, "Fear"),
        ]
    );
}

#[test]
fn fear_greed_reading_picks_yesterday_and_week_ago_by_date() {
    let list = fear_greed::parse_fear_greed(&fixture("fear_greed/documented.json")).unwrap();
    assert_eq!(
        fear_greed::reading(&list),
        Some(FearGreedReading {
            today: fng(0, 70, "Greed"),
            yesterday: Some(fng(1, 68, "Greed")),
            week_ago: Some(fng(7, 39, "Fear")),
        })
    );
}

#[test]
fn fear_greed_reading_ignores_list_positions() {
    // Index 1 is two days ago and there is no index 7; yesterday and a week ago are further on.
    let list = fear_greed::parse_fear_greed(&fixture("fear_greed/out_of_order.json")).unwrap();
    assert_eq!(list.len(), 4);
    assert_eq!(
        fear_greed::reading(&list),
        Some(FearGreedReading {
            today: fng(0, 70, "Greed"),
            yesterday: Some(fng(1, 68, "Greed")),
            week_ago: Some(fng(7, 39, "Fear")),
        })
    );
}

#[test]
fn fear_greed_reading_leaves_out_days_the_list_lacks() {
    let list = fear_greed::parse_fear_greed(&fixture("fear_greed/missing_days.json")).unwrap();
    assert_eq!(list.len(), 4, "eight days ago is there, a week ago is not");
    assert_eq!(
        fear_greed::reading(&list),
        Some(FearGreedReading {
            today: fng(0, 70, "Greed"),
            yesterday: None,
            week_ago: None,
        })
    );
    assert_eq!(fear_greed::reading(&[]), None);
}

#[test]
fn fear_greed_accepts_extra_fields() {
    let list = fear_greed::parse_fear_greed(&fixture("fear_greed/extra_fields.json")).unwrap();
    assert_eq!(list, vec![fng(0, 70, "Greed")]);
}

#[test]
fn fear_greed_metadata_error_is_a_venue_error() {
    assert_venue_error(
        fear_greed::parse_fear_greed(&fixture("fear_greed/error.json")),
        "error.json",
    );
}

#[test]
fn fear_greed_rejects_broken_bodies() {
    assert_invalid(
        fear_greed::parse_fear_greed(&fixture("fear_greed/bad_value.json")),
        "bad_value.json",
    );
    assert_malformed(
        fear_greed::parse_fear_greed(&fixture("fear_greed/wrong_shape.json")),
        "wrong_shape.json",
    );
    assert_malformed(
        fear_greed::parse_fear_greed(&fixture("fear_greed/not_json.txt")),
        "not_json.txt",
    );
    assert_malformed(fear_greed::parse_fear_greed("{}"), "no data");
}

#[test]
fn fear_greed_encoding_parses_back_and_credits_alternative_me() {
    let list = vec![fng(0, 0, "Extreme Fear"), fng(1, 100, "Extreme Greed")];
    let body = fear_greed::encode_fear_greed(&list);
    assert_eq!(fear_greed::parse_fear_greed(&body).unwrap(), list);
    assert_eq!(
        fear_greed::ATTRIBUTION,
        "Fear & Greed Index by alternative.me"
    );
}

// ---------------------------------------------------------------------------------------------
// Candles

#[test]
fn binance_documented_kline_parses() {
    let list = candles::parse_binance_candles(&fixture("binance/klines.json"), "BTC", 60).unwrap();
    assert_eq!(
        list,
        vec![candle(
            Exchange::Binance,
            1_499_040_000_000,
            60,
            [0.016_347_9, 0.8, 0.015_758, 0.015_771]
        )]
    );
}

#[test]
fn bybit_klines_newest_first_come_out_oldest_first() {
    let list = candles::parse_bybit_candles(&fixture("bybit/kline.json"), "BTC", 3600).unwrap();
    assert_eq!(
        list,
        vec![
            candle(
                Exchange::Bybit,
                1_670_601_600_000,
                3600,
                [17086.5, 17088.0, 16978.0, 17071.5]
            ),
            candle(
                Exchange::Bybit,
                1_670_605_200_000,
                3600,
                [17071.5, 17071.5, 17061.0, 17071.0]
            ),
            candle(
                Exchange::Bybit,
                1_670_608_800_000,
                3600,
                [17071.0, 17073.0, 17027.0, 17055.5]
            ),
        ]
    );
}

#[test]
fn okx_forming_candle_is_dropped_and_the_rest_come_out_oldest_first() {
    let list = candles::parse_okx_candles(&fixture("okx/candles.json"), "BTC", 60).unwrap();
    assert_eq!(
        list,
        vec![
            candle(
                Exchange::Okx,
                1_597_026_263_085,
                60,
                [3.7, 3.75, 3.69, 3.731]
            ),
            candle(
                Exchange::Okx,
                1_597_026_323_085,
                60,
                [3.731, 3.799, 3.494, 3.72]
            ),
        ]
    );
}

#[test]
fn candle_parsers_reject_broken_bodies() {
    assert_invalid(
        candles::parse_binance_candles(&fixture("binance/klines_inverted.json"), "BTC", 60),
        "high below open",
    );
    assert_invalid(
        candles::parse_binance_candles(&fixture("binance/klines_bad_price.json"), "BTC", 60),
        "NaN price",
    );
    assert_invalid(
        candles::parse_binance_candles(&fixture("binance/klines_short_row.json"), "BTC", 60),
        "row without low and close",
    );
    assert_venue_error(
        candles::parse_binance_candles(&fixture("binance/error.json"), "BTC", 60),
        "Binance error body",
    );
    assert_malformed(
        candles::parse_binance_candles("[[1499040000000,", "BTC", 60),
        "truncated",
    );
    assert_venue_error(
        candles::parse_bybit_candles(&fixture("bybit/error.json"), "BTC", 60),
        "retCode != 0",
    );
    assert_malformed(
        candles::parse_bybit_candles(&fixture("bybit/wrong_shape.json"), "BTC", 60),
        "list is an object",
    );
    assert_venue_error(
        candles::parse_okx_candles(&fixture("okx/error.json"), "BTC", 60),
        "code != 0",
    );
    assert_invalid(
        candles::parse_okx_candles(&fixture("okx/candles_bad_confirm.json"), "BTC", 60),
        "confirm neither 0 nor 1",
    );
    assert_malformed(
        candles::parse_okx_candles(&fixture("okx/wrong_shape.json"), "BTC", 60),
        "data is an object",
    );
    assert_malformed(candles::parse_okx_candles("garbage", "BTC", 60), "garbage");
}

#[test]
fn price_at_is_the_open_inside_a_candle_and_the_close_at_its_end() {
    let list = vec![
        candle(Exchange::Bybit, 0, 60, [10.0, 12.0, 9.0, 11.0]),
        candle(Exchange::Bybit, 60_000, 60, [11.0, 14.0, 11.0, 13.0]),
    ];
    assert_eq!(candles::price_at(&list, 0), Some(10.0));
    assert_eq!(candles::price_at(&list, 30_000), Some(10.0));
    assert_eq!(candles::price_at(&list, 60_000), Some(11.0));
    assert_eq!(candles::price_at(&list, 120_000), Some(13.0));
    assert_eq!(candles::price_at(&list, 120_001), None);
    assert_eq!(candles::price_at(&list, -1), None);
    assert_eq!(candles::price_at(&[], 0), None);
}

#[test]
fn candle_intervals_name_the_same_length_on_every_venue() {
    let names: Vec<_> = CandleInterval::ALL
        .iter()
        .map(|i| (i.secs(), i.binance(), i.bybit(), i.okx()))
        .collect();
    assert_eq!(
        names,
        vec![
            (60, "1m", "1", "1m"),
            (300, "5m", "5", "5m"),
            (900, "15m", "15", "15m"),
            (3600, "1h", "60", "1H"),
            (14_400, "4h", "240", "4H"),
            (86_400, "1d", "D", "1Dutc"),
        ]
    );
}

fn arb_candles(exchange: Exchange) -> impl Strategy<Value = Vec<Candle>> {
    prop::collection::btree_map(
        0_i64..1_000_000,
        (1e-6_f64..1e6, 0.0_f64..1.0, 0.0_f64..1.0, 0.0_f64..1.0),
        0..20,
    )
    .prop_map(move |rows| {
        rows.into_iter()
            .map(|(minute, (low, up, a, b))| {
                let high = low * (1.0 + up);
                let inside = |t: f64| (low + (high - low) * t).clamp(low, high);
                candle(
                    exchange,
                    minute * 60_000,
                    60,
                    [inside(a), high, low, inside(b)],
                )
            })
            .collect()
    })
}

proptest! {
    #[test]
    fn binance_candles_round_trip(list in arb_candles(Exchange::Binance)) {
        let body = candles::encode_binance_candles(&list);
        prop_assert_eq!(candles::parse_binance_candles(&body, "BTC", 60).unwrap(), list);
    }

    #[test]
    fn bybit_candles_round_trip(list in arb_candles(Exchange::Bybit)) {
        let body = candles::encode_bybit_candles("BTCUSDT", BybitContract::Linear, &list);
        prop_assert_eq!(candles::parse_bybit_candles(&body, "BTC", 60).unwrap(), list);
    }

    #[test]
    fn okx_candles_round_trip(list in arb_candles(Exchange::Okx)) {
        let body = candles::encode_okx_candles(&list);
        prop_assert_eq!(candles::parse_okx_candles(&body, "BTC", 60).unwrap(), list);
    }
}

// ---------------------------------------------------------------------------------------------
// Open interest

#[test]
fn binance_history_usd_is_the_open_interest_value() {
    let list = open_interest::parse_binance_open_interest_hist(
        &fixture("binance/open_interest_hist.json"),
        "BTC",
    )
    .unwrap();
    assert_eq!(
        list,
        vec![
            oi(Exchange::Binance, 1_583_127_900_000, 150_570_784.078_099_8),
            oi(Exchange::Binance, 1_583_128_200_000, 149_940_752.144_644_48),
        ]
    );
}

#[test]
fn binance_history_reads_numeric_timestamps_and_sorts_oldest_first() {
    let list = open_interest::parse_binance_open_interest_hist(
        &fixture("binance/open_interest_hist_numeric.json"),
        "BTC",
    )
    .unwrap();
    assert_eq!(
        list,
        vec![
            oi(Exchange::Binance, 1_583_127_900_000, 150_570_784.07),
            oi(Exchange::Binance, 1_583_128_200_000, 149_940_752.144_644_48),
        ]
    );
}

#[test]
fn binance_present_open_interest_is_base_units_priced_by_the_caller() {
    let present =
        open_interest::parse_binance_open_interest(&fixture("binance/open_interest.json")).unwrap();
    assert_eq!(
        present,
        BinanceOpenInterest {
            symbol: "BTCUSDT".into(),
            ts_ms: 1_589_437_530_011,
            base_qty: 10_659.509,
        }
    );
    // 10 659.509 BTC at $60 000 = $639 570 540.
    let usd = open_interest::binance_open_interest_usd(&present, "BTC", 60_000.0).unwrap();
    assert_eq!(
        cents(vec![usd]),
        vec![oi(Exchange::Binance, 1_589_437_530_011, 639_570_540.0)]
    );
    for price in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert_eq!(
            open_interest::binance_open_interest_usd(&present, "BTC", price),
            None
        );
    }
}

#[test]
fn binance_open_interest_rejects_broken_bodies() {
    assert_invalid(
        open_interest::parse_binance_open_interest(&fixture("binance/open_interest_negative.json")),
        "negative open interest",
    );
    assert_venue_error(
        open_interest::parse_binance_open_interest(&fixture("binance/error.json")),
        "error body",
    );
    assert_venue_error(
        open_interest::parse_binance_open_interest_hist(&fixture("binance/error.json"), "BTC"),
        "error body",
    );
    assert_malformed(
        open_interest::parse_binance_open_interest_hist(
            &fixture("binance/open_interest.json"),
            "BTC",
        ),
        "an object where an array belongs",
    );
}

#[test]
fn bybit_linear_single_side_times_the_price_is_usd() {
    let list =
        open_interest::parse_bybit_open_interest(&fixture("bybit/open_interest_linear.json"))
            .unwrap();
    assert_eq!(
        list,
        vec![
            BybitOpenInterest {
                ts_ms: 1_669_571_100_000,
                one_sided: 40_000.0,
            },
            BybitOpenInterest {
                ts_ms: 1_669_571_400_000,
                one_sided: 50_000.5,
            },
        ]
    );
    let prices = vec![
        candle(
            Exchange::Bybit,
            1_669_571_100_000,
            300,
            [25_000.0, 25_100.0, 19_900.0, 20_000.0],
        ),
        candle(
            Exchange::Bybit,
            1_669_571_400_000,
            300,
            [20_000.0, 20_500.0, 19_800.0, 20_100.0],
        ),
    ];
    let usd = open_interest::bybit_open_interest_usd(&list, BybitContract::Linear, "BTC", |t| {
        candles::price_at(&prices, t)
    });
    // 40 000 BTC x $25 000 and 50 000.5 BTC x $20 000.
    assert_eq!(
        usd,
        vec![
            oi(Exchange::Bybit, 1_669_571_100_000, 1_000_000_000.0),
            oi(Exchange::Bybit, 1_669_571_400_000, 1_000_010_000.0),
        ]
    );
}

#[test]
fn bybit_linear_reading_without_a_price_is_left_out() {
    let list =
        open_interest::parse_bybit_open_interest(&fixture("bybit/open_interest_linear.json"))
            .unwrap();
    let usd = open_interest::bybit_open_interest_usd(&list, BybitContract::Linear, "BTC", |t| {
        (t == 1_669_571_400_000).then_some(20_000.0)
    });
    assert_eq!(
        usd,
        vec![oi(Exchange::Bybit, 1_669_571_400_000, 1_000_010_000.0)]
    );
}

#[test]
fn bybit_inverse_single_side_is_already_usd() {
    let list =
        open_interest::parse_bybit_open_interest(&fixture("bybit/open_interest_inverse.json"))
            .unwrap();
    let usd =
        open_interest::bybit_open_interest_usd(&list, BybitContract::Inverse, "BTC", |_| None);
    assert_eq!(
        usd,
        vec![
            oi(Exchange::Bybit, 1_780_704_000_000, 31_971_156.0),
            oi(Exchange::Bybit, 1_780_876_800_000, 31_955_346.0),
            oi(Exchange::Bybit, 1_780_963_200_000, 31_955_346.0),
        ]
    );
}

#[test]
fn bybit_two_sided_open_interest_is_halved_without_a_single_side() {
    assert_eq!(open_interest::BYBIT_OPEN_INTEREST_SIDES, 2.0);
    let list = open_interest::parse_bybit_open_interest(&fixture(
        "bybit/open_interest_two_sided_only.json",
    ))
    .unwrap();
    // 461 134 292 / 2 and 461 134 384 / 2.
    assert_eq!(
        list,
        vec![
            BybitOpenInterest {
                ts_ms: 1_669_571_100_000,
                one_sided: 230_567_146.0,
            },
            BybitOpenInterest {
                ts_ms: 1_669_571_400_000,
                one_sided: 230_567_192.0,
            },
        ]
    );
}

#[test]
fn bybit_open_interest_rejects_broken_bodies() {
    assert_venue_error(
        open_interest::parse_bybit_open_interest(&fixture("bybit/error.json")),
        "retCode != 0",
    );
    assert_malformed(
        open_interest::parse_bybit_open_interest(&fixture("bybit/wrong_shape.json")),
        "list is an object",
    );
    assert_malformed(
        open_interest::parse_bybit_open_interest(&fixture("fear_greed/not_json.txt")),
        "not JSON",
    );
}

#[test]
fn okx_open_interest_usd_is_oi_usd() {
    let list =
        open_interest::parse_okx_open_interest(&fixture("okx/open_interest.json"), "BTC").unwrap();
    assert_eq!(
        list,
        vec![oi(Exchange::Okx, 1_597_026_383_085, 4_750_000.0)]
    );
}

#[test]
fn okx_history_reads_the_fourth_column_oldest_first() {
    let list = open_interest::parse_okx_open_interest_history(
        &fixture("okx/open_interest_history.json"),
        "BTC",
    )
    .unwrap();
    assert_eq!(
        list,
        vec![
            oi(Exchange::Okx, 1_701_417_000_000, 8_850_000.0),
            oi(Exchange::Okx, 1_701_417_300_000, 8_880_000.5),
            oi(Exchange::Okx, 1_701_417_600_000, 8_888_888.0),
        ]
    );
}

#[test]
fn okx_open_interest_rejects_broken_bodies() {
    assert_venue_error(
        open_interest::parse_okx_open_interest(&fixture("okx/error.json"), "BTC"),
        "code != 0",
    );
    assert_venue_error(
        open_interest::parse_okx_open_interest_history(&fixture("okx/error.json"), "BTC"),
        "code != 0",
    );
    assert_invalid(
        open_interest::parse_okx_open_interest_history(
            &fixture("okx/open_interest_history_short_row.json"),
            "BTC",
        ),
        "row without oiUsd",
    );
    assert_malformed(
        open_interest::parse_okx_open_interest(&fixture("okx/wrong_shape.json"), "BTC"),
        "data is an object",
    );
}

#[test]
fn open_interest_encodings_parse_back() {
    let binance = vec![
        oi(Exchange::Binance, 1_000, 1.5e9),
        oi(Exchange::Binance, 2_000, 0.1),
    ];
    let body = open_interest::encode_binance_open_interest_hist("BTCUSDT", &binance);
    assert_eq!(
        open_interest::parse_binance_open_interest_hist(&body, "BTC").unwrap(),
        binance
    );

    let present = BinanceOpenInterest {
        symbol: "BTCUSDT".into(),
        ts_ms: 5,
        base_qty: 10_659.509,
    };
    let body = open_interest::encode_binance_open_interest(&present);
    assert_eq!(
        open_interest::parse_binance_open_interest(&body).unwrap(),
        present
    );

    let bybit = vec![
        BybitOpenInterest {
            ts_ms: 1_000,
            one_sided: 12_345.678,
        },
        BybitOpenInterest {
            ts_ms: 2_000,
            one_sided: 0.0,
        },
    ];
    let body = open_interest::encode_bybit_open_interest("BTCUSDT", BybitContract::Linear, &bybit);
    assert_eq!(
        open_interest::parse_bybit_open_interest(&body).unwrap(),
        bybit
    );

    let okx = vec![oi(Exchange::Okx, 1_000, 4_750_000.0)];
    let body = open_interest::encode_okx_open_interest("BTC-USDT-SWAP", &okx);
    assert_eq!(
        open_interest::parse_okx_open_interest(&body, "BTC").unwrap(),
        okx
    );
    let history = vec![
        oi(Exchange::Okx, 1_000, 8_850_000.0),
        oi(Exchange::Okx, 2_000, 8_888_888.25),
    ];
    let body = open_interest::encode_okx_open_interest_history(&history);
    assert_eq!(
        open_interest::parse_okx_open_interest_history(&body, "BTC").unwrap(),
        history
    );
}

#[test]
fn open_interest_periods_name_the_same_length_on_every_venue() {
    let names: Vec<_> = OiPeriod::ALL
        .iter()
        .map(|p| (p.secs(), p.binance(), p.bybit(), p.okx()))
        .collect();
    assert_eq!(
        names,
        vec![
            (300, "5m", "5min", "5m"),
            (900, "15m", "15min", "15m"),
            (1800, "30m", "30min", "30m"),
            (3600, "1h", "1h", "1H"),
            (14_400, "4h", "4h", "4H"),
            (86_400, "1d", "1d", "1Dutc"),
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Fetchers against a local REST server

async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

type Query = axum::extract::Query<HashMap<String, String>>;

/// A GET route that checks its query against `expected` and answers `body`.
fn route(expected: &[(&str, &str)], body: String) -> axum::routing::MethodRouter {
    let expected: HashMap<String, String> = expected
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    axum::routing::get(move |axum::extract::Query(query): Query| async move {
        assert_eq!(query, expected);
        body
    })
}

#[tokio::test]
async fn fetchers_request_the_documented_paths_and_parse_the_answers() {
    let fng = fear_greed::parse_fear_greed(&fixture("fear_greed/documented.json")).unwrap();
    let binance_candles =
        candles::parse_binance_candles(&fixture("binance/klines.json"), "BTC", 60).unwrap();
    let bybit_candles =
        candles::parse_bybit_candles(&fixture("bybit/kline.json"), "BTC", 3600).unwrap();
    let okx_candles = candles::parse_okx_candles(&fixture("okx/candles.json"), "BTC", 60).unwrap();
    let binance_hist = vec![oi(Exchange::Binance, 1_000, 1.5e9)];
    let binance_now = BinanceOpenInterest {
        symbol: "BTCUSDT".into(),
        ts_ms: 7,
        base_qty: 3.5,
    };
    let bybit_oi = vec![BybitOpenInterest {
        ts_ms: 1_000,
        one_sided: 2.25,
    }];
    let okx_now = vec![oi(Exchange::Okx, 1_000, 4_750_000.0)];
    let okx_hist = vec![oi(Exchange::Okx, 1_000, 1.0), oi(Exchange::Okx, 2_000, 2.0)];

    let router = axum::Router::new()
        .route(
            "/fng/",
            route(&[("limit", "8")], fear_greed::encode_fear_greed(&fng)),
        )
        .route(
            "/fapi/v1/klines",
            route(
                &[("symbol", "BTCUSDT"), ("interval", "1m"), ("limit", "1500")],
                candles::encode_binance_candles(&binance_candles),
            ),
        )
        .route(
            "/v5/market/kline",
            route(
                &[
                    ("category", "inverse"),
                    ("symbol", "BTCUSD"),
                    ("interval", "60"),
                    ("limit", "3"),
                ],
                candles::encode_bybit_candles("BTCUSD", BybitContract::Inverse, &bybit_candles),
            ),
        )
        .route(
            "/api/v5/market/candles",
            route(
                &[("instId", "BTC-USDT-SWAP"), ("bar", "1m"), ("limit", "300")],
                candles::encode_okx_candles(&okx_candles),
            ),
        )
        .route(
            "/futures/data/openInterestHist",
            route(
                &[("symbol", "BTCUSDT"), ("period", "5m"), ("limit", "1")],
                open_interest::encode_binance_open_interest_hist("BTCUSDT", &binance_hist),
            ),
        )
        .route(
            "/fapi/v1/openInterest",
            route(
                &[("symbol", "BTCUSDT")],
                open_interest::encode_binance_open_interest(&binance_now),
            ),
        )
        .route(
            "/v5/market/open-interest",
            route(
                &[
                    ("category", "linear"),
                    ("symbol", "BTCUSDT"),
                    ("intervalTime", "5min"),
                    ("limit", "200"),
                ],
                open_interest::encode_bybit_open_interest(
                    "BTCUSDT",
                    BybitContract::Linear,
                    &bybit_oi,
                ),
            ),
        )
        .route(
            "/api/v5/public/open-interest",
            route(
                &[("instType", "SWAP"), ("instId", "BTC-USDT-SWAP")],
                open_interest::encode_okx_open_interest("BTC-USDT-SWAP", &okx_now),
            ),
        )
        .route(
            "/api/v5/rubik/stat/contracts/open-interest-history",
            route(
                &[
                    ("instId", "BTC-USDT-SWAP"),
                    ("period", "1H"),
                    ("limit", "100"),
                ],
                open_interest::encode_okx_open_interest_history(&okx_hist),
            ),
        );
    let base = serve(router).await;
    // A trailing slash on a base URL is accepted.
    let slashed = format!("{base}/");
    let client = reqwest::Client::new();

    let got = fear_greed::fetch_fear_greed(&client, &format!("{base}/fng/"), 8).await;
    assert_eq!(got.unwrap(), fng);
    let got = candles::fetch_binance_candles(
        &client,
        &slashed,
        "BTCUSDT",
        "BTC",
        CandleInterval::M1,
        5000,
    )
    .await;
    assert_eq!(got.unwrap(), binance_candles);
    let got = candles::fetch_bybit_candles(
        &client,
        &base,
        BybitContract::Inverse,
        "BTCUSD",
        "BTC",
        CandleInterval::H1,
        3,
    )
    .await;
    assert_eq!(got.unwrap(), bybit_candles);
    let got = candles::fetch_okx_candles(
        &client,
        &base,
        "BTC-USDT-SWAP",
        "BTC",
        CandleInterval::M1,
        999,
    )
    .await;
    assert_eq!(got.unwrap(), okx_candles);
    let got = open_interest::fetch_binance_open_interest_hist(
        &client,
        &base,
        "BTCUSDT",
        "BTC",
        OiPeriod::M5,
        0,
    )
    .await;
    assert_eq!(got.unwrap(), binance_hist);
    let got = open_interest::fetch_binance_open_interest(&client, &base, "BTCUSDT").await;
    assert_eq!(got.unwrap(), binance_now);
    let got = open_interest::fetch_bybit_open_interest(
        &client,
        &base,
        BybitContract::Linear,
        "BTCUSDT",
        OiPeriod::M5,
        500,
    )
    .await;
    assert_eq!(got.unwrap(), bybit_oi);
    let got = open_interest::fetch_okx_open_interest(&client, &base, "BTC-USDT-SWAP", "BTC").await;
    assert_eq!(got.unwrap(), okx_now);
    let got = open_interest::fetch_okx_open_interest_history(
        &client,
        &base,
        "BTC-USDT-SWAP",
        "BTC",
        OiPeriod::H1,
        100,
    )
    .await;
    assert_eq!(got.unwrap(), okx_hist);
}

#[tokio::test]
async fn fetchers_report_a_failed_status_and_an_unusable_body() {
    let router = axum::Router::new()
        .route(
            "/fng/",
            axum::routing::get(|| async {
                (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "oops")
            }),
        )
        .route(
            "/fapi/v1/klines",
            axum::routing::get(|| async { "<html>garbage</html>" }),
        )
        .route(
            "/v5/market/open-interest",
            axum::routing::get(|| async {
                (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "oops")
            }),
        )
        .route(
            "/api/v5/public/open-interest",
            axum::routing::get(|| async {
                r#"{"code":"51001","msg":"Instrument ID does not exist","data":[]}"#
            }),
        );
    let base = serve(router).await;
    let client = reqwest::Client::new();

    let result = fear_greed::fetch_fear_greed(&client, &format!("{base}/fng/"), 8).await;
    assert!(
        matches!(&result, Err(FetchError::Status { status, .. }) if status.as_u16() == 500),
        "{result:?}"
    );
    let result = open_interest::fetch_bybit_open_interest(
        &client,
        &base,
        BybitContract::Linear,
        "BTCUSDT",
        OiPeriod::M5,
        10,
    )
    .await;
    assert!(
        matches!(&result, Err(FetchError::Status { status, .. }) if status.as_u16() == 500),
        "{result:?}"
    );
    let result =
        candles::fetch_binance_candles(&client, &base, "BTCUSDT", "BTC", CandleInterval::M1, 10)
            .await;
    assert!(
        matches!(&result, Err(FetchError::Body(FrameError::Json(_)))),
        "{result:?}"
    );
    let result =
        open_interest::fetch_okx_open_interest(&client, &base, "BTC-USDT-SWAP", "BTC").await;
    assert!(
        matches!(&result, Err(FetchError::Body(FrameError::Venue(_)))),
        "{result:?}"
    );
}
