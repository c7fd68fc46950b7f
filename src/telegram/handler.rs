//! One incoming message or channel post: parse it with the command core, check the per-chat and
//! per-user rate limits and admin rights, answer, and send the answer back to the same chat.

use std::sync::{Arc, PoisonError};

use teloxide::RequestError;
use teloxide::prelude::Requester as _;
use teloxide::types::{ChatId, Me, Message};
use tracing::{debug, info, warn};

use super::TelegramApp;
use crate::commands::{
    Answer, AnswerContext, ChatVerdict, Command, CommandDefaults, ManageContext, answer,
    chat_cooldown_text, manage, parse,
};
use crate::pacing::cooldown_text;
use crate::render::text::Platform;

/// The reply to a non-admin who tries to change subscriptions.
pub const ADMINS_ONLY: &str = "Only this chat's admins can change or list its subscriptions.";

/// The reply to an unknown command in a private chat.
pub const UNKNOWN_COMMAND: &str = "I don't know that command. /help lists what I can do.";

/// Handles a message or channel post. Never fails: every problem is logged or answered.
pub(super) async fn on_message(
    msg: Message,
    me: Me,
    app: Arc<TelegramApp>,
) -> Result<(), RequestError> {
    let Some(text) = msg.text() else {
        return Ok(());
    };
    let defaults = CommandDefaults::from_config(&app.config);
    let parsed = match parse(text, Some(me.username()), &defaults) {
        Ok(Some(command)) => Ok(command),
        Ok(None) => {
            // In a private chat every command is for us: say so rather than stay silent.
            if msg.chat.is_private() && text.trim_start().starts_with('/') {
                reply(&app, msg.chat.id, UNKNOWN_COMMAND).await;
            }
            return Ok(());
        }
        Err(usage) => Err(usage),
    };
    // Every command for us counts, bad ones too: each would get a reply.
    if !chat_allows(&app, &msg).await {
        return Ok(());
    }
    let command = match parsed {
        Ok(command) => command,
        Err(usage) => {
            reply(&app, msg.chat.id, &usage.to_string()).await;
            return Ok(());
        }
    };
    debug!(chat = msg.chat.id.0, ?command, "Telegram command.");
    let now_ms = chrono::Utc::now().timestamp_millis();
    if command.render_request(&defaults, now_ms).is_some()
        && let Err(wait) = check_rate(&app, &msg)
    {
        reply(&app, msg.chat.id, &cooldown_text(wait)).await;
        return Ok(());
    }
    let ctx = AnswerContext {
        store: &app.store,
        renderer: &app.renderer,
        config: &app.config,
        now_ms,
        pollers: app.pollers.as_deref(),
    };
    match answer(&command, &ctx).await {
        Answer::Post(bundle) => {
            let post = bundle
                .posts
                .iter()
                .find(|p| p.platform == Platform::Telegram);
            if let Some(post) = post {
                // The sender logs failures with their target.
                let _ = app
                    .sender
                    .send_post(msg.chat.id, post, bundle.images.first())
                    .await;
            }
        }
        Answer::Text(text) => reply(&app, msg.chat.id, &text).await,
        Answer::Manage(command) => {
            let text = manage_reply(&app, &msg, &command, now_ms).await;
            reply(&app, msg.chat.id, &text).await;
        }
    }
    Ok(())
}

/// Sends plain `text`; the sender escapes it and logs failures.
async fn reply(app: &TelegramApp, chat: ChatId, text: &str) {
    let _ = app.sender.send_text(chat, text).await;
}

/// The per-chat limit on commands in groups and channels: whether to answer this one. A chat
/// over its limit is told so once per cooldown and otherwise gets nothing.
async fn chat_allows(app: &TelegramApp, msg: &Message) -> bool {
    if msg.chat.is_private() {
        return true;
    }
    let chat = msg.chat.id;
    let verdict = app
        .chat_limiter
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .check(chat.0.cast_unsigned(), app.origin.elapsed());
    match verdict {
        ChatVerdict::Allow => true,
        ChatVerdict::Refuse(wait) => {
            info!(
                chat = chat.0,
                wait_s = wait.as_secs(),
                "Telegram chat over its command limit."
            );
            reply(app, chat, &chat_cooldown_text(wait)).await;
            false
        }
        ChatVerdict::Silent => false,
    }
}

/// The per-user limit on commands that render images, keyed by the user, else the sending
/// chat (anonymous admins, channels).
fn check_rate(app: &TelegramApp, msg: &Message) -> Result<(), std::time::Duration> {
    let who = match (&msg.from, &msg.sender_chat) {
        (Some(user), _) => user.id.0,
        (None, Some(chat)) => chat.id.0.unsigned_abs(),
        (None, None) => msg.chat.id.0.unsigned_abs(),
    };
    app.limiter
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .check(who, app.origin.elapsed())
}

async fn manage_reply(app: &TelegramApp, msg: &Message, command: &Command, now_ms: i64) -> String {
    match may_manage(app, msg).await {
        Ok(true) => {}
        Ok(false) => return ADMINS_ONLY.to_owned(),
        Err(e) => {
            warn!(chat = msg.chat.id.0, error = %e, "Telegram getChatMember failed.");
            return "Could not check your rights in this chat; try again in a minute.".to_owned();
        }
    }
    let user = match (&msg.from, &msg.sender_chat) {
        (Some(user), _) => user.id.0.to_string(),
        (None, Some(chat)) => chat.id.0.to_string(),
        (None, None) => msg.chat.id.0.to_string(),
    };
    let ctx = ManageContext {
        store: &app.store,
        platform: Platform::Telegram.as_str(),
        chat_id: msg.chat.id.0.to_string(),
        guild_id: None,
        user,
        window: None,
        default_window: app.config.summary.default_window(),
        tz: app.config.summary.tz(),
        now_ms,
    };
    manage(command, &ctx).await
}

/// Whether the sender may manage this chat's subscriptions: anyone in their own private chat;
/// in a channel, whoever posts (only admins can); in a group, an anonymous admin (the message
/// comes from the group itself) or a member whose `getChatMember` status is creator or
/// administrator. Someone posting on behalf of another channel may not.
async fn may_manage(app: &TelegramApp, msg: &Message) -> Result<bool, RequestError> {
    let chat = &msg.chat;
    if chat.is_private() || chat.is_channel() {
        return Ok(true);
    }
    if let Some(sender) = &msg.sender_chat {
        return Ok(sender.id == chat.id);
    }
    let Some(user) = &msg.from else {
        return Ok(false);
    };
    let member = app.sender.bot().get_chat_member(chat.id, user.id).await?;
    Ok(member.is_privileged())
}
