//! `[metrics] listen`: `/metrics` in the Prometheus text format and `/healthz`, served by the
//! running bot.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use liqbot::bot::Bot;
use liqbot::config::Config;
use liqbot::ingest::IngestStats;
use liqbot::metrics::Metrics;
use liqbot::sim::{SimOptions, SimServer};
use liqbot::store::SqlStore;
use tokio::time::Instant;

async fn get(url: &str) -> (u16, String) {
    let response = reqwest::get(url).await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// The value of the sample `line` (`name{labels}`) in a metrics text.
fn sample(text: &str, line: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(line)?.strip_prefix(' ')?.parse().ok())
}

/// A bot streaming the simulator's Binance history serves counters that match its own, says
/// healthy, and says unhealthy once its only stream has been quiet for `stale_secs`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_match_the_counters_and_healthz_turns_unhealthy_when_streams_go_quiet() {
    let sim = SimServer::start(SimOptions {
        history: Duration::from_secs(3600),
        live: false,
        ..SimOptions::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    sim.configure(&mut config);
    config.store.url = format!("sqlite://{}", dir.path().join("m.db").display());
    config.store.flush_interval_ms = 20;
    config.sources.bybit.enabled = false;
    config.sources.okx.enabled = false;
    config.market.enabled = false;
    config.metrics.listen = "127.0.0.1:0".to_owned();
    config.metrics.stale_secs = 2;
    let bot = Bot::start(&config).await.unwrap();
    let base = format!("http://{}", bot.metrics_addr.unwrap());
    let expected = sim.events(liqbot::sim::SimFeed::Binance).len() as u64;
    let deadline = Instant::now() + Duration::from_secs(30);
    while bot.ingest.processed() < expected {
        assert!(Instant::now() < deadline, "{:?}", bot.stats_lines());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let (status, text) = get(&format!("{base}/metrics")).await;
    assert_eq!(status, 200);
    let stats = &bot.sources[0].stats;
    assert_eq!(
        sample(&text, "liqbot_source_events_total{source=\"binance\"}"),
        Some(stats.events.load(Ordering::Relaxed) as f64),
        "{text}"
    );
    assert_eq!(
        sample(&text, "liqbot_ingest_inserted_total"),
        Some(bot.ingest.inserted.load(Ordering::Relaxed) as f64)
    );
    assert_eq!(
        sample(&text, "liqbot_source_connected{source=\"binance\"}"),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, "liqbot_source_reconnects_total{source=\"binance\"}"),
        Some(0.0)
    );
    let age = sample(
        &text,
        "liqbot_source_last_event_age_seconds{source=\"binance\"}",
    )
    .unwrap();
    assert!((0.0..2.0).contains(&age), "{age}");
    assert!(sample(&text, "liqbot_store_size_bytes").unwrap() > 100_000.0);
    assert_eq!(sample(&text, "liqbot_healthy"), Some(1.0));
    assert!(text.contains("# TYPE liqbot_source_events_total counter"));
    assert_eq!(
        get(&format!("{base}/healthz")).await,
        (200, "ok\n".to_owned())
    );

    // The simulator has sent all its history and is not live: the stream goes quiet.
    let quiet = Instant::now();
    let (status, body) = loop {
        let (status, body) = get(&format!("{base}/healthz")).await;
        if status != 200 || quiet.elapsed() > Duration::from_secs(10) {
            break (status, body);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(status, 503, "{body}");
    assert!(
        body.contains("every stream has been without events"),
        "{body}"
    );
    let (_, text) = get(&format!("{base}/metrics")).await;
    assert_eq!(sample(&text, "liqbot_healthy"), Some(0.0));
    bot.shutdown().await.unwrap().close().await;
    sim.stop().await;
}

/// A store that cannot be written makes the health check fail with the reason.
#[tokio::test]
async fn a_store_that_cannot_be_written_is_unhealthy() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ro.db");
    SqlStore::open(&format!("sqlite://{}", path.display()))
        .await
        .unwrap()
        .close()
        .await;
    let store = SqlStore::open(&format!("sqlite://{}?mode=ro", path.display()))
        .await
        .unwrap();
    let metrics = Metrics {
        store: Arc::new(store),
        sources: Vec::new(),
        ingest: Arc::new(IngestStats::default()),
        outlets: Vec::new(),
        scheduler: false,
        stale: Duration::from_secs(300),
        started_ms: 0,
    };
    let health = metrics.health(chrono::Utc::now().timestamp_millis()).await;
    assert!(!health.ok());
    assert!(
        health.problems[0].contains("the store cannot be written"),
        "{health:?}"
    );
    assert!(
        metrics
            .render(chrono::Utc::now().timestamp_millis())
            .await
            .contains("liqbot_healthy 0")
    );
}
