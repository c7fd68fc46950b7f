//! The running bot: the sources, the writer and the store wired together, with a clean
//! shutdown. `liqbot run`, `liqbot demo` and the integration tests all start it here.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::alerts::AlertDispatcher;
use crate::config::Config;
use crate::delivery::Outlet;
use crate::discord::{self, RunningDiscord};
use crate::ingest::{IngestStats, WriterSettings, run_writer};
use crate::metrics::{self, Metrics};
use crate::model::Liquidation;
use crate::pollers::{self, RunningPollers};
use crate::render::posts::Renderer;
use crate::scheduler::Scheduler;
use crate::sources::venues::{self, RunningSource};
use crate::store::{DeliveryStore as _, SqlStore};
use crate::telegram::{self, RunningTelegram};

/// Stored batches waiting for the alert engine; when full, the writer skips it (logged).
const ALERT_QUEUE: usize = 1_024;

/// A running bot.
pub struct Bot {
    /// The store every component reads and writes.
    pub store: Arc<SqlStore>,
    /// The running streams, with their counters.
    pub sources: Vec<RunningSource>,
    /// The writer's counters.
    pub ingest: Arc<IngestStats>,
    /// The market-context pollers, when `market.enabled`.
    pub pollers: Option<Arc<RunningPollers>>,
    /// The chat platforms and the scheduler, when a token is set.
    pub chat: ChatServices,
    /// Where `/metrics` and `/healthz` are served, when `metrics.listen` is set.
    pub metrics_addr: Option<std::net::SocketAddr>,
    metrics: Option<JoinHandle<()>>,
    writer: JoinHandle<()>,
    shutdown: CancellationToken,
}

impl Bot {
    /// Opens the store and starts every enabled source and the writer.
    pub async fn start(config: &Config) -> anyhow::Result<Self> {
        let store = Arc::new(
            SqlStore::open(&config.store.url)
                .await
                .with_context(|| format!("opening the store at {}", config.store.url_masked()))?,
        );
        // Fail at start, not at the first batch, when events could not be kept.
        store
            .probe_write(chrono::Utc::now().timestamp_millis())
            .await
            .with_context(|| {
                format!(
                    "the store at {} cannot be written (a read-only file, a full disk?); \
                     refusing to start, as no event could be kept",
                    config.store.url_masked()
                )
            })?;
        let (tx, rx) = mpsc::channel(crate::ingest::EVENT_QUEUE);
        let shutdown = CancellationToken::new();
        let ingest = Arc::new(IngestStats::default());
        let settings = WriterSettings {
            batch_size: config.store.batch_size,
            flush_interval: config.store.flush_interval(),
            retention: Some(Duration::from_secs(
                u64::from(config.store.retention_days) * 86_400,
            )),
        };
        // Stored batches go on to the alert engine when a chat platform can post them.
        let has_chat = config.has_role("post")
            && (config.telegram_token.is_some() || config.discord_token.is_some());
        let (tap, tapped) = if has_chat {
            let (tap, tapped) = mpsc::channel(ALERT_QUEUE);
            (Some(tap), Some(tapped))
        } else {
            (None, None)
        };
        let writer = tokio::spawn(run_writer(
            Arc::clone(&store),
            rx,
            settings,
            Arc::clone(&ingest),
            tap,
        ));
        // The sources hold the only senders: when they stop, the writer drains and ends.
        let collect = config.has_role("collect");
        let sources = if collect {
            venues::start(config, &tx, &shutdown)?
        } else {
            Vec::new()
        };
        drop(tx);
        let pollers = if collect && config.market.enabled {
            Some(Arc::new(pollers::start(config, &store, &shutdown)?))
        } else {
            None
        };
        let chat = ChatServices::start(
            Arc::new(config.clone()),
            Arc::clone(&store),
            pollers.clone(),
            tapped,
            &shutdown,
        )
        .await?;
        let (metrics, metrics_addr) = if config.metrics.listen.is_empty() {
            (None, None)
        } else {
            let report = Metrics {
                store: Arc::clone(&store),
                sources: sources
                    .iter()
                    .map(|s| (s.name.clone(), Arc::clone(&s.stats)))
                    .collect(),
                ingest: Arc::clone(&ingest),
                outlets: chat.outlets(),
                scheduler: chat.scheduler.is_some(),
                stale: Duration::from_secs(config.metrics.stale_secs),
                started_ms: chrono::Utc::now().timestamp_millis(),
            };
            let (task, addr) =
                metrics::serve(&config.metrics.listen, report, shutdown.child_token()).await?;
            (Some(task), Some(addr))
        };
        info!(
            backend = store.backend_name(),
            sources = sources.len(),
            telegram = chat.telegram.is_some(),
            discord = chat.discord.is_some(),
            "Bot started."
        );
        Ok(Self {
            store,
            sources,
            ingest,
            pollers,
            chat,
            metrics_addr,
            metrics,
            writer,
            shutdown,
        })
    }

    /// One line per source with its counters.
    #[must_use]
    pub fn stats_lines(&self) -> Vec<String> {
        self.sources
            .iter()
            .map(|s| format!("{}: {}", s.name, s.stats.line()))
            .collect()
    }

    /// Stops the sources and lets the writer store everything received. Returns the store,
    /// still open for queries; close it when done.
    pub async fn shutdown(self) -> anyhow::Result<Arc<SqlStore>> {
        self.shutdown.cancel();
        self.chat.shutdown().await;
        for source in self.sources {
            if let Err(e) = source.task.await {
                warn!(source = %source.name, error = %e, "Source task ended abnormally.");
            }
        }
        for task in self.pollers.iter().flat_map(|p| p.take_tasks()) {
            if let Err(e) = task.await {
                warn!(error = %e, "Poller task ended abnormally.");
            }
        }
        if let Some(task) = self.metrics {
            let _ = task.await;
        }
        self.writer.await.context("the writer task failed")?;
        info!("Bot stopped.");
        Ok(self.store)
    }
}

/// The chat side: the platform adapters that have a token, and the scheduler posting to
/// their subscriptions.
#[derive(Default)]
pub struct ChatServices {
    /// The Telegram adapter, when `LIQBOT_TELEGRAM_TOKEN` (or the secrets file) sets a token.
    pub telegram: Option<RunningTelegram>,
    /// The Discord adapter, when `LIQBOT_DISCORD_TOKEN` (or the secrets file) sets a token.
    pub discord: Option<RunningDiscord>,
    scheduler: Option<JoinHandle<()>>,
    alerts: Option<JoinHandle<()>>,
}

impl ChatServices {
    /// The senders of the platforms that run.
    #[must_use]
    pub fn outlets(&self) -> Vec<Arc<dyn Outlet>> {
        let mut outlets: Vec<Arc<dyn Outlet>> = Vec::new();
        if let Some(telegram) = &self.telegram {
            outlets.push(Arc::new(telegram.sender.clone()));
        }
        if let Some(discord) = &self.discord {
            outlets.push(Arc::new(discord.sender.clone()));
        }
        outlets
    }

    /// Starts an adapter per platform with a token, and the scheduler when any runs; nothing
    /// without tokens. They stop when `shutdown` is cancelled.
    ///
    /// # Errors
    /// When the templates do not load or an adapter cannot be set up.
    pub async fn start(
        config: Arc<Config>,
        store: Arc<SqlStore>,
        pollers: Option<Arc<RunningPollers>>,
        stored_events: Option<mpsc::Receiver<Vec<Liquidation>>>,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<Self> {
        if !config.has_role("post")
            || (config.telegram_token.is_none() && config.discord_token.is_none())
        {
            return Ok(Self::default());
        }
        let renderer = Arc::new(Renderer::new(&config)?);
        let mut outlets: Vec<Arc<dyn Outlet>> = Vec::new();
        let mut services = Self::default();
        if config.telegram_token.is_some() {
            let telegram = telegram::start(
                Arc::clone(&config),
                Arc::clone(&store),
                Arc::clone(&renderer),
                pollers.clone(),
                shutdown,
            )?;
            outlets.push(Arc::new(telegram.sender.clone()));
            services.telegram = Some(telegram);
        }
        if config.discord_token.is_some() {
            let discord = discord::start(
                Arc::clone(&config),
                Arc::clone(&store),
                Arc::clone(&renderer),
                pollers.clone(),
                shutdown,
            )
            .await?;
            outlets.push(Arc::new(discord.sender.clone()));
            services.discord = Some(discord);
        }
        let owner = instance_name();
        if let Some(events) = stored_events {
            services.alerts = Some(
                AlertDispatcher {
                    store: Arc::clone(&store),
                    renderer: Arc::clone(&renderer),
                    rules: config.alerts.clone(),
                    outlets: outlets.clone(),
                    owner: owner.clone(),
                    market: config.market.enabled.then(|| config.market.clone()),
                }
                .spawn(events, shutdown.child_token()),
            );
        }
        services.scheduler = Some(
            Scheduler {
                store,
                renderer,
                config: Arc::clone(&config),
                pollers,
                outlets,
                owner,
            }
            .spawn(shutdown.child_token())?,
        );
        Ok(services)
    }

    /// Waits for the adapters and the scheduler to stop (cancel their token first).
    pub async fn shutdown(self) {
        if let Some(telegram) = self.telegram {
            telegram.shutdown().await;
        }
        if let Some(discord) = self.discord {
            discord.shutdown().await;
        }
        if let Some(scheduler) = self.scheduler
            && let Err(e) = scheduler.await
        {
            warn!(error = %e, "The scheduler ended abnormally.");
        }
        if let Some(alerts) = self.alerts
            && let Err(e) = alerts.await
        {
            warn!(error = %e, "The alert dispatcher ended abnormally.");
        }
    }
}

/// This process's name in slot claims: host, process id and start time.
fn instance_name() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "liqbot".to_owned());
    format!(
        "{host}-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_millis()
    )
}

/// Runs the bot until Ctrl-C or SIGTERM, logging source counters every minute.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let bot = Bot::start(&config).await?;
    let mut report = tokio::time::interval(Duration::from_secs(60));
    report.tick().await;
    loop {
        tokio::select! {
            () = shutdown_signal() => break,
            _ = report.tick() => {
                for line in bot.stats_lines() {
                    info!(stats = %line, "Source counters.");
                }
                if let Some(telegram) = &bot.chat.telegram {
                    info!(stats = %telegram.sender.stats().line(), "Telegram counters.");
                }
                if let Some(discord) = &bot.chat.discord {
                    info!(stats = %discord.sender.stats().line(), "Discord counters.");
                }
                crate::heap::trim();
            }
        }
    }
    info!("Shutting down.");
    bot.shutdown().await?.close().await;
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
