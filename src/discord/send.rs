//! Scheduled posts to Discord channels through serenity's HTTP client, paced by [`Paced`]
//! (5 messages per 5 s per channel, 50 requests per second overall). A channel the bot lost
//! (403 / 404, Missing Access, Unknown Channel) has its subscriptions marked inactive, once.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use poise::serenity_prelude as serenity;
use serenity::{ChannelId, CreateMessage, EditMessage, Http, HttpError, MessageId};
use tokio_util::sync::CancellationToken;

use super::message::{DiscordPost, no_pings};
use crate::delivery::{DeliveryError, Outlet, Paced, RetrySettings, SendStats, mark_lost};
use crate::pacing::{PacingLimits, SendFailure, classify_discord};
use crate::render::posts::PostBundle;
use crate::render::text::Platform;
use crate::store::SqlStore;

/// Sends posts to Discord channels. Cheap to clone.
#[derive(Clone)]
pub struct DiscordSender {
    inner: Arc<Inner>,
}

struct Inner {
    http: Arc<Http>,
    paced: Paced,
    store: Arc<SqlStore>,
}

impl DiscordSender {
    /// A sender through `http`, marking lost channels inactive in `store`.
    #[must_use]
    pub fn new(http: Arc<Http>, store: Arc<SqlStore>, shutdown: CancellationToken) -> Self {
        let paced = Paced::new(
            "discord",
            PacingLimits::discord(),
            RetrySettings::default(),
            false,
            shutdown,
        );
        Self {
            inner: Arc::new(Inner { http, paced, store }),
        }
    }

    /// The counters.
    #[must_use]
    pub fn stats(&self) -> &SendStats {
        self.inner.paced.stats()
    }

    /// Posts `post` to `channel`: content, embed and image in one message, nobody pinged.
    /// Returns the message's id.
    ///
    /// # Errors
    /// How the post finally failed; a lost channel is marked inactive first.
    pub async fn send_post(&self, channel: u64, post: &DiscordPost) -> Result<u64, DeliveryError> {
        let http = &self.inner.http;
        let attempt = || async move {
            let mut message = CreateMessage::new().allowed_mentions(no_pings());
            if !post.content.is_empty() {
                message = message.content(&post.content);
            }
            if let Some(embed) = &post.embed {
                message = message.embed(embed.clone());
            }
            if let Some(file) = &post.file {
                message = message.add_file(file.clone());
            }
            ChannelId::new(channel)
                .send_message(http, message)
                .await
                .map(|m| m.id.get())
        };
        self.paced(channel, attempt).await
    }

    /// Replaces message `id` in `channel` with `post` (text and embed; alerts have no image).
    ///
    /// # Errors
    /// As [`Self::send_post`].
    pub async fn edit_post(
        &self,
        channel: u64,
        id: u64,
        post: &DiscordPost,
    ) -> Result<(), DeliveryError> {
        let http = &self.inner.http;
        let attempt = || async move {
            let mut edit = EditMessage::new()
                .content(&post.content)
                .allowed_mentions(no_pings());
            if let Some(embed) = &post.embed {
                edit = edit.embed(embed.clone());
            }
            ChannelId::new(channel)
                .edit_message(http, MessageId::new(id), edit)
                .await
                .map(|_| ())
        };
        self.paced(channel, attempt).await
    }
}

impl DiscordSender {
    /// Runs `attempt` against `channel` through the pacer; a channel the bot lost is marked
    /// inactive.
    async fn paced<T, F, Fut>(&self, channel: u64, attempt: F) -> Result<T, DeliveryError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = serenity::Result<T>>,
    {
        let target = i64::try_from(channel).unwrap_or(i64::MAX);
        let result = self
            .inner
            .paced
            .send(target, false, attempt, classify)
            .await;
        if let Err(DeliveryError::TargetLost(reason)) = &result {
            mark_lost(&self.inner.store, "discord", &channel.to_string(), reason).await;
        }
        result
    }
}

/// What to do about a failed request. serenity keeps the status and Discord's JSON error code
/// but not a 429's `retry_after`, so a 429 waits the pacing module's fallback.
pub fn classify(error: &serenity::Error) -> SendFailure {
    match error {
        serenity::Error::Http(HttpError::UnsuccessfulRequest(response)) => {
            let code = u64::try_from(response.error.code).ok().filter(|c| *c > 0);
            classify_discord(Some(response.status_code.as_u16()), code, None)
        }
        serenity::Error::Http(HttpError::Request(_)) | serenity::Error::Io(_) => {
            SendFailure::Transient
        }
        // A bad response body, a model or builder error: sending again would not help, and
        // the message may even have been posted.
        _ => SendFailure::Rejected,
    }
}

impl Outlet for DiscordSender {
    fn platform(&self) -> Platform {
        Platform::Discord
    }

    fn stats(&self) -> Option<&SendStats> {
        Some(Self::stats(self))
    }

    fn deliver_with_id(
        &self,
        target: String,
        bundle: Arc<PostBundle>,
    ) -> BoxFuture<'static, Result<Option<String>, DeliveryError>> {
        let sender = self.clone();
        Box::pin(async move {
            let channel = snowflake(&target)?;
            let post = DiscordPost::from_bundle(&bundle)
                .ok_or_else(|| DeliveryError::Rejected("no Discord rendering".to_owned()))?;
            let id = sender.send_post(channel, &post).await?;
            Ok(Some(id.to_string()))
        })
    }

    fn edit(
        &self,
        target: String,
        message_id: String,
        bundle: Arc<PostBundle>,
    ) -> BoxFuture<'static, Result<(), DeliveryError>> {
        let sender = self.clone();
        Box::pin(async move {
            let channel = snowflake(&target)?;
            let id = snowflake(&message_id)?;
            let post = DiscordPost::from_bundle(&bundle)
                .ok_or_else(|| DeliveryError::Rejected("no Discord rendering".to_owned()))?;
            sender.edit_post(channel, id, &post).await
        })
    }
}

fn snowflake(id: &str) -> Result<u64, DeliveryError> {
    id.parse()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| DeliveryError::Rejected(format!("{id:?} is not a Discord id")))
}
