//! After the bot has stopped: what the store holds and what the fakes received.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::SoakOptions;
use super::checks::{Delivered, DueSlot, SlotTally, tally_slots};
use super::harness::{ALERT_CHANNEL, ALERT_CHAT, Harness, targets};
use crate::model::Exchange;
use crate::store::{DeliveryState, DeliveryStore as _, SqlStore, Store as _};

/// What the store and the fakes say.
pub(super) struct Outcome {
    /// Events in the store, and per exchange.
    pub(super) stored: i64,
    pub(super) stored_by_exchange: BTreeMap<Exchange, i64>,
    /// The store file's size, bytes.
    pub(super) store_size: u64,
    /// Sends each fake accepted (Telegram messages, Discord channel messages).
    pub(super) telegram_sends: usize,
    pub(super) discord_sends: usize,
    /// 429 answers of each fake.
    pub(super) telegram_429: usize,
    pub(super) discord_429: usize,
    /// Other failed calls at the fakes (method, path, status).
    pub(super) other_failures: Vec<String>,
    /// Scheduled posts: due against recorded against arrived.
    pub(super) tally: SlotTally,
    /// Alerts: recorded sent, arrived at the fakes (sends and edits), recorded failed, and
    /// recorded not sent (cut off by the shutdown).
    pub(super) alerts_sent: usize,
    pub(super) alerts_arrived: usize,
    pub(super) alerts_failed: Vec<String>,
    pub(super) alerts_not_sent: usize,
}

/// Reads the store at `store_url` (file `db`) and the fakes' call logs, then stops the
/// simulator and the fakes. `expected` are the slots due in the run.
pub(super) async fn gather(
    harness: Harness,
    options: &SoakOptions,
    store_url: &str,
    db: &std::path::Path,
    expected: &[DueSlot],
) -> anyhow::Result<Outcome> {
    let store = SqlStore::open(store_url).await?;
    let stored = store.event_count().await?;
    let range = crate::analytics::MinuteRange {
        start: 0,
        end: i64::MAX / 120_000,
    };
    let mut stored_by_exchange: BTreeMap<Exchange, i64> = BTreeMap::new();
    for row in store.window_rows(range, None).await? {
        *stored_by_exchange.entry(row.exchange).or_default() += row.count;
    }
    let mut records = Vec::new();
    for state in [
        DeliveryState::Sent,
        DeliveryState::Failed,
        DeliveryState::NotSent,
        DeliveryState::Skipped,
        DeliveryState::Sending,
    ] {
        records.extend(store.deliveries_in_state(state, 0).await?);
    }
    store.close().await;

    let telegram_calls = harness.telegram.calls();
    let discord_calls = harness.discord.calls();
    harness.sim.stop().await;
    harness.telegram.stop().await;
    harness.discord.stop().await;

    let (chats, channels) = targets(options);
    let chats: HashSet<String> = chats.iter().map(ToString::to_string).collect();
    let channels: HashSet<String> = channels.iter().map(ToString::to_string).collect();
    let mut arrived: HashMap<(String, String), usize> = HashMap::new();
    let mut alerts_arrived = 0;
    for c in telegram_calls.iter().filter(|c| c.status == 200) {
        let chat = c.chat_id().map(|id| id.to_string()).unwrap_or_default();
        // A post's photo is its first message; a long caption's rest follows as text.
        if c.method == "sendphoto" && chats.contains(&chat) {
            *arrived.entry(("telegram".to_owned(), chat)).or_default() += 1;
        } else if c.method.starts_with("send") || c.method == "editmessagetext" {
            alerts_arrived += usize::from(chat == ALERT_CHAT.to_string());
        }
    }
    let mut discord_sends = 0;
    for c in discord_calls.iter().filter(|c| c.status == 200) {
        let Some(channel) = c
            .path
            .strip_prefix("/channels/")
            .and_then(|p| p.split('/').next())
        else {
            continue;
        };
        let post = c.method == "POST" && c.path.ends_with("/messages");
        discord_sends += usize::from(post);
        if post && channels.contains(channel) {
            *arrived
                .entry(("discord".to_owned(), channel.to_owned()))
                .or_default() += 1;
        } else if channel == ALERT_CHANNEL.to_string() {
            alerts_arrived += 1;
        }
    }
    let other_failures = telegram_calls
        .iter()
        .filter(|c| c.status >= 400 && c.status != 429)
        .map(|c| format!("telegram {} {}", c.method, c.status))
        .chain(
            discord_calls
                .iter()
                .filter(|c| c.status >= 400 && c.status != 429)
                .map(|c| format!("discord {} {} {}", c.method, c.path, c.status)),
        )
        .collect();
    let delivered: Vec<Delivered> = records
        .iter()
        .filter_map(|r| {
            Some(Delivered {
                job: r.slot.strip_prefix("job/")?.split(':').next()?.to_owned(),
                fire_ms: r.fire_ms,
                platform: r.platform.clone(),
                target: r.target.clone(),
                state: r.state.as_str().to_owned(),
            })
        })
        .collect();
    let alerts: Vec<_> = records
        .iter()
        .filter(|r| r.slot.starts_with("alert:"))
        .collect();
    let in_state = |state| alerts.iter().filter(move |r| r.state == state);
    Ok(Outcome {
        stored,
        stored_by_exchange,
        store_size: std::fs::metadata(db).map_or(0, |m| m.len()),
        telegram_sends: telegram_calls
            .iter()
            .filter(|c| c.is_delivered_send())
            .count(),
        discord_sends,
        telegram_429: telegram_calls.iter().filter(|c| c.status == 429).count(),
        discord_429: discord_calls.iter().filter(|c| c.status == 429).count(),
        other_failures,
        tally: tally_slots(expected, &delivered, &arrived),
        alerts_sent: in_state(DeliveryState::Sent).count(),
        alerts_arrived,
        alerts_failed: in_state(DeliveryState::Failed)
            .map(|r| {
                format!(
                    "{} to {} {}: {}",
                    r.slot,
                    r.platform,
                    r.target,
                    r.detail.as_deref().unwrap_or("failed")
                )
            })
            .collect(),
        alerts_not_sent: in_state(DeliveryState::NotSent).count(),
    })
}
