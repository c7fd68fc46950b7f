//! The writer: collects events from every source into batches and writes them to the store.
//!
//! A batch is written when it reaches `batch_size` events or when `flush_interval` has passed
//! since its first event. A failed write is retried with backoff and the batch is kept, so a
//! database hiccup delays events but never drops them; while it retries, the bounded channel
//! fills and the sources slow down. The writer ends when every source has dropped its sender,
//! after writing what it holds.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{debug, error, info, warn};

use crate::model::Liquidation;
use crate::sources::ws::Backoff;
use crate::store::Store;

/// Parsed event batches (one per frame) waiting for the writer; when full, sources wait
/// (backpressure). It holds what arrives while a batch is written, so that under load the next
/// batch is ready when the writer is: with 1,024, a burst's batches were about 1,200 events and
/// sources waited on the writer while the writer waited on them.
pub const EVENT_QUEUE: usize = 8_192;

/// A batch takes what is queued up to this many times `batch_size`.
const QUEUED_BATCHES: usize = 10;

/// Writer settings.
#[derive(Debug, Clone, Copy)]
pub struct WriterSettings {
    /// Events per batch.
    pub batch_size: usize,
    /// Longest time an event waits in a partial batch.
    pub flush_interval: Duration,
    /// Raw events older than this are pruned (checked hourly); `None` keeps everything.
    pub retention: Option<Duration>,
}

/// Counters for the writer.
#[derive(Debug, Default)]
pub struct IngestStats {
    /// Events received from sources.
    pub received: AtomicU64,
    /// Events stored for the first time.
    pub inserted: AtomicU64,
    /// Events already stored, skipped.
    pub duplicates: AtomicU64,
    /// Batches written.
    pub batches: AtomicU64,
    /// Failed write attempts (each retried).
    pub write_errors: AtomicU64,
}

impl IngestStats {
    /// Events the writer has finished with (stored or recognised as duplicates).
    #[must_use]
    pub fn processed(&self) -> u64 {
        self.inserted.load(Ordering::Acquire) + self.duplicates.load(Ordering::Acquire)
    }
}

/// Runs the writer until every sender is dropped, then writes what is left.
pub async fn run_writer<S: Store>(
    store: Arc<S>,
    mut rx: mpsc::Receiver<Vec<Liquidation>>,
    settings: WriterSettings,
    stats: Arc<IngestStats>,
    tap: Option<mpsc::Sender<Vec<Liquidation>>>,
) {
    let mut batch: Vec<Liquidation> = Vec::with_capacity(settings.batch_size);
    let mut deadline: Option<Instant> = None;
    let mut next_prune = Instant::now();
    loop {
        let received = match deadline {
            Some(at) => tokio::select! {
                r = rx.recv() => r,
                () = tokio::time::sleep_until(at) => {
                    write(&*store, &mut batch, &stats, tap.as_ref()).await;
                    deadline = None;
                    continue;
                }
            },
            None => rx.recv().await,
        };
        let Some(events) = received else { break };
        stats
            .received
            .fetch_add(events.len() as u64, Ordering::Relaxed);
        batch.extend(events);
        // What queued up while the last batch was written joins this one (up to a limit), so
        // under load batches grow and each transaction carries more events.
        while batch.len() < settings.batch_size.saturating_mul(QUEUED_BATCHES)
            && let Ok(events) = rx.try_recv()
        {
            stats
                .received
                .fetch_add(events.len() as u64, Ordering::Relaxed);
            batch.extend(events);
        }
        deadline.get_or_insert_with(|| Instant::now() + settings.flush_interval);
        if batch.len() >= settings.batch_size {
            write(&*store, &mut batch, &stats, tap.as_ref()).await;
            deadline = None;
        }
        if let Some(retention) = settings.retention
            && Instant::now() >= next_prune
        {
            prune(&*store, retention).await;
            next_prune = Instant::now() + Duration::from_secs(3600);
        }
    }
    write(&*store, &mut batch, &stats, tap.as_ref()).await;
    info!(
        inserted = stats.inserted.load(Ordering::Relaxed),
        duplicates = stats.duplicates.load(Ordering::Relaxed),
        "Writer finished."
    );
}

/// Writes `batch`, retrying until it is stored, then hands it to `tap` (the alert engine),
/// dropping it there rather than holding up ingest when the tap is full.
async fn write<S: Store>(
    store: &S,
    batch: &mut Vec<Liquidation>,
    stats: &IngestStats,
    tap: Option<&mpsc::Sender<Vec<Liquidation>>>,
) {
    if batch.is_empty() {
        return;
    }
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(30));
    loop {
        match store.insert_batch(batch).await {
            Ok(outcome) => {
                stats
                    .inserted
                    .fetch_add(outcome.inserted as u64, Ordering::AcqRel);
                stats
                    .duplicates
                    .fetch_add(outcome.duplicates as u64, Ordering::AcqRel);
                stats.batches.fetch_add(1, Ordering::Relaxed);
                debug!(
                    inserted = outcome.inserted,
                    duplicates = outcome.duplicates,
                    "Batch written."
                );
                if let Some(tap) = tap
                    && tap.try_send(batch.clone()).is_err()
                {
                    warn!(
                        events = batch.len(),
                        "The alert engine is behind; a batch was not checked for alerts."
                    );
                }
                batch.clear();
                return;
            }
            Err(e) => {
                let attempt = stats.write_errors.fetch_add(1, Ordering::Relaxed) + 1;
                let delay = backoff.next_delay();
                error!(error = %e, attempt, events = batch.len(), delay_ms = delay.as_millis(), "Could not write a batch; keeping it and retrying.");
                tokio::time::sleep(delay).await;
            }
        }
    }
}

async fn prune<S: Store>(store: &S, retention: Duration) {
    let cutoff = chrono::Utc::now().timestamp_millis()
        - i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
    match store.prune(cutoff).await {
        Ok(n) if n > 0 => info!(deleted = n, "Pruned raw events past retention."),
        Ok(_) => {}
        Err(e) => error!(error = %e, "Could not prune old events."),
    }
}
