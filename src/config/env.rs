//! The environment layer: secret variables and the `LIQBOT_<SECTION>__<KEY>` overlay.
//!
//! Variables are sorted into secrets (`LIQBOT_TELEGRAM_TOKEN`, ...), reserved names read by
//! the binary (`LIQBOT_CONFIG`, `LIQBOT_LOG`), and overrides whose name spells a key path.
//! Anything else starting with `LIQBOT_` is a typo and an error, so a misspelt token variable
//! cannot silently leave the bot without a token.

use std::collections::BTreeMap;

use toml::{Table, Value};

use super::Config;
use super::error::ConfigError;
use super::parse::{key_path, unknown_field_expected};
use super::secret::{Secret, non_empty_secret};

/// Every variable the config reads starts with this.
pub const ENV_PREFIX: &str = "LIQBOT_";
/// The Telegram bot token.
pub const TELEGRAM_TOKEN_VAR: &str = "LIQBOT_TELEGRAM_TOKEN";
/// The Discord bot token.
pub const DISCORD_TOKEN_VAR: &str = "LIQBOT_DISCORD_TOKEN";
/// A database URL that replaces `store.url`.
pub const DATABASE_URL_VAR: &str = "LIQBOT_DATABASE_URL";
/// Variables the binary reads itself (config path, log filter); the overlay ignores them.
pub const RESERVED_VARS: [&str; 2] = ["LIQBOT_CONFIG", "LIQBOT_LOG"];

/// Variables under this prefix belong to the test suite (`LIQBOT_TEST_DATABASE_URL`) and are
/// never read as configuration.
pub const TEST_VAR_PREFIX: &str = "LIQBOT_TEST_";

/// Separates key path levels in an override name: `LIQBOT_SOURCES__BYBIT__ENABLED`.
const LEVEL_SEPARATOR: &str = "__";

/// One `LIQBOT_<PATH>` override.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Override {
    /// The variable's name as set.
    pub(crate) var: String,
    /// The lowercase key path, e.g. `["sources", "bybit", "enabled"]`.
    pub(crate) path: Vec<String>,
    /// The value as set.
    pub(crate) raw: String,
}

/// What the environment contributes to the config.
#[derive(Debug, Default)]
pub(crate) struct EnvLayer {
    /// Key overrides, sorted by variable name.
    pub(crate) overrides: Vec<Override>,
    /// From [`TELEGRAM_TOKEN_VAR`].
    pub(crate) telegram_token: Option<Secret>,
    /// From [`DISCORD_TOKEN_VAR`].
    pub(crate) discord_token: Option<Secret>,
    /// From [`DATABASE_URL_VAR`], with the variable's name as set.
    pub(crate) database_url: Option<(String, Secret)>,
}

impl EnvLayer {
    /// Sorts `vars` into secrets and overrides, ignoring variables without the `LIQBOT_` prefix.
    pub(crate) fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut vars: Vec<(String, String)> = vars
            .into_iter()
            .filter(|(name, _)| name.starts_with(ENV_PREFIX) && !name.starts_with(TEST_VAR_PREFIX))
            .collect();
        vars.sort();
        reject_case_duplicates(&vars)?;

        let mut layer = Self::default();
        for (var, value) in vars {
            let name = var.to_ascii_uppercase();
            if name == TELEGRAM_TOKEN_VAR {
                layer.telegram_token = non_empty_secret(&value);
            } else if name == DISCORD_TOKEN_VAR {
                layer.discord_token = non_empty_secret(&value);
            } else if name == DATABASE_URL_VAR {
                layer.database_url = non_empty_secret(&value).map(|url| (var, url));
            } else if !RESERVED_VARS.contains(&name.as_str()) {
                let path = override_path(&var)?;
                layer.overrides.push(Override {
                    var,
                    path,
                    raw: value,
                });
            }
        }
        Ok(layer)
    }

    /// Each overridden key (dotted) with the variable that set it.
    pub(crate) fn overridden_keys(&self) -> Vec<(String, String)> {
        self.overrides
            .iter()
            .map(|o| (o.path.join("."), o.var.clone()))
            .collect()
    }
}

/// Two variables that differ only in case would make the result depend on sort order.
fn reject_case_duplicates(vars: &[(String, String)]) -> Result<(), ConfigError> {
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    for (var, _) in vars {
        if let Some(other) = seen.insert(var.to_ascii_uppercase(), var) {
            return Err(env_error(var, format!("also set as {other}; set only one")));
        }
    }
    Ok(())
}

/// The lowercase key path named by an override variable.
fn override_path(var: &str) -> Result<Vec<String>, ConfigError> {
    let rest = &var[ENV_PREFIX.len()..];
    let path: Vec<String> = rest
        .split(LEVEL_SEPARATOR)
        .map(str::to_ascii_lowercase)
        .collect();
    if path.iter().any(String::is_empty) {
        return Err(env_error(
            var,
            "empty key in the name; write LIQBOT_<SECTION>__<KEY>, e.g. LIQBOT_STORE__URL"
                .to_owned(),
        ));
    }
    Ok(path)
}

/// Applies `overrides` on top of the file `text` and deserializes the result. Errors name the
/// variable responsible. `text` must already have passed [`super::parse::from_text`].
pub(crate) fn apply_overrides(text: &str, overrides: &[Override]) -> Result<Config, ConfigError> {
    let Ok(Value::Table(defaults)) = Value::try_from(Config::default()) else {
        unreachable!("the default config serializes to a TOML table");
    };
    let mut table: Table = text
        .parse()
        .map_err(|e: toml::de::Error| ConfigError::Env {
            var: overrides
                .first()
                .map_or_else(String::new, |o| o.var.clone()),
            message: e.message().to_owned(),
        })?;
    for o in overrides {
        let default = default_at(&defaults, o)?;
        set_path(&mut table, o, parse_value(&o.raw, default))?;
    }
    serde_path_to_error::deserialize(Value::Table(table)).map_err(|e| {
        let key = key_path(e.path());
        let var = responsible_var(overrides, &key);
        let message = e.inner().message();
        let message = match unknown_field_expected(message) {
            Some(expected) => format!(
                "unknown key `{key}` (expected one of {})",
                expected.join(", ")
            ),
            None => format!("key `{key}`: {message}"),
        };
        env_error(&var, message)
    })
}

/// The override that set `key` or the section or array holding it; all of them if none
/// matches (every key not set by a variable has already passed the file pass).
fn responsible_var(overrides: &[Override], key: &str) -> String {
    let covers = |o: &&Override| {
        let path = o.path.join(".");
        key.strip_prefix(path.as_str())
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
    };
    match overrides.iter().find(covers) {
        Some(o) => o.var.clone(),
        None => overrides
            .iter()
            .map(|o| o.var.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// The default value at an override's path, which proves the path is a key and tells which
/// type the raw value should become.
fn default_at<'d>(defaults: &'d Table, o: &Override) -> Result<&'d Value, ConfigError> {
    let mut table = defaults;
    for (depth, segment) in o.path.iter().enumerate() {
        let walked = o.path[..=depth].join(".");
        let Some(value) = table.get(segment) else {
            if o.path.len() == 1 {
                return Err(env_error(
                    &o.var,
                    format!(
                        "not a variable liqbot reads; expected {TELEGRAM_TOKEN_VAR}, {DISCORD_TOKEN_VAR}, \
                         {DATABASE_URL_VAR}, {} or LIQBOT_<SECTION>__<KEY> such as LIQBOT_STORE__URL",
                        RESERVED_VARS.join(", ")
                    ),
                ));
            }
            let expected: Vec<&str> = table.keys().map(String::as_str).collect();
            return Err(env_error(
                &o.var,
                format!(
                    "unknown key `{walked}` (expected one of {})",
                    expected.join(", ")
                ),
            ));
        };
        match (depth + 1 == o.path.len(), value.as_table()) {
            (true, Some(section)) => {
                let example = section.keys().next().map_or("KEY", String::as_str);
                return Err(env_error(
                    &o.var,
                    format!(
                        "`{walked}` is a section, not a key; set its keys one by one, e.g. {}{LEVEL_SEPARATOR}{}",
                        o.var,
                        example.to_ascii_uppercase()
                    ),
                ));
            }
            (true, None) => return Ok(value),
            (false, Some(section)) => table = section,
            (false, None) => {
                return Err(env_error(
                    &o.var,
                    format!("`{walked}` is a key, not a section"),
                ));
            }
        }
    }
    unreachable!("override paths have at least one segment")
}

/// Converts a variable's text to the TOML value for a key whose default is `default`.
///
/// A string key takes the text as is (so `LIQBOT_SUMMARY__TIME_ZONE=0` stays a string), unless
/// it is a quoted TOML string. An array key accepts a TOML array or a comma-separated list
/// (`BTCUSDT,ETHUSDT`). Other keys take the text as a TOML value when it parses as one, else
/// as a string, which then fails deserialization with a type error naming the variable.
fn parse_value(raw: &str, default: &Value) -> Value {
    let parsed = raw.trim().parse::<Value>().ok();
    match (default, parsed) {
        (Value::String(_), Some(Value::String(s))) => Value::String(s),
        (Value::String(_), _) => Value::String(raw.to_owned()),
        (Value::Array(_), Some(Value::Array(items))) => Value::Array(items),
        (Value::Array(_), _) => Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(|item| Value::String(item.to_owned()))
                .collect(),
        ),
        (_, Some(value)) => value,
        (_, None) => Value::String(raw.to_owned()),
    }
}

/// Sets `value` at the override's path, creating sections the file does not have.
fn set_path(table: &mut Table, o: &Override, value: Value) -> Result<(), ConfigError> {
    let (last, parents) = o.path.split_last().expect("override paths are never empty");
    let mut table = table;
    for segment in parents {
        let entry = table
            .entry(segment.clone())
            .or_insert_with(|| Value::Table(Table::new()));
        table = entry.as_table_mut().ok_or_else(|| {
            env_error(
                &o.var,
                format!("the file sets `{segment}` to a value, not a section"),
            )
        })?;
    }
    table.insert(last.clone(), value);
    Ok(())
}

fn env_error(var: &str, message: String) -> ConfigError {
    ConfigError::Env {
        var: var.to_owned(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn sorts_secrets_reserved_and_overrides() {
        let layer = EnvLayer::from_vars(vars(&[
            ("PATH", "/bin"),
            ("LIQBOT_CONFIG", "bot.toml"),
            ("LIQBOT_LOG", "debug"),
            ("LIQBOT_TELEGRAM_TOKEN", " test-token-not-real\n"),
            ("LIQBOT_DISCORD_TOKEN", ""),
            ("LIQBOT_Sources__Bybit__Enabled", "false"),
        ]))
        .unwrap();
        assert_eq!(
            layer.telegram_token,
            Some(Secret::new("test-token-not-real"))
        );
        assert_eq!(layer.discord_token, None);
        assert_eq!(
            layer.overrides,
            vec![Override {
                var: "LIQBOT_Sources__Bybit__Enabled".to_owned(),
                path: vec!["sources".into(), "bybit".into(), "enabled".into()],
                raw: "false".to_owned(),
            }]
        );
    }

    #[test]
    fn empty_path_segment_is_an_error() {
        let err = EnvLayer::from_vars(vars(&[("LIQBOT_STORE____URL", "x")])).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("environment variable LIQBOT_STORE____URL: empty key")
        );
    }

    #[test]
    fn names_differing_only_in_case_are_an_error() {
        let err = EnvLayer::from_vars(vars(&[
            ("LIQBOT_STORE__URL", "sqlite://a"),
            ("LIQBOT_store__url", "sqlite://b"),
        ]))
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable LIQBOT_store__url: also set as LIQBOT_STORE__URL; set only one"
        );
    }

    #[test]
    fn string_keys_keep_the_text_even_when_it_looks_like_toml() {
        let string = Value::String(String::new());
        assert_eq!(parse_value("0", &string), Value::String("0".into()));
        assert_eq!(
            parse_value("\"quoted\"", &string),
            Value::String("quoted".into())
        );
        assert_eq!(
            parse_value("postgres://u:p@h/db", &string),
            Value::String("postgres://u:p@h/db".into())
        );
    }

    #[test]
    fn array_keys_take_toml_arrays_or_comma_lists() {
        let array = Value::Array(Vec::new());
        let expected = Value::Array(vec![
            Value::String("BTCUSDT".into()),
            Value::String("ETHUSDT".into()),
        ]);
        assert_eq!(parse_value(r#"["BTCUSDT","ETHUSDT"]"#, &array), expected);
        assert_eq!(parse_value("BTCUSDT, ETHUSDT", &array), expected);
        assert_eq!(parse_value("", &array), Value::Array(Vec::new()));
    }

    #[test]
    fn other_keys_take_toml_scalars_or_fall_back_to_a_string() {
        assert_eq!(
            parse_value("false", &Value::Boolean(true)),
            Value::Boolean(false)
        );
        assert_eq!(parse_value(" 3 ", &Value::Integer(5)), Value::Integer(3));
        assert_eq!(
            parse_value("many", &Value::Integer(5)),
            Value::String("many".into())
        );
    }
}
