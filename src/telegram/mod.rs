//! The Telegram adapter: teloxide's dispatcher feeding the platform-independent
//! [`commands`](crate::commands), the command menu registered with `setMyCommands`, chat-admin
//! checks for the subscription commands, and a paced [`TelegramSender`] for replies and
//! scheduled posts.
//!
//! Messages in private chats and groups and posts in channels all go through [`on_message`];
//! a group command may be addressed `/liq@BotName`. Replies use HTML parse mode, photos are
//! uploaded from memory, and the bot never talks unless addressed with a command.

mod handler;
mod menu;
mod send;

pub use handler::{ADMINS_ONLY, UNKNOWN_COMMAND};
pub use menu::TelegramCommands;
pub use send::TelegramSender;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use futures_util::future::BoxFuture;
use teloxide::dispatching::{Dispatcher, UpdateFilterExt as _};
use teloxide::error_handlers::LoggingErrorHandler;
use teloxide::prelude::{Requester as _, Update};
use teloxide::types::{ChatId, MessageId};
use teloxide::update_listeners::Polling;
use teloxide::utils::command::BotCommands as _;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::commands::ChatLimiter;
use crate::config::{Config, Secret};
use crate::delivery::{DeliveryError, Outlet, RetrySettings, SendStats};
use crate::pacing::RateLimiter;
use crate::pollers::RunningPollers;
use crate::render::posts::{PostBundle, Renderer};
use crate::render::text::Platform;
use crate::sources::ws::Backoff;
use crate::store::SqlStore;

/// How long one `getUpdates` long poll waits for news.
const LONG_POLL: Duration = Duration::from_secs(10);

/// What the handlers share.
pub struct TelegramApp {
    /// The store to read and to keep subscriptions in.
    pub store: Arc<SqlStore>,
    /// Templates and charts.
    pub renderer: Arc<Renderer>,
    /// The loaded config.
    pub config: Arc<Config>,
    /// Live market context, when the pollers run.
    pub pollers: Option<Arc<RunningPollers>>,
    /// Replies and posts go out through here.
    pub sender: TelegramSender,
    /// Image commands per user.
    limiter: Mutex<RateLimiter>,
    /// Commands per group or channel.
    chat_limiter: Mutex<ChatLimiter>,
    origin: Instant,
}

/// The running adapter.
pub struct RunningTelegram {
    /// The sender, for the scheduler's posts.
    pub sender: TelegramSender,
    task: JoinHandle<()>,
    stop: CancellationToken,
}

impl RunningTelegram {
    /// Stops taking updates, lets the handlers in flight finish, and returns.
    pub async fn shutdown(self) {
        self.stop.cancel();
        if let Err(e) = self.task.await {
            warn!(error = %e, "The Telegram dispatcher ended abnormally.");
        }
    }
}

/// A teloxide bot for `token`, pointed at `config.telegram.api_url`.
///
/// # Errors
/// When the API URL is not a URL (a validated config never has that).
pub fn client(token: &Secret, config: &Config) -> anyhow::Result<teloxide::Bot> {
    // teloxide joins `{api_url}/bot{token}/{method}`; a trailing slash would make `//bot`.
    let base = config.telegram.api_url.trim_end_matches('/');
    let url = reqwest::Url::parse(base)
        .with_context(|| format!("telegram.api_url {base:?} is not a URL"))?;
    Ok(teloxide::Bot::new(token.expose()).set_api_url(url))
}

/// Starts the Telegram adapter: registers the command menu and runs the dispatcher until
/// `shutdown` is cancelled (or [`RunningTelegram::shutdown`]).
///
/// # Errors
/// When there is no token or the API URL is bad. A Bot API that cannot be reached is not an
/// error: the dispatcher keeps retrying in the background.
pub fn start(
    config: Arc<Config>,
    store: Arc<SqlStore>,
    renderer: Arc<Renderer>,
    pollers: Option<Arc<RunningPollers>>,
    shutdown: &CancellationToken,
) -> anyhow::Result<RunningTelegram> {
    let token = config.telegram_token.as_ref().context(
        "no Telegram token: set LIQBOT_TELEGRAM_TOKEN or telegram_token in the secrets file",
    )?;
    let bot = client(token, &config)?;
    let stop = shutdown.child_token();
    // Sends get their own client and timeout; the long poll's client must outwait its poll.
    let sends = teloxide::net::default_reqwest_settings()
        .timeout(config.telegram.send_timeout())
        .build()
        .context("building the Telegram HTTP client")?;
    let sender = TelegramSender::new(
        teloxide::Bot::with_client(token.expose(), sends).set_api_url(bot.api_url()),
        Arc::clone(&store),
        RetrySettings::default(),
        stop.clone(),
    );
    let limiter = RateLimiter::new(config.commands.image_limit, config.commands.image_period());
    let chat_limiter = ChatLimiter::from_config(&config.commands);
    let app = Arc::new(TelegramApp {
        store,
        renderer,
        config,
        pollers,
        sender: sender.clone(),
        limiter: Mutex::new(limiter),
        chat_limiter: Mutex::new(chat_limiter),
        origin: Instant::now(),
    });
    let task = tokio::spawn(run(bot, app, stop.clone()));
    Ok(RunningTelegram { sender, task, stop })
}

/// Registers the menu, then dispatches until `stop`; retries with backoff while the Bot API
/// cannot be reached.
async fn run(bot: teloxide::Bot, app: Arc<TelegramApp>, stop: CancellationToken) {
    let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
    loop {
        match bot.set_my_commands(TelegramCommands::bot_commands()).await {
            Ok(_) => break,
            Err(e) => {
                let delay = backoff.next_delay();
                warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "Telegram setMyCommands failed.");
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = stop.cancelled() => return,
                }
            }
        }
    }
    let handler = teloxide::dptree::entry()
        .branch(Update::filter_message().endpoint(handler::on_message))
        .branch(Update::filter_channel_post().endpoint(handler::on_message));
    let mut dispatcher = Dispatcher::builder(bot.clone(), handler)
        .dependencies(teloxide::dptree::deps![Arc::clone(&app)])
        .default_handler(|_| async {})
        .error_handler(LoggingErrorHandler::with_custom_text(
            "A Telegram update handler failed",
        ))
        .build();
    let token = dispatcher.shutdown_token();
    let stopper = tokio::spawn({
        let stop = stop.clone();
        async move {
            stop.cancelled().await;
            // Idle means not started yet or already stopped; retry until it takes.
            loop {
                match token.shutdown() {
                    Ok(done) => {
                        done.await;
                        return;
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        }
    });
    backoff.reset();
    while !stop.is_cancelled() {
        let listener = Polling::builder(bot.clone())
            .timeout(LONG_POLL)
            .delete_webhook()
            .await
            .build();
        let errors = LoggingErrorHandler::with_custom_text("Telegram getUpdates failed");
        match dispatcher
            .try_dispatch_with_listener(listener, errors)
            .await
        {
            Ok(()) => break,
            Err(e) => {
                let delay = backoff.next_delay();
                warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "Telegram getMe failed.");
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = stop.cancelled() => break,
                }
            }
        }
    }
    stopper.abort();
    info!(stats = %app.sender.stats().line(), "Telegram adapter stopped.");
}

impl Outlet for TelegramSender {
    fn platform(&self) -> Platform {
        Platform::Telegram
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
            let chat = chat_id(&target)?;
            let post = telegram_post(&bundle)?;
            let id = sender.send_post(chat, post, bundle.images.first()).await?;
            Ok(id.map(|id| id.0.to_string()))
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
            let chat = chat_id(&target)?;
            let id: i32 = message_id.parse().map_err(|_| {
                DeliveryError::Rejected(format!("{message_id:?} is not a message id"))
            })?;
            let post = telegram_post(&bundle)?;
            sender.edit_text(chat, MessageId(id), post).await
        })
    }
}

fn chat_id(target: &str) -> Result<ChatId, DeliveryError> {
    target
        .parse()
        .map(ChatId)
        .map_err(|_| DeliveryError::Rejected(format!("{target:?} is not a chat id")))
}

fn telegram_post(bundle: &PostBundle) -> Result<&crate::render::text::RenderedPost, DeliveryError> {
    bundle
        .posts
        .iter()
        .find(|p| p.platform == Platform::Telegram)
        .ok_or_else(|| DeliveryError::Rejected("no Telegram rendering".to_owned()))
}
