//! `[market]`: market context polled over REST (Fear & Greed, open interest, candles) and the
//! parameters of the estimated liquidation-level model.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::model::Exchange;

/// `[market]`: what the pollers fetch and how often.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MarketConfig {
    /// Whether the market pollers run.
    pub enabled: bool,
    /// Coins (base assets) whose open interest and candles are polled.
    pub coins: Vec<String>,
    /// The venue whose 1-minute candles stand for the price (binance, bybit or okx).
    pub candles_from: Exchange,
    /// Seconds between polls of candles and open interest.
    pub poll_interval_secs: u64,
    /// Hours of candles and open interest fetched at start (the level model's look-back).
    pub history_hours: u64,
    /// Seconds one REST request may take.
    pub request_timeout_secs: u64,
    /// `[market.fear_greed]`.
    pub fear_greed: FearGreedConfig,
    /// `[market.levels]`.
    pub levels: LevelsConfig,
}

impl Default for MarketConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            coins: ["BTC", "ETH", "SOL", "XRP", "DOGE"]
                .map(str::to_owned)
                .to_vec(),
            candles_from: Exchange::Binance,
            poll_interval_secs: 60,
            history_hours: 7 * 24,
            request_timeout_secs: 10,
            fear_greed: FearGreedConfig::default(),
            levels: LevelsConfig::default(),
        }
    }
}

impl MarketConfig {
    /// Time between polls of candles and open interest.
    #[must_use]
    pub fn poll_interval(&self) -> Duration {
        Duration::from_secs(self.poll_interval_secs)
    }

    /// Time one REST request may take.
    #[must_use]
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }
}

/// `[market.fear_greed]`: the Crypto Fear & Greed index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FearGreedConfig {
    /// The index API endpoint.
    pub url: String,
    /// Seconds between polls (the index changes once a day).
    pub interval_secs: u64,
}

impl Default for FearGreedConfig {
    fn default() -> Self {
        Self {
            url: "https://api.alternative.me/fng/".to_owned(),
            interval_secs: 3600,
        }
    }
}

impl FearGreedConfig {
    /// Time between polls.
    #[must_use]
    pub fn interval(&self) -> Duration {
        Duration::from_secs(self.interval_secs)
    }
}

/// `[market.levels]`: parameters of the estimated liquidation-level model
/// (see docs/levels-model.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LevelsConfig {
    /// Leverage of each tier of the assumed leverage mix.
    pub leverage: Vec<f64>,
    /// Share of new open interest in each tier, same order as `leverage` (normalised to 1).
    pub weights: Vec<f64>,
    /// Maintenance margin rate.
    pub mmr: f64,
    /// Width of a cluster, in percent of the price.
    pub cluster_window_pct: f64,
}

impl Default for LevelsConfig {
    fn default() -> Self {
        Self {
            leverage: vec![5.0, 10.0, 25.0, 50.0, 100.0],
            weights: vec![0.10, 0.25, 0.30, 0.20, 0.15],
            mmr: 0.005,
            cluster_window_pct: 0.5,
        }
    }
}

/// Chart colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ChartTheme {
    /// Dark background, readable on a phone in dark mode.
    #[default]
    Dark,
    /// Light background.
    Light,
}

/// `[render]`: how posts and images look.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RenderConfig {
    /// A directory of template files overriding the built-in ones by name; empty = built-in.
    pub templates_dir: String,
    /// Chart theme: dark or light.
    pub theme: ChartTheme,
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
    /// The name in the charts' footer.
    pub bot_name: String,
}

impl Default for RenderConfig {
    fn default() -> Self {
        Self {
            templates_dir: String::new(),
            theme: ChartTheme::Dark,
            width: 1200,
            height: 700,
            bot_name: "liqbot".to_owned(),
        }
    }
}
