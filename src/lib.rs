//! liqbot: turns crypto-derivatives liquidations into posts people read.
//!
//! Data flows one way: [`sources`] parse exchange streams into [`model::Liquidation`]s, the
//! [`store`] keeps them with per-minute buckets, [`analytics`] summarises windows, and the
//! drivers (the demo today; the scheduler and chat commands later) print or post the result.

pub mod alerts;
pub mod analytics;
pub mod bench;
pub mod bot;
pub mod commands;
pub mod config;
pub mod delivery;
pub mod demo;
pub mod discord;
pub mod heap;
pub mod ingest;
pub mod market;
pub mod metrics;
pub mod model;
pub mod pacing;
pub mod pollers;
pub mod redact;
pub mod render;
pub mod report;
pub mod rng;
pub mod schedule;
pub mod scheduler;
pub mod sim;
pub mod soak;
pub mod sources;
pub mod store;
pub mod telegram;

pub use bot::{Bot, run};
