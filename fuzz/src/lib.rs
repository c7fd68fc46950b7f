//! The checks behind liqbot's fuzz targets, one function per target.
//!
//! Each takes arbitrary bytes, reads them as text the way liqbot receives it (lossy UTF-8, which
//! is the text itself when the bytes are valid UTF-8), calls the real public parsers, and panics
//! when an invariant breaks: a parsed value that is not finite or not positive, a series out of
//! order, an error that does not say where the problem is. "Does not panic" is the first
//! invariant of all. The fuzz targets in `fuzz_targets/` are one-line wrappers around these,
//! and `tests/fuzz_regressions.rs` includes this file to run the same checks over the seeds
//! and over every input that once crashed a target.

use std::sync::LazyLock;

use liqbot::analytics::Window;
use liqbot::commands::{self, Command, CommandDefaults, MAX_COMMAND_LEN};
use liqbot::config::{Config, ConfigError};
use liqbot::market::candles::{
    self, parse_binance_candles, parse_bybit_candles, parse_okx_candles,
};
use liqbot::market::fear_greed::{self, parse_fear_greed};
use liqbot::market::open_interest::{
    self, BybitOpenInterest, parse_binance_open_interest, parse_binance_open_interest_hist,
    parse_bybit_open_interest, parse_okx_open_interest, parse_okx_open_interest_history,
};
use liqbot::model::{Candle, Exchange, Liquidation, OpenInterest};
use liqbot::schedule::Schedule;
use liqbot::sources::Parsed;
use liqbot::sources::binance::{self, BinanceParser};
use liqbot::sources::bybit::{self, BybitContract, BybitParser};
use liqbot::sources::okx::{self, OkxParser};

/// The names of the targets, as `fuzz/Cargo.toml`, `run.sh` and the regression test know them.
pub const TARGETS: [&str; 6] = [
    "binance_frame",
    "bybit_frame",
    "okx_frame",
    "rest",
    "config",
    "commands",
];

/// The check of the target called `name`, or `None` for an unknown name.
#[must_use]
pub fn check_for(name: &str) -> Option<fn(&[u8])> {
    let check: fn(&[u8]) = match name {
        "binance_frame" => binance_frame,
        "bybit_frame" => bybit_frame,
        "okx_frame" => okx_frame,
        "rest" => rest,
        "config" => config,
        "commands" => commands,
        _ => return None,
    };
    Some(check)
}

/// The instrument lists the venue parsers are built with: the recorded fixtures, read by the
/// real instrument parsers.
static BYBIT_PARSERS: LazyLock<[BybitParser; 3]> = LazyLock::new(|| {
    let instruments = bybit::parse_instruments(include_str!(
        "../../tests/fixtures/bybit/instruments_linear.json"
    ))
    .expect("the Bybit instruments fixture parses");
    [
        BybitParser::new(BybitContract::Linear),
        BybitParser::new(BybitContract::Inverse),
        BybitParser::with_instruments(BybitContract::Linear, instruments.symbols),
    ]
});

static OKX_PARSER: LazyLock<OkxParser> = LazyLock::new(|| {
    OkxParser::from_list(
        okx::parse_instruments(include_str!("../../tests/fixtures/okx/instruments.json"))
            .expect("the OKX instruments fixture parses"),
    )
});

/// The moment `/subscribe` answers at, fixed so that runs repeat: 2026-01-01 00:00 UTC.
static NOW: LazyLock<chrono::DateTime<chrono::Utc>> =
    LazyLock::new(|| chrono::DateTime::from_timestamp(1_767_225_600, 0).expect("a valid moment"));

/// A Binance `!forceOrder@arr` frame. Every event must be usable and encode back to itself.
pub fn binance_frame(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok(parsed) = BinanceParser.parse(&text) else {
        return;
    };
    check_parsed(&parsed, Exchange::Binance);
    for event in &parsed.events {
        let again = BinanceParser
            .parse(&binance::encode(event))
            .expect("an encoded event parses");
        assert_eq!(
            again.events,
            std::slice::from_ref(event),
            "encode/parse round trip"
        );
    }
}

/// A Bybit `allLiquidation` frame, read as linear, as inverse, and with an instrument list.
pub fn bybit_frame(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for parser in BYBIT_PARSERS.iter() {
        if let Ok(parsed) = parser.parse(&text) {
            check_parsed(&parsed, Exchange::Bybit);
        }
    }
}

/// An OKX `liquidation-orders` frame, sized with the recorded instrument list.
pub fn okx_frame(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(parsed) = OKX_PARSER.parse(&text) {
        check_parsed(&parsed, Exchange::Okx);
    }
}

/// A REST response body, fed to every REST parser in turn: instrument lists, Fear & Greed,
/// candles and open interest. Each parser rejects the others' shapes quickly, and a fixture
/// of one venue seeds mutations that reach the others.
pub fn rest(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let body = &*text;
    instruments(body);
    if let Ok(list) = parse_fear_greed(body) {
        for entry in &list {
            assert!(entry.value <= 100, "index out of range: {entry:?}");
            assert!(entry.ts_ms >= 0, "negative timestamp: {entry:?}");
            assert!(!entry.classification.trim().is_empty(), "{entry:?}");
        }
        let today = fear_greed::reading(&list);
        assert_eq!(today.is_none(), list.is_empty());
    }
    for parse in [
        parse_binance_candles,
        parse_bybit_candles,
        parse_okx_candles,
    ] {
        if let Ok(list) = parse(body, "BTC", 60) {
            check_candles(&list);
        }
    }
    if let Ok(list) = parse_binance_open_interest_hist(body, "BTC") {
        check_open_interest(&list);
    }
    if let Ok(present) = parse_binance_open_interest(body) {
        assert!(valid_amount(present.base_qty), "{present:?}");
        assert!(present.ts_ms >= 0, "{present:?}");
        let usd = open_interest::binance_open_interest_usd(&present, "BTC", 1.0);
        assert_eq!(usd.map(|oi| oi.usd), Some(present.base_qty));
    }
    if let Ok(list) = parse_bybit_open_interest(body) {
        check_bybit_open_interest(&list);
    }
    for parse in [parse_okx_open_interest, parse_okx_open_interest_history] {
        if let Ok(list) = parse(body, "BTC") {
            check_open_interest(&list);
        }
    }
}

/// A `bot.toml`. A valid one must render its summary and survive a TOML round trip; an
/// invalid one must be an error that names a line or a key, never a panic.
pub fn config(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match Config::from_toml_str(&text, "fuzz.toml") {
        Ok(config) => {
            let _ = config.summary();
            let _ = CommandDefaults::from_config(&config);
            let written = toml::to_string(&config).expect("a valid config serializes");
            let again = Config::from_toml_str(&written, "round trip")
                .unwrap_or_else(|error| panic!("{error}\n{written}"));
            assert_eq!(again, config, "TOML round trip\n{written}");
        }
        Err(error) => check_config_error(&error, &text),
    }
}

/// A chat message, parsed as the Telegram adapter (knowing its username) and the Discord one
/// (not knowing it) do; a `/subscribe` schedule is then checked as `/subscribe` checks it.
pub fn commands(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let defaults = CommandDefaults {
        window: Window::H24,
        top_coins: 5,
    };
    for username in [Some("liqbot_bot"), None] {
        match commands::parse(&text, username, &defaults) {
            Ok(Some(command)) => {
                assert!(
                    text.trim_start().len() <= MAX_COMMAND_LEN,
                    "over-long text became {command:?}"
                );
                check_command(&command, &defaults);
            }
            Ok(None) => {}
            Err(error) => {
                // The message quotes the input cut to 20 characters: it stays short whatever
                // the input.
                assert!(error.message.chars().count() <= 160, "{error:?}");
                assert!(error.usage.starts_with('/'), "{error:?}");
            }
        }
    }
}

fn check_parsed(parsed: &Parsed, exchange: Exchange) {
    for event in &parsed.events {
        check_liquidation(event, exchange);
    }
}

fn check_liquidation(event: &Liquidation, exchange: Exchange) {
    assert_eq!(event.exchange, exchange, "{event:?}");
    for (name, value) in [
        ("price", event.price),
        ("quantity", event.quantity),
        ("usd", event.usd),
    ] {
        assert!(
            value.is_finite() && value > 0.0,
            "{name} is not finite and positive: {event:?}"
        );
    }
}

fn instruments(body: &str) {
    if let Ok(page) = bybit::parse_instruments(body) {
        assert!(
            page.next_cursor.as_deref() != Some(""),
            "an empty cursor means no next page"
        );
        let _ = BybitParser::with_instruments(BybitContract::Linear, page.symbols);
    }
    if let Ok(list) = okx::parse_instruments(body) {
        for instrument in &list {
            assert!(valid_price(instrument.ct_val), "{instrument:?}");
            assert!(!instrument.base.is_empty(), "{instrument:?}");
            assert!(!instrument.quote.is_empty(), "{instrument:?}");
        }
        let _ = OkxParser::from_list(list);
    }
}

fn check_candles(list: &[Candle]) {
    for candle in list {
        assert!(candle.open_ms >= 0, "{candle:?}");
        for price in [candle.open, candle.high, candle.low, candle.close] {
            assert!(valid_price(price), "{candle:?}");
        }
        assert!(
            candle.low <= candle.open && candle.open <= candle.high,
            "{candle:?}"
        );
        assert!(
            candle.low <= candle.close && candle.close <= candle.high,
            "{candle:?}"
        );
    }
    assert!(
        list.is_sorted_by_key(|candle| candle.open_ms),
        "candles not oldest first"
    );
    // What the pollers do with candles: price a moment from them.
    for candle in list {
        let end_ms = candle
            .open_ms
            .saturating_add(i64::from(candle.interval_secs) * 1000);
        for ts_ms in [candle.open_ms, end_ms, end_ms.saturating_add(1)] {
            if let Some(price) = candles::price_at(list, ts_ms) {
                assert!(valid_price(price), "price_at({ts_ms}) = {price}");
            }
        }
    }
}

fn check_open_interest(list: &[OpenInterest]) {
    for oi in list {
        assert!(oi.ts_ms >= 0, "{oi:?}");
        assert!(valid_amount(oi.usd), "{oi:?}");
    }
    assert!(
        list.is_sorted_by_key(|oi| oi.ts_ms),
        "open interest not oldest first"
    );
}

fn check_bybit_open_interest(list: &[BybitOpenInterest]) {
    for oi in list {
        assert!(oi.ts_ms >= 0, "{oi:?}");
        assert!(valid_amount(oi.one_sided), "{oi:?}");
    }
    assert!(
        list.is_sorted_by_key(|oi| oi.ts_ms),
        "open interest not oldest first"
    );
    let usd = open_interest::bybit_open_interest_usd(list, BybitContract::Inverse, "BTC", |_| None);
    check_open_interest(&usd);
    let usd = open_interest::bybit_open_interest_usd(list, BybitContract::Linear, "BTC", |_| None);
    assert!(usd.is_empty(), "linear readings need a price");
}

fn check_config_error(error: &ConfigError, text: &str) {
    let lines = text.lines().count().max(1) + 1;
    match error {
        ConfigError::Parse {
            origin,
            line,
            column,
            ..
        } => {
            assert_eq!(origin, "fuzz.toml");
            assert!((1..=lines).contains(line), "{error:?}");
            assert!(*column >= 1, "{error:?}");
        }
        ConfigError::UnknownKey {
            origin, line, key, ..
        } => {
            assert_eq!(origin, "fuzz.toml");
            assert!((1..=lines).contains(line), "{error:?}");
            assert!(!key.is_empty(), "{error:?}");
        }
        ConfigError::Invalid {
            origin, key, line, ..
        } => {
            assert_eq!(origin, "fuzz.toml");
            assert!(!key.is_empty(), "{error:?}");
            assert!(
                line.is_none_or(|line| (1..=lines).contains(&line)),
                "{error:?}"
            );
        }
        ConfigError::Read { .. } | ConfigError::Env { .. } | ConfigError::Secrets { .. } => {
            panic!("from_toml_str reads no file and no environment: {error:?}")
        }
    }
    assert!(error.to_string().starts_with("fuzz.toml:"), "{error}");
}

fn check_command(command: &Command, defaults: &CommandDefaults) {
    let ticker = |coin: &str| {
        (2..=10).contains(&coin.len())
            && coin
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
    };
    match command {
        Command::Summary {
            coin: Some(coin), ..
        }
        | Command::Heatmap { coin, .. }
        | Command::Levels { coin } => assert!(ticker(coin), "{command:?}"),
        Command::Subscribe { schedule, .. } => {
            assert!(schedule.is_ascii() && !schedule.is_empty(), "{command:?}");
            // `/subscribe` then reads the schedule for real and shows the next post time.
            if let Ok(schedule) = Schedule::parse(schedule, chrono_tz::UTC) {
                let _ = schedule.upcoming(*NOW, 1);
            }
        }
        _ => {}
    }
    let _ = command.render_request(defaults, 0);
}

fn valid_price(value: f64) -> bool {
    value.is_finite() && value > 0.0
}

fn valid_amount(value: f64) -> bool {
    value.is_finite() && value >= 0.0
}
