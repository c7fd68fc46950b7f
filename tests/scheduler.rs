//! The scheduler on a controlled clock: ticks at chosen instants, a recording outlet, and the
//! real store (SQLite, and PostgreSQL when `LIQBOT_TEST_DATABASE_URL` is set): restarts,
//! missed slots inside and outside the grace period, two instances, and a shutdown in the
//! middle of a fan-out.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use liqbot::config::{Config, JobConfig};
use liqbot::delivery::{DeliveryError, Outlet};
use liqbot::render::posts::{PostBundle, Renderer};
use liqbot::render::text::Platform;
use liqbot::scheduler::{Scheduler, SchedulerRun};
use liqbot::store::{DeliveryState, DeliveryStore as _, SqlStore};
use tokio_util::sync::CancellationToken;

/// Records every delivery. With `slow`, the send to `-100{i}` takes `i * 40 ms` and gives up
/// when `stop` is cancelled, as the platform senders do at shutdown.
#[derive(Clone)]
struct RecordingOutlet(Arc<Recorded>);

struct Recorded {
    sent: Mutex<Vec<String>>,
    slow: bool,
    stop: CancellationToken,
}

impl RecordingOutlet {
    fn new(slow: bool) -> Self {
        Self(Arc::new(Recorded {
            sent: Mutex::new(Vec::new()),
            slow,
            stop: CancellationToken::new(),
        }))
    }

    fn targets(&self) -> Vec<String> {
        self.0.sent.lock().unwrap().clone()
    }
}

impl Outlet for RecordingOutlet {
    fn platform(&self) -> Platform {
        Platform::Telegram
    }

    fn deliver_with_id(
        &self,
        target: String,
        _bundle: Arc<PostBundle>,
    ) -> BoxFuture<'static, Result<Option<String>, DeliveryError>> {
        let this = Arc::clone(&self.0);
        Box::pin(async move {
            if this.slow {
                let i: u64 = target.trim_start_matches("-100").parse().unwrap_or(1);
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(40 * i)) => {}
                    () = this.stop.cancelled() => return Err(DeliveryError::ShuttingDown),
                }
            }
            this.sent.lock().unwrap().push(target);
            Ok(None)
        })
    }
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn job(name: &str, schedule: &str, targets: &[&str]) -> JobConfig {
    JobConfig {
        name: name.to_owned(),
        kind: "summary".to_owned(),
        coins: Vec::new(),
        window: "1h".to_owned(),
        schedule: schedule.to_owned(),
        time_zone: String::new(),
        telegram: targets.iter().map(|t| (*t).to_owned()).collect(),
        discord: Vec::new(),
    }
}

fn run(
    store: &Arc<SqlStore>,
    config: &Arc<Config>,
    outlet: &RecordingOutlet,
    owner: &str,
) -> SchedulerRun {
    SchedulerRun::new(Scheduler {
        store: Arc::clone(store),
        renderer: Arc::new(Renderer::new(config).unwrap()),
        config: Arc::clone(config),
        pollers: None,
        outlets: vec![Arc::new(outlet.clone()) as Arc<dyn Outlet>],
        owner: owner.to_owned(),
    })
    .unwrap()
}

/// Ticks `run` every `step` from `from` to `to` (inclusive), then waits for its sends.
async fn tick_through(
    run: &mut SchedulerRun,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    step: chrono::Duration,
) {
    let mut t = from;
    while t <= to {
        run.tick(t).await;
        t += step;
    }
    run.drain().await;
}

async fn stores() -> Vec<(common::TestStore, Arc<SqlStore>)> {
    let mut out = Vec::new();
    for db in common::all_stores().await {
        let store = Arc::new(SqlStore::open(&db.url).await.unwrap());
        out.push((db, store));
    }
    out
}

#[tokio::test]
async fn a_restart_mid_day_posts_nothing_twice_and_misses_nothing() {
    for (db, store) in stores().await {
        let config = Arc::new(Config {
            jobs: vec![job("pulse", "hourly", &["-1001"])],
            ..Config::default()
        });
        let outlet = RecordingOutlet::new(false);
        let ten_minutes = chrono::Duration::minutes(10);

        let mut first = run(&store, &config, &outlet, "a");
        first.start(at("2026-11-21T00:00:30Z")).await;
        tick_through(
            &mut first,
            at("2026-11-21T00:00:30Z"),
            at("2026-11-21T12:00:30Z"),
            ten_minutes,
        )
        .await;
        assert_eq!(outlet.targets().len(), 12, "{}: 01:00 to 12:00", db.name);

        // Restart 10 seconds later: the checkpoint says 12:00:30, nothing is sent again.
        let mut second = run(&store, &config, &outlet, "b");
        second.start(at("2026-11-21T12:00:40Z")).await;
        tick_through(
            &mut second,
            at("2026-11-21T12:00:40Z"),
            at("2026-11-21T13:00:40Z"),
            ten_minutes,
        )
        .await;
        assert_eq!(outlet.targets().len(), 13, "{}: only 13:00 is new", db.name);
        let sent = store
            .deliveries_in_state(DeliveryState::Sent, 0)
            .await
            .unwrap();
        assert_eq!(sent.len(), 13, "{}", db.name);
        store.close().await;
    }
}

#[tokio::test]
async fn a_missed_slot_is_sent_once_inside_the_grace_and_skipped_outside_it() {
    for (db, store) in stores().await {
        let mut config = Config::default();
        config.scheduler.grace_secs = 15 * 60;
        config.jobs = vec![job("pulse", "hourly", &["-1001", "-1002"])];
        let config = Arc::new(config);
        let outlet = RecordingOutlet::new(false);

        let mut before = run(&store, &config, &outlet, "a");
        before.start(at("2026-11-21T10:00:00Z")).await;
        tick_through(
            &mut before,
            at("2026-11-21T10:00:30Z"),
            at("2026-11-21T10:00:30Z"),
            chrono::Duration::minutes(1),
        )
        .await;
        assert!(outlet.targets().is_empty());

        // Down from 10:00:30 to 11:10: the 11:00 slot is 10 minutes old, inside the grace.
        let mut back = run(&store, &config, &outlet, "b");
        back.start(at("2026-11-21T11:10:00Z")).await;
        back.tick(at("2026-11-21T11:10:00Z")).await;
        back.drain().await;
        assert_eq!(outlet.targets(), ["-1001", "-1002"], "{}", db.name);

        // Down again until 12:30: the 12:00 slot is 30 minutes old, skipped and recorded.
        let mut late = run(&store, &config, &outlet, "c");
        late.start(at("2026-11-21T12:30:00Z")).await;
        late.tick(at("2026-11-21T12:30:00Z")).await;
        late.drain().await;
        assert_eq!(outlet.targets().len(), 2, "{}: nothing more sent", db.name);
        let skipped = store
            .deliveries_in_state(DeliveryState::Skipped, 0)
            .await
            .unwrap();
        assert_eq!(skipped.len(), 2, "{}", db.name);
        assert_eq!(
            DateTime::from_timestamp_millis(skipped[0].fire_ms),
            Some(at("2026-11-21T12:00:00Z"))
        );
        store.close().await;
    }
}

#[tokio::test]
async fn two_instances_on_one_store_send_every_slot_once() {
    for (db, store) in stores().await {
        let config = Arc::new(Config {
            jobs: vec![
                job("fast", "*/10 * * * * *", &["-1001", "-1002"]),
                job("slow", "0 * * * * *", &["-1003"]),
            ],
            ..Config::default()
        });
        let outlet = RecordingOutlet::new(false);
        let other = Arc::new(SqlStore::open(&db.url).await.unwrap());
        let mut a = run(&store, &config, &outlet, "a");
        let mut b = run(&other, &config, &outlet, "b");
        let start = at("2026-11-21T08:00:00Z");
        a.start(start).await;
        b.start(start).await;
        // Both tick every second for 5 minutes, b half a second behind: 30 fast slots to two
        // chats and 5 slow ones to one.
        for s in 1..=300 {
            let t = start + chrono::Duration::seconds(s);
            a.tick(t).await;
            b.tick(t + chrono::Duration::milliseconds(500)).await;
        }
        a.drain().await;
        b.drain().await;
        let mut targets = outlet.targets();
        targets.sort();
        assert_eq!(targets.len(), 30 * 2 + 5, "{}", db.name);
        assert_eq!(targets.iter().filter(|t| *t == "-1003").count(), 5);
        other.close().await;
        store.close().await;
    }
}

#[tokio::test]
async fn a_shutdown_during_a_fan_out_to_50_targets_records_every_target() {
    let (_db, store) = stores().await.into_iter().next().unwrap();
    let targets: Vec<String> = (1..=50).map(|i| format!("-100{i}")).collect();
    let mut config = Config::default();
    config.scheduler.shutdown_secs = 1;
    config.jobs = vec![job(
        "wide",
        "daily 08:00",
        &targets.iter().map(String::as_str).collect::<Vec<_>>(),
    )];
    let config = Arc::new(config);
    // Sends take 40 ms to 2 s (by target), so a shutdown after 1 s catches half mid-flight.
    let outlet = RecordingOutlet::new(true);
    let mut running = run(&store, &config, &outlet, "a");
    running.start(at("2026-11-21T07:59:59Z")).await;
    running.tick(at("2026-11-21T08:00:00Z")).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    outlet.0.stop.cancel();
    running.finish().await;

    let slot = "job/wide:summary:*:1h:1795248000000";
    let records = store.slot_deliveries(slot).await.unwrap();
    assert_eq!(records.len(), 50, "every target recorded");
    let sent = records
        .iter()
        .filter(|r| r.state == DeliveryState::Sent)
        .count();
    let not_sent = records
        .iter()
        .filter(|r| r.state == DeliveryState::NotSent)
        .count();
    assert_eq!(sent + not_sent, 50, "{records:?}");
    assert_eq!(
        sent,
        outlet.targets().len(),
        "what was sent is what is recorded as sent"
    );
    assert!(
        sent >= 10 && not_sent >= 10,
        "sent {sent}, not sent {not_sent}"
    );

    // The next start sends the rest, once.
    let resume = RecordingOutlet::new(false);
    let mut next = run(&store, &config, &resume, "b");
    next.start(at("2026-11-21T08:01:00Z")).await;
    next.sweep(at("2026-11-21T08:01:00Z")).await;
    next.drain().await;
    next.sweep(at("2026-11-21T08:01:30Z")).await;
    next.drain().await;
    let mut all: Vec<String> = outlet.targets();
    all.extend(resume.targets());
    all.sort();
    let mut want = targets.clone();
    want.sort();
    assert_eq!(all, want, "every target exactly once");
    let records = store.slot_deliveries(slot).await.unwrap();
    assert!(records.iter().all(|r| r.state == DeliveryState::Sent));
    store.close().await;
}
