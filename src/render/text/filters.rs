//! The filters and functions templates use to write numbers and times.
//!
//! Numbers reuse [`crate::render::format`], so posts, the console and the demo agree. Filters
//! return plain strings; the formatter escapes them like any other value when they are
//! printed, so a filter can never inject markup.
//!
//! | filter | input | output |
//! |---|---|---|
//! | `money` | USD | `$1.36B`, `$47.87M`, `$950K` |
//! | `pct` | percent | `+4.2%`, `-13.1%`; `pct(sign=false)` gives `13.1%` |
//! | `share` | fraction 0..1 | `65.6%` |
//! | `price` | price | `$94,512.3` |
//! | `count` | integer | `4,123` |
//! | `minutes` | a duration in minutes | `9 h 20 min`, `45 min` |
//! | `time` | ms since the epoch | `14:00 UTC` on the day of `now_ms`, else `Sat 21 Nov 14:00 UTC`; `time("%H:%M")` for a chrono format |
//! | `ago` | ms since the epoch | `just now`, `5 min ago`, `3 h ago`, `2 days ago` (against `now_ms`) |

use std::fmt::Write as _;

use chrono::{DateTime, TimeZone as _};
use chrono_tz::Tz;
use minijinja::value::Kwargs;
use minijinja::{Environment, Error, ErrorKind, State};

use crate::render::format;

/// Registers every filter on `env`; `time` writes times in `zone`.
pub fn register(env: &mut Environment<'static>, zone: Tz) {
    env.add_filter("money", |usd: f64| format::money(usd));
    env.add_filter("pct", pct);
    env.add_filter("share", |fraction: f64| format::share(fraction));
    env.add_filter("price", |p: f64| format::price(p));
    env.add_filter("count", |n: i64| format::count(n));
    env.add_filter("minutes", |m: i64| minutes(m));
    env.add_filter(
        "time",
        move |state: &State, ms: i64, fmt: Option<String>| -> Result<String, Error> {
            time(ms, now_ms(state)?, zone, fmt.as_deref())
        },
    );
    env.add_filter("ago", |state: &State, ms: i64| -> Result<String, Error> {
        Ok(ago(ms, now_ms(state)?))
    });
}

/// `now_ms` from the render context.
fn now_ms(state: &State) -> Result<i64, Error> {
    state
        .lookup("now_ms")
        .and_then(|v| i64::try_from(v).ok())
        .ok_or_else(|| Error::new(ErrorKind::UndefinedError, "now_ms is not in the context"))
}

/// `pct`: a signed percentage, or with `sign=false` its magnitude.
fn pct(value: f64, kwargs: Kwargs) -> Result<String, Error> {
    let signed = kwargs.get::<Option<bool>>("sign")?.unwrap_or(true);
    kwargs.assert_all_used()?;
    Ok(if signed {
        format::pct_signed(value)
    } else {
        format::pct_signed(value.abs())
            .trim_start_matches('+')
            .to_owned()
    })
}

/// A duration in minutes: `45 min`, `9 h 20 min`, `24 h`.
#[must_use]
pub fn minutes(m: i64) -> String {
    let (h, m) = (m / 60, m % 60);
    match (h, m) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

/// An absolute time in `zone`: `14:00 UTC` on the same day as `now_ms` (in that zone),
/// `Sat 21 Nov 14:00 UTC` on another day, or `fmt` (a chrono format string) when given.
pub fn time(ms: i64, now_ms: i64, zone: Tz, fmt: Option<&str>) -> Result<String, Error> {
    let at = |ms: i64| {
        DateTime::from_timestamp_millis(ms)
            .map(|t| zone.from_utc_datetime(&t.naive_utc()))
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidOperation,
                    format!("time out of range: {ms}"),
                )
            })
    };
    let t = at(ms)?;
    let fmt = match fmt {
        Some(fmt) => fmt,
        None if at(now_ms).is_ok_and(|now| now.date_naive() == t.date_naive()) => "%H:%M %Z",
        None => "%a %d %b %H:%M %Z",
    };
    let mut out = String::new();
    write!(out, "{}", t.format(fmt)).map_err(|_| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("bad time format {fmt:?}"),
        )
    })?;
    Ok(out)
}

/// A time relative to `now_ms`: `just now`, `5 min ago`, `3 h ago`, `2 days ago`, or
/// `in 5 min` for a time ahead.
#[must_use]
pub fn ago(ms: i64, now_ms: i64) -> String {
    let secs = now_ms.saturating_sub(ms) / 1000;
    let (ahead, secs) = (secs < 0, secs.unsigned_abs());
    let text = match secs {
        0..60 => return "just now".to_owned(),
        60..3_600 => format!("{} min", secs / 60),
        3_600..172_800 => format!("{} h", secs / 3_600),
        _ => format!("{} days", secs / 86_400),
    };
    if ahead {
        format!("in {text}")
    } else {
        format!("{text} ago")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2024-11-23 14:00:00 UTC, a Saturday.
    const T: i64 = 1_732_370_400_000;

    #[test]
    fn money_and_percentages_read_like_the_bar() {
        let mut env = Environment::new();
        register(&mut env, Tz::UTC);
        let out = env
            .render_str(
                "{{ 1360000000|money }} {{ 47870000|money }} {{ 950000|money }} \
                 {{ 4.21|pct }} {{ -13.14|pct }} {{ -13.14|pct(sign=false) }} \
                 {{ 0.656|share }} {{ 94512.34|price }} {{ 4123|count }} {{ 560|minutes }}",
                (),
            )
            .unwrap();
        assert_eq!(
            out,
            "$1.36B $47.87M $950K +4.2% -13.1% 13.1% 65.6% $94,512.3 4,123 9 h 20 min"
        );
    }

    #[test]
    fn time_is_written_in_the_configured_zone() {
        let seoul: Tz = "Asia/Seoul".parse().unwrap();
        // 23:00 in Seoul on the same day.
        assert_eq!(time(T, T, seoul, None).unwrap(), "23:00 KST");
        // Three hours later it is Sunday in Seoul: the day is written out.
        assert_eq!(
            time(T, T + 3 * 3_600_000, seoul, None).unwrap(),
            "Sat 23 Nov 23:00 KST"
        );
        assert_eq!(time(T, T, Tz::UTC, None).unwrap(), "14:00 UTC");
        assert_eq!(
            time(T, T, seoul, Some("%Y-%m-%d %H:%M")).unwrap(),
            "2024-11-23 23:00"
        );
    }

    #[test]
    fn a_bad_time_format_is_an_error_not_a_panic() {
        assert!(time(T, T, Tz::UTC, Some("%Q")).is_err());
    }

    #[test]
    fn ago_counts_minutes_hours_and_days() {
        assert_eq!(ago(T, T + 20_000), "just now");
        assert_eq!(ago(T, T + 5 * 60_000 + 59_000), "5 min ago");
        assert_eq!(ago(T, T + 3 * 3_600_000), "3 h ago");
        assert_eq!(ago(T, T + 47 * 3_600_000), "47 h ago");
        assert_eq!(ago(T, T + 3 * 86_400_000), "3 days ago");
        assert_eq!(ago(T + 10 * 60_000, T), "in 10 min");
    }

    #[test]
    fn filters_read_now_ms_from_the_context() {
        let mut env = Environment::new();
        register(&mut env, "Asia/Seoul".parse().unwrap());
        let out = env
            .render_str(
                "{{ t|time }}, {{ t|ago }}",
                minijinja::context! { t => T, now_ms => T + 1_800_000 },
            )
            .unwrap();
        assert_eq!(out, "23:00 KST, 30 min ago");
        assert!(
            env.render_str("{{ t|ago }}", minijinja::context! { t => T })
                .is_err()
        );
    }
}
