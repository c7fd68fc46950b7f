//! Each source end to end: the real websocket runner, parsers, writer and SQLite store against
//! the simulator serving each venue's wire format on 127.0.0.1.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::Ordering;
use std::time::Duration;

use liqbot::Bot;
use liqbot::analytics::MinuteRange;
use liqbot::config::Config;
use liqbot::model::{Exchange, Liquidation, Side};
use liqbot::sim::{SimFeed, SimOptions, SimServer};
use liqbot::store::Store;
use pretty_assertions::assert_eq;
use tokio::time::Instant;

/// What a run stored, and what the simulator sent.
struct Run {
    expected: Vec<Liquidation>,
    stored_count: i64,
    stored_totals: BTreeMap<(Exchange, String, Side), (i64, i64)>,
    duplicates: u64,
    malformed: u64,
    connections: Vec<u64>,
}

/// USD rounded to cents, so float sums compare exactly.
fn cents(usd: f64) -> i64 {
    (usd * 100.0).round() as i64
}

fn totals(events: &[Liquidation]) -> BTreeMap<(Exchange, String, Side), (i64, i64)> {
    let mut seen = HashSet::new();
    let mut map: BTreeMap<_, (f64, i64)> = BTreeMap::new();
    for e in events.iter().filter(|e| seen.insert(e.dedup_key())) {
        let t = map
            .entry((e.exchange, e.base.to_string(), e.side))
            .or_default();
        t.0 += e.usd;
        t.1 += 1;
    }
    map.into_iter()
        .map(|(k, (usd, n))| (k, (cents(usd), n)))
        .collect()
}

/// Runs the bot with only `feeds` enabled against a simulator with `options` (no live
/// trading), until the simulator has sent its whole history and the writer has stored it.
async fn run(feeds: &[SimFeed], options: SimOptions) -> Run {
    let sim = SimServer::start(SimOptions {
        live: false,
        ..options
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    sim.configure(&mut config);
    config.store.url = format!("sqlite://{}", dir.path().join("t.db").display());
    config.sources.reconnect_initial_ms = 20;
    config.sources.reconnect_max_ms = 200;
    config.store.flush_interval_ms = 20;
    config.sources.binance.enabled = feeds.contains(&SimFeed::Binance);
    config.sources.okx.enabled = feeds.contains(&SimFeed::Okx);
    config.sources.bybit.enabled = feeds
        .iter()
        .any(|f| matches!(f, SimFeed::BybitLinear | SimFeed::BybitInverse));
    config.sources.bybit.categories.retain(|c| match c {
        liqbot::config::BybitCategory::Linear => feeds.contains(&SimFeed::BybitLinear),
        liqbot::config::BybitCategory::Inverse => feeds.contains(&SimFeed::BybitInverse),
    });
    let expected: Vec<Liquidation> = feeds.iter().flat_map(|f| sim.events(*f)).collect();
    let unique = expected
        .iter()
        .map(Liquidation::dedup_key)
        .collect::<HashSet<_>>()
        .len() as u64;
    let bot = Bot::start(&config).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while bot.ingest.inserted.load(Ordering::Acquire) < unique {
        assert!(
            Instant::now() < deadline,
            "timed out: {:?}",
            bot.stats_lines()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Let anything still in flight (a replayed overlap) arrive before stopping.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let malformed = bot
        .sources
        .iter()
        .map(|s| s.stats.malformed.load(Ordering::Relaxed))
        .sum();
    let ingest = std::sync::Arc::clone(&bot.ingest);
    let store = bot.shutdown().await.unwrap();
    let range = MinuteRange {
        start: 0,
        end: i64::MAX / 120_000,
    };
    let rows = store.window_rows(range, None).await.unwrap();
    let stored_totals = rows
        .into_iter()
        .map(|r| ((r.exchange, r.base, r.side), (cents(r.usd), r.count)))
        .collect();
    let run = Run {
        stored_count: store.event_count().await.unwrap(),
        stored_totals,
        duplicates: ingest.duplicates.load(Ordering::Relaxed),
        malformed,
        connections: feeds.iter().map(|f| sim.connections(*f)).collect(),
        expected,
    };
    store.close().await;
    sim.stop().await;
    run
}

fn two_hours() -> SimOptions {
    SimOptions {
        seed: 99,
        history: Duration::from_secs(2 * 3600),
        ..SimOptions::default()
    }
}

async fn assert_stores_everything_once(feed: SimFeed) {
    let run = run(&[feed], two_hours()).await;
    assert!(
        run.expected.len() > 100,
        "{feed:?}: the simulator sent only {}",
        run.expected.len()
    );
    assert_eq!(
        run.stored_count as usize,
        totals(&run.expected)
            .values()
            .map(|t| t.1 as usize)
            .sum::<usize>()
    );
    assert_eq!(run.stored_totals, totals(&run.expected), "{feed:?}");
    assert_eq!(run.malformed, 0);
}

#[tokio::test]
async fn binance_stream_events_arrive_in_the_store() {
    assert_stores_everything_once(SimFeed::Binance).await;
}

#[tokio::test]
async fn bybit_linear_stream_events_arrive_in_the_store() {
    assert_stores_everything_once(SimFeed::BybitLinear).await;
}

#[tokio::test]
async fn bybit_inverse_stream_events_arrive_in_the_store() {
    assert_stores_everything_once(SimFeed::BybitInverse).await;
}

#[tokio::test]
async fn okx_stream_events_arrive_in_the_store() {
    assert_stores_everything_once(SimFeed::Okx).await;
}

#[tokio::test]
async fn dropped_connections_reconnect_resubscribe_and_store_nothing_twice() {
    let feeds = [
        SimFeed::Binance,
        SimFeed::BybitLinear,
        SimFeed::BybitInverse,
        SimFeed::Okx,
    ];
    let options = SimOptions {
        drop_every_frames: Some(60),
        replay_overlap: 25,
        ..two_hours()
    };
    let run = run(&feeds, options).await;
    // Bybit and OKX only send what is subscribed, so every event arriving after a drop
    // proves the runner subscribed again.
    for (feed, connections) in feeds.iter().zip(&run.connections) {
        assert!(
            *connections > 2,
            "{feed:?} connected only {connections} times"
        );
    }
    assert!(
        run.duplicates > 0,
        "the overlap should have re-sent some events"
    );
    assert_eq!(run.stored_totals, totals(&run.expected));
    assert_eq!(
        run.stored_count as usize,
        totals(&run.expected)
            .values()
            .map(|t| t.1 as usize)
            .sum::<usize>()
    );
}

#[tokio::test]
async fn malformed_frames_are_counted_and_skipped_without_losing_events() {
    let feeds = [SimFeed::Binance, SimFeed::BybitLinear, SimFeed::Okx];
    let options = SimOptions {
        garbage_every_frames: Some(50),
        ..two_hours()
    };
    let run = run(&feeds, options).await;
    assert!(
        run.malformed > 10,
        "malformed frames counted: {}",
        run.malformed
    );
    assert_eq!(run.stored_totals, totals(&run.expected));
}
