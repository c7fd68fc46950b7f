//! The windows a summary can cover, and the minute ranges they map to.

use std::fmt;
use std::str::FromStr;

/// A summary window people can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Window {
    /// The last hour.
    H1,
    /// The last 4 hours.
    H4,
    /// The last 12 hours.
    H12,
    /// The last 24 hours.
    H24,
    /// The last 7 days.
    D7,
}

impl Window {
    /// Every window, shortest first.
    pub const ALL: [Self; 5] = [Self::H1, Self::H4, Self::H12, Self::H24, Self::D7];

    /// The window's length in minutes.
    #[must_use]
    pub fn minutes(self) -> i64 {
        match self {
            Self::H1 => 60,
            Self::H4 => 4 * 60,
            Self::H12 => 12 * 60,
            Self::H24 => 24 * 60,
            Self::D7 => 7 * 24 * 60,
        }
    }

    /// The short label people type (`24h`).
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::H1 => "1h",
            Self::H4 => "4h",
            Self::H12 => "12h",
            Self::H24 => "24h",
            Self::D7 => "7d",
        }
    }

    /// The minutes this window covers when it ends at `now_ms`: the current, partial minute and
    /// the `minutes() - 1` whole minutes before it.
    #[must_use]
    pub fn range_ending_at(self, now_ms: i64) -> MinuteRange {
        let end = now_ms.div_euclid(60_000) + 1;
        MinuteRange {
            start: end - self.minutes(),
            end,
        }
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// A window label that is not one of `1h 4h 12h 24h 7d`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown window `{0}` (use 1h, 4h, 12h, 24h or 7d)")]
pub struct UnknownWindow(pub String);

impl FromStr for Window {
    type Err = UnknownWindow;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "1h" | "60m" => Ok(Self::H1),
            "4h" => Ok(Self::H4),
            "12h" => Ok(Self::H12),
            "24h" | "1d" => Ok(Self::H24),
            "7d" | "1w" | "168h" => Ok(Self::D7),
            _ => Err(UnknownWindow(s.to_owned())),
        }
    }
}

/// A half-open range of minutes since the Unix epoch: `start <= minute < end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinuteRange {
    /// The first minute in the range.
    pub start: i64,
    /// The first minute after the range.
    pub end: i64,
}

impl MinuteRange {
    /// The range of the same length just before this one.
    #[must_use]
    pub fn previous(self) -> Self {
        let len = self.end - self.start;
        Self {
            start: self.start - len,
            end: self.start,
        }
    }

    /// Start of the range in milliseconds since the Unix epoch.
    #[must_use]
    pub fn start_ms(self) -> i64 {
        self.start * 60_000
    }

    /// End of the range (exclusive) in milliseconds since the Unix epoch.
    #[must_use]
    pub fn end_ms(self) -> i64 {
        self.end * 60_000
    }

    /// Splits the range into leading minutes, whole hours and trailing minutes, so a store can
    /// answer long windows from hourly rollups: `(minutes, hours, minutes)`, each half-open.
    /// Hours are counted in hours since the epoch.
    #[must_use]
    pub fn split_hours(self) -> (Self, Self, Self) {
        let first_hour = self.start.div_euclid(60) + i64::from(self.start.rem_euclid(60) != 0);
        let last_hour = self.end.div_euclid(60);
        if first_hour >= last_hour {
            let empty = Self { start: 0, end: 0 };
            return (self, empty, empty);
        }
        (
            Self {
                start: self.start,
                end: first_hour * 60,
            },
            Self {
                start: first_hour,
                end: last_hour,
            },
            Self {
                start: last_hour * 60,
                end: self.end,
            },
        )
    }
}

/// A range expressed as whole hours plus or minus a few minutes: what a sum over minute and
/// hour buckets needs to read. See [`MinuteRange::cover`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cover {
    /// Whole hours to add, in hours since the epoch.
    pub hours: MinuteRange,
    /// Minute ranges to add (leading, trailing).
    pub plus: [MinuteRange; 2],
    /// Minute ranges to subtract (leading, trailing).
    pub minus: [MinuteRange; 2],
}

impl MinuteRange {
    const EMPTY: Self = Self { start: 0, end: 0 };

    /// The cheapest cover of this range by hour buckets and minute buckets: each partial hour
    /// at an edge is read either as its minutes inside the range (when that is at most half
    /// an hour) or as the whole hour minus its minutes outside the range, so a sum never reads
    /// more than 30 minutes of minute buckets per edge. (For a window ending now, the minutes
    /// subtracted at the end lie in the future and hold nothing.)
    #[must_use]
    pub fn cover(self) -> Cover {
        let empty = Self::EMPTY;
        let nothing = Cover {
            hours: empty,
            plus: [empty; 2],
            minus: [empty; 2],
        };
        if self.end <= self.start {
            return nothing;
        }
        let (h0, h1) = (self.start.div_euclid(60), (self.end - 1).div_euclid(60));
        if h0 == h1 {
            return Cover {
                plus: [self, empty],
                ..nothing
            };
        }
        let lead = (h0 + 1) * 60 - self.start;
        let (first_hour, plus_a, minus_a) = match lead {
            60 => (h0, empty, empty),
            1..=30 => (
                h0 + 1,
                Self {
                    start: self.start,
                    end: (h0 + 1) * 60,
                },
                empty,
            ),
            _ => (
                h0,
                empty,
                Self {
                    start: h0 * 60,
                    end: self.start,
                },
            ),
        };
        let trail = self.end - h1 * 60;
        let (end_hour, plus_b, minus_b) = match trail {
            60 => (h1 + 1, empty, empty),
            1..=30 => (
                h1,
                Self {
                    start: h1 * 60,
                    end: self.end,
                },
                empty,
            ),
            _ => (
                h1 + 1,
                empty,
                Self {
                    start: self.end,
                    end: (h1 + 1) * 60,
                },
            ),
        };
        Cover {
            hours: Self {
                start: first_hour,
                end: end_hour.max(first_hour),
            },
            plus: [plus_a, plus_b],
            minus: [minus_a, minus_b],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_labels_round_trip() {
        for w in Window::ALL {
            assert_eq!(w.label().parse::<Window>(), Ok(w));
        }
        assert!("2h".parse::<Window>().is_err());
    }

    #[test]
    fn range_includes_the_current_minute() {
        // 00:10:30 -> the 1h window is 23:11 .. 00:10 inclusive.
        let now = 10 * 60_000 + 30_000;
        let r = Window::H1.range_ending_at(now);
        assert_eq!(
            r,
            MinuteRange {
                start: -49,
                end: 11
            }
        );
        assert_eq!(
            r.previous(),
            MinuteRange {
                start: -109,
                end: -49
            }
        );
    }

    #[test]
    fn cover_counts_every_minute_of_the_range_once_and_nothing_else() {
        let inside = |r: MinuteRange, m: i64| i64::from(m >= r.start && m < r.end);
        let mut seed = 7_u64;
        for _ in 0..2_000 {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let start = (seed >> 33) as i64 % 10_000 - 5_000;
            let len = (seed >> 13) as i64 % 3_000;
            let range = MinuteRange {
                start,
                end: start + len,
            };
            let c = range.cover();
            let crosses_an_hour = start.div_euclid(60) != (start + len - 1).div_euclid(60);
            for r in c.plus.iter().chain(&c.minus) {
                let most = if crosses_an_hour { 30 } else { 59 };
                assert!(r.end - r.start <= most, "{range:?}: {c:?}");
            }
            for m in start - 130..start + len + 130 {
                let hour = MinuteRange {
                    start: c.hours.start * 60,
                    end: c.hours.end * 60,
                };
                let counted = inside(hour, m) + c.plus.iter().map(|r| inside(*r, m)).sum::<i64>()
                    - c.minus.iter().map(|r| inside(*r, m)).sum::<i64>();
                assert_eq!(counted, inside(range, m), "{range:?} minute {m}: {c:?}");
            }
        }
    }

    #[test]
    fn split_hours_covers_the_range_exactly() {
        let r = MinuteRange {
            start: 50,
            end: 200,
        };
        let (a, h, b) = r.split_hours();
        assert_eq!(a, MinuteRange { start: 50, end: 60 });
        assert_eq!(h, MinuteRange { start: 1, end: 3 });
        assert_eq!(
            b,
            MinuteRange {
                start: 180,
                end: 200
            }
        );
        let inside = MinuteRange {
            start: 61,
            end: 100,
        };
        let (a, h, b) = inside.split_hours();
        assert_eq!(a, inside);
        assert_eq!(h.end - h.start, 0);
        assert_eq!(b.end - b.start, 0);
        let aligned = MinuteRange {
            start: 120,
            end: 240,
        };
        let (a, h, b) = aligned.split_hours();
        assert_eq!(
            (a.end - a.start, h, b.end - b.start),
            (0, MinuteRange { start: 2, end: 4 }, 0)
        );
    }
}
