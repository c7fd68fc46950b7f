//! The soak's verdicts, as pure functions of what was recorded: resident-memory samples, the
//! bot's `/metrics` text, the jobs' schedules and the deliveries seen at the fakes and in the
//! store.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};

use crate::schedule::Schedule;

/// The anonymous memory's median may be this much higher in the last quarter of a run than in
/// the second before it counts as growth. A process whose memory is flat still moves by a few
/// MiB as the allocator's arenas and SQLite's page caches settle; what grows with the events
/// does not stop: a leak of 100 bytes per event at the default rate (185/s) adds about 5 MiB
/// between those quarters of a ten-minute run, and the slope below catches it.
pub const MEMORY_TOLERANCE_KIB: u64 = 8 * 1024;
/// The anonymous memory's least-squares slope over the second half of a run may be at most this
/// many KiB a minute (the same leak climbs 1.1 MiB a minute).
pub const MEMORY_SLOPE_KIB_PER_MIN: f64 = 1024.0;

/// One reading of the bot's memory, from `/proc/<pid>/status`, in KiB.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemorySample {
    /// Seconds since the bot was ready.
    pub at_secs: u64,
    /// `VmRSS`: everything resident.
    pub rss: u64,
    /// `RssAnon`: the process's own memory (heap, stacks, SQLite's page cache).
    pub anon: u64,
    /// `RssFile`: file pages mapped in (the binary, the store through SQLite's memory map).
    pub file: u64,
}

impl MemorySample {
    /// Reads `/proc/{pid}/status`; `None` when the process is gone.
    #[must_use]
    pub fn read(pid: u32, at_secs: u64) -> Option<Self> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let field = |name: &str| -> u64 {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                .unwrap_or(0)
        };
        Some(Self {
            at_secs,
            rss: field("VmRSS"),
            anon: field("RssAnon"),
            file: field("RssFile"),
        })
    }

    /// The most the process `pid` has had resident (`VmHWM`), KiB; 0 when it is gone.
    #[must_use]
    pub fn peak(pid: u32) -> u64 {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }
}

/// The samples as CSV: seconds since ready, then VmRSS, RssAnon and RssFile in KiB.
#[must_use]
pub fn memory_csv(samples: &[MemorySample]) -> String {
    let mut out = String::from("secs,vm_rss_kib,rss_anon_kib,rss_file_kib\n");
    for s in samples {
        out.push_str(&format!("{},{},{},{}\n", s.at_secs, s.rss, s.anon, s.file));
    }
    out
}

/// The median of `values` (0 when empty).
#[must_use]
pub fn median(mut values: Vec<u64>) -> u64 {
    values.sort_unstable();
    values.get(values.len() / 2).copied().unwrap_or(0)
}

/// Memory over a run, and whether it stayed flat.
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryVerdict {
    /// Median of each quarter of the run (VmRSS, RssAnon, RssFile), KiB.
    pub quarters: [[u64; 3]; 4],
    /// Median of the second half (the steady state), per field, KiB.
    pub steady: [u64; 3],
    /// The largest value seen of each field (VmRSS, RssAnon, RssFile), KiB.
    pub max: [u64; 3],
    /// Least-squares slope of RssAnon over the second half, KiB per minute.
    pub anon_slope_per_min: f64,
    /// RssAnon growth from the second quarter's median to the last quarter's, KiB (negative:
    /// it shrank).
    pub anon_growth: i64,
    /// Whether the anonymous memory stayed within [`MEMORY_TOLERANCE_KIB`] and
    /// [`MEMORY_SLOPE_KIB_PER_MIN`].
    pub flat: bool,
}

/// Judges `samples` (in time order): the anonymous memory is what a leak grows; the file pages
/// are the store read through SQLite's memory map, which grow with the file and which the
/// kernel reclaims under pressure, so they are reported but not judged.
#[must_use]
pub fn judge_memory(samples: &[MemorySample]) -> MemoryVerdict {
    let fields = |s: &MemorySample| [s.rss, s.anon, s.file];
    let n = samples.len();
    let quarter = |q: usize| &samples[q * n / 4..((q + 1) * n / 4).max(q * n / 4)];
    let medians = |part: &[MemorySample]| -> [u64; 3] {
        let mut out = [0; 3];
        for (i, slot) in out.iter_mut().enumerate() {
            *slot = median(part.iter().map(|s| fields(s)[i]).collect());
        }
        out
    };
    let quarters = [
        medians(quarter(0)),
        medians(quarter(1)),
        medians(quarter(2)),
        medians(quarter(3)),
    ];
    let steady_part = &samples[n / 2..];
    let anon_growth = i64::try_from(quarters[3][1]).unwrap_or(i64::MAX)
        - i64::try_from(quarters[1][1]).unwrap_or(i64::MAX);
    let anon_slope_per_min = slope_per_min(steady_part);
    MemoryVerdict {
        quarters,
        steady: medians(steady_part),
        max: [
            samples.iter().map(|s| s.rss).max().unwrap_or(0),
            samples.iter().map(|s| s.anon).max().unwrap_or(0),
            samples.iter().map(|s| s.file).max().unwrap_or(0),
        ],
        anon_slope_per_min,
        anon_growth,
        flat: n >= 8
            && anon_growth <= i64::try_from(MEMORY_TOLERANCE_KIB).unwrap_or(i64::MAX)
            && anon_slope_per_min <= MEMORY_SLOPE_KIB_PER_MIN,
    }
}

/// Least-squares slope of the anonymous memory over time, KiB per minute.
fn slope_per_min(samples: &[MemorySample]) -> f64 {
    let n = samples.len() as f64;
    if samples.len() < 2 {
        return 0.0;
    }
    let mean_t = samples.iter().map(|s| s.at_secs as f64).sum::<f64>() / n;
    let mean_m = samples.iter().map(|s| s.anon as f64).sum::<f64>() / n;
    let (mut cov, mut var) = (0.0, 0.0);
    for s in samples {
        let dt = s.at_secs as f64 - mean_t;
        cov += dt * (s.anon as f64 - mean_m);
        var += dt * dt;
    }
    if var == 0.0 { 0.0 } else { cov / var * 60.0 }
}

/// The sum of every sample of metric `name` (all label sets) in a Prometheus text; `None`
/// when the metric is absent.
#[must_use]
pub fn metric_sum(text: &str, name: &str) -> Option<f64> {
    let mut found = None;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some(rest) = line.strip_prefix(name) else {
            continue;
        };
        // `name{labels} value` or `name value`, but not `name_longer ...`.
        let value = match rest.as_bytes().first() {
            Some(b'{') => rest.rsplit_once(' ').map(|(_, v)| v),
            Some(b' ') => Some(rest.trim()),
            _ => None,
        };
        if let Some(v) = value.and_then(|v| v.trim().parse::<f64>().ok()) {
            *found.get_or_insert(0.0) += v;
        }
    }
    found
}

/// Every fire time of `schedule` in `(after, until]`.
#[must_use]
pub fn fires_between(
    schedule: &Schedule,
    after: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Vec<DateTime<Utc>> {
    let mut out = Vec::new();
    let mut t = after;
    while let Some(next) = schedule.next_after(t) {
        if next > until {
            break;
        }
        out.push(next);
        t = next;
    }
    out
}

/// A time to stop the bot at or after `earliest`: the first whole second with no fire of any
/// of `schedules` in the `settle` before it nor in the `margin` after it, so no slot is being
/// sent when the signal comes (looked for up to ten minutes ahead; else `earliest`).
#[must_use]
pub fn quiet_stop_time(
    schedules: &[&Schedule],
    earliest: DateTime<Utc>,
    settle: chrono::Duration,
    margin: chrono::Duration,
) -> DateTime<Utc> {
    let quiet = |t: DateTime<Utc>| {
        schedules
            .iter()
            .all(|s| s.next_after(t - settle).is_none_or(|f| f > t + margin))
    };
    (0..600)
        .map(|s| earliest + chrono::Duration::seconds(s))
        .find(|t| quiet(*t))
        .unwrap_or(earliest)
}

/// How the posts of the scheduled slots fared: per (job, fire time ms, platform, target), how
/// many times the store recorded it sent; and per (platform, target), the posts that arrived
/// at the fake platform.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SlotTally {
    /// Slots expected in the window, times their targets.
    pub expected: usize,
    /// Expected (slot, target) pairs recorded sent exactly once.
    pub once: usize,
    /// Expected pairs never recorded sent (with what the store says about them).
    pub missing: Vec<String>,
    /// Pairs (in the window or not) recorded sent more than once.
    pub repeated: Vec<String>,
    /// Targets where the fake received a different number of posts than the store recorded
    /// sent: (platform, target, arrived, recorded).
    pub mismatched: Vec<(String, String, usize, usize)>,
}

impl SlotTally {
    /// True when every expected post arrived once and nothing arrived twice.
    #[must_use]
    pub fn ok(&self) -> bool {
        self.expected > 0
            && self.once == self.expected
            && self.missing.is_empty()
            && self.repeated.is_empty()
            && self.mismatched.is_empty()
    }
}

/// A slot due in the run: a job's fire time and where it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueSlot {
    /// The job's name.
    pub job: String,
    /// The fire time, ms.
    pub fire_ms: i64,
    /// (platform, chat or channel id).
    pub targets: Vec<(String, String)>,
}

/// A delivery record reduced to what the tally needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// The job's name (from the slot id `job/{name}:...`).
    pub job: String,
    /// The slot's fire time, ms.
    pub fire_ms: i64,
    /// `telegram` or `discord`.
    pub platform: String,
    /// Chat or channel id.
    pub target: String,
    /// The stored state's name (`sent`, `not_sent`, ...).
    pub state: String,
}

/// Tallies `records` against the `expected` slots (job name, fire time ms, targets as
/// (platform, id)) and the posts that arrived at the fakes per (platform, target).
#[must_use]
pub fn tally_slots(
    expected: &[DueSlot],
    records: &[Delivered],
    arrived: &HashMap<(String, String), usize>,
) -> SlotTally {
    let mut sent: BTreeMap<(&str, i64, &str, &str), usize> = BTreeMap::new();
    let mut other: HashMap<(&str, i64, &str, &str), &str> = HashMap::new();
    for r in records {
        let key = (
            r.job.as_str(),
            r.fire_ms,
            r.platform.as_str(),
            r.target.as_str(),
        );
        if r.state == "sent" {
            *sent.entry(key).or_default() += 1;
        } else {
            other.insert(key, r.state.as_str());
        }
    }
    let mut tally = SlotTally::default();
    for slot in expected {
        let (job, fire_ms) = (&slot.job, slot.fire_ms);
        for (platform, target) in &slot.targets {
            tally.expected += 1;
            let key = (job.as_str(), fire_ms, platform.as_str(), target.as_str());
            match sent.get(&key) {
                Some(1) => tally.once += 1,
                Some(_) => {}
                None => tally.missing.push(format!(
                    "{job} at {} to {platform} {target} ({})",
                    fmt_ms(fire_ms),
                    other.get(&key).copied().unwrap_or("no record")
                )),
            }
        }
    }
    let mut recorded: BTreeMap<(String, String), usize> = BTreeMap::new();
    for ((job, fire_ms, platform, target), n) in &sent {
        if *n > 1 {
            tally.repeated.push(format!(
                "{job} at {} to {platform} {target}: {n} times",
                fmt_ms(*fire_ms)
            ));
        }
        *recorded
            .entry(((*platform).to_owned(), (*target).to_owned()))
            .or_default() += n;
    }
    let targets: std::collections::BTreeSet<&(String, String)> =
        recorded.keys().chain(arrived.keys()).collect();
    for key in targets {
        let at_fake = arrived.get(key).copied().unwrap_or(0);
        let in_store = recorded.get(key).copied().unwrap_or(0);
        if at_fake != in_store {
            tally
                .mismatched
                .push((key.0.clone(), key.1.clone(), at_fake, in_store));
        }
    }
    tally
}

/// The log's lines at `level` (`ERROR`, `WARN`) and the distinct messages among them (the
/// sentence after the target, without fields), most frequent first.
#[must_use]
pub fn log_lines(logs: &str, level: &str) -> (usize, Vec<(usize, String)>) {
    let mut n = 0;
    let mut messages: HashMap<String, usize> = HashMap::new();
    for line in logs.lines() {
        let mut words = line.split_whitespace();
        let _time = words.next();
        if words.next() != Some(level) {
            continue;
        }
        n += 1;
        let text = words.collect::<Vec<_>>().join(" ");
        // "target: Sentence. field=value ...": keep the sentence.
        let message = text
            .split_once(": ")
            .map_or(text.as_str(), |(_target, msg)| {
                let end = msg.find(['.', '?', '!']).map_or(msg.len(), |i| i + 1);
                &msg[..end]
            });
        *messages.entry(message.to_owned()).or_default() += 1;
    }
    let mut list: Vec<(usize, String)> = messages.into_iter().map(|(m, c)| (c, m)).collect();
    list.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    (n, list)
}

/// How late each large-liquidation alert went out, in seconds: from the event's time (in its
/// key, `large:{exchange}|{symbol}|{ms}|...`) to the log line `Alert.` that starts sending it.
#[must_use]
pub fn alert_lags(logs: &str) -> Vec<f64> {
    logs.lines()
        .filter(|l| l.contains("Alert. alert=alert:large:"))
        .filter_map(|l| {
            let logged = DateTime::parse_from_rfc3339(l.split_whitespace().next()?).ok()?;
            let key = l.split("alert=alert:large:").nth(1)?;
            let event_ms: i64 = key.split('|').nth(2)?.parse().ok()?;
            Some((logged.timestamp_millis() - event_ms) as f64 / 1000.0)
        })
        .collect()
}

/// A fire time as `HH:MM:SS` UTC.
fn fmt_ms(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .map_or_else(|| ms.to_string(), |t| t.format("%H:%M:%S").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(at_secs: u64, anon: u64) -> MemorySample {
        MemorySample {
            at_secs,
            rss: anon + 10_000,
            anon,
            file: 10_000,
        }
    }

    #[test]
    fn memory_that_settles_is_flat_and_memory_that_climbs_is_not() {
        let settles: Vec<_> = (0..40)
            .map(|i| sample(i * 15, 40_000 + (i.min(8) * 1_000)))
            .collect();
        let verdict = judge_memory(&settles);
        assert!(verdict.flat, "{verdict:?}");
        assert_eq!(verdict.quarters[3][1], 48_000);
        assert_eq!(verdict.max, [58_000, 48_000, 10_000]);

        // 2 MiB a minute: within the quarter tolerance over 4 minutes, not within the slope.
        let climbs: Vec<_> = (0..16).map(|i| sample(i * 15, 40_000 + i * 512)).collect();
        let verdict = judge_memory(&climbs);
        assert!(!verdict.flat, "{verdict:?}");
        assert!((verdict.anon_slope_per_min - 2_048.0).abs() < 1.0);
    }

    #[test]
    fn metric_sum_adds_every_label_set_and_ignores_longer_names() {
        let text = "# HELP liqbot_posts_failed_total x\n\
                    liqbot_posts_failed_total{platform=\"telegram\"} 2\n\
                    liqbot_posts_failed_total{platform=\"discord\"} 1\n\
                    liqbot_posts_failed_total_other 9\n\
                    liqbot_healthy 1\n";
        assert_eq!(metric_sum(text, "liqbot_posts_failed_total"), Some(3.0));
        assert_eq!(metric_sum(text, "liqbot_healthy"), Some(1.0));
        assert_eq!(metric_sum(text, "liqbot_absent"), None);
    }

    #[test]
    fn the_stop_time_avoids_the_settle_before_and_the_margin_after_a_fire() {
        let every_ten = Schedule::parse("*/10 * * * * *", chrono_tz::UTC).unwrap();
        let at = |s: i64| DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap();
        // 1_700_000_000 is a multiple of ten: fires at 0, 10, 20, ...
        let stop = quiet_stop_time(
            &[&every_ten],
            at(1),
            chrono::Duration::seconds(6),
            chrono::Duration::seconds(2),
        );
        // The fire at 0 is settled by 6; the next, at 10, is more than 2 s after.
        assert_eq!(stop, at(6));
        assert_eq!(
            fires_between(&every_ten, at(0), at(30)),
            vec![at(10), at(20), at(30)]
        );
    }

    #[test]
    fn log_lines_count_a_level_and_group_its_messages() {
        let logs = "2026-01-01T00:00:00.000001Z  WARN liqbot::alerts: Claiming an alert failed; not sent. alert=x\n\
                    2026-01-01T00:00:01.000001Z  INFO liqbot::bot: Bot started. sources=4\n\
                    2026-01-01T00:00:02.000001Z  WARN liqbot::alerts: Claiming an alert failed; not sent. alert=y\n\
                    2026-01-01T00:00:03.000001Z ERROR liqbot::ingest: Could not write a batch. error=disk\n";
        let (warnings, messages) = log_lines(logs, "WARN");
        assert_eq!(warnings, 2);
        assert_eq!(
            messages,
            vec![(2, "Claiming an alert failed; not sent.".to_owned())]
        );
        assert_eq!(log_lines(logs, "ERROR").0, 1);
        assert_eq!(log_lines(logs, "INFO").0, 1);
    }

    #[test]
    fn alert_lags_measure_from_the_event_to_the_log_line() {
        let logs = "2026-01-01T00:00:10.500000Z  INFO liqbot::alerts: Alert. \
                    alert=alert:large:bybit|BTCUSDT|1767225608000|long|95000|2.5 targets=2 edits=0\n\
                    2026-01-01T00:00:11.000000Z  INFO liqbot::alerts: Alert. alert=alert:cascade:all:1 targets=2\n";
        assert_eq!(alert_lags(logs), vec![2.5]);
    }

    #[test]
    fn the_tally_names_missing_repeated_and_mismatched_posts() {
        let targets = vec![
            ("telegram".to_owned(), "-1".to_owned()),
            ("discord".to_owned(), "5".to_owned()),
        ];
        let slot = |fire_ms, targets| DueSlot {
            job: "summary".to_owned(),
            fire_ms,
            targets,
        };
        let expected = vec![slot(60_000, targets.clone()), slot(120_000, targets)];
        let record = |fire_ms, platform: &str, target: &str, state: &str| Delivered {
            job: "summary".to_owned(),
            fire_ms,
            platform: platform.to_owned(),
            target: target.to_owned(),
            state: state.to_owned(),
        };
        let records = vec![
            record(60_000, "telegram", "-1", "sent"),
            record(60_000, "discord", "5", "sent"),
            record(120_000, "telegram", "-1", "sent"),
            record(120_000, "discord", "5", "not_sent"),
        ];
        let mut arrived = HashMap::new();
        arrived.insert(("telegram".to_owned(), "-1".to_owned()), 2);
        arrived.insert(("discord".to_owned(), "5".to_owned()), 1);
        let tally = tally_slots(&expected, &records, &arrived);
        assert_eq!(tally.expected, 4);
        assert_eq!(tally.once, 3);
        assert_eq!(
            tally.missing,
            vec!["summary at 00:02:00 to discord 5 (not_sent)".to_owned()]
        );
        assert!(tally.repeated.is_empty() && tally.mismatched.is_empty());
        assert!(!tally.ok());

        arrived.insert(("telegram".to_owned(), "-1".to_owned()), 3);
        let tally = tally_slots(&expected, &records, &arrived);
        assert_eq!(
            tally.mismatched,
            vec![("telegram".to_owned(), "-1".to_owned(), 3, 2)]
        );
    }
}
