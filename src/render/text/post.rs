//! Turns rendered template text into a post: tidies whitespace, builds the Discord embed from
//! its blocks, picks its colour, and applies every length limit.

use minijinja::value::Kwargs;
use minijinja::{Error, Value};

use super::escape::{ZWSP, discord_markdown, discord_plain};
use super::limits::{
    DISCORD_CONTENT, TELEGRAM_CAPTION, TELEGRAM_MESSAGE, balance_html, fit_embed, split_markdown,
    split_telegram_html, truncate_telegram_html, utf16_len,
};
use super::{Embed, EmbedField, Platform, PostData, PostKind, RenderedPost};
use crate::analytics::alert::Alert;
use crate::model::Side;

/// Starts a field in a Discord `fields` block; never produced by data (the escaper drops
/// control characters).
const FIELD_START: char = '\u{1E}';
/// Ends a field's name.
const FIELD_NAME_END: char = '\u{1F}';

/// Embed colour when longs dominate (red).
pub const COLOR_LONGS: u32 = 0xE7_4C_3C;
/// Embed colour when shorts dominate (green).
pub const COLOR_SHORTS: u32 = 0x2E_CC_71;
/// Embed colour when neither side dominates, or for posts without a side (grey).
pub const COLOR_NEUTRAL: u32 = 0x95_A5_A6;

/// The template function `field(name, inline=false)`: starts a new embed field in a Discord
/// `fields` block; the text up to the next `field()` is its value.
pub fn field(name: &str, kwargs: Kwargs) -> Result<Value, Error> {
    let inline = kwargs.get::<Option<bool>>("inline")?.unwrap_or(false);
    kwargs.assert_all_used()?;
    let flag = if inline { 'i' } else { 'b' };
    Ok(Value::from_safe_string(format!(
        "{FIELD_START}{flag}{}{FIELD_NAME_END}",
        discord_markdown(name)
    )))
}

/// Tidies rendered text: trailing spaces go, runs of blank lines become one, and the text is
/// trimmed. Templates can then use plain `{% if %}` lines without minding the gaps they leave.
#[must_use]
pub fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = false;
    for line in text.trim().lines().map(str::trim_end) {
        if line.is_empty() {
            blank = true;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank { "\n\n" } else { "\n" });
        }
        blank = false;
        out.push_str(line);
    }
    out
}

/// A Telegram post: the whole message, split into messages; the caption is the message when
/// it fits, else the headline.
#[must_use]
pub fn telegram(kind: PostKind, rendered: &str, headline: Option<&str>) -> RenderedPost {
    let text = tidy(&rendered.replace([FIELD_START, FIELD_NAME_END], ""));
    let caption = if utf16_len(&text) <= TELEGRAM_CAPTION {
        text.clone()
    } else {
        let headline = headline
            .map(tidy)
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| text.lines().next().unwrap_or_default().to_owned());
        truncate_telegram_html(&balance_html(&headline), TELEGRAM_CAPTION)
    };
    RenderedPost {
        platform: Platform::Telegram,
        kind,
        messages: if text.is_empty() {
            Vec::new()
        } else {
            split_telegram_html(&text, TELEGRAM_MESSAGE)
        },
        text,
        embed: None,
        caption: Some(caption),
    }
}

/// The blocks of a Discord template, as rendered.
#[derive(Debug, Default)]
pub struct DiscordBlocks {
    /// `content`: message text outside the embed.
    pub content: Option<String>,
    /// `title`.
    pub title: Option<String>,
    /// `description`.
    pub description: Option<String>,
    /// `fields`, with `field()` markers.
    pub fields: Option<String>,
    /// `footer`.
    pub footer: Option<String>,
}

/// A Discord post: content and one embed, fitted to Discord's limits.
#[must_use]
pub fn discord(kind: PostKind, blocks: DiscordBlocks, color: u32) -> RenderedPost {
    let one_line = |s: Option<String>| tidy(&s.unwrap_or_default()).replace('\n', " ");
    let text = tidy(&blocks.content.unwrap_or_default());
    let footer = discord_plain(&tidy(&blocks.footer.unwrap_or_default()));
    let embed = fit_embed(Embed {
        title: one_line(blocks.title),
        description: tidy(&blocks.description.unwrap_or_default()),
        fields: parse_fields(&blocks.fields.unwrap_or_default()),
        color,
        footer: (!footer.is_empty()).then_some(footer),
    });
    let messages = if text.is_empty() {
        Vec::new()
    } else {
        split_markdown(&text, DISCORD_CONTENT)
    };
    RenderedPost {
        platform: Platform::Discord,
        kind,
        text,
        messages,
        embed: Some(embed),
        caption: None,
    }
}

/// Reads the fields of a rendered `fields` block. Text before the first `field()` is ignored;
/// an empty name or value becomes a zero-width space, which Discord accepts.
#[must_use]
pub fn parse_fields(block: &str) -> Vec<EmbedField> {
    let or_blank = |s: String| if s.is_empty() { ZWSP.to_string() } else { s };
    block
        .split(FIELD_START)
        .skip(1)
        .map(|chunk| {
            let inline = chunk.starts_with('i');
            let chunk = chunk.get(1..).unwrap_or_default();
            let (name, value) = chunk.split_once(FIELD_NAME_END).unwrap_or((chunk, ""));
            EmbedField {
                name: or_blank(tidy(name).replace('\n', " ")),
                value: or_blank(tidy(value)),
                inline,
            }
        })
        .collect()
}

/// The colour for a share of longs: red when longs are 60% or more, green at 40% or less.
#[must_use]
pub fn side_color(long_share: Option<f64>) -> u32 {
    match long_share {
        Some(s) if s >= 0.6 => COLOR_LONGS,
        Some(s) if s <= 0.4 => COLOR_SHORTS,
        _ => COLOR_NEUTRAL,
    }
}

/// The embed colour of a post: by its long share for liquidation posts, by fear (red) or
/// greed (green) for Fear & Greed, grey for levels.
#[must_use]
pub fn color(data: &PostData<'_>) -> u32 {
    let share = |usd: f64, long: f64| (usd > 0.0).then(|| long / usd);
    match data {
        PostData::Summary { summary, .. } | PostData::Heatmap { summary } => {
            side_color(share(summary.total.usd, summary.total.long_usd))
        }
        PostData::Levels { .. } => COLOR_NEUTRAL,
        PostData::FearGreed { reading } => match reading.today.value {
            0..=44 => COLOR_LONGS,
            56.. => COLOR_SHORTS,
            _ => COLOR_NEUTRAL,
        },
        PostData::Alert { alert } => match alert {
            Alert::Large { event, .. } => side_color(Some(match event.side {
                Side::Long => 1.0,
                Side::Short => 0.0,
            })),
            Alert::Cascade(c) => side_color(share(c.usd, c.long_usd)),
            Alert::LevelCross(l) => side_color(Some(match l.side {
                Side::Long => 1.0,
                Side::Short => 0.0,
            })),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tidy_drops_the_gaps_conditionals_leave() {
        assert_eq!(tidy("\n a  \n\n\n\nb\n \nc\n\n"), "a\n\nb\n\nc");
    }

    #[test]
    fn fields_are_read_from_markers() {
        let block = format!(
            "ignored\n{FIELD_START}iBTC{FIELD_NAME_END}\n$1.00M\n{FIELD_START}bEmpty{FIELD_NAME_END}\n"
        );
        let fields = parse_fields(&block);
        assert_eq!(
            fields,
            vec![
                EmbedField {
                    name: "BTC".into(),
                    value: "$1.00M".into(),
                    inline: true
                },
                EmbedField {
                    name: "Empty".into(),
                    value: ZWSP.to_string(),
                    inline: false
                },
            ]
        );
    }

    #[test]
    fn colour_follows_the_dominant_side() {
        assert_eq!(side_color(Some(0.82)), COLOR_LONGS);
        assert_eq!(side_color(Some(0.3)), COLOR_SHORTS);
        assert_eq!(side_color(Some(0.5)), COLOR_NEUTRAL);
        assert_eq!(side_color(None), COLOR_NEUTRAL);
    }
}
