//! Delivering a rendered post to a chat on some platform. The scheduler renders a slot once and
//! hands the same [`PostBundle`] to the [`Outlet`] of each target's platform; the outlet paces,
//! retries and reports how it went.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use crate::pacing::{PacingLimits, SendFailure, SendPacer, TargetId};
use crate::render::posts::PostBundle;
use crate::render::text::Platform;
use crate::sources::ws::Backoff;
use crate::store::{SqlStore, SubscriptionStore as _};

tokio::task_local! {
    /// Runs once, just before a delivery's first request goes out; see [`with_before_first_send`].
    static BEFORE_FIRST_SEND: Mutex<Option<BoxFuture<'static, ()>>>;
}

/// Runs `delivery` (an [`Outlet`] call) so that `hook` runs, and finishes, just before its
/// first request goes out, after any pacing wait. The scheduler records the target `sending`
/// there: a post still `sending` after a crash may have reached the chat and is not sent again.
pub async fn with_before_first_send<T>(
    hook: BoxFuture<'static, ()>,
    delivery: impl Future<Output = T>,
) -> T {
    BEFORE_FIRST_SEND
        .scope(Mutex::new(Some(hook)), delivery)
        .await
}

/// Runs the hook of [`with_before_first_send`], if any and not run yet.
async fn before_send() {
    let hook = BEFORE_FIRST_SEND
        .try_with(|h| h.lock().unwrap_or_else(PoisonError::into_inner).take())
        .ok()
        .flatten();
    if let Some(hook) = hook {
        hook.await;
    }
}

/// How a delivery failed, after the outlet's own retries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// The bot lost access to the target (kicked, blocked, chat gone); its subscriptions are
    /// now inactive.
    #[error("the bot lost access to the chat: {0}")]
    TargetLost(String),
    /// The platform refused the message itself; the target is fine.
    #[error("the message was rejected: {0}")]
    Rejected(String),
    /// Transient failures until the retries ran out.
    #[error("gave up after retries: {0}")]
    GaveUp(String),
    /// The bot is shutting down; the post was not sent.
    #[error("not sent: shutting down")]
    ShuttingDown,
}

/// Sends posts to one platform.
pub trait Outlet: Send + Sync {
    /// The platform this outlet sends to; subscriptions name it in lowercase.
    fn platform(&self) -> Platform;

    /// Sends `bundle` (this platform's post and its first image) to `target`, a chat or
    /// channel id as text. Resolves when the post was sent or finally failed, with the
    /// platform's id of the post's main message (for a later [`Self::edit`]) when it has one.
    fn deliver_with_id(
        &self,
        target: String,
        bundle: Arc<PostBundle>,
    ) -> BoxFuture<'static, Result<Option<String>, DeliveryError>>;

    /// The sender's counters, when it keeps them.
    fn stats(&self) -> Option<&SendStats> {
        None
    }

    /// [`Self::deliver_with_id`] without the message id.
    fn deliver(
        &self,
        target: String,
        bundle: Arc<PostBundle>,
    ) -> BoxFuture<'static, Result<(), DeliveryError>> {
        let sent = self.deliver_with_id(target, bundle);
        Box::pin(async move { sent.await.map(|_| ()) })
    }

    /// Replaces message `message_id` in `target` with `bundle` (a text post: alerts), where
    /// the platform allows it.
    ///
    /// The default refuses, and the caller sends a new message instead.
    fn edit(
        &self,
        _target: String,
        _message_id: String,
        _bundle: Arc<PostBundle>,
    ) -> BoxFuture<'static, Result<(), DeliveryError>> {
        Box::pin(async {
            Err(DeliveryError::Rejected(
                "this outlet cannot edit".to_owned(),
            ))
        })
    }
}

/// How hard a send is retried.
#[derive(Debug, Clone, Copy)]
pub struct RetrySettings {
    /// Attempts at a message that fails transiently (network, 5xx) before giving up.
    pub max_attempts: u32,
    /// 429s in a row a message may get before giving up.
    pub max_rate_limited: u32,
    /// The first backoff delay.
    pub backoff_initial: Duration,
    /// The largest backoff delay.
    pub backoff_max: Duration,
}

impl Default for RetrySettings {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            max_rate_limited: 10,
            backoff_initial: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
        }
    }
}

/// Counters of what a platform's sender sent.
#[derive(Debug, Default)]
pub struct SendStats {
    /// Messages the API accepted.
    pub sent: AtomicU64,
    /// Messages given up on (rejected, target lost, retries exhausted, shutdown).
    pub failed: AtomicU64,
    /// Retries after a transient failure.
    pub retried: AtomicU64,
    /// 429 answers.
    pub rate_limited: AtomicU64,
}

impl SendStats {
    /// `sent=N failed=N retried=N rate_limited=N`.
    #[must_use]
    pub fn line(&self) -> String {
        format!(
            "sent={} failed={} retried={} rate_limited={}",
            self.sent.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
            self.retried.load(Ordering::Relaxed),
            self.rate_limited.load(Ordering::Relaxed),
        )
    }
}

/// Sends one platform's messages within its limits: every message waits for its slot in one
/// [`SendPacer`], a 429 holds every send (`retry_after` with no target) or one target, a
/// transient failure is retried with jittered backoff, and anything else ends the message
/// with a [`DeliveryError`], counted and logged with its target.
pub struct Paced {
    platform: &'static str,
    pacer: Mutex<SendPacer>,
    origin: Instant,
    retry: RetrySettings,
    stats: SendStats,
    shutdown: CancellationToken,
    /// Whether a 429 holds every target (Telegram's flood control is per bot) or only the one.
    global_429: bool,
}

impl Paced {
    /// A pacer for `platform` with `limits`; waits end early when `shutdown` is cancelled.
    #[must_use]
    pub fn new(
        platform: &'static str,
        limits: PacingLimits,
        retry: RetrySettings,
        global_429: bool,
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            platform,
            pacer: Mutex::new(SendPacer::new(limits)),
            origin: Instant::now(),
            retry,
            stats: SendStats::default(),
            shutdown,
            global_429,
        }
    }

    /// The counters.
    #[must_use]
    pub fn stats(&self) -> &SendStats {
        &self.stats
    }

    fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    fn pacer(&self) -> MutexGuard<'_, SendPacer> {
        self.pacer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sleeps for `wait`, or returns false at shutdown.
    async fn wait(&self, wait: Duration) -> bool {
        if wait.is_zero() {
            return true;
        }
        tokio::select! {
            () = tokio::time::sleep(wait) => true,
            () = self.shutdown.cancelled() => false,
        }
    }

    /// Sends one message to `target` with `attempt`, classifying failures with `classify`.
    ///
    /// # Errors
    /// How the message finally failed; a [`DeliveryError::TargetLost`] is not logged here
    /// (the caller marks the target inactive and logs that once).
    pub async fn send<F, Fut, T, E>(
        &self,
        target: i64,
        is_group: bool,
        mut attempt: F,
        classify: impl Fn(&E) -> SendFailure,
    ) -> Result<T, DeliveryError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: fmt::Display,
    {
        let retry = self.retry;
        let id = TargetId(target);
        let mut backoff = Backoff::new(retry.backoff_initial, retry.backoff_max);
        let (mut attempts, mut rate_limited) = (0_u32, 0_u32);
        loop {
            let wait = self.pacer().reserve(id, is_group, self.now());
            if !self.wait(wait).await {
                return Err(self.gave_up(target, DeliveryError::ShuttingDown));
            }
            before_send().await;
            let error = match attempt().await {
                Ok(value) => {
                    self.stats.sent.fetch_add(1, Ordering::Relaxed);
                    return Ok(value);
                }
                Err(e) => e,
            };
            let description = error.to_string();
            match classify(&error) {
                SendFailure::RetryAfter(wait) => {
                    self.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
                    rate_limited += 1;
                    warn!(
                        platform = self.platform,
                        target,
                        wait_ms = wait.as_millis() as u64,
                        "Rate limited; sends wait."
                    );
                    let blocked = (!self.global_429).then_some(id);
                    self.pacer().retry_after(blocked, wait, self.now());
                    if rate_limited >= retry.max_rate_limited {
                        return Err(self.gave_up(target, DeliveryError::GaveUp(description)));
                    }
                }
                SendFailure::Transient => {
                    attempts += 1;
                    if attempts >= retry.max_attempts {
                        return Err(self.gave_up(target, DeliveryError::GaveUp(description)));
                    }
                    self.stats.retried.fetch_add(1, Ordering::Relaxed);
                    let delay = backoff.next_delay();
                    debug!(platform = self.platform, target, attempt = attempts, delay_ms = delay.as_millis() as u64, error = %description, "Send failed; retrying.");
                    if !self.wait(delay).await {
                        return Err(self.gave_up(target, DeliveryError::ShuttingDown));
                    }
                }
                SendFailure::Permanent => {
                    return Err(self.gave_up(target, DeliveryError::TargetLost(description)));
                }
                SendFailure::Rejected => {
                    return Err(self.gave_up(target, DeliveryError::Rejected(description)));
                }
            }
        }
    }

    /// Counts and logs a message given up on, with its target; returns `error`. A message cut
    /// off by the shutdown is not given up on (its caller records it not sent, and a scheduled
    /// one goes out at the next start), so it is neither counted failed nor an error.
    fn gave_up(&self, target: i64, error: DeliveryError) -> DeliveryError {
        match error {
            DeliveryError::ShuttingDown => {
                info!(
                    platform = self.platform,
                    target, "Message not sent: the bot is shutting down."
                );
            }
            DeliveryError::TargetLost(_) => {
                self.stats.failed.fetch_add(1, Ordering::Relaxed);
            }
            _ => {
                self.stats.failed.fetch_add(1, Ordering::Relaxed);
                error!(platform = self.platform, target, error = %error, "Message not sent.");
            }
        }
        error
    }
}

/// Marks every subscription of a chat the bot lost inactive, and logs it once.
pub async fn mark_lost(store: &SqlStore, platform: &str, target: &str, reason: &str) {
    match store.deactivate_chat(platform, target, reason).await {
        Ok(changed) => warn!(
            platform,
            target,
            subscriptions = changed,
            reason,
            "The bot lost access to a chat; its subscriptions are now inactive."
        ),
        Err(e) => error!(
            platform,
            target,
            error = %e,
            "The bot lost access to a chat, and marking it inactive failed."
        ),
    }
}
