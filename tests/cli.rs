//! The `liqbot` binary: `check-config` errors and masking, and `run` against the simulator
//! with a clean SIGTERM shutdown.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use liqbot::sim::{SimOptions, SimServer};
use liqbot::store::{SqlStore, Store};

const BIN: &str = env!("CARGO_BIN_EXE_liqbot");
const FAKE_TOKEN: &str = "test-token-not-real-0123";

fn check_config(path: &str) -> (bool, String, String) {
    let out = Command::new(BIN)
        .args(["check-config", "--config", path])
        // Variables of the test suite itself must not disturb the bot's config.
        .env(
            "LIQBOT_TEST_DATABASE_URL",
            "postgres://postgres@127.0.0.1:5432/test",
        )
        .env("LIQBOT_TELEGRAM_TOKEN", FAKE_TOKEN)
        .output()
        .expect("run liqbot");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_config_prints_every_setting_with_the_token_masked() {
    let (ok, stdout, stderr) = check_config("bot.example.toml");
    assert!(ok, "{stderr}");
    assert!(stdout.contains("telegram_token: *** (set)"), "{stdout}");
    assert!(stdout.contains("retention_days = 30"), "{stdout}");
    assert!(!stdout.contains(FAKE_TOKEN) && !stderr.contains(FAKE_TOKEN));
}

#[test]
fn check_config_names_the_line_and_key_of_an_unknown_key() {
    let (ok, _, stderr) = check_config("tests/fixtures/config/unknown_key.toml");
    assert!(!ok);
    assert!(stderr.contains("unknown_key.toml:7:1"), "{stderr}");
    assert!(stderr.contains("sources.binance.ws_ur"), "{stderr}");
}

#[test]
fn check_config_names_a_missing_file() {
    let (ok, _, stderr) = check_config("tests/fixtures/config/no_such_file.toml");
    assert!(!ok);
    assert!(
        stderr.contains("tests/fixtures/config/no_such_file.toml"),
        "{stderr}"
    );
}

#[tokio::test]
async fn run_streams_into_the_store_and_stops_cleanly_on_sigterm() {
    let sim = SimServer::start(SimOptions {
        history: Duration::from_secs(3600),
        ..SimOptions::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("run.db");
    let url = format!("sqlite://{}", db.display());
    let mut config = liqbot::config::Config::default();
    sim.configure(&mut config);
    let s = &config.sources;
    let toml = format!(
        "[store]\nurl = \"{url}\"\nflush_interval_ms = 50\n\
         [sources.binance]\nws_url = \"{}\"\n\
         [sources.bybit]\nws_url = \"{}\"\nrest_url = \"{}\"\n\
         [sources.okx]\nws_url = \"{}\"\nrest_url = \"{}\"\n",
        s.binance.ws_url, s.bybit.ws_url, s.bybit.rest_url, s.okx.ws_url, s.okx.rest_url
    );
    let path = dir.path().join("bot.toml");
    std::fs::write(&path, toml).unwrap();
    let mut child = Command::new(BIN)
        .args(["run", "--config"])
        .arg(&path)
        .env("LIQBOT_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the history to be stored.
    let expected = sim.all_events().len() as i64;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut stored = 0;
    while stored < expected {
        assert!(
            tokio::time::Instant::now() < deadline,
            "stored {stored} of {expected}"
        );
        if let Some(status) = child.try_wait().unwrap() {
            let mut logs = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut logs).unwrap();
            panic!("liqbot run exited early ({status}): {logs}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        if let Ok(store) = SqlStore::open(&url).await {
            stored = store.event_count().await.unwrap_or(0);
            store.close().await;
        }
    }
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let logs = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{logs}");
    assert!(logs.contains("Shutting down."), "{logs}");
    assert!(logs.contains("Writer finished."), "{logs}");
    sim.stop().await;
}

#[test]
fn check_config_reports_a_broken_template_with_its_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let templates = dir.path().join("templates");
    std::fs::create_dir(&templates).unwrap();
    std::fs::write(
        templates.join("summary.telegram.html.j2"),
        "<b>{{ summary.total.usd | money }}</b>\nline two\n{% if %}\n",
    )
    .unwrap();
    let config = dir.path().join("bot.toml");
    std::fs::write(
        &config,
        format!("[render]\ntemplates_dir = \"{}\"\n", templates.display()),
    )
    .unwrap();
    let (ok, _, stderr) = check_config(config.to_str().unwrap());
    assert!(!ok);
    assert!(stderr.contains("summary.telegram.html.j2"), "{stderr}");
    assert!(
        stderr.contains("line 3") || stderr.contains(":3"),
        "{stderr}"
    );
}

#[test]
fn check_config_lists_each_job_with_its_next_three_fire_times() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jobs.toml");
    std::fs::write(
        &path,
        "[summary]\ntime_zone = \"UTC\"\n\n\
         [[jobs]]\nname = \"weekday-summary\"\nkind = \"summary\"\nschedule = \"0 8 * * Mon-Fri\"\n\
         time_zone = \"Europe/Berlin\"\ntelegram = [\"-1001\"]\n\n\
         [[jobs]]\nname = \"btc-heatmap\"\nkind = \"heatmap\"\ncoins = [\"BTC\"]\nschedule = \"4h\"\n\
         discord = [\"123\"]\n",
    )
    .unwrap();
    let (ok, stdout, stderr) = check_config(path.to_str().unwrap());
    assert!(ok, "{stderr}");
    let line = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("weekday-summary:"))
        .unwrap_or_else(|| panic!("{stdout}"));
    let next = line.split("next: ").nth(1).expect("next fire times");
    let times: Vec<&str> = next.split(", ").collect();
    assert_eq!(times.len(), 3, "{line}");
    for t in times {
        assert!(
            t.contains(" 08:00:00 CE"),
            "{t}: 08:00 Berlin time (CET or CEST)"
        );
        assert!(!t.starts_with("Sat") && !t.starts_with("Sun"), "{t}");
    }
    assert!(
        stdout.contains("btc-heatmap: heatmap BTC every `4h` (UTC)"),
        "{stdout}"
    );

    std::fs::write(
        &path,
        "[[jobs]]\nname = \"bad\"\nkind = \"summary\"\n\nschedule = \"every day\"\ntelegram = [\"-1\"]\n",
    )
    .unwrap();
    let (ok, _, stderr) = check_config(path.to_str().unwrap());
    assert!(!ok);
    assert!(stderr.contains("jobs.toml:5"), "{stderr}");
    assert!(stderr.contains("jobs[0].schedule"), "{stderr}");
}

/// Starts `liqbot run` with `config` and a Telegram token.
fn spawn_run(config: &std::path::Path, token: &str) -> std::process::Child {
    Command::new(BIN)
        .args(["run", "--config"])
        .arg(config)
        .env("LIQBOT_LOG", "info")
        .env("LIQBOT_TELEGRAM_TOKEN", token)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// SIGTERMs `child` and returns its logs, asserting a clean exit.
async fn stop(child: std::process::Child) -> String {
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let logs = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{logs}");
    logs
}

/// Two `liqbot run` processes share one PostgreSQL store and one fake Telegram for 25 seconds
/// of a job firing every second and a cascade: every slot and the alert arrive exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_postgres_deliver_every_slot_and_alert_once() {
    use liqbot::sim::telegram::FakeTelegram;
    use liqbot::store::{DeliveryState, DeliveryStore as _};
    let Some(db) = common::postgres_store().await else {
        eprintln!("LIQBOT_TEST_DATABASE_URL is not set; skipped");
        return;
    };
    let token = "4242:two-instances";
    let fake = FakeTelegram::start(token, "LiqBot").await.unwrap();
    let sim = SimServer::start(SimOptions {
        history: Duration::from_secs(3600),
        ..SimOptions::default()
    })
    .await
    .unwrap();
    let mut config = liqbot::config::Config::default();
    sim.configure(&mut config);
    let s = &config.sources;
    let toml = format!(
        "[store]\nurl = \"{}\"\nflush_interval_ms = 50\n\
         [sources.binance]\nws_url = \"{}\"\n\
         [sources.bybit]\nws_url = \"{}\"\nrest_url = \"{}\"\n\
         [sources.okx]\nws_url = \"{}\"\nrest_url = \"{}\"\n\
         [market]\nenabled = false\n\
         [telegram]\napi_url = \"{}\"\n\
         [alerts]\nlarge_usd = 1e15\ncascade_usd = 1.0\nupdate_step_pct = 1e12\n\
         cooldown_minutes = 600\ntelegram = [\"-1009\"]\n\
         [alerts.large_usd_by_coin]\nBTC = 1e15\n\
         [[jobs]]\nname = \"pulse\"\nkind = \"summary\"\nwindow = \"1h\"\n\
         schedule = \"* * * * * *\"\ntelegram = [\"5001\"]\n",
        db.url,
        s.binance.ws_url,
        s.bybit.ws_url,
        s.bybit.rest_url,
        s.okx.ws_url,
        s.okx.rest_url,
        fake.url()
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bot.toml");
    std::fs::write(&path, toml).unwrap();
    let a = spawn_run(&path, token);
    let b = spawn_run(&path, token);
    tokio::time::sleep(Duration::from_secs(25)).await;
    let (logs_a, logs_b) = (stop(a).await, stop(b).await);

    let sent = db
        .store
        .deliveries_in_state(DeliveryState::Sent, 0)
        .await
        .unwrap();
    let slots: Vec<&str> = sent
        .iter()
        .filter(|r| r.slot.starts_with("job/pulse:") && r.target == "5001")
        .map(|r| r.slot.as_str())
        .collect();
    let photos = fake
        .delivered_to(5001)
        .into_iter()
        .filter(|c| c.method == "sendphoto")
        .count();
    assert!(
        slots.len() >= 20,
        "{} slots sent\n{logs_a}\n{logs_b}",
        slots.len()
    );
    assert_eq!(
        photos,
        slots.len(),
        "each sent slot arrived once, and nothing else"
    );
    let mut unique = slots.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), slots.len());
    let due = |logs: &str| logs.matches("Scheduled post due.").count();
    eprintln!(
        "{} slots sent once each: {} by one instance, {} by the other; {photos} photos at the fake",
        slots.len(),
        due(&logs_a),
        due(&logs_b)
    );
    // Slots still in flight at SIGTERM are recorded as not sent, never lost.
    let not_sent = db
        .store
        .deliveries_in_state(DeliveryState::NotSent, 0)
        .await
        .unwrap()
        .iter()
        .filter(|r| r.slot.starts_with("job/pulse:"))
        .count();
    eprintln!("{not_sent} recorded not sent at shutdown");
    assert_eq!(due(&logs_a) + due(&logs_b), slots.len() + not_sent);

    let alerts: Vec<_> = sent
        .iter()
        .filter(|r| r.slot.starts_with("alert:"))
        .collect();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].target, "-1009");
    let alert_posts = fake.delivered_to(-1009);
    assert_eq!(alert_posts.len(), 1, "{alert_posts:#?}");
    assert!(
        alert_posts[0]
            .text()
            .unwrap_or_default()
            .contains("liquidated in")
    );
    sim.stop().await;
    fake.stop().await;
    db.store.close().await;
}

/// SIGTERM while a slot is being sent to 50 Telegram chats (paced at 30 a second): every send
/// that started completed, the rest are recorded as not sent, nothing is half-recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_fan_out_to_50_targets_records_every_target() {
    use liqbot::sim::telegram::FakeTelegram;
    use liqbot::store::{DeliveryState, DeliveryStore as _};
    let token = "4343:fan-out";
    let fake = FakeTelegram::start(token, "LiqBot").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("fan.db").display());
    let targets: Vec<String> = (1..=50).map(|i| format!("\"{}\"", 7000 + i)).collect();
    // The job fires every 5 seconds; the first slot's fan-out is the one cut off.
    let toml = format!(
        "[store]\nurl = \"{url}\"\n\
         [sources.binance]\nenabled = false\n[sources.bybit]\nenabled = false\n\
         [sources.okx]\nenabled = false\n[market]\nenabled = false\n\
         [telegram]\napi_url = \"{}\"\n\
         [[jobs]]\nname = \"wide\"\nkind = \"summary\"\nwindow = \"1h\"\nschedule = \"*/5 * * * * *\"\n\
         telegram = [{}]\n\
         [alerts]\ncascade_usd = 1e15\n",
        fake.url(),
        targets.join(", ")
    );
    let path = dir.path().join("bot.toml");
    std::fs::write(&path, toml).unwrap();
    let child = spawn_run(&path, token);
    // The first send of the fan-out, then SIGTERM mid-way.
    fake.wait_for(Duration::from_secs(40), |calls| {
        calls.iter().any(|c| c.method.starts_with("send"))
    })
    .await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let logs = stop(child).await;

    let store = SqlStore::open(&url).await.unwrap();
    let records = store
        .deliveries_in_state(DeliveryState::Sent, 0)
        .await
        .unwrap()
        .into_iter()
        .chain(
            store
                .deliveries_in_state(DeliveryState::NotSent, 0)
                .await
                .unwrap(),
        )
        .chain(
            store
                .deliveries_in_state(DeliveryState::Failed, 0)
                .await
                .unwrap(),
        )
        .filter(|r| r.slot.starts_with("job/wide:"))
        .collect::<Vec<_>>();
    let first_slot = records.iter().map(|r| r.fire_ms).min().unwrap();
    let slot: Vec<_> = records.iter().filter(|r| r.fire_ms == first_slot).collect();
    assert_eq!(slot.len(), 50, "every target recorded\n{logs}");
    let sent = slot
        .iter()
        .filter(|r| r.state == DeliveryState::Sent)
        .count();
    let not_sent = slot
        .iter()
        .filter(|r| r.state == DeliveryState::NotSent)
        .count();
    let failed: Vec<_> = slot
        .iter()
        .filter(|r| r.state == DeliveryState::Failed)
        .collect();
    let delivered = (7001..=7050)
        .filter(|chat| !fake.delivered_to(*chat).is_empty())
        .count();
    eprintln!(
        "fan-out at SIGTERM: {sent} sent, {not_sent} not sent, {} failed; {delivered} chats got it",
        failed.len()
    );
    assert_eq!(sent, delivered, "recorded as sent = arrived");
    assert_eq!(sent + not_sent + failed.len(), 50);
    store.close().await;
    fake.stop().await;
}

/// With every log at trace level, a run that talks to Telegram (commands, sends, a 403) and a
/// `check-config` never print the token, not even inside a URL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_telegram_token_never_appears_in_logs_even_at_trace_level() {
    use liqbot::sim::telegram::{ChatKind, Failure, FakeTelegram};
    let token = "5555:SECRET-token-abcdef";
    let fake = FakeTelegram::start(token, "LiqBot").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("secret.db").display());
    let toml = format!(
        "[store]\nurl = \"{url}\"\n\
         [sources.binance]\nenabled = false\n[sources.bybit]\nenabled = false\n\
         [sources.okx]\nenabled = false\n[market]\nenabled = false\n\
         [telegram]\napi_url = \"{}\"\n",
        fake.url()
    );
    let path = dir.path().join("bot.toml");
    std::fs::write(&path, toml).unwrap();
    fake.break_chat(-100_777, Failure::Kicked);
    let child = Command::new(BIN)
        .args(["run", "--config"])
        .arg(&path)
        .env("LIQBOT_LOG", "trace")
        .env("LIQBOT_TELEGRAM_TOKEN", token)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    fake.wait_for(Duration::from_secs(20), |calls| {
        calls.iter().any(|c| c.method == "getme")
    })
    .await;
    fake.push_message(1, ChatKind::Private, Some(1), "/liq btc 99y");
    fake.push_message(-100_777, ChatKind::Group, Some(2), "/help");
    fake.wait_for(Duration::from_secs(20), |calls| {
        calls.iter().filter(|c| c.method == "sendmessage").count() >= 2
    })
    .await;
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let logs = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(logs.len() > 1_000, "trace logs were written: {logs}");
    assert!(
        logs.contains("Telegram command"),
        "{}",
        &logs[logs.len().saturating_sub(3000)..]
    );
    eprintln!(
        "trace lines: {}, from hyper/reqwest: {}",
        logs.lines().count(),
        logs.lines()
            .filter(|l| l.contains("hyper") || l.contains("reqwest"))
            .count()
    );
    for secret in [token, "SECRET-token"] {
        assert!(
            !logs.contains(secret),
            "the token leaked:\n{}",
            logs.lines()
                .filter(|l| l.contains(secret))
                .take(5)
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    let (ok, stdout, stderr) = check_config(path.to_str().unwrap());
    assert!(ok, "{stderr}");
    assert!(!stdout.contains(FAKE_TOKEN) && !stderr.contains(FAKE_TOKEN));
    fake.stop().await;
}
