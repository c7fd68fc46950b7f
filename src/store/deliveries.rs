//! Delivery state of scheduled slots. A slot is claimed by one instance with a unique row
//! (`INSERT ... ON CONFLICT DO NOTHING`), so however many `liqbot run` processes share the
//! store, one renders and sends it; each target's outcome is recorded, so a restart sends
//! nothing twice and finds what was left unsent. A claim whose owner died (not done within
//! the lease) can be taken over.

use std::future::Future;

use sqlx::Row;

use super::{Backend, SqlStore, StoreError};

/// How one target of a slot fared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    /// Sent and accepted by the platform.
    Sent,
    /// Gave up: rejected, retries exhausted, or the bot lost the chat.
    Failed,
    /// Not sent because the bot was shutting down; sent again at start within the grace.
    NotSent,
    /// The slot was missed by more than the grace period; never sent.
    Skipped,
    /// The request went out and its answer had not been recorded. Left so by an instance that
    /// died, it is never sent again: the platform may have the post, and a second copy is the
    /// worse failure.
    Sending,
}

impl DeliveryState {
    /// The stored name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Failed => "failed",
            Self::NotSent => "not_sent",
            Self::Skipped => "skipped",
            Self::Sending => "sending",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [
            Self::Sent,
            Self::Failed,
            Self::NotSent,
            Self::Skipped,
            Self::Sending,
        ]
        .into_iter()
        .find(|d| d.as_str() == s)
    }
}

/// One target's recorded outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    /// The slot id.
    pub slot: String,
    /// `telegram` or `discord`.
    pub platform: String,
    /// The chat or channel id.
    pub target: String,
    /// The slot's fire time, ms.
    pub fire_ms: i64,
    /// How it went.
    pub state: DeliveryState,
    /// Why, for failures.
    pub detail: Option<String>,
    /// The platform's id of the message sent, when known (to edit it later).
    pub message_id: Option<String>,
}

/// Slot claims and delivery records.
pub trait DeliveryStore: Send + Sync {
    /// Claims `slot` for `owner`: true when this call made the claim, or took over a claim
    /// not finished within `lease_ms` (its owner died).
    fn claim_slot(
        &self,
        slot: &str,
        fire_ms: i64,
        owner: &str,
        now_ms: i64,
        lease_ms: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Takes `slot` over again to send what its last owner left: succeeds when its claim is
    /// finished or was last renewed before `now_ms - lease_ms`, and then holds it unfinished
    /// for `owner` (one instance wins; the others get false).
    fn reclaim_slot(
        &self,
        slot: &str,
        owner: &str,
        now_ms: i64,
        lease_ms: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The fire time of `slot` if it has ever been claimed.
    fn claimed_fire_ms(
        &self,
        slot: &str,
    ) -> impl Future<Output = Result<Option<i64>, StoreError>> + Send;

    /// Marks a claimed slot finished.
    fn finish_slot(&self, slot: &str) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Records how a target fared (replacing an earlier record of it).
    fn record_delivery(
        &self,
        record: &DeliveryRecord,
        now_ms: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Every record of a slot.
    fn slot_deliveries(
        &self,
        slot: &str,
    ) -> impl Future<Output = Result<Vec<DeliveryRecord>, StoreError>> + Send;

    /// Records in `state` for slots that fired at or after `since_ms`.
    fn deliveries_in_state(
        &self,
        state: DeliveryState,
        since_ms: i64,
    ) -> impl Future<Output = Result<Vec<DeliveryRecord>, StoreError>> + Send;

    /// Targets left in `state` of slots fired at or after `since_ms` whose claim is finished
    /// (the owner stopped before sending them) or was last renewed before `stale_before_ms`
    /// (the owner died): `not_sent` ones are what a sweep sends again.
    fn abandoned(
        &self,
        state: DeliveryState,
        since_ms: i64,
        stale_before_ms: i64,
    ) -> impl Future<Output = Result<Vec<DeliveryRecord>, StoreError>> + Send;

    /// Renews every unfinished claim of `owner` (a running instance), so none is taken for a
    /// dead one's; returns how many.
    fn renew_claims(
        &self,
        owner: &str,
        now_ms: i64,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Writes the probe row: fails when the store cannot be written (read-only, disk full).
    fn probe_write(&self, now_ms: i64) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Where the scheduler last looked (shared by every instance), ms.
    fn scheduler_checkpoint(&self) -> impl Future<Output = Result<Option<i64>, StoreError>> + Send;

    /// Moves the checkpoint forward to `checked_ms` (never back).
    fn set_scheduler_checkpoint(
        &self,
        checked_ms: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

const RECORD_COLUMNS: &str = "slot, platform, target, fire_ms, state, detail, message_id";

fn record_from_row<R: Row>(r: &R) -> Result<DeliveryRecord, StoreError>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<String>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let state: String = r.try_get("state")?;
    Ok(DeliveryRecord {
        slot: r.try_get("slot")?,
        platform: r.try_get("platform")?,
        target: r.try_get("target")?,
        fire_ms: r.try_get("fire_ms")?,
        state: DeliveryState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("delivery state {state:?}")))?,
        detail: r.try_get("detail")?,
        message_id: r.try_get("message_id")?,
    })
}

impl DeliveryStore for SqlStore {
    async fn claim_slot(
        &self,
        slot: &str,
        fire_ms: i64,
        owner: &str,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<bool, StoreError> {
        let claimed = with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO slot_claims (slot, fire_ms, owner, claimed_ms, done) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (slot) DO NOTHING RETURNING slot",
            )
            .bind(slot)
            .bind(fire_ms)
            .bind(owner)
            .bind(now_ms)
            .bind(false)
            .fetch_optional(pool)
            .await?
            .is_some()
        });
        if claimed {
            return Ok(true);
        }
        // A claim its owner never finished: take it over once the lease ran out. The
        // condition on claimed_ms makes this a compare-and-swap between instances.
        let taken = with_pool!(self, pool => {
            sqlx::query(
                "UPDATE slot_claims SET owner = $1, claimed_ms = $2 \
                 WHERE slot = $3 AND done = $4 AND claimed_ms < $5",
            )
            .bind(owner)
            .bind(now_ms)
            .bind(slot)
            .bind(false)
            .bind(now_ms - lease_ms)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(taken == 1)
    }

    async fn claimed_fire_ms(&self, slot: &str) -> Result<Option<i64>, StoreError> {
        Ok(with_pool!(self, pool => {
            sqlx::query_scalar("SELECT fire_ms FROM slot_claims WHERE slot = $1")
                .bind(slot)
                .fetch_optional(pool)
                .await?
        }))
    }

    async fn finish_slot(&self, slot: &str) -> Result<(), StoreError> {
        with_pool!(self, pool => {
            sqlx::query("UPDATE slot_claims SET done = $1 WHERE slot = $2")
                .bind(true)
                .bind(slot)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    async fn record_delivery(&self, r: &DeliveryRecord, now_ms: i64) -> Result<(), StoreError> {
        with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO deliveries (slot, platform, target, fire_ms, state, detail, updated_ms, message_id) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (slot, platform, target) DO UPDATE \
                 SET state = excluded.state, detail = excluded.detail, updated_ms = excluded.updated_ms, \
                 message_id = excluded.message_id",
            )
            .bind(r.slot.as_str())
            .bind(r.platform.as_str())
            .bind(r.target.as_str())
            .bind(r.fire_ms)
            .bind(r.state.as_str())
            .bind(r.detail.as_deref())
            .bind(now_ms)
            .bind(r.message_id.as_deref())
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    async fn slot_deliveries(&self, slot: &str) -> Result<Vec<DeliveryRecord>, StoreError> {
        let sql = format!(
            "SELECT {RECORD_COLUMNS} FROM deliveries WHERE slot = $1 ORDER BY platform, target"
        );
        with_pool!(self, pool => {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(slot)
                .fetch_all(pool)
                .await?
                .iter()
                .map(record_from_row)
                .collect()
        })
    }

    async fn deliveries_in_state(
        &self,
        state: DeliveryState,
        since_ms: i64,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        let sql = format!(
            "SELECT {RECORD_COLUMNS} FROM deliveries WHERE state = $1 AND fire_ms >= $2 \
             ORDER BY fire_ms, slot, platform, target"
        );
        with_pool!(self, pool => {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(state.as_str())
                .bind(since_ms)
                .fetch_all(pool)
                .await?
                .iter()
                .map(record_from_row)
                .collect()
        })
    }

    async fn abandoned(
        &self,
        state: DeliveryState,
        since_ms: i64,
        stale_before_ms: i64,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        let sql = "SELECT d.slot, d.platform, d.target, d.fire_ms, d.state, d.detail, d.message_id \
                   FROM deliveries d JOIN slot_claims c ON c.slot = d.slot \
                   WHERE d.state = $1 AND d.fire_ms >= $2 AND (c.done = $3 OR c.claimed_ms < $4) \
                   ORDER BY d.fire_ms, d.slot, d.platform, d.target";
        with_pool!(self, pool => {
            sqlx::query(sql)
                .bind(state.as_str())
                .bind(since_ms)
                .bind(true)
                .bind(stale_before_ms)
                .fetch_all(pool)
                .await?
                .iter()
                .map(record_from_row)
                .collect()
        })
    }

    async fn reclaim_slot(
        &self,
        slot: &str,
        owner: &str,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<bool, StoreError> {
        let taken = with_pool!(self, pool => {
            sqlx::query(
                "UPDATE slot_claims SET owner = $1, claimed_ms = $2, done = $3 \
                 WHERE slot = $4 AND (done = $5 OR claimed_ms < $6)",
            )
            .bind(owner)
            .bind(now_ms)
            .bind(false)
            .bind(slot)
            .bind(true)
            .bind(now_ms - lease_ms)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(taken == 1)
    }

    async fn renew_claims(&self, owner: &str, now_ms: i64) -> Result<u64, StoreError> {
        Ok(with_pool!(self, pool => {
            sqlx::query("UPDATE slot_claims SET claimed_ms = $1 WHERE owner = $2 AND done = $3")
                .bind(now_ms)
                .bind(owner)
                .bind(false)
                .execute(pool)
                .await?
                .rows_affected()
        }))
    }

    async fn probe_write(&self, now_ms: i64) -> Result<(), StoreError> {
        with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO store_probe (id, written_ms) VALUES (1, $1) \
                 ON CONFLICT (id) DO UPDATE SET written_ms = excluded.written_ms",
            )
            .bind(now_ms)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    async fn scheduler_checkpoint(&self) -> Result<Option<i64>, StoreError> {
        Ok(with_pool!(self, pool => {
            sqlx::query_scalar("SELECT checked_ms FROM scheduler_checkpoint WHERE id = 1")
                .fetch_optional(pool)
                .await?
        }))
    }

    async fn set_scheduler_checkpoint(&self, checked_ms: i64) -> Result<(), StoreError> {
        with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO scheduler_checkpoint (id, checked_ms) VALUES (1, $1) \
                 ON CONFLICT (id) DO UPDATE SET checked_ms = excluded.checked_ms \
                 WHERE scheduler_checkpoint.checked_ms < excluded.checked_ms",
            )
            .bind(checked_ms)
            .execute(pool)
            .await?;
        });
        Ok(())
    }
}
