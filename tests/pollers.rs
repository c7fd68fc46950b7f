//! The market-context pollers against the simulator's REST endpoints: data arrives in the
//! store, and 500s, garbage bodies and timeouts set the stale flag without losing what was
//! stored or stopping the bot.

use std::time::Duration;

use liqbot::Bot;
use liqbot::config::Config;
use liqbot::model::Exchange;
use liqbot::pollers::RunningPollers;
use liqbot::sim::{RestFault, SimOptions, SimServer};
use liqbot::store::MarketStore;
use tokio::time::Instant;

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

async fn wait_for(what: &str, secs: u64, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn all_stale(p: &RunningPollers) -> bool {
    let now = now_ms();
    p.statuses.iter().all(|s| s.is_stale(now))
}

#[tokio::test]
async fn pollers_store_context_and_flag_stale_data_when_the_venues_fail() {
    let sim = SimServer::start(SimOptions {
        history: Duration::from_secs(3 * 3600),
        ..SimOptions::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    sim.configure(&mut config);
    config.store.url = format!("sqlite://{}", dir.path().join("p.db").display());
    config.sources.binance.enabled = false;
    config.sources.bybit.enabled = false;
    config.sources.okx.enabled = false;
    config.market.coins = vec!["BTC".into(), "ETH".into()];
    config.market.poll_interval_secs = 1;
    config.market.request_timeout_secs = 1;
    config.market.fear_greed.interval_secs = 1;
    let bot = Bot::start(&config).await.unwrap();
    let pollers = bot.pollers.as_ref().unwrap();
    wait_for("the first successful polls", 30, || pollers.all_fetched()).await;

    let store = &bot.store;
    let from = now_ms() - 4 * 3_600_000;
    let candles = store
        .candles(Exchange::Binance, "BTC", from, now_ms())
        .await
        .unwrap();
    assert!(
        candles.len() >= 170,
        "3h of 1m candles expected, got {}",
        candles.len()
    );
    let oi = store.open_interest("BTC", from, now_ms()).await.unwrap();
    for venue in Exchange::ALL {
        assert!(
            oi.iter().any(|p| p.exchange == venue),
            "no open interest from {venue}"
        );
    }
    assert_eq!(store.fear_greed(31).await.unwrap().len(), 31);
    assert!(!pollers.statuses.iter().any(|s| s.is_stale(now_ms())));

    for fault in [RestFault::ServerError, RestFault::Garbage, RestFault::Hang] {
        sim.set_rest_fault(fault);
        let failures_before: u64 = pollers.statuses.iter().map(|s| s.failures()).sum();
        wait_for(&format!("stale flags under {fault:?}"), 60, || {
            all_stale(pollers)
        })
        .await;
        let failures_after: u64 = pollers.statuses.iter().map(|s| s.failures()).sum();
        assert!(
            failures_after > failures_before,
            "{fault:?}: no failure recorded"
        );
        assert!(pollers.statuses.iter().all(|s| s.last_error().is_some()));
        // What was stored before the failures is still there.
        let kept = store
            .candles(Exchange::Binance, "BTC", from, now_ms())
            .await
            .unwrap();
        assert!(kept.len() >= candles.len(), "{fault:?}: candles lost");
        assert_eq!(store.fear_greed(31).await.unwrap().len(), 31);

        sim.set_rest_fault(RestFault::None);
        wait_for(&format!("recovery after {fault:?}"), 60, || {
            !pollers.statuses.iter().any(|s| s.is_stale(now_ms()))
        })
        .await;
    }

    let store = bot.shutdown().await.unwrap();
    store.close().await;
    sim.stop().await;
}
