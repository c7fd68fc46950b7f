//! The store test suite, run against SQLite always and PostgreSQL when
//! `LIQBOT_TEST_DATABASE_URL` is set.

mod common;

use std::collections::BTreeMap;

use common::{all_stores, liq};
use liqbot::analytics::{MinuteRange, WindowRow};
use liqbot::model::{Exchange, Liquidation, Side};
use liqbot::store::{InsertOutcome, SqlStore, Store};
use pretty_assertions::assert_eq;

/// A deterministic spread of events over three days, on three venues and three coins.
fn spread_events() -> Vec<Liquidation> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let symbols = [
        (Exchange::Binance, "BTCUSDT"),
        (Exchange::Bybit, "ETHUSDT"),
        (Exchange::Okx, "SOL-USDT-SWAP"),
        (Exchange::Binance, "ETHUSDT"),
    ];
    (0..3_000)
        .map(|_| {
            let (ex, sym) = symbols[(next() % 4) as usize];
            let side = if next() % 3 == 0 {
                Side::Short
            } else {
                Side::Long
            };
            let usd = (next() % 1_000_000) as f64 / 100.0 + 1.0;
            let ts = 1_700_000_000_000 + (next() % (3 * 86_400_000)) as i64;
            let mut e = liq(ex, sym, side, usd, ts);
            if sym == "SOL-USDT-SWAP" {
                e.base = "SOL".into();
            }
            e
        })
        .collect()
}

/// What the window query must return, computed from raw events.
fn brute_force(events: &[Liquidation], range: MinuteRange, coin: Option<&str>) -> Vec<WindowRow> {
    let mut map: BTreeMap<(Exchange, String, Side), (f64, i64)> = BTreeMap::new();
    for e in events {
        if e.minute() >= range.start && e.minute() < range.end && coin.is_none_or(|c| c == e.base) {
            let slot = map
                .entry((e.exchange, e.base.to_string(), e.side))
                .or_default();
            slot.0 += e.usd;
            slot.1 += 1;
        }
    }
    map.into_iter()
        .map(|((exchange, base, side), (usd, count))| WindowRow {
            exchange,
            base,
            side,
            usd,
            count,
        })
        .collect()
}

fn assert_rows_close(store: &str, got: &[WindowRow], want: &[WindowRow]) {
    assert_eq!(got.len(), want.len(), "{store}: {got:#?} vs {want:#?}");
    for (g, w) in got.iter().zip(want) {
        assert_eq!(
            (g.exchange, &g.base, g.side, g.count),
            (w.exchange, &w.base, w.side, w.count),
            "{store}"
        );
        assert!(
            (g.usd - w.usd).abs() < 1e-6 * w.usd.max(1.0),
            "{store}: {} vs {}",
            g.usd,
            w.usd
        );
    }
}

#[tokio::test]
async fn an_event_stored_twice_is_kept_and_counted_once() {
    for t in all_stores().await {
        let a = liq(Exchange::Bybit, "BTCUSDT", Side::Long, 1_000.0, 60_000);
        let b = liq(Exchange::Bybit, "BTCUSDT", Side::Short, 500.0, 60_001);
        let first = t
            .store
            .insert_batch(&[a.clone(), b.clone(), a.clone()])
            .await
            .unwrap();
        assert_eq!(
            first,
            InsertOutcome {
                inserted: 2,
                duplicates: 1
            },
            "{}",
            t.name
        );
        let again = t.store.insert_batch(&[b, a]).await.unwrap();
        assert_eq!(
            again,
            InsertOutcome {
                inserted: 0,
                duplicates: 2
            },
            "{}",
            t.name
        );
        assert_eq!(t.store.event_count().await.unwrap(), 2, "{}", t.name);
        let rows = t
            .store
            .window_rows(MinuteRange { start: 0, end: 10 }, None)
            .await
            .unwrap();
        let total: f64 = rows.iter().map(|r| r.usd).sum();
        assert_eq!(total, 1_500.0, "{}", t.name);
    }
}

#[tokio::test]
async fn window_rows_and_totals_match_a_brute_force_sum_over_raw_events() {
    let events = spread_events();
    for t in all_stores().await {
        for chunk in events.chunks(700) {
            t.store.insert_batch(chunk).await.unwrap();
        }
        let base = 1_700_000_000_000 / 60_000;
        let ranges = [
            MinuteRange {
                start: base,
                end: base + 1440,
            },
            MinuteRange {
                start: base + 17,
                end: base + 17 + 24 * 60,
            },
            MinuteRange {
                start: base + 59,
                end: base + 61,
            },
            MinuteRange {
                start: base + 120,
                end: base + 180,
            },
            MinuteRange {
                start: base - 100,
                end: base + 5 * 1440,
            },
        ];
        for range in ranges {
            for coin in [None, Some("ETH"), Some("SOL")] {
                let got = t.store.window_rows(range, coin).await.unwrap();
                let want = brute_force(&events, range, coin);
                assert_rows_close(t.name, &got, &want);
                // The previous window's total, as a summary reads it: the same rows, summed.
                let usd = t.store.window_usd(range, coin).await.unwrap();
                let want: f64 = want.iter().map(|r| r.usd).sum();
                assert!(
                    (usd - want).abs() < 1e-6 * want.max(1.0),
                    "{}: {usd} vs {want} over {range:?} {coin:?}",
                    t.name
                );
            }
        }
    }
}

#[tokio::test]
async fn largest_finds_the_exact_raw_event_inside_an_hour_bucket() {
    let events = spread_events();
    for t in all_stores().await {
        t.store.insert_batch(&events).await.unwrap();
        let base = 1_700_000_000_000 / 60_000;
        for (range, coin) in [
            (
                MinuteRange {
                    start: base + 13,
                    end: base + 13 + 1440,
                },
                None,
            ),
            (
                MinuteRange {
                    start: base,
                    end: base + 3 * 1440,
                },
                Some("SOL"),
            ),
        ] {
            let want = events
                .iter()
                .filter(|e| e.minute() >= range.start && e.minute() < range.end)
                .filter(|e| coin.is_none_or(|c| c == e.base))
                .max_by(|a, b| a.usd.total_cmp(&b.usd))
                .unwrap();
            let got = t.store.largest(range, coin).await.unwrap().unwrap();
            assert_eq!(
                (
                    got.exchange,
                    got.symbol.as_str(),
                    got.side,
                    got.usd,
                    got.price,
                    got.ts_ms
                ),
                (
                    want.exchange,
                    want.symbol.as_str(),
                    want.side,
                    want.usd,
                    Some(want.price),
                    Some(want.ts_ms)
                ),
                "{}",
                t.name
            );
        }
        assert_eq!(
            t.store
                .largest(MinuteRange { start: 0, end: 10 }, None)
                .await
                .unwrap(),
            None
        );
    }
}

#[tokio::test]
async fn collected_since_is_the_first_stored_minute_and_prune_keeps_recent_events() {
    for t in all_stores().await {
        assert_eq!(
            t.store.collected_since_ms().await.unwrap(),
            None,
            "{}",
            t.name
        );
        let old = liq(Exchange::Okx, "BTC-USDT-SWAP", Side::Long, 10.0, 90_500);
        let new = liq(
            Exchange::Okx,
            "BTC-USDT-SWAP",
            Side::Long,
            10.0,
            10 * 60_000,
        );
        t.store.insert_batch(&[new.clone(), old]).await.unwrap();
        assert_eq!(
            t.store.collected_since_ms().await.unwrap(),
            Some(60_000),
            "{}",
            t.name
        );
        assert_eq!(t.store.prune(5 * 60_000).await.unwrap(), 1, "{}", t.name);
        assert_eq!(t.store.event_count().await.unwrap(), 1, "{}", t.name);
    }
}

#[tokio::test]
async fn two_writers_racing_on_the_same_events_store_them_once() {
    let events = spread_events();
    for t in all_stores().await {
        let other = SqlStore::open(&t.url).await.unwrap();
        let (a, b) = tokio::join!(t.store.insert_batch(&events), other.insert_batch(&events));
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a.inserted + b.inserted, events.len(), "{}", t.name);
        let range = MinuteRange {
            start: 0,
            end: i64::MAX / 120_000,
        };
        let got = t.store.window_rows(range, None).await.unwrap();
        assert_rows_close(t.name, &got, &brute_force(&events, range, None));
    }
}

#[tokio::test]
async fn market_context_upserts_replace_rather_than_duplicate() {
    use liqbot::model::{Candle, FearGreed, OpenInterest};
    use liqbot::store::MarketStore;
    let candle = |open_ms: i64, close: f64| Candle {
        exchange: Exchange::Binance,
        base: "BTC".into(),
        open_ms,
        interval_secs: 60,
        open: 100.0,
        high: 110.0,
        low: 90.0,
        close,
    };
    let oi = |exchange, ts_ms, usd| OpenInterest {
        exchange,
        base: "BTC".into(),
        ts_ms,
        usd,
    };
    let fg = |day: i64, value, class: &str| FearGreed {
        ts_ms: day * 86_400_000,
        value,
        classification: class.into(),
    };
    for t in all_stores().await {
        let s = &t.store;
        s.upsert_candles(&[candle(0, 101.0), candle(60_000, 102.0)])
            .await
            .unwrap();
        // The forming candle is polled again with a new close.
        s.upsert_candles(&[candle(60_000, 105.0)]).await.unwrap();
        let got = s
            .candles(Exchange::Binance, "BTC", 0, 120_000)
            .await
            .unwrap();
        assert_eq!(
            got,
            vec![candle(0, 101.0), candle(60_000, 105.0)],
            "{}",
            t.name
        );
        assert!(
            s.candles(Exchange::Okx, "BTC", 0, 120_000)
                .await
                .unwrap()
                .is_empty()
        );

        s.upsert_open_interest(&[
            oi(Exchange::Okx, 300_000, 5.0),
            oi(Exchange::Binance, 300_000, 7.0),
        ])
        .await
        .unwrap();
        s.upsert_open_interest(&[oi(Exchange::Okx, 300_000, 6.0), oi(Exchange::Bybit, 0, 1.0)])
            .await
            .unwrap();
        let got = s.open_interest("BTC", 0, 1_000_000).await.unwrap();
        assert_eq!(
            got,
            vec![
                oi(Exchange::Bybit, 0, 1.0),
                oi(Exchange::Binance, 300_000, 7.0),
                oi(Exchange::Okx, 300_000, 6.0)
            ],
            "{}",
            t.name
        );

        s.upsert_fear_greed(&[fg(1, 40, "Fear"), fg(2, 70, "Greed")])
            .await
            .unwrap();
        s.upsert_fear_greed(&[fg(2, 71, "Greed")]).await.unwrap();
        assert_eq!(
            s.fear_greed(8).await.unwrap(),
            vec![fg(2, 71, "Greed"), fg(1, 40, "Fear")],
            "{}",
            t.name
        );
    }
}

#[tokio::test]
async fn subscriptions_survive_a_reopen_and_go_inactive_with_a_reason() {
    use liqbot::store::{Subscription, SubscriptionStore};
    let sub = |chat: &str, kind: &str, schedule: &str| Subscription {
        platform: "telegram".into(),
        chat_id: chat.into(),
        guild_id: None,
        kind: kind.into(),
        coin: String::new(),
        window: "24h".into(),
        schedule: schedule.into(),
        created_by: "42".into(),
        created_ms: 1_000,
        active: true,
        inactive_reason: None,
    };
    for t in all_stores().await {
        let s = &t.store;
        s.upsert_subscription(&sub("-100", "summary", "daily 08:00"))
            .await
            .unwrap();
        s.upsert_subscription(&sub("-100", "fng", "24h"))
            .await
            .unwrap();
        s.upsert_subscription(&sub("-200", "summary", "1h"))
            .await
            .unwrap();
        // Subscribing again replaces the schedule instead of adding a second row.
        s.upsert_subscription(&sub("-100", "summary", "4h"))
            .await
            .unwrap();

        let reopened = SqlStore::open(&t.url).await.unwrap();
        let chat = reopened
            .chat_subscriptions("telegram", "-100")
            .await
            .unwrap();
        assert_eq!(
            chat,
            vec![sub("-100", "fng", "24h"), sub("-100", "summary", "4h")],
            "{}",
            t.name
        );

        assert_eq!(
            s.deactivate_chat("telegram", "-200", "403: bot was kicked")
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            s.deactivate_chat("telegram", "-200", "again")
                .await
                .unwrap(),
            0,
            "{}",
            t.name
        );
        let active = s.active_subscriptions().await.unwrap();
        assert_eq!(active.len(), 2, "{}", t.name);
        let gone = s.chat_subscriptions("telegram", "-200").await.unwrap();
        assert_eq!(
            (gone[0].active, gone[0].inactive_reason.as_deref()),
            (false, Some("403: bot was kicked"))
        );
        // An admin subscribing again brings it back.
        s.upsert_subscription(&sub("-200", "summary", "1h"))
            .await
            .unwrap();
        assert_eq!(
            s.active_subscriptions().await.unwrap().len(),
            3,
            "{}",
            t.name
        );

        assert_eq!(
            s.remove_subscriptions("telegram", "-100", Some("fng"))
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            s.remove_subscriptions("telegram", "-100", None)
                .await
                .unwrap(),
            1
        );
        assert!(
            s.chat_subscriptions("telegram", "-100")
                .await
                .unwrap()
                .is_empty()
        );
        reopened.close().await;
    }
}

/// The heatmap cells the store sums in SQL equal the ones built from the raw events in Rust,
/// on every backend: same axis, same bins, same USD per cell.
#[tokio::test]
async fn heatmap_cells_summed_in_the_store_match_the_raw_events() {
    use liqbot::analytics::heatmap::{
        HeatAxis, HeatmapSpec, PricePoint, build_heatmap, heatmap_from_cells,
    };
    let start = 1_700_000_000_000_i64;
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let events: Vec<Liquidation> = (0..4_000)
        .map(|i| {
            let coin = if i % 3 == 0 { "ETHUSDT" } else { "BTCUSDT" };
            let side = if next() % 2 == 0 {
                Side::Long
            } else {
                Side::Short
            };
            let usd = (next() % 5_000_000) as f64 / 100.0 + 1.0;
            // Some events fall before or after the window, to be left out.
            let ts = start - 3_600_000 + (next() % (26 * 3_600_000)) as i64;
            let mut e = liq(Exchange::Bybit, coin, side, usd, ts);
            e.price = 90_000.0 + (next() % 800_000) as f64 / 100.0;
            e.quantity = usd / e.price;
            e
        })
        .collect();
    let spec = HeatmapSpec {
        coin: "BTC".into(),
        window: "24h".into(),
        start_ms: start,
        end_ms: start + 86_400_000,
        columns: 96,
        max_rows: 60,
    };
    let btc: Vec<PricePoint> = events
        .iter()
        .filter(|e| e.base == "BTC")
        .map(PricePoint::from)
        .collect();
    let want = build_heatmap(&spec, &btc, &[]);
    for db in all_stores().await {
        db.store.insert_batch(&events).await.unwrap();
        let range = db
            .store
            .price_range(spec.start_ms, spec.end_ms, "BTC")
            .await
            .unwrap();
        let axis = HeatAxis::new(&spec, range, &[]);
        let cells = db.store.heat_cells("BTC", &axis).await.unwrap();
        let got = heatmap_from_cells(&spec, &axis, &cells, &[]);
        assert_eq!(
            (got.price_min, got.bin_size, got.rows, got.columns),
            (want.price_min, want.bin_size, want.rows, want.columns),
            "{}",
            db.name
        );
        assert!(want.total_usd() > 0.0);
        for (i, (g, w)) in got.cells.iter().zip(&want.cells).enumerate() {
            for (a, b) in [(g.long_usd, w.long_usd), (g.short_usd, w.short_usd)] {
                assert!(
                    (a - b).abs() <= 1e-6 * b.max(1.0),
                    "{} cell {i}: {a} vs {b}",
                    db.name
                );
            }
        }
        db.store.close().await;
    }
}
