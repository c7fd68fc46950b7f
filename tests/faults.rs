//! Fault injection against the whole ingest path (simulator → real sources → store): a venue
//! that goes silent mid-stream and one that refuses connections for a while. The source must
//! reconnect within its bounds and the store must end up with every event once.
//!
//! Frame-level faults (invalid UTF-8, a 10 MB frame, a port that refuses TCP) are in
//! `ws_runner.rs`; a venue that drops every N frames is in `sources.rs`.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::time::Duration;

use liqbot::bot::Bot;
use liqbot::config::Config;
use liqbot::model::Liquidation;
use liqbot::sim::{SimFeed, SimOptions, SimServer};
use liqbot::store::Store;
use tokio::time::Instant;

/// A bot reading Binance from `sim` with fast reconnects and a 1 s idle timeout.
async fn start_bot(sim: &SimServer, dir: &tempfile::TempDir) -> Bot {
    let mut config = Config::default();
    sim.configure(&mut config);
    config.store.url = format!("sqlite://{}", dir.path().join("t.db").display());
    config.store.flush_interval_ms = 20;
    config.sources.reconnect_initial_ms = 20;
    config.sources.reconnect_max_ms = 200;
    config.sources.idle_timeout_secs = 1;
    config.sources.bybit.enabled = false;
    config.sources.okx.enabled = false;
    config.market.enabled = false;
    Bot::start(&config).await.unwrap()
}

fn distinct(events: &[Liquidation]) -> u64 {
    events
        .iter()
        .map(Liquidation::dedup_key)
        .collect::<HashSet<_>>()
        .len() as u64
}

/// Waits until the bot stored `expected` events, then stops it and checks the store holds
/// exactly those.
async fn finish(bot: Bot, sim: SimServer, expected: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while bot.ingest.inserted.load(Ordering::Acquire) < expected {
        assert!(Instant::now() < deadline, "{:?}", bot.stats_lines());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let store = bot.shutdown().await.unwrap();
    assert_eq!(store.event_count().await.unwrap() as u64, expected);
    store.close().await;
    sim.stop().await;
}

/// The venue stops sending and answering pings after 300 frames, with the socket left open:
/// the source gives the connection up after its idle timeout (1 s), reconnects, and the store
/// gets every event once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_venue_that_goes_silent_is_given_up_after_the_idle_timeout_and_nothing_is_lost() {
    let sim = SimServer::start(SimOptions {
        history: Duration::from_secs(2 * 3600),
        live: false,
        stall_once_after_frames: Some(300),
        ..SimOptions::default()
    })
    .await
    .unwrap();
    let expected = distinct(&sim.events(SimFeed::Binance));
    assert!(expected > 600, "{expected}");
    let dir = tempfile::tempdir().unwrap();
    let bot = start_bot(&sim, &dir).await;
    // The stall: the first connection's progress stops at 300 frames.
    let sent = |sim: &SimServer| sim.progress()[0].1;
    let deadline = Instant::now() + Duration::from_secs(30);
    while sent(&sim) < 300 {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let stalled = Instant::now();
    while sim.connections(SimFeed::Binance) < 2 {
        assert!(
            stalled.elapsed() < Duration::from_secs(10),
            "no reconnect after the stall"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let reconnect = stalled.elapsed();
    eprintln!("silent venue: reconnected {reconnect:?} after the stall (idle timeout 1 s)");
    // The idle timeout, plus at most the backoff cap and (generous) scheduling slack.
    assert!(reconnect >= Duration::from_millis(500), "{reconnect:?}");
    assert!(reconnect < Duration::from_millis(2_500), "{reconnect:?}");
    finish(bot, sim, expected).await;
}

/// The venue answers every connection with 503 for 1.5 s: the source keeps retrying within its
/// backoff bounds (20-200 ms), connects within the cap once the venue is back, and the store
/// gets every event once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_venue_that_refuses_connections_is_retried_within_the_backoff_cap() {
    let sim = SimServer::start(SimOptions {
        history: Duration::from_secs(3600),
        live: false,
        ..SimOptions::default()
    })
    .await
    .unwrap();
    let expected = distinct(&sim.events(SimFeed::Binance));
    sim.refuse_connections(true);
    let dir = tempfile::tempdir().unwrap();
    let bot = start_bot(&sim, &dir).await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(sim.connections(SimFeed::Binance), 0);
    assert_eq!(bot.ingest.inserted.load(Ordering::Acquire), 0);
    sim.refuse_connections(false);
    let back = Instant::now();
    while sim.connections(SimFeed::Binance) < 1 {
        assert!(back.elapsed() < Duration::from_secs(5), "never reconnected");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let reconnect = back.elapsed();
    eprintln!("refusing venue: connected {reconnect:?} after it accepted again (cap 200 ms)");
    assert!(reconnect < Duration::from_millis(1_000), "{reconnect:?}");
    finish(bot, sim, expected).await;
}
