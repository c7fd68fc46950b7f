//! Whole-config tests: the example file documents the defaults, and errors from text name key
//! and line. File, environment and secrets-file behaviour is in `tests/config.rs`.

use pretty_assertions::assert_eq;

use super::*;

const EXAMPLE: &str = include_str!("../../bot.example.toml");

/// Dotted paths of every leaf key in a TOML table.
fn leaf_keys(table: &toml::Table, prefix: &str, out: &mut Vec<String>) {
    for (key, value) in table {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            toml::Value::Table(inner) => leaf_keys(inner, &path, out),
            _ => out.push(path),
        }
    }
}

fn keys_of(table: &toml::Table) -> Vec<String> {
    let mut keys = Vec::new();
    leaf_keys(table, "", &mut keys);
    keys.sort();
    keys
}

#[test]
fn example_file_equals_the_defaults() {
    let config = Config::from_toml_str(EXAMPLE, "bot.example.toml").unwrap();
    assert_eq!(config, Config::default());
}

#[test]
fn example_file_sets_every_key_of_the_default_config() {
    let toml::Value::Table(defaults) = toml::Value::try_from(Config::default()).unwrap() else {
        panic!("the default config is a table");
    };
    let example: toml::Table = EXAMPLE.parse().unwrap();
    // `[[jobs]]` is an array of tables, empty by default: the example shows one, commented.
    let mut want = keys_of(&defaults);
    want.retain(|k| k != "jobs");
    assert_eq!(keys_of(&example), want);
    assert!(EXAMPLE.contains("# [[jobs]]"));
}

#[test]
fn example_file_comments_every_key() {
    let lines: Vec<&str> = EXAMPLE.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let is_key = !line.starts_with('#') && !line.starts_with('[') && line.contains(" = ");
        if is_key {
            let above = i.checked_sub(1).map_or("", |j| lines[j]);
            assert!(
                above.starts_with("# "),
                "line {}: `{line}` has no comment above",
                i + 1
            );
        }
    }
}

#[test]
fn empty_text_gives_defaults() {
    assert_eq!(
        Config::from_toml_str("", "empty.toml").unwrap(),
        Config::default()
    );
}

#[test]
fn unknown_key_names_key_line_and_the_keys_allowed() {
    let text = "[sources.binance]\nenabled = true\nws_ur = \"wss://x\"\n";
    let err = Config::from_toml_str(text, "bot.toml").unwrap_err();
    assert_eq!(
        err.to_string(),
        "bot.toml:3:1: unknown key `sources.binance.ws_ur` (expected one of enabled, ws_url, rest_url)"
    );
}

#[test]
fn wrong_type_names_key_line_and_column() {
    let text = "[store]\nbatch_size = \"many\"\n";
    let err = Config::from_toml_str(text, "bot.toml").unwrap_err();
    assert_eq!(
        err.to_string(),
        "bot.toml:2:14: key `store.batch_size`: invalid type: string \"many\", expected usize"
    );
}

#[test]
fn unknown_enum_value_names_the_array_element() {
    let text = "[sources.bybit]\ncategories = [\"linear\", \"spot\"]\n";
    let err = Config::from_toml_str(text, "bot.toml").unwrap_err();
    assert_eq!(
        err.to_string(),
        "bot.toml:2:25: key `sources.bybit.categories[1]`: unknown variant `spot`, expected `linear` or `inverse`"
    );
}

#[test]
fn token_in_the_file_is_rejected_with_advice_and_without_its_value() {
    let text = "telegram_token = \"test-token-not-real\"\n";
    let err = Config::from_toml_str(text, "bot.toml")
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "bot.toml:1:1: key `telegram_token`: secrets do not belong in this file; set \
         LIQBOT_TELEGRAM_TOKEN or put it in the file named by `secrets_file`"
    );
}

#[test]
fn out_of_range_value_names_key_and_line() {
    let text = "# comment\n[store]\nbatch_size = 0\n";
    let err = Config::from_toml_str(text, "bot.toml").unwrap_err();
    assert_eq!(
        err.to_string(),
        "bot.toml:3: key `store.batch_size`: must be at least 1"
    );
}

#[test]
fn summary_lists_every_setting_and_hides_secrets() {
    let mut config = Config::default();
    config.store.url = "postgres://liq:hunter2@db/liq".to_owned();
    config.telegram_token = Some(Secret::new("test-token-not-real"));
    let summary = config.summary();

    assert!(summary.starts_with("# telegram_token: *** (set)\n# discord_token: (not set)\n"));
    assert!(
        summary.contains("url = \"postgres://liq:***@db/liq\""),
        "{summary}"
    );
    assert!(!summary.contains("hunter2"));
    assert!(!summary.contains("test-token-not-real"));

    // The rest is the config itself as TOML.
    let mut shown = Config::from_toml_str(&summary, "summary").unwrap();
    shown.store.url = config.store.url.clone();
    shown.telegram_token.clone_from(&config.telegram_token);
    assert_eq!(shown, config);
}

#[test]
fn debug_output_hides_tokens_and_database_password() {
    let mut config = Config::default();
    config.store.url = "postgres://liq:hunter2@db/liq".to_owned();
    config.telegram_token = Some(Secret::new("test-token-not-real"));
    config.discord_token = Some(Secret::new("test-token-not-real"));
    let debug = format!("{config:?} {config:#?}");
    assert!(!debug.contains("test-token-not-real"));
    assert!(!debug.contains("hunter2"));
    assert!(debug.contains("telegram_token: Some(***)"), "{debug}");
}

#[test]
fn duration_helpers_convert_units() {
    use std::time::Duration;

    let config = Config::default();
    assert_eq!(config.store.flush_interval(), Duration::from_millis(200));
    assert_eq!(
        config.sources.reconnect_initial(),
        Duration::from_millis(500)
    );
    assert_eq!(config.sources.reconnect_max(), Duration::from_secs(60));
    assert_eq!(config.sources.idle_timeout(), Duration::from_secs(90));
    assert_eq!(config.sources.connect_timeout(), Duration::from_secs(10));
    assert_eq!(
        config.sources.bybit.ping_interval(),
        Duration::from_secs(20)
    );
    assert_eq!(config.sources.okx.ping_interval(), Duration::from_secs(25));
    assert_eq!(
        config.summary.default_window(),
        crate::analytics::Window::H24
    );
}

#[test]
fn bybit_ws_url_for_appends_the_category() {
    let bybit = BybitConfig::default();
    assert_eq!(
        bybit.ws_url_for(BybitCategory::Inverse),
        "wss://stream.bybit.com/v5/public/inverse"
    );
}

#[test]
fn variables_of_the_test_suite_are_not_config() {
    let env = [(
        "LIQBOT_TEST_DATABASE_URL".to_owned(),
        "postgres://postgres@127.0.0.1:5432/test".to_owned(),
    )];
    let layer = super::env::EnvLayer::from_vars(env);
    assert!(layer.is_ok());
}
