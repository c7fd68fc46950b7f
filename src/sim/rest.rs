//! The simulator's market-context REST endpoints, in each venue's format: candles, open
//! interest history and the Fear & Greed index, served from the simulated market so the
//! pollers run the same code against it as against the venues.

use std::collections::HashMap;
use std::sync::Arc;

use std::sync::atomic::Ordering;

use axum::Router;
use axum::extract::{Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::context::{fear_greed_history, venue_share};
use super::server::{Shared, now_ms};
use crate::market::candles::{
    encode_binance_candles, encode_bybit_candles, encode_okx_candles, price_at,
};
use crate::market::fear_greed::encode_fear_greed;
use crate::market::open_interest::{
    BybitOpenInterest, encode_binance_open_interest_hist, encode_bybit_open_interest,
    encode_okx_open_interest, encode_okx_open_interest_history,
};
use crate::model::{Candle, Exchange, OpenInterest, split_concatenated_symbol};
use crate::sources::bybit::BybitContract;

type Params = Query<HashMap<String, String>>;

/// How the market-context endpoints misbehave, for tests of the pollers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestFault {
    /// Answer normally.
    None = 0,
    /// Answer 500 Internal Server Error.
    ServerError = 1,
    /// Answer 200 with a body that is not the venue's format.
    Garbage = 2,
    /// Never answer (the client's timeout fires).
    Hang = 3,
}

impl RestFault {
    fn from_u8(v: u8) -> Self {
        match v {
            1 => Self::ServerError,
            2 => Self::Garbage,
            3 => Self::Hang,
            _ => Self::None,
        }
    }
}

async fn inject_fault(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    match RestFault::from_u8(shared.rest_fault.load(Ordering::Relaxed)) {
        RestFault::None => next.run(request).await,
        RestFault::ServerError => {
            (StatusCode::INTERNAL_SERVER_ERROR, "upstream failure").into_response()
        }
        RestFault::Garbage => "<html>rate limited</html>".into_response(),
        RestFault::Hang => {
            tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
    }
}

/// The routes, to merge into the simulator's router.
pub(super) fn routes(shared: &Arc<Shared>) -> Router<Arc<Shared>> {
    Router::new()
        .route("/fapi/v1/klines", get(binance_klines))
        .route("/futures/data/openInterestHist", get(binance_oi_hist))
        .route("/v5/market/kline", get(bybit_kline))
        .route("/v5/market/open-interest", get(bybit_oi))
        .route("/api/v5/market/candles", get(okx_candles))
        .route("/api/v5/public/open-interest", get(okx_oi))
        .route(
            "/api/v5/rubik/stat/contracts/open-interest-history",
            get(okx_oi_history),
        )
        .route("/fng/", get(fear_greed))
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(shared),
            inject_fault,
        ))
}

fn param<T: std::str::FromStr>(q: &HashMap<String, String>, key: &str) -> Option<T> {
    q.get(key).and_then(|v| v.parse().ok())
}

/// The coin's completed candles and open interest (venue total), as of now.
fn snapshot(shared: &Shared, base: &str) -> (Vec<Candle>, Vec<(i64, f64)>) {
    let mut state = shared.lock();
    if shared.options.live {
        state.advance_to(now_ms());
    }
    let context = state.market.context();
    (
        context.candles_of(base).to_vec(),
        context.open_interest_of(base).to_vec(),
    )
}

/// Applies a venue's paging: `[start, end]` by time, then the first `limit` (with a start) or
/// the last `limit` (without).
fn page<T: Clone>(
    items: &[T],
    ts: impl Fn(&T) -> i64,
    start: Option<i64>,
    end: Option<i64>,
    limit: usize,
) -> Vec<T> {
    let selected: Vec<T> = items
        .iter()
        .filter(|i| start.is_none_or(|s| ts(i) >= s) && end.is_none_or(|e| ts(i) <= e))
        .cloned()
        .collect();
    if start.is_some() {
        selected.into_iter().take(limit).collect()
    } else {
        let skip = selected.len().saturating_sub(limit);
        selected.into_iter().skip(skip).collect()
    }
}

fn on(exchange: Exchange, candles: Vec<Candle>) -> Vec<Candle> {
    candles
        .into_iter()
        .map(|c| Candle { exchange, ..c })
        .collect()
}

fn oi_points(exchange: Exchange, base: &str, total: &[(i64, f64)]) -> Vec<OpenInterest> {
    total
        .iter()
        .map(|&(ts_ms, usd)| OpenInterest {
            exchange,
            base: base.to_owned(),
            ts_ms,
            usd: usd * venue_share(exchange),
        })
        .collect()
}

fn okx_base(inst_id: &str) -> String {
    inst_id.split('-').next().unwrap_or_default().to_owned()
}

async fn binance_klines(State(shared): State<Arc<Shared>>, Query(q): Params) -> String {
    let symbol = q.get("symbol").cloned().unwrap_or_default();
    let (base, _) = split_concatenated_symbol(&symbol);
    let (candles, _) = snapshot(&shared, &base);
    let limit = param(&q, "limit").unwrap_or(500).min(1500);
    let list = page(
        &candles,
        |c| c.open_ms,
        param(&q, "startTime"),
        param(&q, "endTime"),
        limit,
    );
    encode_binance_candles(&on(Exchange::Binance, list))
}

async fn binance_oi_hist(State(shared): State<Arc<Shared>>, Query(q): Params) -> String {
    let symbol = q.get("symbol").cloned().unwrap_or_default();
    let (base, _) = split_concatenated_symbol(&symbol);
    let (_, oi) = snapshot(&shared, &base);
    let limit = param(&q, "limit").unwrap_or(30).min(500);
    let list = page(
        &oi,
        |p| p.0,
        param(&q, "startTime"),
        param(&q, "endTime"),
        limit,
    );
    encode_binance_open_interest_hist(&symbol, &oi_points(Exchange::Binance, &base, &list))
}

fn bybit_contract(q: &HashMap<String, String>) -> BybitContract {
    match q.get("category").map(String::as_str) {
        Some("inverse") => BybitContract::Inverse,
        _ => BybitContract::Linear,
    }
}

async fn bybit_kline(State(shared): State<Arc<Shared>>, Query(q): Params) -> String {
    let symbol = q.get("symbol").cloned().unwrap_or_default();
    let (base, _) = split_concatenated_symbol(&symbol);
    let (candles, _) = snapshot(&shared, &base);
    let limit = param(&q, "limit").unwrap_or(200).min(1000);
    let list = page(
        &candles,
        |c| c.open_ms,
        param(&q, "start"),
        param(&q, "end"),
        limit,
    );
    encode_bybit_candles(&symbol, bybit_contract(&q), &on(Exchange::Bybit, list))
}

async fn bybit_oi(State(shared): State<Arc<Shared>>, Query(q): Params) -> String {
    let symbol = q.get("symbol").cloned().unwrap_or_default();
    let (base, _) = split_concatenated_symbol(&symbol);
    let (candles, oi) = snapshot(&shared, &base);
    let contract = bybit_contract(&q);
    let limit = param(&q, "limit").unwrap_or(50).min(200);
    let rows: Vec<BybitOpenInterest> = page(
        &oi,
        |p| p.0,
        param(&q, "startTime"),
        param(&q, "endTime"),
        limit,
    )
    .into_iter()
    .filter_map(|(ts_ms, usd)| {
        let usd = usd * venue_share(Exchange::Bybit);
        let one_sided = match contract {
            BybitContract::Inverse => usd,
            BybitContract::Linear => usd / price_at(&candles, ts_ms)?,
        };
        Some(BybitOpenInterest { ts_ms, one_sided })
    })
    .collect();
    encode_bybit_open_interest(&symbol, contract, &rows)
}

async fn okx_candles(State(shared): State<Arc<Shared>>, Query(q): Params) -> String {
    let base = okx_base(q.get("instId").map_or("", String::as_str));
    let (candles, _) = snapshot(&shared, &base);
    let limit = param(&q, "limit").unwrap_or(100).min(300);
    encode_okx_candles(&on(
        Exchange::Okx,
        page(&candles, |c| c.open_ms, None, None, limit),
    ))
}

async fn okx_oi(State(shared): State<Arc<Shared>>, Query(q): Params) -> String {
    let inst_id = q.get("instId").cloned().unwrap_or_default();
    let base = okx_base(&inst_id);
    let (_, oi) = snapshot(&shared, &base);
    let last = page(&oi, |p| p.0, None, None, 1);
    encode_okx_open_interest(&inst_id, &oi_points(Exchange::Okx, &base, &last))
}

async fn okx_oi_history(State(shared): State<Arc<Shared>>, Query(q): Params) -> String {
    let base = okx_base(q.get("instId").map_or("", String::as_str));
    let (_, oi) = snapshot(&shared, &base);
    let limit = param(&q, "limit").unwrap_or(100).min(100);
    encode_okx_open_interest_history(&oi_points(
        Exchange::Okx,
        &base,
        &page(&oi, |p| p.0, None, None, limit),
    ))
}

async fn fear_greed(State(shared): State<Arc<Shared>>, Query(q): Params) -> String {
    let limit: usize = param(&q, "limit").unwrap_or(1).max(1);
    let mut list = fear_greed_history(shared.options.seed, now_ms(), 60);
    list.truncate(limit);
    encode_fear_greed(&list)
}
