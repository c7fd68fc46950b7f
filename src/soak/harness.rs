//! What the soak runs the bot against, and the run's phases: a store filled with a busy day,
//! the simulator and the two fakes, the bot's config, the bot started, watched, drained and
//! stopped between two slots.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use tokio::time::Instant;

use super::checks::{DueSlot, MemorySample, fires_between, metric_sum, quiet_stop_time};
use super::child::{BotProcess, free_port};
use super::{BUSY_DAY_RATE, SoakOptions, calibrate};
use crate::config::Config;
use crate::model::Exchange;
use crate::scheduler::Job;
use crate::sim::discord::{FakeDiscord, GUILD_ID};
use crate::sim::telegram::FakeTelegram;
use crate::sim::{Market, SimOptions, SimServer};
use crate::store::{SqlStore, Store as _};

const TELEGRAM_TOKEN: &str = "7001:soak-telegram";
const DISCORD_TOKEN: &str = "soak-discord";
/// The first Telegram target; the others count down from it (channel ids are negative).
const FIRST_CHAT: i64 = -1_001_000_000_001;
/// The Telegram channel every alert goes to.
pub(super) const ALERT_CHAT: i64 = -1_009_999_999_999;
/// The first Discord channel; the others count up from it.
const FIRST_CHANNEL: u64 = 3_100_000_000_000_000_001;
/// The Discord channel every alert goes to.
pub(super) const ALERT_CHANNEL: u64 = 3_199_999_999_999_999_999;
/// A slot must have fired this long before the bot is stopped to count as due in the run.
const SETTLE: Duration = Duration::from_secs(8);
/// No slot fires this soon after the stop signal.
const STOP_MARGIN: Duration = Duration::from_secs(3);
/// Mixed into the seed of the stored history's market, so it is not the live one's.
const HISTORY_SEED: u64 = 0x0015_7041;

/// The job targets: (Telegram chat ids, Discord channel ids).
pub(super) fn targets(options: &SoakOptions) -> (Vec<i64>, Vec<u64>) {
    let chats = (0..options.telegram_chats)
        .map(|i| FIRST_CHAT - i64::try_from(i).unwrap_or(0))
        .collect();
    let channels = (0..options.discord_channels)
        .map(|i| FIRST_CHANNEL + i as u64)
        .collect();
    (chats, channels)
}

/// Fills the new store at `url` with `options.history` of a busy day's liquidations (18.5 a
/// second on average) ending now, as a bot that has been running would have; returns how many
/// were stored. Written directly, not through the bot: a restarted bot reads no history from
/// the venues, and a replay would post hundreds of stale alerts at start.
pub(super) async fn fill_history(url: &str, options: &SoakOptions) -> anyhow::Result<u64> {
    let store = SqlStore::open(url).await.context("creating the store")?;
    let span_ms = i64::try_from(options.history.as_millis()).unwrap_or(i64::MAX);
    let seed = options.seed ^ HISTORY_SEED;
    let (scale, _) = calibrate(seed, Duration::ZERO, options.history, BUSY_DAY_RATE);
    let start = Utc::now().timestamp_millis() - span_ms;
    let mut market = Market::new(seed, start).with_rate_scale(scale);
    let mut stored = 0;
    let mut t = start;
    while t < start + span_ms {
        // Ten minutes at a time, so a day is never all in memory.
        t = (t + 600_000).min(start + span_ms);
        let events: Vec<_> = market.advance_to(t).into_iter().map(|(_, e)| e).collect();
        for chunk in events.chunks(10_000) {
            stored += store.insert_batch(chunk).await?.inserted as u64;
        }
    }
    store.close().await;
    Ok(stored)
}

/// The simulator, the fakes and the bot, running.
pub(super) struct Harness {
    pub(super) sim: SimServer,
    pub(super) telegram: FakeTelegram,
    pub(super) discord: FakeDiscord,
    pub(super) bot: BotProcess,
    pub(super) jobs: Vec<Job>,
    pub(super) log: PathBuf,
    /// When the simulator's market started (its live second 0).
    pub(super) sim_started: Instant,
}

/// What [`Harness::watch`] saw.
pub(super) struct Watched {
    /// When the bot was ready.
    pub(super) ready_at: DateTime<Utc>,
    /// The bot's memory, every `sample_every`.
    pub(super) samples: Vec<MemorySample>,
    /// The bot's `VmHWM` at the end of the run, KiB.
    pub(super) peak_rss: u64,
    /// The most events generated but not yet sent to the bot at a sample.
    pub(super) max_backlog: usize,
    /// Events the market generated between ready and the freeze, and in how many seconds.
    pub(super) live_events: usize,
    pub(super) live_secs: f64,
}

/// What [`Harness::drain`] found.
pub(super) struct Drained {
    /// Distinct events the simulator sent (by dedup key).
    pub(super) distinct: usize,
    /// The same, per exchange.
    pub(super) by_exchange: BTreeMap<Exchange, i64>,
    /// The most events generated in one second of the run.
    pub(super) peak_second: usize,
    /// How long after the freeze the bot had stored them all (`None`: not within 2 minutes).
    pub(super) caught_up: Option<Duration>,
}

/// What [`Harness::stop`] left.
pub(super) struct Stopped {
    /// The slots due in the run: (job, fire time ms, targets).
    pub(super) expected: Vec<DueSlot>,
    /// The bot's `/metrics` just before the signal.
    pub(super) metrics: String,
    /// CPU time the bot used, and the wall time from ready to the signal.
    pub(super) cpu: Duration,
    pub(super) wall: Duration,
    /// The exit status, as text, and whether it was success.
    pub(super) status: String,
    pub(super) exit_ok: bool,
    /// From SIGTERM to the exit.
    pub(super) stop_took: Duration,
}

impl Harness {
    /// Starts the fakes (enforcing the platforms' limits) and the live simulator at rate
    /// `scale`, writes the bot's config into `dir` and starts the bot on `store_url`; returns
    /// once the bot is ready.
    pub(super) async fn start(
        options: &SoakOptions,
        dir: &Path,
        store_url: &str,
        scale: f64,
    ) -> anyhow::Result<Self> {
        let telegram = FakeTelegram::start(TELEGRAM_TOKEN, "LiqSoak").await?;
        telegram.enforce_limits();
        let discord = FakeDiscord::start(DISCORD_TOKEN).await?;
        discord.enforce_limits();
        let sim = SimServer::start(SimOptions {
            seed: options.seed,
            history: Duration::ZERO,
            live: true,
            rate_scale: scale,
            ..SimOptions::default()
        })
        .await
        .context("starting the simulator")?;
        let sim_started = Instant::now();
        let metrics_port = free_port()?;
        let toml = config_text(options, &sim, &telegram, &discord, store_url, metrics_port);
        let config = Config::from_toml_str(&toml, "the soak's config")?;
        let jobs = crate::scheduler::jobs(&config)?;
        let config_path = dir.join("bot.toml");
        std::fs::write(&config_path, &toml)?;
        let log = dir.join("bot.log");
        let bot = BotProcess::spawn(
            &options.exe,
            &config_path,
            &[
                ("LIQBOT_LOG", "info"),
                ("NO_COLOR", "1"),
                ("LIQBOT_TELEGRAM_TOKEN", TELEGRAM_TOKEN),
                ("LIQBOT_DISCORD_TOKEN", DISCORD_TOKEN),
            ],
            log.clone(),
            metrics_port,
        )?;
        let mut harness = Self {
            sim,
            telegram,
            discord,
            bot,
            jobs,
            log,
            sim_started,
        };
        harness.wait_ready().await?;
        Ok(harness)
    }

    /// Waits until the bot serves `/metrics`, polls Telegram and is connected to Discord.
    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            self.bot.ensure_running()?;
            // getMe comes first; getUpdates follows at once (the fake does not record it).
            let polling = !self.telegram.calls_of("getme").is_empty();
            let connected = self.discord.wait_ready(Duration::ZERO).await;
            let metrics = self.bot.metrics().await.is_some();
            if polling && connected && metrics {
                return Ok(());
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "the bot was not ready within 90 s (Telegram polling: {polling}, Discord \
                 connected: {connected}, metrics served: {metrics}); the end of its log:\n{}",
                self.bot.tail(30)
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Events generated on every feed so far, and how many of them were sent.
    fn sim_totals(&self) -> (usize, usize) {
        self.sim
            .progress()
            .iter()
            .fold((0, 0), |(held, sent), (_, s, h)| (held + h, sent + s))
    }

    /// Runs for `options.duration` from now (the bot is ready), reading the bot's memory every
    /// `options.sample_every`; `progress` gets a line a minute. Freezes the market at the end.
    pub(super) async fn watch(
        &mut self,
        options: &SoakOptions,
        progress: &dyn Fn(&str),
    ) -> anyhow::Result<Watched> {
        let ready_at = Utc::now();
        let ready = Instant::now();
        let pid = self.bot.pid();
        let (held_at_ready, _) = self.sim_totals();
        let mut samples = Vec::new();
        let mut max_backlog = 0;
        let mut tick = tokio::time::interval(options.sample_every);
        let mut next_progress = Duration::from_secs(60);
        while ready.elapsed() < options.duration {
            tick.tick().await;
            self.bot.ensure_running()?;
            let elapsed = ready.elapsed();
            if let Some(s) = MemorySample::read(pid, elapsed.as_secs()) {
                samples.push(s);
            }
            let (held, sent) = self.sim_totals();
            max_backlog = max_backlog.max(held.saturating_sub(sent));
            if elapsed >= next_progress {
                next_progress += Duration::from_secs(60);
                let last = samples.last().copied().unwrap_or_default();
                progress(&format!(
                    "soak: {:.0}/{:.0} s, {:.1} events/s so far, bot RSS {:.1} MiB (anonymous {:.1} MiB)",
                    elapsed.as_secs_f64(),
                    options.duration.as_secs_f64(),
                    (held - held_at_ready) as f64 / elapsed.as_secs_f64(),
                    last.rss as f64 / 1024.0,
                    last.anon as f64 / 1024.0,
                ));
            }
        }
        let peak_rss = MemorySample::peak(pid);
        self.sim.freeze();
        let live_secs = ready.elapsed().as_secs_f64();
        let (held, _) = self.sim_totals();
        Ok(Watched {
            ready_at,
            samples,
            peak_rss,
            max_backlog,
            live_events: held - held_at_ready,
            live_secs,
        })
    }

    /// With the market frozen: counts what the simulator sent and waits (up to 2 minutes) for
    /// the bot to have stored all of it, as its `/metrics` says.
    pub(super) async fn drain(&mut self, ready_at: DateTime<Utc>) -> anyhow::Result<Drained> {
        let frozen = Instant::now();
        let events = self.sim.all_events();
        let mut seen = HashSet::with_capacity(events.len());
        let mut by_exchange: BTreeMap<Exchange, i64> = BTreeMap::new();
        let mut per_second: HashMap<i64, usize> = HashMap::new();
        let from = ready_at.timestamp_millis();
        for e in &events {
            if seen.insert(e.dedup_key()) {
                *by_exchange.entry(e.exchange).or_default() += 1;
            }
            if e.ts_ms >= from {
                *per_second.entry(e.ts_ms / 1000).or_default() += 1;
            }
        }
        let distinct = seen.len();
        drop((seen, events));
        let deadline = Instant::now() + Duration::from_secs(120);
        let caught_up = loop {
            self.bot.ensure_running()?;
            let inserted = self
                .bot
                .metrics()
                .await
                .and_then(|m| metric_sum(&m, "liqbot_ingest_inserted_total"))
                .unwrap_or(0.0);
            if self.sim.caught_up() && inserted >= distinct as f64 {
                break Some(frozen.elapsed());
            }
            if Instant::now() >= deadline {
                break None;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        Ok(Drained {
            distinct,
            by_exchange,
            peak_second: per_second.values().max().copied().unwrap_or(0),
            caught_up,
        })
    }

    /// Stops the bot with SIGTERM at a moment no slot is being sent: the first second with no
    /// fire in the [`SETTLE`] before it nor the [`STOP_MARGIN`] after it. The slots due are
    /// those fired after `ready_at` and at least [`SETTLE`] before the signal.
    pub(super) async fn stop(&mut self, ready_at: DateTime<Utc>) -> anyhow::Result<Stopped> {
        let schedules: Vec<_> = self.jobs.iter().map(|j| &j.schedule).collect();
        let settle = chrono::Duration::from_std(SETTLE)?;
        let stop_at = quiet_stop_time(
            &schedules,
            Utc::now(),
            settle,
            chrono::Duration::from_std(STOP_MARGIN)?,
        );
        let cutoff = stop_at - settle;
        let expected = self
            .jobs
            .iter()
            .flat_map(|job| {
                fires_between(&job.schedule, ready_at, cutoff)
                    .into_iter()
                    .map(|at| DueSlot {
                        job: job.name.clone(),
                        fire_ms: at.timestamp_millis(),
                        targets: job.targets.clone(),
                    })
            })
            .collect();
        tokio::time::sleep((stop_at - Utc::now()).to_std().unwrap_or_default()).await;
        self.bot.ensure_running()?;
        let metrics = self
            .bot
            .metrics()
            .await
            .context("the bot's /metrics did not answer at the end")?;
        let cpu = self.bot.cpu_time().unwrap_or_default();
        let wall = (Utc::now() - ready_at).to_std().unwrap_or_default();
        let stopping = Instant::now();
        let status = self.bot.stop(Duration::from_secs(60)).await?;
        Ok(Stopped {
            expected,
            metrics,
            cpu,
            wall,
            status: status
                .code()
                .map_or_else(|| status.to_string(), |c| format!("code {c}")),
            exit_ok: status.success(),
            stop_took: stopping.elapsed(),
        })
    }

    /// The bot's log.
    pub(super) fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// The bot's config: every source at the simulator, the market context polled from it, both
/// platforms at the fakes, metrics on `metrics_port`, alerts to one chat and one channel
/// (unless `options.no_alerts`), and the two jobs to every target.
fn config_text(
    options: &SoakOptions,
    sim: &SimServer,
    telegram: &FakeTelegram,
    discord: &FakeDiscord,
    store_url: &str,
    metrics_port: u16,
) -> String {
    let mut sources = Config::default();
    sim.configure(&mut sources);
    let s = &sources.sources;
    let (chats, channels) = targets(options);
    let list = |ids: Vec<String>| {
        ids.iter()
            .map(|i| format!("\"{i}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let chats = list(chats.iter().map(ToString::to_string).collect());
    let channels = list(channels.iter().map(ToString::to_string).collect());
    let (alert_chats, alert_channels) = if options.no_alerts {
        (String::new(), String::new())
    } else {
        (format!("\"{ALERT_CHAT}\""), format!("\"{ALERT_CHANNEL}\""))
    };
    let mut text = format!(
        "# Written by `liqbot soak`.\n\
         [store]\nurl = \"{store_url}\"\n\n\
         [sources.binance]\nws_url = \"{}\"\nrest_url = \"{}\"\n\n\
         [sources.bybit]\nws_url = \"{}\"\nrest_url = \"{}\"\n\n\
         [sources.okx]\nws_url = \"{}\"\nrest_url = \"{}\"\n\n\
         [market]\nhistory_hours = 1\n\n\
         [market.fear_greed]\nurl = \"{}\"\n\n\
         [telegram]\napi_url = \"{}\"\n\n\
         [discord]\napi_url = \"{}\"\ndev_guild_id = \"{GUILD_ID}\"\n\n\
         [metrics]\nlisten = \"127.0.0.1:{metrics_port}\"\n\n\
         [alerts]\ntelegram = [{alert_chats}]\ndiscord = [{alert_channels}]\n\n",
        s.binance.ws_url,
        s.binance.rest_url,
        s.bybit.ws_url,
        s.bybit.rest_url,
        s.okx.ws_url,
        s.okx.rest_url,
        sources.market.fear_greed.url,
        telegram.url(),
        discord.url(),
    );
    for (name, kind, coins, window, schedule) in [
        (
            "soak-summary",
            "summary",
            "",
            "24h",
            &options.summary_schedule,
        ),
        (
            "soak-heatmap",
            "heatmap",
            "\"BTC\"",
            "4h",
            &options.heatmap_schedule,
        ),
    ] {
        let _ = write!(
            text,
            "[[jobs]]\nname = \"{name}\"\nkind = \"{kind}\"\ncoins = [{coins}]\nwindow = \"{window}\"\n\
             schedule = \"{schedule}\"\ntime_zone = \"UTC\"\ntelegram = [{chats}]\ndiscord = [{channels}]\n\n"
        );
    }
    text
}
