//! The slash commands: each a thin adapter that turns its options back into the command text
//! the platform-independent core parses (`/liq eth 4h`), so Discord and Telegram accept the
//! same coins and windows and make the same render requests. Image answers are deferred first
//! (Discord wants an answer within 3 s) and then sent as an embed with the PNG attached.

use std::sync::{Arc, PoisonError};

use poise::serenity_prelude as serenity;
use poise::{ChoiceParameter, CreateReply};
use serenity::{AutocompleteChoice, CreateAutocompleteResponse};
use tracing::info;

use super::DiscordApp;
use super::message::{DiscordPost, no_pings, window_buttons};
use crate::analytics::Window;
use crate::commands::{
    Answer, AnswerContext, COMMANDS, ChatVerdict, Command, CommandDefaults, ManageContext, answer,
    chat_cooldown_text, manage, parse,
};
use crate::pacing::cooldown_text;
use crate::render::text::escape::discord_markdown;
use crate::render::text::{Platform, PostKind};

/// The error type of the commands; poise logs it through `on_error`.
pub type Error = anyhow::Error;
/// The context every command gets.
pub type Context<'a> = poise::Context<'a, Arc<DiscordApp>, Error>;

/// The reply to a member without Manage Channels who tries to change subscriptions.
pub const MANAGE_CHANNELS_ONLY: &str =
    "Only members who can manage channels can change or list this server's subscriptions.";
/// Discord's limit on a slash command description.
const DESCRIPTION_MAX: usize = 100;
/// Most autocomplete choices Discord shows.
const AUTOCOMPLETE_MAX: usize = 25;

/// A window, offered as a fixed choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ChoiceParameter)]
pub enum WindowChoice {
    /// 1 hour.
    #[name = "1h"]
    H1,
    /// 4 hours.
    #[name = "4h"]
    H4,
    /// 12 hours.
    #[name = "12h"]
    H12,
    /// 24 hours.
    #[name = "24h"]
    H24,
    /// 7 days.
    #[name = "7d"]
    D7,
}

impl WindowChoice {
    fn window(self) -> Window {
        match self {
            Self::H1 => Window::H1,
            Self::H4 => Window::H4,
            Self::H12 => Window::H12,
            Self::H24 => Window::H24,
            Self::D7 => Window::D7,
        }
    }
}

/// A post kind to subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ChoiceParameter)]
pub enum KindChoice {
    /// The summary.
    #[name = "summary"]
    Summary,
    /// The heatmap.
    #[name = "heatmap"]
    Heatmap,
    /// The levels map.
    #[name = "levels"]
    Levels,
    /// Fear & Greed.
    #[name = "fng"]
    FearGreed,
    /// Alerts.
    #[name = "alert"]
    Alert,
}

impl KindChoice {
    fn kind(self) -> PostKind {
        match self {
            Self::Summary => PostKind::Summary,
            Self::Heatmap => PostKind::Heatmap,
            Self::Levels => PostKind::Levels,
            Self::FearGreed => PostKind::FearGreed,
            Self::Alert => PostKind::Alert,
        }
    }
}

/// Every slash command, with its description from the one registry.
#[must_use]
pub fn all() -> Vec<poise::Command<Arc<DiscordApp>, Error>> {
    let mut commands = vec![
        liq(),
        heatmap(),
        levels(),
        fng(),
        top(),
        help(),
        subscribe(),
        unsubscribe(),
        subscriptions(),
    ];
    for command in &mut commands {
        if let Some(spec) = COMMANDS.iter().find(|c| c.name == command.name) {
            let mut description: String = spec.description.chars().take(DESCRIPTION_MAX).collect();
            if spec.description.chars().count() > DESCRIPTION_MAX {
                description.pop();
                description.push('…');
            }
            command.description = Some(description.into());
        }
    }
    commands
}

/// `/liq [coin] [window]`.
#[poise::command(slash_command)]
pub async fn liq(
    ctx: Context<'_>,
    #[description = "A coin (BTC, ETH, ...); all coins when left out"]
    #[autocomplete = "autocomplete_coin"]
    #[max_length = 32] // MAX_ARG_LEN
    coin: Option<String>,
    #[description = "The window"] window: Option<WindowChoice>,
) -> Result<(), Error> {
    run(ctx, command_text("liq", coin, window)).await
}

/// `/heatmap [coin] [window]`.
#[poise::command(slash_command)]
pub async fn heatmap(
    ctx: Context<'_>,
    #[description = "A coin (BTC unless you name one)"]
    #[autocomplete = "autocomplete_coin"]
    #[max_length = 32] // MAX_ARG_LEN
    coin: Option<String>,
    #[description = "The window"] window: Option<WindowChoice>,
) -> Result<(), Error> {
    run(ctx, command_text("heatmap", coin, window)).await
}

/// `/levels [coin]`.
#[poise::command(slash_command)]
pub async fn levels(
    ctx: Context<'_>,
    #[description = "A coin (BTC unless you name one)"]
    #[autocomplete = "autocomplete_coin"]
    #[max_length = 32] // MAX_ARG_LEN
    coin: Option<String>,
) -> Result<(), Error> {
    run(ctx, command_text("levels", coin, None)).await
}

/// `/fng`.
#[poise::command(slash_command)]
pub async fn fng(ctx: Context<'_>) -> Result<(), Error> {
    run(ctx, "/fng".to_owned()).await
}

/// `/top [window]`.
#[poise::command(slash_command)]
pub async fn top(
    ctx: Context<'_>,
    #[description = "The window"] window: Option<WindowChoice>,
) -> Result<(), Error> {
    run(ctx, command_text("top", None, window)).await
}

/// `/help`.
#[poise::command(slash_command)]
pub async fn help(ctx: Context<'_>) -> Result<(), Error> {
    run(ctx, "/help".to_owned()).await
}

/// `/subscribe kind schedule [window] [channel]`: hidden from members without Manage Channels.
#[poise::command(
    slash_command,
    guild_only,
    default_member_permissions = "MANAGE_CHANNELS"
)]
pub async fn subscribe(
    ctx: Context<'_>,
    #[description = "What to post"] kind: KindChoice,
    #[description = "When: 1h, 4h, 24h, hourly, daily 08:00 or a cron line"]
    #[max_length = 64] // MAX_SCHEDULE_LEN
    schedule: String,
    #[description = "The window a summary covers (the schedule's by default)"] window: Option<
        WindowChoice,
    >,
    #[description = "Where to post (this channel by default)"] channel: Option<serenity::ChannelId>,
) -> Result<(), Error> {
    if !channel_allows(ctx).await? {
        return Ok(());
    }
    let defaults = CommandDefaults::from_config(&ctx.data().config);
    let text = format!("/subscribe {} {schedule}", kind.kind().as_str());
    let command = match parse(&text, None, &defaults) {
        Ok(Some(command)) => command,
        Ok(None) => return Ok(()),
        Err(usage) => return ephemeral(ctx, &usage.to_string()).await,
    };
    manage_command(ctx, &command, window.map(WindowChoice::window), channel).await
}

/// `/unsubscribe [kind] [channel]`.
#[poise::command(
    slash_command,
    guild_only,
    default_member_permissions = "MANAGE_CHANNELS"
)]
pub async fn unsubscribe(
    ctx: Context<'_>,
    #[description = "The kind to stop; every kind when left out"] kind: Option<KindChoice>,
    #[description = "The channel (this one by default)"] channel: Option<serenity::ChannelId>,
) -> Result<(), Error> {
    if !channel_allows(ctx).await? {
        return Ok(());
    }
    let command = Command::Unsubscribe {
        kind: kind.map(KindChoice::kind),
    };
    manage_command(ctx, &command, None, channel).await
}

/// `/subscriptions [channel]`.
#[poise::command(
    slash_command,
    guild_only,
    default_member_permissions = "MANAGE_CHANNELS"
)]
pub async fn subscriptions(
    ctx: Context<'_>,
    #[description = "The channel (this one by default)"] channel: Option<serenity::ChannelId>,
) -> Result<(), Error> {
    if !channel_allows(ctx).await? {
        return Ok(());
    }
    manage_command(ctx, &Command::Subscriptions, None, channel).await
}

/// `/name coin window` as a user would type it.
fn command_text(name: &str, coin: Option<String>, window: Option<WindowChoice>) -> String {
    let mut text = format!("/{name}");
    for arg in [coin, window.map(|w| w.name().to_owned())]
        .into_iter()
        .flatten()
    {
        text.push(' ');
        text.push_str(&arg);
    }
    text
}

/// A short reply only the user sees.
async fn ephemeral(ctx: Context<'_>, text: &str) -> Result<(), Error> {
    ctx.send(
        CreateReply::default()
            .content(discord_markdown(text))
            .ephemeral(true)
            .allowed_mentions(no_pings()),
    )
    .await?;
    Ok(())
}

/// The per-channel limit on commands in a server: whether to answer this one. The first
/// command over the limit gets a short reply only its author sees; the rest of the cooldown
/// gets no answer at all (Discord then tells the author the bot did not respond), so the
/// bot's replies never grow with a flood.
async fn channel_allows(ctx: Context<'_>) -> Result<bool, Error> {
    if ctx.guild_id().is_none() {
        return Ok(true);
    }
    let app = ctx.data();
    let channel = ctx.channel_id();
    let verdict = app
        .chat_limiter
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .check(channel.get(), app.origin.elapsed());
    match verdict {
        ChatVerdict::Allow => Ok(true),
        ChatVerdict::Refuse(wait) => {
            info!(channel = %channel, wait_s = wait.as_secs(), "Discord channel over its command limit.");
            ephemeral(ctx, &chat_cooldown_text(wait)).await?;
            Ok(false)
        }
        ChatVerdict::Silent => Ok(false),
    }
}

/// Parses `text` with the command core and answers it.
async fn run(ctx: Context<'_>, text: String) -> Result<(), Error> {
    if !channel_allows(ctx).await? {
        return Ok(());
    }
    let app = ctx.data();
    let defaults = CommandDefaults::from_config(&app.config);
    let command = match parse(&text, None, &defaults) {
        Ok(Some(command)) => command,
        Ok(None) => Command::Help,
        Err(usage) => return ephemeral(ctx, &usage.to_string()).await,
    };
    let now_ms = chrono::Utc::now().timestamp_millis();
    let request = command.render_request(&defaults, now_ms);
    if request.is_some()
        && let Err(wait) = app.check_rate(ctx.author().id.get())
    {
        return ephemeral(ctx, &cooldown_text(wait)).await;
    }
    if request.is_some() {
        ctx.defer().await?;
    }
    let answer_ctx = AnswerContext {
        store: &app.store,
        renderer: &app.renderer,
        config: &app.config,
        now_ms,
        pollers: app.pollers.as_deref(),
    };
    match answer(&command, &answer_ctx).await {
        Answer::Post(bundle) => {
            let Some(post) = DiscordPost::from_bundle(&bundle) else {
                return Ok(());
            };
            let (coin, window) = match &command {
                Command::Summary { coin, window } => (coin.as_deref(), *window),
                Command::Top { window } => (None, *window),
                _ => (None, defaults.window),
            };
            let mut reply = CreateReply::default()
                .allowed_mentions(no_pings())
                .components(window_buttons(bundle.kind, coin, window));
            if !post.content.is_empty() {
                reply = reply.content(post.content);
            }
            if let Some(embed) = post.embed {
                reply = reply.embed(embed);
            }
            if let Some(file) = post.file {
                reply = reply.attachment(file);
            }
            ctx.send(reply).await?;
        }
        Answer::Text(text) => {
            ctx.send(
                CreateReply::default()
                    .content(discord_markdown(&text))
                    .allowed_mentions(no_pings()),
            )
            .await?;
        }
        Answer::Manage(command) => manage_command(ctx, &command, None, None).await?,
    }
    Ok(())
}

/// Checks the member may manage channels (the permissions Discord computed for them in this
/// channel, sent with the interaction), then stores or lists the subscription.
async fn manage_command(
    ctx: Context<'_>,
    command: &Command,
    window: Option<Window>,
    channel: Option<serenity::ChannelId>,
) -> Result<(), Error> {
    let allowed = ctx
        .author_member()
        .await
        .and_then(|m| m.permissions)
        .is_some_and(|p| p.manage_channels() || p.administrator());
    if !allowed {
        return ephemeral(ctx, MANAGE_CHANNELS_ONLY).await;
    }
    let app = ctx.data();
    let target = channel.unwrap_or_else(|| ctx.channel_id());
    let manage_ctx = ManageContext {
        store: &app.store,
        platform: Platform::Discord.as_str(),
        chat_id: target.get().to_string(),
        guild_id: ctx.guild_id().map(|g| g.get().to_string()),
        user: ctx.author().id.get().to_string(),
        window,
        default_window: app.config.summary.default_window(),
        tz: app.config.summary.tz(),
        now_ms: chrono::Utc::now().timestamp_millis(),
    };
    let reply = manage(command, &manage_ctx).await;
    ephemeral(ctx, &reply).await
}

/// Coins the bot has seen in the last 7 days, largest first, that start with what was typed.
async fn autocomplete_coin(ctx: Context<'_>, partial: &str) -> CreateAutocompleteResponse {
    let coins = ctx.data().known_coins().await;
    let partial = partial.trim().trim_start_matches('$').to_ascii_uppercase();
    let choices: Vec<AutocompleteChoice> = coins
        .into_iter()
        .filter(|c| c.starts_with(&partial))
        .take(AUTOCOMPLETE_MAX)
        .map(|c| AutocompleteChoice::new(c.clone(), c))
        .collect();
    CreateAutocompleteResponse::new().set_choices(choices)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::{MAX_ARG_LEN, MAX_SCHEDULE_LEN};

    #[test]
    fn every_slash_command_is_in_the_registry_with_a_short_description() {
        for command in all() {
            assert!(
                COMMANDS.iter().any(|c| c.name == command.name),
                "/{}",
                command.name
            );
            let description = command.description.unwrap_or_default();
            assert!(!description.is_empty() && description.chars().count() <= DESCRIPTION_MAX);
        }
    }

    #[test]
    fn text_options_are_capped_where_the_core_caps_them() {
        let max_length = |command: &str, option: &str| {
            let command = all().into_iter().find(|c| c.name == command).unwrap();
            let json = serde_json::to_value(command.create_as_slash_command().unwrap()).unwrap();
            let options = json["options"].as_array().unwrap().clone();
            let option = options.into_iter().find(|o| o["name"] == option).unwrap();
            option["max_length"].as_u64()
        };
        for command in ["liq", "heatmap", "levels"] {
            assert_eq!(max_length(command, "coin"), Some(MAX_ARG_LEN as u64));
        }
        assert_eq!(
            max_length("subscribe", "schedule"),
            Some(MAX_SCHEDULE_LEN as u64)
        );
    }

    #[test]
    fn options_become_the_text_the_core_parses() {
        assert_eq!(
            command_text("liq", Some("eth".into()), Some(WindowChoice::H4)),
            "/liq eth 4h"
        );
        assert_eq!(command_text("top", None, None), "/top");
    }
}
