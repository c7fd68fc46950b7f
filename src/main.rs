//! The `liqbot` command line: run the bot, run the offline demo, check a config, print a
//! summary from the store, run benchmarks.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use liqbot::analytics::Window;
use liqbot::config::Config;
use liqbot::demo::DemoOptions;

/// Liquidation summaries from Binance, Bybit and OKX.
#[derive(Debug, Parser)]
#[command(name = "liqbot", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the bot: stream liquidations from the configured venues into the store.
    Run {
        /// The config file.
        #[arg(long, short, env = "LIQBOT_CONFIG", default_value = "bot.toml")]
        config: PathBuf,
    },
    /// Run the whole bot offline against the built-in market simulator and print summaries.
    Demo {
        /// The simulator's seed.
        #[arg(long, default_value_t = 2024)]
        seed: u64,
        /// Hours of history the simulator replays.
        #[arg(long, default_value_t = 48)]
        history_hours: u64,
        /// Seconds of live trading after the history.
        #[arg(long, default_value_t = 3)]
        live_secs: u64,
        /// Where to write every post kind, both platforms, with images.
        #[arg(long, default_value = "out")]
        out: PathBuf,
    },
    /// Validate a config file and print every setting, secrets masked.
    CheckConfig {
        /// The config file.
        #[arg(long, short, env = "LIQBOT_CONFIG", default_value = "bot.toml")]
        config: PathBuf,
    },
    /// Print a window summary from the store.
    Summary {
        /// The config file (for the store URL).
        #[arg(long, short, env = "LIQBOT_CONFIG", default_value = "bot.toml")]
        config: PathBuf,
        /// 1h, 4h, 12h, 24h or 7d; the config's `summary.default_window` when omitted.
        #[arg(long, short)]
        window: Option<Window>,
        /// One coin (BTC), or all coins.
        #[arg(long)]
        coin: Option<String>,
    },
    /// Render posts (both platforms) and their images to files, for previewing templates.
    Render {
        /// summary, heatmap, levels, fng, alert, or all.
        kind: String,
        /// One coin (BTC); summaries default to all coins, other kinds to BTC.
        #[arg(long)]
        coin: Option<String>,
        /// 1h, 4h, 12h, 24h or 7d; the config's `summary.default_window` when omitted.
        #[arg(long, short)]
        window: Option<Window>,
        /// Only this platform's posts: telegram or discord.
        #[arg(long)]
        platform: Option<liqbot::render::text::Platform>,
        /// Where to write the files.
        #[arg(long, default_value = "out")]
        out: PathBuf,
        /// Render from the built-in simulator (two days of history) instead of the store.
        #[arg(long)]
        demo: bool,
        /// The config file (store URL, templates, theme); not needed with --demo.
        #[arg(long, short, env = "LIQBOT_CONFIG", default_value = "bot.toml")]
        config: PathBuf,
    },
    /// Print market context and estimated liquidation levels of a coin from the store.
    Levels {
        /// The config file (for the store URL and the model's parameters).
        #[arg(long, short, env = "LIQBOT_CONFIG", default_value = "bot.toml")]
        config: PathBuf,
        /// The coin (BTC).
        #[arg(long, default_value = "BTC")]
        coin: String,
    },
    /// Measure throughput and query latency on this machine.
    Bench {
        #[command(subcommand)]
        what: BenchCommand,
    },
    /// Run the whole bot (`liqbot run` in a process of its own) against the simulator at ten
    /// times a busy day's liquidation rate and fake Telegram and Discord servers, then check
    /// memory, errors, 429s, scheduled posts and stored events. Exits non-zero when a check fails.
    Soak {
        /// Minutes the bot runs once ready.
        #[arg(long, default_value_t = 10.0)]
        minutes: f64,
        /// Seconds the bot runs once ready; replaces --minutes.
        #[arg(long)]
        secs: Option<u64>,
        /// Liquidations per second across all venues; the default is ten times a busy day
        /// (1.6 million in 24 h).
        #[arg(long, default_value_t = liqbot::soak::DEFAULT_RATE)]
        rate: f64,
        /// Telegram chats every job posts to.
        #[arg(long, default_value_t = 50)]
        telegram_chats: usize,
        /// Discord channels every job posts to.
        #[arg(long, default_value_t = 20)]
        discord_channels: usize,
        /// Schedule of the 24h summary job (read in UTC).
        #[arg(long, default_value = "0 * * * * *")]
        summary_schedule: String,
        /// Schedule of the BTC 4h heatmap job (read in UTC).
        #[arg(long, default_value = "30 */5 * * * *")]
        heatmap_schedule: String,
        /// Hours of a busy day's liquidations (18.5/s) in the store before the bot starts.
        #[arg(long, default_value_t = 24.0)]
        history_hours: f64,
        /// Send alerts to no chat (the alert engine still runs); by default they go to one
        /// Telegram channel and one Discord channel.
        #[arg(long)]
        no_alerts: bool,
        /// The simulator's seed.
        #[arg(long, default_value_t = 2024)]
        seed: u64,
        /// Keep the bot's config, log and store in this directory (it must hold no store).
        #[arg(long)]
        keep: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Parse + normalise + aggregate frames of each venue on one core.
    Parse {
        /// Frames per venue.
        #[arg(long, default_value_t = 1_000_000)]
        events: usize,
        /// Runs per venue (the median is reported).
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// Only this venue (binance, bybit or okx), to profile one parser.
        #[arg(long)]
        venue: Option<String>,
    },
    /// Time the liquidation-level model over days of 1-minute candles.
    Levels {
        /// Days of 1-minute candles.
        #[arg(long, default_value_t = 7)]
        days: u32,
        /// Runs (the median is reported).
        #[arg(long, default_value_t = 50)]
        runs: usize,
    },
    /// The whole bot against a fake Telegram Bot API: time from getUpdates to sendPhoto.
    Telegram {
        /// `/heatmap` commands sent, each from its own private chat.
        #[arg(long, default_value_t = 200)]
        commands: usize,
        /// Commands per second.
        #[arg(long, default_value_t = 20)]
        per_second: u32,
    },
    /// The whole bot against a fake Discord: time from INTERACTION_CREATE to the final response.
    Discord {
        /// `/heatmap` interactions sent.
        #[arg(long, default_value_t = 200)]
        commands: usize,
        /// Interactions per second.
        #[arg(long, default_value_t = 20)]
        per_second: u32,
    },
    /// Parse and store one venue's frames in SQLite: events/s and the USD totals per exchange
    /// and side.
    Ingest {
        /// binance, bybit, bybit-inverse or okx.
        #[arg(long, default_value = "binance")]
        venue: String,
        /// A file of raw frames, one JSON frame per line as the venue sends it; simulated
        /// frames when omitted.
        #[arg(long)]
        frames: Option<std::path::PathBuf>,
        /// Simulated frames, when no file is given.
        #[arg(long, default_value_t = 1_000_000)]
        events: usize,
        /// Events per store batch (`store.batch_size`; the writer adds what queued meanwhile).
        #[arg(long, default_value_t = 500)]
        batch: usize,
    },
    /// Resident memory of the bot streaming three venues over a store with 30 days of history.
    Memory {
        /// Events of history in the store.
        #[arg(long, default_value_t = 5_000_000)]
        events: usize,
        /// Days the history spans.
        #[arg(long, default_value_t = 30)]
        days: i64,
        /// Seconds of streaming, sampled every second.
        #[arg(long, default_value_t = 60)]
        secs: u64,
    },
    /// One scheduled slot to many Telegram chats against the fake: pacing and 429s.
    Fanout {
        /// Chats the slot goes to.
        #[arg(long, default_value_t = 1_000)]
        chats: usize,
    },
    /// Fill a store with history and time the 24h summary query.
    Query {
        /// The store URL; a temporary SQLite file when omitted.
        #[arg(long)]
        store: Option<String>,
        /// Events of history.
        #[arg(long, default_value_t = 5_000_000)]
        events: usize,
        /// Days the history spans.
        #[arg(long, default_value_t = 30)]
        days: i64,
        /// Queries timed.
        #[arg(long, default_value_t = 200)]
        queries: usize,
    },
}

fn init_logs(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LIQBOT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(liqbot::redact::RedactingStderr)
        .init();
}

fn load(path: &std::path::Path) -> anyhow::Result<Config> {
    let config = Config::load(path)?;
    liqbot::redact::register_url_password(&config.store.url);
    Ok(config)
}

async fn main_inner(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Run { config } => {
            init_logs("info");
            liqbot::run(load(&config)?).await
        }
        Command::Demo {
            seed,
            history_hours,
            live_secs,
            out,
        } => {
            init_logs("warn");
            let text = liqbot::demo::run(&DemoOptions {
                seed,
                history_hours,
                live_secs,
                out: Some(out),
            })
            .await?;
            print!("{text}");
            Ok(())
        }
        Command::CheckConfig { config } => {
            let cfg = load(&config)?;
            // Templates are checked now, so a broken one never surfaces at posting time.
            let dir = Some(cfg.render.templates_dir.as_str())
                .filter(|d| !d.is_empty())
                .map(std::path::Path::new);
            let templates = liqbot::render::text::Templates::check(dir, cfg.summary.tz())?;
            println!("{}: OK", config.display());
            match dir {
                Some(d) => println!(
                    "templates: OK ({} overridden from {}: {})\n",
                    templates.overridden.len(),
                    d.display(),
                    templates.overridden.join(", ")
                ),
                None => println!("templates: OK (built-in)\n"),
            }
            print!("{}", cfg.summary());
            print!(
                "{}",
                liqbot::scheduler::jobs_text(&cfg, chrono::Utc::now())?
            );
            Ok(())
        }
        Command::Summary {
            config,
            window,
            coin,
        } => {
            init_logs("warn");
            let cfg = load(&config)?;
            let store = liqbot::store::SqlStore::open(&cfg.store.url).await?;
            let now = chrono::Utc::now().timestamp_millis();
            let coin = coin.map(|c| c.to_ascii_uppercase());
            let window = window.unwrap_or_else(|| cfg.summary.default_window());
            let summary = liqbot::store::window_summary(
                &store,
                window,
                coin.as_deref(),
                now,
                cfg.summary.top_coins,
            )
            .await?;
            print!("{}", liqbot::render::plain::summary_text(&summary));
            store.close().await;
            Ok(())
        }
        Command::Render {
            kind,
            coin,
            window,
            platform,
            out,
            demo,
            config,
        } => {
            init_logs("warn");
            let kinds = liqbot::render::posts::parse_kinds(&kind)?;
            let coin = coin.map(|c| c.to_ascii_uppercase());
            if demo {
                let run = liqbot::demo::start(&DemoOptions {
                    seed: 2024,
                    history_hours: 48,
                    live_secs: 0,
                    out: None,
                })
                .await?;
                let window = window.unwrap_or_else(|| run.config.summary.default_window());
                let result = render_files(
                    &run.config,
                    &run.bot.store,
                    &kinds,
                    coin,
                    window,
                    platform,
                    run.bot.pollers.as_deref(),
                    &out,
                )
                .await;
                run.finish().await?;
                result
            } else {
                let cfg = load(&config)?;
                let store = liqbot::store::SqlStore::open(&cfg.store.url).await?;
                let window = window.unwrap_or_else(|| cfg.summary.default_window());
                let result =
                    render_files(&cfg, &store, &kinds, coin, window, platform, None, &out).await;
                store.close().await;
                result
            }
        }
        Command::Levels { config, coin } => {
            init_logs("warn");
            let cfg = load(&config)?;
            let store = liqbot::store::SqlStore::open(&cfg.store.url).await?;
            let now = chrono::Utc::now().timestamp_millis();
            let report = liqbot::report::market_report(
                &store,
                &cfg.market,
                &coin.to_ascii_uppercase(),
                now,
                None,
            )
            .await?;
            print!("{}", liqbot::render::plain::market_text(&report));
            store.close().await;
            Ok(())
        }
        Command::Soak {
            minutes,
            secs,
            rate,
            telegram_chats,
            discord_channels,
            summary_schedule,
            heatmap_schedule,
            history_hours,
            no_alerts,
            seed,
            keep,
        } => {
            init_logs("warn");
            anyhow::ensure!(
                minutes > 0.0 && rate > 0.0 && history_hours >= 0.0,
                "--minutes and --rate must be positive, --history-hours not negative"
            );
            let duration = secs.map_or_else(
                || std::time::Duration::from_secs_f64(minutes * 60.0),
                std::time::Duration::from_secs,
            );
            soak(liqbot::soak::SoakOptions {
                duration,
                rate,
                telegram_chats,
                discord_channels,
                summary_schedule,
                heatmap_schedule,
                history: std::time::Duration::from_secs_f64(history_hours * 3600.0),
                no_alerts,
                seed,
                keep,
                ..liqbot::soak::SoakOptions::new(std::env::current_exe()?)
            })
            .await
        }
        Command::Bench { what } => {
            init_logs("warn");
            match what {
                BenchCommand::Levels { days, runs } => {
                    print!("{}", liqbot::bench::levels_report(days, runs))
                }
                BenchCommand::Parse {
                    events,
                    runs,
                    venue,
                } => print!(
                    "{}",
                    liqbot::bench::parse_report(events, runs, venue.as_deref())?
                ),
                BenchCommand::Telegram {
                    commands,
                    per_second,
                } => print!(
                    "{}",
                    liqbot::bench::telegram_report(commands, per_second).await?
                ),
                BenchCommand::Discord {
                    commands,
                    per_second,
                } => print!(
                    "{}",
                    liqbot::bench::discord_report(commands, per_second).await?
                ),
                BenchCommand::Ingest {
                    venue,
                    frames,
                    events,
                    batch,
                } => {
                    let venue = anyhow::Context::with_context(
                        liqbot::bench::BenchVenue::parse(&venue),
                        || {
                            format!(
                                "--venue {venue:?}: expected one of {}",
                                liqbot::bench::BenchVenue::NAMES.join(", ")
                            )
                        },
                    )?;
                    let frames = liqbot::bench::ingest_frames(venue, frames.as_deref(), events)?;
                    let dir = tempfile::tempdir()?;
                    let url = format!("sqlite://{}", dir.path().join("ingest.db").display());
                    print!(
                        "{}",
                        liqbot::bench::ingest_report(venue, &frames, &url, batch).await?
                    );
                }
                BenchCommand::Memory { events, days, secs } => {
                    print!(
                        "{}",
                        liqbot::bench::memory_report(events, days, secs).await?
                    );
                }
                BenchCommand::Fanout { chats } => {
                    print!("{}", liqbot::bench::fanout_report(chats).await?);
                }
                BenchCommand::Query {
                    store,
                    events,
                    days,
                    queries,
                } => {
                    let dir = tempfile::tempdir()?;
                    let url = store.unwrap_or_else(|| {
                        format!("sqlite://{}", dir.path().join("bench.db").display())
                    });
                    print!(
                        "{}",
                        liqbot::bench::query_report(&url, events, days, queries).await?
                    );
                }
            }
            Ok(())
        }
    }
}

/// Runs `liqbot soak` and prints its report; fails when a check failed.
async fn soak(options: liqbot::soak::SoakOptions) -> anyhow::Result<()> {
    let report = liqbot::soak::run(&options, &|line| eprintln!("{line}")).await?;
    print!("{report}");
    anyhow::ensure!(
        report.passed(),
        "soak failed: {}",
        report.failures().join(", ")
    );
    Ok(())
}

/// Renders `kinds` into `out` and prints what was written.
#[allow(clippy::too_many_arguments)]
async fn render_files(
    config: &Config,
    store: &liqbot::store::SqlStore,
    kinds: &[liqbot::render::text::PostKind],
    coin: Option<String>,
    window: Window,
    platform: Option<liqbot::render::text::Platform>,
    pollers: Option<&liqbot::pollers::RunningPollers>,
    out: &std::path::Path,
) -> anyhow::Result<()> {
    let renderer = liqbot::render::posts::Renderer::new(config)?;
    let now_ms = chrono::Utc::now().timestamp_millis();
    let requests: Vec<_> = kinds
        .iter()
        .map(|&kind| liqbot::render::posts::RenderRequest {
            kind,
            coin: coin.clone(),
            window,
            now_ms,
        })
        .collect();
    let (written, skipped) =
        liqbot::render::posts::render_to_dir(&renderer, store, &requests, platform, pollers, out)
            .await?;
    for path in written {
        println!("{}", path.display());
    }
    for note in skipped {
        eprintln!("skipped {note}");
    }
    Ok(())
}

fn main() -> ExitCode {
    liqbot::heap::limit_arenas();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async_main())
}

async fn async_main() -> ExitCode {
    liqbot::redact::install_panic_hook();
    match main_inner(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", liqbot::redact::redact(&format!("{e:#}")));
            ExitCode::FAILURE
        }
    }
}
