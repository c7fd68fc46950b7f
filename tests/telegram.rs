//! The Telegram adapter end to end: the real teloxide client and dispatcher, inside the real
//! `Bot`, against the fake Bot API in `liqbot::sim::telegram` on 127.0.0.1.

mod common;

use std::time::Duration;

use common::liq;
use liqbot::bot::Bot;
use liqbot::config::{Config, Secret};
use liqbot::model::Exchange::{Binance, Bybit, Okx};
use liqbot::model::Side::{Long, Short};
use liqbot::sim::telegram::{Call, ChatKind, Failure, FakeTelegram};
use liqbot::store::{Store as _, Subscription, SubscriptionStore as _};
use liqbot::telegram::ADMINS_ONLY;

const TOKEN: &str = "123456:test-token";
const BOT_NAME: &str = "LiqBot";
const HOUR: i64 = 3_600_000;
const WAIT: Duration = Duration::from_secs(15);

const PRIVATE: i64 = 1001;
const GROUP: i64 = -100_200;
const CHANNEL: i64 = -100_300;

struct Harness {
    fake: FakeTelegram,
    config: Config,
    _dir: tempfile::TempDir,
}

impl Harness {
    async fn new() -> Self {
        Self::with(|_| {}).await
    }

    async fn with(edit: impl FnOnce(&mut Config)) -> Self {
        let fake = FakeTelegram::start(TOKEN, BOT_NAME).await.expect("fake");
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config::default();
        config.store.url = format!("sqlite://{}", dir.path().join("bot.db").display());
        config.sources.binance.enabled = false;
        config.sources.bybit.enabled = false;
        config.sources.okx.enabled = false;
        config.market.enabled = false;
        // A trailing slash must not matter.
        config.telegram.api_url = format!("{}/", fake.url());
        config.telegram_token = Some(Secret::new(TOKEN));
        edit(&mut config);
        Self {
            fake,
            config,
            _dir: dir,
        }
    }

    /// Starts the bot and stores the known data set (before its first command is served).
    async fn start(&self) -> Bot {
        let bot = Bot::start(&self.config).await.expect("bot starts");
        let now = chrono::Utc::now().timestamp_millis();
        let events = vec![
            liq(Binance, "BTCUSDT", Long, 1_500_000.0, now - 2 * HOUR),
            liq(Bybit, "BTCUSDT", Short, 500_000.0, now - 3 * HOUR),
            liq(Okx, "ETHUSDT", Long, 300_000.0, now - HOUR),
            liq(Binance, "BTCUSDT", Long, 9_000_000.0, now - 30 * HOUR),
        ];
        bot.store.insert_batch(&events).await.expect("insert");
        bot
    }
}

fn sends_to(calls: &[Call], chat: i64) -> Vec<Call> {
    calls
        .iter()
        .filter(|c| c.method.starts_with("send") && c.chat_id() == Some(chat))
        .cloned()
        .collect()
}

fn delivered(calls: &[Call], chat: i64, method: &str) -> Vec<Call> {
    sends_to(calls, chat)
        .into_iter()
        .filter(|c| c.status == 200 && c.method == method)
        .collect()
}

/// The caption of a photo: HTML, within 1024 UTF-16 units, and a PNG of the configured size.
fn check_photo(call: &Call) -> String {
    assert_eq!(call.parse_mode(), Some("HTML"));
    let caption = call.text().expect("a caption").to_owned();
    assert!(caption.encode_utf16().count() <= 1024, "{caption}");
    let png = call.photo.as_deref().expect("a photo");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
    let image =
        image::load_from_memory_with_format(png, image::ImageFormat::Png).expect("a valid PNG");
    assert_eq!((image.width(), image.height()), (1200, 700));
    caption
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_in_a_private_chat_a_group_and_a_channel_get_photos_with_the_figures() {
    let h = Harness::new().await;
    let bot = h.start().await;
    h.fake
        .push_message(PRIVATE, ChatKind::Private, Some(PRIVATE), "/liq");
    h.fake
        .push_message(GROUP, ChatKind::Group, Some(42), "/heatmap@LiqBot btc 4h");
    h.fake
        .push_message(GROUP, ChatKind::Group, Some(42), "/liq@OtherBot");
    h.fake.push_channel_post(CHANNEL, "/liq eth");
    let calls = h
        .fake
        .wait_for(WAIT, |calls| {
            [PRIVATE, GROUP, CHANNEL]
                .iter()
                .all(|&chat| !delivered(calls, chat, "sendphoto").is_empty())
        })
        .await;

    let private = check_photo(&delivered(&calls, PRIVATE, "sendphoto")[0]);
    assert!(private.contains("$2.30M"), "{private}");
    assert!(
        private.contains("BTC") && private.contains("$2.00M"),
        "{private}"
    );
    assert!(!private.contains("$11.30M"), "{private}");

    let group = check_photo(&delivered(&calls, GROUP, "sendphoto")[0]);
    assert!(group.contains("BTC") && group.contains("4h"), "{group}");
    assert!(group.contains("$2.00M"), "{group}");

    let channel = check_photo(&delivered(&calls, CHANNEL, "sendphoto")[0]);
    assert!(
        channel.contains("ETH") && channel.contains("$300"),
        "{channel}"
    );

    // The command addressed to another bot got nothing: one photo to the group, no text.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sends_to(&h.fake.calls(), GROUP).len(), 1);

    // The menu came from the registry, every description non-empty.
    let menu = h.fake.registered_commands().expect("setMyCommands");
    let menu = menu.as_array().expect("a list");
    assert!(menu.iter().any(|c| c["command"] == "liq"));
    assert!(
        menu.iter()
            .all(|c| !c["description"].as_str().unwrap_or("").is_empty())
    );
    bot.shutdown().await.expect("shutdown").close().await;
    h.fake.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_arguments_get_an_escaped_usage_reply() {
    let h = Harness::new().await;
    let bot = h.start().await;
    h.fake
        .push_message(PRIVATE, ChatKind::Private, Some(PRIVATE), "/liq btc 99y");
    h.fake.push_message(
        PRIVATE + 1,
        ChatKind::Private,
        Some(PRIVATE + 1),
        "/liq <script>",
    );
    let calls = h
        .fake
        .wait_for(WAIT, |calls| {
            !delivered(calls, PRIVATE, "sendmessage").is_empty()
                && !delivered(calls, PRIVATE + 1, "sendmessage").is_empty()
        })
        .await;
    let window = &delivered(&calls, PRIVATE, "sendmessage")[0];
    assert_eq!(window.parse_mode(), Some("HTML"));
    let text = window.text().unwrap();
    assert!(
        text.contains("99y") && text.contains("Usage: /liq [coin] [window]"),
        "{text}"
    );

    let script = delivered(&calls, PRIVATE + 1, "sendmessage")[0]
        .text()
        .unwrap()
        .to_owned();
    assert!(script.contains("&lt;script&gt;"), "{script}");
    assert!(!script.contains("<script>"), "{script}");
    assert!(script.contains("Usage: /liq [coin] [window]"), "{script}");
    bot.shutdown().await.expect("shutdown").close().await;
    h.fake.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlong_input_gets_the_short_usage_reply_without_the_input() {
    let h = Harness::new().await;
    let bot = h.start().await;
    let cases = [
        (
            format!("/liq <b>{}</b>", "A".repeat(1_000)),
            "That is too long (at most 200 characters).\nUsage: /liq [coin] [window]",
        ),
        (
            "/heatmap <script>alert(1)</script>aaaaaaaa 4h".to_owned(),
            "An argument is too long (at most 32 characters).\nUsage: /heatmap [coin] [window]",
        ),
        (
            "/subscribe liq 0 0,5,10,15,20,25,30,35,40,45,50 0,2,4,6,8,10,12,14,16,18,20,22 * * *"
                .to_owned(),
            "That schedule is too long (at most 64 characters).\nUsage: /subscribe &lt;kind&gt; \
             &lt;schedule&gt;",
        ),
    ];
    let chats: Vec<i64> = (0..cases.len()).map(|i| PRIVATE + 10 + i as i64).collect();
    for (chat, (text, _)) in chats.iter().zip(&cases) {
        h.fake
            .push_message(*chat, ChatKind::Private, Some(*chat), text);
    }
    let calls = h
        .fake
        .wait_for(WAIT, |calls| {
            chats
                .iter()
                .all(|&chat| !delivered(calls, chat, "sendmessage").is_empty())
        })
        .await;
    for (chat, (_, want)) in chats.iter().zip(&cases) {
        let replies = delivered(&calls, *chat, "sendmessage");
        assert_eq!(replies.len(), 1, "{replies:?}");
        assert_eq!(replies[0].text(), Some(*want));
    }
    bot.shutdown().await.expect("shutdown").close().await;
    h.fake.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_group_gets_chat_limit_answers_then_one_cooldown_reply_then_silence() {
    const OTHER_GROUP: i64 = -100_201;
    let h = Harness::with(|config| {
        config.commands.chat_limit = 3;
        config.commands.chat_period_secs = 600;
    })
    .await;
    let bot = h.start().await;
    // Five members, five commands, a bad one among them: every command for the bot counts.
    for (i, text) in ["/help", "/liq 99y", "/help", "/help", "/help"]
        .into_iter()
        .enumerate()
    {
        h.fake
            .push_message(GROUP, ChatKind::Group, Some(50 + i as i64), text);
    }
    h.fake
        .push_message(OTHER_GROUP, ChatKind::Group, Some(60), "/help");
    // A private chat has only the per-user limit.
    for _ in 0..4 {
        h.fake
            .push_message(PRIVATE, ChatKind::Private, Some(PRIVATE), "/help");
    }
    h.fake
        .wait_for(WAIT, |calls| {
            delivered(calls, GROUP, "sendmessage").len() >= 4
                && !delivered(calls, OTHER_GROUP, "sendmessage").is_empty()
                && delivered(calls, PRIVATE, "sendmessage").len() >= 4
        })
        .await;
    // Time for a fifth reply to the group to pass the 1-per-second send pacing, were there one.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let calls = h.fake.calls();
    let texts: Vec<String> = delivered(&calls, GROUP, "sendmessage")
        .iter()
        .filter_map(|c| c.text().map(str::to_owned))
        .collect();
    assert_eq!(texts.len(), 4, "{texts:#?}");
    let help = liqbot::commands::help_text();
    assert!(texts[0].starts_with(&help[..40]), "{texts:#?}");
    assert!(
        texts[1].contains("Usage: /liq [coin] [window]"),
        "{texts:#?}"
    );
    assert!(texts[2].starts_with(&help[..40]), "{texts:#?}");
    // The wait counts from the first of the three, a few paced sends ago.
    let wait: u64 = texts[3]
        .strip_prefix("This chat is asking quickly; try again in ")
        .and_then(|rest| rest.strip_suffix(" s."))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{texts:#?}"));
    assert!((590..=600).contains(&wait), "{texts:#?}");
    assert_eq!(delivered(&calls, OTHER_GROUP, "sendmessage").len(), 1);
    assert_eq!(delivered(&calls, PRIVATE, "sendmessage").len(), 4);
    bot.shutdown().await.expect("shutdown").close().await;
    h.fake.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsubscribe_and_subscriptions_are_for_admins_only() {
    const MEMBER: i64 = 42;
    const ADMIN: i64 = 43;
    let h = Harness::new().await;
    h.fake.set_admin(GROUP, ADMIN);
    let bot = h.start().await;
    let subscription = Subscription {
        platform: "telegram".to_owned(),
        chat_id: GROUP.to_string(),
        guild_id: None,
        kind: "summary".to_owned(),
        coin: String::new(),
        window: "24h".to_owned(),
        schedule: "daily 08:00".to_owned(),
        created_by: ADMIN.to_string(),
        created_ms: 0,
        active: true,
        inactive_reason: None,
    };
    bot.store.upsert_subscription(&subscription).await.unwrap();
    h.fake
        .push_message(GROUP, ChatKind::Group, Some(MEMBER), "/unsubscribe");
    h.fake
        .push_message(GROUP, ChatKind::Group, Some(MEMBER), "/subscriptions");
    let calls = h
        .fake
        .wait_for(WAIT, |calls| {
            delivered(calls, GROUP, "sendmessage").len() >= 2
        })
        .await;
    let replies = delivered(&calls, GROUP, "sendmessage");
    assert_eq!(replies[0].text(), Some(ADMINS_ONLY));
    assert_eq!(replies[1].text(), Some(ADMINS_ONLY));
    let stored = bot
        .store
        .chat_subscriptions("telegram", &GROUP.to_string())
        .await
        .unwrap();
    assert_eq!(stored.len(), 1, "a member's /unsubscribe removed nothing");

    h.fake
        .push_message(GROUP, ChatKind::Group, Some(ADMIN), "/unsubscribe");
    let calls = h
        .fake
        .wait_for(WAIT, |calls| {
            delivered(calls, GROUP, "sendmessage").len() >= 3
        })
        .await;
    assert_eq!(
        delivered(&calls, GROUP, "sendmessage")[2].text(),
        Some("Removed 1 subscription.")
    );
    bot.shutdown().await.expect("shutdown").close().await;
    h.fake.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_is_for_admins_is_stored_survives_a_restart_and_posts_on_schedule() {
    const MEMBER: i64 = 42;
    const ADMIN: i64 = 43;
    let h = Harness::new().await;
    h.fake.set_admin(GROUP, ADMIN);
    let bot = h.start().await;

    h.fake
        .push_message(GROUP, ChatKind::Group, Some(MEMBER), "/subscribe liq 4h");
    let calls = h
        .fake
        .wait_for(WAIT, |calls| {
            !delivered(calls, GROUP, "sendmessage").is_empty()
        })
        .await;
    assert_eq!(
        delivered(&calls, GROUP, "sendmessage")[0].text(),
        Some(ADMINS_ONLY)
    );
    assert!(
        calls
            .iter()
            .any(|c| c.method == "getchatmember" && c.params["user_id"] == MEMBER)
    );
    let stored = bot
        .store
        .chat_subscriptions("telegram", &GROUP.to_string())
        .await
        .unwrap();
    assert!(stored.is_empty());

    // Every 2 seconds (a cron line with seconds), so the next slot comes soon.
    h.fake.push_message(
        GROUP,
        ChatKind::Group,
        Some(ADMIN),
        "/subscribe liq */2 * * * * *",
    );
    let calls = h
        .fake
        .wait_for(WAIT, |calls| {
            delivered(calls, GROUP, "sendmessage").len() >= 2
        })
        .await;
    let reply = delivered(&calls, GROUP, "sendmessage")[1]
        .text()
        .unwrap()
        .to_owned();
    assert!(
        reply.starts_with("Subscribed: summary of all coins over 24h"),
        "{reply}"
    );
    let stored = bot
        .store
        .chat_subscriptions("telegram", &GROUP.to_string())
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].created_by, ADMIN.to_string());
    assert!(stored[0].active);

    bot.shutdown().await.expect("shutdown").close().await;
    let restarted_at = tokio::time::Instant::now();
    let bot = Bot::start(&h.config).await.expect("restart");

    // The subscription is still there after the restart, and the next slot posts the summary.
    h.fake
        .push_message(GROUP, ChatKind::Group, Some(ADMIN), "/subscriptions");
    let calls = h
        .fake
        .wait_for(WAIT, |calls| {
            let after = |c: &&Call| c.at > restarted_at;
            delivered(calls, GROUP, "sendphoto")
                .iter()
                .filter(after)
                .count()
                >= 1
                && delivered(calls, GROUP, "sendmessage")
                    .iter()
                    .filter(after)
                    .count()
                    >= 1
        })
        .await;
    let after: Vec<Call> = sends_to(&calls, GROUP)
        .into_iter()
        .filter(|c| c.at > restarted_at && c.status == 200)
        .collect();
    let listing = after
        .iter()
        .find(|c| c.method == "sendmessage")
        .and_then(Call::text)
        .expect("a /subscriptions reply");
    assert!(
        listing.contains("summary of all coins over 24h, schedule */2 * * * * *"),
        "{listing}"
    );
    let scheduled = after
        .iter()
        .find(|c| c.method == "sendphoto")
        .expect("a scheduled post after the restart");
    let caption = check_photo(scheduled);
    assert!(caption.contains("$2.30M"), "{caption}");
    bot.shutdown().await.expect("shutdown").close().await;
    h.fake.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_is_waited_out_and_the_photo_arrives_once() {
    let h = Harness::new().await;
    let bot = h.start().await;
    h.fake.fail_next("sendPhoto", [Failure::RetryAfter(2)]);
    h.fake
        .push_message(PRIVATE, ChatKind::Private, Some(PRIVATE), "/heatmap btc");
    let calls = h
        .fake
        .wait_for(WAIT, |calls| {
            !delivered(calls, PRIVATE, "sendphoto").is_empty()
        })
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let attempts: Vec<Call> = sends_to(&h.fake.calls(), PRIVATE);
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    assert_eq!((attempts[0].status, attempts[1].status), (429, 200));
    let waited = attempts[1].at - attempts[0].at;
    assert!(waited >= Duration::from_secs(2), "resent after {waited:?}");
    check_photo(&delivered(&calls, PRIVATE, "sendphoto")[0]);
    assert_eq!(
        bot.chat
            .telegram
            .as_ref()
            .unwrap()
            .sender
            .stats()
            .rate_limited
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    bot.shutdown().await.expect("shutdown").close().await;
    h.fake.stop().await;
}

/// The Bot API fails a photo every way it can short of losing the chat: a 500, a request that
/// hangs past the send timeout, then three 429s in a row. The photo is retried through all of
/// them and arrives exactly once. (teloxide itself waits 10 s after any 5xx before reporting
/// it, which is most of this test's time.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_500_a_hang_and_repeated_429s_are_retried_and_the_photo_arrives_once() {
    let h = Harness::with(|c| c.telegram.send_timeout_secs = 1).await;
    let bot = h.start().await;
    h.fake.fail_next(
        "sendPhoto",
        [
            Failure::ServerError,
            Failure::Hang(5),
            Failure::RetryAfter(1),
            Failure::RetryAfter(1),
            Failure::RetryAfter(1),
        ],
    );
    h.fake
        .push_message(PRIVATE, ChatKind::Private, Some(PRIVATE), "/heatmap btc");
    h.fake
        .wait_for(Duration::from_secs(60), |calls| {
            !delivered(calls, PRIVATE, "sendphoto").is_empty()
        })
        .await;
    // Anything sent twice would arrive now.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let attempts: Vec<Call> = sends_to(&h.fake.calls(), PRIVATE);
    let statuses: Vec<u16> = attempts.iter().map(|c| c.status).collect();
    assert_eq!(statuses, [500, 504, 429, 429, 429, 200], "{attempts:?}");
    assert_eq!(delivered(&h.fake.calls(), PRIVATE, "sendphoto").len(), 1);
    check_photo(&delivered(&h.fake.calls(), PRIVATE, "sendphoto")[0]);
    let gaps: Vec<Duration> = attempts.windows(2).map(|w| w[1].at - w[0].at).collect();
    eprintln!("Bot API faults: attempts {statuses:?}, gaps {gaps:?}");
    // The hang was given up at the 1 s send timeout, not waited out (5 s).
    assert!(gaps[1] < Duration::from_secs(4), "{gaps:?}");
    for gap in &gaps[2..] {
        assert!(
            *gap >= Duration::from_secs(1),
            "a 429 not waited out: {gaps:?}"
        );
    }
    let stats = &bot.chat.telegram.as_ref().unwrap().sender;
    let stats = stats.stats();
    let load = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(
        (
            load(&stats.retried),
            load(&stats.rate_limited),
            load(&stats.failed)
        ),
        (2, 3, 0)
    );
    bot.shutdown().await.expect("shutdown").close().await;
    h.fake.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kicked_bot_marks_the_chat_inactive_and_sends_no_more() {
    let h = Harness::new().await;
    let bot = h.start().await;
    let subscription = |chat: i64| Subscription {
        platform: "telegram".to_owned(),
        chat_id: chat.to_string(),
        guild_id: None,
        kind: "summary".to_owned(),
        coin: String::new(),
        window: "24h".to_owned(),
        schedule: "* * * * * *".to_owned(),
        created_by: "43".to_owned(),
        created_ms: 0,
        active: true,
        inactive_reason: None,
    };
    h.fake.break_chat(GROUP, Failure::Kicked);
    bot.store
        .upsert_subscription(&subscription(GROUP))
        .await
        .unwrap();
    bot.store
        .upsert_subscription(&subscription(CHANNEL))
        .await
        .unwrap();
    // The healthy channel keeps getting posts every second while the kicked group gets one try.
    let calls = h
        .fake
        .wait_for(WAIT, |calls| {
            delivered(calls, CHANNEL, "sendphoto").len() >= 3
        })
        .await;
    assert!(delivered(&calls, CHANNEL, "sendphoto").len() >= 3);
    let tries = sends_to(&calls, GROUP);
    assert_eq!(tries.len(), 1, "{tries:?}");
    assert_eq!(tries[0].status, 403);
    let stored = bot
        .store
        .chat_subscriptions("telegram", &GROUP.to_string())
        .await
        .unwrap();
    assert!(!stored[0].active);
    assert!(
        stored[0]
            .inactive_reason
            .as_deref()
            .unwrap_or("")
            .contains("kicked"),
        "{stored:?}"
    );
    let active = bot.store.active_subscriptions().await.unwrap();
    assert_eq!(active.len(), 1);
    assert_eq!(active[0].chat_id, CHANNEL.to_string());
    bot.shutdown().await.expect("shutdown").close().await;
    h.fake.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_commands_are_rate_limited_per_user_with_a_friendly_reply() {
    let h = Harness::with(|config| {
        config.commands.image_limit = 2;
        config.commands.image_period_secs = 600;
    })
    .await;
    let bot = h.start().await;
    for _ in 0..3 {
        h.fake
            .push_message(GROUP, ChatKind::Group, Some(42), "/liq btc");
    }
    h.fake
        .push_message(GROUP, ChatKind::Group, Some(44), "/liq btc");
    h.fake
        .push_message(GROUP, ChatKind::Group, Some(42), "/help");
    let calls = h
        .fake
        .wait_for(WAIT, |calls| {
            delivered(calls, GROUP, "sendphoto").len() >= 3
                && delivered(calls, GROUP, "sendmessage").len() >= 2
        })
        .await;
    assert_eq!(delivered(&calls, GROUP, "sendphoto").len(), 3);
    let texts: Vec<String> = delivered(&calls, GROUP, "sendmessage")
        .iter()
        .filter_map(|c| c.text().map(str::to_owned))
        .collect();
    assert!(
        texts[0].starts_with("You're asking quickly; try again in "),
        "{texts:?}"
    );
    assert!(texts[1].contains("/heatmap [coin] [window]"), "{texts:?}");
    bot.shutdown().await.expect("shutdown").close().await;
    h.fake.stop().await;
}

/// An operator's summary template that writes 120 lines: too long for a caption and for one
/// message.
const LONG_TEMPLATE: &str = "{% block headline %}💥 <b>{{ summary.total.usd|money }} liquidated in \
    {{ summary.window }}</b>{% endblock %}\n{% for i in range(120) %}Line {{ i }}: \
    {{ summary.total.usd|money }} across the exchanges, <b>longs {{ summary.total.long_usd|money }}</b>.\n\
    {% endfor %}";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_too_long_for_a_caption_sends_the_headline_then_the_full_text_in_parts() {
    let templates = tempfile::tempdir().unwrap();
    std::fs::write(
        templates.path().join("summary.telegram.html.j2"),
        LONG_TEMPLATE,
    )
    .unwrap();
    let dir = templates.path().display().to_string();
    let h = Harness::with(|config| config.render.templates_dir = dir).await;
    let bot = h.start().await;
    h.fake
        .push_message(PRIVATE, ChatKind::Private, Some(PRIVATE), "/liq");
    let calls = h
        .fake
        .wait_for(WAIT, |calls| {
            !delivered(calls, PRIVATE, "sendphoto").is_empty()
                && delivered(calls, PRIVATE, "sendmessage").len() >= 2
        })
        .await;
    let caption = check_photo(&delivered(&calls, PRIVATE, "sendphoto")[0]);
    assert_eq!(caption, "💥 <b>$2.30M liquidated in 24h</b>");
    let texts: Vec<String> = delivered(&calls, PRIVATE, "sendmessage")
        .iter()
        .map(|c| {
            assert_eq!(c.parse_mode(), Some("HTML"));
            c.text().unwrap().to_owned()
        })
        .collect();
    assert_eq!(texts.len(), 2, "{texts:?}");
    for text in &texts {
        assert!(text.encode_utf16().count() <= 4096);
        // Cut between lines, tags balanced in each part.
        assert_eq!(
            text.matches("<b>").count(),
            text.matches("</b>").count(),
            "{text}"
        );
    }
    let full = texts.concat();
    assert!(full.contains("Line 0: $2.30M") && full.contains("Line 119: $2.30M"));
    // The photo goes first, then the text in order.
    let sends = sends_to(&calls, PRIVATE);
    assert_eq!(sends[0].method, "sendphoto");
    assert!(texts[0].contains("Line 0:") && texts[1].contains("Line 119:"));
    bot.shutdown().await.expect("shutdown").close().await;
    h.fake.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_and_anonymous_admins_may_subscribe_and_unknown_commands_get_a_hint() {
    let h = Harness::new().await;
    let bot = h.start().await;
    h.fake
        .push_channel_post(CHANNEL, "/subscribe heatmap daily 08:00");
    // An anonymous group admin posts as the group itself.
    h.fake
        .push_message(GROUP, ChatKind::Group, None, "/subscribe fng 24h");
    h.fake
        .push_message(PRIVATE, ChatKind::Private, Some(PRIVATE), "/nonsense");
    let calls = h
        .fake
        .wait_for(WAIT, |calls| {
            [CHANNEL, GROUP, PRIVATE]
                .iter()
                .all(|&chat| !delivered(calls, chat, "sendmessage").is_empty())
        })
        .await;
    let first = |chat| {
        delivered(&calls, chat, "sendmessage")[0]
            .text()
            .unwrap()
            .to_owned()
    };
    let channel = first(CHANNEL);
    assert!(
        channel
            .starts_with("Subscribed: heatmap of BTC over 24h, schedule daily 08:00. Next post: "),
        "{channel}"
    );
    assert!(
        first(GROUP).starts_with("Subscribed: Fear &amp; Greed"),
        "{}",
        first(GROUP)
    );
    assert_eq!(first(PRIVATE), liqbot::telegram::UNKNOWN_COMMAND);
    // Neither needed getChatMember: a channel post and an anonymous admin are admins.
    assert!(calls.iter().all(|c| c.method != "getchatmember"));
    assert_eq!(bot.store.active_subscriptions().await.unwrap().len(), 2);
    bot.shutdown().await.expect("shutdown").close().await;
    h.fake.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_split_collecting_from_posting() {
    let h = Harness::with(|config| {
        config.sources.binance.enabled = true;
        config.roles = liqbot::config::Roles(vec!["post".to_owned()]);
    })
    .await;
    let poster = Bot::start(&h.config).await.expect("bot starts");
    assert!(
        poster.sources.is_empty(),
        "a post-only instance streams nothing"
    );
    assert!(poster.chat.telegram.is_some());
    poster.shutdown().await.expect("shutdown").close().await;

    let mut config = h.config.clone();
    config.roles = liqbot::config::Roles(vec!["collect".to_owned()]);
    let collector = Bot::start(&config).await.expect("bot starts");
    assert_eq!(collector.sources.len(), 1);
    assert!(
        collector.chat.telegram.is_none(),
        "a collect-only instance posts nothing"
    );
    collector.shutdown().await.expect("shutdown").close().await;
    h.fake.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_growing_cascade_is_posted_once_then_edited_in_place() {
    use liqbot::alerts::{AlertAction, AlertDispatcher, AlertEngine};
    use liqbot::config::AlertsConfig;
    use liqbot::delivery::Outlet;
    use liqbot::render::posts::Renderer;
    const ALERTS: i64 = -100_900;
    let h = Harness::new().await;
    let bot = h.start().await;
    let rules = AlertsConfig {
        telegram: vec![ALERTS.to_string()],
        large_usd: 1e15,
        large_usd_by_coin: Default::default(),
        ..AlertsConfig::default()
    };
    let sender = bot.chat.telegram.as_ref().unwrap().sender.clone();
    let dispatcher = AlertDispatcher {
        store: std::sync::Arc::clone(&bot.store),
        renderer: std::sync::Arc::new(Renderer::new(&h.config).unwrap()),
        rules: rules.clone(),
        outlets: vec![std::sync::Arc::new(sender) as std::sync::Arc<dyn Outlet>],
        owner: "test".to_owned(),
        market: None,
    };
    // $6M a minute: a $54M cascade, then $72M.
    let now = chrono::Utc::now().timestamp_millis();
    let mut engine = AlertEngine::new(&rules);
    let mut actions: Vec<AlertAction> = Vec::new();
    for i in 0..12 {
        let e = liq(Bybit, "BTCUSDT", Long, 6_000_000.0, now - (12 - i) * 60_000);
        actions.extend(engine.observe(&[e], now));
    }
    assert_eq!(actions.len(), 2, "{actions:#?}");
    for action in &actions {
        dispatcher.post(action).await;
    }
    let calls = h
        .fake
        .wait_for(WAIT, |calls| {
            calls.iter().any(|c| c.method == "editmessagetext")
        })
        .await;
    let to_alerts: Vec<&Call> = calls
        .iter()
        .filter(|c| c.chat_id() == Some(ALERTS) && c.status == 200)
        .collect();
    assert_eq!(to_alerts.len(), 2, "{to_alerts:#?}");
    assert_eq!(to_alerts[0].method, "sendmessage");
    assert!(
        to_alerts[0]
            .text()
            .unwrap()
            .contains("$54.00M liquidated in")
    );
    assert_eq!(to_alerts[1].method, "editmessagetext");
    assert!(
        to_alerts[1]
            .text()
            .unwrap()
            .contains("$72.00M liquidated in")
    );
    // The edit names the message the first post got, as recorded in the store.
    let AlertAction::New { key, .. } = &actions[0] else {
        panic!("a new alert first")
    };
    use liqbot::store::DeliveryStore as _;
    let first = bot
        .store
        .slot_deliveries(&format!("alert:{key}"))
        .await
        .unwrap();
    let sent_id = first[0]
        .message_id
        .clone()
        .expect("the message id was recorded");
    assert_eq!(to_alerts[1].params["message_id"].to_string(), sent_id);
    bot.shutdown().await.expect("shutdown").close().await;
    h.fake.stop().await;
}
