//! Market-context pollers: supervised REST loops that fetch Fear & Greed, candles and open
//! interest, store them, and say when their data has gone stale.
//!
//! Each loop polls on its interval; a request that fails (HTTP error, timeout, garbage body)
//! is retried with backoff a few times, and a poll that still fails leaves the stored data as
//! it was and marks the poller as failing. Data is **stale** when the poller has been failing
//! for longer than its interval, or has never succeeded.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::config::Config;
use crate::market::candles::{
    CandleInterval, fetch_bybit_candles, fetch_okx_candles, parse_binance_candles, price_at,
};
use crate::market::endpoint;
use crate::market::fear_greed::fetch_fear_greed;
use crate::market::open_interest::{
    OiPeriod, bybit_open_interest_usd, fetch_bybit_open_interest, fetch_okx_open_interest_history,
    parse_binance_open_interest_hist,
};
use crate::model::{Candle, Exchange};
use crate::sources::bybit::BybitContract;
use crate::sources::rest::get_text;
use crate::sources::ws::Backoff;
use crate::store::{MarketStore, SqlStore};

/// Attempts per request before a poll counts as failed.
const ATTEMPTS: u32 = 3;
const MINUTE_MS: i64 = 60_000;

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The health of one poller.
#[derive(Debug)]
pub struct PollerStatus {
    /// The poller's name (`fear_greed`, `candles`, `open_interest-bybit`).
    pub name: String,
    interval_ms: i64,
    last_ok_ms: AtomicI64,
    failing_since_ms: AtomicI64,
    failures: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl PollerStatus {
    /// A poller that has not run yet.
    #[must_use]
    pub fn new(name: impl Into<String>, interval: Duration) -> Self {
        Self {
            name: name.into(),
            interval_ms: i64::try_from(interval.as_millis()).unwrap_or(i64::MAX),
            last_ok_ms: AtomicI64::new(0),
            failing_since_ms: AtomicI64::new(0),
            failures: AtomicU64::new(0),
            last_error: Mutex::new(None),
        }
    }

    /// Records a successful poll.
    pub fn succeeded(&self, at_ms: i64) {
        self.last_ok_ms.store(at_ms, Ordering::Release);
        self.failing_since_ms.store(0, Ordering::Release);
    }

    /// Records a failed poll.
    pub fn failed(&self, at_ms: i64, error: &str) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        let _ =
            self.failing_since_ms
                .compare_exchange(0, at_ms, Ordering::AcqRel, Ordering::Acquire);
        if let Ok(mut last) = self.last_error.lock() {
            *last = Some(error.to_owned());
        }
    }

    /// When the last poll succeeded (ms), if one has.
    #[must_use]
    pub fn last_ok_ms(&self) -> Option<i64> {
        Some(self.last_ok_ms.load(Ordering::Acquire)).filter(|t| *t > 0)
    }

    /// Failed polls so far.
    #[must_use]
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// The last error, if any.
    #[must_use]
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().ok().and_then(|e| e.clone())
    }

    /// True when the data has not been refreshed for longer than the poll interval: never
    /// fetched, or failing for longer than one interval.
    #[must_use]
    pub fn is_stale(&self, now_ms: i64) -> bool {
        let since = self.failing_since_ms.load(Ordering::Acquire);
        self.last_ok_ms().is_none() || (since > 0 && now_ms - since > self.interval_ms)
    }
}

/// Runs `attempt` up to [`ATTEMPTS`] times with backoff, returning the first success or the
/// last error.
async fn with_retries<T, F, Fut>(mut attempt: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(5));
    let mut tries = 0;
    loop {
        tries += 1;
        match attempt().await {
            Ok(v) => return Ok(v),
            Err(e) if tries >= ATTEMPTS => return Err(e),
            Err(e) => {
                debug!(error = %e, tries, "Request failed, retrying.");
                tokio::time::sleep(backoff.next_delay()).await;
            }
        }
    }
}

/// Runs `poll` every `interval` until shut down, recording each outcome in `status`.
async fn supervise<F, Fut>(
    status: Arc<PollerStatus>,
    interval: Duration,
    shutdown: CancellationToken,
    mut poll: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    loop {
        let outcome = tokio::select! {
            () = shutdown.cancelled() => return,
            outcome = poll() => outcome,
        };
        record(&status, outcome);
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
        }
    }
}

/// Everything the candle and open-interest polls share.
struct ContextPoller {
    config: Config,
    client: reqwest::Client,
    store: Arc<SqlStore>,
    /// Where the next Binance page starts, per (what, coin).
    cursors: HashMap<(&'static str, String), i64>,
}

impl ContextPoller {
    fn history_start(&self) -> i64 {
        now_ms() - i64::try_from(self.config.market.history_hours).unwrap_or(168) * 3_600_000
    }

    /// Fetches new candles of every coin from the configured venue.
    async fn poll_candles(&mut self) -> anyhow::Result<()> {
        let coins = self.config.market.coins.clone();
        for base in &coins {
            let candles =
                match self.config.market.candles_from {
                    Exchange::Binance => self.binance_candles(base).await?,
                    Exchange::Bybit => {
                        let s = &self.config.sources.bybit.rest_url;
                        let symbol = format!("{base}USDT");
                        with_retries(|| async {
                            Ok(fetch_bybit_candles(
                                &self.client,
                                s,
                                BybitContract::Linear,
                                &symbol,
                                base,
                                CandleInterval::M1,
                                1000,
                            )
                            .await?)
                        })
                        .await?
                    }
                    Exchange::Okx => {
                        let s = &self.config.sources.okx.rest_url;
                        let inst = format!("{base}-USDT-SWAP");
                        with_retries(|| async {
                            Ok(fetch_okx_candles(
                                &self.client,
                                s,
                                &inst,
                                base,
                                CandleInterval::M1,
                                300,
                            )
                            .await?)
                        })
                        .await?
                    }
                };
            self.store
                .upsert_candles(&candles)
                .await
                .context("storing candles")?;
        }
        Ok(())
    }

    /// Pages through a Binance history endpoint from the cursor of `(what, base)` to now.
    /// `path` is the endpoint with its query, to which `&startTime=` is appended; `ts` gives an
    /// item's time; the cursor is left at `resume(last item)` for the next poll.
    async fn binance_history<T>(
        &mut self,
        (what, base): (&'static str, &str),
        path: &str,
        page_size: usize,
        parse: impl Fn(&str) -> Result<Vec<T>, crate::sources::FrameError>,
        ts: impl Fn(&T) -> i64,
        resume: impl Fn(&T) -> i64,
    ) -> anyhow::Result<Vec<T>> {
        let key = (what, base.to_owned());
        let mut start = self
            .cursors
            .get(&key)
            .copied()
            .unwrap_or_else(|| self.history_start());

        let mut all: Vec<T> = Vec::new();
        loop {
            let url = endpoint(
                &self.config.sources.binance.rest_url,
                &format!("{path}&startTime={start}"),
            );
            let body = with_retries(|| async { Ok(get_text(&self.client, &url).await?) }).await?;
            let page = parse(&body)?;
            let Some(last) = page.last() else { break };
            start = ts(last) + 1;
            let full = page.len() >= page_size;
            all.extend(page);
            if !full {
                break;
            }
        }
        if let Some(last) = all.last() {
            self.cursors.insert(key, resume(last));
        }
        Ok(all)
    }

    /// Binance 1-minute candles since the last poll. The newest candle may still be forming,
    /// so the next poll fetches it again.
    async fn binance_candles(&mut self, base: &str) -> anyhow::Result<Vec<Candle>> {
        let path = format!("/fapi/v1/klines?symbol={base}USDT&interval=1m&limit=1500");
        let parse = |body: &str| parse_binance_candles(body, base, 60);
        self.binance_history(
            ("candles", base),
            &path,
            1500,
            parse,
            |c| c.open_ms,
            |c| c.open_ms,
        )
        .await
    }

    /// Fetches open interest of every coin from one venue and stores it in USD.
    async fn poll_open_interest(&mut self, venue: Exchange) -> anyhow::Result<()> {
        let coins = self.config.market.coins.clone();
        for base in &coins {
            let points = match venue {
                Exchange::Binance => self.binance_oi(base).await?,
                Exchange::Bybit => {
                    let rest = &self.config.sources.bybit.rest_url;
                    let symbol = format!("{base}USDT");
                    let rows = with_retries(|| async {
                        Ok(fetch_bybit_open_interest(
                            &self.client,
                            rest,
                            BybitContract::Linear,
                            &symbol,
                            OiPeriod::M5,
                            200,
                        )
                        .await?)
                    })
                    .await?;
                    // Linear contracts count base coins: convert at the price of each moment.
                    let from = rows.first().map_or(0, |r| r.ts_ms) - 10 * MINUTE_MS;
                    let candles = self
                        .store
                        .candles(
                            self.config.market.candles_from,
                            base,
                            from,
                            now_ms() + MINUTE_MS,
                        )
                        .await?;
                    bybit_open_interest_usd(&rows, BybitContract::Linear, base, |ts| {
                        price_at(&candles, ts)
                    })
                }
                Exchange::Okx => {
                    let rest = &self.config.sources.okx.rest_url;
                    let inst = format!("{base}-USDT-SWAP");
                    with_retries(|| async {
                        Ok(fetch_okx_open_interest_history(
                            &self.client,
                            rest,
                            &inst,
                            base,
                            OiPeriod::M5,
                            100,
                        )
                        .await?)
                    })
                    .await?
                }
            };
            self.store
                .upsert_open_interest(&points)
                .await
                .context("storing open interest")?;
        }
        Ok(())
    }

    /// Binance 5-minute open-interest history since the last poll.
    async fn binance_oi(&mut self, base: &str) -> anyhow::Result<Vec<crate::model::OpenInterest>> {
        let path = format!("/futures/data/openInterestHist?symbol={base}USDT&period=5m&limit=500");
        let parse = |body: &str| parse_binance_open_interest_hist(body, base);
        self.binance_history(
            ("oi", base),
            &path,
            500,
            parse,
            |p| p.ts_ms,
            |p| p.ts_ms + 1,
        )
        .await
    }
}

/// The running pollers.
pub struct RunningPollers {
    /// Their health, for status lines and the stale flags in posts.
    pub statuses: Vec<Arc<PollerStatus>>,
    /// Their tasks; they end when the shutdown token is cancelled. Taken by whoever waits
    /// for them at shutdown (see [`Self::take_tasks`]).
    pub tasks: std::sync::Mutex<Vec<JoinHandle<()>>>,
}

impl RunningPollers {
    /// The tasks, to await at shutdown; empty after the first call.
    pub fn take_tasks(&self) -> Vec<JoinHandle<()>> {
        std::mem::take(
            &mut *self
                .tasks
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// The status of the poller called `name`.
    #[must_use]
    pub fn status(&self, name: &str) -> Option<&Arc<PollerStatus>> {
        self.statuses.iter().find(|s| s.name == name)
    }

    /// True when every poller has succeeded at least once.
    #[must_use]
    pub fn all_fetched(&self) -> bool {
        self.statuses.iter().all(|s| s.last_ok_ms().is_some())
    }
}

/// Starts the Fear & Greed poller and one candle-then-open-interest poller.
pub fn start(
    config: &Config,
    store: &Arc<SqlStore>,
    shutdown: &CancellationToken,
) -> anyhow::Result<RunningPollers> {
    let market = &config.market;
    let client = reqwest::Client::builder()
        .timeout(market.request_timeout())
        .user_agent(concat!("liqbot/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("building the HTTP client")?;
    let fg_status = Arc::new(PollerStatus::new(
        "fear_greed",
        market.fear_greed.interval(),
    ));
    let fg_store = Arc::clone(store);
    let fg_client = client.clone();
    let fg_url = market.fear_greed.url.clone();
    let mut first = true;
    let fear_greed = tokio::spawn(supervise(
        Arc::clone(&fg_status),
        market.fear_greed.interval(),
        shutdown.clone(),
        move || {
            // A month at start, so "a week ago" is there at once; then the last 8 days.
            let limit = if std::mem::take(&mut first) { 31 } else { 8 };
            let (store, client, url) = (Arc::clone(&fg_store), fg_client.clone(), fg_url.clone());
            async move {
                let list =
                    with_retries(|| async { Ok(fetch_fear_greed(&client, &url, limit).await?) })
                        .await?;
                store.upsert_fear_greed(&list).await?;
                Ok(())
            }
        },
    ));

    let names = [
        "candles",
        "open_interest-binance",
        "open_interest-bybit",
        "open_interest-okx",
    ];
    let statuses: Vec<Arc<PollerStatus>> = names
        .iter()
        .map(|n| Arc::new(PollerStatus::new(*n, market.poll_interval())))
        .collect();
    let mut poller = ContextPoller {
        config: config.clone(),
        client,
        store: Arc::clone(store),
        cursors: HashMap::new(),
    };
    let context_statuses = statuses.clone();
    let stop = shutdown.clone();
    let interval = market.poll_interval();
    let context = tokio::spawn(async move {
        loop {
            let cycle = async {
                // Candles first: Bybit's open interest is converted at their prices.
                record(&context_statuses[0], poller.poll_candles().await);
                for (i, venue) in Exchange::ALL.into_iter().enumerate() {
                    record(
                        &context_statuses[i + 1],
                        poller.poll_open_interest(venue).await,
                    );
                }
            };
            tokio::select! {
                () = stop.cancelled() => return,
                () = cycle => {}
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(interval) => {}
            }
        }
    });
    let mut all = vec![fg_status];
    all.extend(statuses);
    Ok(RunningPollers {
        statuses: all,
        tasks: std::sync::Mutex::new(vec![fear_greed, context]),
    })
}

fn record(status: &PollerStatus, outcome: anyhow::Result<()>) {
    match outcome {
        Ok(()) => status.succeeded(now_ms()),
        Err(e) => {
            let error = format!("{e:#}");
            warn!(poller = %status.name, error = %error, "Poll failed; keeping the data already stored.");
            status.failed(now_ms(), &error);
        }
    }
}
