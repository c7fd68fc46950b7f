//! Analytics: pure functions of stored data. Per-minute buckets are built here as events
//! arrive, and window summaries are computed here from what the store returns.

pub mod alert;
pub mod buckets;
pub mod context;
pub mod heatmap;
pub mod levels;
pub mod summary;
pub mod window;

pub use buckets::{BucketKey, BucketTotals, MinuteBuckets};
pub use levels::{
    Cluster, LevelEstimate, LevelMap, LevelModel, LevelParams, clusters, estimate_levels,
};
pub use summary::{CoinTotals, Coverage, Largest, Summary, SummaryInput, WindowRow, summarize};
pub use window::{MinuteRange, Window};
