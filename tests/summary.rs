//! Window summaries against hand-computed fixtures, through the real SQLite store (and
//! PostgreSQL when `LIQBOT_TEST_DATABASE_URL` is set).

mod common;

use common::{all_stores, liq};
use liqbot::analytics::{CoinTotals, Coverage, Largest, Summary, Window};
use liqbot::model::Exchange::{Binance, Bybit, Okx};
use liqbot::model::Side::{Long, Short};
use liqbot::store::{Store, window_summary};
use pretty_assertions::assert_eq;

/// 2026-11-21 12:00:30 UTC.
const NOW: i64 = 1_795_262_430_000;
const MIN: i64 = 60_000;
/// The 1h window ending at NOW starts at 11:01:00 (it includes the current minute, 12:00).
const START: i64 = NOW - 30_000 - 59 * MIN;

fn totals(name: &str, usd: f64, long_usd: f64, short_usd: f64, count: i64) -> CoinTotals {
    CoinTotals {
        name: name.into(),
        usd,
        long_usd,
        short_usd,
        count,
    }
}

#[tokio::test]
async fn one_hour_summary_matches_the_hand_computed_figures() {
    let mut largest = liq(Binance, "BTCUSDT", Long, 200_000.0, START + 10 * MIN + 123);
    largest.price = 95_000.0;
    let events = vec![
        // Three hours ago: outside both windows, but it dates the start of collection.
        liq(Binance, "BTCUSDT", Long, 1_000.0, NOW - 3 * 3_600_000),
        // The previous hour: $160,000.
        liq(Binance, "BTCUSDT", Long, 100_000.0, START - 30 * MIN),
        liq(Bybit, "ETHUSDT", Short, 60_000.0, START - 1),
        // This hour: $320,000, longs $250,000.
        largest.clone(),
        liq(Bybit, "BTCUSDT", Short, 50_000.0, START),
        {
            let mut e = liq(Okx, "ETH-USDT-SWAP", Long, 30_000.0, NOW - 1);
            e.base = "ETH".into();
            e
        },
        {
            let mut e = liq(Okx, "SOL-USDT-SWAP", Short, 20_000.0, START + 59 * MIN);
            e.base = "SOL".into();
            e
        },
        liq(Binance, "ETHUSDT", Long, 20_000.0, START + 45 * MIN),
        // In the future of NOW: not counted.
        liq(Binance, "BTCUSDT", Long, 9_999_999.0, NOW + 30_000),
    ];
    for t in all_stores().await {
        t.store.insert_batch(&events).await.unwrap();
        let got = window_summary(&t.store, Window::H1, None, NOW, 2)
            .await
            .unwrap();
        let want = Summary {
            window: "1h",
            coin: None,
            start_ms: START,
            end_ms: START + 60 * MIN,
            total: totals("total", 320_000.0, 250_000.0, 70_000.0, 5),
            by_exchange: vec![
                totals("Binance", 220_000.0, 220_000.0, 0.0, 2),
                totals("Bybit", 50_000.0, 0.0, 50_000.0, 1),
                totals("OKX", 50_000.0, 30_000.0, 20_000.0, 2),
            ],
            top_coins: vec![
                totals("BTC", 250_000.0, 200_000.0, 50_000.0, 2),
                totals("ETH", 50_000.0, 50_000.0, 0.0, 2),
            ],
            coin_count: 3,
            largest: Some(Largest {
                exchange: Binance,
                symbol: "BTCUSDT".into(),
                base: "BTC".into(),
                side: Long,
                usd: 200_000.0,
                price: Some(95_000.0),
                ts_ms: Some(largest.ts_ms),
            }),
            previous_usd: Some(160_000.0),
            change_pct: Some(100.0),
            coverage: Coverage {
                collected_since_ms: Some((NOW - 3 * 3_600_000) / MIN * MIN),
                complete: true,
                covered_minutes: 60,
                binance_lower_bound: true,
            },
        };
        assert_eq!(got, want, "{}", t.name);
        assert_eq!(got.total.long_share(), 0.781_25);

        let eth = window_summary(&t.store, Window::H1, Some("ETH"), NOW, 5)
            .await
            .unwrap();
        assert_eq!(
            eth.total,
            totals("total", 50_000.0, 50_000.0, 0.0, 2),
            "{}",
            t.name
        );
        assert_eq!(
            (eth.previous_usd, eth.change_pct),
            (
                Some(60_000.0),
                Some((50_000.0 - 60_000.0) / 60_000.0 * 100.0)
            ),
            "{}",
            t.name
        );
    }
}

#[tokio::test]
async fn a_young_bot_says_how_much_of_the_window_it_has_seen() {
    for t in all_stores().await {
        // Collection began 30 minutes into the 1h window.
        t.store
            .insert_batch(&[liq(Bybit, "BTCUSDT", Long, 5_000.0, START + 30 * MIN + 5)])
            .await
            .unwrap();
        let got = window_summary(&t.store, Window::H1, None, NOW, 5)
            .await
            .unwrap();
        assert_eq!(
            got.coverage,
            Coverage {
                collected_since_ms: Some(START + 30 * MIN),
                complete: false,
                covered_minutes: 30,
                binance_lower_bound: false,
            },
            "{}",
            t.name
        );
        assert_eq!(
            (got.previous_usd, got.change_pct),
            (None, None),
            "{}",
            t.name
        );
        let text = liqbot::render::plain::summary_text(&got);
        assert!(
            text.contains("data since Sat 21 Nov 11:31 UTC only, 0h30m of the 1h asked"),
            "{text}"
        );
        assert!(text.contains("not enough history yet"), "{text}");

        let week = window_summary(&t.store, Window::D7, None, NOW, 5)
            .await
            .unwrap();
        assert_eq!(
            (week.coverage.complete, week.coverage.covered_minutes),
            (false, 30)
        );
    }
}
