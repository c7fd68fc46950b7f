//! Exchange sources: one module per venue, each with a pure frame parser, and the shared
//! websocket runner that connects, subscribes, pings, reconnects and hands events on.
//!
//! A parser is a pure function from one text frame to events. Control frames (subscription
//! acknowledgements, pongs) parse to no events. A frame that does not parse is an error the
//! runner counts and skips; it never stops the source.

pub mod binance;
pub mod bybit;
pub mod okx;
pub mod rest;
mod scan;
pub mod venues;
pub mod ws;

use crate::model::Liquidation;

/// What one frame held.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Parsed {
    /// The liquidations the frame carried, normalised.
    pub events: Vec<Liquidation>,
    /// Entries inside an otherwise valid frame that could not be used (a bad number, an
    /// instrument without a known contract size). Counted by the runner like malformed frames.
    pub rejected: usize,
}

impl Parsed {
    /// A frame that carried no liquidation (an acknowledgement, a pong, a heartbeat).
    #[must_use]
    pub fn control() -> Self {
        Self::default()
    }
}

/// Gathers the entries of one frame: good ones become events, unusable ones are counted.
#[derive(Debug, Default)]
pub(crate) struct EntryCollector {
    parsed: Parsed,
    first_invalid: Option<FrameError>,
}

impl EntryCollector {
    /// Adds one entry's outcome. An event whose sizes are out of range counts as invalid.
    pub(crate) fn push(&mut self, entry: Result<Liquidation, FrameError>) {
        match entry.and_then(sizes_in_range) {
            Ok(event) => self.parsed.events.push(event),
            Err(error) => {
                self.parsed.rejected += 1;
                self.first_invalid.get_or_insert(error);
            }
        }
    }

    /// Counts entries skipped for a reason that is not the frame's fault (an instrument
    /// missing from a stale list).
    pub(crate) fn skip(&mut self, entries: usize) {
        self.parsed.rejected += entries;
    }

    /// The frame's events; a frame whose every entry was invalid is an error, not an empty
    /// success.
    pub(crate) fn finish(self) -> Result<Parsed, FrameError> {
        match self.first_invalid {
            Some(error) if self.parsed.events.is_empty() => Err(error),
            _ => Ok(self.parsed),
        }
    }
}

/// `event` if its quantity and notional are finite and positive. Each decimal of a frame is
/// checked when read, but a product or quotient of two valid ones can still overflow to
/// infinity (`1e308 * 1e308`) or underflow to zero (`1e-200 * 1e-200`), and one such event
/// would turn every sum it joins into `inf` or hide in it as nothing. Found by fuzzing.
fn sizes_in_range(event: Liquidation) -> Result<Liquidation, FrameError> {
    let usable = |v: f64| v.is_finite() && v > 0.0;
    if usable(event.quantity) && usable(event.usd) {
        return Ok(event);
    }
    Err(FrameError::Invalid(format!(
        "{}: size out of range (quantity {}, usd {})",
        event.symbol, event.quantity, event.usd
    )))
}

/// Why a frame could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The frame is not JSON, or not the JSON shape the venue documents.
    #[error("malformed frame: {0}")]
    Json(#[from] serde_json::Error),
    /// The frame is JSON of the right shape, but a value in it is unusable.
    #[error("invalid frame: {0}")]
    Invalid(String),
    /// The venue reported an error on the connection (a refused subscription, say).
    #[error("venue error: {0}")]
    Venue(String),
}

/// Parses a decimal string as the venues send numbers (`"39021.00"`), rejecting anything that
/// is not a finite, non-negative number.
pub fn parse_decimal(field: &str, value: &str) -> Result<f64, FrameError> {
    match value.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(FrameError::Invalid(format!(
            "{field} is not a number: {value:?}"
        ))),
    }
}
