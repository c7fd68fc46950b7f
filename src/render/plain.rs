//! The plain-text summary: what the demo and the console print until templates arrive.
//! Every figure comes from a [`Summary`], which comes from stored events.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use super::format::{count, money, pct_signed, price, share};
use crate::analytics::{CoinTotals, Summary};

fn utc(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms).map_or_else(
        || "?".into(),
        |t| t.format("%a %d %b %H:%M UTC").to_string(),
    )
}

fn split(t: &CoinTotals) -> String {
    format!("{} (longs {})", money(t.usd), share(t.long_share()))
}

/// Renders a window summary as plain text, one fact per line.
#[must_use]
pub fn summary_text(s: &Summary) -> String {
    let mut out = String::new();
    let scope = s.coin.as_deref().unwrap_or("all coins");
    let _ = writeln!(
        out,
        "Liquidations, last {} ({scope}): {} to {}",
        s.window,
        utc(s.start_ms),
        utc(s.end_ms)
    );
    let t = &s.total;
    if t.count == 0 {
        let _ = writeln!(out, "No liquidations recorded in this window.");
    } else {
        let _ = writeln!(
            out,
            "Total {} in {} orders: longs {} ({}), shorts {} ({})",
            money(t.usd),
            count(t.count),
            money(t.long_usd),
            share(t.long_share()),
            money(t.short_usd),
            share(1.0 - t.long_share()),
        );
    }
    match (s.change_pct, s.previous_usd) {
        (Some(pct), Some(prev)) => {
            let _ = writeln!(
                out,
                "Change vs the previous {}: {} (was {})",
                s.window,
                pct_signed(pct),
                money(prev)
            );
        }
        (None, Some(_)) => {
            let _ = writeln!(
                out,
                "Change vs the previous {}: none recorded then",
                s.window
            );
        }
        _ => {
            let _ = writeln!(
                out,
                "Change vs the previous {}: not enough history yet",
                s.window
            );
        }
    }
    if !s.by_exchange.is_empty() {
        let list: Vec<String> = s
            .by_exchange
            .iter()
            .map(|e| format!("{} {}", e.name, split(e)))
            .collect();
        let _ = writeln!(out, "By exchange: {}", list.join(" | "));
    }
    if !s.top_coins.is_empty() {
        let list: Vec<String> = s
            .top_coins
            .iter()
            .map(|c| format!("{} {}", c.name, split(c)))
            .collect();
        let more = s.coin_count.saturating_sub(s.top_coins.len());
        let tail = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        let _ = writeln!(out, "Top coins: {}{tail}", list.join(" | "));
    }
    if let Some(l) = &s.largest {
        let at = match (l.price, l.ts_ms) {
            (Some(p), Some(ts)) => format!(" at {}, {}", price(p), utc(ts)),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "Largest: {} {} {} on {}{at}",
            money(l.usd),
            l.symbol,
            l.side,
            l.exchange
        );
    }
    let c = &s.coverage;
    match c.collected_since_ms {
        Some(since) if !c.complete => {
            let _ = writeln!(
                out,
                "Coverage: data since {} only, {}h{:02}m of the {} asked.",
                utc(since),
                c.covered_minutes / 60,
                c.covered_minutes % 60,
                s.window
            );
        }
        Some(since) => {
            let _ = writeln!(out, "Coverage: full window (data since {}).", utc(since));
        }
        None => {
            let _ = writeln!(out, "Coverage: no data collected yet.");
        }
    }
    if c.binance_lower_bound {
        let _ = writeln!(
            out,
            "Note: Binance pushes at most one liquidation per symbol per second, so its figures are a lower bound."
        );
    }
    out
}

/// Renders market context and the estimated levels of one coin as plain text.
#[must_use]
pub fn market_text(r: &crate::report::MarketReport) -> String {
    use crate::market::fear_greed::ATTRIBUTION;
    let mut out = String::new();
    let mut line = Vec::new();
    if let Some(c) = &r.context {
        let mut price_part = format!("{} {}", c.base, price(c.price));
        if let Some(pct) = c.price_change_24h_pct {
            price_part.push_str(&format!(" ({} 24h)", pct_signed(pct)));
        }
        line.push(price_part);
        if let Some(oi) = c.oi_usd {
            let mut oi_part = format!("open interest {}", money(oi));
            if let Some(pct) = c.oi_change_24h_pct {
                oi_part.push_str(&format!(" ({} 24h)", pct_signed(pct)));
            }
            line.push(oi_part);
        }
    }
    if let Some(fg) = &r.fear_greed {
        let mut fg_part = format!(
            "Fear & Greed {} ({})",
            fg.today.value, fg.today.classification
        );
        if let Some(y) = &fg.yesterday {
            fg_part.push_str(&format!(", yesterday {}", y.value));
        }
        if let Some(w) = &fg.week_ago {
            fg_part.push_str(&format!(", last week {} ({})", w.value, w.classification));
        }
        line.push(fg_part);
    }
    if !line.is_empty() {
        let (first, rest) = line.split_at(line.len().min(2));
        let mut text = first.join(", ");
        if !rest.is_empty() {
            text.push_str("; ");
            text.push_str(&rest.join("; "));
        }
        let _ = writeln!(out, "{text}");
    }
    if r.above.is_empty() && r.below.is_empty() {
        let _ = writeln!(
            out,
            "Estimated liquidation levels: not enough candles and open interest yet."
        );
    } else {
        let mut parts = Vec::new();
        if let Some(text) = cluster_list(&r.above, "short") {
            parts.push(format!("Looking up: about {text}."));
        }
        if let Some(text) = cluster_list(&r.below, "long") {
            parts.push(format!("Looking down: about {text}."));
        }
        let _ = writeln!(out, "{}", parts.join(" "));
        let _ = writeln!(
            out,
            "Levels are estimates from a model (assumed leverage mix, {:.0}h of candles and open-interest changes), not orders on the books.",
            r.levels_hours
        );
    }
    if r.fear_greed.is_some() {
        let _ = writeln!(out, "{ATTRIBUTION}.");
    }
    if !r.stale.is_empty() {
        let _ = writeln!(out, "Stale data (source failing): {}.", r.stale.join(", "));
    }
    out
}

/// "$1.00B of short liquidations cluster at $94,000.0 (+2.1%), then $420M at $96,000.0
/// (+4.2%)", largest first.
fn cluster_list(clusters: &[crate::analytics::levels::Cluster], side: &str) -> Option<String> {
    let items: Vec<String> = clusters
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let what = if i == 0 {
                format!(" of {side} liquidations cluster")
            } else {
                String::new()
            };
            format!(
                "{}{what} at {} ({})",
                money(c.usd),
                price(c.price),
                pct_signed(c.distance_pct)
            )
        })
        .collect();
    (!items.is_empty()).then(|| items.join(", then "))
}
