//! The shared websocket runner: connect, subscribe, keep alive, read frames, parse them, hand
//! events on, and reconnect with exponential backoff and jitter until shut down.
//!
//! Venue specifics come in through [`Venue::prepare`], called before every connection so a
//! venue can refresh its instrument list (new listings, contract sizes) on each reconnect.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior, interval_at, timeout};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::{FrameError, Parsed};
use crate::model::Liquidation;
use crate::rng::SplitMix64;

/// The largest frame accepted; anything bigger is a broken or hostile peer.
const MAX_FRAME_BYTES: usize = 4 << 20;

/// Parses one text frame of a venue's stream.
pub type FrameParserFn = Box<dyn Fn(&str) -> Result<Parsed, FrameError> + Send + Sync>;

/// Everything one connection needs, prepared by the venue just before connecting.
pub struct Session {
    /// The websocket URL.
    pub url: String,
    /// Text messages to send right after connecting (subscriptions).
    pub subscribe: Vec<String>,
    /// An application-level ping (interval, text) when the venue wants one; otherwise the
    /// runner sends websocket ping frames every `interval`.
    pub ping: Option<(Duration, String)>,
    /// The frame parser for this connection.
    pub parser: FrameParserFn,
}

/// One stream of one venue (Binance, Bybit linear, Bybit inverse, OKX).
pub trait Venue: Send + Sync + 'static {
    /// The stream's name in logs and stats (`bybit-linear`).
    fn name(&self) -> &str;

    /// Prepares the next connection: fetches what the venue needs over REST.
    fn prepare(&self) -> impl Future<Output = anyhow::Result<Session>> + Send;
}

/// Counters for one stream, readable while it runs.
#[derive(Debug, Default)]
pub struct SourceStats {
    /// Text frames received.
    pub frames: AtomicU64,
    /// Liquidation events parsed and handed on.
    pub events: AtomicU64,
    /// Frames that did not parse, skipped.
    pub malformed: AtomicU64,
    /// Entries inside valid frames that could not be used, skipped.
    pub rejected: AtomicU64,
    /// Errors the venue reported on the connection.
    pub venue_errors: AtomicU64,
    /// Connections opened (the first one included).
    pub connects: AtomicU64,
    /// True while a connection is open.
    pub connected: AtomicBool,
    /// When the last event was handed on (wall clock, ms); 0 before the first.
    pub last_event_ms: AtomicI64,
}

impl SourceStats {
    /// A one-line summary for logs and the demo.
    #[must_use]
    pub fn line(&self) -> String {
        format!(
            "frames {}, events {}, malformed {}, rejected {}, venue errors {}, connections {}",
            self.frames.load(Ordering::Relaxed),
            self.events.load(Ordering::Relaxed),
            self.malformed.load(Ordering::Relaxed),
            self.rejected.load(Ordering::Relaxed),
            self.venue_errors.load(Ordering::Relaxed),
            self.connects.load(Ordering::Relaxed),
        )
    }
}

/// Reconnect and liveness settings.
#[derive(Debug, Clone, Copy)]
pub struct RunnerSettings {
    /// First reconnect delay.
    pub reconnect_initial: Duration,
    /// Longest reconnect delay.
    pub reconnect_max: Duration,
    /// No frame for this long means the connection is dead.
    pub idle_timeout: Duration,
    /// Connecting (TCP + TLS + upgrade) may take this long.
    pub connect_timeout: Duration,
}

/// Exponential backoff with jitter: each delay is drawn from the upper half of a doubling cap.
#[derive(Debug)]
pub struct Backoff {
    next: Duration,
    initial: Duration,
    max: Duration,
    rng: SplitMix64,
}

impl Backoff {
    /// A backoff starting at `initial` and doubling up to `max`.
    #[must_use]
    pub fn new(initial: Duration, max: Duration) -> Self {
        Self {
            next: initial,
            initial,
            max,
            rng: SplitMix64::from_time(),
        }
    }

    /// The delay before the next attempt.
    pub fn next_delay(&mut self) -> Duration {
        let cap = self.next;
        self.next = (self.next * 2).min(self.max);
        cap.mul_f64(0.5 + 0.5 * self.rng.next_f64())
    }

    /// Back to the initial delay, after a connection that worked.
    pub fn reset(&mut self) {
        self.next = self.initial;
    }
}

/// How a connection ended.
enum Ended {
    Shutdown,
    Failed { delivered: bool, reason: String },
}

/// Runs one venue stream until `shutdown` is cancelled, sending every parsed event batch
/// to `events`.
pub async fn run<V: Venue>(
    venue: V,
    settings: RunnerSettings,
    events: mpsc::Sender<Vec<Liquidation>>,
    stats: Arc<SourceStats>,
    shutdown: CancellationToken,
) {
    let mut backoff = Backoff::new(settings.reconnect_initial, settings.reconnect_max);
    loop {
        let ended = tokio::select! {
            () = shutdown.cancelled() => Ended::Shutdown,
            ended = connect_and_read(&venue, settings, &events, &stats, &shutdown) => ended,
        };
        stats.connected.store(false, Ordering::Relaxed);
        let Ended::Failed { delivered, reason } = ended else {
            info!(source = venue.name(), "Stream stopped.");
            return;
        };
        if delivered {
            backoff.reset();
        }
        let delay = backoff.next_delay();
        warn!(source = venue.name(), %reason, delay_ms = delay.as_millis(), "Stream closed, reconnecting.");
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(delay) => {}
        }
    }
}

async fn connect_and_read<V: Venue>(
    venue: &V,
    settings: RunnerSettings,
    events: &mpsc::Sender<Vec<Liquidation>>,
    stats: &SourceStats,
    shutdown: &CancellationToken,
) -> Ended {
    let failed = |delivered, reason: String| Ended::Failed { delivered, reason };
    let session = match venue.prepare().await {
        Ok(s) => s,
        Err(e) => return failed(false, format!("preparing: {e:#}")),
    };
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_FRAME_BYTES))
        .max_frame_size(Some(MAX_FRAME_BYTES));
    let connect =
        tokio_tungstenite::connect_async_with_config(session.url.as_str(), Some(config), true);
    let mut ws = match timeout(settings.connect_timeout, connect).await {
        Ok(Ok((ws, _))) => ws,
        Ok(Err(e)) => return failed(false, format!("connecting: {e}")),
        Err(_) => return failed(false, "connect timed out".into()),
    };
    stats.connects.fetch_add(1, Ordering::Relaxed);
    stats.connected.store(true, Ordering::Relaxed);
    for msg in &session.subscribe {
        if let Err(e) = ws.send(Message::text(msg.as_str())).await {
            return failed(false, format!("subscribing: {e}"));
        }
    }
    info!(source = venue.name(), url = %session.url, subscriptions = session.subscribe.len(), "Stream connected.");

    let ping_every = session
        .ping
        .as_ref()
        .map_or(Duration::from_secs(30), |p| p.0);
    let mut ping = interval_at(Instant::now() + ping_every, ping_every);
    ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut delivered = false;
    let mut last_frame = Instant::now();
    loop {
        let next = tokio::select! {
            _ = ping.tick() => {
                let msg = match &session.ping {
                    Some((_, text)) => Message::text(text.as_str()),
                    None => Message::Ping(Vec::new().into()),
                };
                if let Err(e) = ws.send(msg).await {
                    return failed(delivered, format!("sending ping: {e}"));
                }
                continue;
            }
            () = tokio::time::sleep_until(last_frame + settings.idle_timeout) => {
                return failed(delivered, format!("no frame for {:?}", settings.idle_timeout));
            }
            next = ws.next() => next,
        };
        // Any frame, a pong included, proves the connection is alive.
        last_frame = Instant::now();
        let text = match next {
            None => return failed(delivered, "connection closed".into()),
            Some(Err(e)) => return failed(delivered, format!("reading: {e}")),
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Binary(bytes))) => match String::from_utf8(bytes.to_vec()) {
                Ok(text) => text.into(),
                Err(_) => {
                    stats.malformed.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
            },
            Some(Ok(Message::Close(frame))) => {
                return failed(delivered, format!("closed by peer: {frame:?}"));
            }
            Some(Ok(_)) => continue, // pings are answered by tungstenite; pongs just prove liveness
        };
        stats.frames.fetch_add(1, Ordering::Relaxed);
        delivered = true;
        match (session.parser)(text.as_str()) {
            Ok(parsed) => {
                stats
                    .rejected
                    .fetch_add(parsed.rejected as u64, Ordering::Relaxed);
                if parsed.events.is_empty() {
                    continue;
                }
                stats
                    .events
                    .fetch_add(parsed.events.len() as u64, Ordering::Relaxed);
                stats
                    .last_event_ms
                    .store(chrono::Utc::now().timestamp_millis(), Ordering::Relaxed);
                // Waiting here is the backpressure: a slow store slows reading, nothing is dropped.
                tokio::select! {
                    () = shutdown.cancelled() => return Ended::Shutdown,
                    sent = events.send(parsed.events) => if sent.is_err() {
                        return Ended::Shutdown;
                    }
                }
            }
            Err(FrameError::Venue(msg)) => {
                stats.venue_errors.fetch_add(1, Ordering::Relaxed);
                warn!(source = venue.name(), error = %msg, "Venue reported an error.");
            }
            Err(e) => {
                let n = stats.malformed.fetch_add(1, Ordering::Relaxed) + 1;
                // Log the first few and then every thousandth, so garbage cannot flood the log.
                if n <= 5 || n.is_multiple_of(1000) {
                    let head: String = text.chars().take(200).collect();
                    warn!(source = venue.name(), malformed = n, error = %e, frame = %head, "Skipped a frame that does not parse.");
                } else {
                    debug!(source = venue.name(), error = %e, "Skipped a frame that does not parse.");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_the_cap_with_jitter_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(1000));
        let caps = [100, 200, 400, 800, 1000, 1000];
        for cap in caps {
            let d = b.next_delay().as_millis();
            assert!(d >= cap / 2 && d <= cap, "{d} not in [{}, {cap}]", cap / 2);
        }
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(100));
    }
}
