//! The platform-agnostic command core: parsing chat text into commands, and answering them
//! from a real SQLite store through the real renderer.

mod common;

use common::{liq, sqlite_store};
use liqbot::analytics::Window;
use liqbot::commands::{
    Answer, AnswerContext, COMMANDS, Command, CommandDefaults, MAX_ARG_LEN, MAX_COMMAND_LEN,
    MAX_SCHEDULE_LEN, UsageError, answer, help_text, parse,
};
use liqbot::config::Config;
use liqbot::model::Exchange::{Binance, Bybit, Okx};
use liqbot::model::Liquidation;
use liqbot::model::Side::{Long, Short};
use liqbot::render::posts::Renderer;
use liqbot::render::text::{Platform, PostKind};
use liqbot::store::Store;
use pretty_assertions::assert_eq;

/// 2026-11-21 12:00:30 UTC.
const NOW: i64 = 1_795_262_430_000;
const HOUR: i64 = 3_600_000;

const DEFAULTS: CommandDefaults = CommandDefaults {
    window: Window::H24,
    top_coins: 5,
};

fn ok(text: &str) -> Option<Command> {
    parse(text, Some("LiqBot"), &DEFAULTS).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn usage_error(text: &str) -> UsageError {
    match parse(text, Some("LiqBot"), &DEFAULTS) {
        Err(e) => e,
        Ok(c) => panic!("{text} parsed as {c:?}"),
    }
}

fn summary(coin: Option<&str>, window: Window) -> Command {
    Command::Summary {
        coin: coin.map(str::to_owned),
        window,
    }
}

#[test]
fn every_command_parses_with_its_aliases_and_defaults() {
    let heatmap = |coin: &str, window| Command::Heatmap {
        coin: coin.to_owned(),
        window,
    };
    let levels = |coin: &str| Command::Levels {
        coin: coin.to_owned(),
    };
    let subscribe = |kind, schedule: &str| Command::Subscribe {
        kind,
        schedule: schedule.to_owned(),
    };
    let cases = [
        ("/liq", summary(None, Window::H24)),
        ("/liq btc", summary(Some("BTC"), Window::H24)),
        ("/liq eth 4h", summary(Some("ETH"), Window::H4)),
        ("/liq 4h eth", summary(Some("ETH"), Window::H4)),
        ("/LIQ ETHEREUM 12H", summary(Some("ETH"), Window::H12)),
        ("/liq xbt", summary(Some("BTC"), Window::H24)),
        ("/liq bitcoin 1d", summary(Some("BTC"), Window::H24)),
        ("/liq BTCUSDT", summary(Some("BTC"), Window::H24)),
        ("/liq BTC-USDT-SWAP 1w", summary(Some("BTC"), Window::D7)),
        ("/liq btcusd", summary(Some("BTC"), Window::H24)),
        ("/liq $btc 60m", summary(Some("BTC"), Window::H1)),
        ("/liq solana", summary(Some("SOL"), Window::H24)),
        ("/liq ripple", summary(Some("XRP"), Window::H24)),
        ("/liq dogecoin", summary(Some("DOGE"), Window::H24)),
        ("/liq bnb", summary(Some("BNB"), Window::H24)),
        ("/liq cardano", summary(Some("ADA"), Window::H24)),
        ("/liq pepeusdt", summary(Some("PEPE"), Window::H24)),
        ("/liq 7d", summary(None, Window::D7)),
        ("/liq@LiqBot eth", summary(Some("ETH"), Window::H24)),
        ("/liq@liqbot eth", summary(Some("ETH"), Window::H24)),
        ("  /liq   eth\n4h ", summary(Some("ETH"), Window::H4)),
        ("/heatmap", heatmap("BTC", Window::H24)),
        ("/heatmap 1h sol", heatmap("SOL", Window::H1)),
        ("/levels", levels("BTC")),
        ("/levels ethusdt", levels("ETH")),
        ("/fng", Command::FearGreed),
        (
            "/top",
            Command::Top {
                window: Window::H24,
            },
        ),
        ("/top 4h", Command::Top { window: Window::H4 }),
        ("/help", Command::Help),
        ("/start", Command::Help),
        ("/subscribe liq 4h", subscribe(PostKind::Summary, "4h")),
        (
            "/subscribe fng daily 8:00",
            subscribe(PostKind::FearGreed, "daily 08:00"),
        ),
        (
            "/subscribe heatmap hourly",
            subscribe(PostKind::Heatmap, "hourly"),
        ),
        (
            "/subscribe levels 0 */4 * * *",
            subscribe(PostKind::Levels, "0 */4 * * *"),
        ),
        ("/unsubscribe", Command::Unsubscribe { kind: None }),
        (
            "/unsubscribe alerts",
            Command::Unsubscribe {
                kind: Some(PostKind::Alert),
            },
        ),
        ("/subscriptions", Command::Subscriptions),
    ];
    for (text, want) in cases {
        assert_eq!(ok(text), Some(want), "{text}");
    }
}

#[test]
fn the_default_window_comes_from_config() {
    let mut config = Config::default();
    config.summary.default_window = "4h".to_owned();
    let defaults = CommandDefaults::from_config(&config);
    assert_eq!(
        parse("/liq eth", None, &defaults),
        Ok(Some(summary(Some("ETH"), Window::H4)))
    );
}

#[test]
fn commands_for_another_bot_and_plain_text_are_not_ours() {
    for text in [
        "liq btc",
        "",
        "   ",
        "hello /liq",
        "/liq@OtherBot btc",
        "/liq@OtherBot <script> 99y way too many args here",
        "/unknowncommand",
        "/",
    ] {
        assert_eq!(parse(text, Some("LiqBot"), &DEFAULTS), Ok(None), "{text:?}");
    }
    // Without our own name we cannot tell whom `@Bot` addresses, so we stay quiet.
    assert_eq!(parse("/liq@LiqBot", None, &DEFAULTS), Ok(None));
    assert_eq!(
        parse("/liq", None, &DEFAULTS),
        Ok(Some(summary(None, Window::H24)))
    );
}

#[test]
fn an_unknown_command_addressed_to_us_points_to_help() {
    let e = usage_error("/foo@LiqBot");
    assert_eq!(e.message, "Unknown command `/foo`.");
    assert_eq!(e.usage, "/help");
}

#[test]
fn a_bad_window_is_a_usage_error_with_the_usage_line() {
    let e = usage_error("/liq 99y");
    assert_eq!(
        e.to_string(),
        "Unknown window `99y`. Use 1h, 4h, 12h, 24h or 7d.\nUsage: /liq [coin] [window]"
    );
    assert_eq!(usage_error("/top eth").usage, "/top [window]");
    assert!(usage_error("/levels 4h").message.contains("`4h`"));
}

#[test]
fn markup_as_a_coin_is_quoted_verbatim_and_truncated() {
    let e = usage_error("/liq <script>");
    assert_eq!(
        e.message,
        "Unknown coin `<script>`. Use a ticker such as BTC or ETH."
    );
    assert_eq!(e.usage, "/liq [coin] [window]");
    let e = usage_error("/liq <b>aaaaaaaaaaaaaaaaaaaaaaa</b>");
    assert!(
        e.message.contains("`<b>aaaaaaaaaaaaaaaaa…`"),
        "{}",
        e.message
    );
}

#[test]
fn overlong_input_and_too_many_arguments_are_usage_errors() {
    let long = format!("/liq {}", "a".repeat(100_000));
    assert!(usage_error(&long).message.contains("too long"));
    assert!(
        usage_error("/liq btc 4h eth sol")
            .message
            .contains("Too many")
    );
    assert!(usage_error("/liq btc eth").message.contains("one coin"));
    assert!(usage_error("/liq 4h 1h").message.contains("one window"));
    assert!(usage_error("/fng now").message.contains("`now`"));
    let cron7 = "/subscribe liq 0 0 0 * * * *";
    assert!(usage_error(cron7).message.contains("Unknown schedule"));
    assert!(usage_error("/subscribe").message.contains("Say what"));
    assert!(usage_error("/subscribe liq").message.contains("Say when"));
    assert!(
        usage_error("/subscribe pizza 4h")
            .message
            .contains("`pizza`")
    );
}

#[test]
fn overlong_arguments_and_schedules_get_the_usage_line_without_the_input() {
    // The cap: an argument of MAX_ARG_LEN is read (and quoted cut to 20 characters), one byte
    // more is refused unread.
    let at_cap = format!("/liq {}", "a".repeat(MAX_ARG_LEN));
    assert!(
        usage_error(&at_cap)
            .message
            .starts_with("Unknown coin `aaaaaaaaaaaaaaaaaaaa…`"),
        "{at_cap}"
    );
    for text in [
        format!("/liq {}", "a".repeat(MAX_ARG_LEN + 1)),
        format!("/heatmap btc <script>{}</script>", "x".repeat(40)),
        format!("/top {}h", "4".repeat(40)),
        format!("/unsubscribe {}", "**@everyone**".repeat(3)),
    ] {
        let e = usage_error(&text);
        assert_eq!(
            e.message, "An argument is too long (at most 32 characters).",
            "{text}"
        );
        assert!(e.usage.starts_with('/') && e.usage.len() < 30, "{text}");
    }
    let long = format!("/liq {}", "<b>x</b> ".repeat(30));
    assert_eq!(
        usage_error(&long).to_string(),
        format!(
            "That is too long (at most {MAX_COMMAND_LEN} characters).\nUsage: /liq [coin] [window]"
        )
    );

    // A schedule of fields within the cap that is too long as a whole.
    let schedule = "0 0,5,10,15,20,25,30,35,40,45,50 0,2,4,6,8,10,12,14,16,18,20,22 * * *";
    assert!(schedule.split(' ').all(|f| f.len() <= MAX_ARG_LEN));
    assert!(schedule.len() > MAX_SCHEDULE_LEN);
    let e = usage_error(&format!("/subscribe liq {schedule}"));
    assert_eq!(
        e.to_string(),
        "That schedule is too long (at most 64 characters).\nUsage: /subscribe <kind> <schedule>"
    );
    // A cron line with a long field, within the caps, is a schedule.
    let odd_hours = "0 0 1,3,5,7,9,11,13,15,17,19,21,23 * * *";
    assert_eq!(
        ok(&format!("/subscribe liq {odd_hours}")),
        Some(Command::Subscribe {
            kind: PostKind::Summary,
            schedule: odd_hours.to_owned(),
        })
    );
}

#[test]
fn help_lists_every_registered_command() {
    let help = help_text();
    for spec in COMMANDS {
        assert!(help.contains(&spec.usage()), "{} missing", spec.usage());
        assert!(help.contains(spec.description));
    }
}

/// A store with $2M of BTC and $300K of ETH in the last 24h, and older BTC outside it.
async fn answered(command: &Command) -> Answer {
    let events = vec![
        liq(Binance, "BTCUSDT", Long, 1_500_000.0, NOW - 2 * HOUR),
        liq(Bybit, "BTCUSDT", Short, 500_000.0, NOW - 5 * HOUR),
        liq(Okx, "ETHUSDT", Long, 300_000.0, NOW - HOUR),
        liq(Binance, "BTCUSDT", Long, 9_000_000.0, NOW - 30 * HOUR),
    ];
    answered_from(&events, command).await
}

/// `command` answered from a store holding `events`.
async fn answered_from(events: &[Liquidation], command: &Command) -> Answer {
    let db = sqlite_store().await;
    db.store.insert_batch(events).await.expect("insert");
    let config = Config::default();
    let renderer = Renderer::new(&config).expect("renderer");
    let ctx = AnswerContext {
        store: &db.store,
        renderer: &renderer,
        config: &config,
        now_ms: NOW,
        pollers: None,
    };
    answer(command, &ctx).await
}

#[tokio::test]
async fn liq_btc_24h_posts_the_window_total() {
    let command = ok("/liq btc 24h").expect("ours");
    let Answer::Post(bundle) = answered(&command).await else {
        panic!("expected a post");
    };
    assert_eq!(bundle.kind, PostKind::Summary);
    let telegram = bundle
        .posts
        .iter()
        .find(|p| p.platform == Platform::Telegram)
        .expect("a Telegram post");
    assert!(telegram.text.contains("$2.00M"), "{}", telegram.text);
    assert!(!telegram.text.contains("$11.00M"), "{}", telegram.text);
    assert!(bundle.posts.iter().any(|p| p.platform == Platform::Discord));
}

#[tokio::test]
async fn an_unknown_coin_names_the_coins_with_liquidations() {
    let command = ok("/liq xyz").expect("ours");
    let Answer::Text(text) = answered(&command).await else {
        panic!("expected text");
    };
    assert_eq!(
        text,
        "No liquidations for XYZ in the last 24h. Known: BTC, ETH."
    );
}

#[tokio::test]
async fn help_and_subscriptions_are_answered_without_the_store() {
    let Answer::Text(text) = answered(&Command::Help).await else {
        panic!("expected text");
    };
    assert_eq!(text, help_text());
    let subscribe = ok("/subscribe liq 4h").expect("ours");
    assert!(matches!(answered(&subscribe).await, Answer::Manage(c) if c == subscribe));
}

#[tokio::test]
async fn missing_data_is_a_short_note_not_an_error_dump() {
    let Answer::Text(text) = answered(&Command::FearGreed).await else {
        panic!("expected text");
    };
    assert_eq!(text, "No Fear & Greed reading yet; try again later.");
    let Answer::Text(text) = answered(&ok("/levels pepe").expect("ours")).await else {
        panic!("expected text");
    };
    assert_eq!(text, "No levels for PEPE. Known: BTC, ETH, SOL, XRP, DOGE.");
}

#[tokio::test]
async fn markup_and_mentions_in_stored_coin_names_reach_posts_escaped() {
    // A venue listing hostile names: nothing from the data may become markup or a ping.
    let hostile = |base: &str, usd: f64| Liquidation {
        base: base.into(),
        symbol: format!("{base}USDT").into(),
        ..liq(Binance, "BTCUSDT", Long, usd, NOW - HOUR)
    };
    let events = vec![
        hostile("<i>PWN</i>", 3_000_000.0),
        hostile("**X**@everyone", 2_000_000.0),
        hostile("<@123>`[a](http://x)`", 1_000_000.0),
    ];
    let Answer::Post(bundle) = answered_from(&events, &ok("/liq").expect("ours")).await else {
        panic!("expected a post");
    };
    let telegram = bundle
        .posts
        .iter()
        .find(|p| p.platform == Platform::Telegram)
        .expect("a Telegram post");
    assert!(
        telegram.text.contains("&lt;i&gt;PWN&lt;/i&gt;"),
        "{}",
        telegram.text
    );
    assert!(!telegram.text.contains("<i>PWN"), "{}", telegram.text);
    assert!(telegram.text.contains("&lt;@123&gt;"), "{}", telegram.text);

    let discord = bundle
        .posts
        .iter()
        .find(|p| p.platform == Platform::Discord)
        .expect("a Discord post");
    let embed = discord.embed.as_ref().expect("an embed");
    let mut all = vec![
        discord.text.clone(),
        embed.title.clone(),
        embed.description.clone(),
    ];
    all.extend(
        embed
            .fields
            .iter()
            .flat_map(|f| [f.name.clone(), f.value.clone()]),
    );
    all.extend(embed.footer.clone());
    let all = all.join("\n");
    for raw in ["@everyone", "<@123>", "**X**", "`[a](http://x)`"] {
        assert!(!all.contains(raw), "{raw} in {all}");
    }
    assert!(all.contains("\\*\\*X\\*\\*@\u{200B}everyone"), "{all}");
    assert!(all.contains(r"\`\[a\](http://x)\`"), "{all}");
}
