//! A fake Telegram Bot API on 127.0.0.1: enough of `getMe`, `getUpdates`, `sendMessage`,
//! `sendPhoto`, `setMyCommands`, `getChatMember` and `getChatAdministrators` for the real
//! teloxide client and dispatcher to run against it. Tests and `liqbot bench telegram` push
//! updates in, read every call back, and script failures (429 with `retry_after`, 403 "bot was
//! kicked").
//!
//! Telegram's wire format, as the fake serves it: `POST /bot{token}/{method}` with a JSON body
//! or, for files, `multipart/form-data` where the file field holds `attach://{part}`; answers
//! are `{"ok":true,"result":...}` or `{"ok":false,"error_code":N,"description":"...",
//! "parameters":{"retry_after":N}}`. teloxide sends method names PascalCase (`SendPhoto`), so
//! they are matched case-insensitively.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The longest a `getUpdates` long poll is held, whatever the client asks.
const MAX_LONG_POLL: Duration = Duration::from_secs(10);
/// The `date` of every message the fake makes up (2024-11-21 00:00 UTC).
const DATE: i64 = 1_732_147_200;

/// A chat as the fake knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatKind {
    /// A one-to-one chat with a user; its id is the user's id (positive).
    Private,
    /// A group (supergroup); ids are negative.
    Group,
    /// A channel; ids are negative. Posts come as `channel_post` without a sender user.
    Channel,
}

/// A failure the fake answers a call with, instead of succeeding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// 429 `Too Many Requests: retry after N` with `parameters.retry_after`.
    RetryAfter(u32),
    /// 403 `Forbidden: bot was kicked from the group chat`.
    Kicked,
    /// 400 `Bad Request: chat not found`.
    ChatNotFound,
    /// 500 `Internal Server Error`; nothing is sent.
    ServerError,
    /// No answer for this many seconds (then a 504); nothing is sent. A client with a
    /// shorter timeout gives up first.
    Hang(u64),
}

impl Failure {
    fn response(&self) -> (StatusCode, Value) {
        match self {
            Self::RetryAfter(secs) => (
                StatusCode::TOO_MANY_REQUESTS,
                json!({
                    "ok": false,
                    "error_code": 429,
                    "description": format!("Too Many Requests: retry after {secs}"),
                    "parameters": {"retry_after": secs},
                }),
            ),
            Self::Kicked => (
                StatusCode::FORBIDDEN,
                json!({
                    "ok": false,
                    "error_code": 403,
                    "description": "Forbidden: bot was kicked from the group chat",
                }),
            ),
            Self::ChatNotFound => (
                StatusCode::BAD_REQUEST,
                json!({
                    "ok": false,
                    "error_code": 400,
                    "description": "Bad Request: chat not found",
                }),
            ),
            Self::ServerError => (
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({
                    "ok": false,
                    "error_code": 500,
                    "description": "Internal Server Error",
                }),
            ),
            Self::Hang(_) => (
                StatusCode::GATEWAY_TIMEOUT,
                json!({
                    "ok": false,
                    "error_code": 504,
                    "description": "Gateway Timeout",
                }),
            ),
        }
    }
}

/// One API call the fake received.
#[derive(Debug, Clone)]
pub struct Call {
    /// The method, lowercase (`sendphoto`).
    pub method: String,
    /// When it arrived.
    pub at: Instant,
    /// Its parameters (multipart text fields parsed as JSON where they are JSON).
    pub params: Value,
    /// The uploaded photo, for `sendPhoto`.
    pub photo: Option<Vec<u8>>,
    /// The HTTP status the fake answered with.
    pub status: u16,
}

impl Call {
    /// The `chat_id` parameter, as a number.
    #[must_use]
    pub fn chat_id(&self) -> Option<i64> {
        match self.params.get("chat_id")? {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.parse().ok(),
            _ => None,
        }
    }

    /// The `text` (sendMessage) or `caption` (sendPhoto) parameter.
    #[must_use]
    pub fn text(&self) -> Option<&str> {
        self.params
            .get("text")
            .or_else(|| self.params.get("caption"))?
            .as_str()
    }

    /// The `parse_mode` parameter.
    #[must_use]
    pub fn parse_mode(&self) -> Option<&str> {
        self.params.get("parse_mode")?.as_str()
    }

    /// True for a `sendMessage` or `sendPhoto` the fake accepted.
    #[must_use]
    pub fn is_delivered_send(&self) -> bool {
        self.status == 200 && matches!(self.method.as_str(), "sendmessage" | "sendphoto")
    }
}

#[derive(Debug)]
struct QueuedUpdate {
    id: i64,
    body: Value,
    served_at: Option<Instant>,
}

#[derive(Debug, Default)]
struct FakeState {
    updates: VecDeque<QueuedUpdate>,
    served: HashMap<i64, Instant>,
    next_update_id: i64,
    next_message_id: i64,
    calls: Vec<Call>,
    chats: HashMap<i64, ChatKind>,
    /// chat id -> user ids that are administrators there.
    admins: HashMap<i64, HashSet<i64>>,
    /// Failures for the next calls of a method (lowercase), in order.
    scripted: HashMap<String, VecDeque<Failure>>,
    /// Chats every send to which fails like this.
    broken_chats: HashMap<i64, Failure>,
    commands: Option<Value>,
}

struct Shared {
    token: String,
    username: String,
    state: Mutex<FakeState>,
    new_update: Notify,
    /// Whether sends over Telegram's limits are answered 429 ([`FakeTelegram::enforce_limits`]).
    limits: AtomicBool,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, FakeState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A running fake Bot API.
pub struct FakeTelegram {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl FakeTelegram {
    /// Serves a bot called `username` whose token is `token` on 127.0.0.1 at a free port.
    pub async fn start(token: &str, username: &str) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            token: token.to_owned(),
            username: username.to_owned(),
            state: Mutex::new(FakeState {
                next_update_id: 1,
                next_message_id: 1,
                ..FakeState::default()
            }),
            new_update: Notify::new(),
            limits: AtomicBool::new(false),
        });
        let app = Router::new()
            .route("/{bot}/{method}", any(handle))
            .with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let stop = CancellationToken::new();
        let serve =
            axum::serve(listener, app).with_graceful_shutdown(stop.clone().cancelled_owned());
        let task = tokio::spawn(async move {
            if let Err(e) = serve.await {
                tracing::warn!(error = %e, "Fake Telegram server failed.");
            }
        });
        Ok(Self {
            addr,
            shared,
            stop,
            task,
        })
    }

    /// The base URL to give the bot (`telegram.api_url`), without a trailing slash.
    #[must_use]
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Queues a text message from user `from` in chat `chat`; returns its update id. For a
    /// private chat `chat` is the user's id. `from` of `None` in a group is an anonymous
    /// admin (the message's `sender_chat` is the group itself).
    pub fn push_message(&self, chat: i64, kind: ChatKind, from: Option<i64>, text: &str) -> i64 {
        let mut state = self.shared.state();
        state.chats.insert(chat, kind);
        let message_id = state.next_message_id;
        state.next_message_id += 1;
        let mut message = json!({
            "message_id": message_id,
            "date": DATE,
            "chat": chat_json(chat, kind),
            "text": text,
        });
        if let Some(len) = command_len(text) {
            message["entities"] = json!([{"type": "bot_command", "offset": 0, "length": len}]);
        }
        match from {
            Some(user) => message["from"] = user_json(user, false, "Member"),
            None => message["sender_chat"] = chat_json(chat, kind),
        }
        let field = if kind == ChatKind::Channel {
            "channel_post"
        } else {
            "message"
        };
        let id = state.next_update_id;
        state.next_update_id += 1;
        state.updates.push_back(QueuedUpdate {
            id,
            body: json!({"update_id": id, field: message}),
            served_at: None,
        });
        drop(state);
        self.shared.new_update.notify_waiters();
        id
    }

    /// Queues a post in channel `chat`; returns its update id.
    pub fn push_channel_post(&self, chat: i64, text: &str) -> i64 {
        self.push_message(chat, ChatKind::Channel, None, text)
    }

    /// Makes `user` an administrator of `chat`.
    pub fn set_admin(&self, chat: i64, user: i64) {
        self.shared
            .state()
            .admins
            .entry(chat)
            .or_default()
            .insert(user);
    }

    /// The next calls of `method` (any case) fail like `failures`, in order.
    pub fn fail_next(&self, method: &str, failures: impl IntoIterator<Item = Failure>) {
        self.shared
            .state()
            .scripted
            .entry(method.to_ascii_lowercase())
            .or_default()
            .extend(failures);
    }

    /// From now on, answers a send (`sendMessage`, `sendPhoto`, `editMessageText`) that breaks
    /// one of Telegram's limits with 429 and a `retry_after`, as Telegram does. The limits, from
    /// Telegram's Bot FAQ: about one message a second to one chat, 20 a minute to one group
    /// (negative ids), 30 a second in all; each window is shortened by a tenth, so a send
    /// arriving a little early after a correctly paced one is still accepted.
    pub fn enforce_limits(&self) {
        self.shared.limits.store(true, Ordering::Relaxed);
    }

    /// Every send to `chat` fails with `failure` from now on.
    pub fn break_chat(&self, chat: i64, failure: Failure) {
        self.shared.state().broken_chats.insert(chat, failure);
    }

    /// Every call so far, in arrival order.
    #[must_use]
    pub fn calls(&self) -> Vec<Call> {
        self.shared.state().calls.clone()
    }

    /// The calls of `method` (any case) so far.
    #[must_use]
    pub fn calls_of(&self, method: &str) -> Vec<Call> {
        let method = method.to_ascii_lowercase();
        self.shared
            .state()
            .calls
            .iter()
            .filter(|c| c.method == method)
            .cloned()
            .collect()
    }

    /// The accepted sends (`sendMessage`, `sendPhoto`) to `chat` so far.
    #[must_use]
    pub fn delivered_to(&self, chat: i64) -> Vec<Call> {
        self.shared
            .state()
            .calls
            .iter()
            .filter(|c| c.is_delivered_send() && c.chat_id() == Some(chat))
            .cloned()
            .collect()
    }

    /// The commands the bot registered with `setMyCommands`, as sent.
    #[must_use]
    pub fn registered_commands(&self) -> Option<Value> {
        self.shared.state().commands.clone()
    }

    /// When update `id` was first handed out by `getUpdates`.
    #[must_use]
    pub fn served_at(&self, id: i64) -> Option<Instant> {
        self.shared.state().served.get(&id).copied()
    }

    /// Waits until `done` holds for the calls received, polling every 5 ms, for at most
    /// `timeout`; returns the calls either way.
    pub async fn wait_for(&self, timeout: Duration, done: impl Fn(&[Call]) -> bool) -> Vec<Call> {
        super::wait_for_calls(timeout, || self.calls(), done).await
    }

    /// Stops serving.
    pub async fn stop(self) {
        self.stop.cancel();
        self.shared.new_update.notify_waiters();
        let _ = self.task.await;
    }
}

/// The length of the leading `/command@bot` of `text`, in UTF-16 units.
fn command_len(text: &str) -> Option<usize> {
    text.starts_with('/').then(|| {
        text.split_whitespace()
            .next()
            .map_or(0, |w| w.encode_utf16().count())
    })
}

fn chat_json(id: i64, kind: ChatKind) -> Value {
    match kind {
        ChatKind::Private => json!({"id": id, "type": "private", "first_name": "User"}),
        ChatKind::Group => json!({"id": id, "type": "supergroup", "title": "Group"}),
        ChatKind::Channel => json!({"id": id, "type": "channel", "title": "Channel"}),
    }
}

fn user_json(id: i64, is_bot: bool, name: &str) -> Value {
    json!({"id": id, "is_bot": is_bot, "first_name": name})
}

fn member_json(user: i64, admin: bool) -> Value {
    if admin {
        json!({
            "status": "administrator",
            "user": user_json(user, false, "Admin"),
            "is_anonymous": false,
            "can_be_edited": false,
            "can_manage_chat": true,
            "can_change_info": true,
            "can_delete_messages": true,
            "can_manage_video_chats": true,
            "can_invite_users": true,
            "can_restrict_members": true,
            "can_promote_members": false,
            "can_pin_messages": true,
            "can_post_messages": true,
        })
    } else {
        json!({"status": "member", "user": user_json(user, false, "Member")})
    }
}

fn ok(result: Value) -> (StatusCode, Value) {
    (StatusCode::OK, json!({"ok": true, "result": result}))
}

/// The parameters and uploaded files of a request, JSON or multipart.
async fn read_params(request: Request) -> (Value, HashMap<String, Vec<u8>>) {
    let is_multipart = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let mut files = HashMap::new();
    if !is_multipart {
        let body = Bytes::from_request(request, &()).await.unwrap_or_default();
        let params = serde_json::from_slice(&body).unwrap_or_else(|_| json!({}));
        return (params, files);
    }
    let mut params = serde_json::Map::new();
    if let Ok(mut form) = Multipart::from_request(request, &()).await {
        while let Ok(Some(field)) = form.next_field().await {
            let name = field.name().unwrap_or_default().to_owned();
            let is_file = field.file_name().is_some();
            let Ok(bytes) = field.bytes().await else {
                break;
            };
            if is_file {
                files.insert(name, bytes.to_vec());
            } else {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
                params.insert(name, value);
            }
        }
    }
    (Value::Object(params), files)
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    Path((bot, method)): Path<(String, String)>,
    request: Request,
) -> Response {
    if bot.strip_prefix("bot") != Some(shared.token.as_str()) {
        let body = json!({"ok": false, "error_code": 401, "description": "Unauthorized"});
        return (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response();
    }
    let method = method.to_ascii_lowercase();
    let (params, mut files) = read_params(request).await;
    let (status, body) = if method == "getupdates" {
        get_updates(&shared, &params).await
    } else {
        let photo = params
            .get("photo")
            .and_then(Value::as_str)
            .and_then(|p| p.strip_prefix("attach://"))
            .and_then(|part| files.remove(part))
            .or_else(|| files.remove("photo"));
        let hang = {
            let mut state = shared.state();
            let scripted = state.scripted.get_mut(&method);
            match scripted.as_ref().and_then(|q| q.front()) {
                Some(Failure::Hang(secs)) => {
                    let secs = *secs;
                    scripted.and_then(VecDeque::pop_front);
                    Some(secs)
                }
                _ => None,
            }
        };
        if let Some(secs) = hang {
            // Recorded on arrival: a client that gives up drops this handler mid-sleep.
            shared.state().calls.push(Call {
                method: method.clone(),
                at: Instant::now(),
                params: params.clone(),
                photo: None,
                status: StatusCode::GATEWAY_TIMEOUT.as_u16(),
            });
            tokio::time::sleep(Duration::from_secs(secs)).await;
            let (status, body) = Failure::Hang(secs).response();
            return (status, axum::Json(body)).into_response();
        }
        let mut state = shared.state();
        let (status, body) = answer(&shared, &mut state, &method, &params, photo.as_deref());
        state.calls.push(Call {
            method,
            at: Instant::now(),
            params,
            photo,
            status: status.as_u16(),
        });
        (status, body)
    };
    (status, axum::Json(body)).into_response()
}

async fn get_updates(shared: &Shared, params: &Value) -> (StatusCode, Value) {
    let offset = params.get("offset").and_then(Value::as_i64).unwrap_or(0);
    let timeout = params
        .get("timeout")
        .and_then(Value::as_u64)
        .map_or(Duration::ZERO, Duration::from_secs)
        .min(MAX_LONG_POLL);
    let limit = params
        .get("limit")
        .and_then(Value::as_u64)
        .map_or(100, |l| l.clamp(1, 100)) as usize;
    let deadline = Instant::now() + timeout;
    loop {
        let notified = shared.new_update.notified();
        {
            let mut state = shared.state();
            // Updates below the offset are confirmed: forget them, as Telegram does.
            while state.updates.front().is_some_and(|u| u.id < offset) {
                state.updates.pop_front();
            }
            if !state.updates.is_empty() {
                let now = Instant::now();
                let mut out = Vec::new();
                let mut first_served = Vec::new();
                for update in state.updates.iter_mut().take(limit) {
                    if update.served_at.is_none() {
                        update.served_at = Some(now);
                        first_served.push(update.id);
                    }
                    out.push(update.body.clone());
                }
                for id in first_served {
                    state.served.insert(id, now);
                }
                return ok(Value::Array(out));
            }
        }
        if Instant::now() >= deadline {
            return ok(json!([]));
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return ok(json!([]));
        }
    }
}

/// How long a send to `chat` now must wait under Telegram's limits, if it must.
fn over_limits(state: &FakeState, chat: Option<i64>) -> Option<Duration> {
    const SECOND: Duration = Duration::from_secs(1);
    let now = Instant::now();
    let sends = || {
        state.calls.iter().filter(|c| {
            c.status == 200
                && matches!(
                    c.method.as_str(),
                    "sendmessage" | "sendphoto" | "editmessagetext"
                )
        })
    };
    let to_chat = || sends().filter(|c| c.chat_id() == chat).map(|c| c.at);
    let group = chat.is_some_and(|c| c < 0);
    [
        super::limit_wait(sends().map(|c| c.at), now, 30, SECOND),
        super::limit_wait(to_chat(), now, 1, SECOND),
        group
            .then(|| super::limit_wait(to_chat(), now, 20, Duration::from_secs(60)))
            .flatten(),
    ]
    .into_iter()
    .flatten()
    .max()
}

fn answer(
    shared: &Shared,
    state: &mut FakeState,
    method: &str,
    params: &Value,
    photo: Option<&[u8]>,
) -> (StatusCode, Value) {
    if let Some(failure) = state.scripted.get_mut(method).and_then(VecDeque::pop_front) {
        return failure.response();
    }
    let chat_id = params.get("chat_id").and_then(|v| match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    });
    let is_send = matches!(method, "sendmessage" | "sendphoto" | "editmessagetext");
    if is_send && let Some(failure) = chat_id.and_then(|c| state.broken_chats.get(&c)) {
        return failure.response();
    }
    if is_send
        && shared.limits.load(Ordering::Relaxed)
        && let Some(wait) = over_limits(state, chat_id)
    {
        let secs = u32::try_from(wait.as_secs() + 1).unwrap_or(u32::MAX);
        return Failure::RetryAfter(secs).response();
    }
    match method {
        "getme" => ok(json!({
            "id": 777_000,
            "is_bot": true,
            "first_name": "liqbot",
            "username": shared.username,
            "can_join_groups": true,
            "can_read_all_group_messages": false,
            "supports_inline_queries": false,
            "has_main_web_app": false,
        })),
        "getwebhookinfo" => ok(json!({
            "url": "",
            "has_custom_certificate": false,
            "pending_update_count": 0,
        })),
        "deletewebhook" | "setmycommands" | "deletemycommands" => {
            if method == "setmycommands" {
                state.commands = params.get("commands").cloned();
            }
            ok(json!(true))
        }
        "sendmessage" | "sendphoto" => {
            let Some(chat) = chat_id else {
                return Failure::ChatNotFound.response();
            };
            let kind = state.chats.get(&chat).copied().unwrap_or(if chat > 0 {
                ChatKind::Private
            } else {
                ChatKind::Group
            });
            let message_id = state.next_message_id;
            state.next_message_id += 1;
            let mut message = json!({
                "message_id": message_id,
                "date": DATE,
                "chat": chat_json(chat, kind),
                "from": user_json(777_000, true, "liqbot"),
            });
            if method == "sendphoto" {
                message["photo"] = json!([{
                    "file_id": format!("photo-{message_id}"),
                    "file_unique_id": format!("u{message_id}"),
                    "width": 1200,
                    "height": 700,
                    "file_size": photo.map_or(0, <[u8]>::len),
                }]);
                if let Some(caption) = params.get("caption") {
                    message["caption"] = caption.clone();
                }
            } else {
                message["text"] = params.get("text").cloned().unwrap_or(json!(""));
            }
            ok(message)
        }
        "editmessagetext" => {
            let (Some(chat), Some(id)) =
                (chat_id, params.get("message_id").and_then(Value::as_i64))
            else {
                return Failure::ChatNotFound.response();
            };
            let kind = state.chats.get(&chat).copied().unwrap_or(ChatKind::Group);
            ok(json!({
                "message_id": id,
                "date": DATE,
                "edit_date": DATE,
                "chat": chat_json(chat, kind),
                "from": user_json(777_000, true, "liqbot"),
                "text": params.get("text").cloned().unwrap_or(json!("")),
            }))
        }
        "getchatmember" => {
            let (Some(chat), Some(user)) = (chat_id, params.get("user_id").and_then(Value::as_i64))
            else {
                return Failure::ChatNotFound.response();
            };
            let admin = state.admins.get(&chat).is_some_and(|a| a.contains(&user));
            ok(member_json(user, admin))
        }
        "getchatadministrators" => {
            let chat = chat_id.unwrap_or_default();
            let admins: Vec<Value> = state
                .admins
                .get(&chat)
                .into_iter()
                .flatten()
                .map(|&user| member_json(user, true))
                .collect();
            ok(Value::Array(admins))
        }
        "close" | "logout" => ok(json!(true)),
        _ => (
            StatusCode::NOT_FOUND,
            json!({"ok": false, "error_code": 404, "description": "Not Found: method not found"}),
        ),
    }
}
