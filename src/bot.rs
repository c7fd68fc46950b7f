//! The running bot: the sources, the writer and the store wired together, with a clean
//! shutdown. `liqbot run`, `liqbot demo` and the integration tests all start it here.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::config::Config;
use crate::ingest::{IngestStats, WriterSettings, run_writer};
use crate::pollers::{self, RunningPollers};
use crate::sources::venues::{self, RunningSource};
use crate::store::SqlStore;

/// Parsed event batches waiting for the writer; when full, sources wait (backpressure).
const EVENT_QUEUE: usize = 1_024;

/// A running bot.
pub struct Bot {
    /// The store every component reads and writes.
    pub store: Arc<SqlStore>,
    /// The running streams, with their counters.
    pub sources: Vec<RunningSource>,
    /// The writer's counters.
    pub ingest: Arc<IngestStats>,
    /// The market-context pollers, when `market.enabled`.
    pub pollers: Option<RunningPollers>,
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
        let (tx, rx) = mpsc::channel(EVENT_QUEUE);
        let shutdown = CancellationToken::new();
        let ingest = Arc::new(IngestStats::default());
        let settings = WriterSettings {
            batch_size: config.store.batch_size,
            flush_interval: config.store.flush_interval(),
            retention: Some(Duration::from_secs(
                u64::from(config.store.retention_days) * 86_400,
            )),
        };
        let writer = tokio::spawn(run_writer(
            Arc::clone(&store),
            rx,
            settings,
            Arc::clone(&ingest),
        ));
        // The sources hold the only senders: when they stop, the writer drains and ends.
        let sources = venues::start(config, &tx, &shutdown)?;
        drop(tx);
        let pollers = if config.market.enabled {
            Some(pollers::start(config, &store, &shutdown)?)
        } else {
            None
        };
        info!(
            backend = store.backend_name(),
            sources = sources.len(),
            "Bot started."
        );
        Ok(Self {
            store,
            sources,
            ingest,
            pollers,
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
        for source in self.sources {
            if let Err(e) = source.task.await {
                warn!(source = %source.name, error = %e, "Source task ended abnormally.");
            }
        }
        for task in self.pollers.into_iter().flat_map(|p| p.tasks) {
            if let Err(e) = task.await {
                warn!(error = %e, "Poller task ended abnormally.");
            }
        }
        self.writer.await.context("the writer task failed")?;
        info!("Bot stopped.");
        Ok(self.store)
    }
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
