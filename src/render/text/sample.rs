//! Sample data every template is rendered on when [`Templates`] is built, so an unknown
//! filter, a misspelt variable or a bad time format shows at startup rather than when a post
//! is due. The samples take both sides of every optional part: a full summary and an empty
//! one, a report with context and one without, a large liquidation and cascades.

use super::{Platform, PostData, TemplateError, Templates};
use crate::analytics::alert::{Alert, Cascade, LevelCross};
use crate::analytics::context::CoinContext;
use crate::analytics::levels::Cluster;
use crate::analytics::{CoinTotals, Coverage, Largest, Summary};
use crate::market::fear_greed::FearGreedReading;
use crate::model::{Exchange, FearGreed, Liquidation, Side};
use crate::report::MarketReport;

/// Sat 23 Nov 2024 14:00 UTC.
const NOW_MS: i64 = 1_732_370_400_000;
const HOUR_MS: i64 = 3_600_000;

fn totals(name: &str, usd: f64, long_share: f64) -> CoinTotals {
    CoinTotals {
        name: name.into(),
        usd,
        long_usd: usd * long_share,
        short_usd: usd * (1.0 - long_share),
        count: 12,
    }
}

fn full_summary() -> Summary {
    Summary {
        window: "24h",
        coin: None,
        start_ms: NOW_MS - 24 * HOUR_MS,
        end_ms: NOW_MS,
        total: totals("total", 1.36e9, 0.89),
        by_exchange: vec![totals("Binance", 6e8, 0.9), totals("Bybit", 5e8, 0.8)],
        top_coins: (0..12)
            .map(|i| totals(&format!("C{i}"), 1e8, 0.5))
            .collect(),
        coin_count: 40,
        largest: Some(Largest {
            exchange: Exchange::Okx,
            symbol: "BTC-USDT-SWAP".into(),
            base: "BTC".into(),
            side: Side::Long,
            usd: 4.787e7,
            price: Some(94_512.3),
            ts_ms: Some(NOW_MS - 2 * HOUR_MS),
        }),
        previous_usd: Some(1.5e9),
        change_pct: Some(-9.3),
        coverage: Coverage {
            collected_since_ms: Some(NOW_MS - 9 * HOUR_MS),
            complete: false,
            covered_minutes: 540,
            binance_lower_bound: true,
        },
    }
}

fn empty_summary() -> Summary {
    Summary {
        window: "1h",
        coin: Some("ETH".into()),
        start_ms: NOW_MS - HOUR_MS,
        end_ms: NOW_MS,
        total: totals("total", 0.0, 0.0),
        by_exchange: Vec::new(),
        top_coins: Vec::new(),
        coin_count: 0,
        largest: None,
        previous_usd: None,
        change_pct: None,
        coverage: Coverage {
            collected_since_ms: None,
            complete: false,
            covered_minutes: 0,
            binance_lower_bound: false,
        },
    }
}

/// A complete window whose previous window had nothing, and a largest without price.
fn quiet_summary() -> Summary {
    let mut s = full_summary();
    s.coin = Some("BTC".into());
    s.previous_usd = Some(0.0);
    s.change_pct = None;
    s.coverage.complete = true;
    s.coverage.collected_since_ms = Some(NOW_MS - 100 * HOUR_MS);
    if let Some(l) = &mut s.largest {
        l.price = None;
        l.ts_ms = None;
    }
    s
}

fn day(days_ago: i64, value: u8, classification: &str) -> FearGreed {
    FearGreed {
        ts_ms: NOW_MS - days_ago * 24 * HOUR_MS,
        value,
        classification: classification.into(),
    }
}

fn full_reading() -> FearGreedReading {
    FearGreedReading {
        today: day(0, 70, "Greed"),
        yesterday: Some(day(1, 71, "Greed")),
        week_ago: Some(day(7, 50, "Neutral")),
    }
}

fn cluster(side: Side, price: f64, usd: f64) -> Cluster {
    Cluster {
        side,
        price,
        usd,
        distance_pct: (price - 94_000.0) / 940.0,
    }
}

fn full_market() -> MarketReport {
    MarketReport {
        coin: "BTC".into(),
        context: Some(CoinContext {
            base: "BTC".into(),
            price: 94_000.0,
            price_change_24h_pct: Some(1.2),
            oi_usd: Some(6e10),
            oi_change_24h_pct: Some(-4.0),
            oi_venues: vec![Exchange::Binance, Exchange::Bybit],
        }),
        fear_greed: Some(full_reading()),
        above: (1..8)
            .map(|i| cluster(Side::Short, 94_000.0 + 500.0 * f64::from(i), 1e8))
            .collect(),
        below: (1..8)
            .map(|i| cluster(Side::Long, 94_000.0 - 500.0 * f64::from(i), 1e8))
            .collect(),
        levels_hours: 168.0,
        stale: vec!["okx open interest".into()],
    }
}

fn bare_market() -> MarketReport {
    MarketReport {
        coin: "DOGE".into(),
        context: Some(CoinContext {
            base: "DOGE".into(),
            price: 0.38,
            price_change_24h_pct: None,
            oi_usd: None,
            oi_change_24h_pct: None,
            oi_venues: Vec::new(),
        }),
        fear_greed: Some(FearGreedReading {
            today: day(0, 20, "Extreme Fear"),
            yesterday: None,
            week_ago: None,
        }),
        above: Vec::new(),
        below: Vec::new(),
        levels_hours: 0.0,
        stale: Vec::new(),
    }
}

fn empty_market() -> MarketReport {
    MarketReport {
        context: None,
        fear_greed: None,
        ..bare_market()
    }
}

fn alerts() -> Vec<Alert> {
    let cascade = Cascade {
        coin: None,
        start_ms: NOW_MS - 15 * 60_000,
        end_ms: NOW_MS,
        usd: 1.2e8,
        long_usd: 9.84e7,
        short_usd: 2.16e7,
        count: 812,
        threshold_usd: 1e8,
    };
    vec![
        Alert::Large {
            event: Liquidation {
                exchange: Exchange::Binance,
                symbol: "BTCUSDT".into(),
                base: "BTC".into(),
                quote: "USDT".into(),
                side: Side::Long,
                price: 94_512.0,
                quantity: 130.0,
                usd: 1.23e7,
                ts_ms: NOW_MS - 60_000,
            },
            threshold_usd: 1e7,
        },
        Alert::Cascade(cascade.clone()),
        Alert::Cascade(Cascade {
            coin: Some("ETH".into()),
            ..cascade
        }),
        Alert::LevelCross(LevelCross {
            coin: "BTC".into(),
            side: Side::Short,
            level_price: 94_000.0,
            usd: 1.0e9,
            from_price: 93_600.0,
            price: 94_150.0,
            ts_ms: NOW_MS,
        }),
    ]
}

/// Renders every template on every sample; the first failure is the error, with the sample
/// named so the operator knows which case the template does not handle.
pub(super) fn render_all(templates: &Templates) -> Result<(), TemplateError> {
    let summaries = [
        (full_summary(), "a full 24h summary"),
        (empty_summary(), "an empty summary of one coin"),
        (quiet_summary(), "a summary whose previous window was empty"),
    ];
    let markets = [
        (full_market(), "full market context"),
        (bare_market(), "a price only"),
        (empty_market(), "no market context"),
    ];
    let readings = [
        full_reading(),
        bare_market().fear_greed.unwrap_or_else(full_reading),
    ];
    let alerts = alerts();
    let mut posts: Vec<(String, PostData<'_>)> = Vec::new();
    for ((summary, s), (market, m)) in summaries.iter().zip(&markets) {
        let with = PostData::Summary {
            summary,
            market: Some(market),
        };
        posts.push((format!("{s} with {m}"), with));
        let without = PostData::Summary {
            summary,
            market: None,
        };
        posts.push((format!("{s} without market context"), without));
        posts.push((format!("a heatmap of {s}"), PostData::Heatmap { summary }));
        posts.push((format!("levels with {m}"), PostData::Levels { market }));
    }
    for (reading, label) in readings
        .iter()
        .zip(["a full reading", "today's reading only"])
    {
        posts.push((label.to_owned(), PostData::FearGreed { reading }));
    }
    for (alert, label) in alerts.iter().zip([
        "a large liquidation",
        "a cascade",
        "a cascade of one coin",
        "a level cross",
    ]) {
        posts.push((label.to_owned(), PostData::Alert { alert }));
    }
    for platform in Platform::ALL {
        for (label, data) in &posts {
            templates
                .render(platform, data, NOW_MS)
                .map_err(|e| match e {
                    TemplateError::Template {
                        file,
                        line,
                        message,
                    } => TemplateError::Template {
                        file,
                        line,
                        message: format!("{message} (checking on sample data: {label})"),
                    },
                    other => other,
                })?;
        }
    }
    Ok(())
}
