//! The chat commands, independent of any platform: the one registry of commands, the parser
//! that turns `/liq eth 4h` into a [`Command`], and [`answer`], which turns a command into what
//! to send. The Telegram and Discord adapters only translate messages to and from these types,
//! so a command asks for exactly the [`RenderRequest`] the scheduler would. [`ChatLimiter`] is
//! the per-chat command limit both adapters apply.

mod answer;
mod limit;
mod manage;
mod parse;

pub use answer::{Answer, AnswerContext, SOMETHING_WENT_WRONG, answer};
pub use limit::{ChatLimiter, ChatVerdict, chat_cooldown_text};
pub use manage::{ManageContext, manage};
pub use parse::{MAX_ARG_LEN, MAX_ARGS, MAX_COMMAND_LEN, MAX_SCHEDULE_LEN, UsageError, parse};

use crate::analytics::Window;
use crate::config::Config;
use crate::render::posts::RenderRequest;
use crate::render::text::PostKind;

/// One command as users see it: its name, its arguments and what it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandSpec {
    /// The name without the slash, lowercase: `liq`.
    pub name: &'static str,
    /// The argument synopsis, `[optional]` and `<required>`; empty when it takes none.
    pub args: &'static str,
    /// What it does, one short sentence for help text and Telegram's command menu.
    pub description: &'static str,
}

impl CommandSpec {
    /// The usage line: `/liq [coin] [window]`.
    #[must_use]
    pub fn usage(&self) -> String {
        if self.args.is_empty() {
            format!("/{}", self.name)
        } else {
            format!("/{} {}", self.name, self.args)
        }
    }

    /// The spec named `name` (case-insensitive, without the slash).
    #[must_use]
    pub fn find(name: &str) -> Option<&'static Self> {
        COMMANDS.iter().find(|c| c.name.eq_ignore_ascii_case(name))
    }
}

/// Every command, in the order help lists them.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "liq",
        args: "[coin] [window]",
        description: "Liquidations over a window, for one coin or all of them.",
    },
    CommandSpec {
        name: "heatmap",
        args: "[coin] [window]",
        description: "Heatmap of where liquidations happened (BTC unless you name a coin).",
    },
    CommandSpec {
        name: "levels",
        args: "[coin]",
        description: "Estimated liquidation levels around the price (BTC unless you name a coin).",
    },
    CommandSpec {
        name: "fng",
        args: "",
        description: "The crypto Fear & Greed Index.",
    },
    CommandSpec {
        name: "top",
        args: "[window]",
        description: "The coins with the most liquidations over a window.",
    },
    CommandSpec {
        name: "subscribe",
        args: "<kind> <schedule>",
        description: "Post liq, heatmap, levels, fng or alert here on a schedule (1h, 4h, 24h, hourly, daily 08:00 or cron).",
    },
    CommandSpec {
        name: "unsubscribe",
        args: "[kind]",
        description: "Stop one kind of post here, or all of them.",
    },
    CommandSpec {
        name: "subscriptions",
        args: "",
        description: "List the posts this chat is subscribed to.",
    },
    CommandSpec {
        name: "help",
        args: "",
        description: "What this bot can do.",
    },
    CommandSpec {
        name: "start",
        args: "",
        description: "Same as /help.",
    },
];

/// A parsed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `/liq`: a window summary of one coin, or of all coins when `coin` is `None`.
    Summary {
        /// The coin ticker, upper case (`BTC`).
        coin: Option<String>,
        /// The window.
        window: Window,
    },
    /// `/heatmap`: the realised heatmap of one coin.
    Heatmap {
        /// The coin ticker, upper case.
        coin: String,
        /// The window.
        window: Window,
    },
    /// `/levels`: estimated liquidation levels of one coin.
    Levels {
        /// The coin ticker, upper case.
        coin: String,
    },
    /// `/fng`: the Fear & Greed Index.
    FearGreed,
    /// `/top`: the summary of all coins.
    Top {
        /// The window.
        window: Window,
    },
    /// `/help` and `/start`.
    Help,
    /// `/subscribe`: post `kind` to this chat on `schedule`.
    Subscribe {
        /// What to post.
        kind: PostKind,
        /// A preset (`1h`, `4h`, `24h`, `hourly`, `daily 08:00`) or a cron line, normalised
        /// (lowercase presets, single spaces) but not parsed: the scheduler does that.
        schedule: String,
    },
    /// `/unsubscribe`: stop one kind, or every kind when `None`.
    Unsubscribe {
        /// The kind to stop.
        kind: Option<PostKind>,
    },
    /// `/subscriptions`: list this chat's subscriptions.
    Subscriptions,
}

impl Command {
    /// The render request this command asks for at `now_ms`, the same one the scheduler makes;
    /// `None` for help and the subscription commands.
    #[must_use]
    pub fn render_request(&self, defaults: &CommandDefaults, now_ms: i64) -> Option<RenderRequest> {
        let (kind, coin, window) = match self {
            Self::Summary { coin, window } => (PostKind::Summary, coin.clone(), *window),
            Self::Top { window } => (PostKind::Summary, None, *window),
            Self::Heatmap { coin, window } => (PostKind::Heatmap, Some(coin.clone()), *window),
            Self::Levels { coin } => (PostKind::Levels, Some(coin.clone()), defaults.window),
            Self::FearGreed => (PostKind::FearGreed, None, defaults.window),
            Self::Help
            | Self::Subscribe { .. }
            | Self::Unsubscribe { .. }
            | Self::Subscriptions => {
                return None;
            }
        };
        Some(RenderRequest {
            kind,
            coin,
            window,
            now_ms,
        })
    }
}

/// What a command means when it leaves something out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandDefaults {
    /// The window when none is named (`summary.default_window`).
    pub window: Window,
    /// How many coins a summary lists (`summary.top_coins`).
    pub top_coins: usize,
}

impl CommandDefaults {
    /// The defaults of `config`'s `[summary]` section.
    #[must_use]
    pub fn from_config(config: &Config) -> Self {
        Self {
            window: config.summary.default_window(),
            top_coins: config.summary.top_coins,
        }
    }
}

/// The help text: one line per command, its usage and what it does. Plain text; the adapter
/// escapes it for its platform.
#[must_use]
pub fn help_text() -> String {
    let mut out = String::from("Liquidations, heatmaps, levels and sentiment on request.\n\n");
    for spec in COMMANDS {
        out.push_str(&format!("{} - {}\n", spec.usage(), spec.description));
    }
    out.push_str("\nWindows: 1h, 4h, 12h, 24h, 7d. Coins: BTC, ETH, SOL, ... (any ticker).");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_names_are_unique_lowercase_and_described() {
        let mut names: Vec<&str> = COMMANDS.iter().map(|c| c.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), COMMANDS.len(), "duplicate command name");
        for c in COMMANDS {
            assert!(
                !c.description.trim().is_empty(),
                "/{} has no description",
                c.name
            );
            assert_eq!(c.name, c.name.to_ascii_lowercase());
            // Telegram's menu allows 1-32 of a-z, 0-9 and _ and descriptions up to 256.
            assert!(c.name.len() <= 32 && c.name.bytes().all(|b| b.is_ascii_lowercase()));
            assert!(c.description.len() <= 256);
        }
    }

    #[test]
    fn every_registered_command_parses() {
        let defaults = CommandDefaults {
            window: Window::H24,
            top_coins: 5,
        };
        for c in COMMANDS {
            let text = if c.name == "subscribe" {
                "/subscribe liq 4h".to_owned()
            } else {
                format!("/{}", c.name)
            };
            assert!(
                matches!(parse(&text, None, &defaults), Ok(Some(_))),
                "/{} does not parse",
                c.name
            );
        }
    }

    #[test]
    fn top_and_all_coin_liq_make_the_same_request() {
        let defaults = CommandDefaults {
            window: Window::H24,
            top_coins: 5,
        };
        let top = Command::Top { window: Window::H4 }.render_request(&defaults, 7);
        let liq = Command::Summary {
            coin: None,
            window: Window::H4,
        }
        .render_request(&defaults, 7);
        assert_eq!(format!("{top:?}"), format!("{liq:?}"));
        assert!(Command::Help.render_request(&defaults, 7).is_none());
    }
}
