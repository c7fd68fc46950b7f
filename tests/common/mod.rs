//! Helpers shared by the integration tests: stores on every configured backend.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};

use liqbot::model::{Exchange, Liquidation, Side};
use liqbot::store::SqlStore;

/// A store under test, with whatever keeps it alive (a temp dir, a database to drop).
pub struct TestStore {
    pub name: &'static str,
    pub url: String,
    pub store: SqlStore,
    _dir: Option<tempfile::TempDir>,
}

/// A fresh SQLite store in a temporary directory.
pub async fn sqlite_store() -> TestStore {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("test.db").display());
    let store = SqlStore::open(&url).await.expect("open sqlite store");
    TestStore {
        name: "sqlite",
        url,
        store,
        _dir: Some(dir),
    }
}

/// A fresh PostgreSQL database when `LIQBOT_TEST_DATABASE_URL` is set. Databases are named
/// `liqbot_t_{unix seconds}_{pid}_{n}`; ones left by runs more than ten minutes old are dropped.
pub async fn postgres_store() -> Option<TestStore> {
    static N: AtomicU32 = AtomicU32::new(0);
    let admin_url = std::env::var("LIQBOT_TEST_DATABASE_URL").ok()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let name = format!(
        "liqbot_t_{now}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    let admin = sqlx::PgPool::connect(&admin_url)
        .await
        .expect("connect to LIQBOT_TEST_DATABASE_URL");
    let old: Vec<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'liqbot_t_%'")
            .fetch_all(&admin)
            .await
            .expect("list test databases");
    for db in old {
        let created: u64 = db
            .split('_')
            .nth(2)
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
        if created + 600 < now {
            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {db} WITH (FORCE)"
            )))
            .execute(&admin)
            .await;
        }
    }
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&admin)
        .await
        .expect("create test database");
    admin.close().await;
    let (base, _) = admin_url
        .rsplit_once('/')
        .expect("database url ends in /DBNAME");
    let url = format!("{base}/{name}");
    let store = SqlStore::open(&url).await.expect("open postgres store");
    Some(TestStore {
        name: "postgres",
        url,
        store,
        _dir: None,
    })
}

/// SQLite always, and PostgreSQL when configured.
pub async fn all_stores() -> Vec<TestStore> {
    let mut stores = vec![sqlite_store().await];
    if let Some(pg) = postgres_store().await {
        stores.push(pg);
    }
    stores
}

/// A liquidation with the given fields and a price of 100.
pub fn liq(exchange: Exchange, symbol: &str, side: Side, usd: f64, ts_ms: i64) -> Liquidation {
    let (base, quote) = liqbot::model::split_concatenated_symbol(symbol);
    Liquidation {
        exchange,
        symbol: symbol.into(),
        base: base.into(),
        quote: quote.into(),
        side,
        price: 100.0,
        quantity: usd / 100.0,
        usd,
        ts_ms,
    }
}
