//! The `[section]` structs of `bot.toml`, their production defaults and typed accessors.
//!
//! Every struct denies unknown keys and defaults every field, so an empty file is a valid
//! config and a typo is reported instead of silently ignored. The `Default` impls are the
//! values documented in `bot.example.toml`; a test keeps the two in sync.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::secret::mask_url;
use crate::analytics::Window;

/// `[store]`: where liquidations are kept and how they are written.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// `sqlite://PATH` or `postgres://user:pass@host/db`; may hold a password, so print
    /// [`StoreConfig::url_masked`] instead.
    pub url: String,
    /// Raw events are kept this many days (at least 1).
    pub retention_days: u32,
    /// Events per write batch (at least 1).
    pub batch_size: usize,
    /// A partial batch is written after this many milliseconds.
    pub flush_interval_ms: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            url: "sqlite://liqbot.db".to_owned(),
            retention_days: 30,
            batch_size: 500,
            flush_interval_ms: 200,
        }
    }
}

impl StoreConfig {
    /// How long a partial batch may wait before it is written.
    #[must_use]
    pub fn flush_interval(&self) -> Duration {
        Duration::from_millis(self.flush_interval_ms)
    }

    /// The database URL with any password replaced by `***`, safe to log.
    #[must_use]
    pub fn url_masked(&self) -> String {
        mask_url(&self.url)
    }
}

// Hand-written so that `{:?}` of a config never prints a database password.
impl fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreConfig")
            .field("url", &self.url_masked())
            .field("retention_days", &self.retention_days)
            .field("batch_size", &self.batch_size)
            .field("flush_interval_ms", &self.flush_interval_ms)
            .finish()
    }
}

/// `[sources]`: connection policy shared by every exchange stream, and one table per exchange.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SourcesConfig {
    /// First reconnect delay in milliseconds; doubles on each failure.
    pub reconnect_initial_ms: u64,
    /// Backoff cap in milliseconds (at least `reconnect_initial_ms`).
    pub reconnect_max_ms: u64,
    /// A connection that sends no frame for this many seconds is treated as dead.
    pub idle_timeout_secs: u64,
    /// Give up on a connection attempt after this many seconds.
    pub connect_timeout_secs: u64,
    /// `[sources.binance]`.
    pub binance: BinanceConfig,
    /// `[sources.bybit]`.
    pub bybit: BybitConfig,
    /// `[sources.okx]`.
    pub okx: OkxConfig,
}

impl Default for SourcesConfig {
    fn default() -> Self {
        Self {
            reconnect_initial_ms: 500,
            reconnect_max_ms: 60_000,
            idle_timeout_secs: 90,
            connect_timeout_secs: 10,
            binance: BinanceConfig::default(),
            bybit: BybitConfig::default(),
            okx: OkxConfig::default(),
        }
    }
}

impl SourcesConfig {
    /// The first reconnect delay.
    #[must_use]
    pub fn reconnect_initial(&self) -> Duration {
        Duration::from_millis(self.reconnect_initial_ms)
    }

    /// The longest reconnect delay the backoff grows to.
    #[must_use]
    pub fn reconnect_max(&self) -> Duration {
        Duration::from_millis(self.reconnect_max_ms)
    }

    /// How long a silent connection may live before it is dropped and reopened.
    #[must_use]
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout_secs)
    }

    /// How long a connection attempt may take.
    #[must_use]
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_secs(self.connect_timeout_secs)
    }
}

/// `[sources.binance]`: the USDⓈ-M futures force-order stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BinanceConfig {
    /// Whether the Binance stream runs.
    pub enabled: bool,
    /// The all-market liquidation stream.
    pub ws_url: String,
    /// The REST base URL.
    pub rest_url: String,
}

impl Default for BinanceConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            ws_url: "wss://fstream.binance.com/market/ws/!forceOrder@arr".to_owned(),
            rest_url: "https://fapi.binance.com".to_owned(),
        }
    }
}

/// A Bybit contract category; each one is a separate websocket endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BybitCategory {
    /// USDT and USDC margined perpetuals (`/v5/public/linear`).
    Linear,
    /// Coin margined perpetuals (`/v5/public/inverse`).
    Inverse,
}

impl BybitCategory {
    /// The lowercase name Bybit uses in URLs and REST queries.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Linear => "linear",
            Self::Inverse => "inverse",
        }
    }
}

impl fmt::Display for BybitCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `[sources.bybit]`: the v5 public `allLiquidation` topics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BybitConfig {
    /// Whether the Bybit streams run.
    pub enabled: bool,
    /// The public websocket base; the category is appended (see [`BybitConfig::ws_url_for`]).
    pub ws_url: String,
    /// The REST base URL.
    pub rest_url: String,
    /// Which categories to stream, one connection each.
    pub categories: Vec<BybitCategory>,
    /// Symbols to subscribe to; empty means every trading perpetual.
    pub symbols: Vec<String>,
    /// Topics per subscribe message (at least 1).
    pub subscribe_batch: usize,
    /// Seconds between application-level pings.
    pub ping_interval_secs: u64,
}

impl Default for BybitConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            ws_url: "wss://stream.bybit.com/v5/public".to_owned(),
            rest_url: "https://api.bybit.com".to_owned(),
            categories: vec![BybitCategory::Linear, BybitCategory::Inverse],
            symbols: Vec::new(),
            subscribe_batch: 10,
            ping_interval_secs: 20,
        }
    }
}

impl BybitConfig {
    /// Time between pings.
    #[must_use]
    pub fn ping_interval(&self) -> Duration {
        Duration::from_secs(self.ping_interval_secs)
    }

    /// The websocket URL of one category, e.g. `wss://stream.bybit.com/v5/public/linear`.
    #[must_use]
    pub fn ws_url_for(&self, category: BybitCategory) -> String {
        format!("{}/{category}", self.ws_url.trim_end_matches('/'))
    }
}

/// `[sources.okx]`: the v5 public `liquidation-orders` channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OkxConfig {
    /// Whether the OKX stream runs.
    pub enabled: bool,
    /// The public websocket URL.
    pub ws_url: String,
    /// The REST base URL.
    pub rest_url: String,
    /// Seconds between `ping` text frames; OKX closes idle connections after 30 s.
    pub ping_interval_secs: u64,
}

impl Default for OkxConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            ws_url: "wss://ws.okx.com:8443/ws/v5/public".to_owned(),
            rest_url: "https://www.okx.com".to_owned(),
            ping_interval_secs: 25,
        }
    }
}

impl OkxConfig {
    /// Time between pings.
    #[must_use]
    pub fn ping_interval(&self) -> Duration {
        Duration::from_secs(self.ping_interval_secs)
    }
}

/// `[telegram]`: the Telegram Bot API; the token comes from the environment or secrets file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelegramConfig {
    /// The Bot API base URL.
    pub api_url: String,
    /// A send (a post, a reply, an edit) with no answer within this many seconds is given up
    /// and retried like a network error. Long polling for updates has its own timeout.
    pub send_timeout_secs: u64,
}

impl Default for TelegramConfig {
    fn default() -> Self {
        Self {
            api_url: "https://api.telegram.org".to_owned(),
            // teloxide's own default.
            send_timeout_secs: 17,
        }
    }
}

impl TelegramConfig {
    /// `send_timeout_secs` as a duration.
    #[must_use]
    pub fn send_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.send_timeout_secs)
    }
}

/// `[discord]`: the Discord API; the token comes from the environment or secrets file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiscordConfig {
    /// The API base URL. Anything but `https://discord.com` also carries the gateway URL and
    /// turns off serenity's rate limiter (the bot then honours 429s itself).
    pub api_url: String,
    /// A server id to register the slash commands in (instant, for development); empty
    /// registers them globally.
    pub dev_guild_id: String,
}

impl Default for DiscordConfig {
    fn default() -> Self {
        Self {
            api_url: DISCORD_API.to_owned(),
            dev_guild_id: String::new(),
        }
    }
}

/// Discord's own API base URL.
pub const DISCORD_API: &str = "https://discord.com";

impl DiscordConfig {
    /// The guild to register commands in, when `dev_guild_id` is set.
    #[must_use]
    pub fn dev_guild(&self) -> Option<u64> {
        self.dev_guild_id.parse().ok().filter(|id| *id > 0)
    }
}

/// `[metrics]`: an optional HTTP endpoint with `/metrics` (Prometheus text) and `/healthz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// `host:port` to serve on (`127.0.0.1:9187`); empty serves nothing.
    pub listen: String,
    /// `/healthz` reports unhealthy when every stream's last event is older than this.
    pub stale_secs: u64,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            listen: String::new(),
            stale_secs: 300,
        }
    }
}

/// `[commands]`: limits on the chat commands, the same on every platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CommandsConfig {
    /// Image commands (`/heatmap`, `/levels`, `/liq`, `/top`, `/fng`) one user may run per
    /// period (at least 1).
    pub image_limit: u32,
    /// The period of `image_limit`, in seconds (at least 1).
    pub image_period_secs: u64,
    /// Commands all members of one group, channel or Discord server channel may run together
    /// per period (at least 1); private chats have only the per-user limit.
    pub chat_limit: u32,
    /// The period of `chat_limit`, in seconds (at least 1).
    pub chat_period_secs: u64,
}

impl Default for CommandsConfig {
    fn default() -> Self {
        Self {
            image_limit: 5,
            image_period_secs: 60,
            // Telegram delivers at most 20 messages a minute to one group: more commands
            // would only queue their answers.
            chat_limit: 20,
            chat_period_secs: 60,
        }
    }
}

impl CommandsConfig {
    /// The period of `image_limit`.
    #[must_use]
    pub fn image_period(&self) -> Duration {
        Duration::from_secs(self.image_period_secs)
    }

    /// The period of `chat_limit`.
    #[must_use]
    pub fn chat_period(&self) -> Duration {
        Duration::from_secs(self.chat_period_secs)
    }
}

/// `[summary]`: what a windowed summary shows by default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SummaryConfig {
    /// The window used when a command names none; `1h`, `4h`, `12h`, `24h` or `7d`.
    pub default_window: String,
    /// How many coins the summary lists.
    pub top_coins: usize,
    /// Time zone for displayed times (an IANA name such as `UTC` or `Europe/Berlin`).
    pub time_zone: String,
}

impl Default for SummaryConfig {
    fn default() -> Self {
        Self {
            default_window: "24h".to_owned(),
            top_coins: 5,
            time_zone: "UTC".to_owned(),
        }
    }
}

impl SummaryConfig {
    /// The default window, or 24h if `default_window` is not one (a loaded config has
    /// always been validated, so that only happens after hand edits).
    #[must_use]
    pub fn default_window(&self) -> Window {
        self.default_window.parse().unwrap_or(Window::H24)
    }

    /// The time zone, or UTC if `time_zone` is not one (a loaded config has always been
    /// validated, so that only happens after hand edits).
    #[must_use]
    pub fn tz(&self) -> chrono_tz::Tz {
        self.time_zone.parse().unwrap_or(chrono_tz::UTC)
    }
}
