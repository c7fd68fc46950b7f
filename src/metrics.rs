//! The optional HTTP endpoint (`[metrics] listen`): `/metrics` in the Prometheus text format and
//! `/healthz`, for the operator's monitoring.
//!
//! `/healthz` answers 200 `ok`, or 503 with the reasons, when every stream has been without an
//! event for `metrics.stale_secs` or the store cannot be written.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::delivery::Outlet;
use crate::ingest::IngestStats;
use crate::sources::ws::SourceStats;
use crate::store::{DeliveryStore as _, SqlStore};

/// What the endpoint reports on.
pub struct Metrics {
    /// The store.
    pub store: Arc<SqlStore>,
    /// Each stream's name and counters.
    pub sources: Vec<(String, Arc<SourceStats>)>,
    /// The writer's counters.
    pub ingest: Arc<IngestStats>,
    /// The running chat platforms' senders.
    pub outlets: Vec<Arc<dyn Outlet>>,
    /// Whether this instance runs the scheduler (its lag is reported then).
    pub scheduler: bool,
    /// A stream with no event for this long is stale.
    pub stale: Duration,
    /// When the bot started, ms: a stream that never had an event is stale from then.
    pub started_ms: i64,
}

/// What `/healthz` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// Why the bot is unhealthy; empty when healthy.
    pub problems: Vec<String>,
}

impl Health {
    /// True when nothing is wrong.
    #[must_use]
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// One metric family: its help, type and samples (`{labels} value`).
struct Family<'a> {
    out: &'a mut String,
    name: &'a str,
}

impl Family<'_> {
    fn start<'a>(out: &'a mut String, name: &'a str, kind: &str, help: &str) -> Family<'a> {
        let _ = writeln!(out, "# HELP liqbot_{name} {help}");
        let _ = writeln!(out, "# TYPE liqbot_{name} {kind}");
        Family { out, name }
    }

    fn sample(&mut self, labels: &str, value: impl std::fmt::Display) {
        let name = self.name;
        if labels.is_empty() {
            let _ = writeln!(self.out, "liqbot_{name} {value}");
        } else {
            let _ = writeln!(self.out, "liqbot_{name}{{{labels}}} {value}");
        }
    }
}

fn load(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

impl Metrics {
    /// Seconds since `source`'s last event (or since the start, before its first), at `now_ms`.
    fn event_age_secs(&self, source: &SourceStats, now_ms: i64) -> f64 {
        let last = source
            .last_event_ms
            .load(Ordering::Relaxed)
            .max(self.started_ms);
        (now_ms - last).max(0) as f64 / 1000.0
    }

    /// Checks the streams and the store.
    pub async fn health(&self, now_ms: i64) -> Health {
        let mut problems = Vec::new();
        let stale = self.stale.as_secs_f64();
        if !self.sources.is_empty()
            && self
                .sources
                .iter()
                .all(|(_, s)| self.event_age_secs(s, now_ms) > stale)
        {
            problems.push(format!(
                "every stream has been without events for over {}s",
                self.stale.as_secs()
            ));
        }
        if let Err(e) = self.store.probe_write(now_ms).await {
            problems.push(format!("the store cannot be written: {e}"));
        }
        Health { problems }
    }

    /// Every metric, in the Prometheus text format.
    pub async fn render(&self, now_ms: i64) -> String {
        let mut out = String::with_capacity(4096);
        type Counter = fn(&SourceStats) -> u64;
        let per_source: [(&str, &str, Counter); 6] = [
            ("source_frames_total", "Text frames received.", |s| {
                load(&s.frames)
            }),
            (
                "source_events_total",
                "Liquidation events parsed and handed on.",
                |s| load(&s.events),
            ),
            (
                "source_frames_rejected_total",
                "Frames that did not parse, skipped.",
                |s| load(&s.malformed),
            ),
            (
                "source_entries_rejected_total",
                "Unusable entries inside valid frames, skipped.",
                |s| load(&s.rejected),
            ),
            (
                "source_venue_errors_total",
                "Errors the venue reported.",
                |s| load(&s.venue_errors),
            ),
            (
                "source_reconnects_total",
                "Connections opened after the first.",
                |s| load(&s.connects).saturating_sub(1),
            ),
        ];
        for (name, help, value) in per_source {
            let mut family = Family::start(&mut out, name, "counter", help);
            for (source, stats) in &self.sources {
                family.sample(&format!("source=\"{source}\""), value(stats));
            }
        }
        let mut family = Family::start(
            &mut out,
            "source_connected",
            "gauge",
            "1 while the stream's connection is open.",
        );
        for (source, stats) in &self.sources {
            family.sample(
                &format!("source=\"{source}\""),
                u8::from(stats.connected.load(Ordering::Relaxed)),
            );
        }
        let mut family = Family::start(
            &mut out,
            "source_last_event_age_seconds",
            "gauge",
            "Seconds since the stream's last event (since the start, before the first).",
        );
        for (source, stats) in &self.sources {
            family.sample(
                &format!("source=\"{source}\""),
                self.event_age_secs(stats, now_ms),
            );
        }

        let ingest = &self.ingest;
        let writer: [(&str, &str, &AtomicU64); 4] = [
            (
                "ingest_received_total",
                "Events the writer received.",
                &ingest.received,
            ),
            (
                "ingest_inserted_total",
                "Events stored for the first time.",
                &ingest.inserted,
            ),
            (
                "ingest_duplicates_total",
                "Events already stored, skipped.",
                &ingest.duplicates,
            ),
            (
                "ingest_write_errors_total",
                "Failed batch writes (each retried).",
                &ingest.write_errors,
            ),
        ];
        for (name, help, counter) in writer {
            Family::start(&mut out, name, "counter", help).sample("", load(counter));
        }

        type Sends = fn(&crate::delivery::SendStats) -> u64;
        let sends: [(&str, &str, Sends); 4] = [
            ("posts_sent_total", "Messages the platform accepted.", |s| {
                load(&s.sent)
            }),
            ("posts_failed_total", "Messages given up on.", |s| {
                load(&s.failed)
            }),
            (
                "posts_retried_total",
                "Retries after a transient failure.",
                |s| load(&s.retried),
            ),
            ("posts_rate_limited_total", "429 answers.", |s| {
                load(&s.rate_limited)
            }),
        ];
        for (name, help, value) in sends {
            let mut family = Family::start(&mut out, name, "counter", help);
            for outlet in &self.outlets {
                if let Some(stats) = outlet.stats() {
                    let platform = outlet.platform().as_str();
                    family.sample(&format!("platform=\"{platform}\""), value(stats));
                }
            }
        }

        if self.scheduler {
            match self.store.scheduler_checkpoint().await {
                Ok(Some(checked_ms)) => {
                    let lag = (now_ms - checked_ms).max(0) as f64 / 1000.0;
                    Family::start(&mut out, "scheduler_lag_seconds", "gauge", "Seconds since the scheduler last looked for due slots (stored every few seconds).")
                        .sample("", lag);
                }
                Ok(None) => {}
                Err(e) => warn!(error = %e, "Reading the scheduler checkpoint for metrics failed."),
            }
        }
        match self.store.size_bytes().await {
            Ok(bytes) => Family::start(
                &mut out,
                "store_size_bytes",
                "gauge",
                "The store's size on disk.",
            )
            .sample("", bytes),
            Err(e) => warn!(error = %e, "Reading the store size for metrics failed."),
        }
        let health = self.health(now_ms).await;
        Family::start(&mut out, "healthy", "gauge", "1 when /healthz reports ok.")
            .sample("", u8::from(health.ok()));
        out
    }
}

async fn metrics_text(State(m): State<Arc<Metrics>>) -> Response {
    let text = m.render(chrono::Utc::now().timestamp_millis()).await;
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

async fn healthz(State(m): State<Arc<Metrics>>) -> Response {
    let health = m.health(chrono::Utc::now().timestamp_millis()).await;
    if health.ok() {
        (StatusCode::OK, "ok\n").into_response()
    } else {
        let body = format!("unhealthy\n{}\n", health.problems.join("\n"));
        (StatusCode::SERVICE_UNAVAILABLE, body).into_response()
    }
}

/// Binds `listen` and serves `/metrics` and `/healthz` until `shutdown`; returns the task and
/// the address bound (a port 0 picks one).
///
/// # Errors
/// When the address cannot be bound.
pub async fn serve(
    listen: &str,
    metrics: Metrics,
    shutdown: CancellationToken,
) -> anyhow::Result<(JoinHandle<()>, std::net::SocketAddr)> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("metrics.listen: cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    let app = Router::new()
        .route("/metrics", get(metrics_text))
        .route("/healthz", get(healthz))
        .with_state(Arc::new(metrics));
    info!(%addr, "Serving /metrics and /healthz.");
    let task = tokio::spawn(async move {
        let serve = axum::serve(listener, app).with_graceful_shutdown(shutdown.cancelled_owned());
        if let Err(e) = serve.await {
            warn!(error = %e, "The metrics endpoint stopped.");
        }
    });
    Ok((task, addr))
}
