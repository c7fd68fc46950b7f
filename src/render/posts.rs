//! Posts ready to send: the store queried, the analytics run, the templates and charts
//! rendered, for each post kind. `liqbot render`, `liqbot demo`, and later the scheduler and
//! the chat commands all come through [`Renderer::render`].

use std::path::Path;

use anyhow::Context as _;

use super::charts::{self, ChartOptions, Theme};
use super::text::{Platform, PostData, PostKind, RenderedPost, Templates};
use crate::analytics::alert::{Alert, heaviest_cascade};
use crate::analytics::heatmap::{HeatAxis, HeatmapSpec, heatmap_from_cells};
use crate::analytics::levels::LevelEstimate;
use crate::analytics::{Summary, Window};
use crate::config::{ChartTheme, Config};
use crate::pollers::RunningPollers;
use crate::report::{MarketReport, market_report_with_levels};
use crate::store::{MarketStore, SqlStore, Store, window_summary};

/// Time columns of the realised heatmap.
const HEATMAP_COLUMNS: usize = 96;
/// Most price rows of the realised heatmap.
const HEATMAP_ROWS: usize = 60;
/// A cascade alert fires at this much within [`CASCADE_WINDOW_MS`] (issue 7 makes it config).
const CASCADE_THRESHOLD_USD: f64 = 5_000_000.0;
const CASCADE_WINDOW_MS: i64 = 15 * 60_000;

/// One PNG to go with a post.
#[derive(Debug, Clone)]
pub struct Image {
    /// File name, e.g. `heatmap-BTC-24h.png`.
    pub name: String,
    /// PNG bytes.
    pub png: Vec<u8>,
}

/// A post for both platforms, with its images.
#[derive(Debug, Clone)]
pub struct PostBundle {
    /// What it is.
    pub kind: PostKind,
    /// The post per platform.
    pub posts: Vec<RenderedPost>,
    /// Images, the first one the post's main picture.
    pub images: Vec<Image>,
}

/// What to render.
#[derive(Debug, Clone)]
pub struct RenderRequest {
    /// The post kind.
    pub kind: PostKind,
    /// One coin; summaries default to all coins, other kinds to BTC.
    pub coin: Option<String>,
    /// The window.
    pub window: Window,
    /// The moment the post is for, ms.
    pub now_ms: i64,
}

/// Templates and chart settings, loaded once.
pub struct Renderer {
    templates: Templates,
    config: Config,
}

impl Renderer {
    /// Loads the templates (built-in, overridden from `render.templates_dir`).
    pub fn new(config: &Config) -> anyhow::Result<Self> {
        let dir = Some(config.render.templates_dir.as_str())
            .filter(|d| !d.is_empty())
            .map(Path::new);
        let templates = Templates::new(dir, config.summary.tz()).context("loading templates")?;
        Ok(Self {
            templates,
            config: config.clone(),
        })
    }

    fn chart_options(&self, now_ms: i64) -> ChartOptions {
        let r = &self.config.render;
        ChartOptions {
            width: r.width,
            height: r.height,
            theme: match r.theme {
                ChartTheme::Dark => Theme::Dark,
                ChartTheme::Light => Theme::Light,
            },
            bot_name: r.bot_name.clone(),
            time_zone: self.config.summary.tz(),
            now_ms,
        }
    }

    fn both(&self, data: &PostData<'_>, now_ms: i64) -> anyhow::Result<Vec<RenderedPost>> {
        [Platform::Telegram, Platform::Discord]
            .into_iter()
            .map(|p| Ok(self.templates.render(p, data, now_ms)?))
            .collect()
    }

    /// Renders one request from the store.
    pub async fn render(
        &self,
        store: &SqlStore,
        request: &RenderRequest,
        pollers: Option<&RunningPollers>,
    ) -> anyhow::Result<Vec<PostBundle>> {
        let now = request.now_ms;
        let top = self.config.summary.top_coins;
        let coin = request.coin.clone();
        let chart_coin = coin.clone().unwrap_or_else(|| "BTC".to_owned());
        let opts = self.chart_options(now);
        let kind = request.kind;
        Ok(match kind {
            PostKind::Summary | PostKind::Heatmap => {
                let summary =
                    window_summary(store, request.window, coin.as_deref(), now, top).await?;
                let (market, _) = self.market(store, &chart_coin, now, pollers).await?;
                let image = self
                    .heatmap_image(store, &summary, &chart_coin, &opts)
                    .await?;
                let data = if kind == PostKind::Summary {
                    PostData::Summary {
                        summary: &summary,
                        market: Some(&market),
                    }
                } else {
                    PostData::Heatmap { summary: &summary }
                };
                vec![PostBundle {
                    kind,
                    posts: self.both(&data, now)?,
                    images: vec![image],
                }]
            }
            PostKind::Levels => {
                let (market, estimate) = self.market(store, &chart_coin, now, pollers).await?;
                let images = vec![
                    Image {
                        name: format!("levels-{chart_coin}.png"),
                        png: charts::level_map(
                            &estimate.map,
                            &market.above,
                            &market.below,
                            &chart_coin,
                            &opts,
                        )?,
                    },
                    Image {
                        name: format!("levels-over-time-{chart_coin}.png"),
                        png: charts::levels_heatmap(&estimate.grid, &chart_coin, &opts)?,
                    },
                ];
                let posts = self.both(&PostData::Levels { market: &market }, now)?;
                vec![PostBundle {
                    kind,
                    posts,
                    images,
                }]
            }
            PostKind::FearGreed => {
                let readings = store.fear_greed(31).await?;
                let Some(reading) = crate::market::fear_greed::reading(&readings) else {
                    anyhow::bail!("no Fear & Greed reading stored yet");
                };
                let image = Image {
                    name: "fear-greed.png".into(),
                    png: charts::fear_greed(&reading, &opts)?,
                };
                let posts = self.both(&PostData::FearGreed { reading: &reading }, now)?;
                vec![PostBundle {
                    kind,
                    posts,
                    images: vec![image],
                }]
            }
            PostKind::Alert => self.alerts(store, request).await?,
        })
    }

    async fn market(
        &self,
        store: &SqlStore,
        coin: &str,
        now_ms: i64,
        pollers: Option<&RunningPollers>,
    ) -> anyhow::Result<(MarketReport, LevelEstimate)> {
        Ok(market_report_with_levels(store, &self.config.market, coin, now_ms, pollers).await?)
    }

    async fn heatmap_image(
        &self,
        store: &SqlStore,
        summary: &Summary,
        coin: &str,
        opts: &ChartOptions,
    ) -> anyhow::Result<Image> {
        let candles = store
            .candles(
                self.config.market.candles_from,
                coin,
                summary.start_ms,
                summary.end_ms,
            )
            .await?;
        let spec = HeatmapSpec {
            coin: coin.to_owned(),
            window: summary.window.to_owned(),
            start_ms: summary.start_ms,
            end_ms: summary.end_ms,
            columns: HEATMAP_COLUMNS,
            max_rows: HEATMAP_ROWS,
        };
        let prices = store
            .price_range(summary.start_ms, summary.end_ms, coin)
            .await?;
        let axis = HeatAxis::new(&spec, prices, &candles);
        let cells = store.heat_cells(coin, &axis).await?;
        let grid = heatmap_from_cells(&spec, &axis, &cells, &candles);
        Ok(Image {
            name: format!("heatmap-{coin}-{}.png", summary.window),
            png: charts::realised_heatmap(&grid, opts)?,
        })
    }

    /// One alert as a post for both platforms (alerts carry no image).
    ///
    /// # Errors
    /// When a template fails.
    pub fn render_alert(&self, alert: &Alert, now_ms: i64) -> anyhow::Result<PostBundle> {
        Ok(PostBundle {
            kind: PostKind::Alert,
            posts: self.both(&PostData::Alert { alert }, now_ms)?,
            images: Vec::new(),
        })
    }

    /// The alerts the window's data would have fired: its largest liquidation, and its
    /// heaviest 15 minutes when they reach the cascade threshold.
    async fn alerts(
        &self,
        store: &SqlStore,
        request: &RenderRequest,
    ) -> anyhow::Result<Vec<PostBundle>> {
        let range = request.window.range_ending_at(request.now_ms);
        let coin = request.coin.as_deref();
        // One read of the window's events serves both alerts.
        let events = store.events(range.start_ms(), range.end_ms(), coin).await?;
        let mut alerts = Vec::new();
        if let Some(largest) = events.iter().max_by(|a, b| a.usd.total_cmp(&b.usd)) {
            alerts.push(Alert::Large {
                event: largest.clone(),
                threshold_usd: 1_000_000.0_f64.min(largest.usd),
            });
        }
        if let Some(cascade) =
            heaviest_cascade(&events, coin, CASCADE_WINDOW_MS, CASCADE_THRESHOLD_USD)
        {
            alerts.push(Alert::Cascade(cascade));
        }
        alerts
            .iter()
            .map(|alert| self.render_alert(alert, request.now_ms))
            .collect()
    }
}

/// The kinds a `liqbot render` argument names: one kind, or `all`.
pub fn parse_kinds(arg: &str) -> anyhow::Result<Vec<PostKind>> {
    if arg == "all" {
        return Ok(vec![
            PostKind::Summary,
            PostKind::Heatmap,
            PostKind::Levels,
            PostKind::FearGreed,
            PostKind::Alert,
        ]);
    }
    Ok(vec![
        arg.parse::<PostKind>()
            .map_err(|e| anyhow::anyhow!("{e}; or `all`"))?,
    ])
}

/// Writes a bundle's posts and images into `dir`: `{kind}[-n].telegram.html`,
/// `{kind}[-n].discord.md` (the embed as Markdown with its fields), and the PNGs. Returns the
/// paths written.
pub fn write_bundle(
    dir: &Path,
    bundle: &PostBundle,
    index: usize,
) -> anyhow::Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let stem = if index == 0 {
        bundle.kind.as_str().to_owned()
    } else {
        format!("{}-{index}", bundle.kind.as_str())
    };
    let mut written = Vec::new();
    for post in &bundle.posts {
        let (path, body) = match post.platform {
            Platform::Telegram => {
                let mut body = String::new();
                if let Some(caption) = &post.caption {
                    body.push_str(&format!("<!-- caption -->\n{caption}\n"));
                    for (i, m) in post.after_photo().iter().enumerate() {
                        body.push_str(&format!("<!-- message {} -->\n{m}\n", i + 1));
                    }
                } else {
                    for (i, m) in post.messages.iter().enumerate() {
                        body.push_str(&format!("<!-- message {} -->\n{m}\n", i + 1));
                    }
                }
                (dir.join(format!("{stem}.telegram.html")), body)
            }
            Platform::Discord => (
                dir.join(format!("{stem}.discord.md")),
                discord_preview(post),
            ),
        };
        std::fs::write(&path, body).with_context(|| format!("writing {}", path.display()))?;
        written.push(path);
    }
    for image in &bundle.images {
        let path = dir.join(&image.name);
        std::fs::write(&path, &image.png).with_context(|| format!("writing {}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

/// A Discord post as a Markdown preview: content, then the embed's title, description,
/// fields and footer.
#[must_use]
pub fn discord_preview(post: &RenderedPost) -> String {
    let mut out = String::new();
    if !post.text.is_empty() {
        out.push_str(&post.text);
        out.push_str("\n\n");
    }
    if let Some(e) = &post.embed {
        out.push_str(&format!(
            "## {}\n(colour #{:06x})\n\n{}\n",
            e.title, e.color, e.description
        ));
        for f in &e.fields {
            out.push_str(&format!(
                "\n**{}**{}\n{}\n",
                f.name,
                if f.inline { " (inline)" } else { "" },
                f.value
            ));
        }
        if let Some(footer) = &e.footer {
            out.push_str(&format!("\n_{footer}_\n"));
        }
    }
    out
}

/// Renders `kinds` and writes them into `dir`, keeping only `platform`'s posts when given.
/// Returns the paths written. A kind with nothing to show yet (no Fear & Greed reading, say)
/// is skipped with a note in the returned list's place: its error, as text.
pub async fn render_to_dir(
    renderer: &Renderer,
    store: &SqlStore,
    requests: &[RenderRequest],
    platform: Option<Platform>,
    pollers: Option<&RunningPollers>,
    dir: &Path,
) -> anyhow::Result<(Vec<std::path::PathBuf>, Vec<String>)> {
    let mut written = Vec::new();
    let mut skipped = Vec::new();
    for request in requests {
        let bundles = match renderer.render(store, request, pollers).await {
            Ok(b) => b,
            Err(e) => {
                skipped.push(format!("{}: {e:#}", request.kind.as_str()));
                continue;
            }
        };
        for (i, mut bundle) in bundles.into_iter().enumerate() {
            if let Some(p) = platform {
                bundle.posts.retain(|post| post.platform == p);
            }
            written.extend(write_bundle(dir, &bundle, i)?);
        }
    }
    Ok((written, skipped))
}
