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
        .with_writer(std::io::stderr)
        .init();
}

fn load(path: &std::path::Path) -> anyhow::Result<Config> {
    Ok(Config::load(path)?)
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
        } => {
            init_logs("warn");
            let text = liqbot::demo::run(&DemoOptions {
                seed,
                history_hours,
                live_secs,
            })
            .await?;
            print!("{text}");
            Ok(())
        }
        Command::CheckConfig { config } => {
            let cfg = load(&config)?;
            println!("{}: OK\n", config.display());
            print!("{}", cfg.summary());
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
        Command::Bench { what } => {
            init_logs("warn");
            match what {
                BenchCommand::Levels { days, runs } => {
                    print!("{}", liqbot::bench::levels_report(days, runs))
                }
                BenchCommand::Parse { events, runs } => {
                    print!("{}", liqbot::bench::parse_report(events, runs))
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

#[tokio::main]
async fn main() -> ExitCode {
    match main_inner(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
