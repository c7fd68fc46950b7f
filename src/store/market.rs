//! Market context in the store: candles, open interest and Fear & Greed readings. Every write
//! is an upsert, so polling the same candle or reading again (a candle still forming, a
//! restart that refetches history) replaces it instead of duplicating it.

use std::future::Future;

use sqlx::{QueryBuilder, Row};

use super::{Backend, SqlStore, StoreError, parse_exchange};
use crate::model::{Candle, Exchange, FearGreed, OpenInterest};

/// Rows per multi-row upsert.
const CHUNK: usize = 1_000;

/// Market-context operations every backend provides.
pub trait MarketStore: Send + Sync {
    /// Stores candles, replacing any with the same venue, coin, interval and start.
    fn upsert_candles(
        &self,
        candles: &[Candle],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Stores open-interest points, replacing any with the same venue, coin and time.
    fn upsert_open_interest(
        &self,
        points: &[OpenInterest],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Stores Fear & Greed readings, replacing any for the same day.
    fn upsert_fear_greed(
        &self,
        readings: &[FearGreed],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Candles of one venue and coin starting in `[from_ms, to_ms)`, oldest first.
    fn candles(
        &self,
        exchange: Exchange,
        base: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> impl Future<Output = Result<Vec<Candle>, StoreError>> + Send;

    /// Open interest of one coin on every venue in `[from_ms, to_ms)`, oldest first.
    fn open_interest(
        &self,
        base: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> impl Future<Output = Result<Vec<OpenInterest>, StoreError>> + Send;

    /// The newest `limit` Fear & Greed readings, newest first.
    fn fear_greed(
        &self,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<FearGreed>, StoreError>> + Send;
}

impl MarketStore for SqlStore {
    async fn upsert_candles(&self, candles: &[Candle]) -> Result<(), StoreError> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for chunk in candles.chunks(CHUNK) {
                let mut qb = QueryBuilder::new(
                    "INSERT INTO candles (exchange, base, interval_secs, open_ms, open, high, low, close) ",
                );
                qb.push_values(chunk, |mut row, c| {
                    row.push_bind(c.exchange.as_str())
                        .push_bind(c.base.as_str())
                        .push_bind(i64::from(c.interval_secs))
                        .push_bind(c.open_ms)
                        .push_bind(c.open)
                        .push_bind(c.high)
                        .push_bind(c.low)
                        .push_bind(c.close);
                });
                qb.push(
                    " ON CONFLICT (exchange, base, interval_secs, open_ms) DO UPDATE SET \
                     open = excluded.open, high = excluded.high, low = excluded.low, close = excluded.close",
                );
                qb.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    async fn upsert_open_interest(&self, points: &[OpenInterest]) -> Result<(), StoreError> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for chunk in points.chunks(CHUNK) {
                let mut qb = QueryBuilder::new("INSERT INTO open_interest (exchange, base, ts_ms, usd) ");
                qb.push_values(chunk, |mut row, p| {
                    row.push_bind(p.exchange.as_str())
                        .push_bind(p.base.as_str())
                        .push_bind(p.ts_ms)
                        .push_bind(p.usd);
                });
                qb.push(" ON CONFLICT (base, ts_ms, exchange) DO UPDATE SET usd = excluded.usd");
                qb.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    async fn upsert_fear_greed(&self, readings: &[FearGreed]) -> Result<(), StoreError> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for r in readings {
                sqlx::query(
                    "INSERT INTO fear_greed (ts_ms, value, classification) VALUES ($1, $2, $3) \
                     ON CONFLICT (ts_ms) DO UPDATE SET value = excluded.value, classification = excluded.classification",
                )
                .bind(r.ts_ms)
                .bind(i64::from(r.value))
                .bind(r.classification.as_str())
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    async fn candles(
        &self,
        exchange: Exchange,
        base: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<Candle>, StoreError> {
        with_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT interval_secs, open_ms, open, high, low, close FROM candles \
                 WHERE exchange = $1 AND base = $2 AND open_ms >= $3 AND open_ms < $4 ORDER BY open_ms",
            )
            .bind(exchange.as_str())
            .bind(base)
            .bind(from_ms)
            .bind(to_ms)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    let interval: i64 = r.try_get("interval_secs")?;
                    Ok(Candle {
                        exchange,
                        base: base.to_owned(),
                        open_ms: r.try_get("open_ms")?,
                        interval_secs: u32::try_from(interval).map_err(|_| StoreError::Corrupt(format!("interval {interval}")))?,
                        open: r.try_get("open")?,
                        high: r.try_get("high")?,
                        low: r.try_get("low")?,
                        close: r.try_get("close")?,
                    })
                })
                .collect()
        })
    }

    async fn open_interest(
        &self,
        base: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<OpenInterest>, StoreError> {
        with_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT exchange, ts_ms, usd FROM open_interest \
                 WHERE base = $1 AND ts_ms >= $2 AND ts_ms < $3 ORDER BY ts_ms, exchange",
            )
            .bind(base)
            .bind(from_ms)
            .bind(to_ms)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(OpenInterest {
                        exchange: parse_exchange(r.try_get("exchange")?)?,
                        base: base.to_owned(),
                        ts_ms: r.try_get("ts_ms")?,
                        usd: r.try_get("usd")?,
                    })
                })
                .collect()
        })
    }

    async fn fear_greed(&self, limit: i64) -> Result<Vec<FearGreed>, StoreError> {
        with_pool!(self, pool => {
            let rows = sqlx::query("SELECT ts_ms, value, classification FROM fear_greed ORDER BY ts_ms DESC LIMIT $1")
                .bind(limit)
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|r| {
                    let value: i64 = r.try_get("value")?;
                    Ok(FearGreed {
                        ts_ms: r.try_get("ts_ms")?,
                        value: u8::try_from(value).map_err(|_| StoreError::Corrupt(format!("fear & greed {value}")))?,
                        classification: r.try_get("classification")?,
                    })
                })
                .collect()
        })
    }
}
