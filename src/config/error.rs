//! [`ConfigError`]: every way loading the configuration can fail, each naming where the bad
//! value came from (file and line, environment variable, or secrets file) and never its secret.

use std::path::PathBuf;

/// Why the configuration could not be loaded. All variants are fatal at startup: the operator
/// fixes the named file or variable and restarts. `Display` never contains a token or password.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read (missing, unreadable, not UTF-8); the reason is the
    /// error's `source`.
    #[error("cannot read config file {}", path.display())]
    Read {
        /// The path as given.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },

    /// The file is not valid TOML, or a value has the wrong type for its key.
    #[error("{origin}:{line}:{column}: {}", with_key(key.as_deref(), message))]
    Parse {
        /// The file path (or the name given to [`super::Config::from_toml_str`]).
        origin: String,
        /// 1-based line of the offending text.
        line: usize,
        /// 1-based column (in characters) of the offending text.
        column: usize,
        /// Dotted path of the key, e.g. `store.batch_size`; `None` for syntax errors.
        key: Option<String>,
        /// What is wrong, e.g. `invalid type: string "many", expected usize`.
        message: String,
    },

    /// The file contains a key the bot does not know, usually a typo.
    #[error(
        "{origin}:{line}:{column}: unknown key `{key}` ({})",
        expected_keys(expected)
    )]
    UnknownKey {
        /// The file path (or the name given to [`super::Config::from_toml_str`]).
        origin: String,
        /// 1-based line of the key.
        line: usize,
        /// 1-based column of the key.
        column: usize,
        /// Dotted path of the unknown key, e.g. `sources.binance.ws_ur`.
        key: String,
        /// The keys that section accepts.
        expected: Vec<String>,
    },

    /// A value from the file has the right type but is out of range or inconsistent.
    #[error("{origin}{}: key `{key}`: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Invalid {
        /// The file path (or the name given to [`super::Config::from_toml_str`]).
        origin: String,
        /// Dotted path of the key, e.g. `sources.reconnect_max_ms`.
        key: String,
        /// 1-based line of the key, when the key is written in the file.
        line: Option<usize>,
        /// What is wrong and what is allowed.
        message: String,
    },

    /// A `LIQBOT_*` environment variable is unknown, malformed, or sets a bad value.
    #[error("environment variable {var}: {message}")]
    Env {
        /// The variable's name as set.
        var: String,
        /// What is wrong; never contains the value of a secret variable.
        message: String,
    },

    /// The secrets file could not be read, is malformed, or holds a bad value.
    #[error("secrets file {}: {message}", path.display())]
    Secrets {
        /// The resolved path of the secrets file.
        path: PathBuf,
        /// What is wrong; never contains a secret value.
        message: String,
    },
}

fn with_key(key: Option<&str>, message: &str) -> String {
    match key {
        Some(key) => format!("key `{key}`: {message}"),
        None => message.to_owned(),
    }
}

fn expected_keys(expected: &[String]) -> String {
    if expected.is_empty() {
        "this section has no keys".to_owned()
    } else {
        format!("expected one of {}", expected.join(", "))
    }
}

/// The 1-based line and column (in characters) of a byte offset into `text`.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one_and_in_characters() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 6), (2, 1));
        assert_eq!(line_col(text, text.find('=').unwrap()), (1, 3));
        assert_eq!(line_col(text, text.rfind('=').unwrap()), (2, 4));
        assert_eq!(line_col(text, 10_000), (3, 1));
    }

    #[test]
    fn unknown_key_lists_the_expected_keys() {
        let err = ConfigError::UnknownKey {
            origin: "bot.toml".to_owned(),
            line: 7,
            column: 1,
            key: "sources.binance.ws_ur".to_owned(),
            expected: vec!["enabled".to_owned(), "ws_url".to_owned()],
        };
        assert_eq!(
            err.to_string(),
            "bot.toml:7:1: unknown key `sources.binance.ws_ur` (expected one of enabled, ws_url)"
        );
    }

    #[test]
    fn invalid_shows_the_line_only_when_known() {
        let invalid = |line| ConfigError::Invalid {
            origin: "bot.toml".to_owned(),
            key: "store.batch_size".to_owned(),
            line,
            message: "must be at least 1".to_owned(),
        };
        assert_eq!(
            invalid(Some(4)).to_string(),
            "bot.toml:4: key `store.batch_size`: must be at least 1"
        );
        assert_eq!(
            invalid(None).to_string(),
            "bot.toml: key `store.batch_size`: must be at least 1"
        );
    }
}
