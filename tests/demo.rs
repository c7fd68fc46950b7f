//! `liqbot demo` end to end: simulator, real sockets, real SQLite store, printed summaries.

use liqbot::demo::{DemoOptions, run};

#[tokio::test]
async fn demo_prints_24h_and_1h_summaries_from_stored_events() {
    let text = run(&DemoOptions {
        seed: 7,
        history_hours: 3,
        live_secs: 0,
    })
    .await
    .expect("the demo runs");
    assert!(
        text.contains("Liquidations, last 24h (all coins)"),
        "{text}"
    );
    assert!(text.contains("Liquidations, last 1h (all coins)"), "{text}");
    // Three hours of history: the 24h summary must admit it has not seen the whole day.
    assert!(text.contains("of the 24h asked"), "{text}");
    assert!(
        text.contains("Binance figures are a lower bound")
            || text.contains("its figures are a lower bound"),
        "{text}"
    );
    assert!(text.contains("By exchange: "), "{text}");
    assert!(text.contains("Largest: $"), "{text}");
    assert!(text.contains("malformed 0"), "{text}");
}
