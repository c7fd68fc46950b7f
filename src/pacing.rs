//! Send pacing and command rate limits for the chat platforms.
//!
//! Chat platforms throttle bots, and a bot that ignores the throttle gets 429s and, on Telegram,
//! eventually a temporary ban. This module is the pure core that decides *when* something may
//! happen; the adapters only sleep for the answer and send.
//!
//! - [`SendPacer`] spaces outgoing messages. Telegram's Bot FAQ ("My bot is hitting limits, how
//!   do I avoid this?") says: avoid sending more than about one message per second to a single
//!   chat, no more than 20 messages per minute to the same group, and about 30 messages per
//!   second in bulk ([`PacingLimits::telegram`]). Discord documents per-route buckets in its
//!   "Rate Limits" page (the `X-RateLimit-*` headers; message creation is 5 per 5 s per channel
//!   in practice) and a global limit of 50 requests per second per bot
//!   ([`PacingLimits::discord`]). When a platform answers 429 with `retry_after` anyway,
//!   [`SendPacer::retry_after`] blocks the target (or everything) until the wait is over.
//! - [`RateLimiter`] keeps one user from running commands faster than `max` per period, with
//!   [`cooldown_text`] as the reply they see.
//! - [`classify_telegram_error`] and [`classify_discord`] turn a failed send into a
//!   [`SendFailure`]: wait and retry, retry with backoff, or give up on that target. Adapters
//!   retry transient failures with [`crate::sources::ws::Backoff`], the same jittered
//!   exponential backoff the exchange streams use.
//!
//! Time is passed in as `now: Duration` since an arbitrary origin the caller fixes (typically a
//! `tokio::time::Instant` taken at start-up), so every decision is a plain function of its
//! inputs and tests use made-up instants.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

/// A chat, group or channel messages are sent to: a Telegram chat id or a Discord channel id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TargetId(pub i64);

impl From<i64> for TargetId {
    fn from(id: i64) -> Self {
        Self(id)
    }
}

/// At most `count` sends in any sliding window of length `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacingRule {
    /// Sends allowed per window; 0 behaves as 1.
    pub count: u32,
    /// The window's length.
    pub window: Duration,
}

impl PacingRule {
    /// `count` sends per `window`.
    #[must_use]
    pub const fn new(count: u32, window: Duration) -> Self {
        Self { count, window }
    }
}

/// The limits a [`SendPacer`] enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacingLimits {
    /// Applies to every target on its own.
    pub per_chat: PacingRule,
    /// Applies additionally to group chats, if the platform has such a rule.
    pub per_group: Option<PacingRule>,
    /// Applies to all sends of the bot together.
    pub global: PacingRule,
}

impl PacingLimits {
    /// Telegram: 1 per second per chat, 20 per minute per group, 30 per second overall.
    #[must_use]
    pub const fn telegram() -> Self {
        Self {
            per_chat: PacingRule::new(1, Duration::from_secs(1)),
            per_group: Some(PacingRule::new(20, Duration::from_secs(60))),
            global: PacingRule::new(30, Duration::from_secs(1)),
        }
    }

    /// Discord: 5 per 5 seconds per channel, 50 per second overall.
    #[must_use]
    pub const fn discord() -> Self {
        Self {
            per_chat: PacingRule::new(5, Duration::from_secs(5)),
            per_group: None,
            global: PacingRule::new(50, Duration::from_secs(1)),
        }
    }
}

/// Send times under one rule, sorted; times before the current window are pruned.
#[derive(Debug, Default)]
struct SlidingLog {
    times: VecDeque<Duration>,
}

impl SlidingLog {
    /// Drops sends that can no longer affect a send at `now` or later.
    fn prune(&mut self, rule: PacingRule, now: Duration) {
        while self.times.front().is_some_and(|&t| t + rule.window <= now) {
            self.times.pop_front();
        }
    }

    /// The earliest time at or after `from` at which one more send keeps every window of
    /// `rule.window` at no more than `rule.count` sends.
    fn earliest(&self, rule: PacingRule, from: Duration) -> Duration {
        let count = rule.count.max(1) as usize;
        if self.times.len() < count {
            return from;
        }
        // A send at `t` breaks the rule iff it fits in one window with `count` consecutive
        // logged sends `s[i..i + count]`, i.e. `s[i + count - 1] - window < t < s[i] + window`.
        // Reservations can lie in the future, so jump past every such interval that holds `t`.
        let mut t = from;
        loop {
            let blocked_until = (0..=self.times.len() - count)
                .filter(|&i| t + rule.window > self.times[i + count - 1])
                .map(|i| self.times[i] + rule.window)
                .filter(|&end| t < end)
                .max();
            match blocked_until {
                Some(end) => t = end,
                None => return t,
            }
        }
    }

    fn record(&mut self, at: Duration) {
        let index = self.times.partition_point(|&t| t <= at);
        self.times.insert(index, at);
    }

    fn is_idle(&self, rule: PacingRule, now: Duration) -> bool {
        self.times.back().is_none_or(|&t| t + rule.window <= now)
    }
}

/// What the pacer remembers about one target.
#[derive(Debug, Default)]
struct TargetState {
    chat: SlidingLog,
    group: SlidingLog,
    blocked_until: Duration,
}

/// Decides when the next message to a target may go out (see the module docs for the limits).
#[derive(Debug)]
pub struct SendPacer {
    limits: PacingLimits,
    targets: HashMap<TargetId, TargetState>,
    global: SlidingLog,
    /// The global sends again, under one send per `global.window / global.count` (and a margin,
    /// see [`Self::spread_rule`]): the global
    /// limit is spread evenly rather than spent in bursts, which keeps few sends on the wire
    /// at once (each can be in doubt after a crash) and stays clear of the platform's limit.
    spread: SlidingLog,
    global_blocked_until: Duration,
}

impl SendPacer {
    /// A pacer enforcing `limits`, with nothing sent yet.
    #[must_use]
    pub fn new(limits: PacingLimits) -> Self {
        Self {
            limits,
            targets: HashMap::new(),
            global: SlidingLog::default(),
            spread: SlidingLog::default(),
            global_blocked_until: Duration::ZERO,
        }
    }

    /// One send per `global.window / global.count`, plus a tenth: a send leaves a little after
    /// its reserved time (timers, a busy core), and the margin keeps late sends from bunching
    /// into more than `global.count` in a window as the platform measures it.
    fn spread_rule(&self) -> PacingRule {
        let global = self.limits.global;
        PacingRule::new(1, global.window * 10 / (global.count.max(1) * 9))
    }

    /// The limits this pacer enforces.
    #[must_use]
    pub fn limits(&self) -> PacingLimits {
        self.limits
    }

    /// Reserves a send to `target` and returns how long to wait before sending; the send is
    /// recorded at `now + wait`, so the caller must send after sleeping exactly that long.
    pub fn reserve(&mut self, target: TargetId, is_group: bool, now: Duration) -> Duration {
        let limits = self.limits;
        let group_rule = limits.per_group.filter(|_| is_group);
        let spread = self.spread_rule();
        self.global.prune(limits.global, now);
        self.spread.prune(spread, now);
        let state = self.targets.entry(target).or_default();
        state.chat.prune(limits.per_chat, now);
        if let Some(rule) = group_rule {
            state.group.prune(rule, now);
        }
        // Each rule can only push the time later; stop when all of them agree.
        let mut at = now.max(self.global_blocked_until).max(state.blocked_until);
        loop {
            let mut next = state.chat.earliest(limits.per_chat, at);
            if let Some(rule) = group_rule {
                next = state.group.earliest(rule, next);
            }
            next = self.global.earliest(limits.global, next);
            next = self.spread.earliest(spread, next);
            if next == at {
                break;
            }
            at = next;
        }
        state.chat.record(at);
        if group_rule.is_some() {
            state.group.record(at);
        }
        self.global.record(at);
        self.spread.record(at);
        at - now
    }

    /// Handles a 429 with `retry_after`: blocks `target`, or every target when `None` (a global
    /// rate limit), until `now + wait`. Every later [`Self::reserve`] waits it out.
    pub fn retry_after(&mut self, target: Option<TargetId>, wait: Duration, now: Duration) {
        let until = now + wait;
        let blocked_until = match target {
            Some(target) => &mut self.targets.entry(target).or_default().blocked_until,
            None => &mut self.global_blocked_until,
        };
        *blocked_until = (*blocked_until).max(until);
    }

    /// Forgets targets with no send inside their windows and no block left, bounding memory
    /// to the targets that are active.
    pub fn forget_idle(&mut self, now: Duration) {
        let limits = self.limits;
        self.targets.retain(|_, state| {
            let group_idle = limits
                .per_group
                .is_none_or(|rule| state.group.is_idle(rule, now));
            !(state.chat.is_idle(limits.per_chat, now) && group_idle && state.blocked_until <= now)
        });
        self.global.prune(limits.global, now);
        let spread = self.spread_rule();
        self.spread.prune(spread, now);
    }

    /// How many targets the pacer currently remembers.
    #[must_use]
    pub fn tracked(&self) -> usize {
        self.targets.len()
    }
}

/// Limits how often one user may run commands: at most `max` per sliding `per`.
#[derive(Debug)]
pub struct RateLimiter {
    max: u32,
    per: Duration,
    users: HashMap<u64, VecDeque<Duration>>,
    last_sweep: Duration,
}

impl RateLimiter {
    /// A limiter allowing `max` commands per `per` to each user.
    #[must_use]
    pub fn new(max: u32, per: Duration) -> Self {
        Self {
            max,
            per,
            users: HashMap::new(),
            last_sweep: Duration::ZERO,
        }
    }

    /// Records a command by `user` at `now` if allowed, or returns how long until it would be.
    /// Refused attempts are not counted, so hammering does not extend the wait.
    pub fn check(&mut self, user: u64, now: Duration) -> Result<(), Duration> {
        // Sweep idle users at most once per period so memory tracks active users only.
        if now >= self.last_sweep + self.per {
            self.forget_idle(now);
            self.last_sweep = now;
        }
        if self.max == 0 {
            return Err(self.per);
        }
        let per = self.per;
        let times = self.users.entry(user).or_default();
        while times.front().is_some_and(|&t| t + per <= now) {
            times.pop_front();
        }
        if times.len() < self.max as usize {
            times.push_back(now);
            return Ok(());
        }
        let oldest = times.front().copied().unwrap_or(now);
        Err((oldest + per).saturating_sub(now))
    }

    /// Forgets users whose last allowed command has left the window.
    pub fn forget_idle(&mut self, now: Duration) {
        let per = self.per;
        self.users
            .retain(|_, times| times.back().is_some_and(|&t| t + per > now));
    }

    /// How many users the limiter currently remembers.
    #[must_use]
    pub fn tracked(&self) -> usize {
        self.users.len()
    }
}

/// The reply a user sees when [`RateLimiter::check`] refuses them; the wait rounds up to whole
/// seconds so "0 s" never appears.
#[must_use]
pub fn cooldown_text(wait: Duration) -> String {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    format!("You're asking quickly; try again in {} s.", secs.max(1))
}

/// What to do about a message the platform did not accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SendFailure {
    /// Rate limited (429): wait this long, then send again (see [`SendPacer::retry_after`]).
    #[error("rate limited, retry after {0:?}")]
    RetryAfter(Duration),
    /// Server error, timeout or lost connection: retry with [`crate::sources::ws::Backoff`].
    #[error("transient send failure")]
    Transient,
    /// The target is gone for the bot (kicked, blocked, chat not found, no rights): retrying
    /// will not help; mark the target inactive and tell the operator.
    #[error("the bot lost access to the target")]
    Permanent,
    /// This message was refused (bad request, bad token): retrying it will not help, but the
    /// target itself is fine; drop the message and tell the operator.
    #[error("the message was rejected")]
    Rejected,
}

/// Used when a 429 arrives without a usable `retry_after`.
const FALLBACK_RETRY_AFTER: Duration = Duration::from_secs(5);

/// Telegram descriptions meaning the bot can never send to that chat as things stand.
const TELEGRAM_PERMANENT: [&str; 8] = [
    "bot was kicked",
    "bot was blocked by the user",
    "not enough rights",
    "have no rights",
    "chat not found",
    "chat_write_forbidden",
    "bot is not a member",
    "user is deactivated",
];

/// [`classify_telegram_error`] without a parsed `retry_after` (taken from the description's
/// "retry after N" when present).
#[must_use]
pub fn classify_telegram(status: Option<u16>, description: &str) -> SendFailure {
    classify_telegram_error(status, description, None)
}

/// Classifies a failed Telegram call by its HTTP status and its description, not by the
/// client's Rust error type: teloxide reports a 403 "bot was kicked" as an unknown API error and
/// drops the status. Without a status (`None`), an API error's description still names it
/// (`Bad Request: ...`, `Forbidden: ...`); a network error has neither and is transient.
#[must_use]
pub fn classify_telegram_error(
    status: Option<u16>,
    description: &str,
    retry_after: Option<u64>,
) -> SendFailure {
    let text = description.to_ascii_lowercase();
    if TELEGRAM_PERMANENT
        .iter()
        .any(|phrase| text.contains(phrase))
    {
        return SendFailure::Permanent;
    }
    let rate_limited = status == Some(429) || text.contains("too many requests");
    if rate_limited {
        let wait = retry_after
            .or_else(|| parse_retry_after(&text))
            .map_or(FALLBACK_RETRY_AFTER, Duration::from_secs);
        return SendFailure::RetryAfter(wait);
    }
    match status.or_else(|| status_from_description(&text)) {
        Some(403) => SendFailure::Permanent,
        Some(400..=499) => SendFailure::Rejected,
        _ => SendFailure::Transient,
    }
}

/// The status an API error's description starts with: `Bad Request: ...` is 400.
fn status_from_description(text: &str) -> Option<u16> {
    const PREFIXES: [(&str, u16); 5] = [
        ("bad request", 400),
        ("unauthorized", 401),
        ("forbidden", 403),
        ("not found", 404),
        ("conflict", 409),
    ];
    PREFIXES
        .iter()
        .find(|(prefix, _)| text.starts_with(prefix))
        .map(|&(_, status)| status)
}

/// The N in Telegram's "Too Many Requests: retry after N".
fn parse_retry_after(text: &str) -> Option<u64> {
    let (_, rest) = text.split_once("retry after")?;
    let digits: String = rest
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// Discord JSON error codes meaning the bot cannot post to that channel.
const DISCORD_PERMANENT_CODES: [u64; 4] = [
    10003, // Unknown Channel
    50001, // Missing Access
    50007, // Cannot send messages to this user
    50013, // Missing Permissions
];

/// Classifies a failed Discord call by HTTP status (`None` for network errors), JSON error
/// `code` and the 429 body's `retry_after` in seconds.
#[must_use]
pub fn classify_discord(
    status: Option<u16>,
    code: Option<u64>,
    retry_after: Option<f64>,
) -> SendFailure {
    if status == Some(429) {
        let wait = retry_after
            .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
            .unwrap_or(FALLBACK_RETRY_AFTER);
        return SendFailure::RetryAfter(wait);
    }
    if code.is_some_and(|code| DISCORD_PERMANENT_CODES.contains(&code)) {
        return SendFailure::Permanent;
    }
    match status {
        Some(403 | 404) => SendFailure::Permanent,
        Some(400..=499) => SendFailure::Rejected,
        _ => SendFailure::Transient,
    }
}
