//! Delivering a rendered post to a chat on some platform. The scheduler renders a slot once and
//! hands the same [`PostBundle`] to the [`Outlet`] of each target's platform; the outlet paces,
//! retries and reports how it went.

use std::sync::Arc;

use futures_util::future::BoxFuture;

use crate::render::posts::PostBundle;
use crate::render::text::Platform;

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
    /// channel id as text. Resolves when the post was sent or finally failed.
    fn deliver(
        &self,
        target: String,
        bundle: Arc<PostBundle>,
    ) -> BoxFuture<'static, Result<(), DeliveryError>>;
}
