//! A fake Discord on 127.0.0.1: the REST routes serenity and poise use under `/api/v10` and a
//! gateway over plain `ws://` (HELLO, IDENTIFY -> READY, heartbeats), so tests and
//! `liqbot bench discord` drive the real serenity client and poise framework. The fake pushes
//! INTERACTION_CREATE events in and records every REST call, JSON or multipart
//! (`payload_json` plus `files[n]`).
//!
//! A gateway payload serenity cannot deserialize is dropped silently (it becomes an unknown
//! event), so the payloads here carry every field serenity 0.12 requires.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The bot's application and user id.
pub const APP_ID: u64 = 1_000_000_000_000_000_001;
/// The one server.
pub const GUILD_ID: u64 = 2_000_000_000_000_000_001;
/// The channel interactions come from.
pub const CHANNEL_ID: u64 = 2_100_000_000_000_000_001;
/// Every permission: what an admin's interactions carry.
pub const ALL_PERMISSIONS: u64 = 2_251_799_813_685_247;
/// Send Messages and Use Application Commands only: an ordinary member.
pub const MEMBER_PERMISSIONS: u64 = (1 << 11) | (1 << 31);
/// Discord's permission bit for Manage Channels.
pub const MANAGE_CHANNELS: u64 = 1 << 4;
const HEARTBEAT_MS: u64 = 41_250;

/// One REST call the fake received.
#[derive(Debug, Clone)]
pub struct RestCall {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path after `/api/v10`, e.g. `/channels/1/messages`.
    pub path: String,
    /// When it arrived.
    pub at: Instant,
    /// The JSON body, or a multipart request's `payload_json`.
    pub json: Option<Value>,
    /// Uploaded files: (part name, file name, bytes).
    pub files: Vec<(String, String, Vec<u8>)>,
    /// The status the fake answered with.
    pub status: u16,
}

impl RestCall {
    /// The interaction callback type (`4` message, `5` deferred, `7` update, `8` autocomplete).
    #[must_use]
    pub fn callback_type(&self) -> Option<u64> {
        self.path
            .ends_with("/callback")
            .then(|| self.json.as_ref()?.get("type")?.as_u64())
            .flatten()
    }

    /// The message data: a callback's `data`, or the whole body of any other message call.
    #[must_use]
    pub fn message(&self) -> Option<&Value> {
        let json = self.json.as_ref()?;
        if self.path.ends_with("/callback") {
            json.get("data")
        } else {
            Some(json)
        }
    }

    /// The first embed of the message.
    #[must_use]
    pub fn embed(&self) -> Option<&Value> {
        self.message()?.get("embeds")?.get(0)
    }
}

/// A failure the fake answers channel posts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelFailure {
    /// 403 `Missing Access` (code 50001): the bot was removed or lost the channel.
    MissingAccess,
    /// 404 `Unknown Channel` (code 10003).
    UnknownChannel,
    /// 500 `Internal Server Error`; nothing is posted.
    ServerError,
    /// 429 with `retry_after` 0.25 s; nothing is posted.
    RateLimited,
}

#[derive(Default)]
struct FakeState {
    calls: Vec<RestCall>,
    broken: HashMap<u64, ChannelFailure>,
    /// Failures for the next posts to a channel, in order.
    scripted: HashMap<u64, VecDeque<ChannelFailure>>,
    sessions: Vec<mpsc::UnboundedSender<(String, Value)>>,
    ready_sent: bool,
    /// Interaction token -> when its INTERACTION_CREATE went out.
    sent: HashMap<String, Instant>,
}

struct Shared {
    token: String,
    addr: SocketAddr,
    state: Mutex<FakeState>,
    next_id: AtomicU64,
    /// Whether requests over Discord's limits are answered 429 ([`FakeDiscord::enforce_limits`]).
    limits: AtomicBool,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, FakeState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }
}

/// A running fake Discord.
pub struct FakeDiscord {
    shared: Arc<Shared>,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl FakeDiscord {
    /// Serves a bot whose token is `token` on 127.0.0.1 at a free port.
    pub async fn start(token: &str) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let shared = Arc::new(Shared {
            token: token.to_owned(),
            addr: listener.local_addr()?,
            state: Mutex::new(FakeState::default()),
            next_id: AtomicU64::new(3_000_000_000_000_000_001),
            limits: AtomicBool::new(false),
        });
        let app = Router::new()
            .route("/gateway", get(gateway))
            .route("/api/v10/{*path}", any(rest))
            .with_state(Arc::clone(&shared));
        let stop = CancellationToken::new();
        let serve =
            axum::serve(listener, app).with_graceful_shutdown(stop.clone().cancelled_owned());
        let task = tokio::spawn(async move {
            if let Err(e) = serve.await {
                tracing::warn!(error = %e, "Fake Discord server failed.");
            }
        });
        Ok(Self { shared, stop, task })
    }

    /// The base URL to give the bot (`discord.api_url`).
    #[must_use]
    pub fn url(&self) -> String {
        format!("http://{}", self.shared.addr)
    }

    /// Waits until a shard has identified and the slash commands are registered.
    pub async fn wait_ready(&self, timeout: Duration) -> bool {
        let calls = self
            .wait_for(timeout, |calls| {
                calls
                    .iter()
                    .any(|c| c.method == "PUT" && c.path.ends_with("/commands"))
            })
            .await;
        self.shared.state().ready_sent && calls.iter().any(|c| c.path.ends_with("/commands"))
    }

    /// The commands the bot registered, as sent.
    #[must_use]
    pub fn registered_commands(&self) -> Option<Value> {
        self.calls()
            .into_iter()
            .rev()
            .find(|c| c.method == "PUT" && c.path.ends_with("/commands"))
            .and_then(|c| c.json)
    }

    /// Sends an INTERACTION_CREATE (from [`Self::slash`], [`Self::autocomplete`] or
    /// [`Self::button`]) to every connected shard; returns its token.
    pub fn send_interaction(&self, interaction: Value) -> String {
        let token = interaction["token"].as_str().unwrap_or_default().to_owned();
        let mut state = self.shared.state();
        state.sent.insert(token.clone(), Instant::now());
        state.sessions.retain(|s| {
            s.send(("INTERACTION_CREATE".to_owned(), interaction.clone()))
                .is_ok()
        });
        token
    }

    /// When the interaction with `token` was sent.
    #[must_use]
    pub fn sent_at(&self, token: &str) -> Option<Instant> {
        self.shared.state().sent.get(token).copied()
    }

    /// A slash command interaction in the fake's channel, from a member with `permissions`.
    /// `options` are (name, Discord option type, value): 3 for strings, 4 for integers (poise
    /// sends a choice as the index of the choice).
    #[must_use]
    pub fn slash(&self, name: &str, options: &[(&str, u8, Value)], permissions: u64) -> Value {
        let options: Vec<Value> = options
            .iter()
            .map(|(n, t, v)| json!({"name": n, "type": t, "value": v}))
            .collect();
        self.interaction(
            2,
            json!({"id": "5000000000000000001", "name": name, "type": 1, "options": options}),
            permissions,
            None,
        )
    }

    /// An autocomplete interaction: `option` of command `name` typed so far as `partial`.
    #[must_use]
    pub fn autocomplete(&self, name: &str, option: &str, partial: &str) -> Value {
        let data = json!({
            "id": "5000000000000000001", "name": name, "type": 1,
            "options": [{"name": option, "type": 3, "value": partial, "focused": true}],
        });
        self.interaction(4, data, ALL_PERMISSIONS, None)
    }

    /// A click on the button `custom_id` under a message of the bot.
    #[must_use]
    pub fn button(&self, custom_id: &str) -> Value {
        let message = message_json(self.shared.id(), CHANNEL_ID, &json!({}));
        self.interaction(
            3,
            json!({"custom_id": custom_id, "component_type": 2}),
            MEMBER_PERMISSIONS,
            Some(message),
        )
    }

    fn interaction(
        &self,
        kind: u8,
        data: Value,
        permissions: u64,
        message: Option<Value>,
    ) -> Value {
        let id = self.shared.id();
        let mut interaction = json!({
            "id": id.to_string(),
            "application_id": APP_ID.to_string(),
            "type": kind,
            "token": format!("tok-{id}"),
            "version": 1,
            "guild_id": GUILD_ID.to_string(),
            "channel_id": CHANNEL_ID.to_string(),
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "app_permissions": ALL_PERMISSIONS.to_string(),
            "authorizing_integration_owners": {"0": GUILD_ID.to_string()},
            "context": 0,
            "attachment_size_limit": 26_214_400,
            "member": {
                "user": {"id": "4000000000000000001", "username": "alice", "discriminator": "0", "global_name": "Alice", "avatar": null},
                "roles": [], "joined_at": "2024-01-01T00:00:00.000000+00:00",
                "deaf": false, "mute": false, "flags": 0,
                "permissions": permissions.to_string(),
            },
            "data": data,
        });
        if let Some(message) = message {
            interaction["message"] = message;
        }
        interaction
    }

    /// From now on, answers a request that breaks one of Discord's limits with 429 and a
    /// `retry_after`, as Discord does: 5 messages per 5 seconds to one channel (the message
    /// route's bucket) and 50 requests a second in all (the global limit), from Discord's "Rate
    /// Limits" documentation; each window is shortened by a tenth, so a request arriving a
    /// little early after a correctly paced one is still accepted.
    pub fn enforce_limits(&self) {
        self.shared.limits.store(true, Ordering::Relaxed);
    }

    /// Every post to `channel` fails like `failure` from now on.
    pub fn break_channel(&self, channel: u64, failure: ChannelFailure) {
        self.shared.state().broken.insert(channel, failure);
    }

    /// The next posts to `channel` fail like `failures`, in order.
    pub fn fail_next_posts(
        &self,
        channel: u64,
        failures: impl IntoIterator<Item = ChannelFailure>,
    ) {
        self.shared
            .state()
            .scripted
            .entry(channel)
            .or_default()
            .extend(failures);
    }

    /// Every REST call so far.
    #[must_use]
    pub fn calls(&self) -> Vec<RestCall> {
        self.shared.state().calls.clone()
    }

    /// The REST calls that answer the interaction with `token` (callback, followups, edits).
    #[must_use]
    pub fn calls_for(&self, token: &str) -> Vec<RestCall> {
        let needle = format!("/{token}");
        self.calls()
            .into_iter()
            .filter(|c| c.path.contains(&needle))
            .collect()
    }

    /// Waits until `done` holds for the calls received, polling every 5 ms, for at most
    /// `timeout`; returns the calls either way.
    pub async fn wait_for(
        &self,
        timeout: Duration,
        done: impl Fn(&[RestCall]) -> bool,
    ) -> Vec<RestCall> {
        super::wait_for_calls(timeout, || self.calls(), done).await
    }

    /// Stops serving and closes the gateway connections.
    pub async fn stop(self) {
        self.shared.state().sessions.clear();
        self.stop.cancel();
        let _ = self.task.await;
    }
}

/// A message object with everything serenity requires, echoing a request's content, embeds,
/// components and attachments.
fn message_json(id: u64, channel: u64, request: &Value) -> Value {
    let attachments: Vec<Value> = request
        .get("attachments")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, a)| {
            let name = a.get("filename").and_then(Value::as_str).unwrap_or("file.png");
            json!({
                "id": (id + 1 + i as u64).to_string(), "filename": name, "size": 1,
                "url": format!("https://cdn.invalid/{name}"), "proxy_url": format!("https://cdn.invalid/{name}"),
            })
        })
        .collect();
    json!({
        "id": id.to_string(),
        "channel_id": channel.to_string(),
        "author": {"id": APP_ID.to_string(), "username": "liqbot", "bot": true},
        "content": request.get("content").cloned().unwrap_or(json!("")),
        "timestamp": "2024-01-01T00:00:00Z",
        "tts": false,
        "mention_everyone": false,
        "mentions": [],
        "mention_roles": [],
        "attachments": attachments,
        "embeds": request.get("embeds").cloned().unwrap_or(json!([])),
        "components": request.get("components").cloned().unwrap_or(json!([])),
        "pinned": false,
        "type": 0,
    })
}

async fn gateway(State(shared): State<Arc<Shared>>, upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(move |socket| session(shared, socket))
}

/// One shard's connection: HELLO, READY after IDENTIFY, heartbeat ACKs, and the events pushed
/// with [`FakeDiscord::send_interaction`].
async fn session(shared: Arc<Shared>, socket: WebSocket) {
    let (mut out, mut inc) = socket.split();
    let hello = json!({"op": 10, "d": {"heartbeat_interval": HEARTBEAT_MS}, "s": null, "t": null});
    if out.send(Message::text(hello.to_string())).await.is_err() {
        return;
    }
    let (tx, mut rx) = mpsc::unbounded_channel::<(String, Value)>();
    let mut seq = 0_u64;
    loop {
        tokio::select! {
            frame = inc.next() => {
                let Some(Ok(frame)) = frame else { return };
                let Message::Text(text) = frame else { continue };
                let Ok(payload) = serde_json::from_str::<Value>(text.as_str()) else { continue };
                let reply = match payload["op"].as_u64() {
                    Some(1) => Some(json!({"op": 11})),
                    Some(2) => {
                        if payload["d"]["token"].as_str() != Some(&format!("Bot {}", shared.token)) {
                            let _ = out.send(Message::Close(None)).await;
                            return;
                        }
                        seq += 1;
                        let ready = json!({"op": 0, "s": seq, "t": "READY", "d": {
                            "v": 10,
                            "user": {"id": APP_ID.to_string(), "username": "liqbot", "bot": true},
                            "guilds": [{"id": GUILD_ID.to_string(), "unavailable": true}],
                            "session_id": "fake-session",
                            "resume_gateway_url": format!("ws://{}/gateway", shared.addr),
                            "application": {"id": APP_ID.to_string(), "flags": 0},
                        }});
                        let mut state = shared.state();
                        state.ready_sent = true;
                        state.sessions.push(tx.clone());
                        Some(ready)
                    }
                    // No resuming here: the shard identifies again.
                    Some(6) => Some(json!({"op": 9, "d": false})),
                    _ => None,
                };
                if let Some(reply) = reply
                    && out.send(Message::text(reply.to_string())).await.is_err()
                {
                    return;
                }
            }
            event = rx.recv() => {
                let Some((name, data)) = event else { return };
                seq += 1;
                let frame = json!({"op": 0, "s": seq, "t": name, "d": data});
                if out.send(Message::text(frame.to_string())).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// The JSON body, or the multipart `payload_json` and files, of a request.
async fn read_body(request: Request) -> (Option<Value>, Vec<(String, String, Vec<u8>)>) {
    let is_multipart = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let mut files = Vec::new();
    if !is_multipart {
        let body = Bytes::from_request(request, &()).await.unwrap_or_default();
        return (serde_json::from_slice(&body).ok(), files);
    }
    let mut json = None;
    if let Ok(mut form) = Multipart::from_request(request, &()).await {
        while let Ok(Some(field)) = form.next_field().await {
            let name = field.name().unwrap_or_default().to_owned();
            let file_name = field.file_name().map(str::to_owned);
            let Ok(bytes) = field.bytes().await else {
                break;
            };
            match file_name {
                Some(file_name) => files.push((name, file_name, bytes.to_vec())),
                None if name == "payload_json" => json = serde_json::from_slice(&bytes).ok(),
                None => {}
            }
        }
    }
    (json, files)
}

async fn rest(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let method = request.method().clone();
    let path = request
        .uri()
        .path()
        .trim_start_matches("/api/v10")
        .to_owned();
    let authorized = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bot {}", shared.token));
    let (json, files) = read_body(request).await;
    let limited = if shared.limits.load(Ordering::Relaxed) {
        over_limits(&shared.state(), &method, &path)
    } else {
        None
    };
    let (status, body) = if let Some((wait, global)) = limited {
        (
            StatusCode::TOO_MANY_REQUESTS,
            Some(json!({
                "message": "You are being rate limited.",
                "retry_after": wait.as_secs_f64(),
                "global": global,
                "code": 0,
            })),
        )
    } else if authorized {
        route(&shared, &method, &path, json.as_ref())
    } else {
        (
            StatusCode::UNAUTHORIZED,
            Some(json!({"message": "401: Unauthorized", "code": 0})),
        )
    };
    shared.state().calls.push(RestCall {
        method: method.to_string(),
        path,
        at: Instant::now(),
        json,
        files,
        status: status.as_u16(),
    });
    match body {
        Some(body) => (status, axum::Json(body)).into_response(),
        None => status.into_response(),
    }
}

/// How long a request must wait under Discord's limits, and whether the global limit is the
/// reason, if it must.
fn over_limits(state: &FakeState, method: &Method, path: &str) -> Option<(Duration, bool)> {
    let now = Instant::now();
    let accepted = || state.calls.iter().filter(|c| c.status != 429);
    let global = super::limit_wait(accepted().map(|c| c.at), now, 50, Duration::from_secs(1));
    let channel = (method == Method::POST)
        .then(|| {
            let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
            let ["channels", id, "messages"] = parts.as_slice() else {
                return None;
            };
            let route = format!("/channels/{id}/messages");
            let posts = accepted()
                .filter(|c| c.method == "POST" && c.path == route)
                .map(|c| c.at);
            super::limit_wait(posts, now, 5, Duration::from_secs(5))
        })
        .flatten();
    match (global, channel) {
        (Some(g), Some(c)) => Some((g.max(c), g >= c)),
        (Some(g), None) => Some((g, true)),
        (None, Some(c)) => Some((c, false)),
        (None, None) => None,
    }
}

fn route(
    shared: &Shared,
    method: &Method,
    path: &str,
    json: Option<&Value>,
) -> (StatusCode, Option<Value>) {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let ok = |v: Value| (StatusCode::OK, Some(v));
    let empty = json!({});
    let request = json.unwrap_or(&empty);
    match (method.as_str(), parts.as_slice()) {
        ("GET", ["gateway"]) => ok(json!({"url": format!("ws://{}/gateway", shared.addr)})),
        ("GET", ["gateway", "bot"]) => ok(json!({
            "url": format!("ws://{}/gateway", shared.addr), "shards": 1,
            "session_start_limit": {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1},
        })),
        ("GET", ["oauth2", "applications", "@me"]) => ok(json!({
            "id": APP_ID.to_string(), "name": "liqbot", "icon": null, "description": "",
            "bot_public": true, "bot_require_code_grant": false, "verify_key": "00", "flags": 0,
        })),
        ("PUT", ["applications", _, "commands"] | ["applications", _, "guilds", _, "commands"]) => {
            ok(json!([]))
        }
        ("POST", ["interactions", _, _, "callback"]) => (StatusCode::NO_CONTENT, None),
        ("POST", ["webhooks", _, _]) | ("PATCH", ["webhooks", _, _, "messages", _]) => {
            ok(message_json(shared.id(), CHANNEL_ID, request))
        }
        ("GET", ["webhooks", _, _, "messages", _]) => {
            ok(message_json(shared.id(), CHANNEL_ID, &empty))
        }
        ("PATCH", ["channels", channel, "messages", _]) => ok(message_json(
            shared.id(),
            channel.parse().unwrap_or_default(),
            request,
        )),
        ("POST", ["channels", channel, "messages"]) => {
            let channel: u64 = channel.parse().unwrap_or_default();
            let failure = {
                let mut state = shared.state();
                let scripted = state
                    .scripted
                    .get_mut(&channel)
                    .and_then(VecDeque::pop_front);
                scripted.or_else(|| state.broken.get(&channel).copied())
            };
            match failure {
                Some(ChannelFailure::MissingAccess) => (
                    StatusCode::FORBIDDEN,
                    Some(json!({"message": "Missing Access", "code": 50001})),
                ),
                Some(ChannelFailure::UnknownChannel) => (
                    StatusCode::NOT_FOUND,
                    Some(json!({"message": "Unknown Channel", "code": 10003})),
                ),
                Some(ChannelFailure::ServerError) => (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Some(json!({"message": "500: Internal Server Error", "code": 0})),
                ),
                Some(ChannelFailure::RateLimited) => (
                    StatusCode::TOO_MANY_REQUESTS,
                    Some(json!({
                        "message": "You are being rate limited.",
                        "retry_after": 0.25,
                        "global": false,
                        "code": 0,
                    })),
                ),
                None => ok(message_json(shared.id(), channel, request)),
            }
        }
        _ => (
            StatusCode::NOT_FOUND,
            Some(json!({"message": "404: Not Found", "code": 0})),
        ),
    }
}
