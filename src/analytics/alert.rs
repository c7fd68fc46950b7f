//! What an alert says: one large liquidation, or a cascade of them in a short time. Deciding
//! when to fire is the scheduler's job; these are the facts a fired alert carries.

use serde::Serialize;

use crate::model::Liquidation;

/// A fired alert.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Alert {
    /// One liquidation at or above a threshold.
    Large {
        /// The liquidation.
        event: Liquidation,
        /// The threshold it crossed, USD.
        threshold_usd: f64,
    },
    /// Many liquidations within a short window.
    Cascade(Cascade),
}

/// Liquidations adding up to at least a threshold within a few minutes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cascade {
    /// One coin, or `None` for all coins.
    pub coin: Option<String>,
    /// Start of the window, ms.
    pub start_ms: i64,
    /// End of the window, ms.
    pub end_ms: i64,
    /// USD liquidated in the window.
    pub usd: f64,
    /// USD of longs liquidated.
    pub long_usd: f64,
    /// USD of shorts liquidated.
    pub short_usd: f64,
    /// Number of liquidation orders.
    pub count: i64,
    /// The threshold it crossed, USD.
    pub threshold_usd: f64,
}

impl Cascade {
    /// The window's length in whole minutes.
    #[must_use]
    pub fn minutes(&self) -> i64 {
        ((self.end_ms - self.start_ms) / 60_000).max(1)
    }
}
