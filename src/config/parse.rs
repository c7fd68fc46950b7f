//! Turning TOML into a [`Config`] with errors that point at the text: the dotted key path comes
//! from `serde_path_to_error`, the line and column from the span toml attaches to its errors.

use std::fmt::Write as _;

use serde::de::DeserializeOwned;
use serde_path_to_error::Segment;
use toml::de::DeTable;

use super::error::{ConfigError, line_col};

/// Top-level keys people put in `bot.toml` by mistake; they belong in the environment or
/// the secrets file, and the error says so.
const MISPLACED_SECRETS: [(&str, &str); 3] = [
    ("telegram_token", "LIQBOT_TELEGRAM_TOKEN"),
    ("discord_token", "LIQBOT_DISCORD_TOKEN"),
    ("database_url", "LIQBOT_DATABASE_URL"),
];

/// Deserializes TOML `text` read from `origin`, reporting syntax errors, unknown keys and
/// wrong types with line, column and key path.
pub(crate) fn from_text<T: DeserializeOwned>(text: &str, origin: &str) -> Result<T, ConfigError> {
    let deserializer = toml::Deserializer::parse(text).map_err(|e| {
        let (line, column) = line_col(text, e.span().map_or(0, |span| span.start));
        ConfigError::Parse {
            origin: origin.to_owned(),
            line,
            column,
            key: None,
            message: e.message().to_owned(),
        }
    })?;
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let (line, column) = line_col(text, e.inner().span().map_or(0, |span| span.start));
        let key = key_path(e.path());
        let message = e.inner().message();
        if let Some(var) = misplaced_secret(&key) {
            return ConfigError::Parse {
                origin: origin.to_owned(),
                line,
                column,
                key: Some(key),
                message: format!(
                    "secrets do not belong in this file; set {var} or put it in the file named by `secrets_file`"
                ),
            };
        }
        match unknown_field_expected(message) {
            Some(expected) => ConfigError::UnknownKey {
                origin: origin.to_owned(),
                line,
                column,
                key,
                expected,
            },
            None => ConfigError::Parse {
                origin: origin.to_owned(),
                line,
                column,
                key: (!key.is_empty()).then_some(key),
                message: message.to_owned(),
            },
        }
    })
}

fn misplaced_secret(key: &str) -> Option<&'static str> {
    MISPLACED_SECRETS
        .iter()
        .find(|(name, _)| *name == key)
        .map(|(_, var)| *var)
}

/// The dotted key path of a deserialization error, e.g. `sources.bybit.categories[1]`.
pub(crate) fn key_path(path: &serde_path_to_error::Path) -> String {
    let mut out = String::new();
    for segment in path {
        match segment {
            Segment::Seq { index } => {
                let _ = write!(out, "[{index}]");
            }
            Segment::Map { key } => push_key(&mut out, key),
            Segment::Enum { variant } => push_key(&mut out, variant),
            Segment::Unknown => push_key(&mut out, "?"),
        }
    }
    out
}

fn push_key(out: &mut String, key: &str) {
    if !out.is_empty() {
        out.push('.');
    }
    out.push_str(key);
}

/// The accepted keys listed in serde's "unknown field" message, or `None` for other messages.
/// serde phrases the list as "expected `a`", "expected `a` or `b`",
/// "expected one of `a`, `b`, `c`" or "there are no fields".
pub(crate) fn unknown_field_expected(message: &str) -> Option<Vec<String>> {
    let rest = message.strip_prefix("unknown field `")?;
    let (_, rest) = rest.split_once("`, ")?;
    if rest == "there are no fields" {
        return Some(Vec::new());
    }
    let list = rest.strip_prefix("expected ")?;
    Some(
        list.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect(),
    )
}

/// The 1-based line where dotted `key` is written in `text`, if it is. An index into an array
/// of tables (`jobs[1].schedule`) follows that table; an index into an array of values
/// (`symbols[2]`) locates the array's key.
pub(crate) fn key_line(text: &str, key: &str) -> Option<usize> {
    let root = DeTable::parse(text).ok()?;
    let segments: Vec<&str> = key.split('.').collect();
    let (last, parents) = segments.split_last()?;
    let mut table = root.get_ref();
    for segment in parents {
        let (name, index) = split_index(segment);
        let (_, value) = table.iter().find(|(k, _)| k.get_ref() == name)?;
        let value = value.get_ref();
        table = match index {
            Some(i) => value.as_array()?.get(i)?.get_ref().as_table()?,
            None => value.as_table()?,
        };
    }
    let (last, _) = split_index(last);
    let (found, _) = table.iter().find(|(k, _)| k.get_ref() == last)?;
    Some(line_col(text, found.span().start).0)
}

/// `jobs[1]` -> (`jobs`, Some(1)); `jobs` -> (`jobs`, None).
fn split_index(segment: &str) -> (&str, Option<usize>) {
    match segment.split_once('[') {
        Some((name, rest)) => (name, rest.trim_end_matches(']').parse().ok()),
        None => (segment, None),
    }
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;

    #[test]
    fn unknown_field_expected_reads_every_serde_phrasing() {
        let parse = |m| unknown_field_expected(m);
        assert_eq!(
            parse("unknown field `x`, expected `a`"),
            Some(vec!["a".into()])
        );
        assert_eq!(
            parse("unknown field `x`, expected `a` or `b`"),
            Some(vec!["a".into(), "b".into()])
        );
        assert_eq!(
            parse("unknown field `x`, expected one of `a`, `b`, `c`"),
            Some(vec!["a".into(), "b".into(), "c".into()])
        );
        assert_eq!(
            parse("unknown field `x`, there are no fields"),
            Some(vec![])
        );
        assert_eq!(parse("invalid type: string \"x\", expected usize"), None);
    }

    #[test]
    fn key_line_finds_keys_in_tables_and_dotted_keys() {
        let text = "# c\n[store]\nbatch_size = 0\n\n[sources]\nbybit.subscribe_batch = 0\n";
        assert_eq!(key_line(text, "store.batch_size"), Some(3));
        assert_eq!(key_line(text, "sources.bybit.subscribe_batch"), Some(6));
        assert_eq!(key_line(text, "sources.bybit.symbols[0]"), None);
        assert_eq!(key_line(text, "summary.top_coins"), None);
    }
}
