//! `liqbot bench`: throughput and latency figures, measured on the machine it runs on.
//!
//! - `parse`: frames in each venue's wire format (from the simulator) parsed, normalised and
//!   aggregated into minute buckets on one core, in events per second.
//! - `ingest`: frames of one venue (the simulator's, or a file of recorded frames) parsed and
//!   stored in SQLite in batches, in events per second, with the USD totals computed.
//! - `query`: a store filled with days of history, then the 24h summary query timed.
//! - `telegram`, `discord`: the whole bot against the fake platform, `/heatmap` end to end.

use serde::de::IgnoredAny;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::analytics::{MinuteBuckets, Window};
use crate::model::{Exchange, Liquidation, Side};
use crate::rng::SplitMix64;
use crate::sim::market::{Market, SimFeed, okx_instrument_map, okx_instruments};
use crate::sources::binance::{self, BinanceParser};
use crate::sources::bybit::{self, BybitContract, BybitParser};
use crate::sources::okx::{self, OkxParser};
use crate::sources::{FrameError, Parsed};
use crate::store::{SqlStore, Store, window_summary};

/// A venue's frame parser.
type ParseFn<'a> = dyn Fn(&str) -> Result<Parsed, FrameError> + 'a;

/// Median and 99th percentile of a set of samples.
#[must_use]
pub fn median_p99(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    if samples.is_empty() {
        return (Duration::ZERO, Duration::ZERO);
    }
    let p99 = ((samples.len() * 99).div_ceil(100)).saturating_sub(1);
    (samples[samples.len() / 2], samples[p99])
}

/// Frames of one venue for `events` simulated liquidations (at least), as the venue sends them.
fn frames(feed: SimFeed, events: usize) -> Vec<String> {
    let okx_map = okx_instrument_map();
    let mut market = Market::new(11, 0);
    let mut out = Vec::with_capacity(events);
    let mut t = 0;
    while out.len() < events {
        t += 3_600_000;
        for (f, e) in market.advance_to(t) {
            if f != feed {
                continue;
            }
            out.push(match feed {
                SimFeed::Binance => binance::encode(&e),
                SimFeed::BybitLinear => {
                    bybit::encode(BybitContract::Linear, &e.symbol, std::slice::from_ref(&e))
                }
                SimFeed::BybitInverse => {
                    bybit::encode(BybitContract::Inverse, &e.symbol, std::slice::from_ref(&e))
                }
                SimFeed::Okx => okx::encode(std::slice::from_ref(&e), &okx_map),
            });
        }
    }
    out.truncate(events);
    out
}

/// Parses and aggregates `frames`, returning (events, seconds).
fn parse_and_aggregate(
    frames: &[String],
    parse: &dyn Fn(&str) -> Result<Parsed, FrameError>,
) -> (u64, f64) {
    let start = Instant::now();
    let mut buckets = MinuteBuckets::new();
    let mut n = 0u64;
    for f in frames {
        if let Ok(parsed) = parse(f) {
            for e in &parsed.events {
                buckets.record(e);
                n += 1;
            }
        }
    }
    std::hint::black_box(&buckets);
    (n, start.elapsed().as_secs_f64())
}

/// Runs the parse benchmark for each venue, or only `venue`, and returns the report.
///
/// # Errors
/// When `venue` is not binance, bybit or okx.
pub fn parse_report(events: usize, runs: usize, venue: Option<&str>) -> anyhow::Result<String> {
    let bybit_parser = BybitParser::new(BybitContract::Linear);
    let okx_parser = OkxParser::from_list(okx_instruments());
    let venues: [(&str, SimFeed, &ParseFn<'_>); 3] = [
        ("binance", SimFeed::Binance, &|t| BinanceParser.parse(t)),
        ("bybit", SimFeed::BybitLinear, &|t| bybit_parser.parse(t)),
        ("okx", SimFeed::Okx, &|t| okx_parser.parse(t)),
    ];
    if let Some(venue) = venue
        && !venues.iter().any(|(name, _, _)| *name == venue)
    {
        anyhow::bail!("unknown venue {venue:?}: binance, bybit or okx");
    }
    let mut out = format!(
        "parse + normalise + aggregate, one core, {events} frames, median of {runs} runs\n"
    );
    for (name, feed, parse) in venues {
        if venue.is_some_and(|v| v != name) {
            continue;
        }
        let frames = frames(feed, events);
        let mut rates: Vec<f64> = (0..runs)
            .map(|_| {
                let (n, secs) = parse_and_aggregate(&frames, parse);
                n as f64 / secs
            })
            .collect();
        rates.sort_by(f64::total_cmp);
        let median = rates[rates.len() / 2];
        // The floor under any serde_json parser: reading the frames' JSON and keeping nothing.
        let mut json_only: Vec<f64> = (0..runs)
            .map(|_| {
                let start = Instant::now();
                for f in &frames {
                    let _ = std::hint::black_box(serde_json::from_str::<IgnoredAny>(f));
                }
                frames.len() as f64 / start.elapsed().as_secs_f64()
            })
            .collect();
        json_only.sort_by(f64::total_cmp);
        out.push_str(&format!(
            "  {name:8} {median:>12.0} events/s (min {:.0}, max {:.0}); serde_json reading the \
             same frames and keeping nothing: {:.0} frames/s\n",
            rates[0],
            rates[rates.len() - 1],
            json_only[json_only.len() / 2],
        ));
    }
    Ok(out)
}

/// A venue `liqbot bench ingest` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BenchVenue {
    /// Binance USD-M `forceOrder` frames.
    Binance,
    /// Bybit `allLiquidation` frames, linear contracts.
    Bybit,
    /// Bybit `allLiquidation` frames, inverse contracts.
    BybitInverse,
    /// OKX `liquidation-orders` frames (contract values from the simulator's instrument list).
    Okx,
}

impl BenchVenue {
    /// Every venue, as named on the command line.
    pub const NAMES: [&str; 4] = ["binance", "bybit", "bybit-inverse", "okx"];

    /// The venue named `name`.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "binance" => Some(Self::Binance),
            "bybit" | "bybit-linear" => Some(Self::Bybit),
            "bybit-inverse" => Some(Self::BybitInverse),
            "okx" => Some(Self::Okx),
            _ => None,
        }
    }

    fn feed(self) -> SimFeed {
        match self {
            Self::Binance => SimFeed::Binance,
            Self::Bybit => SimFeed::BybitLinear,
            Self::BybitInverse => SimFeed::BybitInverse,
            Self::Okx => SimFeed::Okx,
        }
    }

    fn parser(self) -> crate::sources::ws::FrameParserFn {
        match self {
            Self::Binance => Box::new(|t| BinanceParser.parse(t)),
            Self::Bybit => {
                let p = BybitParser::new(BybitContract::Linear);
                Box::new(move |t| p.parse(t))
            }
            Self::BybitInverse => {
                let p = BybitParser::new(BybitContract::Inverse);
                Box::new(move |t| p.parse(t))
            }
            Self::Okx => {
                let p = OkxParser::from_list(okx_instruments());
                Box::new(move |t| p.parse(t))
            }
        }
    }
}

/// Frames for `liqbot bench ingest`: the lines of `file` (one frame per line, as the venue
/// sent it; blank lines skipped), or `events` simulated frames.
///
/// # Errors
/// When the file cannot be read.
pub fn ingest_frames(
    venue: BenchVenue,
    file: Option<&std::path::Path>,
    events: usize,
) -> anyhow::Result<Vec<String>> {
    Ok(match file {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("reading frames from {}", path.display()))?
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_owned)
            .collect(),
        None => frames(venue.feed(), events),
    })
}

/// Parses `frames` of `venue` and stores the events in a new SQLite store at `url`, twice
/// timed: parsing alone, then parsing on its own thread feeding the bot's writer (batches of
/// `batch` events and what queued meanwhile), as the bot ingests.
/// Reports events per second and the USD totals per exchange and side from the store.
///
/// # Errors
/// When the store fails.
pub async fn ingest_report(
    venue: BenchVenue,
    frames: &[String],
    url: &str,
    batch: usize,
) -> anyhow::Result<String> {
    let parse = venue.parser();
    let (mut events, mut malformed, mut rejected) = (Vec::new(), 0_u64, 0_u64);
    let start = Instant::now();
    for frame in frames {
        match parse(frame) {
            Ok(parsed) => {
                rejected += parsed.rejected as u64;
                events.extend(parsed.events);
            }
            Err(FrameError::Venue(_)) => {}
            Err(_) => malformed += 1,
        }
    }
    let parse_secs = start.elapsed().as_secs_f64();
    let store = Arc::new(
        SqlStore::open(url)
            .await
            .context("opening the bench store")?,
    );
    // As in the bot: parsing on its own thread (the sources' tasks), one message per frame
    // through a bounded queue to the writer, which batches and stores.
    let start = Instant::now();
    let (tx, rx) = tokio::sync::mpsc::channel(crate::ingest::EVENT_QUEUE);
    let stats = Arc::new(crate::ingest::IngestStats::default());
    let writer = tokio::spawn(crate::ingest::run_writer(
        Arc::clone(&store),
        rx,
        crate::ingest::WriterSettings {
            batch_size: batch.max(1),
            flush_interval: Duration::from_millis(200),
            retention: None,
        },
        Arc::clone(&stats),
        None,
    ));
    std::thread::scope(|scope| {
        scope.spawn(|| {
            for frame in frames {
                if let Ok(parsed) = parse(frame)
                    && !parsed.events.is_empty()
                    && tx.blocking_send(parsed.events).is_err()
                {
                    break;
                }
            }
            drop(tx);
        });
    });
    writer.await?;
    let stored = usize::try_from(stats.inserted.load(Ordering::Relaxed)).unwrap_or(0);
    let duplicates = usize::try_from(stats.duplicates.load(Ordering::Relaxed)).unwrap_or(0);
    let ingest_secs = start.elapsed().as_secs_f64();
    let mut out = format!(
        "ingest {venue:?}: {} frames, {} events ({malformed} malformed frames, {rejected} rejected entries)\n",
        frames.len(),
        events.len(),
    );
    out.push_str(&format!(
        "  parse + normalise only: {:.0} events/s\n",
        events.len() as f64 / parse_secs
    ));
    out.push_str(&format!(
        "  parse + store in SQLite through the writer (batches of {batch}+ events): {:.0} events/s ({stored} stored, {duplicates} duplicates)\n",
        events.len() as f64 / ingest_secs
    ));
    let range = crate::analytics::MinuteRange {
        start: i64::MIN / 120_000,
        end: i64::MAX / 120_000,
    };
    let mut totals: std::collections::BTreeMap<(String, String), (f64, i64)> =
        std::collections::BTreeMap::new();
    for row in store.window_rows(range, None).await? {
        let t = totals
            .entry((
                row.exchange.as_str().to_owned(),
                row.side.as_str().to_owned(),
            ))
            .or_default();
        t.0 += row.usd;
        t.1 += row.count;
    }
    out.push_str(
        "  USD totals from the store (exchange, side, events, USD):
",
    );
    for ((exchange, side), (usd, count)) in &totals {
        out.push_str(&format!(
            "    {exchange:8} {side:6} {count:>9} {usd:>18.2}
"
        ));
    }
    store.close().await;
    Ok(out)
}

/// Synthetic history: `events` liquidations spread evenly over `days` days before `now_ms`, on
/// the three venues and twenty symbols.
fn history(events: usize, days: i64, now_ms: i64) -> impl Iterator<Item = Liquidation> {
    let coins = [
        "BTC", "ETH", "SOL", "XRP", "DOGE", "BNB", "ADA", "AVAX", "LINK", "TON", "SUI", "PEPE",
        "WIF", "LTC", "DOT", "TRX", "NEAR", "APT", "ARB", "OP",
    ];
    let span = days * 86_400_000;
    let mut rng = SplitMix64::new(5);
    (0..events).map(move |i| {
        let base = coins[rng.below(coins.len())];
        let exchange = Exchange::ALL[rng.below(3)];
        let symbol = match exchange {
            Exchange::Okx => format!("{base}-USDT-SWAP"),
            _ => format!("{base}USDT"),
        };
        let usd = (500.0 / rng.next_f64().max(1e-9).powf(1.0 / 1.3)).min(2e7);
        let offset = i64::try_from(i).unwrap_or(0) * span / i64::try_from(events).unwrap_or(1);
        Liquidation {
            exchange,
            symbol: symbol.into(),
            base: base.into(),
            quote: "USDT".into(),
            side: if rng.next_f64() < 0.6 {
                Side::Long
            } else {
                Side::Short
            },
            price: 100.0,
            quantity: usd / 100.0,
            usd,
            ts_ms: now_ms - span + offset,
        }
    })
}

/// Fills a store at `url` with history and times the 24h summary query.
pub async fn query_report(
    url: &str,
    events: usize,
    days: i64,
    queries: usize,
) -> anyhow::Result<String> {
    let store = SqlStore::open(url)
        .await
        .context("opening the bench store")?;
    let now = chrono::Utc::now().timestamp_millis();
    let have = store.event_count().await?;
    let mut out = String::new();
    if usize::try_from(have).unwrap_or(0) < events {
        let start = Instant::now();
        let mut batch = Vec::with_capacity(10_000);
        for e in history(events, days, now) {
            batch.push(e);
            if batch.len() == 10_000 {
                store.insert_batch(&batch).await?;
                batch.clear();
            }
        }
        store.insert_batch(&batch).await?;
        let secs = start.elapsed().as_secs_f64();
        out.push_str(&format!(
            "{}: stored {events} events over {days} days in {secs:.1}s ({:.0} events/s, batches of 10,000)\n",
            store.backend_name(),
            events as f64 / secs
        ));
    }
    // Warm-up: the pool opens its connections on first use, as a running bot has long done.
    // Several summaries at once, so it opens all it will ever use: a new PostgreSQL connection
    // took about 90 ms here (its TLS handshake runs before `TCP_NODELAY` can be set, see
    // `store::nodelay`), and one opened while timing showed as a p99 of 90 ms.
    for _ in 0..10 {
        let summaries = (0..4).map(|_| window_summary(&store, Window::H24, None, now, 5));
        for summary in futures_util::future::join_all(summaries).await {
            std::hint::black_box(summary?);
        }
    }
    let mut samples = Vec::with_capacity(queries);
    for i in 0..queries {
        // Shift the window end a little each time, so no two queries are the same.
        let at = now - i64::try_from(i).unwrap_or(0) * 7_000;
        let t = Instant::now();
        let summary = window_summary(&store, Window::H24, None, at, 5).await?;
        samples.push(t.elapsed());
        std::hint::black_box(summary);
    }
    let (median, p99) = median_p99(samples);
    out.push_str(&format!(
        "{}: 24h summary over {} stored events: median {:.2} ms, p99 {:.2} ms ({queries} queries)\n",
        store.backend_name(),
        store.event_count().await?,
        median.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3
    ));
    store.close().await;
    Ok(out)
}

/// Times the estimated-levels model over `days` days of synthetic 1-minute BTC candles with
/// open interest every 5 minutes, `runs` times, and returns the report.
#[must_use]
pub fn levels_report(days: u32, runs: usize) -> String {
    use crate::analytics::levels::{LevelParams, estimate_levels};

    let (candles, open_interest) = levels_market(days);
    let params = LevelParams::default();
    let mut samples = Vec::with_capacity(runs);
    let mut bins = 0;
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        let estimate = estimate_levels(&candles, &open_interest, &params);
        samples.push(t.elapsed());
        bins = estimate.map.bins.len();
        std::hint::black_box(estimate);
    }
    let (median, p99) = median_p99(samples);
    format!(
        "levels: {days} days of 1m candles ({}), median {:.2} ms, p99 {:.2} ms ({} runs, {} OI readings, {bins} bins in the final map)\n",
        candles.len(),
        median.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        runs.max(1),
        open_interest.len(),
    )
}

/// A seeded random walk of 1-minute BTC candles from 95,000 over `days` days, and one-sided
/// open interest read every 5 minutes that drifts around $8B with ups and downs.
fn levels_market(days: u32) -> (Vec<crate::model::Candle>, Vec<(i64, f64)>) {
    let minutes = i64::from(days) * 24 * 60;
    let start_ms = 1_767_225_600_000; // 2026-01-01 00:00 UTC
    let mut rng = SplitMix64::new(17);
    let mut price = 95_000.0_f64;
    let mut oi = 8e9_f64;
    let mut candles = Vec::with_capacity(usize::try_from(minutes).unwrap_or(0));
    let mut open_interest = vec![(start_ms, oi)];
    for m in 0..minutes {
        let open_ms = start_ms + m * 60_000;
        let open = price;
        // About 0.05% per minute, so a week moves a few percent and crosses many levels.
        price *= 1.0 + 0.0005 * rng.next_normal();
        let wick = |rng: &mut SplitMix64| 0.0003 * rng.next_normal().abs();
        candles.push(crate::model::Candle {
            exchange: Exchange::Binance,
            base: "BTC".to_owned(),
            open_ms,
            interval_secs: 60,
            open,
            high: open.max(price) * (1.0 + wick(&mut rng)),
            low: open.min(price) * (1.0 - wick(&mut rng)),
            close: price,
        });
        if (m + 1) % 5 == 0 {
            // Mean-reverting toward $8B, with shocks both ways (builds and flushes).
            oi = (oi + 0.02 * (8e9 - oi) + 4e7 * rng.next_normal()).max(1e9);
            open_interest.push((open_ms + 60_000, oi));
        }
    }
    (candles, open_interest)
}

/// The token the Telegram bench's bot and fake share.
/// Memory lines of `/proc/self/status` (`VmRSS`, `VmHWM`, `RssAnon`, `RssFile`), in KiB.
fn memory_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Resident memory of a steady run: a store filled with `events` of history over `days`, then
/// the bot streaming all three venues from the simulator (live) for `secs`, with the resident
/// set sampled every second. The simulator runs in this process too, so the figures are an
/// upper bound for the bot alone. `RssFile` is the store's pages read through SQLite's memory
/// map (shared with the page cache); `RssAnon` is the process's own memory.
///
/// # Errors
/// When the store or the simulator cannot start.
pub async fn memory_report(events: usize, days: i64, secs: u64) -> anyhow::Result<String> {
    use crate::sim::{SimOptions, SimServer};

    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("memory.db").display());
    let now = chrono::Utc::now().timestamp_millis();
    {
        let store = SqlStore::open(&url).await?;
        let mut batch = Vec::with_capacity(10_000);
        for e in history(events, days, now - 3_600_000) {
            batch.push(e);
            if batch.len() == 10_000 {
                store.insert_batch(&batch).await?;
                batch.clear();
            }
        }
        store.insert_batch(&batch).await?;
        store.close().await;
    }
    let sim = SimServer::start(SimOptions {
        history: Duration::from_secs(3_600),
        ..SimOptions::default()
    })
    .await?;
    let mut config = crate::config::Config::default();
    sim.configure(&mut config);
    config.store.url.clone_from(&url);
    let bot = crate::bot::Bot::start(&config).await?;
    let mut samples = Vec::new();
    for _ in 0..secs {
        tokio::time::sleep(Duration::from_secs(1)).await;
        // A summary now and then, as commands and posts would ask.
        std::hint::black_box(
            window_summary(
                &*bot.store,
                Window::H24,
                None,
                chrono::Utc::now().timestamp_millis(),
                5,
            )
            .await?,
        );
        samples.push((
            memory_kib("VmRSS"),
            memory_kib("RssAnon"),
            memory_kib("RssFile"),
        ));
    }
    let ingested = bot
        .ingest
        .inserted
        .load(std::sync::atomic::Ordering::Relaxed);
    bot.shutdown().await?.close().await;
    sim.stop().await;
    let steady = &samples[samples.len() / 2..];
    let median = |i: usize| {
        let mut v: Vec<u64> = steady.iter().map(|s| [s.0, s.1, s.2][i]).collect();
        v.sort_unstable();
        v.get(v.len() / 2).copied().unwrap_or(0) as f64 / 1024.0
    };
    let max_rss = samples.iter().map(|s| s.0).max().unwrap_or(0) as f64 / 1024.0;
    Ok(format!(
        "memory: three venues live for {secs} s over a store of {events} events ({days} days), {ingested} events ingested: \
         steady (second half) RSS {:.1} MiB (anonymous {:.1} MiB, store pages {:.1} MiB), max RSS {max_rss:.1} MiB; \
         the simulator runs in the same process\n",
        median(0),
        median(1),
        median(2),
    ))
}

const BENCH_TOKEN: &str = "1:bench";

/// The Telegram sender's counters of `bot`, as one line.
fn telegram_stats(bot: &crate::bot::Bot) -> String {
    bot.chat
        .telegram
        .as_ref()
        .map(|t| t.sender.stats().line())
        .unwrap_or_default()
}

/// Runs the whole bot against the fake Telegram Bot API with 24h of simulated liquidations and
/// sends `commands` `/heatmap btc 24h` commands from as many private chats, `per_second` a
/// second (within Telegram's 30 messages a second, so pacing never holds a reply). Reports the
/// median and p99 time from the fake's `getUpdates` handing an update out to the `sendPhoto`
/// arriving at the fake.
pub async fn telegram_report(commands: usize, per_second: u32) -> anyhow::Result<String> {
    use crate::sim::telegram::{ChatKind, FakeTelegram};

    let fake = FakeTelegram::start(BENCH_TOKEN, "LiqBench").await?;
    let (bot, events, _dir) = bench_bot(|config| {
        config.telegram.api_url = fake.url();
        config.telegram_token = Some(crate::config::Secret::new(BENCH_TOKEN));
    })
    .await?;
    // The dispatcher is polling once it has asked for getMe.
    fake.wait_for(Duration::from_secs(10), |calls| {
        calls.iter().any(|c| c.method == "getme")
    })
    .await;

    let photo_at = |chat: i64| {
        fake.delivered_to(chat)
            .into_iter()
            .find(|c| c.method == "sendphoto")
            .map(|c| c.at)
    };
    // Warm-up: the first render loads fonts and fills caches.
    for chat in 1..=3 {
        fake.push_message(chat, ChatKind::Private, Some(chat), "/heatmap btc 24h");
    }
    fake.wait_for(Duration::from_secs(30), |_| {
        (1..=3).all(|c| photo_at(c).is_some())
    })
    .await;

    let mut sent = Vec::with_capacity(commands);
    let mut tick = tokio::time::interval(Duration::from_secs(1) / per_second.max(1));
    for i in 0..commands {
        tick.tick().await;
        let chat = 10_000 + i64::try_from(i).unwrap_or(0);
        let id = fake.push_message(chat, ChatKind::Private, Some(chat), "/heatmap btc 24h");
        sent.push((chat, id));
    }
    let done =
        |_: &[crate::sim::telegram::Call]| sent.iter().all(|&(chat, _)| photo_at(chat).is_some());
    fake.wait_for(Duration::from_secs(120), done).await;
    let mut samples = Vec::with_capacity(commands);
    let mut missing = 0;
    for &(chat, id) in &sent {
        match (fake.served_at(id), photo_at(chat)) {
            (Some(served), Some(photo)) => samples.push(photo - served),
            _ => missing += 1,
        }
    }
    let stats = telegram_stats(&bot);
    bot.shutdown().await?.close().await;
    fake.stop().await;
    let (median, p99) = median_p99(samples.clone());
    Ok(format!(
        "telegram: /heatmap btc 24h over {} stored events, {commands} commands at {per_second}/s from \
         {commands} private chats: getUpdates -> sendPhoto median {:.1} ms, p99 {:.1} ms, max {:.1} ms; \
         {missing} without a photo; sender {stats}\n",
        events,
        median.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        samples
            .iter()
            .max()
            .copied()
            .unwrap_or_default()
            .as_secs_f64()
            * 1e3,
    ))
}

/// The whole bot on a temporary SQLite store with every source off and 24h of simulated
/// liquidations stored; `platform` points it at a fake. Returns the bot, the number of events
/// and the directory to keep alive.
/// One scheduled slot (a 24h summary job) to `chats` Telegram chats through the whole bot and
/// the fake Bot API: how long the fan-out took, the most sends the fake saw in any one second
/// (Telegram allows 30), the most to one chat, and the 429s. The slot is claimed, and so
/// rendered, once.
///
/// # Errors
/// When the fake or the bot cannot start.
pub async fn fanout_report(chats: usize) -> anyhow::Result<String> {
    use crate::sim::telegram::FakeTelegram;

    let fake = FakeTelegram::start(BENCH_TOKEN, "LiqBench").await?;
    let targets: Vec<String> = (0..chats).map(|i| format!("{}", 20_000 + i)).collect();
    // One slot, a few seconds from now (UTC), and none after it for a day.
    let at = chrono::Utc::now() + chrono::Duration::seconds(5);
    let (bot, events, _dir) = bench_bot(|config| {
        config.telegram.api_url = fake.url();
        config.telegram_token = Some(crate::config::Secret::new(BENCH_TOKEN));
        config.jobs.push(crate::config::JobConfig {
            name: "fanout".to_owned(),
            kind: "summary".to_owned(),
            coins: Vec::new(),
            window: "24h".to_owned(),
            schedule: at.format("%S %M %H * * *").to_string(),
            time_zone: "UTC".to_owned(),
            telegram: targets.clone(),
            discord: Vec::new(),
        });
    })
    .await?;
    let is_send =
        |c: &crate::sim::telegram::Call| c.method == "sendphoto" || c.method == "sendmessage";
    let calls = fake
        .wait_for(Duration::from_secs(60 + chats as u64 / 10), |calls| {
            calls
                .iter()
                .filter(|c| is_send(c) && c.status == 200)
                .count()
                >= chats
        })
        .await;
    let sends: Vec<_> = calls.iter().filter(|c| is_send(c)).collect();
    let mut per_chat: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for c in &sends {
        *per_chat.entry(c.params["chat_id"].to_string()).or_default() += 1;
    }
    let times: Vec<tokio::time::Instant> = sends.iter().map(|c| c.at).collect();
    let mut busiest = 0;
    let mut lo = 0;
    for hi in 0..times.len() {
        while times[hi] - times[lo] >= Duration::from_secs(1) {
            lo += 1;
        }
        busiest = busiest.max(hi - lo + 1);
    }
    let span = match (times.first(), times.last()) {
        (Some(a), Some(b)) => *b - *a,
        _ => Duration::ZERO,
    };
    let rate_limited = sends.iter().filter(|c| c.status == 429).count();
    let stats = telegram_stats(&bot);
    bot.shutdown().await?.close().await;
    fake.stop().await;
    Ok(format!(
        "fan-out: one 24h summary slot over {events} stored events to {chats} Telegram chats: \
         {} sends in {:.1} s, at most {busiest} in any second (limit 30), at most {} to one chat, \
         {rate_limited} answered 429, {} chats reached; sender {stats}\n",
        sends.len(),
        span.as_secs_f64(),
        per_chat.values().max().copied().unwrap_or(0),
        per_chat.len(),
    ))
}

async fn bench_bot(
    platform: impl FnOnce(&mut crate::config::Config),
) -> anyhow::Result<(crate::bot::Bot, usize, tempfile::TempDir)> {
    let dir = tempfile::tempdir()?;
    let mut config = crate::config::Config::default();
    config.store.url = format!("sqlite://{}", dir.path().join("bench.db").display());
    config.sources.binance.enabled = false;
    config.sources.bybit.enabled = false;
    config.sources.okx.enabled = false;
    config.market.enabled = false;
    // Discord's commands all come from one member in one channel; the limits must not be what
    // is measured.
    config.commands.image_limit = u32::MAX;
    config.commands.chat_limit = u32::MAX;
    platform(&mut config);
    let bot = crate::bot::Bot::start(&config).await?;
    let now = chrono::Utc::now().timestamp_millis();
    let mut market = Market::new(7, now - 86_400_000);
    let events: Vec<Liquidation> = market.advance_to(now).into_iter().map(|(_, e)| e).collect();
    for chunk in events.chunks(10_000) {
        bot.store.insert_batch(chunk).await?;
    }
    Ok((bot, events.len(), dir))
}

/// Runs the whole bot against the fake Discord with 24h of simulated liquidations and sends
/// `commands` `/heatmap coin:btc window:24h` interactions, `per_second` a second. Reports the
/// median and p99 time from the fake sending INTERACTION_CREATE to the final response (the
/// followup after the deferral) arriving at the fake.
pub async fn discord_report(commands: usize, per_second: u32) -> anyhow::Result<String> {
    use crate::sim::discord::{FakeDiscord, MEMBER_PERMISSIONS};

    let fake = FakeDiscord::start(BENCH_TOKEN).await?;
    let (bot, events, _dir) = bench_bot(|config| {
        config.discord.api_url = fake.url();
        config.discord.dev_guild_id = crate::sim::discord::GUILD_ID.to_string();
        config.discord_token = Some(crate::config::Secret::new(BENCH_TOKEN));
    })
    .await?;
    anyhow::ensure!(
        fake.wait_ready(Duration::from_secs(30)).await,
        "the bot did not connect to the fake Discord"
    );
    let heatmap = || {
        fake.slash(
            "heatmap",
            &[
                ("coin", 3, serde_json::json!("btc")),
                ("window", 4, serde_json::json!(3)),
            ],
            MEMBER_PERMISSIONS,
        )
    };
    // The final response is the followup the deferral promised.
    let answered_at = |token: &str| {
        fake.calls_for(token)
            .into_iter()
            .find(|c| c.path.starts_with("/webhooks/") && c.status == 200)
            .map(|c| c.at)
    };
    let warm: Vec<String> = (0..3).map(|_| fake.send_interaction(heatmap())).collect();
    fake.wait_for(Duration::from_secs(30), |_| {
        warm.iter().all(|t| answered_at(t).is_some())
    })
    .await;

    let mut tokens = Vec::with_capacity(commands);
    let mut tick = tokio::time::interval(Duration::from_secs(1) / per_second.max(1));
    for _ in 0..commands {
        tick.tick().await;
        tokens.push(fake.send_interaction(heatmap()));
    }
    fake.wait_for(Duration::from_secs(120), |_| {
        tokens.iter().all(|t| answered_at(t).is_some())
    })
    .await;
    let mut samples = Vec::with_capacity(commands);
    let mut missing = 0;
    for token in &tokens {
        match (fake.sent_at(token), answered_at(token)) {
            (Some(sent), Some(answered)) => samples.push(answered - sent),
            _ => missing += 1,
        }
    }
    bot.shutdown().await?.close().await;
    fake.stop().await;
    let (median, p99) = median_p99(samples.clone());
    Ok(format!(
        "discord: /heatmap coin:btc window:24h over {events} stored events, {commands} interactions at \
         {per_second}/s: INTERACTION_CREATE -> final response median {:.1} ms, p99 {:.1} ms, max {:.1} ms; \
         {missing} unanswered\n",
        median.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        samples
            .iter()
            .max()
            .copied()
            .unwrap_or_default()
            .as_secs_f64()
            * 1e3,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `bench ingest --frames FILE` reads the file's frames, counts what it cannot read, stores
    /// each event once and prints the USD totals the store computed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn ingest_from_a_frame_file_prints_the_usd_totals_of_its_events() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("frames.jsonl");
        let frame = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/binance/long_liquidated.json"
        ))
        .unwrap();
        let frame = frame.trim();
        // The same frame twice, a blank line (skipped) and a line that is not a frame.
        std::fs::write(&path, format!("{frame}\n\n{frame}\nnot json\n")).unwrap();
        let frames = ingest_frames(BenchVenue::Binance, Some(&path), 0).unwrap();
        assert_eq!(frames.len(), 3);
        let url = format!("sqlite://{}", dir.path().join("bench.db").display());
        let report = ingest_report(BenchVenue::Binance, &frames, &url, 500)
            .await
            .unwrap();
        assert!(
            report.contains("3 frames, 2 events (1 malformed frames"),
            "{report}"
        );
        assert!(report.contains("(1 stored, 1 duplicates)"), "{report}");
        // 0.288 BTC at the average fill price, 39,021.00.
        let line = format!(
            "    {:8} {:6} {:>9} {:>18.2}",
            "binance", "long", 1, 11_238.05
        );
        assert!(report.contains(&line), "{report}");
    }
}
