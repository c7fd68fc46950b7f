//! Scheduled posts: the `[[jobs]]` of `bot.toml` and the subscriptions users create with
//! `/subscribe`. Each slot (what to post, at which fire time) is claimed in the store by one
//! instance, rendered once, and handed to the outlet of every target's platform; each target's
//! outcome is recorded, so:
//!
//! - a restart or a second instance sharing the store never sends a slot twice;
//! - a slot that fell due while no instance was running is sent once at start if it is at most
//!   `scheduler.grace_secs` old, and otherwise recorded as skipped and logged;
//! - a target left unsent by a shutdown (or a crash: targets are recorded `not_sent` before any
//!   send starts) is sent again by the next sweep, within the same grace.
//!
//! Time comes in as an argument ([`SchedulerRun::tick`], [`SchedulerRun::sweep`]), so tests
//! drive the scheduler with any clock; [`Scheduler::spawn`] drives it with the real one.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::analytics::Window;
use crate::config::Config;
use crate::delivery::{DeliveryError, Outlet, with_before_first_send};
use crate::pollers::RunningPollers;
use crate::render::posts::{PostBundle, RenderRequest, Renderer};
use crate::render::text::PostKind;
use crate::schedule::Schedule;
use crate::store::{
    DeliveryRecord, DeliveryState, DeliveryStore as _, SqlStore, Subscription,
    SubscriptionStore as _,
};

/// How often the scheduler looks for due slots.
pub const TICK: Duration = Duration::from_millis(500);
/// How often it looks for targets left unsent, at most (and at least once per lease).
const SWEEP_EVERY: Duration = Duration::from_secs(30);
/// The detail of a target whose instance died between sending it and recording the answer.
pub const IN_DOUBT: &str = "the bot stopped while sending; not sent again, as the chat may have it";
/// Fire times kept per schedule and tick, at most (after a long downtime).
const MAX_FIRES: usize = 1_000;
/// Fire times walked per schedule and tick, at most.
const MAX_STEPS: usize = 200_000;
/// How far back a tick looks for missed slots (older ones are past any sensible grace and
/// are neither sent nor recorded).
const LOOKBACK: chrono::Duration = chrono::Duration::days(1);
/// How often the checkpoint is stored when no slot fired.
const CHECKPOINT_EVERY: chrono::Duration = chrono::Duration::seconds(5);

/// What a slot posts.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SlotKey {
    /// What to post.
    pub kind: PostKind,
    /// One coin, or `None` for the kind's default (all coins, or BTC for charts of one).
    pub coin: Option<String>,
    /// The window.
    pub window: Window,
    /// The fire time; the post shows the data up to it.
    pub at: DateTime<Utc>,
}

impl SlotKey {
    /// The id a slot is claimed and recorded under: `{source}:{kind}:{coin|*}:{window}:{ms}`,
    /// where the source is `job/{name}` or `sub`.
    #[must_use]
    pub fn id(&self, source: &str) -> String {
        format!(
            "{source}:{}:{}:{}:{}",
            self.kind.as_str(),
            self.coin.as_deref().unwrap_or("*"),
            self.window.label(),
            self.at.timestamp_millis()
        )
    }

    /// The key back from an id made by [`Self::id`].
    #[must_use]
    pub fn from_id(id: &str) -> Option<Self> {
        let mut parts = id.rsplitn(5, ':');
        let ms: i64 = parts.next()?.parse().ok()?;
        let window = parts.next()?.parse().ok()?;
        let coin = parts.next()?;
        let kind = parts.next()?.parse().ok()?;
        parts.next()?;
        Some(Self {
            kind,
            coin: (coin != "*").then(|| coin.to_owned()),
            window,
            at: DateTime::from_timestamp_millis(ms)?,
        })
    }
}

/// A slot to deliver: its id, what it posts, and its targets (platform, chat id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotPlan {
    /// The id it is claimed under.
    pub id: String,
    /// What it posts.
    pub key: SlotKey,
    /// Where: (platform, chat or channel id).
    pub targets: Vec<(String, String)>,
}

/// A `[[jobs]]` entry ready to schedule: one per coin.
#[derive(Debug, Clone)]
pub struct Job {
    /// The job's name.
    pub name: String,
    /// What it posts.
    pub kind: PostKind,
    /// The coin, or the kind's default.
    pub coin: Option<String>,
    /// The window.
    pub window: Window,
    /// When.
    pub schedule: Schedule,
    /// Where: (platform, chat or channel id).
    pub targets: Vec<(String, String)>,
}

/// The jobs of a validated config, one per coin.
///
/// # Errors
/// A job that does not validate (a loaded config never has one).
pub fn jobs(config: &Config) -> anyhow::Result<Vec<Job>> {
    let mut out = Vec::new();
    for job in &config.jobs {
        let kind = job.post_kind().map_err(anyhow::Error::msg)?;
        let window = job
            .window_or(config.summary.default_window())
            .map_err(anyhow::Error::msg)?;
        let schedule = job.schedule_in(config.summary.tz())?;
        let targets: Vec<(String, String)> = job
            .telegram
            .iter()
            .map(|t| ("telegram".to_owned(), t.clone()))
            .chain(
                job.discord
                    .iter()
                    .map(|t| ("discord".to_owned(), t.clone())),
            )
            .collect();
        for coin in job.coin_list() {
            out.push(Job {
                name: job.name.clone(),
                kind,
                coin,
                window,
                schedule: schedule.clone(),
                targets: targets.clone(),
            });
        }
    }
    Ok(out)
}

/// What `liqbot check-config` prints about the jobs: each job's targets and its next three
/// fire times in its time zone.
///
/// # Errors
/// When a job does not validate (a loaded config never has one).
pub fn jobs_text(config: &Config, now: DateTime<Utc>) -> anyhow::Result<String> {
    if config.jobs.is_empty() {
        return Ok("\njobs: none (posts go only to /subscribe'd chats)\n".to_owned());
    }
    let mut out = format!("\njobs: {}\n", config.jobs.len());
    for job in &config.jobs {
        let schedule = job.schedule_in(config.summary.tz())?;
        let next: Vec<String> = schedule
            .upcoming(now, 3)
            .iter()
            .map(|t| t.format("%a %Y-%m-%d %H:%M:%S %Z").to_string())
            .collect();
        out.push_str(&format!(
            "  {}: {} {} every `{}` ({}) to {} Telegram and {} Discord targets; next: {}\n",
            job.name,
            job.kind,
            if job.coins.is_empty() {
                "all coins".to_owned()
            } else {
                job.coins.join(", ")
            },
            schedule.text(),
            schedule.tz(),
            job.telegram.len(),
            job.discord.len(),
            next.join(", ")
        ));
    }
    Ok(out)
}

/// Every fire time of `schedule` in `(after, until]`, oldest first: at most the newest
/// [`MAX_FIRES`], and none older than [`LOOKBACK`] before `until` (a per-second schedule after
/// a month's downtime is not walked second by second).
fn fires(schedule: &Schedule, after: DateTime<Utc>, until: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let mut out = std::collections::VecDeque::new();
    let mut t = after.max(until - LOOKBACK);
    let mut steps = 0;
    while let Some(next) = schedule.next_after(t) {
        if next > until || steps >= MAX_STEPS {
            break;
        }
        out.push_back(next);
        if out.len() > MAX_FIRES {
            out.pop_front();
        }
        t = next;
        steps += 1;
    }
    out.into()
}

/// The slots due in `(after, until]`: each job's, and the subscriptions' grouped so that
/// subscriptions to the same post at the same time share one slot. Also returns the
/// subscriptions that cannot be scheduled, with why. Alert subscriptions are not scheduled.
#[must_use]
pub fn due_slots(
    jobs: &[Job],
    subs: &[Subscription],
    tz: chrono_tz::Tz,
    after: DateTime<Utc>,
    until: DateTime<Utc>,
    cache: &mut HashMap<String, Schedule>,
) -> (Vec<SlotPlan>, Vec<(Subscription, String)>) {
    let mut plans = Vec::new();
    for job in jobs {
        for at in fires(&job.schedule, after, until) {
            let key = SlotKey {
                kind: job.kind,
                coin: job.coin.clone(),
                window: job.window,
                at,
            };
            plans.push(SlotPlan {
                id: key.id(&format!("job/{}", job.name)),
                key,
                targets: job.targets.clone(),
            });
        }
    }
    let mut grouped: BTreeMap<SlotKey, Vec<(String, String)>> = BTreeMap::new();
    let mut bad = Vec::new();
    for sub in subs {
        let kind: PostKind = match sub.kind.parse() {
            Ok(PostKind::Alert) => continue,
            Ok(kind) => kind,
            Err(e) => {
                bad.push((sub.clone(), e.to_string()));
                continue;
            }
        };
        let window: Window = match sub.window.parse() {
            Ok(w) => w,
            Err(e) => {
                bad.push((sub.clone(), e.to_string()));
                continue;
            }
        };
        let schedule = match cache.get(&sub.schedule) {
            Some(s) => s,
            None => match Schedule::parse(&sub.schedule, tz) {
                Ok(s) => cache.entry(sub.schedule.clone()).or_insert(s),
                Err(e) => {
                    bad.push((sub.clone(), e.to_string()));
                    continue;
                }
            },
        };
        for at in fires(schedule, after, until) {
            let key = SlotKey {
                kind,
                coin: Some(sub.coin.clone()).filter(|c| !c.is_empty()),
                window,
                at,
            };
            grouped
                .entry(key)
                .or_default()
                .push((sub.platform.clone(), sub.chat_id.clone()));
        }
    }
    plans.extend(grouped.into_iter().map(|(key, targets)| SlotPlan {
        id: key.id("sub"),
        key,
        targets,
    }));
    plans.sort_by(|a, b| a.key.at.cmp(&b.key.at).then_with(|| a.id.cmp(&b.id)));
    (plans, bad)
}

/// The scheduler's parts.
pub struct Scheduler {
    /// The store: subscriptions, delivery state, and the data posts show.
    pub store: Arc<SqlStore>,
    /// Templates and charts.
    pub renderer: Arc<Renderer>,
    /// The loaded config: jobs, `[scheduler]`, the default time zone and window.
    pub config: Arc<Config>,
    /// Live market context, when the pollers run.
    pub pollers: Option<Arc<RunningPollers>>,
    /// One outlet per platform that is running.
    pub outlets: Vec<Arc<dyn Outlet>>,
    /// This instance's name in claims.
    pub owner: String,
}

impl Scheduler {
    /// Claims `id` for this instance; false when another instance has it or the store failed
    /// (logged; a later tick or sweep tries again).
    async fn claim(&self, id: &str, plan: &SlotPlan, now_ms: i64) -> bool {
        let fire_ms = plan.key.at.timestamp_millis();
        match self
            .store
            .claim_slot(id, fire_ms, &self.owner, now_ms, self.lease_ms())
            .await
        {
            Ok(claimed) => claimed,
            Err(e) => {
                warn!(slot = %id, error = %e, "Claiming a slot failed.");
                false
            }
        }
    }

    /// `scheduler.lease_secs` in ms: a claim not renewed for this long is a dead instance's.
    fn lease_ms(&self) -> i64 {
        i64::try_from(self.config.scheduler.lease_secs)
            .unwrap_or(i64::MAX / 1000)
            .saturating_mul(1000)
    }

    /// Runs on the real clock until `shutdown`, then gives sends in flight
    /// `scheduler.shutdown_secs` to finish.
    ///
    /// # Errors
    /// When a job does not validate.
    pub fn spawn(self, shutdown: CancellationToken) -> anyhow::Result<JoinHandle<()>> {
        let mut run = SchedulerRun::new(self)?;
        Ok(tokio::spawn(async move {
            let now = Utc::now();
            run.start(now).await;
            run.sweep(now).await;
            let mut tick = tokio::time::interval(TICK);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let lease = Duration::from_secs(run.parts.config.scheduler.lease_secs);
            let (renew_every, sweep_every) = (lease / 3, SWEEP_EVERY.min(lease));
            let (mut last_sweep, mut last_renewal) = (Instant::now(), Instant::now());
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    () = shutdown.cancelled() => break,
                }
                run.tick(Utc::now()).await;
                if last_renewal.elapsed() >= renew_every {
                    run.renew(Utc::now()).await;
                    last_renewal = Instant::now();
                }
                if last_sweep.elapsed() >= sweep_every {
                    run.sweep(Utc::now()).await;
                    last_sweep = Instant::now();
                }
            }
            run.finish().await;
        }))
    }
}

/// A scheduler between ticks.
pub struct SchedulerRun {
    parts: Arc<Scheduler>,
    jobs: Vec<Job>,
    last: Option<DateTime<Utc>>,
    /// When the checkpoint was last stored.
    stored: Option<DateTime<Utc>>,
    cache: HashMap<String, Schedule>,
    warned: HashSet<String>,
    in_flight: JoinSet<()>,
}

impl SchedulerRun {
    /// A run of `parts`, not started.
    ///
    /// # Errors
    /// When a job does not validate.
    pub fn new(parts: Scheduler) -> anyhow::Result<Self> {
        let jobs = jobs(&parts.config)?;
        Ok(Self {
            parts: Arc::new(parts),
            jobs,
            last: None,
            stored: None,
            cache: HashMap::new(),
            warned: HashSet::new(),
            in_flight: JoinSet::new(),
        })
    }

    fn grace(&self) -> chrono::Duration {
        chrono::Duration::seconds(
            i64::try_from(self.parts.config.scheduler.grace_secs).unwrap_or(i64::MAX / 1000),
        )
    }

    /// Starts from where the last instance left off (the stored checkpoint), or from `now` on
    /// a first start; slots between are caught up by the next [`Self::tick`].
    pub async fn start(&mut self, now: DateTime<Utc>) {
        let checkpoint = match self.parts.store.scheduler_checkpoint().await {
            Ok(c) => c.and_then(DateTime::from_timestamp_millis),
            Err(e) => {
                warn!(error = %e, "Reading the scheduler checkpoint failed; starting from now.");
                None
            }
        };
        self.last = Some(checkpoint.filter(|c| *c < now).unwrap_or(now));
    }

    /// Claims and starts every slot due in `(last tick, now]`; a slot more than the grace old
    /// is recorded as skipped. Sends run in the background ([`Self::drain`] waits for them).
    pub async fn tick(&mut self, now: DateTime<Utc>) {
        while self.in_flight.try_join_next().is_some() {}
        let after = *self.last.get_or_insert(now);
        if now <= after {
            return;
        }
        let subs = match self.parts.store.active_subscriptions().await {
            Ok(subs) => subs,
            Err(e) => {
                warn!(error = %e, "Reading subscriptions failed; retrying next tick.");
                return;
            }
        };
        let tz = self.parts.config.summary.tz();
        let (plans, bad) = due_slots(&self.jobs, &subs, tz, after, now, &mut self.cache);
        for (sub, why) in bad {
            if self
                .warned
                .insert(format!("{}:{}:{}", sub.platform, sub.chat_id, sub.kind))
            {
                warn!(platform = %sub.platform, chat = %sub.chat_id, kind = %sub.kind, error = %why, "Subscription skipped.");
            }
        }
        let fired = !plans.is_empty();
        for plan in plans {
            if now - plan.key.at > self.grace() {
                self.skip(&plan, now).await;
            } else {
                self.fire(plan, now, false).await;
            }
        }
        self.last = Some(now);
        if !fired && self.stored.is_some_and(|at| now - at < CHECKPOINT_EVERY) {
            return;
        }
        self.stored = Some(now);
        if let Err(e) = self
            .parts
            .store
            .set_scheduler_checkpoint(now.timestamp_millis())
            .await
        {
            warn!(error = %e, "Storing the scheduler checkpoint failed.");
        }
    }

    /// Renews this instance's claims, so other instances (and its own next start) can tell it
    /// from a dead one.
    pub async fn renew(&mut self, now: DateTime<Utc>) {
        let parts = &self.parts;
        if let Err(e) = parts
            .store
            .renew_claims(&parts.owner, now.timestamp_millis())
            .await
        {
            warn!(error = %e, "Renewing slot claims failed.");
        }
    }

    /// Sends again the targets left `not_sent` by a shutdown or a dead instance, for slots
    /// within the grace period. Targets a dead instance left `sending` are recorded failed
    /// and not sent again: the platform may have them.
    pub async fn sweep(&mut self, now: DateTime<Utc>) {
        let since = (now - self.grace()).timestamp_millis();
        let lease_ms = self.parts.lease_ms();
        let stale_before = now.timestamp_millis() - lease_ms;
        let store = &self.parts.store;
        match store
            .abandoned(DeliveryState::Sending, since, stale_before)
            .await
        {
            Ok(records) => {
                for mut r in records {
                    warn!(slot = %r.slot, platform = %r.platform, target = %r.target, "An instance stopped while sending a post; not sent again, as the chat may have it.");
                    r.state = DeliveryState::Failed;
                    r.detail = Some(IN_DOUBT.to_owned());
                    if let Err(e) = store.record_delivery(&r, now.timestamp_millis()).await {
                        warn!(slot = %r.slot, error = %e, "Recording a send in doubt failed.");
                    }
                }
            }
            Err(e) => warn!(error = %e, "Reading sends in doubt failed."),
        }
        let records = match store
            .abandoned(DeliveryState::NotSent, since, stale_before)
            .await
        {
            Ok(records) => records,
            Err(e) => {
                warn!(error = %e, "Reading unsent targets failed.");
                return;
            }
        };
        let mut by_slot: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        for r in records {
            by_slot
                .entry(r.slot)
                .or_default()
                .push((r.platform, r.target));
        }
        for (id, targets) in by_slot {
            let Some(key) = SlotKey::from_id(&id) else {
                continue;
            };
            info!(slot = %id, targets = targets.len(), "Sending targets a stopped instance left unsent.");
            let plan = SlotPlan { id, key, targets };
            self.fire(plan, now, true).await;
        }
    }

    /// Waits for every send in flight.
    pub async fn drain(&mut self) {
        while self.in_flight.join_next().await.is_some() {}
    }

    /// Waits up to `scheduler.shutdown_secs` for sends in flight; the outlets stop waiting on
    /// pacing at shutdown, so what could not be sent is recorded `not_sent`.
    pub async fn finish(&mut self) {
        let deadline = Duration::from_secs(self.parts.config.scheduler.shutdown_secs);
        if tokio::time::timeout(deadline, self.drain()).await.is_err() {
            warn!(
                in_flight = self.in_flight.len(),
                "Scheduled sends still running at the shutdown deadline were cut off; their targets stay recorded as not sent."
            );
            self.in_flight.abort_all();
            self.drain().await;
        }
    }

    /// Records a slot older than the grace as skipped, once across instances.
    async fn skip(&mut self, plan: &SlotPlan, now: DateTime<Utc>) {
        let store = &self.parts.store;
        let now_ms = now.timestamp_millis();
        if !self.parts.claim(&plan.id, plan, now_ms).await {
            return;
        }
        warn!(slot = %plan.id, fire = %plan.key.at, targets = plan.targets.len(), "A slot missed by more than the grace period is skipped.");
        for (platform, target) in &plan.targets {
            let record = record(
                plan,
                platform,
                target,
                DeliveryState::Skipped,
                Some("missed by more than the grace period".to_owned()),
            );
            if let Err(e) = store.record_delivery(&record, now_ms).await {
                warn!(slot = %plan.id, error = %e, "Recording a skipped slot failed.");
            }
        }
        let _ = store.finish_slot(&plan.id).await;
    }

    /// Claims `plan` (takes its claim over again for a `resend` of what a stopped instance
    /// left), records every target `not_sent`, renders the post once and starts the sends.
    async fn fire(&mut self, plan: SlotPlan, now: DateTime<Utc>, resend: bool) {
        let parts = Arc::clone(&self.parts);
        let store = &parts.store;
        let now_ms = now.timestamp_millis();
        let claim = plan.id.clone();
        let claimed = if resend {
            store
                .reclaim_slot(&claim, &parts.owner, now_ms, parts.lease_ms())
                .await
                .unwrap_or_else(|e| {
                    warn!(slot = %claim, error = %e, "Taking over a slot failed.");
                    false
                })
        } else {
            parts.claim(&claim, &plan, now_ms).await
        };
        if !claimed {
            return;
        }
        for (platform, target) in &plan.targets {
            let pending = record(&plan, platform, target, DeliveryState::NotSent, None);
            if let Err(e) = store.record_delivery(&pending, now_ms).await {
                warn!(slot = %plan.id, error = %e, "Recording a pending send failed.");
            }
        }
        let request = RenderRequest {
            kind: plan.key.kind,
            coin: plan.key.coin.clone(),
            window: plan.key.window,
            now_ms: plan.key.at.timestamp_millis(),
        };
        let bundles = match parts
            .renderer
            .render(store, &request, parts.pollers.as_deref())
            .await
        {
            Ok(bundles) => bundles.into_iter().map(Arc::new).collect::<Vec<_>>(),
            Err(e) => {
                let why = format!("rendering failed: {e:#}");
                warn!(slot = %plan.id, targets = plan.targets.len(), error = %why, "A scheduled post could not be rendered; not sent.");
                for (platform, target) in &plan.targets {
                    let failed = record(
                        &plan,
                        platform,
                        target,
                        DeliveryState::Failed,
                        Some(why.clone()),
                    );
                    let _ = store.record_delivery(&failed, now_ms).await;
                }
                let _ = store.finish_slot(&claim).await;
                return;
            }
        };
        info!(slot = %plan.id, targets = plan.targets.len(), "Scheduled post due.");
        self.in_flight.spawn(deliver(parts, plan, claim, bundles));
    }
}

fn record(
    plan: &SlotPlan,
    platform: &str,
    target: &str,
    state: DeliveryState,
    detail: Option<String>,
) -> DeliveryRecord {
    DeliveryRecord {
        slot: plan.id.clone(),
        platform: platform.to_owned(),
        target: target.to_owned(),
        fire_ms: plan.key.at.timestamp_millis(),
        state,
        detail,
        message_id: None,
    }
}

/// Sends a rendered slot to every target at once, records each outcome, then finishes the
/// claim.
async fn deliver(
    parts: Arc<Scheduler>,
    plan: SlotPlan,
    claim: String,
    bundles: Vec<Arc<PostBundle>>,
) {
    let mut sends = JoinSet::new();
    for (platform, target) in plan.targets.clone() {
        let outlet = parts
            .outlets
            .iter()
            .find(|o| o.platform().as_str() == platform)
            .cloned();
        let bundles = bundles.clone();
        let parts = Arc::clone(&parts);
        let plan = plan.clone();
        sends.spawn(async move {
            let result = match outlet {
                None => Err(DeliveryError::Rejected(format!("{platform} is not running (no token)"))),
                Some(outlet) => {
                    // Recorded just before the first request goes out, after pacing.
                    let sending = record(&plan, &platform, &target, DeliveryState::Sending, None);
                    let store = Arc::clone(&parts.store);
                    let mark = Box::pin(async move {
                        if let Err(e) = store.record_delivery(&sending, Utc::now().timestamp_millis()).await {
                            warn!(slot = %sending.slot, error = %e, "Recording a send in progress failed.");
                        }
                    });
                    let sends = async {
                        let mut result = Ok(());
                        for bundle in bundles {
                            result = outlet.deliver(target.clone(), bundle).await;
                            if result.is_err() {
                                break;
                            }
                        }
                        result
                    };
                    with_before_first_send(mark, sends).await
                }
            };
            let (state, detail) = match result {
                Ok(()) => (DeliveryState::Sent, None),
                Err(DeliveryError::ShuttingDown) => (DeliveryState::NotSent, Some("shutting down".to_owned())),
                Err(e) => (DeliveryState::Failed, Some(e.to_string())),
            };
            let r = record(&plan, &platform, &target, state, detail);
            if let Err(e) = parts.store.record_delivery(&r, Utc::now().timestamp_millis()).await {
                warn!(slot = %plan.id, platform = %platform, target = %target, error = %e, "Recording a delivery failed.");
            }
        });
    }
    while sends.join_next().await.is_some() {}
    if let Err(e) = parts.store.finish_slot(&claim).await {
        warn!(slot = %plan.id, error = %e, "Finishing a slot failed.");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(chat: &str, kind: &str, schedule: &str) -> Subscription {
        Subscription {
            platform: "telegram".to_owned(),
            chat_id: chat.to_owned(),
            guild_id: None,
            kind: kind.to_owned(),
            coin: String::new(),
            window: "4h".to_owned(),
            schedule: schedule.to_owned(),
            created_by: "1".to_owned(),
            created_ms: 0,
            active: true,
            inactive_reason: None,
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn one_slot_per_post_with_every_target() {
        let subs = [
            sub("1", "summary", "4h"),
            sub("2", "summary", "0 */4 * * *"),
            sub("3", "heatmap", "4h"),
            sub("4", "alert", "4h"),
            sub("5", "summary", "daily 09:00"),
        ];
        let mut cache = HashMap::new();
        let (due, bad) = due_slots(
            &[],
            &subs,
            chrono_tz::UTC,
            at("2026-11-21T07:59:59Z"),
            at("2026-11-21T08:00:00Z"),
            &mut cache,
        );
        assert!(bad.is_empty());
        let got: Vec<(PostKind, Vec<&str>)> = due
            .iter()
            .map(|p| (p.key.kind, p.targets.iter().map(|t| t.1.as_str()).collect()))
            .collect();
        assert_eq!(
            got,
            vec![
                (PostKind::Heatmap, vec!["3"]),
                (PostKind::Summary, vec!["1", "2"]),
            ]
        );
        assert!(due.iter().all(|p| p.key.at == at("2026-11-21T08:00:00Z")));
    }

    #[test]
    fn every_fire_in_a_gap_is_a_slot_and_bad_schedules_are_reported() {
        let subs = [
            sub("1", "summary", "hourly"),
            sub("2", "summary", "every day"),
        ];
        let mut cache = HashMap::new();
        let (due, bad) = due_slots(
            &[],
            &subs,
            chrono_tz::UTC,
            at("2026-11-21T05:30:00Z"),
            at("2026-11-21T08:30:00Z"),
            &mut cache,
        );
        let times: Vec<DateTime<Utc>> = due.iter().map(|p| p.key.at).collect();
        assert_eq!(
            times,
            [
                at("2026-11-21T06:00:00Z"),
                at("2026-11-21T07:00:00Z"),
                at("2026-11-21T08:00:00Z")
            ]
        );
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].0.chat_id, "2");
    }

    #[test]
    fn a_month_of_downtime_on_a_per_second_schedule_is_bounded() {
        let schedule = Schedule::parse("* * * * * *", chrono_tz::UTC).unwrap();
        let until = at("2026-11-21T08:00:00Z");
        let got = fires(&schedule, until - chrono::Duration::days(30), until);
        assert_eq!(got.len(), MAX_FIRES);
        assert_eq!(got.last(), Some(&until));
        assert_eq!(got[0], until - chrono::Duration::seconds(999));
    }

    #[test]
    fn slot_ids_round_trip() {
        let key = SlotKey {
            kind: PostKind::Heatmap,
            coin: Some("BTC".to_owned()),
            window: Window::H4,
            at: at("2026-11-21T08:00:00Z"),
        };
        let id = key.id("job/daily:heat");
        assert_eq!(id, "job/daily:heat:heatmap:BTC:4h:1795248000000");
        assert_eq!(SlotKey::from_id(&id), Some(key.clone()));
        let all = SlotKey { coin: None, ..key };
        assert_eq!(SlotKey::from_id(&all.id("sub")), Some(all));
    }
}
