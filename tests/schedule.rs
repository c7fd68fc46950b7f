//! Schedules: presets, crontab lines, cron lines with seconds, weekday names, time zones and
//! a DST change.

use chrono::{DateTime, Utc};
use liqbot::analytics::Window;
use liqbot::schedule::Schedule;

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn next_utc(text: &str, tz: chrono_tz::Tz, after: &str, n: usize) -> Vec<String> {
    let schedule = Schedule::parse(text, tz).unwrap_or_else(|e| panic!("{text}: {e}"));
    schedule
        .upcoming(at(after), n)
        .iter()
        .map(|t| {
            t.with_timezone(&Utc)
                .format("%Y-%m-%d %H:%M:%S")
                .to_string()
        })
        .collect()
}

#[test]
fn presets_fire_on_the_hour_and_imply_their_window() {
    let utc = chrono_tz::UTC;
    assert_eq!(
        next_utc("4h", utc, "2026-11-21T09:30:00Z", 2),
        ["2026-11-21 12:00:00", "2026-11-21 16:00:00"]
    );
    assert_eq!(
        next_utc("hourly", utc, "2026-11-21T09:30:00Z", 1),
        ["2026-11-21 10:00:00"]
    );
    // 2026-11-21 is a Saturday: weekly posts go out on Monday at midnight.
    assert_eq!(
        next_utc("7d", utc, "2026-11-21T09:30:00Z", 1),
        ["2026-11-23 00:00:00"]
    );
    let windows = [
        ("1h", Some(Window::H1)),
        ("hourly", Some(Window::H1)),
        ("12h", Some(Window::H12)),
        ("daily 08:00", Some(Window::H24)),
        ("0 8 * * *", None),
    ];
    for (text, window) in windows {
        assert_eq!(
            Schedule::parse(text, utc).unwrap().window(),
            window,
            "{text}"
        );
    }
}

#[test]
fn daily_times_are_read_in_the_time_zone() {
    // 08:00 in Seoul (UTC+9, no DST) is 23:00 UTC the day before.
    assert_eq!(
        next_utc(
            "daily 08:00",
            chrono_tz::Asia::Seoul,
            "2026-11-21T00:00:00Z",
            2
        ),
        ["2026-11-21 23:00:00", "2026-11-22 23:00:00"]
    );
}

#[test]
fn crontab_lines_get_seconds_and_crontab_weekdays() {
    let utc = chrono_tz::UTC;
    // 1-5 is Monday to Friday in crontab, as with names.
    let weekdays = next_utc("30 8 * * 1-5", utc, "2026-11-21T00:00:00Z", 3);
    assert_eq!(
        weekdays,
        [
            "2026-11-23 08:30:00",
            "2026-11-24 08:30:00",
            "2026-11-25 08:30:00"
        ]
    );
    assert_eq!(
        weekdays,
        next_utc("30 8 * * Mon-Fri", utc, "2026-11-21T00:00:00Z", 3)
    );
    // 0 and 7 are Sunday.
    assert_eq!(
        next_utc("0 12 * * 0", utc, "2026-11-21T00:00:00Z", 1),
        ["2026-11-22 12:00:00"]
    );
    assert_eq!(
        next_utc("0 12 * * 7", utc, "2026-11-21T00:00:00Z", 1),
        ["2026-11-22 12:00:00"]
    );
}

#[test]
fn six_and_seven_field_lines_have_seconds_first() {
    let utc = chrono_tz::UTC;
    assert_eq!(
        next_utc("*/20 * * * * *", utc, "2026-11-21T00:00:00Z", 3),
        [
            "2026-11-21 00:00:20",
            "2026-11-21 00:00:40",
            "2026-11-21 00:01:00"
        ]
    );
    assert_eq!(
        next_utc("0 0 9 1 Jan * 2027", utc, "2026-11-21T00:00:00Z", 2),
        ["2027-01-01 09:00:00"]
    );
}

#[test]
fn a_dst_change_in_berlin_keeps_local_time() {
    let berlin = chrono_tz::Europe::Berlin;
    // Clocks go back on 2026-10-25: 08:00 local is 06:00 UTC before, 07:00 UTC after.
    assert_eq!(
        next_utc("daily 08:00", berlin, "2026-10-24T00:00:00Z", 2),
        ["2026-10-24 06:00:00", "2026-10-25 07:00:00"]
    );
    // Clocks go forward on 2026-03-29 at 02:00: 02:30 does not exist that day and is skipped.
    assert_eq!(
        next_utc("30 2 * * *", berlin, "2026-03-28T00:00:00Z", 2),
        ["2026-03-28 01:30:00", "2026-03-30 00:30:00"]
    );
}

#[test]
fn bad_schedules_say_what_is_wrong() {
    let utc = chrono_tz::UTC;
    for text in [
        "",
        "every day",
        "daily 8",
        "daily 25:00",
        "1 2 3",
        "61 * * * *",
    ] {
        let err = Schedule::parse(text, utc).expect_err(text).to_string();
        assert!(err.contains('`'), "{text}: {err}");
    }
}

#[test]
fn latest_in_picks_the_last_slot_of_a_span() {
    let schedule = Schedule::parse("hourly", chrono_tz::UTC).unwrap();
    assert_eq!(
        schedule.latest_in(at("2026-11-21T05:30:00Z"), at("2026-11-21T08:30:00Z")),
        Some(at("2026-11-21T08:00:00Z"))
    );
    assert_eq!(
        schedule.latest_in(at("2026-11-21T08:00:00Z"), at("2026-11-21T08:59:59Z")),
        None
    );
    assert_eq!(
        schedule.next_after(at("2026-11-21T08:00:00Z")),
        Some(at("2026-11-21T09:00:00Z"))
    );
}
