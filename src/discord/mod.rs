//! The Discord adapter: poise slash commands on serenity 0.12 over the platform-independent
//! [`commands`](crate::commands), window buttons under summaries, and a paced
//! [`DiscordSender`] for scheduled posts.
//!
//! `discord.api_url` other than Discord's own sends every REST call (and so the gateway URL,
//! which comes from `GET /api/v10/gateway`) to that base through serenity's proxy setting.
//! serenity's rate limiter ignores the proxy, so it is off then and the bot's own pacing and
//! 429 handling apply; against Discord itself serenity's rate limiter stays on. No privileged
//! gateway intents are used: slash commands and buttons need none.

mod commands;
mod message;
mod send;

pub use commands::{KindChoice, MANAGE_CHANNELS_ONLY, WindowChoice};
pub use message::{BUTTON_WINDOWS, DiscordPost, button_id, parse_button_id};
pub use send::DiscordSender;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context as _;
use poise::serenity_prelude as serenity;
use serenity::{
    ComponentInteraction, CreateInteractionResponse, CreateInteractionResponseMessage, FullEvent,
    GatewayIntents, GuildId, HttpBuilder, Interaction,
};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::analytics::Window;
use crate::commands::{Answer, AnswerContext, ChatLimiter, Command, SOMETHING_WENT_WRONG, answer};
use crate::config::{Config, DISCORD_API};
use crate::pacing::{RateLimiter, cooldown_text};
use crate::pollers::RunningPollers;
use crate::render::posts::Renderer;
use crate::store::{SqlStore, Store as _};

use commands::Error;
use message::{no_pings, window_buttons};

/// What the commands share.
pub struct DiscordApp {
    /// The store to read and to keep subscriptions in.
    pub store: Arc<SqlStore>,
    /// Templates and charts.
    pub renderer: Arc<Renderer>,
    /// The loaded config.
    pub config: Arc<Config>,
    /// Live market context, when the pollers run.
    pub pollers: Option<Arc<RunningPollers>>,
    limiter: Mutex<RateLimiter>,
    /// Commands per server channel.
    chat_limiter: Mutex<ChatLimiter>,
    origin: Instant,
}

impl DiscordApp {
    /// The per-user limit on image commands.
    fn check_rate(&self, user: u64) -> Result<(), Duration> {
        self.limiter
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .check(user, self.origin.elapsed())
    }

    /// The coins with liquidations in the last 7 days, largest first.
    async fn known_coins(&self) -> Vec<String> {
        let now = chrono::Utc::now().timestamp_millis();
        let rows = match self
            .store
            .window_rows(Window::D7.range_ending_at(now), None)
            .await
        {
            Ok(rows) => rows,
            Err(e) => {
                warn!(error = %e, "Reading coins for autocomplete failed.");
                return Vec::new();
            }
        };
        let mut totals: HashMap<String, f64> = HashMap::new();
        for row in rows {
            *totals.entry(row.base).or_default() += row.usd;
        }
        let mut coins: Vec<(String, f64)> = totals.into_iter().collect();
        coins.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        coins.into_iter().map(|(c, _)| c).collect()
    }
}

/// The running adapter.
pub struct RunningDiscord {
    /// The sender, for the scheduler's posts.
    pub sender: DiscordSender,
    task: JoinHandle<()>,
    stop: CancellationToken,
}

impl RunningDiscord {
    /// Disconnects the shards and returns.
    pub async fn shutdown(self) {
        self.stop.cancel();
        if let Err(e) = self.task.await {
            warn!(error = %e, "The Discord client ended abnormally.");
        }
    }
}

/// Starts the Discord adapter: connects, registers the slash commands (in
/// `discord.dev_guild_id`, else globally) once READY, and runs until `shutdown`.
///
/// # Errors
/// When there is no token.
pub async fn start(
    config: Arc<Config>,
    store: Arc<SqlStore>,
    renderer: Arc<Renderer>,
    pollers: Option<Arc<RunningPollers>>,
    shutdown: &CancellationToken,
) -> anyhow::Result<RunningDiscord> {
    let token = config.discord_token.as_ref().context(
        "no Discord token: set LIQBOT_DISCORD_TOKEN or discord_token in the secrets file",
    )?;
    let mut http = HttpBuilder::new(token.expose());
    let base = config.discord.api_url.trim_end_matches('/');
    if base != DISCORD_API {
        http = http.proxy(base).ratelimiter_disabled(true);
    }
    let stop = shutdown.child_token();
    let app = Arc::new(DiscordApp {
        store: Arc::clone(&store),
        renderer,
        config: Arc::clone(&config),
        pollers,
        limiter: Mutex::new(RateLimiter::new(
            config.commands.image_limit,
            config.commands.image_period(),
        )),
        chat_limiter: Mutex::new(ChatLimiter::from_config(&config.commands)),
        origin: Instant::now(),
    });
    let guild = config.discord.dev_guild();
    let framework = poise::Framework::builder()
        .options(poise::FrameworkOptions {
            commands: commands::all(),
            on_error: |error| Box::pin(on_error(error)),
            event_handler: |framework, event| Box::pin(on_event(framework, event)),
            ..Default::default()
        })
        .initialize_owners(false)
        .setup(move |ctx, ready, framework| {
            Box::pin(async move {
                let commands = &framework.options().commands;
                match guild {
                    Some(id) => {
                        poise::builtins::register_in_guild(ctx, commands, GuildId::new(id)).await?;
                    }
                    None => poise::builtins::register_globally(ctx, commands).await?,
                }
                info!(user = %ready.user.name, guild = ?guild, "Discord ready; slash commands registered.");
                Ok(app)
            })
        })
        .build();
    let mut client = serenity::ClientBuilder::new_with_http(http.build(), GatewayIntents::GUILDS)
        .framework(framework)
        .await
        .context("setting up the Discord client")?;
    let sender = DiscordSender::new(Arc::clone(&client.http), store, stop.clone());
    let shards = Arc::clone(&client.shard_manager);
    let task = tokio::spawn({
        let stop = stop.clone();
        let sender = sender.clone();
        async move {
            tokio::select! {
                result = client.start() => {
                    if let Err(e) = result {
                        warn!(error = %e, "The Discord client stopped.");
                    }
                }
                () = stop.cancelled() => shards.shutdown_all().await,
            }
            info!(stats = %sender.stats().line(), "Discord adapter stopped.");
        }
    });
    Ok(RunningDiscord { sender, task, stop })
}

async fn on_error(error: poise::FrameworkError<'_, Arc<DiscordApp>, Error>) {
    match error {
        poise::FrameworkError::Command { error, ctx, .. } => {
            warn!(command = %ctx.command().name, error = format!("{error:#}"), "Discord command failed.");
            let reply = poise::CreateReply::default()
                .content(SOMETHING_WENT_WRONG)
                .ephemeral(true);
            let _ = ctx.send(reply).await;
        }
        other => {
            if let Err(e) = poise::builtins::on_error(other).await {
                warn!(error = %e, "Handling a Discord framework error failed.");
            }
        }
    }
}

/// Window buttons under summaries; everything else is poise's.
async fn on_event(
    framework: poise::FrameworkContext<'_, Arc<DiscordApp>, Error>,
    event: &FullEvent,
) -> Result<(), Error> {
    if let FullEvent::InteractionCreate {
        interaction: Interaction::Component(component),
    } = event
        && let Some((coin, window)) = parse_button_id(&component.data.custom_id)
    {
        let app = framework.user_data().await;
        let response = match app.check_rate(component.user.id.get()) {
            Err(wait) => CreateInteractionResponse::Message(
                CreateInteractionResponseMessage::new()
                    .content(cooldown_text(wait))
                    .ephemeral(true),
            ),
            Ok(()) => switch_window(app, component, coin, window).await,
        };
        component
            .create_response(framework.serenity_context, response)
            .await?;
    }
    Ok(())
}

/// The summary the button asks for, replacing the message it sits under.
async fn switch_window(
    app: &DiscordApp,
    component: &ComponentInteraction,
    coin: Option<String>,
    window: Window,
) -> CreateInteractionResponse {
    let command = Command::Summary {
        coin: coin.clone(),
        window,
    };
    let ctx = AnswerContext {
        store: &app.store,
        renderer: &app.renderer,
        config: &app.config,
        now_ms: chrono::Utc::now().timestamp_millis(),
        pollers: app.pollers.as_deref(),
    };
    let ephemeral = |text: String| {
        CreateInteractionResponse::Message(
            CreateInteractionResponseMessage::new()
                .content(text)
                .ephemeral(true)
                .allowed_mentions(no_pings()),
        )
    };
    let bundle = match answer(&command, &ctx).await {
        Answer::Post(bundle) => bundle,
        Answer::Text(text) => return ephemeral(text),
        Answer::Manage(_) => return ephemeral(SOMETHING_WENT_WRONG.to_owned()),
    };
    let Some(post) = DiscordPost::from_bundle(&bundle) else {
        return ephemeral(SOMETHING_WENT_WRONG.to_owned());
    };
    tracing::debug!(custom_id = %component.data.custom_id, "Discord window button.");
    let mut message = CreateInteractionResponseMessage::new()
        .content(post.content)
        .components(window_buttons(bundle.kind, coin.as_deref(), window))
        .allowed_mentions(no_pings());
    if let Some(embed) = post.embed {
        message = message.embed(embed);
    }
    if let Some(file) = post.file {
        message = message.add_file(file);
    }
    CreateInteractionResponse::UpdateMessage(message)
}
