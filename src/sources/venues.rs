//! The registry of venue streams: how each configured venue prepares a connection, and
//! [`start`], which launches one supervised runner per stream.

use std::sync::Arc;

use anyhow::Context as _;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::binance::BinanceParser;
use super::bybit::{self, BybitContract, BybitParser};
use super::okx::{self, OkxParser};
use super::ws::{self, RunnerSettings, Session, SourceStats, Venue};
use crate::config::{BinanceConfig, BybitCategory, BybitConfig, Config, OkxConfig};
use crate::model::Liquidation;

/// Binance USD-M `!forceOrder@arr`. Binance pushes at most one liquidation per symbol per
/// second (the latest in each second), so its totals are a lower bound.
pub struct BinanceVenue {
    config: BinanceConfig,
}

impl Venue for BinanceVenue {
    fn name(&self) -> &str {
        "binance"
    }

    async fn prepare(&self) -> anyhow::Result<Session> {
        Ok(Session {
            url: self.config.ws_url.clone(),
            subscribe: Vec::new(),
            ping: None,
            parser: Box::new(|text| BinanceParser.parse(text)),
        })
    }
}

/// One Bybit v5 category (linear or inverse), `allLiquidation.{symbol}` for every symbol.
pub struct BybitVenue {
    config: BybitConfig,
    category: BybitCategory,
    client: reqwest::Client,
    name: String,
}

impl BybitVenue {
    fn contract(&self) -> BybitContract {
        match self.category {
            BybitCategory::Linear => BybitContract::Linear,
            BybitCategory::Inverse => BybitContract::Inverse,
        }
    }
}

impl Venue for BybitVenue {
    fn name(&self) -> &str {
        &self.name
    }

    async fn prepare(&self) -> anyhow::Result<Session> {
        let contract = self.contract();
        let (symbols, parser): (Vec<String>, _) = if self.config.symbols.is_empty() {
            let instruments =
                bybit::fetch_instruments(&self.client, &self.config.rest_url, contract)
                    .await
                    .context("fetching Bybit instruments")?;
            let symbols = instruments.iter().map(|i| i.symbol.clone()).collect();
            (
                symbols,
                BybitParser::with_instruments(contract, instruments),
            )
        } else {
            // Configured symbols: inverse perpetuals are the ones quoted in USD (BTCUSD).
            let inverse = |s: &&String| s.ends_with("USD");
            let symbols = match contract {
                BybitContract::Inverse => self
                    .config
                    .symbols
                    .iter()
                    .filter(inverse)
                    .cloned()
                    .collect(),
                BybitContract::Linear => self
                    .config
                    .symbols
                    .iter()
                    .filter(|s| !inverse(s))
                    .cloned()
                    .collect(),
            };
            (symbols, BybitParser::new(contract))
        };
        Ok(Session {
            url: self.config.ws_url_for(self.category),
            subscribe: bybit::subscribe_messages(&symbols, self.config.subscribe_batch),
            ping: Some((self.config.ping_interval(), bybit::PING.to_owned())),
            parser: Box::new(move |text| parser.parse(text)),
        })
    }
}

/// OKX v5 `liquidation-orders` for every swap; contract sizes come from the instrument list,
/// refreshed on every connection.
pub struct OkxVenue {
    config: OkxConfig,
    client: reqwest::Client,
}

impl Venue for OkxVenue {
    fn name(&self) -> &str {
        "okx"
    }

    async fn prepare(&self) -> anyhow::Result<Session> {
        let instruments = okx::fetch_instruments(&self.client, &self.config.rest_url)
            .await
            .context("fetching OKX instruments")?;
        let parser = OkxParser::from_list(instruments);
        Ok(Session {
            url: self.config.ws_url.clone(),
            subscribe: vec![okx::subscribe_message()],
            ping: Some((self.config.ping_interval(), okx::PING.to_owned())),
            parser: Box::new(move |text| parser.parse(text)),
        })
    }
}

/// A running stream.
pub struct RunningSource {
    /// The stream's name (`binance`, `bybit-linear`).
    pub name: String,
    /// Its counters.
    pub stats: Arc<SourceStats>,
    /// Its task; it ends when the shutdown token is cancelled.
    pub task: JoinHandle<()>,
}

/// Starts one runner per enabled stream in `config`.
pub fn start(
    config: &Config,
    events: &mpsc::Sender<Vec<Liquidation>>,
    shutdown: &CancellationToken,
) -> anyhow::Result<Vec<RunningSource>> {
    let s = &config.sources;
    let settings = RunnerSettings {
        reconnect_initial: s.reconnect_initial(),
        reconnect_max: s.reconnect_max(),
        idle_timeout: s.idle_timeout(),
        connect_timeout: s.connect_timeout(),
    };
    let client = reqwest::Client::builder()
        .timeout(s.connect_timeout() * 3)
        .user_agent(concat!("liqbot/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("building the HTTP client")?;
    let mut running = Vec::new();
    if s.binance.enabled {
        let venue = BinanceVenue {
            config: s.binance.clone(),
        };
        running.push(spawn(venue, settings, events, shutdown));
    }
    if s.bybit.enabled {
        for &category in &s.bybit.categories {
            let venue = BybitVenue {
                config: s.bybit.clone(),
                category,
                client: client.clone(),
                name: format!("bybit-{category}"),
            };
            running.push(spawn(venue, settings, events, shutdown));
        }
    }
    if s.okx.enabled {
        let venue = OkxVenue {
            config: s.okx.clone(),
            client,
        };
        running.push(spawn(venue, settings, events, shutdown));
    }
    Ok(running)
}

/// Launches the runner of one venue stream.
pub fn spawn<V: Venue>(
    venue: V,
    settings: RunnerSettings,
    events: &mpsc::Sender<Vec<Liquidation>>,
    shutdown: &CancellationToken,
) -> RunningSource {
    let stats = Arc::new(SourceStats::default());
    let name = venue.name().to_owned();
    let task = tokio::spawn(ws::run(
        venue,
        settings,
        events.clone(),
        Arc::clone(&stats),
        shutdown.clone(),
    ));
    RunningSource { name, stats, task }
}
