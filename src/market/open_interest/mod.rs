//! Open interest of a coin's perpetuals on each venue, converted to **one-sided USD**
//! ([`OpenInterest::usd`]: the value of all longs, which equals the value of all shorts), and
//! sorted oldest first.
//!
//! What each venue documents, and how liqbot converts it:
//!
//! - **Binance** USD-M ([`parse_binance_open_interest_hist`], [`parse_binance_open_interest`]).
//!   `GET /futures/data/openInterestHist` gives `sumOpenInterest` (base units) and
//!   `sumOpenInterestValue` (USD), documented only as "total open interest" and "total open
//!   interest value"
//!   (<https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/Open-Interest-Statistics>);
//!   `GET /fapi/v1/openInterest` gives the present `openInterest` in base units
//!   (<https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/Open-Interest>).
//!   Neither page speaks of sides; the figures are read as one-sided, the usual convention
//!   (each open contract counted once). `usd = sumOpenInterestValue`, or `openInterest × price`.
//!
//! - **Bybit** v5 ([`parse_bybit_open_interest`]), `GET /v5/market/open-interest`
//!   (<https://bybit-exchange.github.io/docs/v5/market/open-interest>). The current page says of
//!   `openInterest`: "Open interest. The value is the sum of both sides. The unit of value,
//!   e.g., BTCUSD(inverse) is USD, BTCUSDT(linear) is BTC", and documents a second field,
//!   `singleOpenInterest`: "Open interest. The value is the single side." (same units); its
//!   example shows `"openInterest":"63910691.00000000"` next to `"singleOpenInterest":"31955346"`,
//!   half of it. Earlier versions of the page (`docs/v5/market/open-interest.mdx` in
//!   `bybit-exchange/docs`) carried an info box "Returns single side data", at one point next to
//!   the "sum of both sides" line. liqbot reads `singleOpenInterest` when a row has it, and
//!   otherwise halves `openInterest` ([`BYBIT_OPEN_INTEREST_SIDES`]) as the field's description
//!   says. Linear values are base coins, priced per timestamp from candles
//!   ([`bybit_open_interest_usd`]); inverse values are already USD (1-USD contracts).
//!
//! - **OKX** v5 ([`parse_okx_open_interest`], [`parse_okx_open_interest_history`]).
//!   `GET /api/v5/public/open-interest` gives `oi` (contracts), `oiCcy` (coins) and `oiUsd` per
//!   instrument (<https://www.okx.com/docs-v5/en/#public-data-rest-api-get-open-interest>);
//!   `GET /api/v5/rubik/stat/contracts/open-interest-history` gives rows `[ts, oi, oiCcy, oiUsd]`
//!   (<https://www.okx.com/docs-v5/en/#trading-statistics-rest-api-get-contract-open-interest-history>).
//!   OKX does not speak of sides either; `usd = oiUsd`, read as one-sided.
//!
//! Encoders write what the parsers read; columns liqbot does not read and cannot derive from
//! an [`OpenInterest`] (contract and coin counts where USD is read) are written as `"0"`.

mod binance;
mod bybit;
mod okx;

pub use binance::{
    BinanceOpenInterest, binance_open_interest_usd, encode_binance_open_interest,
    encode_binance_open_interest_hist, fetch_binance_open_interest,
    fetch_binance_open_interest_hist, parse_binance_open_interest,
    parse_binance_open_interest_hist,
};
pub use bybit::{
    BYBIT_OPEN_INTEREST_SIDES, BybitOpenInterest, bybit_open_interest_usd,
    encode_bybit_open_interest, fetch_bybit_open_interest, parse_bybit_open_interest,
};
pub use okx::{
    encode_okx_open_interest, encode_okx_open_interest_history, fetch_okx_open_interest,
    fetch_okx_open_interest_history, parse_okx_open_interest, parse_okx_open_interest_history,
};

use super::clamp_limit;
use crate::model::OpenInterest;

/// The sampling periods of the open-interest history endpoints, with each venue's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OiPeriod {
    /// Five minutes.
    M5,
    /// Fifteen minutes.
    M15,
    /// Thirty minutes.
    M30,
    /// One hour.
    H1,
    /// Four hours.
    H4,
    /// One day (UTC).
    D1,
}

impl OiPeriod {
    /// Every period, shortest first.
    pub const ALL: [Self; 6] = [Self::M5, Self::M15, Self::M30, Self::H1, Self::H4, Self::D1];

    /// The length in seconds.
    #[must_use]
    pub fn secs(self) -> u32 {
        match self {
            Self::M5 => 300,
            Self::M15 => 900,
            Self::M30 => 1_800,
            Self::H1 => 3_600,
            Self::H4 => 14_400,
            Self::D1 => 86_400,
        }
    }

    /// Binance's `period` parameter.
    #[must_use]
    pub fn binance(self) -> &'static str {
        match self {
            Self::M5 => "5m",
            Self::M15 => "15m",
            Self::M30 => "30m",
            Self::H1 => "1h",
            Self::H4 => "4h",
            Self::D1 => "1d",
        }
    }

    /// Bybit's `intervalTime` parameter.
    #[must_use]
    pub fn bybit(self) -> &'static str {
        match self {
            Self::M5 => "5min",
            Self::M15 => "15min",
            Self::M30 => "30min",
            Self::H1 => "1h",
            Self::H4 => "4h",
            Self::D1 => "1d",
        }
    }

    /// OKX's `period` parameter (`1Dutc` is the UTC day; OKX's `1D` opens at UTC+8).
    #[must_use]
    pub fn okx(self) -> &'static str {
        match self {
            Self::M5 => "5m",
            Self::M15 => "15m",
            Self::M30 => "30m",
            Self::H1 => "1H",
            Self::H4 => "4H",
            Self::D1 => "1Dutc",
        }
    }
}

/// Sorts readings oldest first.
fn oldest_first(mut list: Vec<OpenInterest>) -> Vec<OpenInterest> {
    list.sort_by_key(|oi| oi.ts_ms);
    list
}
