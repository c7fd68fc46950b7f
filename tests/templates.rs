//! Post templates: golden files for every post kind and platform, escaping of hostile names,
//! length limits, error reporting and the override directory.
//!
//! The golden files under `tests/golden/` are what the default templates render on the fixed
//! data below. After changing a template on purpose, rewrite them with
//! `LIQBOT_BLESS=1 cargo test --test templates` and review the diff.

use std::path::{Path, PathBuf};

use chrono_tz::Tz;
use liqbot::analytics::alert::{Alert, Cascade};
use liqbot::analytics::context::CoinContext;
use liqbot::analytics::levels::Cluster;
use liqbot::analytics::{CoinTotals, Coverage, Largest, Summary};
use liqbot::market::fear_greed::FearGreedReading;
use liqbot::model::{Exchange, FearGreed, Liquidation, Side};
use liqbot::render::text::limits::{
    EMBED_DESCRIPTION, EMBED_FIELD_NAME, EMBED_FIELD_VALUE, EMBED_FIELDS, EMBED_FOOTER,
    EMBED_TITLE, EMBED_TOTAL, TELEGRAM_CAPTION, TELEGRAM_MESSAGE, char_len, embed_len, utf16_len,
};
use liqbot::render::text::{
    Embed, Platform, PostData, PostKind, RenderedPost, TemplateError, Templates,
};
use liqbot::report::MarketReport;
use pretty_assertions::assert_eq;

/// Sat 23 Nov 2024 14:00 UTC.
const NOW: i64 = 1_732_370_400_000;
const HOUR: i64 = 3_600_000;

fn totals(name: &str, usd: f64, long_usd: f64, count: i64) -> CoinTotals {
    CoinTotals {
        name: name.into(),
        usd,
        long_usd,
        short_usd: usd - long_usd,
        count,
    }
}

/// The example of the design notes: $1.36B in 24h, $1.21B of it longs, down 13.1%.
fn summary() -> Summary {
    Summary {
        window: "24h",
        coin: None,
        start_ms: NOW - 24 * HOUR,
        end_ms: NOW,
        total: totals("total", 1.36e9, 1.21e9, 41_230),
        by_exchange: vec![
            totals("Binance", 6.1e8, 5.5e8, 20_100),
            totals("Bybit", 4.9e8, 4.3e8, 15_000),
            totals("OKX", 2.6e8, 2.3e8, 6_130),
        ],
        top_coins: vec![
            totals("BTC", 3.77e8, 3.2e8, 9_000),
            totals("ETH", 3.16e8, 2.9e8, 8_000),
            totals("SOL", 1.2e8, 1.1e8, 5_000),
        ],
        coin_count: 42,
        largest: Some(Largest {
            exchange: Exchange::Okx,
            symbol: "BTC-USDT-SWAP".into(),
            base: "BTC".into(),
            side: Side::Long,
            usd: 4.787e7,
            price: Some(94_512.34),
            ts_ms: Some(NOW - 3 * HOUR - 25 * 60_000),
        }),
        previous_usd: Some(1.565e9),
        change_pct: Some(-13.1),
        coverage: Coverage {
            collected_since_ms: Some(NOW - 10 * HOUR),
            complete: false,
            covered_minutes: 600,
            binance_lower_bound: true,
        },
    }
}

fn fear_greed(days_ago: i64, value: u8, classification: &str) -> FearGreed {
    FearGreed {
        ts_ms: NOW - 14 * HOUR - days_ago * 24 * HOUR,
        value,
        classification: classification.into(),
    }
}

fn reading() -> FearGreedReading {
    FearGreedReading {
        today: fear_greed(0, 70, "Greed"),
        yesterday: Some(fear_greed(1, 71, "Greed")),
        week_ago: Some(fear_greed(7, 50, "Neutral")),
    }
}

fn cluster(side: Side, price: f64, usd: f64) -> Cluster {
    Cluster {
        side,
        price,
        usd,
        distance_pct: (price - 94_512.3) * 100.0 / 94_512.3,
    }
}

fn market() -> MarketReport {
    MarketReport {
        coin: "BTC".into(),
        context: Some(CoinContext {
            base: "BTC".into(),
            price: 94_512.3,
            price_change_24h_pct: Some(1.24),
            oi_usd: Some(6.02e10),
            oi_change_24h_pct: Some(-4.0),
            oi_venues: vec![Exchange::Binance, Exchange::Bybit, Exchange::Okx],
        }),
        fear_greed: Some(reading()),
        above: vec![
            cluster(Side::Short, 96_000.0, 1.0e9),
            cluster(Side::Short, 98_250.0, 4.2e8),
        ],
        below: vec![
            cluster(Side::Long, 92_100.0, 7.5e8),
            cluster(Side::Long, 90_000.0, 3.1e8),
        ],
        levels_hours: 168.0,
        stale: Vec::new(),
    }
}

fn large_alert() -> Alert {
    Alert::Large {
        event: Liquidation {
            exchange: Exchange::Binance,
            symbol: "BTCUSDT".into(),
            base: "BTC".into(),
            quote: "USDT".into(),
            side: Side::Long,
            price: 94_512.0,
            quantity: 130.14,
            usd: 1.23e7,
            ts_ms: NOW - 2 * 60_000,
        },
        threshold_usd: 1e7,
    }
}

fn cascade_alert() -> Alert {
    Alert::Cascade(Cascade {
        coin: None,
        start_ms: NOW - 15 * 60_000,
        end_ms: NOW,
        usd: 1.2e8,
        long_usd: 9.84e7,
        short_usd: 2.16e7,
        count: 2_412,
        threshold_usd: 1e8,
    })
}

fn templates() -> Templates {
    Templates::new(None, Tz::UTC).expect("the default templates load")
}

/// A readable dump of a post, for golden files and failure messages.
fn dump(post: &RenderedPost) -> String {
    let mut out = String::new();
    match &post.caption {
        Some(caption) if *caption == post.text => out.push_str("=== caption: the whole text ===\n"),
        Some(caption) => out.push_str(&format!("=== caption ===\n{caption}\n")),
        None => {}
    }
    for (i, message) in post.messages.iter().enumerate() {
        out.push_str(&format!("=== message {} ===\n{message}\n", i + 1));
    }
    if let Some(embed) = &post.embed {
        out.push_str(&format!(
            "=== embed #{:06X} ===\n=== title ===\n{}\n=== description ===\n{}\n",
            embed.color, embed.title, embed.description
        ));
        for field in &embed.fields {
            let inline = if field.inline { " (inline)" } else { "" };
            out.push_str(&format!(
                "=== field{inline}: {} ===\n{}\n",
                field.name, field.value
            ));
        }
        if let Some(footer) = &embed.footer {
            out.push_str(&format!("=== footer ===\n{footer}\n"));
        }
    }
    out
}

fn golden_path(kind: PostKind, platform: Platform) -> PathBuf {
    let ext = match platform {
        Platform::Telegram => "html",
        Platform::Discord => "md",
    };
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{kind}.{platform}.{ext}"))
}

fn check_golden(kind: PostKind, platform: Platform, got: &str) {
    let path = golden_path(kind, platform);
    if std::env::var_os("LIQBOT_BLESS").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run LIQBOT_BLESS=1 cargo test --test templates",
            path.display()
        )
    });
    assert_eq!(want, got, "{}", path.display());
}

#[test]
fn every_post_matches_its_golden_file() {
    let t = templates();
    let (summary, market, reading) = (summary(), market(), reading());
    let (large, cascade) = (large_alert(), cascade_alert());
    let posts: [(PostKind, Vec<PostData<'_>>); 5] = [
        (
            PostKind::Summary,
            vec![PostData::Summary {
                summary: &summary,
                market: Some(&market),
            }],
        ),
        (
            PostKind::Heatmap,
            vec![PostData::Heatmap { summary: &summary }],
        ),
        (PostKind::Levels, vec![PostData::Levels { market: &market }]),
        (
            PostKind::FearGreed,
            vec![PostData::FearGreed { reading: &reading }],
        ),
        (
            PostKind::Alert,
            vec![
                PostData::Alert { alert: &large },
                PostData::Alert { alert: &cascade },
            ],
        ),
    ];
    for platform in Platform::ALL {
        for (kind, data) in &posts {
            let got: Vec<String> = data
                .iter()
                .map(|d| {
                    let post = t.render(platform, d, NOW).unwrap();
                    assert_eq!((post.kind, post.platform), (*kind, platform));
                    dump(&post)
                })
                .collect();
            check_golden(*kind, platform, &got.join("\n"));
        }
    }
}

#[test]
fn kinds_and_platforms_parse_from_their_names() {
    for kind in PostKind::ALL {
        assert_eq!(kind.as_str().parse::<PostKind>(), Ok(kind));
    }
    assert_eq!("fng".parse::<PostKind>(), Ok(PostKind::FearGreed));
    assert_eq!("Discord".parse::<Platform>(), Ok(Platform::Discord));
    assert!("fear".parse::<PostKind>().is_err());
    assert!("slack".parse::<Platform>().is_err());
}

#[test]
fn times_are_written_in_the_configured_zone() {
    let t = Templates::new(None, "Asia/Seoul".parse().unwrap()).unwrap();
    let alert = large_alert();
    let post = t
        .render(Platform::Telegram, &PostData::Alert { alert: &alert }, NOW)
        .unwrap();
    // 13:58 UTC is 22:58 in Seoul.
    assert!(post.text.contains("22:58 KST"), "{}", post.text);
}

/// A summary whose names are markup and mentions.
fn hostile_summary() -> Summary {
    let mut s = summary();
    s.top_coins[0].name = "<b>&".into();
    s.top_coins[1].name = "@everyone **X** <@123> <@&456> <#789> @here".into();
    s.by_exchange[0].name = "<b>& \"Ex\" @everyone".into();
    if let Some(l) = &mut s.largest {
        l.symbol = "<i>@here</i>`x`".into();
    }
    s
}

/// Every `<` in a Telegram post opens or closes a tag the default templates write.
fn assert_only_template_tags(html: &str) {
    for (i, _) in html.match_indices('<') {
        let tag = &html[i..html[i..].find('>').map_or(html.len(), |e| i + e + 1)];
        assert!(
            ["<b>", "</b>", "<i>", "</i>"].contains(&tag),
            "unexpected tag {tag:?} in {html}"
        );
    }
}

fn discord_parts(post: &RenderedPost) -> Vec<String> {
    let embed = post.embed.as_ref().unwrap();
    let mut parts = vec![
        post.text.clone(),
        embed.title.clone(),
        embed.description.clone(),
    ];
    parts.extend(
        embed
            .fields
            .iter()
            .flat_map(|f| [f.name.clone(), f.value.clone()]),
    );
    parts.extend(embed.footer.clone());
    parts
}

#[test]
fn hostile_names_stay_inert_on_telegram() {
    let (s, m) = (hostile_summary(), market());
    let post = templates()
        .render(
            Platform::Telegram,
            &PostData::Summary {
                summary: &s,
                market: Some(&m),
            },
            NOW,
        )
        .unwrap();
    assert_only_template_tags(&post.text);
    assert!(post.text.contains("&lt;b&gt;&amp;"), "{}", post.text);
    assert!(post.text.contains("&quot;Ex&quot;"), "{}", post.text);
    assert!(
        post.text.contains("&lt;i&gt;@here&lt;/i&gt;"),
        "{}",
        post.text
    );
    for message in &post.messages {
        assert_only_template_tags(message);
    }
}

#[test]
fn hostile_names_never_ping_or_format_on_discord() {
    let (s, m) = (hostile_summary(), market());
    let post = templates()
        .render(
            Platform::Discord,
            &PostData::Summary {
                summary: &s,
                market: Some(&m),
            },
            NOW,
        )
        .unwrap();
    let all = discord_parts(&post).join("\n");
    for ping in ["@everyone", "@here", "<@123>", "<@&456>", "<#789>"] {
        assert!(!all.contains(ping), "{ping} in {all}");
    }
    assert!(all.contains(r"\*\*X\*\*"), "{all}");
    assert!(all.contains(r"\`x\`"), "{all}");
}

/// A summary of 500 coins with long names, and 30 exchanges.
fn oversized_summary() -> Summary {
    let mut s = summary();
    let name = |prefix: &str, i: usize| format!("{prefix}{i}-{}", "Ж".repeat(120));
    s.top_coins = (0..500)
        .map(|i| totals(&name("COIN", i), 1e6, 5e5, 10))
        .collect();
    s.coin_count = 500;
    s.by_exchange = (0..30)
        .map(|i| totals(&name("EX", i), 1e6, 5e5, 10))
        .collect();
    s
}

fn assert_telegram_fits(post: &RenderedPost) {
    let caption = post.caption.as_deref().unwrap();
    assert!(
        utf16_len(caption) <= TELEGRAM_CAPTION,
        "caption {}",
        utf16_len(caption)
    );
    assert!(!post.messages.is_empty());
    for m in &post.messages {
        assert!(utf16_len(m) <= TELEGRAM_MESSAGE, "message {}", utf16_len(m));
        assert_eq!(m.matches("<b>").count(), m.matches("</b>").count(), "{m}");
        assert_eq!(m.matches("<i>").count(), m.matches("</i>").count(), "{m}");
    }
}

fn assert_embed_fits(embed: &Embed) {
    assert!(char_len(&embed.title) <= EMBED_TITLE);
    assert!(char_len(&embed.description) <= EMBED_DESCRIPTION);
    assert!(embed.fields.len() <= EMBED_FIELDS);
    for f in &embed.fields {
        assert!(char_len(&f.name) <= EMBED_FIELD_NAME, "{}", f.name);
        assert!(char_len(&f.value) <= EMBED_FIELD_VALUE, "{}", f.value);
    }
    assert!(embed.footer.as_deref().map_or(0, char_len) <= EMBED_FOOTER);
    assert!(
        embed_len(embed) <= EMBED_TOTAL,
        "total {}",
        embed_len(embed)
    );
}

#[test]
fn an_oversized_summary_is_trimmed_with_and_n_more() {
    let s = oversized_summary();
    let data = PostData::Summary {
        summary: &s,
        market: None,
    };
    let t = templates();
    let telegram = t.render(Platform::Telegram, &data, NOW).unwrap();
    assert_telegram_fits(&telegram);
    assert!(telegram.text.contains("and 490 more"), "{}", telegram.text);
    assert!(telegram.text.contains("and 20 more"));
    let discord = t.render(Platform::Discord, &data, NOW).unwrap();
    let embed = discord.embed.as_ref().unwrap();
    assert_embed_fits(embed);
    // Ten long names overflow the field: it is cut, with a note on what was left out.
    let coins = &embed.fields[0];
    assert_eq!(coins.name, "Top coins");
    assert!(coins.value.contains(" more lines"), "{}", coins.value);
}

/// Writes `files` into a fresh temporary directory.
fn override_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

#[test]
fn posts_too_long_for_one_message_are_split_and_fitted() {
    // Templates that list every coin many times over, and 40 fields.
    let dir = override_dir(&[
        (
            "summary.telegram.html.j2",
            "{% block headline %}<b>Headline {{ summary.total.usd|money }}</b>{% endblock %}\n\
             {% for i in range(40) %}{% for c in summary.top_coins %}\
             <b>{{ c.name }}</b> <i>{{ c.usd|money }} &amp; more</i>\n{% endfor %}{% endfor %}",
        ),
        (
            "summary.discord.md.j2",
            "{% block title %}{% for i in range(50) %}Title {{ i }} {% endfor %}{% endblock %}\
             {% block description %}{% for i in range(40) %}{% for c in summary.top_coins %}\
             **{{ c.name }}** {{ c.usd|money }}\n{% endfor %}{% endfor %}{% endblock %}\
             {% block fields %}{% for i in range(40) %}{{ field(\"Field \" ~ i) }}{{ i }}\
             {% endfor %}{% endblock %}\
             {% block footer %}{{ \"f\" * 3000 }}{% endblock %}\
             {% block content %}{% for i in range(5) %}{% for c in summary.top_coins %}\
             {{ c.name }}\n{% endfor %}{% endfor %}{% endblock %}",
        ),
    ]);
    let t = Templates::new(Some(dir.path()), Tz::UTC).unwrap();
    let s = oversized_summary();
    let data = PostData::Summary {
        summary: &s,
        market: None,
    };
    let telegram = t.render(Platform::Telegram, &data, NOW).unwrap();
    assert_telegram_fits(&telegram);
    assert!(telegram.messages.len() > 1);
    assert_eq!(telegram.caption.as_deref(), Some("<b>Headline $1.36B</b>"));
    assert_eq!(telegram.after_photo(), telegram.messages.as_slice());

    let discord = t.render(Platform::Discord, &data, NOW).unwrap();
    let embed = discord.embed.as_ref().unwrap();
    assert_embed_fits(embed);
    assert_eq!(embed.fields.len(), EMBED_FIELDS);
    assert!(embed.fields.last().unwrap().value.starts_with("and "));
    assert!(discord.messages.iter().all(|m| char_len(m) <= 2000));
    assert!(discord.messages.len() > 1);
}

#[test]
fn a_short_post_is_its_own_caption() {
    let reading = reading();
    let post = templates()
        .render(
            Platform::Telegram,
            &PostData::FearGreed { reading: &reading },
            NOW,
        )
        .unwrap();
    assert_eq!(post.caption.as_deref(), Some(post.text.as_str()));
    assert!(post.after_photo().is_empty());
}

fn load_error(files: &[(&str, &str)]) -> (TemplateError, tempfile::TempDir) {
    let dir = override_dir(files);
    let error = Templates::new(Some(dir.path()), Tz::UTC).unwrap_err();
    (error, dir)
}

#[test]
fn a_syntax_error_names_the_file_and_line() {
    let (error, dir) = load_error(&[(
        "fng.telegram.html.j2",
        "Fear &amp; Greed\n{{ reading.today.value }}\n{% if reading.yesterday %}\nno endif\n",
    )]);
    let text = error.to_string();
    let file = dir.path().join("fng.telegram.html.j2");
    assert!(text.contains(&file.display().to_string()), "{text}");
    assert!(text.contains("line 5") || text.contains("line 4"), "{text}");

    let (error, _dir) = load_error(&[(
        "alert.discord.md.j2",
        "{% block title %}\n{{ }}\n{% endblock %}",
    )]);
    let text = error.to_string();
    assert!(text.contains("alert.discord.md.j2, line 2"), "{text}");
}

#[test]
fn an_unknown_filter_is_reported_at_startup_with_its_line() {
    let (error, dir) = load_error(&[(
        "heatmap.telegram.html.j2",
        "Heatmap\n{{ summary.total.usd|monie }}\n",
    )]);
    let text = error.to_string();
    let file = dir.path().join("heatmap.telegram.html.j2");
    assert!(
        text.contains(&format!("{}, line 2", file.display())),
        "{text}"
    );
    assert!(text.contains("monie"), "{text}");
}

#[test]
fn a_misspelt_variable_is_reported_at_startup() {
    let (error, _dir) = load_error(&[(
        "levels.discord.md.j2",
        "{% block title %}{{ market.coyn }}{% endblock %}",
    )]);
    assert!(
        error.to_string().contains("levels.discord.md.j2, line 1"),
        "{error}"
    );
}

#[test]
fn an_override_file_changes_the_post_and_is_reported() {
    let dir = override_dir(&[
        (
            "fng.telegram.html.j2",
            "Sentiment {{ reading.today.value }}/100 &amp; {{ attribution.fear_greed }}",
        ),
        ("partial.html.j2", "unused"),
        ("notes.txt", "ignored"),
    ]);
    let t = Templates::new(Some(dir.path()), Tz::UTC).unwrap();
    let reading = reading();
    let post = t
        .render(
            Platform::Telegram,
            &PostData::FearGreed { reading: &reading },
            NOW,
        )
        .unwrap();
    assert_eq!(
        post.text,
        "Sentiment 70/100 &amp; Fear &amp; Greed Index by alternative.me"
    );
    // The Discord template is still the default.
    let discord = t
        .render(
            Platform::Discord,
            &PostData::FearGreed { reading: &reading },
            NOW,
        )
        .unwrap();
    assert!(
        discord
            .embed
            .unwrap()
            .title
            .contains("Fear & Greed Index: 70")
    );
    let check = Templates::check(Some(dir.path()), Tz::UTC).unwrap();
    assert_eq!(check.overridden, vec!["fng.telegram.html.j2"]);
    assert_eq!(check.extra, vec!["partial.html.j2"]);
}

#[test]
fn an_override_can_include_a_partial_from_the_same_directory() {
    let dir = override_dir(&[
        ("credit.html.j2", "<i>{{ attribution.fear_greed }}</i>"),
        (
            "fng.telegram.html.j2",
            "{{ reading.today.value }}\n{% include \"credit.html.j2\" %}",
        ),
    ]);
    let t = Templates::new(Some(dir.path()), Tz::UTC).unwrap();
    let reading = reading();
    let post = t
        .render(
            Platform::Telegram,
            &PostData::FearGreed { reading: &reading },
            NOW,
        )
        .unwrap();
    assert_eq!(
        post.text,
        "70\n<i>Fear &amp; Greed Index by alternative.me</i>"
    );
}

#[test]
fn a_partial_must_say_how_it_is_escaped() {
    let (error, _dir) = load_error(&[("partial.j2", "{{ x }}")]);
    let text = error.to_string();
    assert!(
        text.contains("partial.j2") && text.contains(".html.j2"),
        "{text}"
    );
}

#[test]
fn a_missing_override_directory_is_an_error() {
    let error =
        Templates::new(Some(Path::new("/nonexistent/liqbot-templates")), Tz::UTC).unwrap_err();
    assert!(error.to_string().contains("/nonexistent/liqbot-templates"));
}

#[test]
fn templates_can_be_shared_between_tasks() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<Templates>();
    assert_send_sync::<RenderedPost>();
}
