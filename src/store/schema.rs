//! Schema migrations for both backends, applied in order and recorded in `schema_version`.
//!
//! Append a migration to both lists to change the schema; never edit one that has shipped.

/// SQLite migrations, in order.
pub const SQLITE: &[&str] = &[
    r"
CREATE TABLE liquidations (
    dedup_key TEXT PRIMARY KEY NOT NULL,
    exchange  TEXT NOT NULL,
    symbol    TEXT NOT NULL,
    base      TEXT NOT NULL,
    quote     TEXT NOT NULL,
    side      TEXT NOT NULL,
    price     REAL NOT NULL,
    quantity  REAL NOT NULL,
    usd       REAL NOT NULL,
    ts_ms     INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX liquidations_ts ON liquidations (ts_ms);
CREATE INDEX liquidations_lookup ON liquidations (exchange, symbol, side, ts_ms);
CREATE TABLE liq_minute (
    slot     INTEGER NOT NULL,
    exchange TEXT NOT NULL,
    symbol   TEXT NOT NULL,
    side     TEXT NOT NULL,
    base     TEXT NOT NULL,
    usd      REAL NOT NULL,
    cnt      INTEGER NOT NULL,
    max_usd  REAL NOT NULL,
    PRIMARY KEY (slot, exchange, symbol, side)
) WITHOUT ROWID;
CREATE TABLE liq_hour (
    slot     INTEGER NOT NULL,
    exchange TEXT NOT NULL,
    symbol   TEXT NOT NULL,
    side     TEXT NOT NULL,
    base     TEXT NOT NULL,
    usd      REAL NOT NULL,
    cnt      INTEGER NOT NULL,
    max_usd  REAL NOT NULL,
    PRIMARY KEY (slot, exchange, symbol, side)
) WITHOUT ROWID;
",
    MARKET_SQLITE,
    SUBSCRIPTIONS_SQLITE,
    PRICE_POINTS_INDEX,
    DELIVERIES_SQLITE,
    DELIVERY_MESSAGE_ID,
    STORE_PROBE,
    BUCKET_LARGEST_SQLITE,
    NATURAL_KEY_SQLITE,
    COIN_KEY_SQLITE,
    SERIES_SQLITE,
];

/// Market context: candles, open interest, Fear & Greed.
const MARKET_SQLITE: &str = r"
CREATE TABLE candles (
    exchange      TEXT NOT NULL,
    base          TEXT NOT NULL,
    interval_secs INTEGER NOT NULL,
    open_ms       INTEGER NOT NULL,
    open          REAL NOT NULL,
    high          REAL NOT NULL,
    low           REAL NOT NULL,
    close         REAL NOT NULL,
    PRIMARY KEY (exchange, base, interval_secs, open_ms)
) WITHOUT ROWID;
CREATE TABLE open_interest (
    exchange TEXT NOT NULL,
    base     TEXT NOT NULL,
    ts_ms    INTEGER NOT NULL,
    usd      REAL NOT NULL,
    PRIMARY KEY (base, ts_ms, exchange)
) WITHOUT ROWID;
CREATE TABLE fear_greed (
    ts_ms          INTEGER PRIMARY KEY NOT NULL,
    value          INTEGER NOT NULL,
    classification TEXT NOT NULL
);
";

/// PostgreSQL migrations, in order.
pub const POSTGRES: &[&str] = &[
    r"
CREATE TABLE liquidations (
    dedup_key TEXT PRIMARY KEY NOT NULL,
    exchange  TEXT NOT NULL,
    symbol    TEXT NOT NULL,
    base      TEXT NOT NULL,
    quote     TEXT NOT NULL,
    side      TEXT NOT NULL,
    price     DOUBLE PRECISION NOT NULL,
    quantity  DOUBLE PRECISION NOT NULL,
    usd       DOUBLE PRECISION NOT NULL,
    ts_ms     BIGINT NOT NULL
);
CREATE INDEX liquidations_ts ON liquidations (ts_ms);
CREATE INDEX liquidations_lookup ON liquidations (exchange, symbol, side, ts_ms);
CREATE TABLE liq_minute (
    slot     BIGINT NOT NULL,
    exchange TEXT NOT NULL,
    symbol   TEXT NOT NULL,
    side     TEXT NOT NULL,
    base     TEXT NOT NULL,
    usd      DOUBLE PRECISION NOT NULL,
    cnt      BIGINT NOT NULL,
    max_usd  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (slot, exchange, symbol, side)
);
CREATE TABLE liq_hour (
    slot     BIGINT NOT NULL,
    exchange TEXT NOT NULL,
    symbol   TEXT NOT NULL,
    side     TEXT NOT NULL,
    base     TEXT NOT NULL,
    usd      DOUBLE PRECISION NOT NULL,
    cnt      BIGINT NOT NULL,
    max_usd  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (slot, exchange, symbol, side)
);
",
    MARKET_POSTGRES,
    SUBSCRIPTIONS_POSTGRES,
    PRICE_POINTS_INDEX,
    DELIVERIES_POSTGRES,
    DELIVERY_MESSAGE_ID,
    STORE_PROBE,
    BUCKET_LARGEST_POSTGRES,
    NATURAL_KEY_POSTGRES,
    COIN_KEY_POSTGRES,
    SERIES_POSTGRES,
];

/// Each bucket keeps the price and time of its largest liquidation, so the largest of a window
/// is read from the buckets alone. That lets the raw events drop two of their three secondary
/// indexes: every index is one more B-tree written per event, and they halved the insert rate.
/// Buckets of events already stored are filled from them first (hour buckets past retention
/// have no raw events left and stay NULL: their largest shows without a price).
macro_rules! bucket_largest {
    ($real:literal, $int:literal) => {
        concat!(
            "ALTER TABLE liq_minute ADD COLUMN max_price ",
            $real,
            ";
ALTER TABLE liq_minute ADD COLUMN max_ts_ms ",
            $int,
            ";
ALTER TABLE liq_hour ADD COLUMN max_price ",
            $real,
            ";
ALTER TABLE liq_hour ADD COLUMN max_ts_ms ",
            $int,
            ";
UPDATE liq_minute SET (max_price, max_ts_ms) = (
    SELECT l.price, l.ts_ms FROM liquidations l
    WHERE l.exchange = liq_minute.exchange AND l.symbol = liq_minute.symbol
      AND l.side = liq_minute.side AND l.ts_ms >= liq_minute.slot * 60000
      AND l.ts_ms < liq_minute.slot * 60000 + 60000
    ORDER BY l.usd DESC LIMIT 1);
UPDATE liq_hour SET (max_price, max_ts_ms) = (
    SELECT l.price, l.ts_ms FROM liquidations l
    WHERE l.exchange = liq_hour.exchange AND l.symbol = liq_hour.symbol
      AND l.side = liq_hour.side AND l.ts_ms >= liq_hour.slot * 3600000
      AND l.ts_ms < liq_hour.slot * 3600000 + 3600000
    ORDER BY l.usd DESC LIMIT 1);
DROP INDEX liquidations_lookup;
DROP INDEX liquidations_ts;
"
        )
    };
}

/// See [`bucket_largest`].
const BUCKET_LARGEST_SQLITE: &str = bucket_largest!("REAL", "INTEGER");

/// See [`bucket_largest`].
const BUCKET_LARGEST_POSTGRES: &str = bucket_largest!("DOUBLE PRECISION", "BIGINT");

/// Raw events keyed by the fields that make one forced order (time, exchange, symbol, side,
/// price, quantity) instead of a text key built from them: the key was about 60 bytes, stored
/// twice per event (in the table and in the coin index) and formatted for every event written.
/// On SQLite the time-first key also makes each batch an append at the table's end, and lets
/// pruning delete a range. The table is rebuilt there (a WITHOUT ROWID table cannot change its
/// key); no two stored events can collide, as the old key held the same fields.
const NATURAL_KEY_SQLITE: &str = r"
CREATE TABLE liquidations_keyed (
    ts_ms    INTEGER NOT NULL,
    exchange TEXT NOT NULL,
    symbol   TEXT NOT NULL,
    side     TEXT NOT NULL,
    price    REAL NOT NULL,
    quantity REAL NOT NULL,
    base     TEXT NOT NULL,
    quote    TEXT NOT NULL,
    usd      REAL NOT NULL,
    PRIMARY KEY (ts_ms, exchange, symbol, side, price, quantity)
) WITHOUT ROWID;
INSERT OR IGNORE INTO liquidations_keyed
    (ts_ms, exchange, symbol, side, price, quantity, base, quote, usd)
    SELECT ts_ms, exchange, symbol, side, price, quantity, base, quote, usd
    FROM liquidations ORDER BY ts_ms;
DROP TABLE liquidations;
ALTER TABLE liquidations_keyed RENAME TO liquidations;
CREATE INDEX liquidations_base_ts ON liquidations (base, ts_ms, price, usd, side);
";

/// See [`NATURAL_KEY_SQLITE`]; dropping the key column drops its primary key.
const NATURAL_KEY_POSTGRES: &str = r"
ALTER TABLE liquidations DROP COLUMN dedup_key;
ALTER TABLE liquidations ADD PRIMARY KEY (ts_ms, exchange, symbol, side, price, quantity);
";

/// Raw events keyed by coin first, then time: `(base, ts_ms, exchange, symbol, side, price,
/// quantity)`. Every reader of raw events but one asks for one coin over a time range (heatmaps,
/// level maps, price ranges), which is now a range of the key itself, so the coin index
/// (`liquidations_base_ts`) goes: it was a second B-tree written per event, about a third of
/// SQLite's insert time. The base follows from the exchange and symbol, so the key identifies the
/// same forced orders as before. On SQLite the table is rebuilt (a WITHOUT ROWID table cannot
/// change its key).
const COIN_KEY_SQLITE: &str = r"
CREATE TABLE liquidations_by_coin (
    ts_ms    INTEGER NOT NULL,
    exchange TEXT NOT NULL,
    symbol   TEXT NOT NULL,
    side     TEXT NOT NULL,
    price    REAL NOT NULL,
    quantity REAL NOT NULL,
    base     TEXT NOT NULL,
    quote    TEXT NOT NULL,
    usd      REAL NOT NULL,
    PRIMARY KEY (base, ts_ms, exchange, symbol, side, price, quantity)
) WITHOUT ROWID;
INSERT OR IGNORE INTO liquidations_by_coin
    (ts_ms, exchange, symbol, side, price, quantity, base, quote, usd)
    SELECT ts_ms, exchange, symbol, side, price, quantity, base, quote, usd
    FROM liquidations ORDER BY base, ts_ms;
DROP TABLE liquidations;
ALTER TABLE liquidations_by_coin RENAME TO liquidations;
";

/// See [`COIN_KEY_SQLITE`]. The key's index carries `usd` too, so a heatmap's read stays within
/// the index, as it did within `liquidations_base_ts`.
const COIN_KEY_POSTGRES: &str = r"
DROP INDEX liquidations_base_ts;
ALTER TABLE liquidations DROP CONSTRAINT liquidations_pkey;
ALTER TABLE liquidations ADD PRIMARY KEY (base, ts_ms, exchange, symbol, side, price, quantity)
    INCLUDE (usd);
";

/// Buckets keyed by `(slot, series)`, where a series is one exchange, symbol and side, numbered
/// in `liq_series`. A window sums a few thousand bucket rows per group; grouped by one number
/// instead of three names, SQLite's window query ran 2.7 times faster and the whole 24h
/// summary 2.5 times (issue 9's notes), and a bucket row is two numbers instead of four names
/// to write. Series are never deleted.
const SERIES_SQLITE: &str = r"
CREATE TABLE liq_series (
    id       INTEGER PRIMARY KEY,
    exchange TEXT NOT NULL,
    symbol   TEXT NOT NULL,
    side     TEXT NOT NULL,
    base     TEXT NOT NULL,
    UNIQUE (exchange, symbol, side)
);
INSERT INTO liq_series (exchange, symbol, side, base)
    SELECT exchange, symbol, side, MIN(base) FROM (
        SELECT exchange, symbol, side, base FROM liq_hour
        UNION ALL SELECT exchange, symbol, side, base FROM liq_minute
    ) GROUP BY exchange, symbol, side ORDER BY exchange, symbol, side;
CREATE TABLE liq_minute_series (
    slot      INTEGER NOT NULL,
    series    INTEGER NOT NULL,
    usd       REAL NOT NULL,
    cnt       INTEGER NOT NULL,
    max_usd   REAL NOT NULL,
    max_price REAL,
    max_ts_ms INTEGER,
    PRIMARY KEY (slot, series)
) WITHOUT ROWID;
CREATE TABLE liq_hour_series (
    slot      INTEGER NOT NULL,
    series    INTEGER NOT NULL,
    usd       REAL NOT NULL,
    cnt       INTEGER NOT NULL,
    max_usd   REAL NOT NULL,
    max_price REAL,
    max_ts_ms INTEGER,
    PRIMARY KEY (slot, series)
) WITHOUT ROWID;
INSERT INTO liq_minute_series
    SELECT b.slot, s.id, b.usd, b.cnt, b.max_usd, b.max_price, b.max_ts_ms
    FROM liq_minute b JOIN liq_series s
        ON s.exchange = b.exchange AND s.symbol = b.symbol AND s.side = b.side
    ORDER BY b.slot, s.id;
INSERT INTO liq_hour_series
    SELECT b.slot, s.id, b.usd, b.cnt, b.max_usd, b.max_price, b.max_ts_ms
    FROM liq_hour b JOIN liq_series s
        ON s.exchange = b.exchange AND s.symbol = b.symbol AND s.side = b.side
    ORDER BY b.slot, s.id;
DROP TABLE liq_minute;
DROP TABLE liq_hour;
ALTER TABLE liq_minute_series RENAME TO liq_minute;
ALTER TABLE liq_hour_series RENAME TO liq_hour;
";

/// See [`SERIES_SQLITE`]. The new tables are analyzed at once, so their first plans do not
/// wait for autovacuum.
const SERIES_POSTGRES: &str = r"
CREATE TABLE liq_series (
    id       BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    exchange TEXT NOT NULL,
    symbol   TEXT NOT NULL,
    side     TEXT NOT NULL,
    base     TEXT NOT NULL,
    UNIQUE (exchange, symbol, side)
);
INSERT INTO liq_series (exchange, symbol, side, base)
    SELECT exchange, symbol, side, MIN(base) FROM (
        SELECT exchange, symbol, side, base FROM liq_hour
        UNION ALL SELECT exchange, symbol, side, base FROM liq_minute
    ) b GROUP BY exchange, symbol, side ORDER BY exchange, symbol, side;
CREATE TABLE liq_minute_series (
    slot      BIGINT NOT NULL,
    series    BIGINT NOT NULL,
    usd       DOUBLE PRECISION NOT NULL,
    cnt       BIGINT NOT NULL,
    max_usd   DOUBLE PRECISION NOT NULL,
    max_price DOUBLE PRECISION,
    max_ts_ms BIGINT,
    PRIMARY KEY (slot, series)
);
CREATE TABLE liq_hour_series (
    slot      BIGINT NOT NULL,
    series    BIGINT NOT NULL,
    usd       DOUBLE PRECISION NOT NULL,
    cnt       BIGINT NOT NULL,
    max_usd   DOUBLE PRECISION NOT NULL,
    max_price DOUBLE PRECISION,
    max_ts_ms BIGINT,
    PRIMARY KEY (slot, series)
);
INSERT INTO liq_minute_series
    SELECT b.slot, s.id, b.usd, b.cnt, b.max_usd, b.max_price, b.max_ts_ms
    FROM liq_minute b JOIN liq_series s
        ON s.exchange = b.exchange AND s.symbol = b.symbol AND s.side = b.side
    ORDER BY b.slot, s.id;
INSERT INTO liq_hour_series
    SELECT b.slot, s.id, b.usd, b.cnt, b.max_usd, b.max_price, b.max_ts_ms
    FROM liq_hour b JOIN liq_series s
        ON s.exchange = b.exchange AND s.symbol = b.symbol AND s.side = b.side
    ORDER BY b.slot, s.id;
DROP TABLE liq_minute;
DROP TABLE liq_hour;
ALTER TABLE liq_minute_series RENAME TO liq_minute;
ALTER TABLE liq_hour_series RENAME TO liq_hour;
ALTER TABLE liq_minute RENAME CONSTRAINT liq_minute_series_pkey TO liq_minute_pkey;
ALTER TABLE liq_hour RENAME CONSTRAINT liq_hour_series_pkey TO liq_hour_pkey;
ANALYZE liq_series;
ANALYZE liq_minute;
ANALYZE liq_hour;
";

/// One row rewritten at start (and by health checks): proves the store can be written.
const STORE_PROBE: &str =
    "CREATE TABLE store_probe (id INTEGER PRIMARY KEY, written_ms BIGINT NOT NULL);";

/// The platform's id of a delivered message, so an alert that grows can be edited in place.
const DELIVERY_MESSAGE_ID: &str = "ALTER TABLE deliveries ADD COLUMN message_id TEXT;";

/// Scheduled slots: who claimed each (one instance renders and sends it), and how each target
/// fared, so a restart or a second instance never sends a slot twice.
const DELIVERIES_SQLITE: &str = r"
CREATE TABLE slot_claims (
    slot       TEXT PRIMARY KEY NOT NULL,
    fire_ms    INTEGER NOT NULL,
    owner      TEXT NOT NULL,
    claimed_ms INTEGER NOT NULL,
    done       INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE deliveries (
    slot       TEXT NOT NULL,
    platform   TEXT NOT NULL,
    target     TEXT NOT NULL,
    fire_ms    INTEGER NOT NULL,
    state      TEXT NOT NULL,
    detail     TEXT,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (slot, platform, target)
) WITHOUT ROWID;
CREATE INDEX deliveries_state ON deliveries (state, fire_ms);
CREATE TABLE scheduler_checkpoint (
    id         INTEGER PRIMARY KEY NOT NULL,
    checked_ms INTEGER NOT NULL
);
";

/// See [`DELIVERIES_SQLITE`].
const DELIVERIES_POSTGRES: &str = r"
CREATE TABLE slot_claims (
    slot       TEXT PRIMARY KEY NOT NULL,
    fire_ms    BIGINT NOT NULL,
    owner      TEXT NOT NULL,
    claimed_ms BIGINT NOT NULL,
    done       BOOLEAN NOT NULL
);
CREATE TABLE deliveries (
    slot       TEXT NOT NULL,
    platform   TEXT NOT NULL,
    target     TEXT NOT NULL,
    fire_ms    BIGINT NOT NULL,
    state      TEXT NOT NULL,
    detail     TEXT,
    updated_ms BIGINT NOT NULL,
    PRIMARY KEY (slot, platform, target)
);
CREATE INDEX deliveries_state ON deliveries (state, fire_ms);
CREATE TABLE scheduler_checkpoint (
    id         INTEGER PRIMARY KEY NOT NULL,
    checked_ms BIGINT NOT NULL
);
";

/// One coin's events over a window, for heatmaps, read from the index alone: without it a
/// 24h BTC heatmap visits every coin's rows of the window through the time index.
const PRICE_POINTS_INDEX: &str =
    "CREATE INDEX liquidations_base_ts ON liquidations (base, ts_ms, price, usd, side);";

/// Market context: candles, open interest, Fear & Greed.
const MARKET_POSTGRES: &str = r"
CREATE TABLE candles (
    exchange      TEXT NOT NULL,
    base          TEXT NOT NULL,
    interval_secs BIGINT NOT NULL,
    open_ms       BIGINT NOT NULL,
    open          DOUBLE PRECISION NOT NULL,
    high          DOUBLE PRECISION NOT NULL,
    low           DOUBLE PRECISION NOT NULL,
    close         DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (exchange, base, interval_secs, open_ms)
);
CREATE TABLE open_interest (
    exchange TEXT NOT NULL,
    base     TEXT NOT NULL,
    ts_ms    BIGINT NOT NULL,
    usd      DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (base, ts_ms, exchange)
);
CREATE TABLE fear_greed (
    ts_ms          BIGINT PRIMARY KEY NOT NULL,
    value          BIGINT NOT NULL,
    classification TEXT NOT NULL
);
";

/// Chat subscriptions created by commands (`/subscribe`), per platform and chat.
const SUBSCRIPTIONS_SQLITE: &str = r"
CREATE TABLE subscriptions (
    platform        TEXT NOT NULL,
    chat_id         TEXT NOT NULL,
    kind            TEXT NOT NULL,
    coin            TEXT NOT NULL,
    guild_id        TEXT,
    time_window     TEXT NOT NULL,
    schedule        TEXT NOT NULL,
    created_by      TEXT NOT NULL,
    created_ms      INTEGER NOT NULL,
    active          INTEGER NOT NULL,
    inactive_reason TEXT,
    PRIMARY KEY (platform, chat_id, kind, coin)
) WITHOUT ROWID;
";

/// Chat subscriptions created by commands (`/subscribe`), per platform and chat.
const SUBSCRIPTIONS_POSTGRES: &str = r"
CREATE TABLE subscriptions (
    platform        TEXT NOT NULL,
    chat_id         TEXT NOT NULL,
    kind            TEXT NOT NULL,
    coin            TEXT NOT NULL,
    guild_id        TEXT,
    time_window     TEXT NOT NULL,
    schedule        TEXT NOT NULL,
    created_by      TEXT NOT NULL,
    created_ms      BIGINT NOT NULL,
    active          BOOLEAN NOT NULL,
    inactive_reason TEXT,
    PRIMARY KEY (platform, chat_id, kind, coin)
);
";
