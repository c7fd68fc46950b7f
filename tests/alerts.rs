//! Alerts: the engine on a simulated cascade and on single large liquidations, and the
//! dispatcher claiming each alert once across instances.

mod common;

use std::sync::{Arc, Mutex};

use common::liq;
use futures_util::future::BoxFuture;
use liqbot::alerts::{AlertAction, AlertDispatcher, AlertEngine};
use liqbot::analytics::alert::Alert;
use liqbot::config::{AlertsConfig, Config};
use liqbot::delivery::{DeliveryError, Outlet};
use liqbot::model::Exchange::{Binance, Bybit, Okx};
use liqbot::model::Liquidation;
use liqbot::model::Side::{Long, Short};
use liqbot::render::posts::{PostBundle, Renderer};
use liqbot::render::text::Platform;
use liqbot::store::{SqlStore, Store as _, Subscription, SubscriptionStore as _};

const MIN: i64 = 60_000;
const T0: i64 = 1_795_262_400_000;

fn cascade_usd(action: &AlertAction) -> f64 {
    match action.alert() {
        Alert::Cascade(c) => c.usd,
        _ => panic!("expected a cascade: {action:?}"),
    }
}

/// `n` liquidations of `usd` each, one a minute from `start`, on BTC and ETH in turn.
fn burst(start: i64, n: i64, usd: f64) -> Vec<Liquidation> {
    (0..n)
        .map(|i| {
            let symbol = if i % 2 == 0 { "BTCUSDT" } else { "ETHUSDT" };
            liq(Bybit, symbol, Long, usd, start + i * MIN)
        })
        .collect()
}

#[test]
fn a_cascade_alerts_once_updates_as_it_grows_and_respects_the_cooldown() {
    let rules = AlertsConfig {
        large_usd: 1e12,
        large_usd_by_coin: Default::default(),
        ..AlertsConfig::default()
    };
    let mut engine = AlertEngine::new(&rules);
    // $6M a minute: the window crosses $50M at the 9th liquidation ($54M).
    let events = burst(T0, 14, 6_000_000.0);
    let mut actions = Vec::new();
    for e in &events {
        actions.extend(engine.observe(std::slice::from_ref(e), e.ts_ms));
    }
    // A replay of the same events (a reconnect's overlap) changes nothing.
    assert!(engine.observe(&events, T0 + 14 * MIN).is_empty());
    assert_eq!(actions.len(), 2, "{actions:#?}");
    let AlertAction::New { key, .. } = &actions[0] else {
        panic!("first a new alert")
    };
    assert_eq!(cascade_usd(&actions[0]), 54_000_000.0);
    let Alert::Cascade(first) = actions[0].alert() else {
        unreachable!()
    };
    assert_eq!((first.count, first.coin.as_deref()), (9, None));
    assert_eq!((first.start_ms, first.end_ms), (T0, T0 + 8 * MIN));
    // Then one update once it grew by 25% (to $72M, at least $67.5M).
    match &actions[1] {
        AlertAction::Update {
            key: updated, n, ..
        } => {
            assert_eq!((updated, *n), (key, 1));
            assert_eq!(cascade_usd(&actions[1]), 72_000_000.0);
        }
        other => panic!("expected an update: {other:?}"),
    }

    // It ends when the window holds less than the threshold; a new burst within the hour's
    // cooldown stays quiet, one after it alerts again.
    let calm = T0 + 40 * MIN;
    assert!(
        engine
            .observe(&[liq(Okx, "BTCUSDT", Short, 1_000.0, calm)], calm)
            .is_empty()
    );
    assert!(
        engine
            .observe(&burst(calm + MIN, 10, 6_000_000.0), calm + 11 * MIN)
            .is_empty()
    );
    let later = calm + 120 * MIN;
    assert!(
        engine
            .observe(&[liq(Okx, "BTCUSDT", Short, 1_000.0, later)], later)
            .is_empty()
    );
    let again = engine.observe(&burst(later + MIN, 10, 6_000_000.0), later + 11 * MIN);
    assert_eq!(again.len(), 1, "{again:#?}");
    assert!(matches!(&again[0], AlertAction::New { key: k, .. } if k != key));
}

#[test]
fn per_coin_cascades_watch_their_coin_only() {
    let rules = AlertsConfig {
        cascade_coins: vec!["eth".to_owned()],
        cascade_usd: 25_000_000.0,
        large_usd: 1e12,
        large_usd_by_coin: Default::default(),
        ..AlertsConfig::default()
    };
    let mut engine = AlertEngine::new(&rules);
    // $24M of BTC and $24M of ETH: $48M in all, but ETH is below its $25M.
    let mut events = burst(T0, 8, 6_000_000.0);
    assert!(engine.observe(&events, T0 + 8 * MIN).is_empty());
    events = vec![liq(Binance, "ETHUSDT", Short, 3_000_000.0, T0 + 9 * MIN)];
    let actions = engine.observe(&events, T0 + 9 * MIN);
    assert_eq!(actions.len(), 1);
    let Alert::Cascade(c) = actions[0].alert() else {
        panic!("a cascade")
    };
    assert_eq!(
        (c.coin.as_deref(), c.usd, c.count),
        (Some("ETH"), 27_000_000.0, 5)
    );
    assert_eq!((c.long_usd, c.short_usd), (24_000_000.0, 3_000_000.0));
}

#[test]
fn a_large_liquidation_alerts_with_its_coins_threshold_once() {
    let mut engine = AlertEngine::new(&AlertsConfig::default());
    let big_btc = liq(Binance, "BTCUSDT", Long, 1_200_000.0, T0);
    let small_btc = liq(Binance, "BTCUSDT", Long, 900_000.0, T0 + 1);
    let eth = liq(Okx, "ETHUSDT", Short, 300_000.0, T0 + 2);
    let actions = engine.observe(&[big_btc.clone(), small_btc, eth.clone()], T0 + 2);
    let alerted: Vec<(String, f64, f64)> = actions
        .iter()
        .map(|a| match a.alert() {
            Alert::Large {
                event,
                threshold_usd,
            } => (event.base.to_string(), event.usd, *threshold_usd),
            other => panic!("only large liquidations: {other:?}"),
        })
        .collect();
    assert_eq!(
        alerted,
        [
            ("BTC".to_owned(), 1_200_000.0, 1_000_000.0),
            ("ETH".to_owned(), 300_000.0, 250_000.0)
        ]
    );
    assert!(
        engine.observe(&[big_btc.clone(), eth], T0 + 3).is_empty(),
        "no repeats"
    );
    // Backfilled history (older than the cascade window) alerts nothing.
    let mut fresh_engine = AlertEngine::new(&AlertsConfig::default());
    assert!(fresh_engine.observe(&[big_btc], T0 + 16 * MIN).is_empty());
}

#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<(String, String)>>>);

impl Outlet for Recorder {
    fn platform(&self) -> Platform {
        Platform::Telegram
    }

    fn deliver_with_id(
        &self,
        target: String,
        bundle: Arc<PostBundle>,
    ) -> BoxFuture<'static, Result<Option<String>, DeliveryError>> {
        let sent = Arc::clone(&self.0);
        Box::pin(async move {
            let text = bundle
                .posts
                .iter()
                .find(|p| p.platform == Platform::Telegram)
                .map(|p| p.text.clone())
                .unwrap_or_default();
            sent.lock().unwrap().push((target, text));
            Ok(None)
        })
    }
}

#[tokio::test]
async fn each_alert_is_posted_once_across_instances_to_targets_and_subscribers() {
    for db in common::all_stores().await {
        let config = Config {
            alerts: AlertsConfig {
                telegram: vec!["-1001".to_owned()],
                ..AlertsConfig::default()
            },
            ..Config::default()
        };
        let store = Arc::new(SqlStore::open(&db.url).await.unwrap());
        store
            .upsert_subscription(&Subscription {
                platform: "telegram".to_owned(),
                chat_id: "-1002".to_owned(),
                guild_id: None,
                kind: "alert".to_owned(),
                coin: String::new(),
                window: "24h".to_owned(),
                schedule: "24h".to_owned(),
                created_by: "1".to_owned(),
                created_ms: 0,
                active: true,
                inactive_reason: None,
            })
            .await
            .unwrap();
        let recorder = Recorder::default();
        let dispatcher = |owner: &str| AlertDispatcher {
            store: Arc::clone(&store),
            renderer: Arc::new(Renderer::new(&config).unwrap()),
            rules: config.alerts.clone(),
            outlets: vec![Arc::new(recorder.clone()) as Arc<dyn Outlet>],
            owner: owner.to_owned(),
            market: None,
        };
        let (a, b) = (dispatcher("a"), dispatcher("b"));
        // Both instances see the same event and decide the same alert.
        let event = liq(Binance, "BTCUSDT", Long, 47_870_000.0, T0);
        let action = AlertEngine::new(&config.alerts)
            .observe(&[event], T0)
            .remove(0);
        tokio::join!(a.post(&action), b.post(&action));
        a.post(&action).await;
        let mut sent = recorder.0.lock().unwrap().clone();
        sent.sort();
        assert_eq!(sent.len(), 2, "{}: {sent:?}", db.name);
        assert_eq!((sent[0].0.as_str(), sent[1].0.as_str()), ("-1001", "-1002"));
        assert!(
            sent[0]
                .1
                .contains("$47.87M BTCUSDT long liquidated on Binance"),
            "{}",
            sent[0].1
        );
        store.close().await;
    }
}

#[tokio::test]
async fn the_writer_hands_every_stored_batch_to_the_alert_engine() {
    use liqbot::ingest::{IngestStats, WriterSettings, run_writer};
    let db = common::sqlite_store().await;
    let store = Arc::new(db.store);
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    let (tap, mut tapped) = tokio::sync::mpsc::channel(8);
    let settings = WriterSettings {
        batch_size: 2,
        flush_interval: std::time::Duration::from_millis(20),
        retention: None,
    };
    let writer = tokio::spawn(run_writer(
        Arc::clone(&store),
        rx,
        settings,
        Arc::new(IngestStats::default()),
        Some(tap),
    ));
    let events = burst(T0, 3, 1_000.0);
    tx.send(events.clone()).await.unwrap();
    drop(tx);
    writer.await.unwrap();
    let mut seen = Vec::new();
    while let Ok(batch) = tapped.try_recv() {
        seen.extend(batch);
    }
    assert_eq!(seen, events, "stored, then tapped, in order");
    assert_eq!(store.event_count().await.unwrap(), 3);
}

#[test]
fn a_level_cross_is_a_cluster_the_price_went_through() {
    use liqbot::analytics::Cluster;
    use liqbot::analytics::alert::level_crosses;
    let cluster = |side, price, usd| Cluster {
        side,
        price,
        usd,
        distance_pct: 0.0,
    };
    let clusters = [
        cluster(Short, 94_000.0, 1.0e9),
        cluster(Short, 96_000.0, 4.0e8),
        cluster(Long, 91_000.0, 6.41e8),
    ];
    // Up from 93,600 to 94,150: through the $1B short cluster at 94,000 only.
    let up = level_crosses("BTC", &clusters, 93_600.0, 94_150.0, T0);
    assert_eq!(up.len(), 1);
    assert_eq!(
        (up[0].side, up[0].level_price, up[0].usd),
        (Short, 94_000.0, 1.0e9)
    );
    // Down to exactly 91,000 counts; staying between clusters does not.
    let down = level_crosses("BTC", &clusters, 92_000.0, 91_000.0, T0);
    assert_eq!(down.len(), 1);
    assert_eq!(down[0].side, Long);
    assert!(level_crosses("BTC", &clusters, 92_000.0, 93_000.0, T0).is_empty());

    // The post says what was crossed, and that it is an estimate.
    let renderer = Renderer::new(&Config::default()).unwrap();
    let bundle = renderer
        .render_alert(&Alert::LevelCross(up[0].clone()), T0)
        .unwrap();
    let text = &bundle.posts[0].text;
    assert!(
        text.contains("BTC went up through ~$1.00B of estimated short liquidations at $94,000"),
        "{text}"
    );
    assert!(text.contains("estimates from a model"), "{text}");
}

#[test]
fn instances_that_started_apart_key_the_same_cascade_alike() {
    let rules = AlertsConfig {
        cascade_usd: 1.0,
        large_usd: 1e15,
        large_usd_by_coin: Default::default(),
        ..AlertsConfig::default()
    };
    // Instance b started later: for it the first event is already too old to alert on, so it
    // sees the cascade cross one event later.
    let events = burst(T0, 3, 1_000.0);
    let a = AlertEngine::new(&rules).observe(&events, T0 + 2 * MIN);
    let b = AlertEngine::new(&rules).observe(&events, T0 + 15 * MIN + 1);
    let key = |actions: &[AlertAction]| match &actions[0] {
        AlertAction::New { key, .. } => key.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(key(&a), key(&b));
    assert_eq!(
        AlertEngine::previous_cascade_key("cascade:all:498686"),
        Some("cascade:all:498685".to_owned())
    );
    assert_eq!(AlertEngine::previous_cascade_key("large:x"), None);
}
