//! The Discord adapter end to end: the real serenity client (REST through its proxy setting,
//! gateway over ws://) and poise framework, inside the real `Bot`, against the fake Discord
//! in `liqbot::sim::discord` on 127.0.0.1.

mod common;

use std::time::Duration;

use common::liq;
use liqbot::analytics::Window;
use liqbot::bot::Bot;
use liqbot::config::{Config, Secret};
use liqbot::discord::{MANAGE_CHANNELS_ONLY, button_id};
use liqbot::model::Exchange::{Binance, Bybit, Okx};
use liqbot::model::Side::{Long, Short};
use liqbot::sim::discord::{
    ALL_PERMISSIONS, CHANNEL_ID, ChannelFailure, FakeDiscord, GUILD_ID, MANAGE_CHANNELS,
    MEMBER_PERMISSIONS, RestCall,
};
use liqbot::store::{Store as _, Subscription, SubscriptionStore as _};
use serde_json::{Value, json};

const TOKEN: &str = "discord-test-token";
const HOUR: i64 = 3_600_000;
const WAIT: Duration = Duration::from_secs(20);
/// The index of `4h` among the window choices (1h, 4h, 12h, 24h, 7d).
const WINDOW_4H: u8 = 1;

struct Harness {
    fake: FakeDiscord,
    config: Config,
    _dir: tempfile::TempDir,
}

impl Harness {
    async fn new() -> Self {
        Self::with(|_| {}).await
    }

    async fn with(edit: impl FnOnce(&mut Config)) -> Self {
        let fake = FakeDiscord::start(TOKEN).await.expect("fake");
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config::default();
        config.store.url = format!("sqlite://{}", dir.path().join("bot.db").display());
        config.sources.binance.enabled = false;
        config.sources.bybit.enabled = false;
        config.sources.okx.enabled = false;
        config.market.enabled = false;
        config.discord.api_url = fake.url();
        config.discord.dev_guild_id = GUILD_ID.to_string();
        config.discord_token = Some(Secret::new(TOKEN));
        edit(&mut config);
        Self {
            fake,
            config,
            _dir: dir,
        }
    }

    /// Starts the bot, stores the known data set, and waits for READY and registration.
    async fn start(&self) -> Bot {
        let bot = Bot::start(&self.config).await.expect("bot starts");
        let now = chrono::Utc::now().timestamp_millis();
        let events = vec![
            liq(Binance, "BTCUSDT", Long, 1_500_000.0, now - 2 * HOUR),
            liq(Bybit, "BTCUSDT", Short, 500_000.0, now - 3 * HOUR),
            liq(Okx, "ETHUSDT", Long, 300_000.0, now - 90 * 60_000),
            liq(Bybit, "SOLUSDT", Short, 100_000.0, now - 30 * 60_000),
            liq(Binance, "BNBUSDT", Long, 50_000.0, now - 5 * HOUR),
            liq(Binance, "BTCUSDT", Long, 9_000_000.0, now - 30 * HOUR),
        ];
        bot.store.insert_batch(&events).await.expect("insert");
        assert!(
            self.fake.wait_ready(WAIT).await,
            "READY and command registration"
        );
        bot
    }

    /// Sends `interaction` and waits for `n` calls answering it.
    async fn answered(&self, interaction: Value, n: usize) -> Vec<RestCall> {
        let token = self.fake.send_interaction(interaction);
        let needle = format!("/{token}");
        self.fake
            .wait_for(WAIT, |calls| {
                calls.iter().filter(|c| c.path.contains(&needle)).count() >= n
            })
            .await;
        self.fake.calls_for(&token)
    }
}

/// The embed's text: title, description and fields.
fn embed_text(embed: &Value) -> String {
    let mut text = format!("{}\n{}", embed["title"], embed["description"]);
    for field in embed["fields"].as_array().into_iter().flatten() {
        text.push_str(&format!("\n{}: {}", field["name"], field["value"]));
    }
    text
}

/// The text of a reply.
fn content(call: &RestCall) -> String {
    call.message().expect("a message")["content"]
        .as_str()
        .expect("content")
        .to_owned()
}

/// The PNG attached to a message call, checked, with its file name.
fn attached_png(call: &RestCall) -> String {
    let (part, name, png) = call.files.first().expect("a file");
    assert_eq!(part, "files[0]");
    let image = image::load_from_memory_with_format(png, image::ImageFormat::Png).expect("a PNG");
    assert_eq!((image.width(), image.height()), (1200, 700));
    name.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn liq_eth_4h_is_deferred_then_answered_with_an_embed_and_its_png() {
    let h = Harness::new().await;
    let bot = h.start().await;
    let interaction = h.fake.slash(
        "liq",
        &[("coin", 3, json!("eth")), ("window", 4, json!(WINDOW_4H))],
        MEMBER_PERMISSIONS,
    );
    let calls = h.answered(interaction, 2).await;
    assert_eq!(
        calls[0].callback_type(),
        Some(5),
        "deferred first: {calls:#?}"
    );
    let reply = &calls[1];
    assert_eq!((reply.method.as_str(), reply.status), ("POST", 200));
    let embed = reply.embed().expect("an embed");
    let text = embed_text(embed);
    assert!(
        text.contains("$300K") && text.contains("ETH") && text.contains("4h"),
        "{text}"
    );
    assert!(!text.contains("$2.00M"), "{text}");
    let file = attached_png(reply);
    assert_eq!(embed["image"]["url"], format!("attachment://{file}"));
    // No pings, whatever the text holds.
    let mentions = &reply.message().unwrap()["allowed_mentions"];
    assert_eq!(mentions["parse"], json!([]), "{mentions}");

    // The menu: every command registered in the dev guild, the subscription ones hidden from
    // members without Manage Channels.
    let commands = h.fake.registered_commands().expect("registered");
    let names: Vec<&str> = commands
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    for name in [
        "liq",
        "heatmap",
        "levels",
        "fng",
        "top",
        "help",
        "subscribe",
    ] {
        assert!(names.contains(&name), "{names:?}");
    }
    let subscribe = commands
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "subscribe")
        .unwrap();
    assert_eq!(
        subscribe["default_member_permissions"],
        MANAGE_CHANNELS.to_string()
    );
    assert!(h.fake.calls().iter().any(|c| c.path
        == format!(
            "/applications/{}/guilds/{GUILD_ID}/commands",
            liqbot::sim::discord::APP_ID
        )));
    bot.shutdown().await.expect("shutdown").close().await;
    h.fake.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coin_autocomplete_answers_with_the_coins_seen_largest_first() {
    let h = Harness::new().await;
    let bot = h.start().await;
    let calls = h
        .answered(h.fake.autocomplete("heatmap", "coin", "b"), 1)
        .await;
    assert_eq!(calls[0].callback_type(), Some(8));
    let choices: Vec<&str> = calls[0].json.as_ref().unwrap()["data"]["choices"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["value"].as_str())
        .collect();
    assert_eq!(choices, ["BTC", "BNB"]);
    bot.shutdown().await.expect("shutdown").close().await;
    h.fake.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_button_updates_the_summary_in_place() {
    let h = Harness::new().await;
    let bot = h.start().await;
    let calls = h
        .answered(h.fake.slash("liq", &[], MEMBER_PERMISSIONS), 2)
        .await;
    let summary = &calls[1];
    let text = embed_text(summary.embed().unwrap());
    assert!(text.contains("$2.45M") && text.contains("24h"), "{text}");
    let buttons: Vec<&str> = summary.message().unwrap()["components"][0]["components"]
        .as_array()
        .expect("a row of buttons")
        .iter()
        .filter_map(|b| b["custom_id"].as_str())
        .collect();
    let one_hour = button_id(None, Window::H1);
    assert!(buttons.contains(&one_hour.as_str()), "{buttons:?}");

    let calls = h.answered(h.fake.button(&one_hour), 1).await;
    let update = &calls[0];
    assert_eq!(update.callback_type(), Some(7), "{update:#?}");
    let text = embed_text(update.embed().unwrap());
    assert!(text.contains("$100K") && text.contains("1h"), "{text}");
    let file = attached_png(update);
    assert_eq!(
        update.embed().unwrap()["image"]["url"],
        format!("attachment://{file}")
    );
    bot.shutdown().await.expect("shutdown").close().await;
    h.fake.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_needs_manage_channels_and_the_next_slot_posts_to_the_channel() {
    let h = Harness::new().await;
    let bot = h.start().await;
    let subscribe = |permissions| {
        h.fake.slash(
            "subscribe",
            &[
                ("kind", 4, json!(0)),
                ("schedule", 3, json!("*/2 * * * * *")),
            ],
            permissions,
        )
    };
    let calls = h.answered(subscribe(MEMBER_PERMISSIONS), 1).await;
    let refusal = calls[0].message().unwrap();
    assert_eq!(calls[0].callback_type(), Some(4));
    assert_eq!(refusal["flags"], 64, "ephemeral");
    assert!(
        refusal["content"]
            .as_str()
            .unwrap()
            .starts_with("Only members who can manage channels"),
        "{refusal}"
    );
    let _ = MANAGE_CHANNELS_ONLY;
    let channel = CHANNEL_ID.to_string();
    assert!(
        bot.store
            .chat_subscriptions("discord", &channel)
            .await
            .unwrap()
            .is_empty()
    );

    let calls = h
        .answered(subscribe(MANAGE_CHANNELS | MEMBER_PERMISSIONS), 1)
        .await;
    let reply = calls[0].message().unwrap()["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        reply.starts_with("Subscribed: summary of all coins over 24h"),
        "{reply}"
    );
    let stored = bot
        .store
        .chat_subscriptions("discord", &channel)
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(
        stored[0].guild_id.as_deref(),
        Some(GUILD_ID.to_string().as_str())
    );

    let path = format!("/channels/{CHANNEL_ID}/messages");
    let calls = h
        .fake
        .wait_for(WAIT, |calls| calls.iter().any(|c| c.path == path))
        .await;
    let post = calls.iter().find(|c| c.path == path).unwrap();
    assert_eq!((post.method.as_str(), post.status), ("POST", 200));
    let text = embed_text(post.embed().expect("payload_json with an embed"));
    assert!(text.contains("$2.45M"), "{text}");
    let file = attached_png(post);
    assert_eq!(
        post.embed().unwrap()["image"]["url"],
        format!("attachment://{file}")
    );
    assert_eq!(
        post.json.as_ref().unwrap()["allowed_mentions"]["parse"],
        json!([])
    );
    let _ = ALL_PERMISSIONS;
    bot.shutdown().await.expect("shutdown").close().await;
    h.fake.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markup_and_mentions_in_options_are_escaped_and_ping_nobody() {
    let h = Harness::new().await;
    let bot = h.start().await;
    // (command, option, what the user typed, how the reply quotes it). Our own backticks get a
    // backslash too: Discord shows the quote as typed, without formatting it.
    let cases = [
        ("liq", "coin", "@everyone", "\\`@\u{200B}everyone\\`"),
        (
            "heatmap",
            "coin",
            "<@123>",
            "\\`<\u{200B}@\u{200B}123\\>\\`",
        ),
        ("levels", "coin", "**bold**", "\\`\\*\\*bold\\*\\*\\`"),
        ("liq", "coin", "`tick`", "\\`\\`tick\\`\\`"),
        (
            "liq",
            "coin",
            "[link](http://x)",
            "\\`\\[link\\](http://x)\\`",
        ),
        (
            "subscribe",
            "schedule",
            "@here <@&9> **x**",
            "\\`@\u{200B}here <\u{200B}@\u{200B}&9\\> \\*\\*x\\*\\*\\`",
        ),
    ];
    for (command, option, value, quoted) in cases {
        let mut options = vec![(option, 3, json!(value))];
        if command == "subscribe" {
            options.insert(0, ("kind", 4, json!(0)));
        }
        let interaction = h
            .fake
            .slash(command, &options, MANAGE_CHANNELS | MEMBER_PERMISSIONS);
        let calls = h.answered(interaction, 1).await;
        let reply = calls[0].message().expect("a reply");
        assert_eq!(calls[0].callback_type(), Some(4), "{value}");
        assert_eq!(reply["flags"], 64, "ephemeral: {value}");
        assert_eq!(reply["allowed_mentions"]["parse"], json!([]), "{reply}");
        let text = content(&calls[0]);
        assert!(text.contains(quoted), "{value}: {text}");
        assert!(!text.contains(value), "{value}: {text}");
    }
    bot.shutdown().await.expect("shutdown").close().await;
    h.fake.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_channel_gets_chat_limit_answers_then_one_cooldown_reply_then_silence() {
    const OTHER_CHANNEL: u64 = 2_100_000_000_000_000_002;
    let h = Harness::with(|config| {
        config.commands.chat_limit = 2;
        config.commands.chat_period_secs = 600;
    })
    .await;
    let bot = h.start().await;
    let help = || h.fake.slash("help", &[], MEMBER_PERMISSIONS);
    let intro = &liqbot::commands::help_text()[..40];
    for _ in 0..2 {
        let calls = h.answered(help(), 1).await;
        assert!(content(&calls[0]).starts_with(intro), "{calls:#?}");
    }
    let calls = h.answered(help(), 1).await;
    let refusal = calls[0].message().unwrap();
    assert_eq!(refusal["flags"], 64, "ephemeral");
    let wait: u64 = content(&calls[0])
        .strip_prefix("This chat is asking quickly; try again in ")
        .and_then(|rest| rest.strip_suffix(" s."))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{refusal}"));
    assert!((590..=600).contains(&wait), "{refusal}");

    // For the rest of the cooldown the channel's commands get no answer at all.
    let unanswered = h.fake.send_interaction(help());
    // Another channel of the same server has its own count.
    let mut elsewhere = help();
    elsewhere["channel_id"] = json!(OTHER_CHANNEL.to_string());
    let calls = h.answered(elsewhere, 1).await;
    assert!(content(&calls[0]).starts_with(intro), "{calls:#?}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let late = h.fake.calls_for(&unanswered);
    assert!(late.is_empty(), "{late:#?}");
    bot.shutdown().await.expect("shutdown").close().await;
    h.fake.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsubscribe_and_subscriptions_need_manage_channels() {
    let h = Harness::new().await;
    let bot = h.start().await;
    let channel = CHANNEL_ID.to_string();
    let subscription = Subscription {
        platform: "discord".to_owned(),
        chat_id: channel.clone(),
        guild_id: Some(GUILD_ID.to_string()),
        kind: "summary".to_owned(),
        coin: String::new(),
        window: "24h".to_owned(),
        schedule: "daily 08:00".to_owned(),
        created_by: "4000000000000000001".to_owned(),
        created_ms: 0,
        active: true,
        inactive_reason: None,
    };
    bot.store.upsert_subscription(&subscription).await.unwrap();
    for command in ["unsubscribe", "subscriptions"] {
        let calls = h
            .answered(h.fake.slash(command, &[], MEMBER_PERMISSIONS), 1)
            .await;
        assert_eq!(calls[0].message().unwrap()["flags"], 64, "ephemeral");
        assert_eq!(content(&calls[0]), MANAGE_CHANNELS_ONLY, "/{command}");
    }
    let stored = bot
        .store
        .chat_subscriptions("discord", &channel)
        .await
        .unwrap();
    assert_eq!(stored.len(), 1, "a member's /unsubscribe removed nothing");

    let interaction = h
        .fake
        .slash("unsubscribe", &[], MANAGE_CHANNELS | MEMBER_PERMISSIONS);
    let calls = h.answered(interaction, 1).await;
    assert_eq!(content(&calls[0]), "Removed 1 subscription.");
    bot.shutdown().await.expect("shutdown").close().await;
    h.fake.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_403_on_a_scheduled_post_makes_the_subscription_inactive() {
    const LOST: u64 = 2_100_000_000_000_000_777;
    let h = Harness::new().await;
    let bot = h.start().await;
    h.fake.break_channel(LOST, ChannelFailure::MissingAccess);
    let subscription = |channel: u64| Subscription {
        platform: "discord".to_owned(),
        chat_id: channel.to_string(),
        guild_id: Some(GUILD_ID.to_string()),
        kind: "summary".to_owned(),
        coin: String::new(),
        window: "24h".to_owned(),
        schedule: "* * * * * *".to_owned(),
        created_by: "4000000000000000001".to_owned(),
        created_ms: 0,
        active: true,
        inactive_reason: None,
    };
    bot.store
        .upsert_subscription(&subscription(LOST))
        .await
        .unwrap();
    bot.store
        .upsert_subscription(&subscription(CHANNEL_ID))
        .await
        .unwrap();
    let to = |channel: u64| format!("/channels/{channel}/messages");
    let calls = h
        .fake
        .wait_for(WAIT, |calls| {
            calls.iter().filter(|c| c.path == to(CHANNEL_ID)).count() >= 3
        })
        .await;
    let tries: Vec<&RestCall> = calls.iter().filter(|c| c.path == to(LOST)).collect();
    assert_eq!(tries.len(), 1, "{tries:#?}");
    assert_eq!(tries[0].status, 403);
    let stored = bot
        .store
        .chat_subscriptions("discord", &LOST.to_string())
        .await
        .unwrap();
    assert!(!stored[0].active);
    assert!(
        stored[0]
            .inactive_reason
            .as_deref()
            .unwrap_or("")
            .contains("Missing Access"),
        "{stored:?}"
    );
    bot.shutdown().await.expect("shutdown").close().await;
    h.fake.stop().await;
}

/// Discord answers a post with a 500, a 429 and another 500: the post is retried through them
/// and arrives exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_through_500s_and_a_429_is_retried_and_arrives_once() {
    use liqbot::delivery::Outlet;
    use liqbot::render::posts::{RenderRequest, Renderer};
    use liqbot::render::text::PostKind;
    let h = Harness::new().await;
    let bot = h.start().await;
    h.fake.fail_next_posts(
        CHANNEL_ID,
        [
            ChannelFailure::ServerError,
            ChannelFailure::RateLimited,
            ChannelFailure::ServerError,
        ],
    );
    let renderer = Renderer::new(&h.config).unwrap();
    let request = RenderRequest {
        kind: PostKind::Summary,
        coin: None,
        window: liqbot::analytics::Window::H24,
        now_ms: chrono::Utc::now().timestamp_millis(),
    };
    let bundles = renderer.render(&bot.store, &request, None).await.unwrap();
    let sender = bot.chat.discord.as_ref().unwrap().sender.clone();
    let outlet: std::sync::Arc<dyn Outlet> = std::sync::Arc::new(sender.clone());
    for bundle in bundles {
        outlet
            .deliver(CHANNEL_ID.to_string(), std::sync::Arc::new(bundle))
            .await
            .expect("delivered after the retries");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let posts: Vec<RestCall> = h
        .fake
        .calls()
        .into_iter()
        .filter(|c| c.path == format!("/channels/{CHANNEL_ID}/messages"))
        .collect();
    let statuses: Vec<u16> = posts.iter().map(|c| c.status).collect();
    assert_eq!(statuses, [500, 429, 500, 200], "{posts:#?}");
    assert!(embed_text(posts[3].embed().unwrap()).contains("liquidated in"));
    let gaps: Vec<Duration> = posts.windows(2).map(|w| w[1].at - w[0].at).collect();
    eprintln!("Discord API faults: attempts {statuses:?}, gaps {gaps:?}");
    let stats = sender.stats();
    let load = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(
        (
            load(&stats.sent),
            load(&stats.retried),
            load(&stats.rate_limited),
            load(&stats.failed)
        ),
        (1, 2, 1, 0)
    );
    bot.shutdown().await.expect("shutdown").close().await;
    h.fake.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_growing_cascade_is_posted_once_then_edited_in_place() {
    use liqbot::alerts::{AlertAction, AlertDispatcher, AlertEngine};
    use liqbot::config::AlertsConfig;
    use liqbot::delivery::Outlet;
    use liqbot::render::posts::Renderer;
    use liqbot::store::DeliveryStore as _;
    let h = Harness::new().await;
    let bot = h.start().await;
    let rules = AlertsConfig {
        discord: vec![CHANNEL_ID.to_string()],
        large_usd: 1e15,
        large_usd_by_coin: Default::default(),
        ..AlertsConfig::default()
    };
    let sender = bot.chat.discord.as_ref().unwrap().sender.clone();
    let dispatcher = AlertDispatcher {
        store: std::sync::Arc::clone(&bot.store),
        renderer: std::sync::Arc::new(Renderer::new(&h.config).unwrap()),
        rules: rules.clone(),
        outlets: vec![std::sync::Arc::new(sender) as std::sync::Arc<dyn Outlet>],
        owner: "test".to_owned(),
        market: None,
    };
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
    let AlertAction::New { key, .. } = &actions[0] else {
        panic!("a new alert first")
    };
    let first = bot
        .store
        .slot_deliveries(&format!("alert:{key}"))
        .await
        .unwrap();
    let id = first[0]
        .message_id
        .clone()
        .expect("the message id was recorded");
    let posts: Vec<RestCall> = h
        .fake
        .calls()
        .into_iter()
        .filter(|c| {
            c.path
                .starts_with(&format!("/channels/{CHANNEL_ID}/messages"))
        })
        .collect();
    assert_eq!(posts.len(), 2, "{posts:#?}");
    assert_eq!(posts[0].method, "POST");
    assert!(embed_text(posts[0].embed().unwrap()).contains("$54.00M liquidated in"));
    assert_eq!(
        (posts[1].method.as_str(), posts[1].path.as_str()),
        (
            "PATCH",
            format!("/channels/{CHANNEL_ID}/messages/{id}").as_str()
        )
    );
    assert!(embed_text(posts[1].embed().unwrap()).contains("$72.00M liquidated in"));
    bot.shutdown().await.expect("shutdown").close().await;
    h.fake.stop().await;
}
