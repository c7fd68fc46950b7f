//! `[scheduler]` and `[[jobs]]`: posts on a schedule to fixed chats and channels, next to the
//! subscriptions users create with `/subscribe`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::analytics::Window;
use crate::render::text::PostKind;
use crate::schedule::{Schedule, ScheduleError};

/// `[scheduler]`: how scheduled posts are delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SchedulerConfig {
    /// A slot missed while the bot was down is posted at start if it is at most this many
    /// seconds old; an older one is recorded as skipped and logged.
    pub grace_secs: u64,
    /// At SIGTERM, sends already started get this many seconds to finish; the rest are
    /// recorded as not sent.
    pub shutdown_secs: u64,
    /// A slot's claim is renewed every third of this while its instance runs; a claim not
    /// renewed for this long belongs to an instance that died (crash, `kill -9`), and its
    /// unsent targets are sent by another instance or the next start.
    pub lease_secs: u64,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            grace_secs: 900,
            shutdown_secs: 10,
            lease_secs: 60,
        }
    }
}

/// One `[[jobs]]` entry: a post kind on a schedule to fixed targets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobConfig {
    /// A unique name; delivery records are kept under it, so renaming a job starts afresh.
    pub name: String,
    /// `summary`, `top` (a summary of all coins), `heatmap`, `levels` or `fng`.
    pub kind: String,
    /// One post per coin; empty posts all coins (summary) or BTC (heatmap, levels).
    #[serde(default)]
    pub coins: Vec<String>,
    /// The window a summary or heatmap covers; empty uses `summary.default_window`.
    #[serde(default)]
    pub window: String,
    /// A preset (`1h`, `4h`, `hourly`, `daily 08:00`), a 5-field crontab line or a 6/7-field
    /// cron line with seconds first.
    pub schedule: String,
    /// The time zone the schedule is read in; empty uses `summary.time_zone`.
    #[serde(default)]
    pub time_zone: String,
    /// Telegram chat ids to post to (`-100...` for channels and supergroups).
    #[serde(default)]
    pub telegram: Vec<String>,
    /// Discord channel ids to post to.
    #[serde(default)]
    pub discord: Vec<String>,
}

impl JobConfig {
    /// The post kind (`top` is a summary of all coins).
    ///
    /// # Errors
    /// The kind is not one of the job kinds.
    pub fn post_kind(&self) -> Result<PostKind, String> {
        match self.kind.to_ascii_lowercase().as_str() {
            "summary" | "top" | "liq" => Ok(PostKind::Summary),
            "heatmap" => Ok(PostKind::Heatmap),
            "levels" => Ok(PostKind::Levels),
            "fng" => Ok(PostKind::FearGreed),
            other => Err(format!(
                "{other:?} is not a job kind; use summary, top, heatmap, levels or fng"
            )),
        }
    }

    /// The window, or `default` when none is set.
    ///
    /// # Errors
    /// The window is not one of `1h 4h 12h 24h 7d`.
    pub fn window_or(&self, default: Window) -> Result<Window, String> {
        if self.window.is_empty() {
            return Ok(default);
        }
        self.window
            .parse()
            .map_err(|e: crate::analytics::window::UnknownWindow| e.to_string())
    }

    /// The schedule in the job's time zone, else `default`.
    ///
    /// # Errors
    /// The time zone or the schedule does not parse.
    pub fn schedule_in(&self, default: chrono_tz::Tz) -> Result<Schedule, ScheduleError> {
        let tz = if self.time_zone.is_empty() {
            default
        } else {
            self.time_zone.parse().map_err(|_| {
                ScheduleError::new(format!(
                    "{:?} is not an IANA time zone; use a name such as \"Europe/Berlin\"",
                    self.time_zone
                ))
            })?
        };
        Schedule::parse(&self.schedule, tz)
    }

    /// The coins to post, upper case; `[None]` when the job names none.
    #[must_use]
    pub fn coin_list(&self) -> Vec<Option<String>> {
        if self.coins.is_empty() {
            vec![None]
        } else {
            self.coins
                .iter()
                .map(|c| Some(c.trim().to_ascii_uppercase()))
                .collect()
        }
    }
}

/// `[alerts]`: posts as liquidations arrive, to `telegram` and `discord` and to every chat that
/// subscribed to `alert`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// One liquidation of at least this many USD is an alert (coins not in
    /// `large_usd_by_coin`).
    pub large_usd: f64,
    /// Per-coin thresholds for a single liquidation.
    pub large_usd_by_coin: BTreeMap<String, f64>,
    /// A cascade: at least this many USD liquidated within `cascade_minutes`.
    pub cascade_usd: f64,
    /// The cascade window, minutes.
    pub cascade_minutes: u64,
    /// Coins watched for cascades one by one; empty watches all coins together.
    pub cascade_coins: Vec<String>,
    /// A running cascade is posted again when it has grown by this many percent since it was
    /// last posted.
    pub update_step_pct: f64,
    /// After a cascade ends, a new one for the same coins is not posted for this many minutes.
    pub cooldown_minutes: u64,
    /// Telegram chat ids that get every alert.
    pub telegram: Vec<String>,
    /// Discord channel ids that get every alert.
    pub discord: Vec<String>,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        Self {
            large_usd: 250_000.0,
            large_usd_by_coin: BTreeMap::from([("BTC".to_owned(), 1_000_000.0)]),
            cascade_usd: 50_000_000.0,
            cascade_minutes: 15,
            cascade_coins: Vec::new(),
            update_step_pct: 25.0,
            cooldown_minutes: 60,
            telegram: Vec::new(),
            discord: Vec::new(),
        }
    }
}
