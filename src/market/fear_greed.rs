//! The Crypto Fear & Greed Index by alternative.me, `GET {url}?limit=8` (the public URL is
//! `https://api.alternative.me/fng/`, set in config): today's reading with yesterday's and last
//! week's, for posts that show the classification alternative.me gives and credit it
//! ([`ATTRIBUTION`]).
//!
//! Format, from alternative.me's API documentation
//! (<https://alternative.me/crypto/fear-and-greed-index/#api>):
//! `{"name":"Fear and Greed Index","data":[{"value":"70","value_classification":"Greed",
//! "timestamp":"1730937600","time_until_update":".."},..],"metadata":{"error":null}}`. Values
//! and timestamps are strings; a timestamp is Unix **seconds** at 00:00 UTC of the day; the
//! newest day comes first and only it carries `time_until_update`.

use serde::Deserialize;

use super::{Scalar, integer};
use crate::model::FearGreed;
use crate::sources::FrameError;
use crate::sources::rest::{FetchError, get_text};

/// The credit a post must carry when it shows the index.
pub const ATTRIBUTION: &str = "Fear & Greed Index by alternative.me";

/// The `name` alternative.me gives the series.
const NAME: &str = "Fear and Greed Index";

const DAY_MS: i64 = 86_400_000;

/// Today's reading, with the ones a day and a week before it when the list has them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FearGreedReading {
    /// The newest reading.
    pub today: FearGreed,
    /// The reading for the day before `today`.
    pub yesterday: Option<FearGreed>,
    /// The reading for seven days before `today`.
    pub week_ago: Option<FearGreed>,
}

#[derive(Deserialize)]
struct Body {
    #[serde(default)]
    data: serde_json::Value,
    #[serde(default)]
    metadata: Option<Metadata>,
}

#[derive(Deserialize)]
struct Metadata {
    #[serde(default)]
    error: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Entry {
    value: Scalar,
    value_classification: String,
    timestamp: Scalar,
}

/// Parses the index list in the order given (newest first). A non-null `metadata.error` is
/// [`FrameError::Venue`]; a value outside 0..=100, an empty classification or a timestamp that
/// is not whole seconds is [`FrameError::Invalid`].
pub fn parse_fear_greed(body: &str) -> Result<Vec<FearGreed>, FrameError> {
    let body: Body = serde_json::from_str(body)?;
    if let Some(error) = body.metadata.and_then(|m| m.error)
        && !error.is_null()
    {
        let message = error
            .as_str()
            .map_or_else(|| error.to_string(), str::to_owned);
        return Err(FrameError::Venue(message));
    }
    let entries: Vec<Entry> = serde_json::from_value(body.data)?;
    entries.into_iter().map(to_reading).collect()
}

fn to_reading(entry: Entry) -> Result<FearGreed, FrameError> {
    let value = match entry.value.text().parse::<u8>() {
        Ok(v) if v <= 100 => v,
        _ => {
            return Err(FrameError::Invalid(format!(
                "value is not an index 0..=100: {:?}",
                entry.value
            )));
        }
    };
    if entry.value_classification.trim().is_empty() {
        return Err(FrameError::Invalid("empty value_classification".into()));
    }
    let seconds = integer("timestamp", &entry.timestamp)?;
    let ts_ms = seconds
        .checked_mul(1000)
        .ok_or_else(|| FrameError::Invalid(format!("timestamp out of range: {seconds}")))?;
    Ok(FearGreed {
        ts_ms,
        value,
        classification: entry.value_classification,
    })
}

/// Picks today (the newest reading), yesterday and a week ago **by date**, not by position:
/// the list may skip a day or arrive out of order. `None` for an empty list.
#[must_use]
pub fn reading(list: &[FearGreed]) -> Option<FearGreedReading> {
    let today = list.iter().max_by_key(|entry| entry.ts_ms)?;
    let day = |entry: &FearGreed| entry.ts_ms.div_euclid(DAY_MS);
    let days_before = |n: i64| {
        list.iter()
            .find(|entry| day(entry) == day(today) - n)
            .cloned()
    };
    Some(FearGreedReading {
        today: today.clone(),
        yesterday: days_before(1),
        week_ago: days_before(7),
    })
}

/// Encodes a list as alternative.me answers it, in the order given. Used by the simulator's
/// REST endpoint and tests.
#[must_use]
pub fn encode_fear_greed(list: &[FearGreed]) -> String {
    let data: Vec<serde_json::Value> = list
        .iter()
        .map(|entry| {
            serde_json::json!({
                "value": entry.value.to_string(),
                "value_classification": entry.classification,
                "timestamp": entry.ts_ms.div_euclid(1000).to_string(),
            })
        })
        .collect();
    serde_json::json!({ "name": NAME, "data": data, "metadata": { "error": null } }).to_string()
}

/// Fetches the newest `limit` days from `url` (`https://api.alternative.me/fng/`).
pub async fn fetch_fear_greed(
    client: &reqwest::Client,
    url: &str,
    limit: u32,
) -> Result<Vec<FearGreed>, FetchError> {
    let separator = if url.contains('?') { '&' } else { '?' };
    let url = format!("{url}{separator}limit={limit}");
    Ok(parse_fear_greed(&get_text(client, &url).await?)?)
}
