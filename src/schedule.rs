//! When a post fires: presets (`1h`, `4h`, `12h`, `24h`, `7d`, `hourly`, `daily 08:00`), 5-field
//! crontab lines, and 6- or 7-field cron lines with seconds first, each read in a time zone.
//!
//! The `cron` crate reads only 6 or 7 fields and numbers the days of the week from 1 = Sunday,
//! unlike crontab (0 or 7 = Sunday, 1 = Monday). A 5-field line gets a `0` seconds field and its
//! day-of-week numbers turned into names, so `0 8 * * 1-5` means Monday to Friday as it does in
//! crontab. Names (`Mon-Fri`) mean the same everywhere. A time inside a DST gap is skipped, and
//! a time inside a DST overlap fires once.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::analytics::Window;

/// Why a schedule does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ScheduleError(String);

impl ScheduleError {
    /// An error with this message.
    #[must_use]
    pub fn new(message: String) -> Self {
        Self(message)
    }
}

/// A parsed schedule in its time zone.
#[derive(Clone)]
pub struct Schedule {
    /// The text it was read from, normalised.
    text: String,
    cron: cron::Schedule,
    tz: Tz,
    /// The window a preset implies (`4h` posts the last 4 hours every 4 hours).
    window: Option<Window>,
}

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Schedule")
            .field("text", &self.text)
            .field("cron", &self.cron.source())
            .field("tz", &self.tz)
            .finish()
    }
}

impl Schedule {
    /// Reads `text` in time zone `tz`.
    ///
    /// # Errors
    /// A [`ScheduleError`] naming what is wrong, for an operator or a chat admin.
    pub fn parse(text: &str, tz: Tz) -> Result<Self, ScheduleError> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let (line, window) = match words.as_slice() {
            [one] if one.eq_ignore_ascii_case("hourly") => {
                ("0 0 * * * *".to_owned(), Some(Window::H1))
            }
            [one] if one.parse::<Window>().is_ok() => {
                let window: Window = one.parse().map_err(|_| bad(text))?;
                (preset_line(window).to_owned(), Some(window))
            }
            [daily, time] if daily.eq_ignore_ascii_case("daily") => {
                let (h, m) = parse_time(time).ok_or_else(|| {
                    ScheduleError(format!(
                        "`{time}` is not a time; write daily HH:MM, e.g. daily 08:00"
                    ))
                })?;
                (format!("0 {m} {h} * * *"), Some(Window::H24))
            }
            fields if fields.len() == 5 => {
                let mut fields: Vec<String> = fields.iter().map(|f| (*f).to_owned()).collect();
                fields[4] = crontab_weekdays(&fields[4]);
                (format!("0 {}", fields.join(" ")), None)
            }
            fields if fields.len() == 6 || fields.len() == 7 => (fields.join(" "), None),
            _ => return Err(bad(text)),
        };
        let cron = cron::Schedule::from_str(&line)
            .map_err(|e| ScheduleError(format!("`{text}` is not a cron line: {e}")))?;
        Ok(Self {
            text: words.join(" "),
            cron,
            tz,
            window,
        })
    }

    /// The schedule as written (single spaces).
    #[must_use]
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The time zone it is read in.
    #[must_use]
    pub fn tz(&self) -> Tz {
        self.tz
    }

    /// The window a preset implies: `4h` and `hourly` post the last 4 hours and 1 hour,
    /// `daily` the last 24h; `None` for cron lines.
    #[must_use]
    pub fn window(&self) -> Option<Window> {
        self.window
    }

    /// The first fire time strictly after `after`.
    #[must_use]
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.fires_after(after).next()
    }

    /// Fire times after `after`, in UTC. When clocks fall back, a local time happens twice and
    /// the cron crate gives the earlier instant, which can lie before `after`: those are
    /// dropped, so time never runs backwards (the repeated local hour fires once).
    fn fires_after(&self, after: DateTime<Utc>) -> impl Iterator<Item = DateTime<Utc>> + '_ {
        self.cron
            .after(&after.with_timezone(&self.tz))
            .map(|t| t.with_timezone(&Utc))
            .filter(move |t| *t > after)
    }

    /// The last fire time in `(after, until]`, if any: the slot due now when the previous check
    /// was at `after`. Slots in between that were passed over are not returned.
    #[must_use]
    pub fn latest_in(&self, after: DateTime<Utc>, until: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut latest = None;
        for t in self.fires_after(after) {
            if t > until {
                break;
            }
            latest = Some(t);
        }
        latest
    }

    /// The next `n` fire times after `after`, in the schedule's time zone.
    #[must_use]
    pub fn upcoming(&self, after: DateTime<Utc>, n: usize) -> Vec<DateTime<Tz>> {
        self.fires_after(after)
            .take(n)
            .map(|t| t.with_timezone(&self.tz))
            .collect()
    }
}

fn bad(text: &str) -> ScheduleError {
    ScheduleError(format!(
        "`{text}` is not a schedule; use 1h, 4h, 12h, 24h, 7d, hourly, daily HH:MM or a cron line"
    ))
}

/// The cron line of a window preset: every hour, every 4 or 12 hours from midnight, daily at
/// midnight, weekly on Monday at midnight.
fn preset_line(window: Window) -> &'static str {
    match window {
        Window::H1 => "0 0 * * * *",
        Window::H4 => "0 0 */4 * * *",
        Window::H12 => "0 0 */12 * * *",
        Window::H24 => "0 0 0 * * *",
        Window::D7 => "0 0 0 * * Mon",
    }
}

fn parse_time(time: &str) -> Option<(u8, u8)> {
    let (h, m) = time.split_once(':')?;
    let h: u8 = h.parse().ok().filter(|h| *h < 24)?;
    let m: u8 = m.parse().ok().filter(|m| *m < 60 && m_len_ok(time))?;
    Some((h, m))
}

fn m_len_ok(time: &str) -> bool {
    time.split_once(':').is_some_and(|(_, m)| m.len() == 2)
}

/// A crontab day-of-week field with its numbers as names (`1-5` -> `MON-FRI`, `0,6` ->
/// `SUN,SAT`); a number after `/` is a step and stays.
fn crontab_weekdays(field: &str) -> String {
    const NAMES: [&str; 8] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"];
    let mut out = String::with_capacity(field.len() + 8);
    let mut digits = String::new();
    let mut after_slash = false;
    let flush = |digits: &mut String, out: &mut String, after_slash: bool| {
        if digits.is_empty() {
            return;
        }
        match digits.parse::<usize>().ok().and_then(|d| NAMES.get(d)) {
            Some(name) if !after_slash => out.push_str(name),
            _ => out.push_str(digits),
        }
        digits.clear();
    };
    for c in field.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            flush(&mut digits, &mut out, after_slash);
            after_slash = c == '/';
            out.push(c);
        }
    }
    flush(&mut digits, &mut out, after_slash);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crontab_weekday_numbers_become_names() {
        assert_eq!(crontab_weekdays("1-5"), "MON-FRI");
        assert_eq!(crontab_weekdays("0,6"), "SUN,SAT");
        assert_eq!(crontab_weekdays("7"), "SUN");
        assert_eq!(crontab_weekdays("*/2"), "*/2");
        assert_eq!(crontab_weekdays("Mon-Fri"), "Mon-Fri");
        assert_eq!(crontab_weekdays("*"), "*");
    }

    #[test]
    fn times_need_two_minute_digits() {
        assert_eq!(parse_time("08:00"), Some((8, 0)));
        assert_eq!(parse_time("8:05"), Some((8, 5)));
        assert_eq!(parse_time("8:5"), None);
        assert_eq!(parse_time("24:00"), None);
        assert_eq!(parse_time("12:60"), None);
    }
}
