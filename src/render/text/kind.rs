//! What a post is (its kind), where it goes (its platform), and the data it is made from.

use std::fmt;
use std::str::FromStr;

use crate::analytics::Summary;
use crate::analytics::alert::Alert;
use crate::market::fear_greed::FearGreedReading;
use crate::report::MarketReport;

/// What a post is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PostKind {
    /// A window summary: totals, top coins, exchanges, the largest liquidation, context.
    Summary,
    /// The caption of a heatmap image.
    Heatmap,
    /// Estimated liquidation levels of one coin.
    Levels,
    /// The Fear & Greed Index.
    FearGreed,
    /// A large liquidation or a cascade.
    Alert,
}

impl PostKind {
    /// Every kind.
    pub const ALL: [Self; 5] = [
        Self::Summary,
        Self::Heatmap,
        Self::Levels,
        Self::FearGreed,
        Self::Alert,
    ];

    /// The name in template file names and config: `summary`, `heatmap`, `levels`, `fng`,
    /// `alert`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Summary => "summary",
            Self::Heatmap => "heatmap",
            Self::Levels => "levels",
            Self::FearGreed => "fng",
            Self::Alert => "alert",
        }
    }
}

/// Where a post goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Platform {
    /// Telegram, HTML parse mode.
    Telegram,
    /// Discord, Markdown and an embed.
    Discord,
}

impl Platform {
    /// Every platform.
    pub const ALL: [Self; 2] = [Self::Telegram, Self::Discord];

    /// `telegram` or `discord`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Telegram => "telegram",
            Self::Discord => "discord",
        }
    }

    /// The template file suffix: `.telegram.html.j2` or `.discord.md.j2`.
    #[must_use]
    pub(super) fn suffix(self) -> &'static str {
        match self {
            Self::Telegram => ".telegram.html.j2",
            Self::Discord => ".discord.md.j2",
        }
    }
}

/// A name that is not a post kind or platform.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{name}`, expected one of: {expected}")]
pub struct UnknownPostName {
    what: &'static str,
    name: String,
    expected: &'static str,
}

impl FromStr for PostKind {
    type Err = UnknownPostName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownPostName {
                what: "post kind",
                name: s.to_owned(),
                expected: "summary, heatmap, levels, fng, alert",
            })
    }
}

impl FromStr for Platform {
    type Err = UnknownPostName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownPostName {
                what: "platform",
                name: s.to_owned(),
                expected: "telegram, discord",
            })
    }
}

impl fmt::Display for PostKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The data of one post.
#[derive(Debug, Clone, Copy)]
pub enum PostData<'a> {
    /// A window summary, with the market context of its coin (or BTC) when known.
    Summary {
        /// The summary.
        summary: &'a Summary,
        /// Price, open interest, Fear & Greed.
        market: Option<&'a MarketReport>,
    },
    /// The caption of a heatmap of the same window.
    Heatmap {
        /// The summary of the heatmap's window.
        summary: &'a Summary,
    },
    /// Estimated liquidation levels.
    Levels {
        /// The coin's market report.
        market: &'a MarketReport,
    },
    /// The Fear & Greed Index.
    FearGreed {
        /// Today, yesterday and last week.
        reading: &'a FearGreedReading,
    },
    /// A fired alert.
    Alert {
        /// The alert.
        alert: &'a Alert,
    },
}

impl PostData<'_> {
    /// The kind of post this data makes.
    #[must_use]
    pub fn kind(&self) -> PostKind {
        match self {
            Self::Summary { .. } => PostKind::Summary,
            Self::Heatmap { .. } => PostKind::Heatmap,
            Self::Levels { .. } => PostKind::Levels,
            Self::FearGreed { .. } => PostKind::FearGreed,
            Self::Alert { .. } => PostKind::Alert,
        }
    }
}
