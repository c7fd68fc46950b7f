//! `liqbot soak`: the whole bot, as `liqbot run` in a process of its own, fed by the simulator
//! at ten times a busy day's liquidation rate, posting on a schedule to a fake Telegram and a
//! fake Discord that enforce the platforms' rate limits, for ten minutes. It then checks that
//! the bot's memory stayed flat, that nothing went wrong (metrics, logs, exit status), that no
//! platform answered 429, that every scheduled slot reached every target exactly once, and
//! that every event the simulator sent is in the store.
//!
//! A busy day is the record of 2025-10-10: about 1.6 million liquidations in 24 hours, 18.5 a
//! second on average; the default rate is ten times that. The store starts with a day of such
//! history, as a bot that has been running would have. The simulator's market is bursty (a
//! move multiplies the liquidations), so the rate is set from the very price path the run
//! will see: a market of the same seed at rate scale 0 gives the liquidations the run's window
//! expects, and the scale makes their mean the rate asked for ([`calibrate`]).

mod checks;
mod child;
mod harness;
mod outcome;
mod report;

pub use checks::{
    Delivered, DueSlot, MEMORY_SLOPE_KIB_PER_MIN, MEMORY_TOLERANCE_KIB, MemorySample,
    MemoryVerdict, SlotTally, alert_lags, fires_between, judge_memory, log_lines, memory_csv,
    metric_sum, quiet_stop_time, tally_slots,
};
pub use child::BotProcess;
pub use report::SoakReport;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::sim::Market;

/// Liquidations on a busy day: the 2025-10-10 record, about 1.6 million in 24 hours.
pub const BUSY_DAY_EVENTS: f64 = 1_600_000.0;
/// A busy day's mean rate, events per second (about 18.5).
pub const BUSY_DAY_RATE: f64 = BUSY_DAY_EVENTS / 86_400.0;
/// The default rate: ten times a busy day's, in events per second (about 185).
pub const DEFAULT_RATE: f64 = 10.0 * BUSY_DAY_RATE;
/// Memory is judged only over a run at least this long: the caches fill for the first
/// minutes, and a shorter run cannot tell them from a leak.
pub const MEMORY_JUDGED_FROM: Duration = Duration::from_secs(4 * 60);

/// What to soak, and for how long.
#[derive(Debug, Clone)]
pub struct SoakOptions {
    /// How long the bot runs after it is ready.
    pub duration: Duration,
    /// Liquidations per second across all venues.
    pub rate: f64,
    /// Telegram chats (channels) every job posts to.
    pub telegram_chats: usize,
    /// Discord channels every job posts to.
    pub discord_channels: usize,
    /// The schedule of the 24h summary job (any `[[jobs]]` schedule, read in UTC).
    pub summary_schedule: String,
    /// The schedule of the BTC 4h heatmap job.
    pub heatmap_schedule: String,
    /// History of a busy day written to the store before the bot starts.
    pub history: Duration,
    /// Send alerts to no chat (the alert engine still runs).
    pub no_alerts: bool,
    /// The simulator's seed.
    pub seed: u64,
    /// How often the bot's memory is read.
    pub sample_every: Duration,
    /// Keep the store, config and log in this directory (a temporary one when `None`).
    pub keep: Option<PathBuf>,
    /// The `liqbot` binary to run the bot with.
    pub exe: PathBuf,
}

impl SoakOptions {
    /// The defaults of `liqbot soak`, running the bot with `exe`.
    #[must_use]
    pub fn new(exe: PathBuf) -> Self {
        Self {
            duration: Duration::from_secs(600),
            rate: DEFAULT_RATE,
            telegram_chats: 50,
            discord_channels: 20,
            summary_schedule: "0 * * * * *".to_owned(),
            heatmap_schedule: "30 */5 * * * *".to_owned(),
            history: Duration::from_secs(86_400),
            no_alerts: false,
            seed: 2024,
            sample_every: Duration::from_secs(2),
            keep: None,
            exe,
        }
    }
}

/// The rate scale that makes a market of `seed` produce `rate` liquidations per second on
/// average over `run` after its first `skip`, and the rate it would produce there at scale 1:
/// a market of the same seed at scale 0 (prices only, the same path) is walked over them.
#[must_use]
pub fn calibrate(seed: u64, skip: Duration, run: Duration, rate: f64) -> (f64, f64) {
    let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
    let mut probe = Market::new(seed, 0).with_rate_scale(0.0);
    probe.advance_to(ms(skip));
    let before = probe.expected_events();
    probe.advance_to(ms(skip + run));
    let base = (probe.expected_events() - before) / run.as_secs_f64().max(1.0);
    (rate / base.max(1e-9), base)
}

/// Runs the soak; `progress` receives a line now and then while it runs.
///
/// # Errors
/// When something cannot start, or the bot dies or hangs; a check that fails is reported in
/// the [`SoakReport`] instead.
pub async fn run(options: &SoakOptions, progress: &dyn Fn(&str)) -> anyhow::Result<SoakReport> {
    let temp;
    let dir: &Path = if let Some(dir) = &options.keep {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        dir
    } else {
        temp = tempfile::tempdir()?;
        temp.path()
    };
    let db = dir.join("soak.db");
    anyhow::ensure!(
        !db.exists(),
        "{} exists; the soak needs a new store",
        db.display()
    );
    let store_url = format!("sqlite://{}", db.display());

    let started = Instant::now();
    let prefilled = harness::fill_history(&store_url, options).await?;
    let prefill_took = started.elapsed();
    progress(&format!(
        "soak: the store holds {prefilled} events of history ({:.1} s)",
        prefill_took.as_secs_f64()
    ));
    // A first guess: the bot takes a few seconds to start. Set again once it is ready.
    let (guess, _) = calibrate(
        options.seed,
        Duration::from_secs(5),
        options.duration,
        options.rate,
    );
    let mut harness = harness::Harness::start(options, dir, &store_url, guess).await?;
    let (scale, base_rate) = calibrate(
        options.seed,
        harness.sim_started.elapsed(),
        options.duration,
        options.rate,
    );
    harness.sim.set_rate_scale(scale);
    progress(&format!(
        "soak: bot (pid {}) ready; running {:.1} min at {:.1} events/s (scale {scale:.1}), {} Telegram chats, {} Discord channels",
        harness.bot.pid(),
        options.duration.as_secs_f64() / 60.0,
        options.rate,
        options.telegram_chats,
        options.discord_channels,
    ));
    let watched = harness.watch(options, progress).await?;
    if options.keep.is_some() {
        std::fs::write(dir.join("memory.csv"), memory_csv(&watched.samples))?;
    }
    let drained = harness.drain(watched.ready_at).await?;
    let stopped = harness.stop(watched.ready_at).await?;
    let logs = harness.logs();
    let outcome = outcome::gather(harness, options, &store_url, &db, &stopped.expected).await?;
    Ok(report::Figures {
        options,
        scale,
        base_rate,
        prefilled,
        prefill_took,
        watched,
        drained,
        stopped,
        outcome,
        logs,
        kept: options.keep.as_ref().map(|_| dir.display().to_string()),
    }
    .report())
}
