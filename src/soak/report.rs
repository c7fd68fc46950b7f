//! The soak's report: its figures, and its checks with a verdict each.

use std::fmt::Write as _;
use std::time::Duration;

use super::checks::{MemoryVerdict, alert_lags, judge_memory, log_lines, metric_sum};
use super::harness::{Drained, Stopped, Watched};
use super::outcome::Outcome;
use super::{
    BUSY_DAY_RATE, MEMORY_JUDGED_FROM, MEMORY_SLOPE_KIB_PER_MIN, MEMORY_TOLERANCE_KIB, SoakOptions,
};

/// One check's outcome.
#[derive(Debug, Clone)]
struct Check {
    name: &'static str,
    /// `None`: not judged (reported only).
    ok: Option<bool>,
    detail: String,
}

/// What a soak found: its figures and its checks, printed by [`std::fmt::Display`].
#[derive(Debug, Clone)]
pub struct SoakReport {
    text: String,
    checks: Vec<Check>,
}

impl SoakReport {
    /// True when no check failed.
    #[must_use]
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.ok != Some(false))
    }

    /// The names of the checks that failed.
    #[must_use]
    pub fn failures(&self) -> Vec<&'static str> {
        self.checks
            .iter()
            .filter(|c| c.ok == Some(false))
            .map(|c| c.name)
            .collect()
    }
}

impl std::fmt::Display for SoakReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)?;
        writeln!(f, "checks:")?;
        for c in &self.checks {
            let mark = match c.ok {
                Some(true) => "PASS",
                Some(false) => "FAIL",
                None => "SKIP",
            };
            writeln!(f, "  {mark} {}: {}", c.name, c.detail)?;
        }
        let verdict = if self.passed() { "PASSED" } else { "FAILED" };
        writeln!(f, "soak {verdict}")
    }
}

/// Everything the report is made of.
pub(super) struct Figures<'a> {
    pub(super) options: &'a SoakOptions,
    /// The live market's rate scale, and the rate its window expects at scale 1.
    pub(super) scale: f64,
    pub(super) base_rate: f64,
    /// Events written to the store before the bot started, and how long it took.
    pub(super) prefilled: u64,
    pub(super) prefill_took: Duration,
    pub(super) watched: Watched,
    pub(super) drained: Drained,
    pub(super) stopped: Stopped,
    pub(super) outcome: Outcome,
    pub(super) logs: String,
    /// Where the files were kept, if they were.
    pub(super) kept: Option<String>,
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// ` (first: ...)` for a non-empty list.
fn first(list: &[String]) -> String {
    list.first()
        .map_or(String::new(), |s| format!(" (first: {s})"))
}

impl Figures<'_> {
    fn metric(&self, name: &str) -> f64 {
        metric_sum(&self.stopped.metrics, &format!("liqbot_{name}")).unwrap_or(f64::NAN)
    }

    fn live_rate(&self) -> f64 {
        self.watched.live_events as f64 / self.watched.live_secs.max(1e-9)
    }

    /// The report.
    pub(super) fn report(&self) -> SoakReport {
        let memory = judge_memory(&self.watched.samples);
        let mut text = String::new();
        self.write_load(&mut text);
        self.write_memory(&mut text, &memory);
        self.write_delivery(&mut text);
        if let Some(dir) = &self.kept {
            let _ = writeln!(
                text,
                "  kept: {dir} (bot.toml, bot.log, soak.db, memory.csv)"
            );
        }
        SoakReport {
            text,
            checks: self.checks(&memory),
        }
    }

    fn write_load(&self, t: &mut String) {
        let (o, w, d) = (self.options, &self.watched, &self.drained);
        let _ = writeln!(
            t,
            "soak: {:.1} min of the whole bot (`liqbot run`, a process of its own) against the simulator, \
             a fake Telegram and a fake Discord enforcing their rate limits",
            w.live_secs / 60.0
        );
        let _ = writeln!(
            t,
            "  store at start: {} events, {:.1} h of a busy day ({BUSY_DAY_RATE:.1}/s), written in {:.1} s",
            self.prefilled,
            o.history.as_secs_f64() / 3600.0,
            self.prefill_took.as_secs_f64(),
        );
        let _ = writeln!(
            t,
            "  rate: asked {:.1} events/s ({:.1} x a busy day); the seed's price path expects {:.3}/s \
             at scale 1, so scale {:.1}; produced {:.1} events/s ({} events in {:.0} s), busiest second {} events",
            o.rate,
            o.rate / BUSY_DAY_RATE,
            self.base_rate,
            self.scale,
            self.live_rate(),
            w.live_events,
            w.live_secs,
            d.peak_second,
        );
        let by_exchange: Vec<String> = d
            .by_exchange
            .iter()
            .map(|(ex, n)| format!("{} {n}", ex.as_str()))
            .collect();
        let _ = writeln!(
            t,
            "  ingest: {} distinct events sent ({}), the store holds {} ({} inserted by the bot, {} duplicates skipped); \
             at most {} events waited at the venues at a sample; all stored {} after the market froze",
            d.distinct,
            by_exchange.join(", "),
            self.outcome.stored,
            self.metric("ingest_inserted_total"),
            self.metric("ingest_duplicates_total"),
            w.max_backlog,
            d.caught_up
                .map_or("NOT within 2 min".to_owned(), |x| format!(
                    "{:.1} s",
                    x.as_secs_f64()
                )),
        );
    }

    fn write_memory(&self, t: &mut String, m: &MemoryVerdict) {
        let (o, s) = (self.options, &self.stopped);
        let q = |i: usize| m.quarters[i];
        let _ = writeln!(
            t,
            "  bot memory ({} samples every {:.0} s from /proc/<pid>/status of the bot process alone): \
             steady (second half) median RSS {:.1} MiB (anonymous {:.1}, file {:.1}); \
             max sampled RSS {:.1} MiB (anonymous {:.1}, file {:.1}); peak RSS (VmHWM) {:.1} MiB",
            self.watched.samples.len(),
            o.sample_every.as_secs_f64(),
            mib(m.steady[0]),
            mib(m.steady[1]),
            mib(m.steady[2]),
            mib(m.max[0]),
            mib(m.max[1]),
            mib(m.max[2]),
            mib(self.watched.peak_rss),
        );
        let _ = writeln!(
            t,
            "    (file pages are the binary and the store read through SQLite's memory map: the kernel's page \
             cache, shared and reclaimable; anonymous memory is the bot's own)"
        );
        let quarters: Vec<String> = (0..4)
            .map(|i| {
                format!(
                    "Q{} {:.1} / {:.1} / {:.1}",
                    i + 1,
                    mib(q(i)[0]),
                    mib(q(i)[1]),
                    mib(q(i)[2])
                )
            })
            .collect();
        let _ = writeln!(
            t,
            "    quarter medians, RSS / anonymous / file MiB: {}",
            quarters.join(", ")
        );
        let _ = writeln!(
            t,
            "    first vs last sample RSS {:.1} -> {:.1} MiB; RSS Q2 -> Q4 {:+.1} MiB; anonymous Q2 -> Q4 {:+.1} MiB, \
             slope over the second half {:+.2} MiB/min",
            mib(self.watched.samples.first().map_or(0, |x| x.rss)),
            mib(self.watched.samples.last().map_or(0, |x| x.rss)),
            (q(3)[0] as f64 - q(1)[0] as f64) / 1024.0,
            m.anon_growth as f64 / 1024.0,
            m.anon_slope_per_min / 1024.0,
        );
        let _ = writeln!(
            t,
            "  bot CPU: {:.0} s in {:.0} s ({:.0}% of one core); store file {:.1} MiB",
            s.cpu.as_secs_f64(),
            s.wall.as_secs_f64(),
            100.0 * s.cpu.as_secs_f64() / s.wall.as_secs_f64().max(1e-9),
            self.outcome.store_size as f64 / 1_048_576.0,
        );
    }

    fn write_delivery(&self, t: &mut String) {
        let (o, out) = (self.options, &self.outcome);
        let _ = writeln!(
            t,
            "  scheduled posts: 24h summary `{}` and BTC 4h heatmap `{}` to {} Telegram chats and {} Discord channels: \
             {} (slot, target) posts due, {} recorded sent once; the fakes accepted {} Telegram messages and {} Discord messages in all",
            o.summary_schedule,
            o.heatmap_schedule,
            o.telegram_chats,
            o.discord_channels,
            out.tally.expected,
            out.tally.once,
            out.telegram_sends,
            out.discord_sends,
        );
        let mut lags = alert_lags(&self.logs);
        lags.sort_by(f64::total_cmp);
        let lag = |q: usize| lags.get(q * lags.len().saturating_sub(1) / 100).copied();
        let _ = writeln!(
            t,
            "  alerts{}: {} recorded sent, {} failed, {} cut off by the shutdown; {} sends and edits arrived; \
             large-liquidation alerts started {} s after the event at the median, {} s at the most ({} of them)",
            if o.no_alerts {
                " (to no chat: --no-alerts)"
            } else {
                " (to one Telegram channel and one Discord channel)"
            },
            out.alerts_sent,
            out.alerts_failed.len(),
            out.alerts_not_sent,
            out.alerts_arrived,
            lag(50).map_or("-".to_owned(), |l| format!("{l:.0}")),
            lag(100).map_or("-".to_owned(), |l| format!("{l:.0}")),
            lags.len(),
        );
        let _ = writeln!(
            t,
            "  bot counters: posts sent {}, failed {}, retried {}, rate limited {}; frames rejected {}, \
             entries rejected {}, venue errors {}, reconnects {}, write errors {}; healthy {}",
            self.metric("posts_sent_total"),
            self.metric("posts_failed_total"),
            self.metric("posts_retried_total"),
            self.metric("posts_rate_limited_total"),
            self.metric("source_frames_rejected_total"),
            self.metric("source_entries_rejected_total"),
            self.metric("source_venue_errors_total"),
            self.metric("source_reconnects_total"),
            self.metric("ingest_write_errors_total"),
            self.metric("healthy"),
        );
        let (errors, error_messages) = log_lines(&self.logs, "ERROR");
        let (warnings, warning_messages) = log_lines(&self.logs, "WARN");
        let _ = writeln!(
            t,
            "  bot log: {errors} ERROR and {warnings} WARN lines; exit {} {:.1} s after SIGTERM",
            self.stopped.status,
            self.stopped.stop_took.as_secs_f64(),
        );
        for (n, msg) in error_messages.iter().chain(&warning_messages).take(8) {
            let _ = writeln!(t, "    {n} x {msg}");
        }
    }

    fn checks(&self, m: &MemoryVerdict) -> Vec<Check> {
        let (o, out) = (self.options, &self.outcome);
        let judged = self.watched.live_secs >= MEMORY_JUDGED_FROM.as_secs_f64();
        let anon = |i: usize| mib(m.quarters[i][1]);
        let zero = |name: &str| self.metric(name) == 0.0;
        let counters = [
            "ingest_write_errors_total",
            "posts_failed_total",
            "source_frames_rejected_total",
            "source_entries_rejected_total",
            "source_venue_errors_total",
            "source_reconnects_total",
        ];
        let counters_clean = counters.iter().all(|n| zero(n)) && self.metric("healthy") == 1.0;
        let (errors, _) = log_lines(&self.logs, "ERROR");
        let (warnings, _) = log_lines(&self.logs, "WARN");
        let expected_stored = i64::try_from(self.drained.distinct as u64 + self.prefilled).ok();
        vec![
            Check {
                name: "rate",
                ok: Some(self.live_rate() >= 0.8 * o.rate),
                detail: format!(
                    "{:.1} events/s produced, at least 80% of the {:.1} asked",
                    self.live_rate(),
                    o.rate
                ),
            },
            Check {
                name: "memory flat",
                ok: judged.then_some(m.flat),
                detail: format!(
                    "{}anonymous memory of the bot Q2 {:.1} -> Q4 {:.1} MiB ({:+.1}, allowed +{:.0}), \
                     second-half slope {:+.2} MiB/min (allowed +{:.1})",
                    if judged {
                        String::new()
                    } else {
                        format!(
                            "not judged in a run under {} min: ",
                            MEMORY_JUDGED_FROM.as_secs() / 60
                        )
                    },
                    anon(1),
                    anon(3),
                    m.anon_growth as f64 / 1024.0,
                    mib(MEMORY_TOLERANCE_KIB),
                    m.anon_slope_per_min / 1024.0,
                    MEMORY_SLOPE_KIB_PER_MIN / 1024.0,
                ),
            },
            Check {
                name: "no errors",
                ok: Some(
                    counters_clean
                        && errors == 0
                        && warnings == 0
                        && self.stopped.exit_ok
                        && out.other_failures.is_empty()
                        && out.alerts_failed.is_empty(),
                ),
                detail: format!(
                    "counters {} (write errors, posts failed, frames and entries rejected, venue errors, reconnects; healthy), \
                     {errors} ERROR and {warnings} WARN log lines, exit {}, {} other failed calls at the fakes{}, {} alerts failed{}",
                    if counters_clean { "clean" } else { "NOT clean" },
                    self.stopped.status,
                    out.other_failures.len(),
                    first(&out.other_failures),
                    out.alerts_failed.len(),
                    first(&out.alerts_failed),
                ),
            },
            Check {
                name: "no 429s",
                ok: Some(
                    out.telegram_429 == 0
                        && out.discord_429 == 0
                        && zero("posts_rate_limited_total"),
                ),
                detail: format!(
                    "Telegram answered 429 {} times, Discord {} times; the bot counted {}",
                    out.telegram_429,
                    out.discord_429,
                    self.metric("posts_rate_limited_total")
                ),
            },
            Check {
                name: "every slot delivered",
                ok: Some(out.tally.ok()),
                detail: format!(
                    "{} of {} due (slot, target) posts sent exactly once; {} missing{}, {} repeated{}, \
                     {} targets where the fake and the store disagree{}",
                    out.tally.once,
                    out.tally.expected,
                    out.tally.missing.len(),
                    first(&out.tally.missing),
                    out.tally.repeated.len(),
                    first(&out.tally.repeated),
                    out.tally.mismatched.len(),
                    out.tally
                        .mismatched
                        .first()
                        .map_or(String::new(), |(p, t, a, r)| format!(
                            " (first: {p} {t} got {a}, the store says {r})"
                        )),
                ),
            },
            Check {
                name: "every event stored",
                ok: Some(
                    expected_stored == Some(out.stored)
                        && self.drained.by_exchange.iter().all(|(ex, n)| {
                            out.stored_by_exchange.get(ex).copied().unwrap_or(0) >= *n
                        }),
                ),
                detail: format!(
                    "{} distinct events sent + {} written before the start = {}; the store holds {}",
                    self.drained.distinct,
                    self.prefilled,
                    self.drained.distinct as u64 + self.prefilled,
                    out.stored,
                ),
            },
        ]
    }
}
