//! `/subscribe`, `/unsubscribe` and `/subscriptions` once the adapter has checked that the user
//! may manage the chat: the schedule checked for real, the subscription stored, and a plain
//! reply for the user. The same on every platform.

use chrono::{DateTime, Utc};

use super::{Command, SOMETHING_WENT_WRONG};
use crate::analytics::Window;
use crate::render::text::PostKind;
use crate::schedule::Schedule;
use crate::store::{SqlStore, Subscription, SubscriptionStore as _};

/// Where a subscription command was given.
#[derive(Clone)]
pub struct ManageContext<'a> {
    /// The store that keeps subscriptions.
    pub store: &'a SqlStore,
    /// `telegram` or `discord`.
    pub platform: &'a str,
    /// The chat or channel, as text.
    pub chat_id: String,
    /// The Discord server, if any.
    pub guild_id: Option<String>,
    /// Who asked, as text.
    pub user: String,
    /// The window the user chose explicitly (Discord's `window` option), if any.
    pub window: Option<Window>,
    /// The window when neither the user nor the schedule names one (`summary.default_window`).
    pub default_window: Window,
    /// The time zone schedules are read in (`summary.time_zone`).
    pub tz: chrono_tz::Tz,
    /// Now, ms since the epoch.
    pub now_ms: i64,
}

/// Carries out a subscription command and returns the reply (plain text; the adapter escapes
/// it). Storage failures are logged and answered with [`SOMETHING_WENT_WRONG`].
pub async fn manage(command: &Command, ctx: &ManageContext<'_>) -> String {
    match try_manage(command, ctx).await {
        Ok(reply) => reply,
        Err(e) => {
            tracing::warn!(?command, error = %e, "Subscription command failed.");
            SOMETHING_WENT_WRONG.to_owned()
        }
    }
}

async fn try_manage(command: &Command, ctx: &ManageContext<'_>) -> anyhow::Result<String> {
    let store = ctx.store;
    match command {
        Command::Subscribe { kind, schedule } => {
            let schedule = match Schedule::parse(schedule, ctx.tz) {
                Ok(s) => s,
                Err(e) => return Ok(format!("{e}.\nUsage: /subscribe <kind> <schedule>")),
            };
            let window = ctx
                .window
                .or(schedule.window())
                .unwrap_or(ctx.default_window);
            let sub = Subscription {
                platform: ctx.platform.to_owned(),
                chat_id: ctx.chat_id.clone(),
                guild_id: ctx.guild_id.clone(),
                kind: kind.as_str().to_owned(),
                coin: String::new(),
                window: window.label().to_owned(),
                schedule: schedule.text().to_owned(),
                created_by: ctx.user.clone(),
                created_ms: ctx.now_ms,
                active: true,
                inactive_reason: None,
            };
            store.upsert_subscription(&sub).await?;
            let now = DateTime::<Utc>::from_timestamp_millis(ctx.now_ms).unwrap_or_default();
            let mut reply = format!("Subscribed: {}.", describe(&sub));
            if *kind == PostKind::Alert {
                reply.push_str(" Alerts are posted when they fire.");
            } else if let Some(next) = schedule.upcoming(now, 1).first() {
                reply.push_str(&format!(
                    " Next post: {}.",
                    next.format("%Y-%m-%d %H:%M %Z")
                ));
            }
            Ok(reply)
        }
        Command::Unsubscribe { kind } => {
            let name = kind.map(PostKind::as_str);
            let removed = store
                .remove_subscriptions(ctx.platform, &ctx.chat_id, name)
                .await?;
            Ok(match (removed, name) {
                (0, Some(kind)) => format!("This chat has no {kind} subscription."),
                (0, None) => "This chat has no subscriptions.".to_owned(),
                (1, _) => "Removed 1 subscription.".to_owned(),
                (n, _) => format!("Removed {n} subscriptions."),
            })
        }
        Command::Subscriptions => {
            let subs = store.chat_subscriptions(ctx.platform, &ctx.chat_id).await?;
            if subs.is_empty() {
                return Ok(
                    "This chat has no subscriptions. Add one with /subscribe liq 24h.".to_owned(),
                );
            }
            let mut reply = String::from("Subscriptions here:");
            for sub in &subs {
                reply.push_str(&format!("\n- {}", describe(sub)));
                if !sub.active {
                    let reason = sub.inactive_reason.as_deref().unwrap_or("no access");
                    reply.push_str(&format!(" (stopped: {reason})"));
                }
            }
            Ok(reply)
        }
        _ => Ok(super::help_text()),
    }
}

/// `summary of all coins over 24h, schedule daily 08:00`.
fn describe(sub: &Subscription) -> String {
    let coin = match (sub.coin.as_str(), sub.kind.as_str()) {
        ("", "heatmap" | "levels") => "BTC",
        ("", _) => "all coins",
        (coin, _) => coin,
    };
    let what = match sub.kind.as_str() {
        "alert" => "alerts".to_owned(),
        "fng" => "Fear & Greed".to_owned(),
        kind => format!("{kind} of {coin} over {}", sub.window),
    };
    format!("{what}, schedule {}", sub.schedule)
}
