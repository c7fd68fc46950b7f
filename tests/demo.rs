//! `liqbot demo` end to end: simulator, real sockets, real SQLite store, printed summaries.

use liqbot::demo::{DemoOptions, run};

#[tokio::test]
async fn demo_prints_24h_and_1h_summaries_from_stored_events() {
    let out = tempfile::tempdir().unwrap();
    let text = run(&DemoOptions {
        seed: 7,
        history_hours: 3,
        live_secs: 0,
        out: Some(out.path().to_owned()),
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
    // Every post kind, both platforms, with images.
    for kind in ["summary", "heatmap", "levels", "fng", "alert"] {
        for platform in ["telegram.html", "discord.md"] {
            let path = out.path().join(format!("{kind}.{platform}"));
            assert!(path.exists(), "{} missing:\n{text}", path.display());
        }
    }
    for image in [
        "heatmap-BTC-24h.png",
        "levels-BTC.png",
        "levels-over-time-BTC.png",
        "fear-greed.png",
    ] {
        let bytes = std::fs::read(out.path().join(image)).unwrap_or_default();
        assert!(
            bytes.starts_with(b"\x89PNG"),
            "{image} is not a PNG:\n{text}"
        );
    }
}
