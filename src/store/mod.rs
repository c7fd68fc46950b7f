//! The store: raw liquidation events plus per-minute and per-hour buckets, on SQLite (the
//! embedded default) or PostgreSQL (for many instances), behind one trait.
//!
//! Writes come in batches. Each batch inserts the raw events it has not seen before (the dedup
//! key is the primary key, so an event seen twice, after a reconnect or by two collectors, is
//! stored once) and adds only those new events to the buckets, in one transaction. Window
//! queries read the buckets, never the raw events: a 24h answer is at most 60 minute rows and
//! 25 hour rows per series (an exchange, symbol and side, numbered in `liq_series`), however
//! much history there is.

/// Runs `$body` with `$pool` bound to the backend's pool; the body is compiled once per
/// backend, so the same query code serves both.
macro_rules! with_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.backend {
            Backend::Sqlite($pool) => $body,
            Backend::Postgres($pool) => $body,
        }
    };
}

mod deliveries;
mod market;
mod nodelay;
mod schema;
mod subscriptions;

pub use deliveries::{DeliveryRecord, DeliveryState, DeliveryStore};
pub use market::MarketStore;
pub use subscriptions::{Subscription, SubscriptionStore};

use std::collections::HashMap;
use std::future::Future;
use std::str::FromStr;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use smol_str::SmolStr;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, QueryBuilder, Row};

use crate::analytics::buckets::{BucketTotals, FxBuild};
use crate::analytics::heatmap::{BinnedUsd, HeatAxis};
use crate::analytics::{
    Largest, MinuteBuckets, MinuteRange, Summary, SummaryInput, Window, WindowRow, summarize,
};
use crate::model::{Exchange, Liquidation, Side};

/// Most rows per multi-row INSERT; 10 binds each keeps well under both backends' bind limits.
const INSERT_CHUNK: usize = 512;

/// `items` in chunks of [`INSERT_CHUNK`] rows, the rest in power-of-two chunks: a handful of
/// statement shapes, each prepared once per connection and then reused from the statement
/// cache, where one chunk per batch of any length would be a new statement to parse each time.
fn chunks<T>(items: &[T]) -> impl Iterator<Item = &[T]> {
    let mut rest = items;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let n = if rest.len() >= INSERT_CHUNK {
            INSERT_CHUNK
        } else {
            1 << rest.len().ilog2()
        };
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        Some(chunk)
    })
}

/// One shared copy of each text a batch binds. sqlx copies a `&str` bind into a new `String`
/// in a new `Arc`, two allocations per bind that sqlx's SQLite worker thread then frees; an
/// `Arc<str>` bind costs a reference count. A batch binds a few names (venues, symbols, sides)
/// thousands of times.
#[derive(Default)]
struct Texts(HashMap<SmolStr, Arc<str>, FxBuild>);

impl Texts {
    fn get(&mut self, text: &str) -> Arc<str> {
        if let Some(shared) = self.0.get(text) {
            return Arc::clone(shared);
        }
        let shared: Arc<str> = Arc::from(text);
        self.0.insert(SmolStr::new(text), Arc::clone(&shared));
        shared
    }
}

/// A bucket row to write: its slot, its series' number and its totals.
type BucketRow<'a> = (i64, i64, &'a BucketTotals);

/// The `buckets` keyed by their series' numbers in `ids`, in key order, the order every writer
/// locks rows in.
fn bucket_rows<'a>(
    buckets: &'a MinuteBuckets,
    ids: &SeriesIds,
) -> Result<Vec<BucketRow<'a>>, StoreError> {
    let mut rows = buckets
        .iter()
        .map(|(k, totals)| {
            let series = ids.get(k.exchange, k.symbol, k.side).ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "no series number for {} {} {}",
                    k.exchange, k.symbol, k.side
                ))
            })?;
            Ok((k.slot, series, totals))
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    rows.sort_unstable_by_key(|&(slot, series, _)| (slot, series));
    Ok(rows)
}

/// One statement of a batch's write: a chunk of raw events, or of bucket rows for a table.
enum Part<'a> {
    Events(&'a [&'a Liquidation]),
    Buckets(&'static str, &'a [BucketRow<'a>]),
}

impl Part<'_> {
    /// The statement that writes this part (events skip keys already stored), binding names
    /// from `texts`; `greatest` is the backend's `max` of two values.
    fn statement<DB>(&self, greatest: &str, texts: &mut Texts) -> QueryBuilder<DB>
    where
        DB: sqlx::Database,
        for<'a> Arc<str>: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
        for<'a> f64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
        for<'a> i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    {
        match self {
            Self::Events(chunk) => insert_events(chunk, "", texts),
            Self::Buckets(table, rows) => upsert_buckets(table, rows, greatest),
        }
    }
}

/// A batch's statements, in order: its `events`, then the minute and hour bucket rows.
fn parts<'a>(
    events: &'a [&'a Liquidation],
    minutes: &'a [BucketRow<'a>],
    hours: &'a [BucketRow<'a>],
) -> impl Iterator<Item = Part<'a>> {
    chunks(events)
        .map(Part::Events)
        .chain(chunks(minutes).map(|c| Part::Buckets("liq_minute", c)))
        .chain(chunks(hours).map(|c| Part::Buckets("liq_hour", c)))
}

/// Executes `statements` in order inside `tx`, making the next one while the database runs
/// the current one, and returns each one's result. Binding a chunk costs about a third of what
/// running it does on SQLite; made one after the other, SQLite would wait for every one.
async fn execute_pipelined<DB>(
    tx: &mut sqlx::Transaction<'_, DB>,
    mut statements: impl Iterator<Item = QueryBuilder<DB>>,
) -> Result<Vec<DB::QueryResult>, sqlx::Error>
where
    DB: sqlx::Database,
    DB::Arguments: sqlx::IntoArguments<DB>,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
{
    let mut next = statements.next();
    let mut done = Vec::new();
    while let Some(mut query) = next {
        // `biased`: the statement goes to the database first, then the next one is made.
        let (result, made) = tokio::join!(biased; query.build().execute(&mut **tx), async {
            statements.next()
        });
        done.push(result?);
        next = made;
    }
    Ok(done)
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL is neither `sqlite://...` nor `postgres://...`.
    #[error("unsupported store url (use sqlite://PATH or postgres://...)")]
    UnsupportedUrl,
    /// The database refused or failed an operation; the writer retries the batch.
    #[error("database error: {0}")]
    Database(sqlx::Error),
    /// A stored row holds a value this version cannot read (an unknown exchange, say).
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

// Not `#[from]`: that would also make the sqlx error the source, and error chains would
// print its message twice.
impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        Self::Database(e)
    }
}

/// What a batch insert did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InsertOutcome {
    /// Events stored for the first time.
    pub inserted: usize,
    /// Events already stored (or repeated within the batch), skipped.
    pub duplicates: usize,
}

/// The operations every backend provides.
pub trait Store: Send + Sync {
    /// Stores the events not stored before and adds them to the buckets, atomically.
    fn insert_batch(
        &self,
        events: &[Liquidation],
    ) -> impl Future<Output = Result<InsertOutcome, StoreError>> + Send;

    /// Totals per exchange, coin and side over a range of minutes, from the buckets.
    fn window_rows(
        &self,
        range: MinuteRange,
        coin: Option<&str>,
    ) -> impl Future<Output = Result<Vec<WindowRow>, StoreError>> + Send;

    /// USD liquidated over a range of minutes, every exchange, coin and side together.
    fn window_usd(
        &self,
        range: MinuteRange,
        coin: Option<&str>,
    ) -> impl Future<Output = Result<f64, StoreError>> + Send;

    /// The largest single liquidation in a range of minutes.
    fn largest(
        &self,
        range: MinuteRange,
        coin: Option<&str>,
    ) -> impl Future<Output = Result<Option<Largest>, StoreError>> + Send;

    /// The lowest and highest positive price of one coin's events in `[from_ms, to_ms)`;
    /// `None` without events.
    fn price_range(
        &self,
        from_ms: i64,
        to_ms: i64,
        coin: &str,
    ) -> impl Future<Output = Result<Option<(f64, f64)>, StoreError>> + Send;

    /// One coin's USD in the window of `axis`, summed per heatmap cell and side in the
    /// database, so a heatmap reads a few hundred rows instead of every event.
    fn heat_cells(
        &self,
        coin: &str,
        axis: &HeatAxis,
    ) -> impl Future<Output = Result<Vec<BinnedUsd>, StoreError>> + Send;

    /// The raw events in `[from_ms, to_ms)`, of one coin or all, oldest first.
    fn events(
        &self,
        from_ms: i64,
        to_ms: i64,
        coin: Option<&str>,
    ) -> impl Future<Output = Result<Vec<Liquidation>, StoreError>> + Send;

    /// The start (ms) of the first minute the store holds data for.
    fn collected_since_ms(&self) -> impl Future<Output = Result<Option<i64>, StoreError>> + Send;

    /// Number of raw events stored.
    fn event_count(&self) -> impl Future<Output = Result<i64, StoreError>> + Send;

    /// Deletes raw events and minute buckets older than `before_ms`; hour buckets stay.
    fn prune(&self, before_ms: i64) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

/// Computes a window summary from any store.
pub async fn window_summary<S: Store>(
    store: &S,
    window: Window,
    coin: Option<&str>,
    now_ms: i64,
    top_n: usize,
) -> Result<Summary, StoreError> {
    let range = window.range_ending_at(now_ms);
    // Four independent reads, run at once on the pool's connections.
    let (current, previous_usd, largest, collected_since_ms) = tokio::try_join!(
        store.window_rows(range, coin),
        store.window_usd(range.previous(), coin),
        store.largest(range, coin),
        store.collected_since_ms(),
    )?;
    Ok(summarize(SummaryInput {
        window,
        coin: coin.map(str::to_owned),
        range,
        current,
        previous_usd,
        largest,
        collected_since_ms,
        top_n,
    }))
}

enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// The sqlx store, on SQLite or PostgreSQL depending on its URL.
pub struct SqlStore {
    backend: Backend,
    /// The number of every series the buckets hold, as last read from `liq_series`.
    series: std::sync::Mutex<Arc<SeriesIds>>,
}

/// The numbers of the series (exchange, symbol and side) that bucket rows are keyed by.
#[derive(Debug, Default)]
struct SeriesIds([HashMap<SmolStr, [Option<i64>; 2], FxBuild>; Exchange::ALL.len()]);

impl SeriesIds {
    fn get(&self, exchange: Exchange, symbol: &str, side: Side) -> Option<i64> {
        self.0[exchange as usize].get(symbol)?[side_index(side)]
    }
}

fn side_index(side: Side) -> usize {
    match side {
        Side::Long => 0,
        Side::Short => 1,
    }
}

impl SqlStore {
    /// Opens (creating if needed) the store at `url` and brings its schema up to date.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let backend = if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                // Reads through a shared memory map instead of each connection's own page
                // cache: a window's index pages are read once for every connection.
                .pragma("mmap_size", "1073741824")
                // SQLite's default 2 MiB page cache per connection. 16 MiB wrote about 5% faster
                // in `bench ingest` but each connection's cache filled over the soak's first
                // minutes, +24 MiB of heap in four (docs/operations.md).
                .pragma("cache_size", "-2048");
            let pool = SqlitePoolOptions::new()
                .max_connections(4)
                .connect_with(options)
                .await?;
            Backend::Sqlite(pool)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            // No parallel workers and no JIT: every query here reads a few thousand rows
            // through an index in a few milliseconds, less than starting workers or compiling
            // takes. Once the server has analyzed the bucket tables it planned the 24h summary
            // in parallel, and the summary went from 8 ms to 31 ms; before it has (a store
            // just migrated, or a server without autovacuum), the estimates pass
            // `jit_above_cost`, and compiling took 16 ms of a 2 ms query (issue 9's notes).
            let options = PgConnectOptions::from_str(url)?
                .options([("max_parallel_workers_per_gather", "0"), ("jit", "off")]);
            let pool = PgPoolOptions::new()
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        nodelay::enable(conn).await;
                        Ok(())
                    })
                })
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await?;
            Backend::Postgres(pool)
        } else {
            return Err(StoreError::UnsupportedUrl);
        };
        let store = Self {
            backend,
            series: std::sync::Mutex::default(),
        };
        store.migrate().await?;
        Ok(store)
    }

    /// The backend's name, for logs and benchmarks.
    #[must_use]
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// The store's size on disk in bytes (SQLite: the pages in use; PostgreSQL: the database).
    ///
    /// # Errors
    /// When the database cannot be asked.
    pub async fn size_bytes(&self) -> Result<i64, StoreError> {
        Ok(match &self.backend {
            Backend::Sqlite(pool) => {
                sqlx::query_scalar(
                    "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
                )
                .fetch_one(pool)
                .await?
            }
            Backend::Postgres(pool) => {
                sqlx::query_scalar("SELECT pg_database_size(current_database())")
                    .fetch_one(pool)
                    .await?
            }
        })
    }

    /// Closes the pool, waiting for connections to finish (flushes SQLite's WAL).
    pub async fn close(&self) {
        with_pool!(self, pool => pool.close().await);
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let (migrations, lock) = match self.backend {
            Backend::Sqlite(_) => (schema::SQLITE, None),
            // Many instances may start at once: serialise their migrations.
            Backend::Postgres(_) => (
                schema::POSTGRES,
                Some("SELECT pg_advisory_xact_lock(7212024)"),
            ),
        };
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            if let Some(lock) = lock {
                sqlx::raw_sql(lock).execute(&mut *tx).await?;
            }
            sqlx::raw_sql("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
                .execute(&mut *tx)
                .await?;
            let done: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM schema_version")
                .fetch_one(&mut *tx)
                .await?;
            for (i, sql) in migrations.iter().enumerate().skip(usize::try_from(done).unwrap_or(0)) {
                sqlx::raw_sql(*sql).execute(&mut *tx).await?;
                sqlx::query("INSERT INTO schema_version (version) VALUES ($1)")
                    .bind(i64::try_from(i + 1).unwrap_or(i64::MAX))
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    fn greatest(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite(_) => "max",
            Backend::Postgres(_) => "GREATEST",
        }
    }

    /// The numbers of every series `events` fall in, numbering the new ones. A series is new
    /// when an instrument is listed or a store is young, so almost every batch finds all of
    /// them in memory. New ones are inserted outside the batch's transaction (another instance
    /// may insert the same ones at once; the unique key makes both read the same number), and
    /// then every number is read again.
    async fn series_ids(&self, events: &[&Liquidation]) -> Result<Arc<SeriesIds>, StoreError> {
        let known = Arc::clone(&self.series.lock().unwrap_or_else(PoisonError::into_inner));
        let mut new: Vec<&Liquidation> = events
            .iter()
            .filter(|e| known.get(e.exchange, &e.symbol, e.side).is_none())
            .copied()
            .collect();
        if new.is_empty() {
            return Ok(known);
        }
        fn series(e: &Liquidation) -> (&str, &str, &str) {
            (e.exchange.as_str(), e.symbol.as_str(), e.side.as_str())
        }
        new.sort_unstable_by(|a, b| series(a).cmp(&series(b)));
        new.dedup_by(|a, b| series(a) == series(b));
        let rows: Vec<(i64, String, String, String)> = with_pool!(self, pool => {
            for chunk in chunks(&new) {
                let mut qb = QueryBuilder::new("INSERT INTO liq_series (exchange, symbol, side, base) ");
                qb.push_values(chunk, |mut row, e| {
                    row.push_bind(e.exchange.as_str())
                        .push_bind(e.symbol.to_string())
                        .push_bind(e.side.as_str())
                        .push_bind(e.base.to_string());
                });
                qb.push(" ON CONFLICT (exchange, symbol, side) DO NOTHING");
                qb.build().execute(pool).await?;
            }
            sqlx::query_as("SELECT id, exchange, symbol, side FROM liq_series")
                .fetch_all(pool)
                .await?
        });
        let mut ids = SeriesIds::default();
        for (id, exchange, symbol, side) in rows {
            // A series of a venue this version does not know was written by a newer one.
            if let (Ok(exchange), Ok(side)) = (parse_exchange(&exchange), parse_side(&side)) {
                ids.0[exchange as usize]
                    .entry(SmolStr::new(symbol))
                    .or_default()[side_index(side)] = Some(id);
            }
        }
        let ids = Arc::new(ids);
        *self.series.lock().unwrap_or_else(PoisonError::into_inner) = Arc::clone(&ids);
        Ok(ids)
    }
}

/// The SQL that adds a batch of bucket rows to `table`.
fn bucket_upsert_sql(table: &str, greatest: &str) -> String {
    format!(
        " ON CONFLICT (slot, series) DO UPDATE SET \
         usd = {table}.usd + excluded.usd, cnt = {table}.cnt + excluded.cnt, \
         max_usd = {greatest}({table}.max_usd, excluded.max_usd), \
         max_price = CASE WHEN excluded.max_usd > {table}.max_usd \
         THEN excluded.max_price ELSE {table}.max_price END, \
         max_ts_ms = CASE WHEN excluded.max_usd > {table}.max_usd \
         THEN excluded.max_ts_ms ELSE {table}.max_ts_ms END"
    )
}

/// The condition that keeps bucket rows of the coin bound at `$n`.
fn coin_filter(n: u8) -> String {
    format!(" AND series IN (SELECT id FROM liq_series WHERE base = ${n})")
}

/// The statement that reads bucket rows over a range covered as [`MinuteRange::cover`] says
/// (binds $1..$10: the hours, two minute ranges to add and two to subtract; $11 for the coin
/// when `coin` is true), selecting `columns` of each row, which may use `{sign}`: empty for
/// rows added, `-` for rows subtracted.
fn cover_sql(columns: &str, coin: bool) -> String {
    let filter = if coin { coin_filter(11) } else { String::new() };
    let part = |table: &str, sign: &str, a: u8| {
        format!(
            "SELECT {} FROM {table} WHERE slot >= ${a} AND slot < ${}{filter}",
            columns.replace("{sign}", sign),
            a + 1
        )
    };
    [
        part("liq_hour", "", 1),
        part("liq_minute", "", 3),
        part("liq_minute", "", 5),
        part("liq_minute", "-", 7),
        part("liq_minute", "-", 9),
    ]
    .join(" UNION ALL ")
}

/// The binds of [`cover_sql`] for `range`, in order.
fn cover_binds(range: MinuteRange) -> impl Iterator<Item = i64> {
    let c = range.cover();
    [c.hours, c.plus[0], c.plus[1], c.minus[0], c.minus[1]]
        .into_iter()
        .flat_map(|r| [r.start, r.end])
}

/// The three parts of a range (leading minutes, whole hours, trailing minutes) as binds.
fn range_binds(range: MinuteRange) -> [i64; 6] {
    let (a, h, b) = range.split_hours();
    [a.start, a.end, h.start, h.end, b.start, b.end]
}

/// A UNION over the minute and hour tables for a range split by [`range_binds`] (binds $1..$6,
/// and $7 for the coin when `coin` is true), selecting `minute` columns from minute buckets and
/// `hour` columns from hour buckets.
fn union_sql(minute: &str, hour: &str, coin: bool) -> String {
    let filter = if coin { &coin_filter(7) } else { "" };
    format!(
        "SELECT {minute} FROM liq_minute WHERE slot >= $1 AND slot < $2{filter} \
         UNION ALL SELECT {hour} FROM liq_hour WHERE slot >= $3 AND slot < $4{filter} \
         UNION ALL SELECT {minute} FROM liq_minute WHERE slot >= $5 AND slot < $6{filter}"
    )
}

fn parse_exchange(s: &str) -> Result<Exchange, StoreError> {
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("exchange {s:?}")))
}

fn parse_side(s: &str) -> Result<Side, StoreError> {
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("side {s:?}")))
}

/// The columns of the raw events' primary key: the coin, then what makes one forced order.
/// The coin comes first because raw events are read one coin over a time range; it follows
/// from the exchange and symbol, so it adds nothing to what tells two orders apart.
const EVENT_KEY: &str = "base, ts_ms, exchange, symbol, side, price, quantity";

/// An event's primary key in the store, comparable in Rust: the same forced order seen twice
/// (after a reconnect, or by two collectors) has the same key, two distinct orders differ.
/// Prices and quantities compare by their bits, which order positive doubles by value.
fn event_key(e: &Liquidation) -> (&str, i64, &str, &str, &str, u64, u64) {
    (
        e.base.as_str(),
        e.ts_ms,
        e.exchange.as_str(),
        e.symbol.as_str(),
        e.side.as_str(),
        e.price.to_bits(),
        e.quantity.to_bits(),
    )
}

/// The coins that have raw events, as a common table expression `coins(base)` for a statement
/// that reads or deletes every coin's events over a time range through the key. One index seek
/// per coin (a loose index scan), where `SELECT DISTINCT base` would read every event; the last
/// row is NULL.
const COINS: &str = "WITH RECURSIVE coins(base) AS ( \
     SELECT MIN(base) FROM liquidations \
     UNION ALL SELECT (SELECT MIN(l.base) FROM liquidations l WHERE l.base > coins.base) \
     FROM coins WHERE coins.base IS NOT NULL) ";

/// The statement that reads raw events from `$1` to `$2` (ms), oldest first: of the coin `$3`
/// when `one_coin`, else of every coin. Either way a range of the key per coin.
fn events_sql(one_coin: bool) -> String {
    let (with, coins) = if one_coin {
        ("", "base = $3")
    } else {
        (
            COINS,
            "base IN (SELECT base FROM coins WHERE base IS NOT NULL)",
        )
    };
    format!(
        "{with}SELECT exchange, symbol, base, quote, side, price, quantity, usd, ts_ms \
         FROM liquidations WHERE {coins} AND ts_ms >= $1 AND ts_ms < $2 ORDER BY ts_ms"
    )
}

/// The statement that deletes every coin's raw events before `$1` (ms): a range of the key per
/// coin.
fn prune_sql() -> String {
    format!(
        "{COINS}DELETE FROM liquidations \
         WHERE base IN (SELECT base FROM coins WHERE base IS NOT NULL) AND ts_ms < $1"
    )
}

/// The lowest and highest price of the coin `$1`'s raw events from `$2` to `$3` (ms).
const PRICE_RANGE_SQL: &str = "SELECT MIN(price), MAX(price) FROM liquidations \
     WHERE base = $1 AND ts_ms >= $2 AND ts_ms < $3 AND price > 0";

/// The statement that sums the coin `$1`'s raw events from `$2` to `$3` (ms) into heatmap
/// cells: columns of `$4` ms, price bins of `$6` from `$5`, per side. The bin is
/// floor((price - price_min) / bin_size), computed in IEEE doubles as `HeatAxis::row` does;
/// SQLite's CAST truncates (the same for the non-negative values every price above price_min
/// gives), PostgreSQL's would round, hence FLOOR there.
fn heat_sql(sqlite: bool) -> String {
    let row = if sqlite {
        "CAST((price - $5) / $6 AS INTEGER)"
    } else {
        "CAST(FLOOR((price - $5) / $6) AS BIGINT)"
    };
    format!(
        "SELECT (ts_ms - $2) / $4 AS col, {row} AS bin, side, SUM(usd) FROM liquidations \
         WHERE base = $1 AND ts_ms >= $2 AND ts_ms < $3 GROUP BY col, bin, side"
    )
}

/// A multi-row upsert of bucket `rows` into `table`, adding them to the rows there.
fn upsert_buckets<DB>(table: &str, rows: &[BucketRow<'_>], greatest: &str) -> QueryBuilder<DB>
where
    DB: sqlx::Database,
    for<'a> f64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    for<'a> i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    let mut qb = QueryBuilder::new(format!(
        "INSERT INTO {table} (slot, series, usd, cnt, max_usd, max_price, max_ts_ms) "
    ));
    qb.push_values(rows, |mut row, (slot, series, t)| {
        row.push_bind(*slot)
            .push_bind(*series)
            .push_bind(t.usd)
            .push_bind(t.count)
            .push_bind(t.max_usd)
            .push_bind(t.max_price)
            .push_bind(t.max_ts_ms);
    });
    qb.push(bucket_upsert_sql(table, greatest));
    qb
}

/// A multi-row INSERT of `chunk` into the raw events, skipping keys already stored, with
/// `returning` appended; names are bound from `texts`.
fn insert_events<DB>(chunk: &[&Liquidation], returning: &str, texts: &mut Texts) -> QueryBuilder<DB>
where
    DB: sqlx::Database,
    for<'a> Arc<str>: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    for<'a> f64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    for<'a> i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    let mut qb = QueryBuilder::new(format!(
        "INSERT INTO liquidations ({EVENT_KEY}, quote, usd) "
    ));
    qb.push_values(chunk, |mut row, e| {
        row.push_bind(texts.get(&e.base))
            .push_bind(e.ts_ms)
            .push_bind(texts.get(e.exchange.as_str()))
            .push_bind(texts.get(&e.symbol))
            .push_bind(texts.get(e.side.as_str()))
            .push_bind(e.price)
            .push_bind(e.quantity)
            .push_bind(texts.get(&e.quote))
            .push_bind(e.usd);
    });
    qb.push(format!(" ON CONFLICT ({EVENT_KEY}) DO NOTHING"));
    qb.push(returning);
    qb
}

impl Store for SqlStore {
    async fn insert_batch(&self, events: &[Liquidation]) -> Result<InsertOutcome, StoreError> {
        // One key order for every writer, so two collectors on PostgreSQL never deadlock; an
        // event repeated within the batch is kept once.
        let mut unique: Vec<&Liquidation> = events.iter().collect();
        unique.sort_unstable_by(|a, b| event_key(a).cmp(&event_key(b)));
        unique.dedup_by(|a, b| event_key(a) == event_key(b));
        let greatest = self.greatest();
        let ids = self.series_ids(&unique).await?;
        let mut texts = Texts::default();
        let inserted = with_pool!(self, pool => {
            // SQLite has one writer at a time, and almost every batch holds new events only:
            // insert without RETURNING (each returned row is a round trip through sqlx's
            // worker thread) and compare the row count. A batch holding events stored before
            // (after a reconnect) is rolled back and written again, learning which are new.
            // PostgreSQL instances may share events, so they always ask.
            let mut written = None;
            if matches!(self.backend, Backend::Sqlite(_)) {
                // The buckets as if every event is new; when one is not, the whole transaction
                // is rolled back, buckets with it.
                let mut minutes = MinuteBuckets::new();
                for e in &unique {
                    minutes.record(e);
                }
                let hours = minutes.hourly();
                let minute_rows = bucket_rows(&minutes, &ids)?;
                let hour_rows = bucket_rows(&hours, &ids)?;
                let mut tx = pool.begin().await?;
                let statements = parts(&unique, &minute_rows, &hour_rows)
                    .map(|part| part.statement(greatest, &mut texts));
                let results = execute_pipelined(&mut tx, statements).await?;
                let affected: u64 = results
                    .iter()
                    .take(chunks(&unique).count())
                    .map(|r| r.rows_affected())
                    .sum();
                if usize::try_from(affected).ok() == Some(unique.len()) {
                    tx.commit().await?;
                    written = Some(unique.len());
                } else {
                    tx.rollback().await?;
                }
            }
            match written {
                Some(n) => n,
                None => {
                    let mut tx = pool.begin().await?;
                    let mut fresh = vec![false; unique.len()];
                    let returning = format!(" RETURNING {EVENT_KEY}");
                    for chunk in chunks(&unique) {
                        let keys: Vec<(String, i64, String, String, String, f64, f64)> =
                            insert_events(chunk, &returning, &mut texts)
                                .build_query_as()
                                .fetch_all(&mut *tx)
                                .await?;
                        for (base, ts_ms, exchange, symbol, side, price, quantity) in &keys {
                            let key = (
                                base.as_str(),
                                *ts_ms,
                                exchange.as_str(),
                                symbol.as_str(),
                                side.as_str(),
                                price.to_bits(),
                                quantity.to_bits(),
                            );
                            if let Ok(i) = unique.binary_search_by(|e| event_key(e).cmp(&key)) {
                                fresh[i] = true;
                            }
                        }
                    }
                    let mut minutes = MinuteBuckets::new();
                    for (e, _) in unique.iter().zip(&fresh).filter(|(_, fresh)| **fresh) {
                        minutes.record(e);
                    }
                    let hours = minutes.hourly();
                    let minute_rows = bucket_rows(&minutes, &ids)?;
                    let hour_rows = bucket_rows(&hours, &ids)?;
                    let statements = parts(&[], &minute_rows, &hour_rows)
                        .map(|part| part.statement(greatest, &mut texts));
                    execute_pipelined(&mut tx, statements).await?;
                    tx.commit().await?;
                    fresh.iter().filter(|f| **f).count()
                }
            }
        });
        Ok(InsertOutcome {
            inserted,
            duplicates: events.len() - inserted,
        })
    }

    async fn window_rows(
        &self,
        range: MinuteRange,
        coin: Option<&str>,
    ) -> Result<Vec<WindowRow>, StoreError> {
        // Whole hours from the hour buckets, plus or minus at most 30 minutes of minute
        // buckets at each edge (see `MinuteRange::cover`), summed per series, whose names are
        // then joined to the hundred or so sums: grouping thousands of rows by one number is
        // what makes this fast. Counts are summed as doubles (exact below 2^53): PostgreSQL
        // sums BIGINTs as NUMERIC, a third of the query's time.
        let sql = format!(
            "SELECT s.exchange, s.base, s.side, SUM(t.usd) AS usd, \
             CAST(SUM(t.cnt) AS BIGINT) AS cnt FROM \
             (SELECT series, SUM(usd) AS usd, SUM(cnt) AS cnt FROM ({}) u GROUP BY series) t \
             JOIN liq_series s ON s.id = t.series GROUP BY s.exchange, s.base, s.side \
             HAVING SUM(t.cnt) <> 0 ORDER BY s.exchange, s.base, s.side",
            cover_sql(
                "series, {sign}usd AS usd, {sign}CAST(cnt AS DOUBLE PRECISION) AS cnt",
                coin.is_some()
            )
        );
        let rows = with_pool!(self, pool => {
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for v in cover_binds(range) {
                q = q.bind(v);
            }
            if let Some(coin) = coin {
                q = q.bind(coin);
            }
            let mut out = Vec::new();
            for row in q.fetch_all(pool).await? {
                out.push(WindowRow {
                    exchange: parse_exchange(row.try_get("exchange")?)?,
                    base: row.try_get("base")?,
                    side: parse_side(row.try_get("side")?)?,
                    usd: row.try_get("usd")?,
                    count: row.try_get("cnt")?,
                });
            }
            out
        });
        Ok(rows)
    }

    async fn window_usd(&self, range: MinuteRange, coin: Option<&str>) -> Result<f64, StoreError> {
        // The rows `window_rows` reads, summed without grouping.
        let sql = format!(
            "SELECT SUM(usd) FROM ({}) u",
            cover_sql("{sign}usd AS usd", coin.is_some())
        );
        let usd: Option<f64> = with_pool!(self, pool => {
            let mut q = sqlx::query_scalar(AssertSqlSafe(sql));
            for v in cover_binds(range) {
                q = q.bind(v);
            }
            if let Some(coin) = coin {
                q = q.bind(coin);
            }
            q.fetch_one(pool).await?
        });
        Ok(usd.unwrap_or(0.0))
    }

    async fn largest(
        &self,
        range: MinuteRange,
        coin: Option<&str>,
    ) -> Result<Option<Largest>, StoreError> {
        // Every bucket keeps its largest order's price and time; the names are joined to the
        // one row found.
        let columns = "series, max_usd, max_price, max_ts_ms";
        let sql = format!(
            "SELECT s.exchange, s.symbol, s.side, s.base, t.max_usd, t.max_price, t.max_ts_ms \
             FROM (SELECT * FROM ({}) u ORDER BY max_usd DESC LIMIT 1) t \
             JOIN liq_series s ON s.id = t.series",
            union_sql(columns, columns, coin.is_some())
        );
        with_pool!(self, pool => {
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for v in range_binds(range) {
                q = q.bind(v);
            }
            if let Some(coin) = coin {
                q = q.bind(coin);
            }
            let Some(bucket) = q.fetch_optional(pool).await? else {
                return Ok(None);
            };
            Ok(Some(Largest {
                exchange: parse_exchange(bucket.try_get("exchange")?)?,
                base: bucket.try_get("base")?,
                symbol: bucket.try_get("symbol")?,
                side: parse_side(bucket.try_get("side")?)?,
                usd: bucket.try_get("max_usd")?,
                // NULL in hour buckets whose events were pruned before buckets kept them.
                price: bucket.try_get("max_price")?,
                ts_ms: bucket.try_get("max_ts_ms")?,
            }))
        })
    }

    async fn price_range(
        &self,
        from_ms: i64,
        to_ms: i64,
        coin: &str,
    ) -> Result<Option<(f64, f64)>, StoreError> {
        let (lo, hi): (Option<f64>, Option<f64>) = with_pool!(self, pool => {
            sqlx::query_as(PRICE_RANGE_SQL)
                .bind(coin)
                .bind(from_ms)
                .bind(to_ms)
                .fetch_one(pool)
                .await?
        });
        Ok(lo.zip(hi))
    }

    async fn heat_cells(&self, coin: &str, axis: &HeatAxis) -> Result<Vec<BinnedUsd>, StoreError> {
        let sql = heat_sql(matches!(self.backend, Backend::Sqlite(_)));
        let rows: Vec<(i64, i64, String, f64)> = with_pool!(self, pool => {
            sqlx::query_as(AssertSqlSafe(sql))
                .bind(coin)
                .bind(axis.start_ms)
                .bind(axis.end_ms)
                .bind(axis.column_ms)
                .bind(axis.price_min)
                .bind(axis.bin_size)
                .fetch_all(pool)
                .await?
        });
        rows.into_iter()
            .map(|(column, row, side, usd)| {
                Ok(BinnedUsd {
                    column,
                    row,
                    side: parse_side(&side)?,
                    usd,
                })
            })
            .collect()
    }

    async fn events(
        &self,
        from_ms: i64,
        to_ms: i64,
        coin: Option<&str>,
    ) -> Result<Vec<Liquidation>, StoreError> {
        with_pool!(self, pool => {
            let sql = events_sql(coin.is_some());
            let mut q = sqlx::query(AssertSqlSafe(sql)).bind(from_ms).bind(to_ms);
            if let Some(coin) = coin {
                q = q.bind(coin);
            }
            q.fetch_all(pool)
                .await?
                .iter()
                .map(|r| {
                    Ok(Liquidation {
                        exchange: parse_exchange(r.try_get("exchange")?)?,
                        symbol: r.try_get::<&str, _>("symbol")?.into(),
                        base: r.try_get::<&str, _>("base")?.into(),
                        quote: r.try_get::<&str, _>("quote")?.into(),
                        side: parse_side(r.try_get("side")?)?,
                        price: r.try_get("price")?,
                        quantity: r.try_get("quantity")?,
                        usd: r.try_get("usd")?,
                        ts_ms: r.try_get("ts_ms")?,
                    })
                })
                .collect()
        })
    }

    async fn collected_since_ms(&self) -> Result<Option<i64>, StoreError> {
        let first: Option<i64> = with_pool!(self, pool => {
            sqlx::query_scalar("SELECT MIN(slot) FROM liq_minute").fetch_one(pool).await?
        });
        Ok(first.map(|m| m * 60_000))
    }

    async fn event_count(&self) -> Result<i64, StoreError> {
        Ok(with_pool!(self, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM liquidations").fetch_one(pool).await?
        }))
    }

    async fn prune(&self, before_ms: i64) -> Result<u64, StoreError> {
        Ok(with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let raw = sqlx::query(AssertSqlSafe(prune_sql()))
            .bind(before_ms)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            sqlx::query("DELETE FROM liq_minute WHERE slot < $1")
                .bind(before_ms.div_euclid(60_000))
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            raw
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_come_in_few_shapes_and_cover_every_item_once() {
        for n in [0, 1, 5, 511, 512, 513, 1_300] {
            let items: Vec<usize> = (0..n).collect();
            let parts: Vec<&[usize]> = chunks(&items).collect();
            assert_eq!(parts.concat(), items);
            assert!(
                parts
                    .iter()
                    .all(|c| c.len().is_power_of_two() && c.len() <= INSERT_CHUNK)
            );
        }
    }

    /// A store written before buckets kept their largest event's price and time gets them
    /// from its raw events when it is opened, and drops the indexes it no longer needs.
    #[tokio::test]
    async fn migration_fills_the_largest_of_buckets_written_before() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("old.db").display());
        let options = SqliteConnectOptions::from_str(&url)
            .unwrap()
            .create_if_missing(true);
        let pool = SqlitePool::connect_with(options).await.unwrap();
        let before = schema::SQLITE
            .iter()
            .position(|m| m.contains("max_price"))
            .unwrap();
        sqlx::raw_sql("CREATE TABLE schema_version (version BIGINT NOT NULL)")
            .execute(&pool)
            .await
            .unwrap();
        for (i, sql) in schema::SQLITE[..before].iter().enumerate() {
            sqlx::raw_sql(*sql).execute(&pool).await.unwrap();
            sqlx::query("INSERT INTO schema_version (version) VALUES ($1)")
                .bind(i64::try_from(i + 1).unwrap())
                .execute(&pool)
                .await
                .unwrap();
        }
        // Two orders in minute 1 (hour 0); the larger is at 61 s, price 200.
        for (key, price, usd, ts) in [("a", 100.0, 1_000.0, 60_500), ("b", 200.0, 5_000.0, 61_000)]
        {
            sqlx::query(
                "INSERT INTO liquidations VALUES ($1, 'binance', 'BTCUSDT', 'BTC', 'USDT', 'long', $2, 1, $3, $4)",
            )
            .bind(key)
            .bind(price)
            .bind(usd)
            .bind(ts)
            .execute(&pool)
            .await
            .unwrap();
        }
        for (table, slot) in [("liq_minute", 1), ("liq_hour", 0)] {
            sqlx::query(AssertSqlSafe(format!(
                "INSERT INTO {table} VALUES ($1, 'binance', 'BTCUSDT', 'long', 'BTC', 6000, 2, 5000)"
            )))
            .bind(slot)
            .execute(&pool)
            .await
            .unwrap();
        }
        pool.close().await;

        let store = SqlStore::open(&url).await.unwrap();
        for range in [
            MinuteRange { start: 0, end: 2 },
            MinuteRange { start: 0, end: 60 },
        ] {
            let largest = store.largest(range, Some("BTC")).await.unwrap().unwrap();
            assert_eq!(
                (largest.usd, largest.price, largest.ts_ms),
                (5_000.0, Some(200.0), Some(61_000)),
                "{range:?}"
            );
        }
        let indexes: Vec<String> = with_pool!(store, pool => {
            sqlx::query_scalar(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'liquidations' \
                 AND sql IS NOT NULL ORDER BY name",
            )
            .fetch_all(pool)
            .await
            .unwrap()
        });
        // The later move to the coin-first key dropped the last one.
        assert_eq!(indexes, Vec::<String>::new());
        // New events keep the bucket's largest up to date.
        let mut bigger = store.events(0, 120_000, None).await.unwrap()[0].clone();
        bigger.usd = 9_000.0;
        bigger.price = 300.0;
        bigger.ts_ms = 90_000;
        store.insert_batch(&[bigger]).await.unwrap();
        let largest = store
            .largest(MinuteRange { start: 0, end: 60 }, None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (largest.usd, largest.price, largest.ts_ms),
            (9_000.0, Some(300.0), Some(90_000))
        );
        store.close().await;
    }

    /// The SQL that brings an empty database to just before migration `target` (1-based
    /// count of migrations applied), as `migrate` would have, for either backend.
    fn schema_before(migrations: &[&str], target: usize) -> String {
        let mut sql = String::from("CREATE TABLE schema_version (version BIGINT NOT NULL);");
        for (i, m) in migrations[..target].iter().enumerate() {
            sql.push_str(m);
            sql.push_str(&format!(
                ";INSERT INTO schema_version (version) VALUES ({});",
                i + 1
            ));
        }
        sql
    }

    /// Events written under the text key, as versions before the natural key wrote them.
    fn old_rows(events: &[Liquidation]) -> String {
        events
            .iter()
            .map(|e| {
                format!(
                    "INSERT INTO liquidations VALUES ('{}', '{}', '{}', '{}', '{}', '{}', {:?}, {:?}, {:?}, {});",
                    e.dedup_key(),
                    e.exchange.as_str(),
                    e.symbol,
                    e.base,
                    e.quote,
                    e.side.as_str(),
                    e.price,
                    e.quantity,
                    e.usd,
                    e.ts_ms
                )
            })
            .collect()
    }

    fn event(ts_ms: i64, price: f64, side: Side) -> Liquidation {
        let quantity = 0.1 + 0.2;
        Liquidation {
            exchange: Exchange::Okx,
            symbol: "BTC-USDT-SWAP".into(),
            base: "BTC".into(),
            quote: "USDT".into(),
            side,
            price,
            quantity,
            usd: price * quantity,
            ts_ms,
        }
    }

    /// Checks a store written under an earlier key, now opened: its events survived the move
    /// exactly, the same events are still recognised as stored, new ones are not, and pruning
    /// deletes by time.
    async fn check_moved_events(store: &SqlStore, old: &[Liquidation]) {
        let mut kept = store.events(0, i64::MAX, Some("BTC")).await.unwrap();
        kept.sort_by_key(|e| e.ts_ms);
        assert_eq!(kept, old, "{}", store.backend_name());
        let new = event(3_000, 101.5, Side::Long);
        let outcome = store
            .insert_batch(&[old[1].clone(), new.clone(), old[0].clone(), new.clone()])
            .await
            .unwrap();
        assert_eq!((outcome.inserted, outcome.duplicates), (1, 3));
        assert_eq!(store.event_count().await.unwrap(), 3);
        // Same time, other side: another order.
        let mut other = old[0].clone();
        other.side = Side::Short;
        assert_eq!(store.insert_batch(&[other]).await.unwrap().inserted, 1);
        assert_eq!(store.prune(2_500).await.unwrap(), 3);
        assert_eq!(store.events(0, i64::MAX, Some("BTC")).await.unwrap(), [new]);
    }

    /// Every statement that reads or deletes raw events finds them through the key, per coin:
    /// SQLite's plan searches the table and never scans it.
    #[tokio::test]
    async fn raw_events_are_read_and_pruned_through_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("plan.db").display());
        let store = SqlStore::open(&url).await.unwrap();
        let Backend::Sqlite(pool) = &store.backend else {
            unreachable!()
        };
        for sql in [
            events_sql(true),
            events_sql(false),
            prune_sql(),
            PRICE_RANGE_SQL.to_owned(),
            heat_sql(true),
        ] {
            let plan: Vec<(i64, i64, i64, String)> =
                sqlx::query_as(AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
                    .fetch_all(pool)
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
            let plan: Vec<String> = plan.into_iter().map(|(.., detail)| detail).collect();
            let plan = plan.join("; ");
            assert!(
                plan.contains(
                    "SEARCH liquidations USING PRIMARY KEY (base=? AND ts_ms>? AND ts_ms<?)"
                ) || plan.contains("SEARCH liquidations USING PRIMARY KEY (base=? AND ts_ms<?)"),
                "{sql}: {plan}"
            );
            assert!(!plan.contains("SCAN liquidations"), "{sql}: {plan}");
        }
        store.close().await;
    }

    /// The 0-based place of the first migration containing `marker`.
    fn migration_index(migrations: &[&str], marker: &str) -> usize {
        migrations.iter().position(|m| m.contains(marker)).unwrap()
    }

    /// Events as the natural key (time, exchange, symbol, side, price, quantity) stored them.
    fn natural_key_rows(events: &[Liquidation]) -> String {
        events
            .iter()
            .map(|e| {
                format!(
                    "INSERT INTO liquidations (ts_ms, exchange, symbol, side, price, quantity, base, quote, usd) \
                     VALUES ({}, '{}', '{}', '{}', {:?}, {:?}, '{}', '{}', {:?});",
                    e.ts_ms,
                    e.exchange.as_str(),
                    e.symbol,
                    e.side.as_str(),
                    e.price,
                    e.quantity,
                    e.base,
                    e.quote,
                    e.usd
                )
            })
            .collect()
    }

    /// Builds a store just before the first migration containing `marker`, on SQLite and (when
    /// `.ci/run` names a server) on PostgreSQL, writes `old` with `rows`, opens it as this
    /// version and checks the events with [`check_moved_events`].
    async fn check_key_migration(marker: &str, rows: fn(&[Liquidation]) -> String) {
        let old = [
            event(1_000, 100.1, Side::Long),
            event(2_000, 99.7, Side::Short),
        ];
        check_migration(marker, &rows(&old), async |store: &SqlStore| {
            check_moved_events(store, &old).await;
        })
        .await;
    }

    /// Builds a store just before the first migration containing `marker`, on SQLite and (when
    /// `.ci/run` names a server) on PostgreSQL, runs `rows` in it, opens it as this version and
    /// runs `check` on it.
    async fn check_migration(marker: &str, rows: &str, check: impl AsyncFn(&SqlStore)) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("old.db").display());
        let options = SqliteConnectOptions::from_str(&url)
            .unwrap()
            .create_if_missing(true);
        let pool = SqlitePool::connect_with(options).await.unwrap();
        let setup = schema_before(schema::SQLITE, migration_index(schema::SQLITE, marker)) + rows;
        sqlx::raw_sql(AssertSqlSafe(setup))
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
        let store = SqlStore::open(&url).await.unwrap();
        check(&store).await;
        store.close().await;

        let Some((admin, name, url)) = scratch_postgres("migration").await else {
            return;
        };
        let pool = PgPool::connect(&url).await.unwrap();
        let setup =
            schema_before(schema::POSTGRES, migration_index(schema::POSTGRES, marker)) + rows;
        sqlx::raw_sql(AssertSqlSafe(setup))
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
        let store = SqlStore::open(&url).await.unwrap();
        check(&store).await;
        store.close().await;
        sqlx::raw_sql(AssertSqlSafe(format!("DROP DATABASE {name} WITH (FORCE)")))
            .execute(&admin)
            .await
            .unwrap();
    }

    /// Bucket rows as versions before series numbers wrote them: two series, in minutes 1 and
    /// 2 and hour 0, with their largest orders.
    const NAMED_BUCKETS: &str = "
        INSERT INTO liq_minute (slot, exchange, symbol, side, base, usd, cnt, max_usd, max_price, max_ts_ms)
            VALUES (1, 'binance', 'BTCUSDT', 'long', 'BTC', 6000, 2, 5000, 200, 61000),
                   (2, 'okx', 'ETH-USDT-SWAP', 'short', 'ETH', 300, 1, 300, 10, 120500);
        INSERT INTO liq_hour (slot, exchange, symbol, side, base, usd, cnt, max_usd, max_price, max_ts_ms)
            VALUES (0, 'binance', 'BTCUSDT', 'long', 'BTC', 6000, 2, 5000, 200, 61000),
                   (0, 'okx', 'ETH-USDT-SWAP', 'short', 'ETH', 300, 1, 300, 10, 120500);";

    /// Checks a store whose buckets were written by name, now opened: every sum, count and
    /// largest order reads as before, and new events add to the same series.
    async fn check_moved_buckets(store: &SqlStore) {
        let name = store.backend_name();
        let row = |exchange, base: &str, side, usd, count| WindowRow {
            exchange,
            base: base.to_owned(),
            side,
            usd,
            count,
        };
        let btc = row(Exchange::Binance, "BTC", Side::Long, 6_000.0, 2);
        let eth = row(Exchange::Okx, "ETH", Side::Short, 300.0, 1);
        // From minute buckets (minutes 0 to 2) and from the hour bucket (minutes 0 to 59).
        for range in [
            MinuteRange { start: 0, end: 3 },
            MinuteRange { start: 0, end: 60 },
        ] {
            let rows = store.window_rows(range, None).await.unwrap();
            assert_eq!(rows, [btc.clone(), eth.clone()], "{name} {range:?}");
            assert_eq!(store.window_usd(range, None).await.unwrap(), 6_300.0);
            assert_eq!(store.window_usd(range, Some("ETH")).await.unwrap(), 300.0);
            let rows = store.window_rows(range, Some("ETH")).await.unwrap();
            assert_eq!(rows, std::slice::from_ref(&eth), "{name} {range:?}");
            let largest = store.largest(range, None).await.unwrap().unwrap();
            assert_eq!(
                (
                    largest.exchange,
                    largest.symbol.as_str(),
                    largest.side,
                    largest.usd,
                    largest.price,
                    largest.ts_ms
                ),
                (
                    Exchange::Binance,
                    "BTCUSDT",
                    Side::Long,
                    5_000.0,
                    Some(200.0),
                    Some(61_000)
                ),
                "{name} {range:?}"
            );
        }
        let new = Liquidation {
            exchange: Exchange::Binance,
            symbol: "BTCUSDT".into(),
            base: "BTC".into(),
            quote: "USDT".into(),
            side: Side::Long,
            price: 250.0,
            quantity: 4.0,
            usd: 1_000.0,
            ts_ms: 62_000,
        };
        assert_eq!(store.insert_batch(&[new]).await.unwrap().inserted, 1);
        for range in [
            MinuteRange { start: 0, end: 3 },
            MinuteRange { start: 0, end: 60 },
        ] {
            let rows = store.window_rows(range, Some("BTC")).await.unwrap();
            assert_eq!(
                rows,
                [row(Exchange::Binance, "BTC", Side::Long, 7_000.0, 3)],
                "{name} {range:?}"
            );
        }
        let series: i64 = with_pool!(store, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM liq_series")
                .fetch_one(pool)
                .await
                .unwrap()
        });
        assert_eq!(series, 2, "{name}");
    }

    /// Buckets written by exchange, symbol and side move to series numbers when the store is
    /// opened, on SQLite and (when `.ci/run` names a server) on PostgreSQL.
    #[tokio::test]
    async fn buckets_stored_by_name_move_to_series_numbers() {
        check_migration("liq_series", NAMED_BUCKETS, check_moved_buckets).await;
    }

    /// A new database on the PostgreSQL server `.ci/run` names (none without one): the admin
    /// pool that drops it after, its name and its URL.
    async fn scratch_postgres(tag: &str) -> Option<(PgPool, String, String)> {
        let admin_url = std::env::var("LIQBOT_TEST_DATABASE_URL").ok()?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        // Named like the integration tests' databases, which drop ones left behind.
        let name = format!("liqbot_t_{now}_{}_{tag}", std::process::id());
        let admin = PgPool::connect(&admin_url).await.unwrap();
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&admin)
            .await
            .unwrap();
        let (base, _) = admin_url.rsplit_once('/').unwrap();
        let url = format!("{base}/{name}");
        Some((admin, name, url))
    }

    /// The store's PostgreSQL connections plan without parallel workers and without JIT
    /// compilation, which cost more to start than its queries take.
    #[tokio::test]
    async fn postgres_connections_plan_without_parallel_workers_or_jit() {
        let Some((admin, name, url)) = scratch_postgres("parallel").await else {
            return;
        };
        let store = SqlStore::open(&url).await.unwrap();
        let Backend::Postgres(pool) = &store.backend else {
            unreachable!()
        };
        let workers: String = sqlx::query_scalar("SHOW max_parallel_workers_per_gather")
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(workers, "0");
        let jit: String = sqlx::query_scalar("SHOW jit")
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(jit, "off");
        store.close().await;
        sqlx::raw_sql(AssertSqlSafe(format!("DROP DATABASE {name} WITH (FORCE)")))
            .execute(&admin)
            .await
            .unwrap();
    }

    /// A store from before the natural key, through every later key change.
    #[tokio::test]
    async fn events_stored_under_the_text_key_move_to_the_natural_key() {
        check_key_migration("(ts_ms, exchange, symbol, side, price, quantity)", old_rows).await;
    }

    /// A store under the natural key moves to the coin-first key.
    #[tokio::test]
    async fn events_stored_under_the_natural_key_move_to_the_coin_key() {
        check_key_migration(
            "(base, ts_ms, exchange, symbol, side, price, quantity)",
            natural_key_rows,
        )
        .await;
    }
}
