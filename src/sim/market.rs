//! A seeded, deterministic market: a price path per coin, second by second, and liquidations
//! that cluster around moves (a fall liquidates longs, a rally shorts), spread over the venues
//! and sized in each venue's own units exactly as its wire format carries them.

use std::collections::HashMap;

use super::context::SimContext;
use crate::model::{Exchange, Liquidation, Side};
use crate::rng::SplitMix64;
use crate::sources::bybit::{BybitContract, BybitInstrument};
use crate::sources::okx::OkxInstrument;

/// One simulated coin.
#[derive(Debug, Clone, Copy)]
pub struct SimCoin {
    /// The base asset.
    pub base: &'static str,
    /// Starting price in USD.
    pub price: f64,
    /// Decimals of the price tick.
    pub price_decimals: usize,
    /// Decimals of the base quantity step.
    pub qty_decimals: usize,
    /// Smallest typical liquidation in USD (the Pareto scale).
    pub min_usd: f64,
    /// Liquidations per second in a calm market.
    pub rate: f64,
    /// OKX linear contract value in base units.
    pub okx_ct_val: f64,
    /// Whether Bybit and OKX list an inverse (coin-margined) perpetual for it.
    pub inverse: bool,
}

/// The coins the simulator trades.
pub const COINS: [SimCoin; 5] = [
    SimCoin {
        base: "BTC",
        price: 95_000.0,
        price_decimals: 1,
        qty_decimals: 3,
        min_usd: 2_000.0,
        rate: 0.16,
        okx_ct_val: 0.01,
        inverse: true,
    },
    SimCoin {
        base: "ETH",
        price: 3_300.0,
        price_decimals: 2,
        qty_decimals: 3,
        min_usd: 1_500.0,
        rate: 0.12,
        okx_ct_val: 0.1,
        inverse: true,
    },
    SimCoin {
        base: "SOL",
        price: 180.0,
        price_decimals: 3,
        qty_decimals: 1,
        min_usd: 800.0,
        rate: 0.08,
        okx_ct_val: 1.0,
        inverse: false,
    },
    SimCoin {
        base: "XRP",
        price: 2.3,
        price_decimals: 4,
        qty_decimals: 0,
        min_usd: 500.0,
        rate: 0.05,
        okx_ct_val: 100.0,
        inverse: false,
    },
    SimCoin {
        base: "DOGE",
        price: 0.38,
        price_decimals: 5,
        qty_decimals: 0,
        min_usd: 400.0,
        rate: 0.05,
        okx_ct_val: 1000.0,
        inverse: false,
    },
];

/// Standard deviation of one second's log return.
const SIGMA: f64 = 0.000_12;
/// The most liquidations one coin has in one second at a rate scale of 1 (the intensity's cap).
const MAX_PER_SECOND: f64 = 40.0;
/// OKX and Bybit inverse contracts are worth this many USD (Bybit: 1 USD each).
const OKX_INVERSE_CT_VAL: f64 = 100.0;

/// The venues' instrument lists for the simulated coins, as their REST endpoints serve them.
#[must_use]
pub fn bybit_instruments(contract: BybitContract) -> Vec<BybitInstrument> {
    COINS
        .iter()
        .filter(|c| contract == BybitContract::Linear || c.inverse)
        .map(|c| {
            let quote = if contract == BybitContract::Linear {
                "USDT"
            } else {
                "USD"
            };
            BybitInstrument {
                symbol: format!("{}{quote}", c.base),
                base: c.base.to_owned(),
                quote: quote.to_owned(),
            }
        })
        .collect()
}

/// OKX's swap list for the simulated coins.
#[must_use]
pub fn okx_instruments() -> Vec<OkxInstrument> {
    let mut list = Vec::new();
    for c in &COINS {
        list.push(OkxInstrument {
            inst_id: format!("{}-USDT-SWAP", c.base),
            base: c.base.to_owned(),
            quote: "USDT".to_owned(),
            ct_val: c.okx_ct_val,
            inverse: false,
        });
        if c.inverse {
            list.push(OkxInstrument {
                inst_id: format!("{}-USD-SWAP", c.base),
                base: c.base.to_owned(),
                quote: "USD".to_owned(),
                ct_val: OKX_INVERSE_CT_VAL,
                inverse: true,
            });
        }
    }
    list
}

/// Which stream of the simulator an event goes out on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SimFeed {
    /// Binance USD-M.
    Binance,
    /// Bybit linear.
    BybitLinear,
    /// Bybit inverse.
    BybitInverse,
    /// OKX swaps.
    Okx,
}

impl SimFeed {
    /// Every feed.
    pub const ALL: [Self; 4] = [
        Self::Binance,
        Self::BybitLinear,
        Self::BybitInverse,
        Self::Okx,
    ];
}

/// A move in progress: a drift per second for a number of seconds.
#[derive(Debug, Clone, Copy)]
struct Move {
    drift: f64,
    seconds_left: u32,
}

/// The simulated market, advanced second by second.
#[derive(Debug, Clone)]
pub struct Market {
    seed: u64,
    rng: SplitMix64,
    /// The liquidations' own random stream, at a rate scale other than 1; `None` draws them
    /// from `rng`, between the price steps, as the calibrated market always has.
    event_rng: Option<SplitMix64>,
    /// The start of the next second to simulate, ms.
    next_second_ms: i64,
    prices: Vec<f64>,
    moves: Vec<Option<Move>>,
    context: SimContext,
    /// Multiplies every coin's liquidation intensity (1: the market as calibrated).
    rate_scale: f64,
    /// The liquidations expected so far at rate scale 1: the sum of the capped intensities.
    expected: f64,
}

/// Mixed into the seed of the liquidations' own random stream.
const EVENT_STREAM: u64 = 0x5ca1_ed00_11a7_e500;

impl Market {
    /// A market whose first simulated second starts at `start_ms`.
    #[must_use]
    pub fn new(seed: u64, start_ms: i64) -> Self {
        Self {
            seed,
            rng: SplitMix64::new(seed),
            event_rng: None,
            next_second_ms: start_ms.div_euclid(1000) * 1000,
            prices: COINS.iter().map(|c| c.price).collect(),
            moves: vec![None; COINS.len()],
            context: SimContext::new(seed, &COINS.map(|c| c.price)),
            rate_scale: 1.0,
            expected: 0.0,
        }
    }

    /// This new market with every coin's liquidation intensity multiplied by `scale` (and its
    /// per-second cap raised alike), so it produces `scale` times the liquidations.
    ///
    /// A scale of exactly 1 leaves the market as [`Self::new`] makes it, event for event. Any
    /// other scale draws the liquidations from a random stream of their own, so prices and
    /// moves follow one path per seed whatever the scale: a market of the same seed at scale
    /// 0 then tells, through [`Self::expected_events`], how many a scaled one will produce.
    #[must_use]
    pub fn with_rate_scale(mut self, scale: f64) -> Self {
        self.set_rate_scale(scale);
        self
    }

    /// Changes the rate scale from the next second on (see [`Self::with_rate_scale`]). Once a
    /// market has drawn its liquidations from their own stream it keeps doing so, so its
    /// prices stay on the path of its seed.
    pub fn set_rate_scale(&mut self, scale: f64) {
        self.rate_scale = scale.max(0.0);
        #[allow(clippy::float_cmp)] // exactly 1 is the calibrated market
        let calibrated = self.rate_scale == 1.0;
        if !calibrated && self.event_rng.is_none() {
            self.event_rng = Some(SplitMix64::new(self.seed ^ EVENT_STREAM));
        }
    }

    /// The liquidations expected so far at rate scale 1 (the sum of each second's Poisson
    /// mean); a market at scale `s` expects `s` times as many.
    #[must_use]
    pub fn expected_events(&self) -> f64 {
        self.expected
    }

    /// Candles and open interest so far.
    #[must_use]
    pub fn context(&self) -> &SimContext {
        &self.context
    }

    /// The current price of each coin, in the order of [`COINS`].
    #[must_use]
    pub fn prices(&self) -> &[f64] {
        &self.prices
    }

    /// Simulates every whole second that ends at or before `until_ms`, returning the
    /// liquidations in time order with the feed each goes out on.
    pub fn advance_to(&mut self, until_ms: i64) -> Vec<(SimFeed, Liquidation)> {
        let mut out = Vec::new();
        while self.next_second_ms + 1000 <= until_ms {
            let second = self.next_second_ms;
            let mut this_second = Vec::new();
            for i in 0..COINS.len() {
                self.step_coin(i, second, &mut this_second);
            }
            this_second.sort_by_key(|(_, e): &(SimFeed, Liquidation)| e.ts_ms);
            self.context.on_second(second, &self.prices, &this_second);
            out.extend(this_second);
            self.next_second_ms += 1000;
        }
        out
    }

    fn step_coin(&mut self, i: usize, second_ms: i64, out: &mut Vec<(SimFeed, Liquidation)>) {
        let rng = &mut self.rng;
        // About one move per coin every two hours: 0.5% to 4% over 2 to 15 minutes.
        if self.moves[i].is_none() && rng.next_f64() < 1.0 / 7_200.0 {
            let size = 0.005 + 0.035 * rng.next_f64();
            let sign = if rng.next_f64() < 0.5 { -1.0 } else { 1.0 };
            let seconds = 120 + rng.below(780);
            let seconds_u32 = u32::try_from(seconds).unwrap_or(120);
            self.moves[i] = Some(Move {
                drift: sign * size / f64::from(seconds_u32),
                seconds_left: seconds_u32,
            });
        }
        let drift = self.moves[i].map_or(0.0, |m| m.drift);
        if let Some(m) = &mut self.moves[i] {
            m.seconds_left -= 1;
            if m.seconds_left == 0 {
                self.moves[i] = None;
            }
        }
        let ret = drift + SIGMA * rng.next_normal();
        self.prices[i] *= ret.exp();
        let coin = COINS[i];
        // Activity grows with the size of the move; a trend multiplies it.
        let z = ret.abs() / SIGMA;
        let intensity = coin.rate * (0.25 + 0.5 * z * z) * (1.0 + 25.0 * drift.abs() / SIGMA);
        self.expected += intensity.min(MAX_PER_SECOND);
        let scale = self.rate_scale;
        let rng = match &mut self.event_rng {
            Some(own) => own,
            None => &mut self.rng,
        };
        let count = poisson(rng, (intensity * scale).min(MAX_PER_SECOND * scale));
        for _ in 0..count {
            let long_share = 0.5 - 0.45 * (ret / SIGMA / 2.0).tanh();
            let side = if rng.next_f64() < long_share {
                Side::Long
            } else {
                Side::Short
            };
            // Pareto sizes: most are small, a few are very large.
            let usd = (coin.min_usd / rng.next_f64().max(1e-9).powf(1.0 / 1.3)).min(25_000_000.0);
            let ts_ms = second_ms + i64::try_from(rng.below(1000)).unwrap_or(0);
            let venue = rng.next_f64();
            let inverse = coin.inverse && rng.next_f64() < 0.15;
            let price = round_to(self.prices[i], coin.price_decimals);
            let (feed, exchange, symbol, quote, (quantity, usd)) = if venue < 0.4 {
                (
                    SimFeed::Binance,
                    Exchange::Binance,
                    format!("{}USDT", coin.base),
                    "USDT",
                    linear(&coin, price, usd),
                )
            } else if venue < 0.75 && inverse {
                (
                    SimFeed::BybitInverse,
                    Exchange::Bybit,
                    format!("{}USD", coin.base),
                    "USD",
                    bybit_inverse(price, usd),
                )
            } else if venue < 0.75 {
                (
                    SimFeed::BybitLinear,
                    Exchange::Bybit,
                    format!("{}USDT", coin.base),
                    "USDT",
                    linear(&coin, price, usd),
                )
            } else if inverse {
                (
                    SimFeed::Okx,
                    Exchange::Okx,
                    format!("{}-USD-SWAP", coin.base),
                    "USD",
                    okx_inverse(price, usd),
                )
            } else {
                (
                    SimFeed::Okx,
                    Exchange::Okx,
                    format!("{}-USDT-SWAP", coin.base),
                    "USDT",
                    okx_linear(&coin, price, usd),
                )
            };
            let event = (
                feed,
                Liquidation {
                    exchange,
                    symbol: symbol.into(),
                    base: coin.base.into(),
                    quote: quote.into(),
                    side,
                    price,
                    quantity,
                    usd,
                    ts_ms,
                },
            );
            out.push(event);
        }
    }
}

/// A Poisson sample. Knuth's method is exact and cheap for small means but its `exp(-mean)`
/// vanishes for large ones, so a mean above [`MAX_PER_SECOND`] (a scaled market) is drawn as a
/// sum of Poisson samples of at most that mean each; at most that mean it is one Knuth draw, so
/// an unscaled market draws exactly as it always has.
fn poisson(rng: &mut SplitMix64, mean: f64) -> u32 {
    let mut left = mean;
    let mut total = 0;
    while left > MAX_PER_SECOND {
        total += knuth_poisson(rng, MAX_PER_SECOND);
        left -= MAX_PER_SECOND;
    }
    total + knuth_poisson(rng, left)
}

/// A Poisson sample by Knuth's method: uniform draws multiplied until below `exp(-mean)`.
fn knuth_poisson(rng: &mut SplitMix64, mean: f64) -> u32 {
    let limit = (-mean).exp();
    let mut product = rng.next_f64();
    let mut k = 0;
    while product > limit {
        k += 1;
        product *= rng.next_f64();
    }
    k
}

/// Rounds to `decimals` the way a venue's tick does, returning the exact value the wire
/// text parses back to.
fn round_to(x: f64, decimals: usize) -> f64 {
    format!("{x:.decimals$}").parse().unwrap_or(x)
}

/// Linear (USDT-margined) sizing, `(quantity, usd)`: quantity in base units on the venue's
/// step, notional = price x quantity.
fn linear(coin: &SimCoin, price: f64, usd: f64) -> (f64, f64) {
    let step = 10f64.powi(-i32::try_from(coin.qty_decimals).unwrap_or(0));
    let quantity = round_to((usd / price).max(step), coin.qty_decimals);
    (quantity, price * quantity)
}

/// Bybit inverse sizing: `v` counts 1-USD contracts.
fn bybit_inverse(price: f64, usd: f64) -> (f64, f64) {
    let contracts = usd.round().max(1.0);
    (contracts / price, contracts)
}

/// OKX inverse sizing in whole contracts: `sz * ctVal` is USD.
fn okx_inverse(price: f64, usd: f64) -> (f64, f64) {
    let face = (usd / OKX_INVERSE_CT_VAL).round().max(1.0) * OKX_INVERSE_CT_VAL;
    (face / price, face)
}

/// OKX linear sizing in whole contracts: `sz * ctVal` is base units.
fn okx_linear(coin: &SimCoin, price: f64, usd: f64) -> (f64, f64) {
    let face = (usd / price / coin.okx_ct_val).round().max(1.0) * coin.okx_ct_val;
    (face, face * price)
}

/// OKX instruments by id, for the encoder.
#[must_use]
pub fn okx_instrument_map() -> HashMap<String, OkxInstrument> {
    okx_instruments()
        .into_iter()
        .map(|i| (i.inst_id.clone(), i))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_market() {
        let mut a = Market::new(42, 0);
        let mut b = Market::new(42, 0);
        let ea = a.advance_to(3_600_000);
        let eb = b.advance_to(3_600_000);
        assert_eq!(ea, eb);
        assert!(
            ea.len() > 100,
            "an hour should hold liquidations, got {}",
            ea.len()
        );
        assert!(
            ea.windows(2)
                .all(|w| w[0].1.ts_ms / 1000 <= w[1].1.ts_ms / 1000)
        );
        assert_eq!(a.prices(), b.prices());
    }

    #[test]
    fn every_feed_and_both_sides_appear() {
        let events = Market::new(7, 0).advance_to(6 * 3_600_000);
        for feed in SimFeed::ALL {
            for side in [Side::Long, Side::Short] {
                assert!(
                    events.iter().any(|(f, e)| *f == feed && e.side == side),
                    "{feed:?} {side:?}"
                );
            }
        }
    }

    #[test]
    fn a_rate_scale_of_one_changes_no_event() {
        let plain = Market::new(42, 0).advance_to(6 * 3_600_000);
        let scaled = Market::new(42, 0)
            .with_rate_scale(1.0)
            .advance_to(6 * 3_600_000);
        assert_eq!(plain, scaled);
    }

    #[test]
    fn a_scaled_market_follows_one_price_path_and_produces_scale_times_the_expected_events() {
        let until = 2 * 3_600_000;
        let mut probe = Market::new(3, 0).with_rate_scale(0.0);
        assert!(probe.advance_to(until).is_empty());
        let mut scaled = Market::new(3, 0).with_rate_scale(40.0);
        let events = scaled.advance_to(until).len() as f64;
        assert_eq!(probe.prices(), scaled.prices());
        let expected = 40.0 * probe.expected_events();
        assert!(
            (events / expected - 1.0).abs() < 0.02,
            "{events} events, {expected:.0} expected"
        );
    }
}
