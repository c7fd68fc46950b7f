//! Price candles of a coin's perpetual on each venue, for the liquidation-level model and for
//! pricing open interest quoted in coins:
//! - Binance USD-M `GET /fapi/v1/klines?symbol=BTCUSDT&interval=1m&limit=N`
//!   ([`parse_binance_candles`]);
//! - Bybit v5 `GET /v5/market/kline?category=linear&symbol=BTCUSDT&interval=1&limit=N`
//!   ([`parse_bybit_candles`]);
//! - OKX v5 `GET /api/v5/market/candles?instId=BTC-USDT-SWAP&bar=1m&limit=N`
//!   ([`parse_okx_candles`]).
//!
//! Every venue puts `[start, open, high, low, close, ..]` in the first five columns of a row;
//! the rest (volumes, trade counts) is not read. The output is sorted **oldest first**, whatever
//! the venue's order (Bybit and OKX answer newest first). OKX marks a candle still forming with
//! `confirm == "0"`; [`Candle`] has no such flag, so those are dropped and only closed candles
//! come out. Binance and Bybit do not mark the forming candle: their newest one may still move.

mod binance;
mod bybit;
mod okx;

pub use binance::{encode_binance_candles, fetch_binance_candles, parse_binance_candles};
pub use bybit::{encode_bybit_candles, fetch_bybit_candles, parse_bybit_candles};
pub use okx::{encode_okx_candles, fetch_okx_candles, parse_okx_candles};

use super::clamp_limit;
use super::{Scalar, column, decimal_text, integer, price};
use crate::model::{Candle, Exchange};
use crate::sources::FrameError;

/// The candle lengths liqbot asks the venues for, with each venue's name for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CandleInterval {
    /// One minute.
    M1,
    /// Five minutes.
    M5,
    /// Fifteen minutes.
    M15,
    /// One hour.
    H1,
    /// Four hours.
    H4,
    /// One day, starting 00:00 UTC.
    D1,
}

impl CandleInterval {
    /// Every interval, shortest first.
    pub const ALL: [Self; 6] = [Self::M1, Self::M5, Self::M15, Self::H1, Self::H4, Self::D1];

    /// The length in seconds, as [`Candle::interval_secs`] holds it.
    #[must_use]
    pub fn secs(self) -> u32 {
        match self {
            Self::M1 => 60,
            Self::M5 => 300,
            Self::M15 => 900,
            Self::H1 => 3_600,
            Self::H4 => 14_400,
            Self::D1 => 86_400,
        }
    }

    /// Binance's `interval` parameter.
    #[must_use]
    pub fn binance(self) -> &'static str {
        match self {
            Self::M1 => "1m",
            Self::M5 => "5m",
            Self::M15 => "15m",
            Self::H1 => "1h",
            Self::H4 => "4h",
            Self::D1 => "1d",
        }
    }

    /// Bybit's `interval` parameter (minutes, or `D`).
    #[must_use]
    pub fn bybit(self) -> &'static str {
        match self {
            Self::M1 => "1",
            Self::M5 => "5",
            Self::M15 => "15",
            Self::H1 => "60",
            Self::H4 => "240",
            Self::D1 => "D",
        }
    }

    /// OKX's `bar` parameter. OKX's `1D` opens at 00:00 UTC+8; `1Dutc` is the UTC day.
    #[must_use]
    pub fn okx(self) -> &'static str {
        match self {
            Self::M1 => "1m",
            Self::M5 => "5m",
            Self::M15 => "15m",
            Self::H1 => "1H",
            Self::H4 => "4H",
            Self::D1 => "1Dutc",
        }
    }
}

/// The price at `ts_ms` from candles sorted oldest first: the open of the candle that contains
/// it, or the close of the candle that ends exactly then (the newest candle, when the next one
/// has not started). `None` when no candle covers the moment.
#[must_use]
pub fn price_at(candles: &[Candle], ts_ms: i64) -> Option<f64> {
    let index = candles.partition_point(|candle| candle.open_ms <= ts_ms);
    let candle = candles.get(index.checked_sub(1)?)?;
    // Saturating: a (nonsensical) candle starting near the end of time must not overflow.
    let end_ms = candle
        .open_ms
        .saturating_add(i64::from(candle.interval_secs) * 1000);
    match ts_ms.cmp(&end_ms) {
        std::cmp::Ordering::Less => Some(candle.open),
        std::cmp::Ordering::Equal => Some(candle.close),
        std::cmp::Ordering::Greater => None,
    }
}

/// Reads `[start, open, high, low, close, ..]`, rejecting prices that are not positive or do
/// not bracket each other (`low <= open, close <= high`).
fn candle_from_row(
    exchange: Exchange,
    base: &str,
    interval_secs: u32,
    row: &[Scalar],
) -> Result<Candle, FrameError> {
    let candle = Candle {
        exchange,
        base: base.to_owned(),
        open_ms: integer("start time", column(row, 0, "start time")?)?,
        interval_secs,
        open: price("open", column(row, 1, "open")?)?,
        high: price("high", column(row, 2, "high")?)?,
        low: price("low", column(row, 3, "low")?)?,
        close: price("close", column(row, 4, "close")?)?,
    };
    let inside = |p: f64| candle.low <= p && p <= candle.high;
    if !(inside(candle.open) && inside(candle.close)) {
        return Err(FrameError::Invalid(format!(
            "candle at {} has open {} / close {} outside low {} .. high {}",
            candle.open_ms, candle.open, candle.close, candle.low, candle.high
        )));
    }
    Ok(candle)
}

/// Sorts candles oldest first.
fn oldest_first(mut candles: Vec<Candle>) -> Vec<Candle> {
    candles.sort_by_key(|candle| candle.open_ms);
    candles
}

/// The five price columns of a candle as the venues quote them.
fn price_columns(candle: &Candle) -> [String; 5] {
    [
        candle.open_ms.to_string(),
        decimal_text(candle.open),
        decimal_text(candle.high),
        decimal_text(candle.low),
        decimal_text(candle.close),
    ]
}
