//! Sending to Telegram within its limits: every message is paced by one [`SendPacer`], a 429
//! makes every send wait out `retry_after`, a transient failure is retried with backoff, and a
//! chat the bot lost is marked inactive in the store and logged once.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use teloxide::RequestError;
use teloxide::payloads::{SendMessageSetters as _, SendPhotoSetters as _};
use teloxide::prelude::Requester as _;
use teloxide::types::{ChatId, InputFile, LinkPreviewOptions, ParseMode};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, warn};

use crate::delivery::DeliveryError;
use crate::pacing::{PacingLimits, SendFailure, SendPacer, TargetId, classify_telegram_error};
use crate::render::posts::Image;
use crate::render::text::RenderedPost;
use crate::render::text::escape::telegram_html;
use crate::render::text::limits::{TELEGRAM_MESSAGE, split_telegram_html};
use crate::sources::ws::Backoff;
use crate::store::{SqlStore, SubscriptionStore as _};

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

/// Counters of what was sent.
#[derive(Debug, Default)]
pub struct SendStats {
    /// Messages the API accepted.
    pub sent: AtomicU64,
    /// Messages given up on (rejected, target lost, retries exhausted).
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

/// One message of a post.
enum Piece<'a> {
    Photo {
        png: Bytes,
        name: &'a str,
        caption: Option<&'a str>,
    },
    Text(&'a str),
}

/// Sends posts and replies to Telegram chats. Cheap to clone; all clones share one pacer.
#[derive(Clone)]
pub struct TelegramSender {
    inner: Arc<Inner>,
}

struct Inner {
    bot: teloxide::Bot,
    pacer: Mutex<SendPacer>,
    origin: Instant,
    store: Arc<SqlStore>,
    retry: RetrySettings,
    stats: SendStats,
    shutdown: CancellationToken,
}

impl TelegramSender {
    /// A sender through `bot`, marking lost chats inactive in `store`; waits end early when
    /// `shutdown` is cancelled.
    #[must_use]
    pub fn new(
        bot: teloxide::Bot,
        store: Arc<SqlStore>,
        retry: RetrySettings,
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                bot,
                pacer: Mutex::new(SendPacer::new(PacingLimits::telegram())),
                origin: Instant::now(),
                store,
                retry,
                stats: SendStats::default(),
                shutdown,
            }),
        }
    }

    /// The client, for calls that are not sends (`getChatMember`).
    pub fn bot(&self) -> &teloxide::Bot {
        &self.inner.bot
    }

    /// The counters.
    #[must_use]
    pub fn stats(&self) -> &SendStats {
        &self.inner.stats
    }

    /// Sends a rendered Telegram post to `chat`: the photo with its caption when there is an
    /// image, then the messages the caption did not carry; without an image, the messages.
    ///
    /// # Errors
    /// How the first message that could not be sent failed; the rest of the post is not sent.
    pub async fn send_post(
        &self,
        chat: ChatId,
        post: &RenderedPost,
        image: Option<&Image>,
    ) -> Result<(), DeliveryError> {
        let mut pieces = Vec::new();
        let rest: &[String] = match (image, post.caption.as_deref()) {
            (Some(image), caption) => {
                pieces.push(Piece::Photo {
                    png: Bytes::from(image.png.clone()),
                    name: &image.name,
                    caption,
                });
                if caption.is_some() {
                    post.after_photo()
                } else {
                    &post.messages
                }
            }
            (None, _) => &post.messages,
        };
        pieces.extend(rest.iter().map(|m| Piece::Text(m)));
        for piece in &pieces {
            self.send_piece(chat, piece).await?;
        }
        Ok(())
    }

    /// Sends plain `text` (escaped here), split into messages within Telegram's limit.
    ///
    /// # Errors
    /// As [`Self::send_post`].
    pub async fn send_text(&self, chat: ChatId, text: &str) -> Result<(), DeliveryError> {
        for message in split_telegram_html(&telegram_html(text), TELEGRAM_MESSAGE) {
            self.send_piece(chat, &Piece::Text(&message)).await?;
        }
        Ok(())
    }

    fn now(&self) -> Duration {
        self.inner.origin.elapsed()
    }

    fn pacer(&self) -> std::sync::MutexGuard<'_, SendPacer> {
        self.inner
            .pacer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Sleeps for `wait`, or returns false at shutdown.
    async fn wait(&self, wait: Duration) -> bool {
        if wait.is_zero() {
            return true;
        }
        tokio::select! {
            () = tokio::time::sleep(wait) => true,
            () = self.inner.shutdown.cancelled() => false,
        }
    }

    async fn request(&self, chat: ChatId, piece: &Piece<'_>) -> Result<(), RequestError> {
        let bot = &self.inner.bot;
        match piece {
            Piece::Photo { png, name, caption } => {
                let photo = InputFile::memory(png.clone()).file_name((*name).to_owned());
                let mut request = bot.send_photo(chat, photo);
                if let Some(caption) = caption {
                    request = request.caption(*caption).parse_mode(ParseMode::Html);
                }
                request.await?;
            }
            Piece::Text(text) => {
                bot.send_message(chat, *text)
                    .parse_mode(ParseMode::Html)
                    .link_preview_options(LinkPreviewOptions {
                        is_disabled: true,
                        url: None,
                        prefer_small_media: false,
                        prefer_large_media: false,
                        show_above_text: false,
                    })
                    .await?;
            }
        }
        Ok(())
    }

    /// Sends one message: paced, waiting out 429s, retrying transient failures.
    async fn send_piece(&self, chat: ChatId, piece: &Piece<'_>) -> Result<(), DeliveryError> {
        let stats = &self.inner.stats;
        let retry = self.inner.retry;
        let target = TargetId(chat.0);
        let is_group = chat.0 < 0;
        let mut backoff = Backoff::new(retry.backoff_initial, retry.backoff_max);
        let (mut attempts, mut rate_limited) = (0_u32, 0_u32);
        loop {
            let wait = self.pacer().reserve(target, is_group, self.now());
            if !self.wait(wait).await {
                return Err(self.gave_up(chat, DeliveryError::ShuttingDown));
            }
            let error = match self.request(chat, piece).await {
                Ok(()) => {
                    stats.sent.fetch_add(1, Ordering::Relaxed);
                    return Ok(());
                }
                Err(e) => e,
            };
            let description = error.to_string();
            match classify(&error) {
                SendFailure::RetryAfter(wait) => {
                    stats.rate_limited.fetch_add(1, Ordering::Relaxed);
                    rate_limited += 1;
                    warn!(
                        chat = chat.0,
                        wait_ms = wait.as_millis() as u64,
                        "Telegram rate limit; every send waits."
                    );
                    // Telegram's flood control is per bot: hold every send, not only this chat's.
                    self.pacer().retry_after(None, wait, self.now());
                    if rate_limited >= retry.max_rate_limited {
                        return Err(self.gave_up(chat, DeliveryError::GaveUp(description)));
                    }
                }
                SendFailure::Transient => {
                    attempts += 1;
                    if attempts >= retry.max_attempts {
                        return Err(self.gave_up(chat, DeliveryError::GaveUp(description)));
                    }
                    stats.retried.fetch_add(1, Ordering::Relaxed);
                    let delay = backoff.next_delay();
                    debug!(chat = chat.0, attempt = attempts, delay_ms = delay.as_millis() as u64, error = %description, "Telegram send failed; retrying.");
                    if !self.wait(delay).await {
                        return Err(self.gave_up(chat, DeliveryError::ShuttingDown));
                    }
                }
                SendFailure::Permanent => {
                    self.lost(chat, &description).await;
                    return Err(self.gave_up(chat, DeliveryError::TargetLost(description)));
                }
                SendFailure::Rejected => {
                    return Err(self.gave_up(chat, DeliveryError::Rejected(description)));
                }
            }
        }
    }

    /// Counts and logs a message given up on, with its target; returns `error`.
    fn gave_up(&self, chat: ChatId, error: DeliveryError) -> DeliveryError {
        self.inner.stats.failed.fetch_add(1, Ordering::Relaxed);
        if !matches!(error, DeliveryError::TargetLost(_)) {
            error!(platform = "telegram", chat = chat.0, error = %error, "Telegram message not sent.");
        }
        error
    }

    /// Marks every subscription of `chat` inactive and logs it once.
    async fn lost(&self, chat: ChatId, reason: &str) {
        let id = chat.0.to_string();
        match self
            .inner
            .store
            .deactivate_chat("telegram", &id, reason)
            .await
        {
            Ok(changed) => warn!(
                platform = "telegram",
                chat = chat.0,
                subscriptions = changed,
                reason,
                "The bot lost access to a Telegram chat; its subscriptions are now inactive."
            ),
            Err(e) => error!(
                platform = "telegram",
                chat = chat.0,
                error = %e,
                "The bot lost access to a Telegram chat, and marking it inactive failed."
            ),
        }
    }
}

/// What to do about a failed request: by the error's text and retry hint, since teloxide drops
/// the HTTP status and reports e.g. a 403 "bot was kicked" as an unknown API error.
fn classify(error: &RequestError) -> SendFailure {
    match error {
        RequestError::RetryAfter(secs) => SendFailure::RetryAfter(secs.duration()),
        RequestError::Api(api) => classify_telegram_error(None, &api.to_string(), None),
        // A group became a supergroup: the old id is gone (the new one must subscribe again).
        RequestError::MigrateToChatId(_) => SendFailure::Permanent,
        RequestError::Network(_) | RequestError::InvalidJson { .. } | RequestError::Io(_) => {
            SendFailure::Transient
        }
    }
}
