//! Secret values (bot tokens, database URLs), the optional secrets file, and URL masking.
//!
//! A [`Secret`] prints as `***` in both `Debug` and `Display`, so a secret inside a config,
//! an error or a log line cannot leak by accident; [`Secret::expose`] is the one way out.

use std::fmt;
use std::path::Path;

use toml::de::DeTable;

use super::error::{ConfigError, line_col};

/// A token or password. Prints as `***`; read it with [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value, and registers it to be redacted from logs, panics and errors
    /// ([`crate::redact`]).
    #[must_use]
    pub fn new(value: impl Into<String>) -> Self {
        let value = value.into();
        crate::redact::register(&value);
        Self(value)
    }

    /// The secret itself, for the one place that sends it (an HTTP header, a connect call).
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Returns `url` with the password of its user info, and any `password=` query parameter,
/// replaced by `***`: `postgres://u:PASS@h/db` becomes `postgres://u:***@h/db`.
#[must_use]
pub fn mask_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);

    let mut out = String::with_capacity(url.len());
    out.push_str(&url[..scheme_end]);
    match authority.rfind('@') {
        Some(at) => {
            let (userinfo, host) = authority.split_at(at);
            match userinfo.split_once(':') {
                Some((user, _password)) => {
                    out.push_str(user);
                    out.push_str(":***");
                }
                None => out.push_str(userinfo),
            }
            out.push_str(host);
        }
        None => out.push_str(authority),
    }
    out.push_str(&mask_query_password(tail));
    out
}

/// Masks `password=...` in the query part of a URL tail (`/db?user=u&password=p#frag`).
fn mask_query_password(tail: &str) -> String {
    let Some((path, query_and_fragment)) = tail.split_once('?') else {
        return tail.to_owned();
    };
    let (query, fragment) = match query_and_fragment.split_once('#') {
        Some((query, fragment)) => (query, Some(fragment)),
        None => (query_and_fragment, None),
    };
    let masked: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
            _ => pair.to_owned(),
        })
        .collect();
    let mut out = format!("{path}?{}", masked.join("&"));
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

/// The contents of the secrets file; every key is optional.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct SecretsFile {
    /// `telegram_token`.
    pub(crate) telegram_token: Option<Secret>,
    /// `discord_token`.
    pub(crate) discord_token: Option<Secret>,
    /// `database_url`, which replaces `store.url`.
    pub(crate) database_url: Option<Secret>,
}

/// The keys a secrets file may hold.
const SECRETS_KEYS: [&str; 3] = ["telegram_token", "discord_token", "database_url"];

impl SecretsFile {
    /// Reads and parses the secrets file at `path`.
    pub(crate) fn read(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| secrets_error(path, format!("cannot read it: {e}")))?;
        Self::parse(&text).map_err(|message| secrets_error(path, message))
    }

    /// Parses secrets-file text. Checks keys and types by hand rather than through serde, so
    /// that no error message can quote a value.
    fn parse(text: &str) -> Result<Self, String> {
        let at = |offset| {
            let (line, column) = line_col(text, offset);
            format!("line {line}, column {column}")
        };
        let root = DeTable::parse(text)
            .map_err(|e| format!("{}: {}", at(e.span().map_or(0, |s| s.start)), e.message()))?;
        let mut secrets = Self::default();
        for (key, value) in root.get_ref() {
            let name: &str = key.get_ref();
            let slot = match name {
                "telegram_token" => &mut secrets.telegram_token,
                "discord_token" => &mut secrets.discord_token,
                "database_url" => &mut secrets.database_url,
                _ => {
                    return Err(format!(
                        "{}: unknown key `{name}` (expected one of {})",
                        at(key.span().start),
                        SECRETS_KEYS.join(", ")
                    ));
                }
            };
            let Some(value) = value.get_ref().as_str() else {
                return Err(format!(
                    "{}: key `{name}` must be a string",
                    at(key.span().start)
                ));
            };
            *slot = non_empty_secret(value);
        }
        Ok(secrets)
    }
}

/// A trimmed secret, or `None` when the value is blank (an empty variable means "not set").
pub(crate) fn non_empty_secret(value: &str) -> Option<Secret> {
    let value = value.trim();
    (!value.is_empty()).then(|| Secret::new(value))
}

fn secrets_error(path: &Path, message: String) -> ConfigError {
    ConfigError::Secrets {
        path: path.to_owned(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;

    #[test]
    fn secret_never_prints_its_value() {
        let secret = Secret::new("test-token-not-real");
        assert_eq!(
            format!("{secret:?} {secret} {:?}", Some(&secret)),
            "*** *** Some(***)"
        );
        assert_eq!(secret.expose(), "test-token-not-real");
    }

    #[test]
    fn mask_url_hides_a_password() {
        assert_eq!(mask_url("postgres://u:PASS@h/db"), "postgres://u:***@h/db");
        assert_eq!(
            mask_url("postgresql://user:p%40ss:w@db.example:5432/liq?sslmode=require"),
            "postgresql://user:***@db.example:5432/liq?sslmode=require"
        );
    }

    #[test]
    fn mask_url_hides_a_password_query_parameter() {
        assert_eq!(
            mask_url("postgres://h/db?user=u&password=PASS#x"),
            "postgres://h/db?user=u&password=***#x"
        );
    }

    #[test]
    fn mask_url_leaves_urls_without_password_alone() {
        for url in [
            "sqlite://liqbot.db",
            "postgres://u@h/db",
            "postgres://h:5432/db",
            "not a url",
        ] {
            assert_eq!(mask_url(url), url);
        }
    }

    #[test]
    fn secrets_file_reads_all_keys_and_treats_blank_as_unset() {
        let text = "telegram_token = \"tg\"\ndiscord_token = \"  \"\ndatabase_url = \"postgres://u:p@h/d\"\n";
        assert_eq!(
            SecretsFile::parse(text),
            Ok(SecretsFile {
                telegram_token: Some(Secret::new("tg")),
                discord_token: None,
                database_url: Some(Secret::new("postgres://u:p@h/d")),
            })
        );
    }

    #[test]
    fn secrets_file_type_error_does_not_quote_the_value() {
        let err = SecretsFile::parse("\ntelegram_token = 123456789\n").unwrap_err();
        assert_eq!(
            err,
            "line 2, column 1: key `telegram_token` must be a string"
        );
    }

    #[test]
    fn secrets_file_unknown_key_names_key_and_line() {
        let err = SecretsFile::parse("telegram_tokn = \"x\"\n").unwrap_err();
        assert_eq!(
            err,
            "line 1, column 1: unknown key `telegram_tokn` (expected one of telegram_token, discord_token, database_url)"
        );
    }
}
