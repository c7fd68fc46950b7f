//! The domain model every component speaks: one forced order, normalised.
//!
//! Everything downstream of a parser speaks of the **position that was liquidated**, never of
//! the order side the exchange printed: a `SELL` forced order on Binance closes a long, so it
//! is a [`Side::Long`] liquidation here.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
pub use smol_str::SmolStr;

/// The venues liqbot listens to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Exchange {
    /// Binance USD-M futures.
    Binance,
    /// Bybit v5 (linear and inverse perpetuals).
    Bybit,
    /// OKX v5 perpetual swaps.
    Okx,
}

impl Exchange {
    /// Every venue, in display order.
    pub const ALL: [Self; 3] = [Self::Binance, Self::Bybit, Self::Okx];

    /// The lower-case id used in the store and in config.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Binance => "binance",
            Self::Bybit => "bybit",
            Self::Okx => "okx",
        }
    }

    /// The name people write in posts.
    #[must_use]
    pub fn display_name(self) -> &'static str {
        match self {
            Self::Binance => "Binance",
            Self::Bybit => "Bybit",
            Self::Okx => "OKX",
        }
    }
}

impl fmt::Display for Exchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.display_name())
    }
}

impl FromStr for Exchange {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "binance" => Ok(Self::Binance),
            "bybit" => Ok(Self::Bybit),
            "okx" => Ok(Self::Okx),
            _ => Err(UnknownName(s.to_owned())),
        }
    }
}

/// The side of the position that was liquidated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// A long position was force-closed (the exchange sold).
    Long,
    /// A short position was force-closed (the exchange bought).
    Short,
}

impl Side {
    /// The lower-case id used in the store.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Long => "long",
            Self::Short => "short",
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Side {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "long" => Ok(Self::Long),
            "short" => Ok(Self::Short),
            _ => Err(UnknownName(s.to_owned())),
        }
    }
}

/// A name that is not one of the known exchanges or sides.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown name `{0}`")]
pub struct UnknownName(pub String);

/// One forced order, normalised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Liquidation {
    /// Where it happened.
    pub exchange: Exchange,
    /// The venue's instrument id, as the venue writes it (`BTCUSDT`, `BTC-USDT-SWAP`).
    ///
    /// Names are [`SmolStr`]s: up to 23 bytes they live inline, so an event costs no
    /// allocation for its names and a clone copies them.
    pub symbol: SmolStr,
    /// The base asset, upper case (`BTC`).
    pub base: SmolStr,
    /// The quote or settlement currency (`USDT`, `USDC`, `USD`).
    pub quote: SmolStr,
    /// The side of the position that was liquidated.
    pub side: Side,
    /// The price of the forced order (average fill or bankruptcy price, as the venue gives it).
    pub price: f64,
    /// Size in base units.
    pub quantity: f64,
    /// Size in US dollars (stablecoins counted at par).
    pub usd: f64,
    /// Exchange timestamp, milliseconds since the Unix epoch.
    pub ts_ms: i64,
}

impl Liquidation {
    /// A key that is the same for the same forced order seen twice (after a reconnect, or by
    /// two collectors), and different for two distinct orders: its exchange, symbol, time,
    /// side, price and quantity, the columns the store keys raw events by.
    #[must_use]
    pub fn dedup_key(&self) -> String {
        format!(
            "{}|{}|{}|{}|{}|{}",
            self.exchange.as_str(),
            self.symbol,
            self.ts_ms,
            self.side.as_str(),
            self.price,
            self.quantity
        )
    }

    /// The minute (since the Unix epoch) this event falls in.
    #[must_use]
    pub fn minute(&self) -> i64 {
        self.ts_ms.div_euclid(60_000)
    }
}

/// One price candle of a coin's perpetual on one venue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candle {
    /// Where it traded.
    pub exchange: Exchange,
    /// The base asset (`BTC`).
    pub base: String,
    /// Start of the candle, ms since the Unix epoch.
    pub open_ms: i64,
    /// Length of the candle in seconds (60 for 1m).
    pub interval_secs: u32,
    /// First price.
    pub open: f64,
    /// Highest price.
    pub high: f64,
    /// Lowest price.
    pub low: f64,
    /// Last price.
    pub close: f64,
}

/// Open interest of a coin's perpetuals on one venue at one moment, one-sided (the value of
/// all long positions, which equals the value of all short positions), in USD.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenInterest {
    /// The venue.
    pub exchange: Exchange,
    /// The base asset (`BTC`).
    pub base: String,
    /// When the venue measured it, ms since the Unix epoch.
    pub ts_ms: i64,
    /// Open interest in USD.
    pub usd: f64,
}

/// One day's Fear & Greed index reading, as alternative.me publishes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FearGreed {
    /// The day the reading is for, ms since the Unix epoch (00:00 UTC).
    pub ts_ms: i64,
    /// The index, 0 (extreme fear) to 100 (extreme greed).
    pub value: u8,
    /// The classification alternative.me gives (`Extreme Fear`, `Fear`, `Neutral`, `Greed`,
    /// `Extreme Greed`).
    pub classification: String,
}

/// The base asset of a symbol written as base + quote (`BTCUSDT`, `ETHUSD`, `SOLUSDC`), with
/// the quote it ends in. Dated suffixes (`BTCUSDT_250328`) are dropped.
///
/// `…BUSD` is ambiguous: `BTCBUSD` is BTC in BUSD, `BNBUSD` is BNB in USD. It is read as BUSD
/// only when that leaves a base of at least three letters, so a coin ending in B keeps it.
#[must_use]
pub fn split_concatenated_symbol(symbol: &str) -> (String, String) {
    let (base, quote) = split_symbol(symbol);
    (base.to_owned(), quote.to_owned())
}

/// [`split_concatenated_symbol`] without copying: the base as a slice of `symbol` (in the
/// venue's case), and the quote.
#[must_use]
pub fn split_symbol(symbol: &str) -> (&str, &'static str) {
    let head = symbol.split('_').next().unwrap_or(symbol);
    for quote in ["USDT", "USDC", "BUSD", "FDUSD", "USD", "PERP"] {
        if let Some(base) = head.strip_suffix(quote)
            && !base.is_empty()
            && (quote != "BUSD" || base.len() >= 3)
        {
            return (base, if quote == "PERP" { "USDC" } else { quote });
        }
    }
    (head, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concatenated_symbols_split_into_base_and_quote() {
        let cases = [
            ("BTCUSDT", ("BTC", "USDT")),
            ("ETHUSD", ("ETH", "USD")),
            ("SOLUSDC", ("SOL", "USDC")),
            ("BTCUSDT_250328", ("BTC", "USDT")),
            ("ETHPERP", ("ETH", "USDC")),
            ("1000PEPEUSDT", ("1000PEPE", "USDT")),
            ("BTCBUSD", ("BTC", "BUSD")),
            ("BNBUSD", ("BNB", "USD")),
            ("ARBUSD", ("ARB", "USD")),
        ];
        for (symbol, (base, quote)) in cases {
            assert_eq!(
                split_concatenated_symbol(symbol),
                (base.to_owned(), quote.to_owned()),
                "{symbol}"
            );
        }
    }

    #[test]
    fn dedup_key_differs_by_side_and_matches_for_the_same_order() {
        let a = Liquidation {
            exchange: Exchange::Bybit,
            symbol: "BTCUSDT".into(),
            base: "BTC".into(),
            quote: "USDT".into(),
            side: Side::Long,
            price: 100.5,
            quantity: 2.0,
            usd: 201.0,
            ts_ms: 1,
        };
        let mut b = a.clone();
        assert_eq!(a.dedup_key(), b.dedup_key());
        b.side = Side::Short;
        assert_ne!(a.dedup_key(), b.dedup_key());
    }
}
