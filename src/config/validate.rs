//! Checks that need more than a type: ranges, URL schemes, known window names. An [`Issue`]
//! names a key; [`Provenance`] turns it into an error that points at where the value was set.

use std::path::PathBuf;

use super::Config;
use super::error::ConfigError;
use super::parse::key_line;

/// One failed check.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Issue {
    /// Dotted path of the offending key.
    pub(crate) key: String,
    /// Another key the problem can be blamed on when `key` was never set (cross-key checks).
    pub(crate) related: Option<String>,
    /// What is wrong and what is allowed.
    pub(crate) message: String,
}

impl Issue {
    fn new(key: &str, message: impl Into<String>) -> Self {
        Self {
            key: key.to_owned(),
            related: None,
            message: message.into(),
        }
    }
}

const DATABASE_SCHEMES: [&str; 3] = ["sqlite://", "postgres://", "postgresql://"];
const WS_SCHEMES: [&str; 2] = ["wss://", "ws://"];
const HTTP_SCHEMES: [&str; 2] = ["https://", "http://"];

/// Returns the first problem in `config`, checking keys in file order.
pub(crate) fn validate(config: &Config) -> Result<(), Issue> {
    let roles = &config.roles.0;
    if roles.is_empty() {
        return Err(Issue::new(
            "roles",
            "names no role; use [\"collect\", \"post\"] or one of them",
        ));
    }
    if let Some(bad) = roles
        .iter()
        .find(|r| !super::ROLES.iter().any(|k| k.eq_ignore_ascii_case(r)))
    {
        return Err(Issue::new(
            "roles",
            format!("{bad:?} is not a role; use collect and/or post"),
        ));
    }
    let store = &config.store;
    database_url(&store.url)?;
    at_least_one("store.retention_days", u64::from(store.retention_days))?;
    at_least_one("store.batch_size", widen(store.batch_size))?;

    let sources = &config.sources;
    at_least_one("sources.reconnect_initial_ms", sources.reconnect_initial_ms)?;
    if sources.reconnect_max_ms < sources.reconnect_initial_ms {
        return Err(Issue {
            related: Some("sources.reconnect_initial_ms".to_owned()),
            ..Issue::new(
                "sources.reconnect_max_ms",
                format!(
                    "reconnect_max_ms ({}) is less than reconnect_initial_ms ({}); the backoff cap \
                     must be at least the first delay",
                    sources.reconnect_max_ms, sources.reconnect_initial_ms
                ),
            )
        });
    }
    at_least_one("sources.idle_timeout_secs", sources.idle_timeout_secs)?;
    at_least_one("sources.connect_timeout_secs", sources.connect_timeout_secs)?;

    let binance = &sources.binance;
    url("sources.binance.ws_url", &binance.ws_url, &WS_SCHEMES)?;
    url("sources.binance.rest_url", &binance.rest_url, &HTTP_SCHEMES)?;

    let bybit = &sources.bybit;
    url("sources.bybit.ws_url", &bybit.ws_url, &WS_SCHEMES)?;
    url("sources.bybit.rest_url", &bybit.rest_url, &HTTP_SCHEMES)?;
    if bybit.enabled && bybit.categories.is_empty() {
        return Err(Issue::new(
            "sources.bybit.categories",
            "lists no category; add \"linear\" and/or \"inverse\", or set enabled = false",
        ));
    }
    for (i, symbol) in bybit.symbols.iter().enumerate() {
        if symbol.is_empty() || symbol.contains(char::is_whitespace) {
            return Err(Issue::new(
                &format!("sources.bybit.symbols[{i}]"),
                format!("{symbol:?} is not a symbol; write names like \"BTCUSDT\""),
            ));
        }
    }
    at_least_one(
        "sources.bybit.subscribe_batch",
        widen(bybit.subscribe_batch),
    )?;
    at_least_one("sources.bybit.ping_interval_secs", bybit.ping_interval_secs)?;

    let okx = &sources.okx;
    url("sources.okx.ws_url", &okx.ws_url, &WS_SCHEMES)?;
    url("sources.okx.rest_url", &okx.rest_url, &HTTP_SCHEMES)?;
    at_least_one("sources.okx.ping_interval_secs", okx.ping_interval_secs)?;

    market(&config.market)?;
    url("telegram.api_url", &config.telegram.api_url, &HTTP_SCHEMES)?;
    at_least_one(
        "telegram.send_timeout_secs",
        config.telegram.send_timeout_secs,
    )?;
    url("discord.api_url", &config.discord.api_url, &HTTP_SCHEMES)?;
    let guild = &config.discord.dev_guild_id;
    if !guild.is_empty() && config.discord.dev_guild().is_none() {
        return Err(Issue::new(
            "discord.dev_guild_id",
            format!("{guild:?} is not a server id; write its digits, or \"\" to register globally"),
        ));
    }

    at_least_one(
        "commands.image_limit",
        u64::from(config.commands.image_limit),
    )?;
    at_least_one(
        "commands.image_period_secs",
        config.commands.image_period_secs,
    )?;
    at_least_one("commands.chat_limit", u64::from(config.commands.chat_limit))?;
    at_least_one(
        "commands.chat_period_secs",
        config.commands.chat_period_secs,
    )?;

    let summary = &config.summary;
    if let Err(e) = summary.default_window.parse::<crate::analytics::Window>() {
        return Err(Issue::new("summary.default_window", e.to_string()));
    }
    if summary.time_zone.parse::<chrono_tz::Tz>().is_err() {
        return Err(Issue::new(
            "summary.time_zone",
            format!(
                "{:?} is not an IANA time zone; use a name such as \"UTC\" or \"Europe/Berlin\"",
                summary.time_zone
            ),
        ));
    }
    jobs(config)?;
    alerts(config)?;
    metrics(config)?;
    let render = &config.render;
    if !(200..=4000).contains(&render.width) || !(150..=4000).contains(&render.height) {
        return Err(Issue::new(
            "render.width",
            "images must be 200-4000 pixels wide and 150-4000 high",
        ));
    }
    Ok(())
}

fn alerts(config: &Config) -> Result<(), Issue> {
    let alerts = &config.alerts;
    let positive = |key: &str, v: f64| {
        if v.is_finite() && v > 0.0 {
            Ok(())
        } else {
            Err(Issue::new(
                key,
                format!("{v} must be a positive number of USD"),
            ))
        }
    };
    positive("alerts.large_usd", alerts.large_usd)?;
    positive("alerts.cascade_usd", alerts.cascade_usd)?;
    for (coin, usd) in &alerts.large_usd_by_coin {
        positive(&format!("alerts.large_usd_by_coin.{coin}"), *usd)?;
    }
    at_least_one("alerts.cascade_minutes", alerts.cascade_minutes)?;
    if !(alerts.update_step_pct.is_finite() && alerts.update_step_pct > 0.0) {
        return Err(Issue::new(
            "alerts.update_step_pct",
            "must be a positive percentage",
        ));
    }
    for (platform, targets) in [("telegram", &alerts.telegram), ("discord", &alerts.discord)] {
        for (j, target) in targets.iter().enumerate() {
            if target.parse::<i64>().is_err() {
                return Err(Issue::new(
                    &format!("alerts.{platform}[{j}]"),
                    format!("{target:?} is not a chat or channel id (digits, maybe a leading -)"),
                ));
            }
        }
    }
    Ok(())
}

fn metrics(config: &Config) -> Result<(), Issue> {
    let listen = &config.metrics.listen;
    if !listen.is_empty() && listen.parse::<std::net::SocketAddr>().is_err() {
        return Err(Issue::new(
            "metrics.listen",
            format!(
                "{listen:?} is not host:port with an IP address (127.0.0.1:9187), or \"\" for none"
            ),
        ));
    }
    at_least_one("metrics.stale_secs", config.metrics.stale_secs)
}

fn jobs(config: &Config) -> Result<(), Issue> {
    at_least_one("scheduler.shutdown_secs", config.scheduler.shutdown_secs)?;
    at_least_one("scheduler.lease_secs", config.scheduler.lease_secs)?;
    let mut names = std::collections::HashSet::new();
    for (i, job) in config.jobs.iter().enumerate() {
        let key = |field: &str| format!("jobs[{i}].{field}");
        if job.name.trim().is_empty() || !names.insert(job.name.as_str()) {
            return Err(Issue::new(
                &key("name"),
                format!("{:?}: every job needs a unique, non-empty name", job.name),
            ));
        }
        job.post_kind().map_err(|e| Issue::new(&key("kind"), e))?;
        job.window_or(crate::analytics::Window::H24)
            .map_err(|e| Issue::new(&key("window"), e))?;
        let field = if job.time_zone.is_empty() || job.time_zone.parse::<chrono_tz::Tz>().is_ok() {
            "schedule"
        } else {
            "time_zone"
        };
        job.schedule_in(config.summary.tz())
            .map_err(|e| Issue::new(&key(field), e.to_string()))?;
        for (j, coin) in job.coins.iter().enumerate() {
            if coin.trim().is_empty() || !coin.trim().bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(Issue::new(
                    &format!("jobs[{i}].coins[{j}]"),
                    format!("{coin:?} is not a coin ticker such as \"BTC\""),
                ));
            }
        }
        for (platform, targets) in [("telegram", &job.telegram), ("discord", &job.discord)] {
            for (j, target) in targets.iter().enumerate() {
                if target.parse::<i64>().is_err() {
                    return Err(Issue::new(
                        &format!("jobs[{i}].{platform}[{j}]"),
                        format!(
                            "{target:?} is not a chat or channel id (digits, maybe a leading -)"
                        ),
                    ));
                }
            }
        }
        if job.telegram.is_empty() && job.discord.is_empty() {
            return Err(Issue::new(
                &key("name"),
                format!(
                    "job {:?} has no targets; list telegram and/or discord ids",
                    job.name
                ),
            ));
        }
    }
    Ok(())
}

fn market(market: &super::MarketConfig) -> Result<(), Issue> {
    if market
        .coins
        .iter()
        .any(|c| c.trim().is_empty() || c.contains(char::is_whitespace))
    {
        return Err(Issue::new(
            "market.coins",
            "holds an empty name or one with spaces",
        ));
    }
    at_least_one("market.poll_interval_secs", market.poll_interval_secs)?;
    at_least_one("market.history_hours", market.history_hours)?;
    at_least_one("market.request_timeout_secs", market.request_timeout_secs)?;
    url(
        "market.fear_greed.url",
        &market.fear_greed.url,
        &HTTP_SCHEMES,
    )?;
    at_least_one(
        "market.fear_greed.interval_secs",
        market.fear_greed.interval_secs,
    )?;
    let levels = &market.levels;
    if levels.leverage.is_empty() || levels.leverage.iter().any(|l| !(l.is_finite() && *l > 1.0)) {
        return Err(Issue::new(
            "market.levels.leverage",
            "needs at least one leverage, each above 1",
        ));
    }
    if levels.weights.len() != levels.leverage.len() {
        return Err(Issue {
            related: Some("market.levels.leverage".to_owned()),
            ..Issue::new(
                "market.levels.weights",
                format!(
                    "has {} weights for {} leverage tiers; give one weight per tier",
                    levels.weights.len(),
                    levels.leverage.len()
                ),
            )
        });
    }
    if levels.weights.iter().any(|w| !(w.is_finite() && *w >= 0.0))
        || levels.weights.iter().sum::<f64>() <= 0.0
    {
        return Err(Issue::new(
            "market.levels.weights",
            "must be non-negative with a positive sum",
        ));
    }
    if !(0.0..0.5).contains(&levels.mmr) {
        return Err(Issue::new(
            "market.levels.mmr",
            "must be at least 0 and below 0.5",
        ));
    }
    if !(levels.cluster_window_pct > 0.0 && levels.cluster_window_pct <= 20.0) {
        return Err(Issue::new(
            "market.levels.cluster_window_pct",
            "must be above 0 and at most 20",
        ));
    }
    Ok(())
}

fn widen(value: usize) -> u64 {
    u64::try_from(value).unwrap_or(u64::MAX)
}

fn at_least_one(key: &str, value: u64) -> Result<(), Issue> {
    if value == 0 {
        return Err(Issue::new(key, "must be at least 1"));
    }
    Ok(())
}

fn url(key: &str, value: &str, schemes: &[&str]) -> Result<(), Issue> {
    let ok = schemes
        .iter()
        .any(|scheme| value.len() > scheme.len() && value.starts_with(scheme));
    if ok {
        return Ok(());
    }
    Err(Issue::new(
        key,
        format!(
            "{value:?} must start with {} and name a host",
            schemes.join(" or ")
        ),
    ))
}

/// Like [`url`], but never quotes the value: a database URL can hold a password.
fn database_url(value: &str) -> Result<(), Issue> {
    let ok = DATABASE_SCHEMES
        .iter()
        .any(|scheme| value.len() > scheme.len() && value.starts_with(scheme));
    if ok {
        return Ok(());
    }
    let got = match value.split_once("://") {
        Some((scheme, _)) => format!("scheme `{scheme}`"),
        None => "a value without scheme".to_owned(),
    };
    Err(Issue::new(
        "store.url",
        format!(
            "must start with {} followed by a path or host (got {got})",
            DATABASE_SCHEMES.join(", ")
        ),
    ))
}

/// Where each value came from, to blame an [`Issue`] on a file line, a variable or the
/// secrets file.
pub(crate) struct Provenance<'a> {
    /// The config file's path or name.
    pub(crate) origin: &'a str,
    /// The config file's text.
    pub(crate) text: &'a str,
    /// Dotted key to the override variable that set it.
    pub(crate) env: Vec<(String, String)>,
    /// Who replaced `store.url`, if anyone.
    pub(crate) database_url: Option<DatabaseUrlSource>,
}

/// The source of a `store.url` that did not come from `bot.toml`.
pub(crate) enum DatabaseUrlSource {
    /// `LIQBOT_DATABASE_URL`, as spelt.
    Env(String),
    /// `database_url` in the secrets file at this path.
    SecretsFile(PathBuf),
}

impl Provenance<'_> {
    /// The error for `issue`, blamed on the first of its keys that was set anywhere.
    pub(crate) fn error(&self, issue: Issue) -> ConfigError {
        let keys = std::iter::once(issue.key.as_str()).chain(issue.related.as_deref());
        for key in keys {
            if let Some(error) = self.blame(key, &issue.message) {
                return error;
            }
        }
        ConfigError::Invalid {
            origin: self.origin.to_owned(),
            key: issue.key,
            line: None,
            message: issue.message,
        }
    }

    fn blame(&self, key: &str, message: &str) -> Option<ConfigError> {
        if key == "store.url" {
            match &self.database_url {
                Some(DatabaseUrlSource::Env(var)) => {
                    return Some(ConfigError::Env {
                        var: var.clone(),
                        message: message.to_owned(),
                    });
                }
                Some(DatabaseUrlSource::SecretsFile(path)) => {
                    return Some(ConfigError::Secrets {
                        path: path.clone(),
                        message: format!("key `database_url`: {message}"),
                    });
                }
                None => {}
            }
        }
        let bare_key = key.split('[').next().unwrap_or(key);
        if let Some((_, var)) = self.env.iter().find(|(k, _)| k == bare_key) {
            return Some(ConfigError::Env {
                var: var.clone(),
                message: format!("key `{key}`: {message}"),
            });
        }
        key_line(self.text, key).map(|line| ConfigError::Invalid {
            origin: self.origin.to_owned(),
            key: key.to_owned(),
            line: Some(line),
            message: message.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;

    #[test]
    fn default_config_is_valid() {
        assert_eq!(validate(&Config::default()), Ok(()));
    }

    #[test]
    fn database_url_error_never_quotes_the_url() {
        let mut config = Config::default();
        config.store.url = "mysql://u:hunter2@h/db".to_owned();
        let issue = validate(&config).unwrap_err();
        assert_eq!(issue.key, "store.url");
        assert!(!issue.message.contains("hunter2"), "{}", issue.message);
        assert!(
            issue.message.contains("scheme `mysql`"),
            "{}",
            issue.message
        );
    }

    #[test]
    fn backoff_cap_below_first_delay_is_blamed_on_the_key_that_is_set() {
        let text = "[sources]\nreconnect_initial_ms = 100000\n";
        let mut config = Config::default();
        config.sources.reconnect_initial_ms = 100_000;
        let provenance = Provenance {
            origin: "bot.toml",
            text,
            env: Vec::new(),
            database_url: None,
        };
        let err = provenance.error(validate(&config).unwrap_err());
        assert_eq!(
            err.to_string(),
            "bot.toml:2: key `sources.reconnect_initial_ms`: reconnect_max_ms (60000) is less than \
             reconnect_initial_ms (100000); the backoff cap must be at least the first delay"
        );
    }

    /// A key and a change to the default config that breaks it.
    type Breakage = (&'static str, fn(&mut Config));

    #[test]
    fn each_range_check_names_its_key() {
        let cases: [Breakage; 6] = [
            ("store.batch_size", |c| c.store.batch_size = 0),
            ("store.retention_days", |c| c.store.retention_days = 0),
            ("sources.bybit.subscribe_batch", |c| {
                c.sources.bybit.subscribe_batch = 0
            }),
            ("sources.okx.ping_interval_secs", |c| {
                c.sources.okx.ping_interval_secs = 0
            }),
            ("sources.bybit.categories", |c| {
                c.sources.bybit.categories.clear()
            }),
            ("summary.default_window", |c| {
                c.summary.default_window = "2h".into()
            }),
        ];
        for (key, break_it) in cases {
            let mut config = Config::default();
            break_it(&mut config);
            assert_eq!(validate(&config).unwrap_err().key, key);
        }
    }
}
