//! Schema migrations for both backends, applied in order and recorded in `schema_version`.
//!
//! Append a migration to both lists to change the schema; never edit one that has shipped.

/// SQLite migrations, in order.
pub const SQLITE: &[&str] = &[r"
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
"];

/// PostgreSQL migrations, in order.
pub const POSTGRES: &[&str] = &[r"
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
"];
