//! Answering a parsed [`Command`] from the store: a rendered post, a line of text, or a note
//! to the adapter that the command manages subscriptions, which the platform stores.

use std::collections::HashMap;

use super::{Command, CommandDefaults, help_text};
use crate::analytics::Window;
use crate::config::Config;
use crate::pollers::RunningPollers;
use crate::render::posts::{PostBundle, Renderer};
use crate::store::{MarketStore, SqlStore, Store, StoreError};

/// The text of every internal failure; the details go to the log.
pub const SOMETHING_WENT_WRONG: &str = "Something went wrong; try again in a minute.";
/// How many coins a "Known: ..." list names at most.
const KNOWN_COINS: usize = 10;

/// What to send back.
#[derive(Debug, Clone)]
pub enum Answer {
    /// A post rendered for both platforms; the adapter sends its own platform's post.
    Post(PostBundle),
    /// Plain text (help, a missing coin, a failure); the adapter escapes it.
    Text(String),
    /// A subscription command (`Subscribe`, `Unsubscribe`, `Subscriptions`): the adapter
    /// checks the user may manage the chat and stores or lists the subscription itself.
    Manage(Command),
}

/// What answering needs.
#[derive(Clone, Copy)]
pub struct AnswerContext<'a> {
    /// The store to read.
    pub store: &'a SqlStore,
    /// The templates and charts.
    pub renderer: &'a Renderer,
    /// The loaded config.
    pub config: &'a Config,
    /// The moment to answer for, ms since the epoch.
    pub now_ms: i64,
    /// The running pollers, for live market context; `None` uses stored data only.
    pub pollers: Option<&'a RunningPollers>,
}

/// Answers `command`. Never fails: a coin without data gets a short note naming the coins
/// that have some, and an internal error is logged and answered with
/// [`SOMETHING_WENT_WRONG`].
pub async fn answer(command: &Command, ctx: &AnswerContext<'_>) -> Answer {
    match try_answer(command, ctx).await {
        Ok(answer) => answer,
        Err(e) => {
            tracing::warn!(?command, error = format!("{e:#}"), "Command failed.");
            Answer::Text(SOMETHING_WENT_WRONG.to_owned())
        }
    }
}

async fn try_answer(command: &Command, ctx: &AnswerContext<'_>) -> anyhow::Result<Answer> {
    match command {
        Command::Help => return Ok(Answer::Text(help_text())),
        Command::Subscribe { .. } | Command::Unsubscribe { .. } | Command::Subscriptions => {
            return Ok(Answer::Manage(command.clone()));
        }
        Command::Summary {
            coin: Some(coin),
            window,
        }
        | Command::Heatmap { coin, window } => {
            if let Some(note) = missing_coin(ctx, coin, *window).await? {
                return Ok(Answer::Text(note));
            }
        }
        Command::Levels { coin } => {
            let coins = &ctx.config.market.coins;
            if !coins.iter().any(|c| c.eq_ignore_ascii_case(coin)) {
                return Ok(Answer::Text(format!(
                    "No levels for {coin}. Known: {}.",
                    coins.join(", ")
                )));
            }
        }
        Command::FearGreed => {
            if ctx.store.fear_greed(1).await?.is_empty() {
                return Ok(Answer::Text(
                    "No Fear & Greed reading yet; try again later.".to_owned(),
                ));
            }
        }
        Command::Summary { coin: None, .. } | Command::Top { .. } => {}
    }
    let defaults = CommandDefaults::from_config(ctx.config);
    let Some(request) = command.render_request(&defaults, ctx.now_ms) else {
        return Ok(Answer::Text(help_text()));
    };
    let bundles = ctx
        .renderer
        .render(ctx.store, &request, ctx.pollers)
        .await?;
    Ok(match bundles.into_iter().next() {
        Some(bundle) => Answer::Post(bundle),
        None => Answer::Text("Nothing to show yet.".to_owned()),
    })
}

/// A note when `coin` has no liquidations in `window`: `No liquidations for XYZ in the last
/// 24h. Known: BTC, ETH.`, naming the coins that have some, largest first.
async fn missing_coin(
    ctx: &AnswerContext<'_>,
    coin: &str,
    window: Window,
) -> Result<Option<String>, StoreError> {
    let range = window.range_ending_at(ctx.now_ms);
    if !ctx.store.window_rows(range, Some(coin)).await?.is_empty() {
        return Ok(None);
    }
    let mut totals: HashMap<String, f64> = HashMap::new();
    for row in ctx.store.window_rows(range, None).await? {
        *totals.entry(row.base).or_default() += row.usd;
    }
    let mut known: Vec<(String, f64)> = totals.into_iter().collect();
    known.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let names: Vec<String> = known
        .into_iter()
        .take(KNOWN_COINS)
        .map(|(c, _)| c)
        .collect();
    let mut note = format!("No liquidations for {coin} in the last {window}.");
    if !names.is_empty() {
        note.push_str(&format!(" Known: {}.", names.join(", ")));
    }
    Ok(Some(note))
}
