//! The template context: what a template can read, built from the analytics types.
//!
//! Names match the source types where they exist (`summary.total.usd`), with a few additions
//! templates would otherwise compute (`long_share`, `more_coins`), exchanges by their display
//! name (`Binance`, not `binance`), and long lists cut to [`LIST_LIMIT`] / [`CLUSTER_LIMIT`]
//! items with the number left out beside them. `templates/README.md` lists every variable.

use serde::Serialize;

use super::{Platform, PostData};
use crate::analytics::alert::{Alert, Cascade};
use crate::analytics::context::CoinContext;
use crate::analytics::levels::Cluster;
use crate::analytics::{CoinTotals, Coverage, Largest, Summary};
use crate::market::fear_greed::{ATTRIBUTION, FearGreedReading};
use crate::model::{FearGreed, Liquidation};
use crate::report::MarketReport;

/// At most this many coins or exchanges are listed; the rest are counted in `more_*`.
pub const LIST_LIMIT: usize = 10;
/// At most this many clusters are listed on each side of the price.
pub const CLUSTER_LIMIT: usize = 5;

/// Everything a template sees.
#[derive(Debug, Serialize)]
pub struct Context<'a> {
    /// The moment of rendering, ms since the epoch; `ago` and `time` measure from it.
    pub now_ms: i64,
    /// The configured time zone (`Asia/Seoul`).
    pub time_zone: &'static str,
    /// `telegram` or `discord`.
    pub platform: &'static str,
    /// `summary`, `heatmap`, `levels`, `fng` or `alert`.
    pub kind: &'static str,
    /// Credits posts must carry.
    pub attribution: Attribution,
    /// The window summary (summary and heatmap posts).
    pub summary: Option<SummaryView<'a>>,
    /// Market context and levels (levels posts; summary posts when known).
    pub market: Option<MarketView<'a>>,
    /// Fear & Greed readings (fng posts).
    pub reading: Option<FearGreedView<'a>>,
    /// The alert (alert posts).
    pub alert: Option<AlertView<'a>>,
}

/// Credits.
#[derive(Debug, Serialize)]
pub struct Attribution {
    /// alternative.me's required credit for the Fear & Greed Index.
    pub fear_greed: &'static str,
}

/// A window summary.
#[derive(Debug, Serialize)]
pub struct SummaryView<'a> {
    window: &'static str,
    coin: Option<&'a str>,
    start_ms: i64,
    end_ms: i64,
    total: TotalsView<'a>,
    by_exchange: Vec<TotalsView<'a>>,
    more_exchanges: usize,
    top_coins: Vec<TotalsView<'a>>,
    more_coins: usize,
    coin_count: usize,
    largest: Option<LargestView<'a>>,
    previous_usd: Option<f64>,
    change_pct: Option<f64>,
    coverage: &'a Coverage,
}

/// Totals of one coin, one exchange or the whole window, with the long and short shares.
#[derive(Debug, Serialize)]
pub struct TotalsView<'a> {
    name: &'a str,
    usd: f64,
    long_usd: f64,
    short_usd: f64,
    long_share: f64,
    short_share: f64,
    count: i64,
}

/// The largest single liquidation of a window.
#[derive(Debug, Serialize)]
pub struct LargestView<'a> {
    exchange: &'static str,
    symbol: &'a str,
    base: &'a str,
    side: &'static str,
    usd: f64,
    price: Option<f64>,
    ts_ms: Option<i64>,
}

/// Market context and estimated levels of one coin.
#[derive(Debug, Serialize)]
pub struct MarketView<'a> {
    coin: &'a str,
    context: Option<ContextView<'a>>,
    fear_greed: Option<FearGreedView<'a>>,
    above: Vec<ClusterView>,
    more_above: usize,
    below: Vec<ClusterView>,
    more_below: usize,
    levels_hours: f64,
    stale: &'a [String],
}

/// Price and open interest of one coin.
#[derive(Debug, Serialize)]
pub struct ContextView<'a> {
    base: &'a str,
    price: f64,
    price_change_24h_pct: Option<f64>,
    oi_usd: Option<f64>,
    oi_change_24h_pct: Option<f64>,
    oi_venues: Vec<&'static str>,
}

/// One cluster of estimated liquidations.
#[derive(Debug, Serialize)]
pub struct ClusterView {
    side: &'static str,
    price: f64,
    usd: f64,
    distance_pct: f64,
}

/// Today's Fear & Greed with yesterday's and last week's.
#[derive(Debug, Serialize)]
pub struct FearGreedView<'a> {
    today: &'a FearGreed,
    yesterday: Option<&'a FearGreed>,
    week_ago: Option<&'a FearGreed>,
}

/// A fired alert; `kind` is `large`, `cascade` or `level_cross`.
#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AlertView<'a> {
    /// One large liquidation.
    Large {
        /// The liquidation.
        event: LiquidationView<'a>,
        /// The threshold it crossed.
        threshold_usd: f64,
    },
    /// Many liquidations in a few minutes.
    Cascade {
        /// One coin, or none for all coins.
        coin: Option<&'a str>,
        /// Start of the window, ms.
        start_ms: i64,
        /// End of the window, ms.
        end_ms: i64,
        /// The window in whole minutes.
        minutes: i64,
        /// `usd`, `long_usd`, `short_usd`, `long_share`, `short_share`, `count` and `name`.
        #[serde(flatten)]
        totals: TotalsView<'a>,
        /// The threshold it crossed.
        threshold_usd: f64,
    },
    /// The price went through an estimated liquidation cluster.
    LevelCross {
        /// The coin.
        coin: &'a str,
        /// `short` (a cluster above, crossed upward) or `long` (below, crossed downward).
        side: &'static str,
        /// The cluster's price.
        level_price: f64,
        /// USD estimated at the cluster.
        usd: f64,
        /// The price at the previous check.
        from_price: f64,
        /// The price now.
        price: f64,
        /// When, ms.
        ts_ms: i64,
    },
}

/// One liquidation.
#[derive(Debug, Serialize)]
pub struct LiquidationView<'a> {
    exchange: &'static str,
    symbol: &'a str,
    base: &'a str,
    quote: &'a str,
    side: &'static str,
    price: f64,
    quantity: f64,
    usd: f64,
    ts_ms: i64,
}

/// Builds the context of one post.
#[must_use]
pub fn context<'a>(
    data: &PostData<'a>,
    platform: Platform,
    now_ms: i64,
    time_zone: chrono_tz::Tz,
) -> Context<'a> {
    let mut ctx = Context {
        now_ms,
        time_zone: time_zone.name(),
        platform: platform.as_str(),
        kind: data.kind().as_str(),
        attribution: Attribution {
            fear_greed: ATTRIBUTION,
        },
        summary: None,
        market: None,
        reading: None,
        alert: None,
    };
    match *data {
        PostData::Summary { summary, market } => {
            ctx.summary = Some(summary_view(summary));
            ctx.market = market.map(market_view);
        }
        PostData::Heatmap { summary } => ctx.summary = Some(summary_view(summary)),
        PostData::Levels { market } => ctx.market = Some(market_view(market)),
        PostData::FearGreed { reading } => ctx.reading = Some(fear_greed_view(reading)),
        PostData::Alert { alert } => ctx.alert = Some(alert_view(alert)),
    }
    ctx
}

fn totals(t: &CoinTotals) -> TotalsView<'_> {
    TotalsView {
        name: &t.name,
        usd: t.usd,
        long_usd: t.long_usd,
        short_usd: t.short_usd,
        long_share: t.long_share(),
        short_share: if t.usd > 0.0 {
            t.short_usd / t.usd
        } else {
            0.0
        },
        count: t.count,
    }
}

fn summary_view(s: &Summary) -> SummaryView<'_> {
    let shown = |list: &[CoinTotals]| list.len().min(LIST_LIMIT);
    let coins = shown(&s.top_coins);
    let exchanges = shown(&s.by_exchange);
    SummaryView {
        window: s.window,
        coin: s.coin.as_deref(),
        start_ms: s.start_ms,
        end_ms: s.end_ms,
        total: totals(&s.total),
        by_exchange: s.by_exchange[..exchanges].iter().map(totals).collect(),
        more_exchanges: s.by_exchange.len() - exchanges,
        top_coins: s.top_coins[..coins].iter().map(totals).collect(),
        more_coins: s.coin_count.max(s.top_coins.len()) - coins,
        coin_count: s.coin_count,
        largest: s.largest.as_ref().map(largest_view),
        previous_usd: s.previous_usd,
        change_pct: s.change_pct,
        coverage: &s.coverage,
    }
}

fn largest_view(l: &Largest) -> LargestView<'_> {
    LargestView {
        exchange: l.exchange.display_name(),
        symbol: &l.symbol,
        base: &l.base,
        side: l.side.as_str(),
        usd: l.usd,
        price: l.price,
        ts_ms: l.ts_ms,
    }
}

fn market_view(r: &MarketReport) -> MarketView<'_> {
    let clusters = |list: &[Cluster]| -> (Vec<ClusterView>, usize) {
        let shown = list.len().min(CLUSTER_LIMIT);
        let views = list[..shown]
            .iter()
            .map(|c| ClusterView {
                side: c.side.as_str(),
                price: c.price,
                usd: c.usd,
                distance_pct: c.distance_pct,
            })
            .collect();
        (views, list.len() - shown)
    };
    let (above, more_above) = clusters(&r.above);
    let (below, more_below) = clusters(&r.below);
    MarketView {
        coin: &r.coin,
        context: r.context.as_ref().map(context_view),
        fear_greed: r.fear_greed.as_ref().map(fear_greed_view),
        above,
        more_above,
        below,
        more_below,
        levels_hours: r.levels_hours,
        stale: &r.stale,
    }
}

fn context_view(c: &CoinContext) -> ContextView<'_> {
    ContextView {
        base: &c.base,
        price: c.price,
        price_change_24h_pct: c.price_change_24h_pct,
        oi_usd: c.oi_usd,
        oi_change_24h_pct: c.oi_change_24h_pct,
        oi_venues: c.oi_venues.iter().map(|e| e.display_name()).collect(),
    }
}

fn fear_greed_view(r: &FearGreedReading) -> FearGreedView<'_> {
    FearGreedView {
        today: &r.today,
        yesterday: r.yesterday.as_ref(),
        week_ago: r.week_ago.as_ref(),
    }
}

fn liquidation_view(e: &Liquidation) -> LiquidationView<'_> {
    LiquidationView {
        exchange: e.exchange.display_name(),
        symbol: &e.symbol,
        base: &e.base,
        quote: &e.quote,
        side: e.side.as_str(),
        price: e.price,
        quantity: e.quantity,
        usd: e.usd,
        ts_ms: e.ts_ms,
    }
}

fn alert_view(alert: &Alert) -> AlertView<'_> {
    match alert {
        Alert::Large {
            event,
            threshold_usd,
        } => AlertView::Large {
            event: liquidation_view(event),
            threshold_usd: *threshold_usd,
        },
        Alert::Cascade(c) => cascade_view(c),
        Alert::LevelCross(l) => AlertView::LevelCross {
            coin: &l.coin,
            side: l.side.as_str(),
            level_price: l.level_price,
            usd: l.usd,
            from_price: l.from_price,
            price: l.price,
            ts_ms: l.ts_ms,
        },
    }
}

fn cascade_view(c: &Cascade) -> AlertView<'_> {
    let share = |part: f64| if c.usd > 0.0 { part / c.usd } else { 0.0 };
    AlertView::Cascade {
        coin: c.coin.as_deref(),
        start_ms: c.start_ms,
        end_ms: c.end_ms,
        minutes: c.minutes(),
        totals: TotalsView {
            name: c.coin.as_deref().unwrap_or("all coins"),
            usd: c.usd,
            long_usd: c.long_usd,
            short_usd: c.short_usd,
            long_share: share(c.long_usd),
            short_share: share(c.short_usd),
            count: c.count,
        },
        threshold_usd: c.threshold_usd,
    }
}
