//! Send pacing, user rate limits and send-failure classification, on made-up instants.

use std::time::Duration;

use liqbot::pacing::{
    PacingLimits, RateLimiter, SendFailure, SendPacer, TargetId, classify_discord,
    classify_telegram, classify_telegram_error, cooldown_text,
};
use pretty_assertions::assert_eq;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn millis(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

/// Reserves `n` sends to `target` all requested at `now`; returns the waits.
fn burst(pacer: &mut SendPacer, target: i64, is_group: bool, n: usize, now: Duration) -> Vec<u64> {
    (0..n)
        .map(|_| pacer.reserve(TargetId(target), is_group, now).as_millis() as u64)
        .collect()
}

#[test]
fn telegram_private_chat_is_spaced_one_second_apart() {
    let mut pacer = SendPacer::new(PacingLimits::telegram());
    assert_eq!(
        burst(&mut pacer, 1, false, 4, secs(10)),
        vec![0, 1000, 2000, 3000]
    );
    // Asked later, the wait counts from the last reserved send, not from the request.
    assert_eq!(
        pacer.reserve(TargetId(1), false, millis(12_500)),
        millis(1_500)
    );
    assert_eq!(pacer.reserve(TargetId(1), false, secs(20)), Duration::ZERO);
}

#[test]
fn telegram_group_is_capped_at_twenty_per_minute() {
    let mut pacer = SendPacer::new(PacingLimits::telegram());
    let waits = burst(&mut pacer, -100, true, 21, Duration::ZERO);
    let expected: Vec<u64> = (0..20).map(|i| i * 1000).chain([60_000]).collect();
    // The 21st waits until the first send (at 0 s) leaves the 60 s window.
    assert_eq!(waits, expected);
}

#[test]
fn telegram_global_limit_caps_thirty_per_second_across_chats() {
    let mut pacer = SendPacer::new(PacingLimits::telegram());
    let waits: Vec<u64> = (0..61)
        .map(|chat| {
            pacer
                .reserve(TargetId(chat), false, Duration::ZERO)
                .as_millis() as u64
        })
        .collect();
    // Spread evenly with a tenth to spare, one every 1/27 s (37.0 ms): no second holds more
    // than 30 even when each send leaves up to 110 ms after its time.
    for (i, w) in waits.iter().enumerate().skip(1) {
        assert!((36..=38).contains(&(w - waits[i - 1])), "{waits:?}");
    }
    for (i, w) in waits.iter().enumerate().skip(30) {
        assert!(
            w - waits[i - 30] >= 1100,
            "31 sends within 1.1 s: {waits:?}"
        );
    }
    assert_eq!(waits[60], 2222);
}

#[test]
fn queued_sends_to_one_chat_do_not_hold_up_other_chats() {
    let mut pacer = SendPacer::new(PacingLimits::telegram());
    burst(&mut pacer, 1, false, 5, Duration::ZERO);
    // Only the global spacing (1/27 s) after chat 1's first send, not chat 1's queue.
    assert_eq!(
        pacer.reserve(TargetId(2), false, Duration::ZERO),
        Duration::from_secs(1) / 27
    );
}

#[test]
fn discord_channel_allows_five_per_five_seconds() {
    let mut pacer = SendPacer::new(PacingLimits::discord());
    let waits = burst(&mut pacer, 7, true, 7, Duration::ZERO);
    // Five per five seconds, spread by the global 50/s with a tenth to spare (22.2 ms apart).
    assert_eq!(waits, vec![0, 22, 44, 66, 88, 5000, 5022]);
}

#[test]
fn retry_after_blocks_only_that_chat() {
    let mut pacer = SendPacer::new(PacingLimits::telegram());
    pacer.reserve(TargetId(1), false, Duration::ZERO);
    pacer.retry_after(Some(TargetId(1)), secs(2), secs(5));
    assert_eq!(pacer.reserve(TargetId(1), false, secs(5)), secs(2));
    assert_eq!(pacer.reserve(TargetId(2), false, secs(5)), Duration::ZERO);
    // Once the block is over, the per-chat spacing counts from the retried send.
    assert_eq!(pacer.reserve(TargetId(1), false, secs(7)), secs(1));
}

#[test]
fn global_retry_after_delays_every_chat() {
    let mut pacer = SendPacer::new(PacingLimits::telegram());
    pacer.retry_after(None, secs(3), secs(1));
    let waits: Vec<Duration> = (1..=3)
        .map(|chat| pacer.reserve(TargetId(chat), false, secs(2)))
        .collect();
    let gap = Duration::from_secs(1) / 27;
    assert_eq!(waits, vec![secs(2), secs(2) + gap, secs(2) + gap * 2]);
    assert_eq!(pacer.reserve(TargetId(9), false, secs(5)), Duration::ZERO);
}

#[test]
fn forget_idle_bounds_memory_to_active_targets() {
    let mut pacer = SendPacer::new(PacingLimits::telegram());
    for chat in 0..100 {
        pacer.reserve(TargetId(chat), chat % 2 == 0, Duration::ZERO);
    }
    pacer.retry_after(Some(TargetId(500)), secs(120), Duration::ZERO);
    assert_eq!(pacer.tracked(), 101);
    // The global 30/s spreads the sends over 0-3 s. Private chats leave their 1 s window;
    // groups stay for their 60 s window.
    pacer.forget_idle(secs(30));
    assert_eq!(pacer.tracked(), 51);
    pacer.forget_idle(secs(64));
    assert_eq!(pacer.tracked(), 1, "only the blocked chat remains");
    pacer.forget_idle(secs(120));
    assert_eq!(pacer.tracked(), 0);
}

#[test]
fn user_limiter_allows_max_then_refuses_with_the_wait_then_allows_again() {
    let mut limiter = RateLimiter::new(3, secs(60));
    let user = 42;
    for at in [0, 10, 20] {
        assert_eq!(limiter.check(user, secs(at)), Ok(()));
    }
    assert_eq!(limiter.check(user, secs(30)), Err(secs(30)));
    assert_eq!(limiter.check(user, secs(55)), Err(secs(5)));
    assert_eq!(
        limiter.check(7, secs(55)),
        Ok(()),
        "other users are not affected"
    );
    assert_eq!(limiter.check(user, secs(60)), Ok(()));
    assert_eq!(limiter.check(user, secs(61)), Err(secs(9)));
}

#[test]
fn user_limiter_forgets_idle_users() {
    let mut limiter = RateLimiter::new(1, secs(10));
    for user in 0..1000 {
        assert_eq!(limiter.check(user, secs(1)), Ok(()));
    }
    assert_eq!(limiter.tracked(), 1000);
    assert_eq!(limiter.check(5000, secs(12)), Ok(()));
    assert_eq!(
        limiter.tracked(),
        1,
        "the sweep on check dropped idle users"
    );
}

#[test]
fn cooldown_text_rounds_up_to_whole_seconds() {
    assert_eq!(
        cooldown_text(millis(11_200)),
        "You're asking quickly; try again in 12 s."
    );
    assert_eq!(
        cooldown_text(secs(12)),
        "You're asking quickly; try again in 12 s."
    );
    assert_eq!(
        cooldown_text(millis(1)),
        "You're asking quickly; try again in 1 s."
    );
}

#[test]
fn telegram_failures_are_classified_by_status_and_text() {
    use SendFailure::{Permanent, Rejected, RetryAfter, Transient};
    let cases: [(Option<u16>, &str, Option<u64>, SendFailure); 16] = [
        (
            Some(429),
            "Too Many Requests: retry after 7",
            Some(7),
            RetryAfter(secs(7)),
        ),
        (
            Some(429),
            "Too Many Requests: retry after 9",
            None,
            RetryAfter(secs(9)),
        ),
        (
            Some(403),
            "Forbidden: bot was kicked from the group chat",
            None,
            Permanent,
        ),
        (
            Some(403),
            "Forbidden: bot was blocked by the user",
            None,
            Permanent,
        ),
        (
            Some(400),
            "Bad Request: not enough rights to send text messages",
            None,
            Permanent,
        ),
        (
            Some(403),
            "Forbidden: bot have no rights to send a message",
            None,
            Permanent,
        ),
        (Some(400), "Bad Request: chat not found", None, Permanent),
        (
            Some(400),
            "Bad Request: CHAT_WRITE_FORBIDDEN",
            None,
            Permanent,
        ),
        (
            Some(400),
            "Bad Request: message is too long",
            None,
            Rejected,
        ),
        // Without a status, the description's prefix stands in for it.
        (None, "Bad Request: can't parse entities", None, Rejected),
        (None, "Unauthorized", None, Rejected),
        (None, "Forbidden: user is deactivated", None, Permanent),
        // teloxide's "unknown API error" may come without a status; the text still decides.
        (
            None,
            "Forbidden: bot was kicked from the supergroup chat",
            None,
            Permanent,
        ),
        (Some(502), "Bad Gateway", None, Transient),
        (None, "operation timed out", None, Transient),
        (
            None,
            "error trying to connect: connection refused",
            None,
            Transient,
        ),
    ];
    for (status, description, retry_after, expected) in cases {
        assert_eq!(
            classify_telegram_error(status, description, retry_after),
            expected,
            "{status:?} {description:?}"
        );
    }
    assert_eq!(
        classify_telegram(Some(500), "Internal Server Error"),
        Transient
    );
    assert_eq!(
        classify_telegram(Some(429), "Too Many Requests"),
        RetryAfter(secs(5))
    );
}

#[test]
fn discord_failures_are_classified_by_status_and_code() {
    use SendFailure::{Permanent, Rejected, RetryAfter, Transient};
    let cases = [
        (Some(429), None, Some(1.5), RetryAfter(millis(1500))),
        (Some(429), None, None, RetryAfter(secs(5))),
        (Some(403), Some(50001), None, Permanent),
        (Some(404), Some(10003), None, Permanent),
        (Some(403), Some(50013), None, Permanent),
        (Some(400), Some(50035), None, Rejected),
        (Some(404), None, None, Permanent),
        (Some(500), None, None, Transient),
        (Some(503), None, None, Transient),
        (None, None, None, Transient),
    ];
    for (status, code, retry_after, expected) in cases {
        assert_eq!(
            classify_discord(status, code, retry_after),
            expected,
            "{status:?} {code:?}"
        );
    }
}
