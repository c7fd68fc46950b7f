//! The bot's one typed configuration, loaded once at startup.
//!
//! Layers, later wins: the built-in defaults (the production values), `bot.toml`, the
//! secrets file named by `secrets_file`, and the environment. Tokens are never keys of
//! `bot.toml`: they come from `LIQBOT_TELEGRAM_TOKEN` / `LIQBOT_DISCORD_TOKEN` or the secrets
//! file, and live in a [`Secret`] that prints as `***`. Any key can be overridden with
//! `LIQBOT_<SECTION>__<KEY>` (see [`Config::load_with_env`]).
//!
//! Errors are for the operator: each one names the file and line, the environment variable,
//! or the secrets file that holds the bad value, and the dotted key path. This module is the
//! only place that reads the process environment.

mod env;
mod error;
mod jobs;
mod market;
mod parse;
mod secret;
mod sections;
mod validate;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use env::{DATABASE_URL_VAR, DISCORD_TOKEN_VAR, ENV_PREFIX, RESERVED_VARS, TELEGRAM_TOKEN_VAR};
pub use error::ConfigError;
pub use jobs::{AlertsConfig, JobConfig, SchedulerConfig};
pub use market::{ChartTheme, FearGreedConfig, LevelsConfig, MarketConfig, RenderConfig};
pub use secret::{Secret, mask_url};
pub use sections::{
    BinanceConfig, BybitCategory, BybitConfig, CommandsConfig, DISCORD_API, DiscordConfig,
    MetricsConfig, OkxConfig, SourcesConfig, StoreConfig, SummaryConfig, TelegramConfig,
};

use env::EnvLayer;
use secret::SecretsFile;
use validate::{DatabaseUrlSource, Provenance};

/// The whole configuration: the keys of `bot.toml` plus the tokens from the environment or
/// secrets file. `Config::default()` is the production configuration without tokens.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Optional path of a TOML file with `telegram_token`, `discord_token` and `database_url`;
    /// relative paths are resolved against the config file's directory. Empty means none.
    pub secrets_file: String,
    /// What this instance does: `collect` (stream liquidations and market context into the
    /// store) and/or `post` (answer commands, scheduled posts, alerts).
    pub roles: Roles,
    /// `[store]`.
    pub store: StoreConfig,
    /// `[sources]`.
    pub sources: SourcesConfig,
    /// `[market]`.
    pub market: MarketConfig,
    /// `[telegram]`.
    pub telegram: TelegramConfig,
    /// `[discord]`.
    pub discord: DiscordConfig,
    /// `[commands]`.
    pub commands: CommandsConfig,
    /// `[summary]`.
    pub summary: SummaryConfig,
    /// `[render]`.
    pub render: RenderConfig,
    /// `[scheduler]`.
    pub scheduler: SchedulerConfig,
    /// `[[jobs]]`: scheduled posts to fixed targets.
    pub jobs: Vec<JobConfig>,
    /// `[alerts]`.
    pub alerts: AlertsConfig,
    /// `[metrics]`.
    pub metrics: MetricsConfig,
    /// The Telegram bot token (`LIQBOT_TELEGRAM_TOKEN`, else the secrets file); not a file key.
    #[serde(skip)]
    pub telegram_token: Option<Secret>,
    /// The Discord bot token (`LIQBOT_DISCORD_TOKEN`, else the secrets file); not a file key.
    #[serde(skip)]
    pub discord_token: Option<Secret>,
}

/// The roles an instance can take.
pub const ROLES: [&str; 2] = ["collect", "post"];

/// `roles`: both by default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Roles(pub Vec<String>);

impl Default for Roles {
    fn default() -> Self {
        Self(ROLES.iter().map(|r| (*r).to_owned()).collect())
    }
}

impl Config {
    /// Whether this instance has `role` (`collect` or `post`).
    #[must_use]
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.0.iter().any(|r| r.eq_ignore_ascii_case(role))
    }

    /// Reads the file, applies the process environment, validates.
    ///
    /// # Errors
    /// See [`Config::load_with_env`]; also fails if a `LIQBOT_*` variable is not UTF-8.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let mut vars = Vec::new();
        for (name, value) in std::env::vars_os() {
            let Ok(name) = name.into_string() else {
                continue;
            };
            if !name.starts_with(ENV_PREFIX) {
                continue;
            }
            let value = value.into_string().map_err(|_| ConfigError::Env {
                var: name.clone(),
                message: "the value is not valid UTF-8".to_owned(),
            })?;
            vars.push((name, value));
        }
        Self::load_with_env(path, vars)
    }

    /// Reads the file at `path`, applies `env` (name, value pairs; names without the
    /// `LIQBOT_` prefix are ignored), reads the secrets file, validates.
    ///
    /// Environment: `LIQBOT_TELEGRAM_TOKEN`, `LIQBOT_DISCORD_TOKEN` (win over the secrets
    /// file) and `LIQBOT_DATABASE_URL` (wins over the secrets file's `database_url`, which wins
    /// over `store.url`); `LIQBOT_CONFIG` and `LIQBOT_LOG` are ignored; every other `LIQBOT_`
    /// variable must name a key, levels separated by `__`, case-insensitively:
    /// `LIQBOT_SOURCES__BYBIT__ENABLED=false`. Values are TOML when they parse as TOML, else
    /// strings; string keys always take the text as is, array keys also take `A,B,C`.
    ///
    /// # Errors
    /// [`ConfigError::Read`] if the file cannot be read; [`ConfigError::Parse`] or
    /// [`ConfigError::UnknownKey`] for bad TOML, wrong types and unknown keys in the file;
    /// [`ConfigError::Env`] for a bad variable; [`ConfigError::Secrets`] for a bad secrets
    /// file; [`ConfigError::Invalid`] for a value out of range.
    pub fn load_with_env(
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let origin = path.display().to_string();
        let env = EnvLayer::from_vars(env)?;

        // The first pass reports file errors with lines; the overlay pass, if any, blames
        // variables for what it adds.
        let mut config: Self = parse::from_text(&text, &origin)?;
        if !env.overrides.is_empty() {
            config = env::apply_overrides(&text, &env.overrides)?;
        }

        let overridden = env.overridden_keys();
        let database_url = config.apply_secrets(path, env)?;
        let provenance = Provenance {
            origin: &origin,
            text: &text,
            env: overridden,
            database_url,
        };
        validate::validate(&config).map_err(|issue| provenance.error(issue))?;
        Ok(config)
    }

    /// Parses and validates TOML `text` without environment or secrets file; `origin` names
    /// the text in error messages.
    ///
    /// # Errors
    /// [`ConfigError::Parse`], [`ConfigError::UnknownKey`] or [`ConfigError::Invalid`].
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let config: Self = parse::from_text(text, origin)?;
        let provenance = Provenance {
            origin,
            text,
            env: Vec::new(),
            database_url: None,
        };
        validate::validate(&config).map_err(|issue| provenance.error(issue))?;
        Ok(config)
    }

    /// Every setting as TOML, for `liqbot check-config`: the tokens as comments saying
    /// `*** (set)` or `(not set)`, the database URL with its password masked.
    #[must_use]
    pub fn summary(&self) -> String {
        let mut shown = self.clone();
        shown.store.url = self.store.url_masked();
        let body = toml::to_string(&shown)
            .unwrap_or_else(|e| format!("# the settings could not be rendered: {e}\n"));
        format!(
            "# telegram_token: {}\n# discord_token: {}\n{body}",
            secret_state(self.telegram_token.as_ref()),
            secret_state(self.discord_token.as_ref()),
        )
    }

    /// Fills the tokens and the database URL from the environment, else from the secrets
    /// file, and says where `store.url` came from if it was replaced.
    fn apply_secrets(
        &mut self,
        config_path: &Path,
        env: EnvLayer,
    ) -> Result<Option<DatabaseUrlSource>, ConfigError> {
        let secrets_path = self.secrets_path(config_path);
        let secrets = match &secrets_path {
            Some(secrets_path) => SecretsFile::read(secrets_path)?,
            None => SecretsFile::default(),
        };
        self.telegram_token = env.telegram_token.or(secrets.telegram_token);
        self.discord_token = env.discord_token.or(secrets.discord_token);
        let (url, source) = match (env.database_url, secrets.database_url, secrets_path) {
            (Some((var, url)), _, _) => (url, DatabaseUrlSource::Env(var)),
            (None, Some(url), Some(path)) => (url, DatabaseUrlSource::SecretsFile(path)),
            _ => return Ok(None),
        };
        url.expose().clone_into(&mut self.store.url);
        Ok(Some(source))
    }

    /// The secrets file's path, relative paths taken from the config file's directory.
    fn secrets_path(&self, config_path: &Path) -> Option<PathBuf> {
        if self.secrets_file.trim().is_empty() {
            return None;
        }
        let file = Path::new(&self.secrets_file);
        let base = config_path.parent().unwrap_or_else(|| Path::new(""));
        Some(base.join(file))
    }
}

fn secret_state(secret: Option<&Secret>) -> &'static str {
    match secret {
        Some(_) => "*** (set)",
        None => "(not set)",
    }
}

#[cfg(test)]
mod tests;
