//! The websocket runner against hand-made local servers: liveness and reconnects.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use liqbot::sources::Parsed;
use liqbot::sources::ws::{self, RunnerSettings, Session, SourceStats, Venue};
use tokio::net::TcpListener;
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
