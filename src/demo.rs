//! `liqbot demo`: the whole bot, offline. Starts the market simulator on 127.0.0.1, runs the
//! real sources, writer and store (a temporary SQLite file) against it while the simulator
//! replays two days of history and then trades live for a few seconds, and prints the 24h and
//! 1h summaries computed from what was stored.

use std::time::Duration;

use anyhow::{Context as _, bail};
use tokio::time::Instant;

use crate::analytics::Window;
use crate::bot::Bot;
use crate::config::Config;
use crate::render::plain::{market_text, summary_text};
use crate::render::posts::{RenderRequest, Renderer, parse_kinds, render_to_dir};
use crate::report::market_report;
use crate::sim::{SimOptions, SimServer};
use crate::store::{Store, window_summary};

/// Demo settings.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// The simulator's seed.
    pub seed: u64,
    /// Hours of history the simulator replays.
    pub history_hours: u64,
    /// Seconds of live trading after the history is stored.
    pub live_secs: u64,
    /// Where to write every post kind, both platforms, with images; `None` writes nothing.
    pub out: Option<std::path::PathBuf>,
}

/// The simulator and the bot running against it, with the simulator's history stored.
pub struct DemoRun {
    /// The simulator.
    pub sim: SimServer,
    /// The bot.
    pub bot: Bot,
    /// The bot's config (pointing at the simulator and a temporary store).
    pub config: Config,
    _dir: tempfile::TempDir,
}

/// Starts the simulator and the bot, and waits until the history is stored and the market
/// context fetched.
pub async fn start(options: &DemoOptions) -> anyhow::Result<DemoRun> {
    let sim = SimServer::start(SimOptions {
        seed: options.seed,
        history: Duration::from_secs(options.history_hours * 3600),
        ..SimOptions::default()
    })
    .await
    .context("starting the simulator")?;
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let mut config = Config::default();
    sim.configure(&mut config);
    config.store.url = format!("sqlite://{}", dir.path().join("demo.db").display());
    config.sources.reconnect_initial_ms = 100;

    let bot = Bot::start(&config).await?;
    // Wait until every feed has sent its history and the writer has handled all of it.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let sent: usize = sim.progress().iter().map(|(_, sent, _)| sent).sum();
        if sim.caught_up() && bot.ingest.processed() >= sent as u64 {
            break;
        }
        if Instant::now() > deadline {
            bail!("the bot did not store the simulator's history within two minutes");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    while bot.pollers.as_deref().is_some_and(|p| !p.all_fetched()) {
        if Instant::now() > deadline {
            bail!("the market-context pollers did not fetch within two minutes");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(DemoRun {
        sim,
        bot,
        config,
        _dir: dir,
    })
}

impl DemoRun {
    /// Stops the bot and the simulator.
    pub async fn finish(self) -> anyhow::Result<()> {
        let store = self.bot.shutdown().await?;
        store.close().await;
        self.sim.stop().await;
        Ok(())
    }
}

/// Runs the demo and returns the text it prints.
pub async fn run(options: &DemoOptions) -> anyhow::Result<String> {
    let DemoRun {
        sim,
        bot,
        config,
        _dir,
    } = start(options).await?;
    tokio::time::sleep(Duration::from_secs(options.live_secs)).await;
    let now = chrono::Utc::now().timestamp_millis();
    let mut market = String::new();
    for coin in ["BTC", "ETH"] {
        let report = market_report(
            &bot.store,
            &config.market,
            coin,
            now,
            bot.pollers.as_deref(),
        )
        .await?;
        market.push_str(&market_text(&report));
        market.push('\n');
    }
    let mut files = String::new();
    if let Some(dir) = &options.out {
        let renderer = Renderer::new(&config)?;
        let requests: Vec<RenderRequest> = parse_kinds("all")?
            .into_iter()
            .map(|kind| RenderRequest {
                kind,
                coin: None,
                window: Window::H24,
                now_ms: now,
            })
            .collect();
        let (written, skipped) = render_to_dir(
            &renderer,
            &bot.store,
            &requests,
            None,
            bot.pollers.as_deref(),
            dir,
        )
        .await?;
        files.push_str(&format!(
            "Wrote {} files to {}:\n",
            written.len(),
            dir.display()
        ));
        for path in written {
            files.push_str(&format!("  {}\n", path.display()));
        }
        for note in skipped {
            files.push_str(&format!("  skipped {note}\n"));
        }
    }
    let stats = bot.stats_lines();
    let store = bot.shutdown().await?;

    let mut out = market;
    for window in [Window::H24, Window::H1] {
        let summary = window_summary(&*store, window, None, now, config.summary.top_coins).await?;
        out.push_str(&summary_text(&summary));
        out.push('\n');
    }
    let stored = store.event_count().await?;
    let generated = sim.all_events().len();
    out.push_str(&format!(
        "Stored {stored} liquidations from the simulator (it generated {generated}; ones after the shutdown are not stored).\n"
    ));
    for line in stats {
        out.push_str(&format!("  {line}\n"));
    }
    out.push_str(&files);
    store.close().await;
    sim.stop().await;
    Ok(out)
}
