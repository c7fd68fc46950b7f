//! Loading `bot.toml` from disk with an explicit environment: file errors name file, line and
//! key; the overlay and secrets behave as documented in `bot.example.toml`; nothing prints a
//! secret. Fixtures are in `tests/fixtures/config/`, each saying on its first line what it
//! exercises. The tests pass the environment in, so they never touch the process env.

use std::path::{Path, PathBuf};

use liqbot::config::{BybitCategory, Config, ConfigError, Secret, mask_url};
use pretty_assertions::assert_eq;

const FAKE_TOKEN: &str = "test-token-not-real";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/config")
        .join(name)
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn load(name: &str, pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::load_with_env(&fixture(name), env(pairs))
}

fn load_err(name: &str, pairs: &[(&str, &str)]) -> String {
    load(name, pairs)
        .expect_err("the config should be rejected")
        .to_string()
}

#[test]
fn missing_file_names_the_path() {
    let path = fixture("does_not_exist.toml");
    let err = Config::load_with_env(&path, env(&[])).unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("cannot read config file {}", path.display())
    );
    let source = std::error::Error::source(&err).expect("the io error is the source");
    assert!(source.to_string().contains("No such file"), "{source}");
}

#[test]
fn unknown_key_names_key_and_line() {
    let path = fixture("unknown_key.toml");
    assert_eq!(
        load_err("unknown_key.toml", &[]),
        format!(
            "{}:7:1: unknown key `sources.binance.ws_ur` (expected one of enabled, ws_url, rest_url)",
            path.display()
        )
    );
}

#[test]
fn bad_type_names_key_and_line() {
    let err = load("bad_type.toml", &[]).unwrap_err();
    let ConfigError::Parse {
        line, column, key, ..
    } = &err
    else {
        panic!("expected a parse error, got {err:?}");
    };
    assert_eq!(
        (*line, *column, key.as_deref()),
        (4, 14, Some("store.batch_size"))
    );
    assert!(
        err.to_string().ends_with(
            "bad_type.toml:4:14: key `store.batch_size`: invalid type: string \"many\", expected usize"
        ),
        "{err}"
    );
}

#[test]
fn bad_toml_syntax_gives_line_and_column() {
    let err = load("bad_syntax.toml", &[]).unwrap_err();
    let ConfigError::Parse {
        line, column, key, ..
    } = &err
    else {
        panic!("expected a parse error, got {err:?}");
    };
    assert_eq!((*line, *column, key), (4, 13, &None));
    assert!(err.to_string().contains("bad_syntax.toml:4:13: "), "{err}");
}

#[test]
fn invalid_value_in_file_names_key_and_line() {
    let err = load_err("out_of_range.toml", &[]);
    assert!(
        err.ends_with(
            "out_of_range.toml:5: key `sources.reconnect_max_ms`: reconnect_max_ms (1000) is less \
             than reconnect_initial_ms (5000); the backoff cap must be at least the first delay"
        ),
        "{err}"
    );
}

#[test]
fn empty_file_gives_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bot.toml");
    std::fs::write(&path, "").unwrap();
    assert_eq!(
        Config::load_with_env(&path, env(&[])).unwrap(),
        Config::default()
    );
    assert_eq!(load("comments_only.toml", &[]).unwrap(), Config::default());
}

#[test]
fn env_overlay_sets_nested_values_bools_and_arrays() {
    let config = load(
        "overlay_base.toml",
        &[
            ("LIQBOT_STORE__URL", "postgres://liq@db.invalid/liq"),
            ("LIQBOT_SOURCES__BYBIT__ENABLED", "false"),
            ("LIQBOT_SOURCES__BYBIT__SYMBOLS", r#"["BTCUSDT","ETHUSDT"]"#),
            ("LIQBOT_SOURCES__BYBIT__CATEGORIES", "linear"),
            ("liqbot_ignored_because_prefix_is_lowercase", "x"),
            ("LIQBOT_summary__top_coins", "3"),
            ("LIQBOT_MARKET__FEAR_GREED__URL", "http://127.0.0.1:9/fng/"),
            ("HOME", "/root"),
        ],
    )
    .unwrap();

    let mut expected = Config::default();
    expected.store.url = "postgres://liq@db.invalid/liq".to_owned();
    expected.store.retention_days = 14; // from the file, untouched
    expected.sources.bybit.enabled = false;
    expected.sources.bybit.symbols = vec!["BTCUSDT".to_owned(), "ETHUSDT".to_owned()];
    expected.sources.bybit.categories = vec![BybitCategory::Linear];
    expected.summary.top_coins = 3;
    expected.market.fear_greed.url = "http://127.0.0.1:9/fng/".to_owned();
    assert_eq!(config, expected);
}

#[test]
fn reserved_variables_are_ignored_by_the_overlay() {
    let config = load(
        "comments_only.toml",
        &[
            ("LIQBOT_CONFIG", "/etc/liqbot/bot.toml"),
            ("LIQBOT_LOG", "debug"),
        ],
    )
    .unwrap();
    assert_eq!(config, Config::default());
}

#[test]
fn unknown_env_override_names_the_var_and_the_key() {
    assert_eq!(
        load_err(
            "overlay_base.toml",
            &[("LIQBOT_SOURCES__BYBIT__SYMBOLZ", "BTCUSDT")]
        ),
        "environment variable LIQBOT_SOURCES__BYBIT__SYMBOLZ: unknown key `sources.bybit.symbolz` \
         (expected one of categories, enabled, ping_interval_secs, rest_url, subscribe_batch, \
         symbols, ws_url)"
    );
    assert_eq!(
        load_err(
            "overlay_base.toml",
            &[("LIQBOT_STOR__URL", "sqlite://x.db")]
        ),
        "environment variable LIQBOT_STOR__URL: unknown key `stor` (expected one of alerts, commands, \
         discord, jobs, market, metrics, render, roles, scheduler, secrets_file, sources, store, \
         summary, telegram)"
    );
}

#[test]
fn unknown_liqbot_variable_without_separator_is_an_error() {
    let err = load_err(
        "comments_only.toml",
        &[("LIQBOT_TELEGRAM_TOKN", FAKE_TOKEN)],
    );
    assert!(
        err.starts_with("environment variable LIQBOT_TELEGRAM_TOKN: not a variable liqbot reads"),
        "{err}"
    );
    assert!(!err.contains(FAKE_TOKEN), "{err}");
}

#[test]
fn env_override_of_a_section_is_an_error() {
    assert_eq!(
        load_err("comments_only.toml", &[("LIQBOT_SOURCES__OKX", "false")]),
        "environment variable LIQBOT_SOURCES__OKX: `sources.okx` is a section, not a key; set its \
         keys one by one, e.g. LIQBOT_SOURCES__OKX__ENABLED"
    );
}

#[test]
fn env_override_with_wrong_type_names_the_var() {
    assert_eq!(
        load_err(
            "overlay_base.toml",
            &[("LIQBOT_SUMMARY__TOP_COINS", "three")]
        ),
        "environment variable LIQBOT_SUMMARY__TOP_COINS: key `summary.top_coins`: invalid type: \
         string \"three\", expected usize"
    );
}

#[test]
fn env_override_with_unknown_enum_value_names_the_var() {
    assert_eq!(
        load_err(
            "overlay_base.toml",
            &[("LIQBOT_SOURCES__BYBIT__CATEGORIES", "linear,spot")]
        ),
        "environment variable LIQBOT_SOURCES__BYBIT__CATEGORIES: key `sources.bybit.categories[1]`: \
         unknown variant `spot`, expected `linear` or `inverse`"
    );
}

#[test]
fn env_override_out_of_range_names_the_var() {
    assert_eq!(
        load_err("overlay_base.toml", &[("LIQBOT_STORE__BATCH_SIZE", "0")]),
        "environment variable LIQBOT_STORE__BATCH_SIZE: key `store.batch_size`: must be at least 1"
    );
}

#[test]
fn file_errors_are_reported_before_env_overrides_are_applied() {
    let err = load_err("bad_type.toml", &[("LIQBOT_STORE__BATCH_SIZE", "10")]);
    assert!(
        err.contains("bad_type.toml:4:14: key `store.batch_size`"),
        "{err}"
    );
}

#[test]
fn secrets_come_from_the_secrets_file() {
    let config = load("with_secrets_file.toml", &[]).unwrap();
    assert_eq!(
        config.telegram_token.as_ref().map(Secret::expose),
        Some("file-telegram-token-not-real")
    );
    assert_eq!(
        config.discord_token.as_ref().map(Secret::expose),
        Some("file-discord-token-not-real")
    );
    assert_eq!(
        config.store.url,
        "postgres://liq:file-password-not-real@db.invalid/liq"
    );
}

#[test]
fn env_secrets_win_over_the_secrets_file() {
    let config = load(
        "with_secrets_file.toml",
        &[
            ("LIQBOT_TELEGRAM_TOKEN", FAKE_TOKEN),
            ("LIQBOT_DATABASE_URL", "sqlite://from-env.db"),
        ],
    )
    .unwrap();
    assert_eq!(config.telegram_token, Some(Secret::new(FAKE_TOKEN)));
    assert_eq!(
        config.discord_token.as_ref().map(Secret::expose),
        Some("file-discord-token-not-real")
    );
    assert_eq!(config.store.url, "sqlite://from-env.db");
}

#[test]
fn secrets_from_env_alone() {
    let config = load(
        "comments_only.toml",
        &[
            ("LIQBOT_TELEGRAM_TOKEN", FAKE_TOKEN),
            ("LIQBOT_DISCORD_TOKEN", "other-token-not-real"),
        ],
    )
    .unwrap();
    assert_eq!(config.telegram_token, Some(Secret::new(FAKE_TOKEN)));
    assert_eq!(
        config.discord_token,
        Some(Secret::new("other-token-not-real"))
    );
}

#[test]
fn database_url_from_env_overrides_the_store_url_override() {
    let config = load(
        "overlay_base.toml",
        &[
            ("LIQBOT_STORE__URL", "sqlite://overlay.db"),
            ("LIQBOT_DATABASE_URL", "postgres://liq:pw@db.invalid/liq"),
        ],
    )
    .unwrap();
    assert_eq!(config.store.url, "postgres://liq:pw@db.invalid/liq");
}

#[test]
fn secrets_file_can_be_named_by_the_environment() {
    let secrets = fixture("secrets.toml");
    let config = load(
        "comments_only.toml",
        &[("LIQBOT_SECRETS_FILE", secrets.to_str().unwrap())],
    )
    .unwrap();
    assert_eq!(
        config.telegram_token.as_ref().map(Secret::expose),
        Some("file-telegram-token-not-real")
    );
}

#[test]
fn debug_and_summary_never_contain_a_token_or_password() {
    let config = load(
        "with_secrets_file.toml",
        &[
            ("LIQBOT_TELEGRAM_TOKEN", FAKE_TOKEN),
            ("LIQBOT_DISCORD_TOKEN", FAKE_TOKEN),
        ],
    )
    .unwrap();
    for shown in [
        format!("{config:?}"),
        format!("{config:#?}"),
        config.summary(),
    ] {
        assert!(!shown.contains(FAKE_TOKEN), "{shown}");
        assert!(!shown.contains("file-password-not-real"), "{shown}");
    }
    let summary = config.summary();
    assert!(summary.contains("# telegram_token: *** (set)"), "{summary}");
    assert!(
        summary.contains("url = \"postgres://liq:***@db.invalid/liq\""),
        "{summary}"
    );
}

#[test]
fn summary_says_when_tokens_are_not_set() {
    let summary = load("comments_only.toml", &[]).unwrap().summary();
    assert!(summary.contains("# telegram_token: (not set)\n# discord_token: (not set)\n"));
}

#[test]
fn errors_never_contain_secret_values() {
    let err = load_err(
        "comments_only.toml",
        &[(
            "LIQBOT_DATABASE_URL",
            "mysql://liq:test-password-not-real@db.invalid/liq",
        )],
    );
    assert_eq!(
        err,
        "environment variable LIQBOT_DATABASE_URL: must start with sqlite://, postgres://, \
         postgresql:// followed by a path or host (got scheme `mysql`)"
    );

    let err = load_err("with_bad_secrets_file.toml", &[]);
    assert!(!err.contains("987654321"), "{err}");
    assert!(
        err.ends_with("bad_secrets.toml: line 2, column 1: key `telegram_token` must be a string"),
        "{err}"
    );
}

#[test]
fn missing_secrets_file_names_its_path() {
    let err = load_err(
        "comments_only.toml",
        &[("LIQBOT_SECRETS_FILE", "no_such_secrets.toml")],
    );
    let expected = fixture("no_such_secrets.toml");
    assert!(
        err.starts_with(&format!(
            "secrets file {}: cannot read it: ",
            expected.display()
        )),
        "{err}"
    );
}

#[test]
fn mask_url_hides_a_password() {
    assert_eq!(mask_url("postgres://u:PASS@h/db"), "postgres://u:***@h/db");
    let config = load(
        "comments_only.toml",
        &[(
            "LIQBOT_DATABASE_URL",
            "postgresql://liq:PASS@db.invalid:5432/liq",
        )],
    )
    .unwrap();
    assert_eq!(
        config.store.url_masked(),
        "postgresql://liq:***@db.invalid:5432/liq"
    );
}

#[test]
fn chat_settings_are_validated_with_their_keys() {
    assert_eq!(
        load_err(
            "overlay_base.toml",
            &[("LIQBOT_DISCORD__DEV_GUILD_ID", "my-server")]
        ),
        "environment variable LIQBOT_DISCORD__DEV_GUILD_ID: key `discord.dev_guild_id`: \
         \"my-server\" is not a server id; write its digits, or \"\" to register globally"
    );
    assert_eq!(
        load_err(
            "overlay_base.toml",
            &[("LIQBOT_COMMANDS__IMAGE_LIMIT", "0")]
        ),
        "environment variable LIQBOT_COMMANDS__IMAGE_LIMIT: key `commands.image_limit`: must be at least 1"
    );
    let config = load(
        "overlay_base.toml",
        &[("LIQBOT_DISCORD__DEV_GUILD_ID", "2000000000000000001")],
    )
    .unwrap();
    assert_eq!(config.discord.dev_guild(), Some(2_000_000_000_000_000_001));
}

#[test]
fn roles_are_collect_and_or_post() {
    let both = load("overlay_base.toml", &[]).unwrap();
    assert!(both.has_role("collect") && both.has_role("post"));
    let poster = load("overlay_base.toml", &[("LIQBOT_ROLES", r#"["post"]"#)]).unwrap();
    assert!(poster.has_role("post") && !poster.has_role("collect"));
    assert_eq!(
        load_err("overlay_base.toml", &[("LIQBOT_ROLES", r#"["watch"]"#)]),
        "environment variable LIQBOT_ROLES: key `roles`: \"watch\" is not a role; use collect and/or post"
    );
}

#[test]
fn the_chat_command_limit_is_validated_with_its_key_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bot.toml");
    std::fs::write(
        &path,
        "[commands]\nimage_limit = 5\nchat_limit = 0\nchat_period_secs = 60\n",
    )
    .unwrap();
    let err = Config::load_with_env(&path, env(&[]))
        .expect_err("chat_limit = 0 is rejected")
        .to_string();
    assert!(
        err.ends_with("bot.toml:3: key `commands.chat_limit`: must be at least 1"),
        "{err}"
    );
    assert_eq!(
        load_err(
            "overlay_base.toml",
            &[("LIQBOT_COMMANDS__CHAT_PERIOD_SECS", "0")]
        ),
        "environment variable LIQBOT_COMMANDS__CHAT_PERIOD_SECS: key `commands.chat_period_secs`: \
         must be at least 1"
    );
    let config = load("overlay_base.toml", &[("LIQBOT_COMMANDS__CHAT_LIMIT", "7")]).unwrap();
    assert_eq!(
        (config.commands.chat_limit, config.commands.chat_period_secs),
        (7, 60)
    );
}
