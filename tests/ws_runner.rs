//! The websocket runner against hand-made local servers: liveness, reconnects, and peers that
//! break the protocol (invalid UTF-8, a 10 MB frame, a port that refuses TCP).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use liqbot::model::{Exchange, Liquidation, Side};
use liqbot::sources::Parsed;
use liqbot::sources::binance::{self, BinanceParser};
use liqbot::sources::ws::{self, RunnerSettings, Session, SourceStats, Venue};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// A venue that pings often and parses nothing.
struct Quiet {
    url: String,
}

impl Venue for Quiet {
    fn name(&self) -> &str {
        "quiet"
    }

    async fn prepare(&self) -> anyhow::Result<Session> {
        Ok(Session {
            url: self.url.clone(),
            subscribe: vec!["subscribe".into()],
            ping: Some((Duration::from_millis(40), "ping".into())),
            parser: Box::new(|_| Ok(Parsed::control())),
        })
    }
}

/// A server that accepts websockets, reads what the client sends, and never answers.
async fn silent_server(accepted: Arc<AtomicU64>, received: Arc<AtomicU64>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            accepted.fetch_add(1, Ordering::Relaxed);
            let received = Arc::clone(&received);
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
                    return;
                };
                while let Some(Ok(_)) = ws.next().await {
                    received.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    format!("ws://{addr}")
}

#[tokio::test]
async fn a_connection_that_only_swallows_pings_is_declared_dead_and_replaced() {
    let accepted = Arc::new(AtomicU64::new(0));
    let received = Arc::new(AtomicU64::new(0));
    let url = silent_server(Arc::clone(&accepted), Arc::clone(&received)).await;
    let settings = RunnerSettings {
        reconnect_initial: Duration::from_millis(10),
        reconnect_max: Duration::from_millis(40),
        // Longer than the ping interval: pings going out must not count as liveness.
        idle_timeout: Duration::from_millis(250),
        connect_timeout: Duration::from_secs(2),
    };
    let (tx, _rx) = tokio::sync::mpsc::channel(8);
    let stats = Arc::new(SourceStats::default());
    let stop = CancellationToken::new();
    let task = tokio::spawn(ws::run(
        Quiet { url },
        settings,
        tx,
        Arc::clone(&stats),
        stop.clone(),
    ));
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    stop.cancel();
    task.await.unwrap();
    let connects = stats.connects.load(Ordering::Relaxed);
    assert!(
        connects >= 3,
        "expected reconnects after idle timeouts, got {connects} connections"
    );
    assert_eq!(accepted.load(Ordering::Relaxed), connects);
    // Each connection sent its subscription and some pings before it was given up.
    assert!(
        received.load(Ordering::Relaxed) >= connects * 3,
        "{}",
        received.load(Ordering::Relaxed)
    );
}

/// A Binance stream at `url`, parsed by the real parser.
struct RawBinance {
    url: String,
}

impl Venue for RawBinance {
    fn name(&self) -> &str {
        "raw-binance"
    }

    async fn prepare(&self) -> anyhow::Result<Session> {
        Ok(Session {
            url: self.url.clone(),
            subscribe: Vec::new(),
            ping: None,
            parser: Box::new(|text| BinanceParser.parse(text)),
        })
    }
}

fn fast() -> RunnerSettings {
    RunnerSettings {
        reconnect_initial: Duration::from_millis(20),
        reconnect_max: Duration::from_millis(200),
        idle_timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(2),
    }
}

fn event(i: u64) -> Liquidation {
    Liquidation {
        exchange: Exchange::Binance,
        symbol: "BTCUSDT".into(),
        base: "BTC".into(),
        quote: "USDT".into(),
        side: Side::Long,
        price: 90_000.0 + i as f64,
        quantity: 0.5,
        usd: (90_000.0 + i as f64) * 0.5,
        ts_ms: 1_700_000_000_000 + i as i64,
    }
}

/// A server-to-client frame (unmasked) with `opcode` and a payload of `len` bytes, of which
/// only the header is returned.
fn header(opcode: u8, len: usize) -> Vec<u8> {
    let mut out = vec![0x80 | opcode];
    match len {
        0..126 => out.push(len as u8),
        126..65_536 => {
            out.push(126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    out
}

fn text_frame(payload: &[u8]) -> Vec<u8> {
    let mut out = header(0x1, payload.len());
    out.extend_from_slice(payload);
    out
}

fn binary_frame(payload: &[u8]) -> Vec<u8> {
    let mut out = header(0x2, payload.len());
    out.extend_from_slice(payload);
    out
}

fn good(i: u64) -> Vec<u8> {
    text_frame(binance::encode(&event(i)).as_bytes())
}

/// What connection `n` (from 0) of a raw server writes after the handshake, in pieces; after
/// the last piece it keeps the socket open, reading until the client leaves.
type Script = Arc<dyn Fn(u64) -> Vec<Arc<Vec<u8>>> + Send + Sync>;

async fn raw_server(listener: TcpListener, script: Script) {
    let mut n = 0;
    while let Ok((tcp, _)) = listener.accept().await {
        let pieces = script(n);
        n += 1;
        tokio::spawn(async move {
            // tungstenite answers the handshake; the frames after it are written by hand.
            let Ok(ws) = tokio_tungstenite::accept_async(tcp).await else {
                return;
            };
            let mut tcp = ws.into_inner();
            for piece in pieces {
                if tcp.write_all(&piece).await.is_err() {
                    return;
                }
            }
            let mut sink = [0_u8; 1024];
            while matches!(tcp.read(&mut sink).await, Ok(n) if n > 0) {}
        });
    }
}

/// Runs the Binance runner against `url` until `want` events arrived (or 10 s); returns the
/// events' prices as ids and the stats.
async fn collect(url: String, want: usize) -> (Vec<u64>, Arc<SourceStats>) {
    let (tx, mut rx) = mpsc::channel(64);
    let stats = Arc::new(SourceStats::default());
    let stop = CancellationToken::new();
    let task = tokio::spawn(ws::run(
        RawBinance { url },
        fast(),
        tx,
        Arc::clone(&stats),
        stop.clone(),
    ));
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while got.len() < want {
        let Ok(Some(batch)) = tokio::time::timeout_at(deadline, rx.recv()).await else {
            break;
        };
        got.extend(
            batch
                .iter()
                .map(|e: &Liquidation| (e.price - 90_000.0) as u64),
        );
    }
    // Anything more (a duplicate) would arrive now.
    tokio::time::sleep(Duration::from_millis(100)).await;
    while let Ok(batch) = rx.try_recv() {
        got.extend(batch.iter().map(|e| (e.price - 90_000.0) as u64));
    }
    stop.cancel();
    task.await.unwrap();
    (got, stats)
}

async fn serve(script: Script) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    tokio::spawn(raw_server(listener, script));
    url
}

fn pieces(frames: impl IntoIterator<Item = Vec<u8>>) -> Vec<Arc<Vec<u8>>> {
    frames.into_iter().map(Arc::new).collect()
}

/// A text frame that is not UTF-8 breaks the protocol: the connection is failed (as RFC 6455
/// requires) and replaced, and every event sent before it and after the reconnect arrives once.
/// A binary frame that is not UTF-8 is counted as malformed and skipped, the connection kept.
#[tokio::test]
async fn invalid_utf8_fails_a_text_connection_but_only_skips_a_binary_frame() {
    let url = serve(Arc::new(|n| match n {
        0 => pieces(
            (0..5)
                .map(good)
                .chain([binary_frame(&[0xff, 0xfe, b'{'])])
                .chain((5..10).map(good))
                .chain([text_frame(&[b'{', 0xc3, 0x28, b'}'])]),
        ),
        _ => pieces((10..15).map(good)),
    }))
    .await;
    let (got, stats) = collect(url, 15).await;
    assert_eq!(got, (0..15).collect::<Vec<_>>());
    assert_eq!(
        stats.malformed.load(Ordering::Relaxed),
        1,
        "the binary frame"
    );
    assert_eq!(stats.connects.load(Ordering::Relaxed), 2);
}

/// Peak resident memory of this process, in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Three connections each announce and send a 10 MB text frame (the limit is 4 MiB): each is
/// dropped at the frame's header, before its payload is read, so memory does not grow by the
/// frame; the events around them arrive once.
#[tokio::test]
async fn a_10_mb_frame_is_refused_at_its_header_and_memory_stays_flat() {
    const HUGE: usize = 10 << 20;
    let payload = Arc::new(vec![b' '; HUGE]);
    let before = peak_rss();
    let url = serve(Arc::new(move |n| match n {
        0..3 => {
            let mut out = pieces([good(n * 2), good(n * 2 + 1), header(0x1, HUGE)]);
            out.push(Arc::clone(&payload));
            out
        }
        _ => pieces((6..10).map(good)),
    }))
    .await;
    let (got, stats) = collect(url, 10).await;
    let grew = peak_rss().saturating_sub(before);
    eprintln!(
        "10 MB frames: {} connections, peak RSS grew {} KiB",
        stats.connects.load(Ordering::Relaxed),
        grew / 1024
    );
    assert_eq!(got, (0..10).collect::<Vec<_>>());
    assert_eq!(stats.connects.load(Ordering::Relaxed), 4);
    assert!(grew < 4 << 20, "peak RSS grew {grew} bytes");
}

/// Nothing listens on the port for a second (connections are refused at TCP level); the runner
/// keeps trying with its 20-200 ms backoff and connects soon after the port opens.
#[tokio::test]
async fn a_port_that_refuses_connections_is_retried_until_it_opens() {
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let url = format!("ws://127.0.0.1:{port}");
    let (tx, mut rx) = mpsc::channel(64);
    let stats = Arc::new(SourceStats::default());
    let stop = CancellationToken::new();
    let task = tokio::spawn(ws::run(
        RawBinance { url },
        fast(),
        tx,
        Arc::clone(&stats),
        stop.clone(),
    ));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(stats.connects.load(Ordering::Relaxed), 0);
    let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let opened = tokio::time::Instant::now();
    tokio::spawn(raw_server(listener, Arc::new(|_| pieces((0..3).map(good)))));
    let mut got = Vec::new();
    while got.len() < 3 {
        let batch = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .unwrap()
            .unwrap();
        got.extend(batch);
    }
    let took = opened.elapsed();
    eprintln!("refused port: first events {took:?} after it opened (backoff cap 200 ms)");
    assert!(took < Duration::from_secs(1), "{took:?}");
    stop.cancel();
    task.await.unwrap();
}
