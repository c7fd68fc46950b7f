//! Escaping of dynamic values, so data can never become markup.
//!
//! Telegram posts use HTML parse mode: `<`, `>`, `&` and `"` in a value become entities, and
//! the template's own tags (`<b>`, `<i>`) stay as they are. Discord posts are Markdown: control
//! characters get a backslash, so a coin named `**X**` shows its asterisks, and mentions are
//! broken with a zero-width space, so `@everyone` or `<@123>` from data never pings anyone.
//!
//! [`formatter`] is the minijinja formatter that applies these to every `{{ value }}` in a
//! template, by the template's auto-escape mode (`.html.j2` and `.md.j2`).

use minijinja::{AutoEscape, Error, Output, State, Value};

/// The auto-escape mode of Discord Markdown templates (`*.md.j2`).
pub const DISCORD_ESCAPE: &str = "discord-markdown";

/// Zero-width space: invisible, and enough to stop Discord from reading a mention.
pub const ZWSP: char = '\u{200B}';

/// The characters Discord's Markdown gives a meaning to, escaped with a backslash. Discord
/// renders `\` before any punctuation as the punctuation itself, so escaping more than
/// strictly needed is harmless.
const DISCORD_SPECIAL: &[char] = &['\\', '*', '_', '~', '`', '|', '>', '#', '[', ']'];

/// Escapes text for Telegram's HTML parse mode: `&`, `<`, `>` and `"` become entities.
#[must_use]
pub fn telegram_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

/// Escapes text for Discord Markdown: a backslash before every Markdown control character, a
/// zero-width space after `@` and `<` (so no mention, role, channel or emoji tag survives),
/// and control characters other than newline dropped (the template engine uses two of them
/// as field markers).
#[must_use]
pub fn discord_markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push('\n'),
            c if c.is_control() => {}
            '@' | '<' => {
                out.push(c);
                out.push(ZWSP);
            }
            c if DISCORD_SPECIAL.contains(&c) => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// Undoes the backslash escapes of [`discord_markdown`], for the parts of an embed Discord
/// shows as plain text (the footer), where a backslash would show. Mentions stay broken.
#[must_use]
pub fn discord_plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\'
            && let Some(&next) = chars.peek()
            && DISCORD_SPECIAL.contains(&next)
        {
            out.push(next);
            chars.next();
            continue;
        }
        out.push(c);
    }
    out
}

/// The minijinja formatter: safe strings (template literals, `|safe`, the `field()` marker)
/// pass through, anything else is escaped for the template's platform.
pub fn formatter(out: &mut Output, state: &State, value: &Value) -> Result<(), Error> {
    if value.is_safe() {
        return out
            .write_str(value.as_str().unwrap_or_default())
            .map_err(Error::from);
    }
    let escaped = match state.auto_escape() {
        AutoEscape::Html => telegram_html(&display(value)),
        AutoEscape::Custom(DISCORD_ESCAPE) => discord_markdown(&display(value)),
        _ => return minijinja::escape_formatter(out, state, value),
    };
    out.write_str(&escaped).map_err(Error::from)
}

/// The `escape` (`e`) filter: escapes for the template's platform and marks the result safe,
/// so it is not escaped twice.
pub fn escape_filter(state: &State, value: Value) -> Value {
    if value.is_safe() {
        return value;
    }
    let text = display(&value);
    Value::from_safe_string(match state.auto_escape() {
        AutoEscape::Html => telegram_html(&text),
        AutoEscape::Custom(DISCORD_ESCAPE) => discord_markdown(&text),
        _ => text,
    })
}

/// How a value prints: undefined as nothing, everything else as minijinja displays it.
fn display(value: &Value) -> String {
    if value.is_undefined() {
        String::new()
    } else {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn telegram_escapes_markup_and_quotes() {
        assert_eq!(
            telegram_html(r#"<b>&"x"</b>"#),
            "&lt;b&gt;&amp;&quot;x&quot;&lt;/b&gt;"
        );
        assert_eq!(telegram_html("BTC $1.36B"), "BTC $1.36B");
    }

    #[test]
    fn discord_neutralises_mentions_and_markdown() {
        assert_eq!(discord_markdown("**X**"), r"\*\*X\*\*");
        assert_eq!(discord_markdown("@everyone"), "@\u{200B}everyone");
        assert_eq!(
            discord_markdown("<@&123> <#9>"),
            "<\u{200B}@\u{200B}&123\\> <\u{200B}\\#9\\>"
        );
        assert_eq!(discord_markdown(r"a\_b`c`"), r"a\\\_b\`c\`");
        assert_eq!(discord_markdown("a\u{1E}b\tc\nd"), "abc\nd");
    }

    #[test]
    fn discord_plain_undoes_only_the_backslashes() {
        let text = "x_y *z* @here";
        assert_eq!(
            discord_plain(&discord_markdown(text)),
            "x_y *z* @\u{200B}here"
        );
    }
}
