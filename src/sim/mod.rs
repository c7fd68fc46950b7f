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

/// Real platforms count a window on their own clock and a request arrives a little after it
/// left the sender; a fake enforcing a limit shortens the window by this share, so only a
/// sender that did break the limit is refused.
const LIMIT_SLACK: f64 = 0.1;

/// How long a sender must wait when `count` of the accepted requests at `times` already fall
/// in the `window` before `now` (shortened by [`LIMIT_SLACK`]); `None` when one more is allowed.
pub(crate) fn limit_wait(
    times: impl Iterator<Item = tokio::time::Instant>,
    now: tokio::time::Instant,
    count: usize,
    window: std::time::Duration,
) -> Option<std::time::Duration> {
    let window = window.mul_f64(1.0 - LIMIT_SLACK);
    let mut inside: Vec<tokio::time::Instant> = times.filter(|t| now - *t < window).collect();
    if inside.len() < count {
        return None;
    }
    inside.sort_unstable();
    // Once the oldest `len - count + 1` have left the window, one more fits.
    let frees = inside[inside.len() - count] + window;
    Some(frees.saturating_duration_since(now))
}

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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::time::Instant;

    use super::limit_wait;

    #[test]
    fn a_limit_refuses_only_what_exceeds_it_within_the_slack() {
        let now = Instant::now() + Duration::from_secs(100);
        let ago = |ms: u64| now - Duration::from_millis(ms);
        // One a second per chat: 950 ms apart is within the slack, 850 ms is not.
        assert_eq!(
            limit_wait([ago(950)].into_iter(), now, 1, Duration::from_secs(1)),
            None
        );
        assert_eq!(
            limit_wait([ago(850)].into_iter(), now, 1, Duration::from_secs(1)),
            Some(Duration::from_millis(50))
        );
        // Five per five seconds: the sixth waits for the oldest of the last five to leave.
        let five = [ago(4_000), ago(3_000), ago(2_000), ago(1_000), ago(0)];
        assert_eq!(
            limit_wait(five.into_iter(), now, 5, Duration::from_secs(5)),
            Some(Duration::from_millis(500))
        );
        assert_eq!(
            limit_wait(five.into_iter().skip(1), now, 5, Duration::from_secs(5)),
            None
        );
    }
}
