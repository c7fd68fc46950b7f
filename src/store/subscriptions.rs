//! Chat subscriptions created with `/subscribe`: which chat gets which post on which
//! schedule. They live in the store so they survive restarts and are shared by every instance
//! on PostgreSQL. A target the bot lost access to is marked inactive, not deleted, so an admin
//! can see why posts stopped.

use std::future::Future;

use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::{Backend, SqlStore, StoreError};

/// One chat's subscription to one post kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    /// `telegram` or `discord`.
    pub platform: String,
    /// The chat (Telegram) or channel (Discord) id, as text.
    pub chat_id: String,
    /// The Discord server, when there is one.
    pub guild_id: Option<String>,
    /// The post kind (`summary`, `heatmap`, `levels`, `fng`, `alert`).
    pub kind: String,
    /// One coin, or empty for all coins.
    pub coin: String,
    /// The summary window (`24h`).
    pub window: String,
    /// When to post: a preset or a cron line, as the scheduler reads it.
    pub schedule: String,
    /// Who created it (a user id, as text).
    pub created_by: String,
    /// When it was created, ms.
    pub created_ms: i64,
    /// False once the bot lost access to the chat.
    pub active: bool,
    /// Why it stopped, when inactive.
    pub inactive_reason: Option<String>,
}

/// Subscription operations every backend provides.
pub trait SubscriptionStore: Send + Sync {
    /// Creates or replaces the subscription of a chat to a kind (and coin), active again.
    fn upsert_subscription(
        &self,
        sub: &Subscription,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Removes a chat's subscriptions to `kind`, or all of them; returns how many.
    fn remove_subscriptions(
        &self,
        platform: &str,
        chat_id: &str,
        kind: Option<&str>,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// A chat's subscriptions, active or not.
    fn chat_subscriptions(
        &self,
        platform: &str,
        chat_id: &str,
    ) -> impl Future<Output = Result<Vec<Subscription>, StoreError>> + Send;

    /// Every active subscription, for the scheduler.
    fn active_subscriptions(
        &self,
    ) -> impl Future<Output = Result<Vec<Subscription>, StoreError>> + Send;

    /// Marks every subscription of a chat inactive with a reason; returns how many changed.
    fn deactivate_chat(
        &self,
        platform: &str,
        chat_id: &str,
        reason: &str,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

const COLUMNS: &str = "platform, chat_id, guild_id, kind, coin, time_window, schedule, created_by, \
                       created_ms, active, inactive_reason";

fn from_row<R: Row>(r: &R) -> Result<Subscription, StoreError>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<String>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> bool: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok(Subscription {
        platform: r.try_get("platform")?,
        chat_id: r.try_get("chat_id")?,
        guild_id: r.try_get("guild_id")?,
        kind: r.try_get("kind")?,
        coin: r.try_get("coin")?,
        window: r.try_get("time_window")?,
        schedule: r.try_get("schedule")?,
        created_by: r.try_get("created_by")?,
        created_ms: r.try_get("created_ms")?,
        active: r.try_get("active")?,
        inactive_reason: r.try_get("inactive_reason")?,
    })
}

impl SubscriptionStore for SqlStore {
    async fn upsert_subscription(&self, s: &Subscription) -> Result<(), StoreError> {
        with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO subscriptions (platform, chat_id, guild_id, kind, coin, time_window, schedule, \
                 created_by, created_ms, active, inactive_reason) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL) \
                 ON CONFLICT (platform, chat_id, kind, coin) DO UPDATE SET guild_id = excluded.guild_id, \
                 time_window = excluded.time_window, schedule = excluded.schedule, \
                 created_by = excluded.created_by, created_ms = excluded.created_ms, \
                 active = excluded.active, inactive_reason = NULL",
            )
            .bind(s.platform.as_str())
            .bind(s.chat_id.as_str())
            .bind(s.guild_id.as_deref())
            .bind(s.kind.as_str())
            .bind(s.coin.as_str())
            .bind(s.window.as_str())
            .bind(s.schedule.as_str())
            .bind(s.created_by.as_str())
            .bind(s.created_ms)
            .bind(true)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    async fn remove_subscriptions(
        &self,
        platform: &str,
        chat_id: &str,
        kind: Option<&str>,
    ) -> Result<u64, StoreError> {
        Ok(with_pool!(self, pool => {
            sqlx::query("DELETE FROM subscriptions WHERE platform = $1 AND chat_id = $2 AND ($3 = '' OR kind = $3)")
                .bind(platform)
                .bind(chat_id)
                .bind(kind.unwrap_or(""))
                .execute(pool)
                .await?
                .rows_affected()
        }))
    }

    async fn chat_subscriptions(
        &self,
        platform: &str,
        chat_id: &str,
    ) -> Result<Vec<Subscription>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM subscriptions WHERE platform = $1 AND chat_id = $2 ORDER BY kind, coin"
        );
        with_pool!(self, pool => {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(platform)
                .bind(chat_id)
                .fetch_all(pool)
                .await?
                .iter()
                .map(from_row)
                .collect()
        })
    }

    async fn active_subscriptions(&self) -> Result<Vec<Subscription>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM subscriptions WHERE active = $1 ORDER BY platform, chat_id, kind, coin"
        );
        with_pool!(self, pool => {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(true)
                .fetch_all(pool)
                .await?
                .iter()
                .map(from_row)
                .collect()
        })
    }

    async fn deactivate_chat(
        &self,
        platform: &str,
        chat_id: &str,
        reason: &str,
    ) -> Result<u64, StoreError> {
        Ok(with_pool!(self, pool => {
            sqlx::query(
                "UPDATE subscriptions SET active = $1, inactive_reason = $2 \
                 WHERE platform = $3 AND chat_id = $4 AND active = $5",
            )
            .bind(false)
            .bind(reason)
            .bind(platform)
            .bind(chat_id)
            .bind(true)
            .execute(pool)
            .await?
            .rows_affected()
        }))
    }
}
