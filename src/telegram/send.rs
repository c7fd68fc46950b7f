//! Sending to Telegram within its limits, through [`Paced`]: about one message per second per
//! chat, 20 per minute per group, 30 per second overall; a 429 holds every send (Telegram's
//! flood control is per bot); a chat the bot lost is marked inactive in the store, once.

use std::sync::Arc;

use bytes::Bytes;
use teloxide::RequestError;
use teloxide::payloads::{
    EditMessageTextSetters as _, SendMessageSetters as _, SendPhotoSetters as _,
};
use teloxide::prelude::Requester as _;
use teloxide::types::{ChatId, InputFile, LinkPreviewOptions, MessageId, ParseMode};
use tokio_util::sync::CancellationToken;

use crate::delivery::{DeliveryError, Paced, RetrySettings, SendStats, mark_lost};
use crate::pacing::{PacingLimits, SendFailure, classify_telegram_error};
use crate::render::posts::Image;
use crate::render::text::RenderedPost;
use crate::render::text::escape::telegram_html;
use crate::render::text::limits::{TELEGRAM_MESSAGE, split_telegram_html};
use crate::store::SqlStore;

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
    paced: Paced,
    store: Arc<SqlStore>,
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
        let paced = Paced::new("telegram", PacingLimits::telegram(), retry, true, shutdown);
        Self {
            inner: Arc::new(Inner { bot, paced, store }),
        }
    }

    /// The client, for calls that are not sends (`getChatMember`).
    pub fn bot(&self) -> &teloxide::Bot {
        &self.inner.bot
    }

    /// The counters.
    #[must_use]
    pub fn stats(&self) -> &SendStats {
        self.inner.paced.stats()
    }

    /// Sends a rendered Telegram post to `chat`: the photo with its caption when there is an
    /// image, then the messages the caption did not carry; without an image, the messages.
    ///
    /// Returns the id of the first message (the photo, or the first text), if any was sent.
    ///
    /// # Errors
    /// How the first message that could not be sent failed; the rest of the post is not sent.
    pub async fn send_post(
        &self,
        chat: ChatId,
        post: &RenderedPost,
        image: Option<&Image>,
    ) -> Result<Option<MessageId>, DeliveryError> {
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
        let mut first = None;
        for piece in &pieces {
            let id = self.send_piece(chat, piece).await?;
            first.get_or_insert(id);
        }
        Ok(first)
    }

    /// Replaces the text of message `id` in `chat` with the post's first message (a text post
    /// such as an alert), paced like a send.
    ///
    /// # Errors
    /// As [`Self::send_post`].
    pub async fn edit_text(
        &self,
        chat: ChatId,
        id: MessageId,
        post: &RenderedPost,
    ) -> Result<(), DeliveryError> {
        let Some(text) = post.messages.first() else {
            return Err(DeliveryError::Rejected("an empty post".to_owned()));
        };
        let bot = &self.inner.bot;
        let attempt = || async move {
            bot.edit_message_text(chat, id, text.as_str())
                .parse_mode(ParseMode::Html)
                .await
                .map(|_| ())
        };
        let result = self
            .inner
            .paced
            .send(chat.0, chat.0 < 0, attempt, classify)
            .await;
        if let Err(DeliveryError::TargetLost(reason)) = &result {
            mark_lost(&self.inner.store, "telegram", &chat.0.to_string(), reason).await;
        }
        result
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

    async fn request(&self, chat: ChatId, piece: &Piece<'_>) -> Result<MessageId, RequestError> {
        let bot = &self.inner.bot;
        match piece {
            Piece::Photo { png, name, caption } => {
                let photo = InputFile::memory(png.clone()).file_name((*name).to_owned());
                let mut request = bot.send_photo(chat, photo);
                if let Some(caption) = caption {
                    request = request.caption(*caption).parse_mode(ParseMode::Html);
                }
                Ok(request.await?.id)
            }
            Piece::Text(text) => bot
                .send_message(chat, *text)
                .parse_mode(ParseMode::Html)
                .link_preview_options(LinkPreviewOptions {
                    is_disabled: true,
                    url: None,
                    prefer_small_media: false,
                    prefer_large_media: false,
                    show_above_text: false,
                })
                .await
                .map(|m| m.id),
        }
    }

    /// Sends one message: paced, waiting out 429s, retrying transient failures; a chat the
    /// bot lost is marked inactive.
    async fn send_piece(
        &self,
        chat: ChatId,
        piece: &Piece<'_>,
    ) -> Result<MessageId, DeliveryError> {
        let result = self
            .inner
            .paced
            .send(chat.0, chat.0 < 0, || self.request(chat, piece), classify)
            .await;
        if let Err(DeliveryError::TargetLost(reason)) = &result {
            mark_lost(&self.inner.store, "telegram", &chat.0.to_string(), reason).await;
        }
        result
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
