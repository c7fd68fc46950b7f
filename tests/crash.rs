//! Crash recovery of the real `liqbot` binary: `kill -9` mid-ingest and mid-fan-out, then a
//! restart; and a store that cannot be written (read-only, a full disk).
//!
//! "Acknowledged" is what the store has committed: an event read from a venue but still in the
//! writer's batch when the process dies was never acknowledged; only a venue that sends it
//! again (as the simulator does with `replay_overlap`) can bring it back.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use liqbot::model::{Exchange, Liquidation, Side};
use liqbot::sim::{SimOptions, SimServer};
use liqbot::store::{DeliveryState, DeliveryStore as _, SqlStore, Store};
use tokio::time::Instant;

const BIN: &str = env!("CARGO_BIN_EXE_liqbot");

/// A `liqbot run` with its logs in a file.
struct Run {
    child: Child,
    log: PathBuf,
}

impl Run {
    fn start(config: &Path, token: Option<&str>, log: PathBuf) -> Self {
        let file = std::fs::File::create(&log).unwrap();
        let mut cmd = Command::new(BIN);
        cmd.args(["run", "--config"])
            .arg(config)
            .env("LIQBOT_LOG", "info")
            .env_remove("LIQBOT_TELEGRAM_TOKEN")
            .stdout(Stdio::null())
            .stderr(Stdio::from(file));
        if let Some(token) = token {
            cmd.env("LIQBOT_TELEGRAM_TOKEN", token);
        }
        Self {
            child: cmd.spawn().unwrap(),
            log,
        }
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The last 40 lines of the logs.
    fn tail(&self) -> String {
        let logs = self.logs();
        let lines: Vec<&str> = logs.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Panics with the logs when the process has exited.
    fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!("liqbot run exited ({status}):\n{}", self.logs());
        }
    }

    /// SIGKILL: no shutdown code runs.
    fn kill9(mut self) -> String {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        self.logs()
    }

    /// SIGTERM and a clean exit.
    fn stop(mut self) -> String {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let status = self.child.wait().unwrap();
        let logs = self.logs();
        assert!(status.success(), "{logs}");
        logs
    }
}

/// The store's event count, read by a second connection while the bot may be writing.
async fn stored(url: &str) -> i64 {
    let store = SqlStore::open(url).await.unwrap();
    let n = store.event_count().await.unwrap();
    store.close().await;
    n
}

fn source_toml(sim: &SimServer, url: &str) -> String {
    let mut config = liqbot::config::Config::default();
    sim.configure(&mut config);
    let s = &config.sources;
    format!(
        "[store]\nurl = \"{url}\"\nflush_interval_ms = 50\n\
         [market]\nenabled = false\n\
         [sources.binance]\nws_url = \"{}\"\n\
         [sources.bybit]\nws_url = \"{}\"\nrest_url = \"{}\"\n\
         [sources.okx]\nws_url = \"{}\"\nrest_url = \"{}\"\n",
        s.binance.ws_url, s.bybit.ws_url, s.bybit.rest_url, s.okx.ws_url, s.okx.rest_url
    )
}

/// USD cents and counts per exchange, symbol and side.
fn totals(events: &[Liquidation]) -> BTreeMap<(Exchange, String, Side), (i64, i64)> {
    let mut out: BTreeMap<_, (i64, i64)> = BTreeMap::new();
    for e in events {
        let t = out
            .entry((e.exchange, e.symbol.to_string(), e.side))
            .or_default();
        t.0 += (e.usd * 100.0).round() as i64;
        t.1 += 1;
    }
    out
}

/// The events with distinct keys: the simulator can, rarely, produce the same liquidation
/// twice (venue, symbol, time, side, price and size), which the store rightly keeps once.
fn distinct(mut events: Vec<Liquidation>) -> Vec<Liquidation> {
    let mut seen = std::collections::HashSet::new();
    events.retain(|e| seen.insert(e.dedup_key()));
    events
}

/// Waits until the store holds `expected` events (or panics after `limit`).
async fn wait_stored(run: &mut Run, url: &str, expected: i64, limit: Duration) -> Duration {
    let start = Instant::now();
    loop {
        run.assert_running();
        let n = stored(url).await;
        if n >= expected {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < limit,
            "stored {n} of {expected} after {limit:?}\n{}",
            run.tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `kill -9` while three venues stream history into SQLite: every event committed before the
/// kill is still there, the file is intact, and after a restart (the venues resend their last
/// frames) the store holds every event the venues sent exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_ingest_loses_no_committed_event_and_a_restart_stores_each_once() {
    let sim = SimServer::start(SimOptions {
        history: Duration::from_secs(6 * 3600),
        live: false,
        // More than the writer can hold uncommitted: what it lost is sent again.
        replay_overlap: 50_000,
        ..SimOptions::default()
    })
    .await
    .unwrap();
    let events = distinct(sim.all_events());
    let expected = events.len() as i64;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("ingest.db").display());
    let path = dir.path().join("bot.toml");
    std::fs::write(&path, source_toml(&sim, &url)).unwrap();

    let mut run = Run::start(&path, None, dir.path().join("first.log"));
    // Kill it part-way: once some, not all, of the history is committed.
    let mut before = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while before < expected / 5 {
        run.assert_running();
        assert!(Instant::now() < deadline, "stored {before} of {expected}");
        tokio::time::sleep(Duration::from_millis(20)).await;
        before = stored(&url).await;
    }
    run.kill9();
    let after_kill = stored(&url).await;
    assert!(
        after_kill >= before,
        "committed events lost: {before} seen before the kill, {after_kill} after"
    );
    let store = SqlStore::open(&url).await.unwrap();
    store.close().await;
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let check: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    assert_eq!(check, "ok");

    let mut run = Run::start(&path, None, dir.path().join("second.log"));
    let took = wait_stored(&mut run, &url, expected, Duration::from_secs(120)).await;
    eprintln!(
        "kill -9 mid-ingest: {before} stored when killed ({after_kill} after), {expected} sent in all; \
         the restart stored the rest in {took:?}"
    );
    // Let any late duplicate arrive before comparing.
    tokio::time::sleep(Duration::from_millis(500)).await;
    run.stop();
    let store = SqlStore::open(&url).await.unwrap();
    let kept = store.events(0, i64::MAX, None).await.unwrap();
    assert_eq!(kept.len() as i64, expected, "every event exactly once");
    assert_eq!(totals(&kept), totals(&events));
    store.close().await;
    sim.stop().await;
}

/// `kill -9` while a slot goes out to 40 Telegram chats (paced at 30 a second), then a restart:
/// the new process sends the chats the dead one had not reached, once each, and no chat gets
/// the slot twice; a send that was on the wire when the process died is recorded as in doubt
/// rather than sent again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_fan_out_then_restart_sends_each_chat_once() {
    use liqbot::sim::telegram::FakeTelegram;
    let token = "4444:kill-nine";
    let fake = FakeTelegram::start(token, "LiqBot").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("fan.db").display());
    let chats: Vec<i64> = (1..=40).map(|i| 8000 + i).collect();
    let targets: Vec<String> = chats.iter().map(|c| format!("\"{c}\"")).collect();
    // One slot a day, 6 s from now (UTC): nothing else fires during the test.
    let at = chrono::Utc::now() + chrono::Duration::seconds(6);
    let schedule = at.format("%S %M %H * * *").to_string();
    let toml = format!(
        "[store]\nurl = \"{url}\"\n\
         [sources.binance]\nenabled = false\n[sources.bybit]\nenabled = false\n\
         [sources.okx]\nenabled = false\n[market]\nenabled = false\n\
         [scheduler]\nlease_secs = 2\n\
         [telegram]\napi_url = \"{}\"\n\
         [[jobs]]\nname = \"wide\"\nkind = \"summary\"\nwindow = \"1h\"\n\
         schedule = \"{schedule}\"\ntime_zone = \"UTC\"\ntelegram = [{}]\n\
         [alerts]\ncascade_usd = 1e15\n",
        fake.url(),
        targets.join(", ")
    );
    let path = dir.path().join("bot.toml");
    std::fs::write(&path, toml).unwrap();
    let sends = |calls: &[liqbot::sim::telegram::Call]| {
        calls
            .iter()
            .filter(|c| c.method.starts_with("send"))
            .count()
    };

    let run = Run::start(&path, Some(token), dir.path().join("first.log"));
    fake.wait_for(Duration::from_secs(30), |calls| sends(calls) >= 10)
        .await;
    let logs = run.kill9();
    let at_kill: usize = chats
        .iter()
        .filter(|c| !fake.delivered_to(**c).is_empty())
        .count();
    assert!(
        at_kill < chats.len(),
        "the fan-out finished before the kill\n{logs}"
    );

    let killed_at = Instant::now();
    let run = Run::start(&path, Some(token), dir.path().join("second.log"));
    let store = SqlStore::open(&url).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let records = loop {
        let records: Vec<_> = store
            .deliveries_in_state(DeliveryState::Sent, 0)
            .await
            .unwrap()
            .into_iter()
            .chain(
                store
                    .deliveries_in_state(DeliveryState::Failed, 0)
                    .await
                    .unwrap(),
            )
            .filter(|r| r.slot.starts_with("job/wide:"))
            .collect();
        if records.len() == chats.len() {
            break records;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} targets finished\n{}",
            records.len(),
            chats.len(),
            run.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let recovered = killed_at.elapsed();
    let logs = run.stop();
    let in_doubt: Vec<_> = records
        .iter()
        .filter(|r| r.state == DeliveryState::Failed)
        .collect();
    for r in &in_doubt {
        assert_eq!(
            r.detail.as_deref(),
            Some(liqbot::scheduler::IN_DOUBT),
            "{logs}"
        );
    }
    for chat in &chats {
        let got = fake.delivered_to(*chat).len();
        assert!(got <= 1, "chat {chat} got the slot {got} times\n{logs}");
        let doubt = in_doubt.iter().any(|r| r.target == chat.to_string());
        // Every chat got it once, but one whose send was on the wire at the kill, which got
        // it at most once.
        assert!(got == 1 || doubt, "chat {chat} never got the slot\n{logs}");
    }
    assert!(in_doubt.len() <= 2, "{} sends in doubt", in_doubt.len());
    eprintln!(
        "kill -9 mid-fan-out: {at_kill} of {} chats had it at the kill; after the restart all \
         finished in {recovered:?}, {} in doubt, no chat twice",
        chats.len(),
        in_doubt.len()
    );
    store.close().await;
    fake.stop().await;
}

/// A store that cannot be written stops `liqbot run` at start with a message that says so,
/// rather than reading events it could not keep.
#[tokio::test]
async fn a_store_that_cannot_be_written_stops_the_bot_at_start_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ro.db");
    SqlStore::open(&format!("sqlite://{}", db.display()))
        .await
        .unwrap()
        .close()
        .await;
    let cases = [
        (
            format!("sqlite://{}?mode=ro", db.display()),
            "cannot be written",
        ),
        (
            format!("sqlite://{}/no-such-dir/x.db", dir.path().display()),
            "opening the store",
        ),
    ];
    for (url, expected) in cases {
        let path = dir.path().join("bot.toml");
        std::fs::write(
            &path,
            format!(
                "[store]\nurl = \"{url}\"\n[sources.binance]\nenabled = false\n\
                 [sources.bybit]\nenabled = false\n[sources.okx]\nenabled = false\n\
                 [market]\nenabled = false\n"
            ),
        )
        .unwrap();
        let out = Command::new(BIN)
            .args(["run", "--config"])
            .arg(&path)
            .env_remove("LIQBOT_TELEGRAM_TOKEN")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{url}: {stderr}");
        assert!(stderr.contains(expected), "{url}: {stderr}");
    }
}

/// The store fills its disk (a 1 MiB tmpfs) mid-ingest: the writer logs the error, keeps its
/// batch and retries, the venues are slowed rather than dropped; once the disk has room again
/// every event is stored exactly once. Needs root to mount the tmpfs (CI runs as root).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_mid_ingest_delays_events_and_loses_none() {
    let mnt = tempfile::tempdir().unwrap();
    let mount = |opts: &str| {
        Command::new("mount")
            .args(["-t", "tmpfs", "-o", opts, "tmpfs"])
            .arg(mnt.path())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !mount("size=1m") {
        eprintln!("skipped: mounting a tmpfs needs root");
        return;
    }
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(mnt.path().to_owned());
    let sim = SimServer::start(SimOptions {
        history: Duration::from_secs(12 * 3600),
        live: false,
        ..SimOptions::default()
    })
    .await
    .unwrap();
    let events = distinct(sim.all_events());
    let expected = events.len() as i64;
    let url = format!("sqlite://{}", mnt.path().join("full.db").display());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bot.toml");
    std::fs::write(&path, source_toml(&sim, &url)).unwrap();

    let mut run = Run::start(&path, None, dir.path().join("full.log"));
    let deadline = Instant::now() + Duration::from_secs(60);
    while !run.logs().contains("Could not write a batch") {
        run.assert_running();
        assert!(
            Instant::now() < deadline,
            "the disk never filled\n{}",
            run.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let logs = run.logs();
    assert!(logs.contains("full"), "the error names the cause\n{logs}");
    let at_full = stored(&url).await;
    assert!(at_full < expected);
    // Room again.
    let remount = Command::new("mount")
        .args(["-o", "remount,size=256m"])
        .arg(mnt.path())
        .status()
        .unwrap();
    assert!(remount.success());
    let took = wait_stored(&mut run, &url, expected, Duration::from_secs(120)).await;
    eprintln!(
        "full disk: {at_full} of {expected} stored when the disk filled; all stored {took:?} after it had room"
    );
    run.stop();
    let store = SqlStore::open(&url).await.unwrap();
    let kept = store.events(0, i64::MAX, None).await.unwrap();
    assert_eq!(kept.len() as i64, expected);
    assert_eq!(totals(&kept), totals(&events));
    store.close().await;
    sim.stop().await;
}
