//! The deterministic market simulator: a seeded market ([`market`]) served over each venue's
//! real wire format on 127.0.0.1 ([`server`]). `liqbot demo`, the integration tests and the
//! benchmarks all run the real bot against it.

pub mod context;
pub mod discord;
pub mod market;
pub mod rest;
pub mod server;
pub mod telegram;

pub use market::{COINS, Market, SimFeed};
pub use rest::RestFault;
pub use server::{SimOptions, SimServer};
