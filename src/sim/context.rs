//! Market context for the simulator: 1-minute candles from the simulated price path, open
//! interest every 5 minutes that grows while the market is calm and falls by what is
//! liquidated, and a daily Fear & Greed history. It draws from its own random stream, so the
//! liquidations of a seed stay the same whether or not context is used.

use crate::model::{Candle, Exchange, FearGreed, Liquidation};
use crate::rng::SplitMix64;

use super::market::{COINS, SimFeed};

/// Seconds between open-interest readings (the venues' 5-minute history period).
pub const OI_PERIOD_MS: i64 = 300_000;

/// Starting open interest per coin in USD, in the order of [`COINS`].
const START_OI_USD: [f64; 5] = [12e9, 6e9, 2e9, 1e9, 6e8];

/// Candles and open interest, advanced with the market.
#[derive(Debug, Clone)]
pub struct SimContext {
    rng: SplitMix64,
    forming: Vec<Option<Candle>>,
    /// Completed 1-minute candles per coin, oldest first (venue-neutral: `exchange` is a
    /// placeholder the server overwrites).
    pub candles: Vec<Vec<Candle>>,
    oi_coins: Vec<f64>,
    /// Total one-sided open interest per coin in USD, `(ts_ms, usd)` every 5 minutes.
    pub open_interest: Vec<Vec<(i64, f64)>>,
    liquidated_usd: Vec<f64>,
}

impl SimContext {
    /// Context for a market starting at `prices`.
    #[must_use]
    pub fn new(seed: u64, prices: &[f64]) -> Self {
        Self {
            rng: SplitMix64::new(seed ^ 0x00c0_ffee),
            forming: vec![None; COINS.len()],
            candles: vec![Vec::new(); COINS.len()],
            oi_coins: START_OI_USD
                .iter()
                .zip(prices)
                .map(|(usd, p)| usd / p)
                .collect(),
            open_interest: vec![Vec::new(); COINS.len()],
            liquidated_usd: vec![0.0; COINS.len()],
        }
    }

    /// Records one simulated second: the prices at its end and its liquidations.
    pub fn on_second(
        &mut self,
        second_ms: i64,
        prices: &[f64],
        liquidations: &[(SimFeed, Liquidation)],
    ) {
        for (_, e) in liquidations {
            if let Some(i) = COINS.iter().position(|c| c.base == e.base) {
                self.liquidated_usd[i] += e.usd;
            }
        }
        let minute_ms = second_ms.div_euclid(60_000) * 60_000;
        for (i, &price) in prices.iter().enumerate() {
            let candle = self.forming[i].get_or_insert_with(|| Candle {
                exchange: Exchange::Binance,
                base: COINS[i].base.to_owned(),
                open_ms: minute_ms,
                interval_secs: 60,
                open: price,
                high: price,
                low: price,
                close: price,
            });
            candle.high = candle.high.max(price);
            candle.low = candle.low.min(price);
            candle.close = price;
        }
        let end_ms = second_ms + 1000;
        if end_ms % 60_000 == 0 {
            for i in 0..prices.len() {
                if let Some(c) = self.forming[i].take() {
                    self.candles[i].push(c);
                }
            }
        }
        if end_ms % OI_PERIOD_MS == 0 {
            for (i, &price) in prices.iter().enumerate() {
                // New positions keep opening (with noise, pulled back towards the starting
                // size), and what was liquidated is gone.
                let start_coins = START_OI_USD[i] / COINS[i].price;
                let pull = -0.02 * (self.oi_coins[i] / start_coins).ln();
                let growth = (0.0004 + pull + 0.003 * self.rng.next_normal()).exp();
                let liquidated = self.liquidated_usd[i] / price;
                self.oi_coins[i] = (self.oi_coins[i] * growth - liquidated).max(start_coins * 0.2);
                self.open_interest[i].push((end_ms, self.oi_coins[i] * price));
                self.liquidated_usd[i] = 0.0;
            }
        }
    }

    /// The candles of `base`, if it is a simulated coin.
    #[must_use]
    pub fn candles_of(&self, base: &str) -> &[Candle] {
        COINS
            .iter()
            .position(|c| c.base == base)
            .map_or(&[], |i| &self.candles[i])
    }

    /// The open interest of `base` in USD, if it is a simulated coin.
    #[must_use]
    pub fn open_interest_of(&self, base: &str) -> &[(i64, f64)] {
        COINS
            .iter()
            .position(|c| c.base == base)
            .map_or(&[], |i| &self.open_interest[i])
    }
}

/// The share of each venue in a coin's open interest.
#[must_use]
pub fn venue_share(exchange: Exchange) -> f64 {
    match exchange {
        Exchange::Binance => 0.40,
        Exchange::Bybit => 0.35,
        Exchange::Okx => 0.25,
    }
}

/// alternative.me's classification of an index value.
#[must_use]
pub fn classify(value: u8) -> &'static str {
    match value {
        0..=24 => "Extreme Fear",
        25..=44 => "Fear",
        45..=55 => "Neutral",
        56..=75 => "Greed",
        _ => "Extreme Greed",
    }
}

/// `days` daily Fear & Greed readings ending with the day of `now_ms`, newest first.
#[must_use]
pub fn fear_greed_history(seed: u64, now_ms: i64, days: i64) -> Vec<FearGreed> {
    let today = now_ms.div_euclid(86_400_000);
    let mut rng = SplitMix64::new(seed ^ 0x0f_ea12);
    let mut value: f64 = 50.0;
    let mut out: Vec<FearGreed> = (today - days + 1..=today)
        .map(|day| {
            value = (value + 6.0 * rng.next_normal()).clamp(5.0, 95.0);
            // Clamped to 5..95 above, so the cast cannot truncate.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let v = value.round() as u8;
            FearGreed {
                ts_ms: day * 86_400_000,
                value: v,
                classification: classify(v).to_owned(),
            }
        })
        .collect();
    out.reverse();
    out
}
