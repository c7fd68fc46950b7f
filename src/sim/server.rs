//! The simulator's server: each venue's websocket stream and REST endpoints on 127.0.0.1,
//! in the venues' real wire formats, fed by one shared [`Market`].
//!
//! A new connection first replays the feed's past events (history) from where the previous
//! connection of that feed stopped, less `replay_overlap` frames, then streams live events.
//! With `drop_every_frames` set, the server cuts every connection after that many frames, so
//! tests can watch the sources reconnect, resubscribe and store nothing twice.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::response::{IntoResponse as _, Response};
use axum::routing::get;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::market::{Market, SimFeed, bybit_instruments, okx_instrument_map, okx_instruments};
use crate::config::Config;
use crate::model::Liquidation;
use crate::sources::bybit::{self, BybitContract};
use crate::sources::{binance, okx};

/// Frames sent per connection per tick at most, so a replay of history is fast but bounded.
const MAX_FRAMES_PER_TICK: usize = 5_000;

/// How the simulator behaves.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// The market's seed.
    pub seed: u64,
    /// How much history the market holds before now; replayed to each feed's first connection.
    pub history: Duration,
    /// Whether the market keeps moving in real time after the history.
    pub live: bool,
    /// Cut each connection after this many frames.
    pub drop_every_frames: Option<u64>,
    /// Frames a reconnecting client receives again (as real venues may resend recent events).
    pub replay_overlap: usize,
    /// Send a malformed frame (alternately not JSON and truncated JSON) after every this
    /// many good frames.
    pub garbage_every_frames: Option<u64>,
    /// How often each connection sends what is new.
    pub tick: Duration,
    /// The first connection of each feed goes silent after this many frames: it sends
    /// nothing more and reads nothing (so pings go unanswered), holding the socket open.
    pub stall_once_after_frames: Option<u64>,
    /// Multiplies the market's liquidation rate ([`Market::with_rate_scale`]); 1 is the
    /// calibrated market, event for event.
    pub rate_scale: f64,
}

impl Default for SimOptions {
    fn default() -> Self {
        Self {
            seed: 2024,
            history: Duration::from_secs(48 * 3600),
            live: true,
            drop_every_frames: None,
            replay_overlap: 0,
            garbage_every_frames: None,
            tick: Duration::from_millis(50),
            stall_once_after_frames: None,
            rate_scale: 1.0,
        }
    }
}

#[derive(Debug, Default)]
struct FeedState {
    events: Vec<Liquidation>,
    /// How far the last connection of this feed got, in events.
    resume: usize,
    frames_sent: u64,
    connections: u64,
}

pub(super) struct SimState {
    pub(super) market: Market,
    feeds: HashMap<SimFeed, FeedState>,
    /// Set by [`SimServer::freeze`]: the market no longer moves.
    frozen: bool,
}

impl SimState {
    pub(super) fn advance_to(&mut self, now_ms: i64) {
        if self.frozen {
            return;
        }
        for (feed, event) in self.market.advance_to(now_ms) {
            self.feeds.entry(feed).or_default().events.push(event);
        }
    }
}

pub(super) struct Shared {
    state: Mutex<SimState>,
    pub(super) options: SimOptions,
    /// A [`super::rest::RestFault`] for the market-context endpoints.
    pub(super) rest_fault: AtomicU8,
    /// While set, websocket upgrades are answered 503 (the venue refuses connections).
    refusing: AtomicBool,
}

impl Shared {
    pub(super) fn lock(&self) -> MutexGuard<'_, SimState> {
        // A panic in one connection must not take the whole simulator down.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A running simulator.
pub struct SimServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
    task: JoinHandle<()>,
}

pub(super) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl SimServer {
    /// Generates the history and starts serving on `127.0.0.1:0`.
    pub async fn start(options: SimOptions) -> std::io::Result<Self> {
        let now = now_ms();
        let history_ms = i64::try_from(options.history.as_millis()).unwrap_or(i64::MAX);
        let mut state = SimState {
            market: Market::new(options.seed, now - history_ms).with_rate_scale(options.rate_scale),
            feeds: SimFeed::ALL
                .iter()
                .map(|f| (*f, FeedState::default()))
                .collect(),
            frozen: false,
        };
        state.advance_to(now);
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            options,
            rest_fault: AtomicU8::new(0),
            refusing: AtomicBool::new(false),
        });
        let app = Router::new()
            .route(binance::STREAM_PATH, get(binance_ws))
            .route("/v5/public/linear", get(bybit_linear_ws))
            .route("/v5/public/inverse", get(bybit_inverse_ws))
            .route("/ws/v5/public", get(okx_ws))
            .route("/v5/market/instruments-info", get(bybit_instruments_rest))
            .route("/api/v5/public/instruments", get(okx_instruments_rest))
            .merge(super::rest::routes(&shared))
            .with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(stop.cancelled_owned());
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "Simulator server failed.");
            }
        });
        Ok(Self {
            addr,
            shared,
            shutdown,
            task,
        })
    }

    /// The address it listens on.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Points every source in `config` at this simulator.
    pub fn configure(&self, config: &mut Config) {
        let http = format!("http://{}", self.addr);
        let ws = format!("ws://{}", self.addr);
        let s = &mut config.sources;
        s.binance.ws_url = format!("{ws}{}", binance::STREAM_PATH);
        s.binance.rest_url.clone_from(&http);
        s.bybit.ws_url = format!("{ws}/v5/public");
        s.bybit.rest_url.clone_from(&http);
        s.okx.ws_url = format!("{ws}/ws/v5/public");
        s.okx.rest_url.clone_from(&http);
        config.market.fear_greed.url = format!("{http}/fng/");
    }

    /// Every event the market has generated on `feed` so far (history and live).
    #[must_use]
    pub fn events(&self, feed: SimFeed) -> Vec<Liquidation> {
        self.shared
            .lock()
            .feeds
            .get(&feed)
            .map(|f| f.events.clone())
            .unwrap_or_default()
    }

    /// Every event on every feed so far.
    #[must_use]
    pub fn all_events(&self) -> Vec<Liquidation> {
        SimFeed::ALL.iter().flat_map(|f| self.events(*f)).collect()
    }

    /// How many events each feed has delivered to its clients, against how many it holds.
    #[must_use]
    pub fn progress(&self) -> Vec<(SimFeed, usize, usize)> {
        let state = self.shared.lock();
        SimFeed::ALL
            .iter()
            .map(|f| {
                let feed = &state.feeds[f];
                (*f, feed.resume, feed.events.len())
            })
            .collect()
    }

    /// True when every feed has sent every event generated up to now at least once.
    #[must_use]
    pub fn caught_up(&self) -> bool {
        self.progress().iter().all(|(_, sent, held)| sent >= held)
    }

    /// Stops the live market where it is: no new events, while the feeds go on sending what
    /// they hold, so a client can catch up with a fixed total.
    pub fn freeze(&self) {
        let mut state = self.shared.lock();
        state.advance_to(now_ms());
        state.frozen = true;
    }

    /// Changes the market's rate scale from now on ([`Market::set_rate_scale`]).
    pub fn set_rate_scale(&self, scale: f64) {
        let mut state = self.shared.lock();
        state.advance_to(now_ms());
        state.market.set_rate_scale(scale);
    }

    /// Connections accepted per feed.
    #[must_use]
    pub fn connections(&self, feed: SimFeed) -> u64 {
        self.shared.lock().feeds[&feed].connections
    }

    /// Makes the market-context endpoints misbehave (or behave again).
    pub fn set_rest_fault(&self, fault: super::rest::RestFault) {
        self.shared
            .rest_fault
            .store(fault as u8, std::sync::atomic::Ordering::Relaxed);
    }

    /// Refuses new websocket connections (503 to the upgrade) while `refuse` is true.
    pub fn refuse_connections(&self, refuse: bool) {
        self.shared.refusing.store(refuse, Ordering::Relaxed);
    }

    /// Stops serving; open connections are dropped.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.task.abort();
        let _ = self.task.await;
    }
}

async fn binance_ws(ws: WebSocketUpgrade, State(shared): State<Arc<Shared>>) -> Response {
    upgrade(ws, shared, SimFeed::Binance)
}

async fn bybit_linear_ws(ws: WebSocketUpgrade, State(shared): State<Arc<Shared>>) -> Response {
    upgrade(ws, shared, SimFeed::BybitLinear)
}

async fn bybit_inverse_ws(ws: WebSocketUpgrade, State(shared): State<Arc<Shared>>) -> Response {
    upgrade(ws, shared, SimFeed::BybitInverse)
}

async fn okx_ws(ws: WebSocketUpgrade, State(shared): State<Arc<Shared>>) -> Response {
    upgrade(ws, shared, SimFeed::Okx)
}

fn upgrade(ws: WebSocketUpgrade, shared: Arc<Shared>, feed: SimFeed) -> Response {
    if shared.refusing.load(Ordering::Relaxed) {
        return axum::http::StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    ws.on_upgrade(move |socket| serve_feed(socket, shared, feed))
}

async fn bybit_instruments_rest(Query(q): Query<HashMap<String, String>>) -> String {
    let contract = match q.get("category").map(String::as_str) {
        Some("inverse") => BybitContract::Inverse,
        _ => BybitContract::Linear,
    };
    bybit::encode_instruments(&bybit_instruments(contract), contract, None)
}

async fn okx_instruments_rest() -> String {
    okx::encode_instruments(&okx_instruments())
}

/// What a client has asked this connection for.
enum Subscription {
    /// Everything (Binance's all-market stream, OKX's channel once subscribed).
    All,
    /// These symbols (Bybit topics), streaming from `ready_at` so batched subscribe messages
    /// can all arrive first.
    Symbols {
        symbols: HashSet<String>,
        ready_at: Instant,
    },
    /// Nothing yet.
    Nothing,
}

impl Subscription {
    fn ready(&self) -> bool {
        match self {
            Self::All => true,
            Self::Symbols { ready_at, .. } => Instant::now() >= *ready_at,
            Self::Nothing => false,
        }
    }

    fn wants(&self, symbol: &str) -> bool {
        match self {
            Self::All => true,
            Self::Symbols { symbols, .. } => symbols.contains(symbol),
            Self::Nothing => false,
        }
    }
}

/// Answers a control message from the client; returns the reply to send, if any.
fn control(feed: SimFeed, text: &str, sub: &mut Subscription) -> Option<String> {
    match feed {
        SimFeed::Binance => None,
        SimFeed::Okx => {
            if text == "ping" {
                return Some("pong".into());
            }
            let v: serde_json::Value = serde_json::from_str(text).ok()?;
            (v["op"] == "subscribe").then(|| {
                *sub = Subscription::All;
                serde_json::json!({"event": "subscribe", "arg": v["args"][0], "connId": "sim"})
                    .to_string()
            })
        }
        SimFeed::BybitLinear | SimFeed::BybitInverse => {
            let v: serde_json::Value = serde_json::from_str(text).ok()?;
            match v["op"].as_str()? {
                "ping" => {
                    Some(r#"{"success":true,"ret_msg":"pong","conn_id":"sim","op":"ping"}"#.into())
                }
                "subscribe" => {
                    let topics = v["args"].as_array()?.iter().filter_map(|t| t.as_str());
                    let new: Vec<String> = topics
                        .filter_map(|t| t.strip_prefix(bybit::TOPIC_PREFIX).map(str::to_owned))
                        .collect();
                    let ready_at = Instant::now() + Duration::from_millis(150);
                    match sub {
                        Subscription::Symbols {
                            symbols,
                            ready_at: at,
                        } => {
                            symbols.extend(new);
                            *at = ready_at;
                        }
                        _ => {
                            *sub = Subscription::Symbols {
                                symbols: new.into_iter().collect(),
                                ready_at,
                            };
                        }
                    }
                    Some(r#"{"success":true,"ret_msg":"","conn_id":"sim","req_id":"","op":"subscribe"}"#.into())
                }
                _ => None,
            }
        }
    }
}

fn encode(
    feed: SimFeed,
    event: &Liquidation,
    okx_map: &HashMap<String, okx::OkxInstrument>,
) -> String {
    match feed {
        SimFeed::Binance => binance::encode(event),
        SimFeed::BybitLinear => bybit::encode(
            BybitContract::Linear,
            &event.symbol,
            std::slice::from_ref(event),
        ),
        SimFeed::BybitInverse => bybit::encode(
            BybitContract::Inverse,
            &event.symbol,
            std::slice::from_ref(event),
        ),
        SimFeed::Okx => okx::encode(std::slice::from_ref(event), okx_map),
    }
}

async fn serve_feed(mut socket: WebSocket, shared: Arc<Shared>, feed: SimFeed) {
    let options = shared.options.clone();
    let okx_map = okx_instrument_map();
    let mut sub = if feed == SimFeed::Binance {
        Subscription::All
    } else {
        Subscription::Nothing
    };
    let (mut pos, first) = {
        let mut state = shared.lock();
        let f = state.feeds.entry(feed).or_default();
        f.connections += 1;
        (
            f.resume.saturating_sub(options.replay_overlap),
            f.connections == 1,
        )
    };
    let stall_after = options.stall_once_after_frames.filter(|_| first);
    let mut sent: u64 = 0;
    let mut tick = tokio::time::interval(options.tick);
    loop {
        tokio::select! {
            msg = socket.recv() => match msg {
                Some(Ok(Message::Text(text))) => {
                    if let Some(reply) = control(feed, text.as_str(), &mut sub)
                        && socket.send(Message::Text(reply.into())).await.is_err()
                    {
                        return;
                    }
                }
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
            _ = tick.tick() => {
                if !sub.ready() {
                    continue;
                }
                let batch: Vec<Liquidation> = {
                    let mut state = shared.lock();
                    if options.live {
                        state.advance_to(now_ms());
                    }
                    let events = &state.feeds[&feed].events;
                    let end = events.len().min(pos + MAX_FRAMES_PER_TICK);
                    events.get(pos..end).map(<[Liquidation]>::to_vec).unwrap_or_default()
                };
                let mut cut = false;
                let mut frames = 0;
                for event in &batch {
                    if sub.wants(&event.symbol) {
                        if socket.send(Message::Text(encode(feed, event, &okx_map).into())).await.is_err() {
                            return;
                        }
                        frames += 1;
                        sent += 1;
                        if options.garbage_every_frames.is_some_and(|n| sent.is_multiple_of(n)) {
                            let garbage = if sent.is_multiple_of(2) { "{not json".to_owned() } else {
                                let good = encode(feed, event, &okx_map);
                                good[..good.len() / 2].to_owned()
                            };
                            if socket.send(Message::Text(garbage.into())).await.is_err() {
                                return;
                            }
                        }
                    }
                    pos += 1;
                    if options.drop_every_frames.is_some_and(|n| sent >= n) {
                        cut = true;
                        break;
                    }
                    if stall_after.is_some_and(|n| sent >= n) {
                        break;
                    }
                }
                {
                    let mut state = shared.lock();
                    let f = state.feeds.entry(feed).or_default();
                    f.resume = f.resume.max(pos);
                    f.frames_sent += frames;
                }
                if cut {
                    // Drop the socket without a close frame, as a failing venue would.
                    return;
                }
                if stall_after.is_some_and(|n| sent >= n) {
                    // Hang: no frames, no reads, no pongs, until the client gives up.
                    tokio::time::sleep(Duration::from_secs(120)).await;
                    return;
                }
            }
        }
    }
}
