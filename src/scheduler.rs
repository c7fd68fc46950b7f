//! Posts on a schedule to the chats that subscribed with `/subscribe`. Every tick the
//! scheduler reads the active subscriptions, finds the slots that fell due since the last tick,
//! renders each (kind, coin, window, fire time) once, and hands the same post to the outlet of
//! every target's platform; a slow or failing target does not hold up the others.
//!
//! What this does not do yet (issue 7): jobs from `bot.toml`, delivery state stored per slot
//! and target (so a restart neither repeats nor silently skips a slot), the grace period for
//! missed slots, and claims shared by many instances. A slot that falls due while the bot is
//! down is not posted; alert subscriptions are left to the alert engine.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::analytics::Window;
use crate::delivery::Outlet;
use crate::pollers::RunningPollers;
use crate::render::posts::{RenderRequest, Renderer};
use crate::render::text::PostKind;
use crate::schedule::Schedule;
use crate::store::{SqlStore, Subscription, SubscriptionStore as _};

/// How often the scheduler looks for due slots.
pub const TICK: Duration = Duration::from_millis(500);
/// How long in-flight deliveries may take to finish at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// One post to render once and send to several chats.
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

/// Slots due, each with the subscriptions to send it to.
pub type DueSlots = BTreeMap<SlotKey, Vec<Subscription>>;
/// Subscriptions that cannot be scheduled, with why.
pub type Unschedulable = Vec<(Subscription, String)>;

/// The slots due in `(after, until]` with their subscriptions; a subscription that missed more
/// than one fire time in that span gets only the latest. Also returns the subscriptions whose
/// schedule, kind or window does not parse, with why. Alert subscriptions are not scheduled.
#[must_use]
pub fn due_slots(
    subs: &[Subscription],
    tz: chrono_tz::Tz,
    after: DateTime<Utc>,
    until: DateTime<Utc>,
    cache: &mut HashMap<String, Schedule>,
) -> (DueSlots, Unschedulable) {
    let mut due = DueSlots::new();
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
        if let Some(at) = schedule.latest_in(after, until) {
            let key = SlotKey {
                kind,
                coin: Some(sub.coin.clone()).filter(|c| !c.is_empty()),
                window,
                at,
            };
            due.entry(key).or_default().push(sub.clone());
        }
    }
    (due, bad)
}

/// The subscription scheduler.
pub struct Scheduler {
    /// The store: subscriptions and the data posts show.
    pub store: Arc<SqlStore>,
    /// Templates and charts.
    pub renderer: Arc<Renderer>,
    /// The time zone schedules are read in.
    pub tz: chrono_tz::Tz,
    /// Live market context, when the pollers run.
    pub pollers: Option<Arc<RunningPollers>>,
    /// One outlet per platform that is running.
    pub outlets: Vec<Arc<dyn Outlet>>,
}

impl Scheduler {
    /// Runs until `shutdown`, then waits up to 10 s for deliveries in flight.
    pub fn spawn(self, shutdown: CancellationToken) -> JoinHandle<()> {
        tokio::spawn(self.run(shutdown))
    }

    async fn run(self, shutdown: CancellationToken) {
        let mut cache = HashMap::new();
        let mut warned: HashSet<String> = HashSet::new();
        let mut in_flight = JoinSet::new();
        let mut last = Utc::now();
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = shutdown.cancelled() => break,
            }
            while in_flight.try_join_next().is_some() {}
            let now = Utc::now();
            let subs = match self.store.active_subscriptions().await {
                Ok(subs) => subs,
                Err(e) => {
                    warn!(error = %e, "Reading subscriptions failed; retrying next tick.");
                    continue;
                }
            };
            let (due, bad) = due_slots(&subs, self.tz, last, now, &mut cache);
            last = now;
            for (sub, why) in bad {
                if warned.insert(format!("{}:{}:{}", sub.platform, sub.chat_id, sub.kind)) {
                    warn!(platform = %sub.platform, chat = %sub.chat_id, kind = %sub.kind, error = %why, "Subscription skipped.");
                }
            }
            for (slot, targets) in due {
                self.fire(&slot, targets, &mut in_flight, &mut warned).await;
            }
        }
        let drain = async { while in_flight.join_next().await.is_some() {} };
        if tokio::time::timeout(SHUTDOWN_GRACE, drain).await.is_err() {
            warn!("Scheduled posts still sending at shutdown were cut off.");
        }
    }

    /// Renders `slot` once and starts its delivery to every target.
    async fn fire(
        &self,
        slot: &SlotKey,
        targets: Vec<Subscription>,
        in_flight: &mut JoinSet<()>,
        warned: &mut HashSet<String>,
    ) {
        let request = RenderRequest {
            kind: slot.kind,
            coin: slot.coin.clone(),
            window: slot.window,
            now_ms: slot.at.timestamp_millis(),
        };
        let bundles = match self
            .renderer
            .render(&self.store, &request, self.pollers.as_deref())
            .await
        {
            Ok(bundles) => bundles,
            Err(e) => {
                warn!(
                    ?slot,
                    targets = targets.len(),
                    error = format!("{e:#}"),
                    "Rendering a scheduled post failed; not sent."
                );
                return;
            }
        };
        let bundles: Vec<_> = bundles.into_iter().map(Arc::new).collect();
        info!(kind = %slot.kind, window = %slot.window, at = %slot.at, targets = targets.len(), "Scheduled post due.");
        for sub in targets {
            let Some(outlet) = self
                .outlets
                .iter()
                .find(|o| o.platform().as_str() == sub.platform)
            else {
                if warned.insert(format!("outlet:{}", sub.platform)) {
                    warn!(platform = %sub.platform, "Subscriptions for a platform that is not running are skipped.");
                }
                continue;
            };
            let outlet = Arc::clone(outlet);
            let bundles = bundles.clone();
            in_flight.spawn(async move {
                for bundle in bundles {
                    // The outlet logs a failure with its target.
                    if outlet.deliver(sub.chat_id.clone(), bundle).await.is_err() {
                        break;
                    }
                }
            });
        }
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
            &subs,
            chrono_tz::UTC,
            at("2026-11-21T07:59:59Z"),
            at("2026-11-21T08:00:00Z"),
            &mut cache,
        );
        assert!(bad.is_empty());
        let got: Vec<(PostKind, Vec<&str>)> = due
            .iter()
            .map(|(k, v)| (k.kind, v.iter().map(|s| s.chat_id.as_str()).collect()))
            .collect();
        assert_eq!(
            got,
            vec![
                (PostKind::Summary, vec!["1", "2"]),
                (PostKind::Heatmap, vec!["3"])
            ]
        );
        assert!(due.keys().all(|k| k.at == at("2026-11-21T08:00:00Z")));
    }

    #[test]
    fn a_long_gap_yields_only_the_latest_slot_and_bad_schedules_are_reported() {
        let subs = [
            sub("1", "summary", "hourly"),
            sub("2", "summary", "every day"),
        ];
        let mut cache = HashMap::new();
        let (due, bad) = due_slots(
            &subs,
            chrono_tz::UTC,
            at("2026-11-21T05:30:00Z"),
            at("2026-11-21T08:30:00Z"),
            &mut cache,
        );
        assert_eq!(due.len(), 1);
        assert_eq!(due.keys().next().unwrap().at, at("2026-11-21T08:00:00Z"));
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].0.chat_id, "2");
    }
}
