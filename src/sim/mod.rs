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

/// Polls `calls` every 5 ms until `done` holds for what it returns or `timeout` passes; returns
/// the last result either way. The fake chat servers wait on their recorded calls with it.
pub(crate) async fn wait_for_calls<T>(
    timeout: std::time::Duration,
    calls: impl Fn() -> Vec<T>,
    done: impl Fn(&[T]) -> bool,
) -> Vec<T> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let got = calls();
        if done(&got) || tokio::time::Instant::now() >= deadline {
            return got;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}
