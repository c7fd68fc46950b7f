//! Alerts, decided as liquidations are stored (not by polling the store): one large
//! liquidation, or a cascade (at least `cascade_usd` within `cascade_minutes`, for all coins
//! together or per coin). A cascade is posted once when it crosses the threshold, posted again
//! only when it has grown by `update_step_pct`, and after it ends the same scope stays quiet
//! for `cooldown_minutes`. Every alert has a key, claimed in the store before it is sent, so
//! many instances (each seeing the same events) post it once.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use chrono::Utc;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::analytics::Cluster;
use crate::analytics::alert::{Alert, Cascade, level_crosses};
use crate::config::{AlertsConfig, MarketConfig};
use crate::delivery::{DeliveryError, Outlet};
use crate::model::{Liquidation, Side};
use crate::render::posts::Renderer;
use crate::report::market_report_with_levels;
use crate::store::{
    DeliveryRecord, DeliveryState, DeliveryStore as _, SqlStore, SubscriptionStore as _,
};

/// A claim on an alert is taken over after this long if its owner died.
const LEASE_MS: i64 = 10 * 60_000;
/// How often the price is compared with the estimated liquidation clusters.
const LEVEL_CHECK: std::time::Duration = std::time::Duration::from_secs(60);

/// What the engine wants posted.
#[derive(Debug, Clone, PartialEq)]
pub enum AlertAction {
    /// A new alert.
    New {
        /// Its key: `large:{event}` or `cascade:{scope}:{first crossing ms}`.
        key: String,
        /// What it says.
        alert: Alert,
    },
    /// A running cascade that grew: the `n`th update of alert `key`.
    Update {
        /// The key of the alert it updates.
        key: String,
        /// 1 for the first update.
        n: u32,
        /// The cascade now.
        alert: Alert,
    },
}

impl AlertAction {
    /// The id it is claimed and recorded under.
    #[must_use]
    pub fn claim_id(&self) -> String {
        match self {
            Self::New { key, .. } => format!("alert:{key}"),
            Self::Update { key, n, .. } => format!("alert:{key}:update{n}"),
        }
    }

    /// The alert.
    #[must_use]
    pub fn alert(&self) -> &Alert {
        match self {
            Self::New { alert, .. } | Self::Update { alert, .. } => alert,
        }
    }
}

#[derive(Debug)]
struct Running {
    key: String,
    reported_usd: f64,
    updates: u32,
}

/// A cascade scope: every coin together (`None`) or one.
#[derive(Debug, Default)]
struct Scope {
    /// (ts, usd, side) of the events in the window, by time.
    window: VecDeque<(i64, f64, Side)>,
    running: Option<Running>,
    quiet_until_ms: i64,
}

/// Decides alerts from the events as they are stored. Pure apart from its state: feed it
/// batches in arrival order with [`AlertEngine::observe`].
#[derive(Debug)]
pub struct AlertEngine {
    rules: AlertsConfig,
    scopes: BTreeMap<Option<String>, Scope>,
    /// Fingerprints of the events seen within two cascade windows, so a replayed event counts
    /// once.
    seen: HashSet<u64>,
    seen_order: VecDeque<(i64, u64)>,
}

impl AlertEngine {
    /// An engine with `rules`.
    #[must_use]
    pub fn new(rules: &AlertsConfig) -> Self {
        let scopes = if rules.cascade_coins.is_empty() {
            BTreeMap::from([(None, Scope::default())])
        } else {
            rules
                .cascade_coins
                .iter()
                .map(|c| (Some(c.to_ascii_uppercase()), Scope::default()))
                .collect()
        };
        Self {
            rules: rules.clone(),
            scopes,
            seen: HashSet::new(),
            seen_order: VecDeque::new(),
        }
    }

    fn window_ms(&self) -> i64 {
        i64::try_from(self.rules.cascade_minutes).unwrap_or(15) * 60_000
    }

    /// The period cascade keys are counted in: the cooldown, at least the window.
    fn bucket_ms(&self) -> i64 {
        (i64::try_from(self.rules.cooldown_minutes).unwrap_or(60) * 60_000).max(self.window_ms())
    }

    /// The key of the previous period's cascade alert for the same scope as `key`, if `key`
    /// is a cascade key: a cascade that started just before a period boundary on one
    /// instance and just after it on another is one alert.
    #[must_use]
    pub fn previous_cascade_key(key: &str) -> Option<String> {
        let rest = key.strip_prefix("cascade:")?;
        let (scope, period) = rest.rsplit_once(':')?;
        let period: i64 = period.parse().ok()?;
        Some(format!("cascade:{scope}:{}", period - 1))
    }

    fn large_threshold(&self, coin: &str) -> f64 {
        self.rules
            .large_usd_by_coin
            .iter()
            .find(|(c, _)| c.eq_ignore_ascii_case(coin))
            .map_or(self.rules.large_usd, |(_, usd)| *usd)
    }

    /// The alerts `events` (just stored) call for at `now_ms`. Events older than the cascade
    /// window at `now_ms` (history a source backfills after a reconnect) alert nothing.
    pub fn observe(&mut self, events: &[Liquidation], now_ms: i64) -> Vec<AlertAction> {
        let mut actions = Vec::new();
        let mut fresh: Vec<&Liquidation> = Vec::with_capacity(events.len());
        let oldest = now_ms - self.window_ms();
        for e in events.iter().filter(|e| e.ts_ms >= oldest) {
            let key = fingerprint(e);
            if self.seen.insert(key) {
                self.seen_order.push_back((e.ts_ms, key));
                fresh.push(e);
            }
        }
        fresh.sort_by_key(|e| e.ts_ms);
        for e in &fresh {
            let threshold = self.large_threshold(&e.base);
            if e.usd >= threshold {
                actions.push(AlertAction::New {
                    key: format!("large:{}", e.dedup_key()),
                    alert: Alert::Large {
                        event: (*e).clone(),
                        threshold_usd: threshold,
                    },
                });
            }
        }
        let window_ms = self.window_ms();
        let (threshold, step) = (self.rules.cascade_usd, self.rules.update_step_pct / 100.0);
        let cooldown_ms = i64::try_from(self.rules.cooldown_minutes).unwrap_or(60) * 60_000;
        let bucket_ms = self.bucket_ms();
        for (coin, scope) in &mut self.scopes {
            for e in fresh
                .iter()
                .filter(|e| coin.as_ref().is_none_or(|c| *c == e.base))
            {
                scope.window.push_back((e.ts_ms, e.usd, e.side));
                while scope
                    .window
                    .front()
                    .is_some_and(|(ts, _, _)| e.ts_ms - ts >= window_ms)
                {
                    scope.window.pop_front();
                }
                let usd: f64 = scope.window.iter().map(|(_, u, _)| u).sum();
                let now = e.ts_ms;
                match &mut scope.running {
                    None if usd >= threshold && now >= scope.quiet_until_ms => {
                        // Keyed by period, not by the crossing event: instances that started
                        // at different times may see a different first "fresh" event.
                        let key = cascade_key(coin.as_deref(), now.div_euclid(bucket_ms));
                        actions.push(AlertAction::New {
                            key: key.clone(),
                            alert: Alert::Cascade(cascade(coin, &scope.window, threshold)),
                        });
                        scope.running = Some(Running {
                            key,
                            reported_usd: usd,
                            updates: 0,
                        });
                    }
                    Some(running) if usd >= running.reported_usd * (1.0 + step) => {
                        running.updates += 1;
                        running.reported_usd = usd;
                        actions.push(AlertAction::Update {
                            key: running.key.clone(),
                            n: running.updates,
                            alert: Alert::Cascade(cascade(coin, &scope.window, threshold)),
                        });
                    }
                    Some(_) if usd < threshold => {
                        scope.running = None;
                        scope.quiet_until_ms = now + cooldown_ms;
                    }
                    _ => {}
                }
            }
        }
        // Forget dedup keys older than the window behind the newest event.
        if let Some(newest) = fresh.last().map(|e| e.ts_ms) {
            while self
                .seen_order
                .front()
                .is_some_and(|(ts, _)| newest - ts > 2 * window_ms)
            {
                if let Some((_, key)) = self.seen_order.pop_front() {
                    self.seen.remove(&key);
                }
            }
        }
        actions
    }
}

/// A 64-bit fingerprint of what [`Liquidation::dedup_key`] holds (equal keys print equal
/// values, so equal bits): the engine remembers two cascade windows of events, and at ten
/// times a busy day's rate their key strings took about 80 MB where fingerprints take about
/// 10. With a million remembered, two distinct events share one with a chance of about 3 in
/// 10^8, and then the second only misses its alert; it is stored all the same.
fn fingerprint(e: &Liquidation) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    (
        e.exchange,
        e.symbol.as_str(),
        e.ts_ms,
        e.side,
        e.price.to_bits(),
        e.quantity.to_bits(),
    )
        .hash(&mut hasher);
    hasher.finish()
}

fn cascade_key(coin: Option<&str>, period: i64) -> String {
    format!("cascade:{}:{period}", coin.unwrap_or("all"))
}

fn cascade(coin: &Option<String>, window: &VecDeque<(i64, f64, Side)>, threshold: f64) -> Cascade {
    let (mut long_usd, mut short_usd) = (0.0, 0.0);
    for (_, usd, side) in window {
        match side {
            Side::Long => long_usd += usd,
            Side::Short => short_usd += usd,
        }
    }
    Cascade {
        coin: coin.clone(),
        start_ms: window.front().map_or(0, |w| w.0),
        end_ms: window.back().map_or(0, |w| w.0),
        usd: long_usd + short_usd,
        long_usd,
        short_usd,
        count: i64::try_from(window.len()).unwrap_or(i64::MAX),
        threshold_usd: threshold,
    }
}

/// Posts what the engine decides: claims each alert in the store, renders it, and sends it to
/// the configured targets and every chat subscribed to `alert`, recording each outcome.
pub struct AlertDispatcher {
    /// Claims, records, subscriptions.
    pub store: Arc<SqlStore>,
    /// Templates.
    pub renderer: Arc<Renderer>,
    /// The rules and fixed targets.
    pub rules: AlertsConfig,
    /// One outlet per running platform.
    pub outlets: Vec<Arc<dyn Outlet>>,
    /// This instance's name in claims.
    pub owner: String,
    /// Market settings, for the level-cross check; `None` turns it off.
    pub market: Option<MarketConfig>,
}

/// What the level-cross check remembers per coin: the price and clusters at the last check.
#[derive(Debug, Default)]
struct LevelWatch {
    last: HashMap<String, (f64, Vec<Cluster>)>,
}

impl AlertDispatcher {
    /// Runs until the event tap closes or `shutdown`.
    #[must_use]
    pub fn spawn(
        self,
        mut events: mpsc::Receiver<Vec<Liquidation>>,
        shutdown: CancellationToken,
    ) -> JoinHandle<()> {
        tokio::spawn(async move {
            let mut engine = AlertEngine::new(&self.rules);
            let mut watch = LevelWatch::default();
            let mut levels = tokio::time::interval(LEVEL_CHECK);
            levels.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                let batch = tokio::select! {
                    batch = events.recv() => batch,
                    _ = levels.tick() => {
                        for action in self.check_levels(&mut watch, Utc::now().timestamp_millis()).await {
                            self.post(&action).await;
                        }
                        continue;
                    }
                    () = shutdown.cancelled() => None,
                };
                let Some(batch) = batch else { break };
                for action in engine.observe(&batch, Utc::now().timestamp_millis()) {
                    self.post(&action).await;
                }
            }
        })
    }

    /// Compares each coin's price with the clusters estimated at the last check; a cluster
    /// the price went through is an alert, keyed by coin, side, level and cooldown period so
    /// every instance that sees it in that period makes the same claim.
    async fn check_levels(&self, watch: &mut LevelWatch, now_ms: i64) -> Vec<AlertAction> {
        let Some(market) = &self.market else {
            return Vec::new();
        };
        let cooldown_ms =
            (i64::try_from(self.rules.cooldown_minutes).unwrap_or(60) * 60_000).max(60_000);
        let mut actions = Vec::new();
        for coin in &market.coins {
            let report =
                match market_report_with_levels(&self.store, market, coin, now_ms, None).await {
                    Ok((report, _)) => report,
                    Err(e) => {
                        warn!(coin = %coin, error = %e, "Estimating levels for alerts failed.");
                        continue;
                    }
                };
            let Some(price) = report
                .context
                .as_ref()
                .map(|c| c.price)
                .filter(|p| *p > 0.0)
            else {
                continue;
            };
            let clusters: Vec<Cluster> =
                report.above.iter().chain(&report.below).cloned().collect();
            if let Some((from, before)) = watch.last.get(coin) {
                for cross in level_crosses(coin, before, *from, price, now_ms) {
                    let key = format!(
                        "level:{coin}:{}:{}:{}",
                        cross.side.as_str(),
                        cross.level_price.round(),
                        now_ms / cooldown_ms
                    );
                    actions.push(AlertAction::New {
                        key,
                        alert: Alert::LevelCross(cross),
                    });
                }
            }
            watch.last.insert(coin.clone(), (price, clusters));
        }
        actions
    }

    /// Claims `action` and sends it; does nothing when another instance has it.
    pub async fn post(&self, action: &AlertAction) {
        let id = action.claim_id();
        if let AlertAction::New {
            key,
            alert: Alert::Cascade(cascade),
        } = action
            && let Some(previous) = AlertEngine::previous_cascade_key(key)
            && let Ok(Some(previous_ms)) = self
                .store
                .claimed_fire_ms(&format!("alert:{previous}"))
                .await
            && cascade.end_ms - previous_ms
                < i64::try_from(self.rules.cooldown_minutes).unwrap_or(60) * 60_000
        {
            // Another instance posted this cascade under the previous period's key.
            return;
        }
        let now_ms = Utc::now().timestamp_millis();
        let fire_ms = match action.alert() {
            Alert::Large { event, .. } => event.ts_ms,
            Alert::Cascade(c) => c.end_ms,
            Alert::LevelCross(l) => l.ts_ms,
        };
        match self
            .store
            .claim_slot(&id, fire_ms, &self.owner, now_ms, LEASE_MS)
            .await
        {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => {
                warn!(alert = %id, error = %e, "Claiming an alert failed; not sent.");
                return;
            }
        }
        let mut targets: Vec<(String, String)> = self
            .rules
            .telegram
            .iter()
            .map(|t| ("telegram".to_owned(), t.clone()))
            .chain(
                self.rules
                    .discord
                    .iter()
                    .map(|t| ("discord".to_owned(), t.clone())),
            )
            .collect();
        match self.store.active_subscriptions().await {
            Ok(subs) => targets.extend(
                subs.into_iter()
                    .filter(|s| s.kind == "alert")
                    .map(|s| (s.platform, s.chat_id)),
            ),
            Err(e) => warn!(error = %e, "Reading alert subscriptions failed."),
        }
        targets.sort();
        targets.dedup();
        let bundle = match self.renderer.render_alert(action.alert(), now_ms) {
            Ok(bundle) => Arc::new(bundle),
            Err(e) => {
                warn!(alert = %id, error = format!("{e:#}"), "Rendering an alert failed; not sent.");
                let _ = self.store.finish_slot(&id).await;
                return;
            }
        };
        // An update edits the message each target got for the alert, where there is one.
        let originals: HashMap<(String, String), String> = match action {
            AlertAction::Update { key, .. } => self
                .store
                .slot_deliveries(&format!("alert:{key}"))
                .await
                .unwrap_or_default()
                .into_iter()
                .filter(|r| r.state == DeliveryState::Sent)
                .filter_map(|r| Some(((r.platform, r.target), r.message_id?)))
                .collect(),
            AlertAction::New { .. } => HashMap::new(),
        };
        info!(alert = %id, targets = targets.len(), edits = originals.len(), "Alert.");
        let mut sends = Vec::new();
        for (platform, target) in targets {
            let outlet = self
                .outlets
                .iter()
                .find(|o| o.platform().as_str() == platform)
                .cloned();
            let bundle = Arc::clone(&bundle);
            let original = originals.get(&(platform.clone(), target.clone())).cloned();
            sends.push(async move {
                let result = match (outlet, original) {
                    (None, _) => Err(DeliveryError::Rejected(format!(
                        "{platform} is not running"
                    ))),
                    (Some(outlet), Some(message)) => {
                        match outlet
                            .edit(target.clone(), message.clone(), Arc::clone(&bundle))
                            .await
                        {
                            Ok(()) => Ok(Some(message)),
                            // The message is gone or cannot be edited: post the update anew.
                            Err(DeliveryError::Rejected(_)) => {
                                outlet.deliver_with_id(target.clone(), bundle).await
                            }
                            Err(e) => Err(e),
                        }
                    }
                    (Some(outlet), None) => outlet.deliver_with_id(target.clone(), bundle).await,
                };
                (platform, target, result)
            });
        }
        for (platform, target, result) in futures_util::future::join_all(sends).await {
            let (state, detail, message_id) = match result {
                Ok(message_id) => (DeliveryState::Sent, None, message_id),
                Err(DeliveryError::ShuttingDown) => (
                    DeliveryState::NotSent,
                    Some("shutting down".to_owned()),
                    None,
                ),
                Err(e) => (DeliveryState::Failed, Some(e.to_string()), None),
            };
            let record = DeliveryRecord {
                slot: id.clone(),
                platform,
                target,
                fire_ms,
                state,
                detail,
                message_id,
            };
            if let Err(e) = self.store.record_delivery(&record, now_ms).await {
                warn!(alert = %id, error = %e, "Recording an alert delivery failed.");
            }
        }
        let _ = self.store.finish_slot(&id).await;
    }
}
