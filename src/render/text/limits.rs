//! The platforms' length limits, and pure functions that make a post fit them.
//!
//! Telegram counts UTF-16 code units (an emoji outside the BMP is two), and its limits apply
//! to the text after entities are parsed; counting the raw HTML in UTF-16 units is the safe
//! side of that. Discord counts characters (Unicode scalar values here).
//!
//! Cutting prefers a line break, then a space, and never splits an HTML tag, an entity
//! (`&amp;`), a Markdown escape (`\*`) or a broken mention (`@` + zero-width space). When a
//! Telegram message is split, the tags open at the cut are closed at the end of one part and
//! opened again at the start of the next, so every part is valid HTML on its own.

use super::escape::ZWSP;
use super::{Embed, EmbedField};

/// Telegram: a text message, in UTF-16 units.
pub const TELEGRAM_MESSAGE: usize = 4096;
/// Telegram: a photo caption, in UTF-16 units.
pub const TELEGRAM_CAPTION: usize = 1024;
/// Discord: message content.
pub const DISCORD_CONTENT: usize = 2000;
/// Discord: embed title.
pub const EMBED_TITLE: usize = 256;
/// Discord: embed description.
pub const EMBED_DESCRIPTION: usize = 4096;
/// Discord: fields per embed.
pub const EMBED_FIELDS: usize = 25;
/// Discord: embed field name.
pub const EMBED_FIELD_NAME: usize = 256;
/// Discord: embed field value.
pub const EMBED_FIELD_VALUE: usize = 1024;
/// Discord: embed footer.
pub const EMBED_FOOTER: usize = 2048;
/// Discord: title, description, field names and values and footer together.
pub const EMBED_TOTAL: usize = 6000;

/// Length as Telegram counts it: UTF-16 code units.
#[must_use]
pub fn utf16_len(text: &str) -> usize {
    text.encode_utf16().count()
}

/// Length as Discord is counted here: Unicode scalar values.
#[must_use]
pub fn char_len(text: &str) -> usize {
    text.chars().count()
}

/// What a token does to the tags open around it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind<'a> {
    /// An opening tag, with its name.
    Open(&'a str),
    /// A closing tag, with its name.
    Close(&'a str),
    /// A line break: the preferred place to cut.
    Newline,
    /// A space: the next best place to cut.
    Space,
    /// Anything that must stay whole: a character, an entity, an escape.
    Text,
}

#[derive(Debug, Clone, Copy)]
struct Token<'a> {
    text: &'a str,
    kind: Kind<'a>,
}

/// Splits Telegram HTML into tokens: tags, entities, characters.
fn html_tokens(html: &str) -> Vec<Token<'_>> {
    let mut tokens = Vec::with_capacity(html.len());
    let mut rest = html;
    while let Some(c) = rest.chars().next() {
        let len = match c {
            '<' => rest.find('>').map_or(1, |end| end + 1),
            '&' => entity_len(rest).unwrap_or(1),
            c => c.len_utf8(),
        };
        let text = &rest[..len];
        let kind = match c {
            '\n' => Kind::Newline,
            ' ' => Kind::Space,
            '<' if len > 1 => tag_kind(text),
            _ => Kind::Text,
        };
        tokens.push(Token { text, kind });
        rest = &rest[len..];
    }
    tokens
}

/// The length of an entity (`&amp;`, `&#128680;`) at the start of `text`, if there is one.
fn entity_len(text: &str) -> Option<usize> {
    let end = text.find(';')?;
    let body = &text[1..end];
    (end <= 12 && !body.is_empty() && body.chars().all(|c| c.is_ascii_alphanumeric() || c == '#'))
        .then_some(end + 1)
}

/// Whether `tag` (`<b>`, `</b>`, `<a href="..">`) opens or closes an element.
fn tag_kind(tag: &str) -> Kind<'_> {
    let inner = &tag[1..tag.len() - 1];
    if inner.ends_with('/') {
        return Kind::Text;
    }
    let (closing, inner) = match inner.strip_prefix('/') {
        Some(inner) => (true, inner),
        None => (false, inner),
    };
    let name = inner
        .split(|c: char| c.is_whitespace())
        .next()
        .unwrap_or_default();
    match (name.is_empty(), closing) {
        (true, _) => Kind::Text,
        (false, true) => Kind::Close(name),
        (false, false) => Kind::Open(name),
    }
}

/// Splits Discord Markdown into tokens, keeping escapes and broken mentions whole.
fn markdown_tokens(text: &str) -> Vec<Token<'_>> {
    let mut tokens = Vec::with_capacity(text.len());
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        let mut len = c.len_utf8();
        let next = rest[len..].chars().next();
        match (c, next) {
            ('\\', Some(n)) => len += n.len_utf8(),
            ('@' | '<', Some(ZWSP)) => len += ZWSP.len_utf8(),
            _ => {}
        }
        let kind = match c {
            '\n' => Kind::Newline,
            ' ' => Kind::Space,
            _ => Kind::Text,
        };
        tokens.push(Token {
            text: &rest[..len],
            kind,
        });
        rest = &rest[len..];
    }
    tokens
}

/// The tags still open after `token`, given those open before it.
fn apply<'a>(open: &mut Vec<Token<'a>>, token: Token<'a>) {
    match token.kind {
        Kind::Open(_) => open.push(token),
        Kind::Close(name) => {
            if let Some(i) = open.iter().rposition(|t| t.kind == Kind::Open(name)) {
                open.remove(i);
            }
        }
        _ => {}
    }
}

fn closing(open: &[Token<'_>]) -> String {
    open.iter()
        .rev()
        .filter_map(|t| match t.kind {
            Kind::Open(name) => Some(format!("</{name}>")),
            _ => None,
        })
        .collect()
}

/// Packs `tokens` into parts of at most `limit` (by `measure`), closing and reopening tags
/// at each cut. A single token longer than the limit gets a part of its own.
fn pack(tokens: &[Token<'_>], limit: usize, measure: fn(&str) -> usize) -> Vec<String> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut open: Vec<Token<'_>> = Vec::new();
    loop {
        while tokens
            .get(start)
            .is_some_and(|t| matches!(t.kind, Kind::Newline | Kind::Space))
        {
            start += 1;
        }
        if start >= tokens.len() {
            return parts;
        }
        let mut stack = open.clone();
        let mut len: usize = open.iter().map(|t| measure(t.text)).sum();
        let (mut line_break, mut word_break) = (None, None);
        let mut end = start;
        while let Some(&token) = tokens.get(end) {
            match token.kind {
                Kind::Newline => line_break = Some((end, stack.clone())),
                Kind::Space => word_break = Some((end, stack.clone())),
                _ => {}
            }
            let mut after = stack.clone();
            apply(&mut after, token);
            if len + measure(token.text) + measure(&closing(&after)) > limit {
                break;
            }
            len += measure(token.text);
            stack = after;
            end += 1;
        }
        let (stop, next, stack) = if end == tokens.len() {
            (end, end, stack)
        } else if let Some((p, s)) = line_break.or(word_break) {
            (p, p + 1, s)
        } else if end > start {
            (end, end, stack)
        } else {
            let mut s = open.clone();
            apply(&mut s, tokens[start]);
            (start + 1, start + 1, s)
        };
        let mut part: String = open.iter().map(|t| t.text).collect();
        part.extend(tokens[start..stop].iter().map(|t| t.text));
        part.truncate(part.trim_end().len());
        part.push_str(&closing(&stack));
        parts.push(part);
        start = next;
        open = stack;
    }
}

/// Splits a Telegram HTML message into messages of at most `limit` UTF-16 units each.
#[must_use]
pub fn split_telegram_html(html: &str, limit: usize) -> Vec<String> {
    if utf16_len(html) <= limit {
        return vec![html.to_owned()];
    }
    pack(&html_tokens(html), limit, utf16_len)
}

/// Closes the tags `html` leaves open (a headline cut from a longer text), so Telegram
/// accepts it.
#[must_use]
pub fn balance_html(html: &str) -> String {
    pack(&html_tokens(html), usize::MAX, utf16_len).concat()
}

/// Splits Discord Markdown into messages of at most `limit` characters each.
#[must_use]
pub fn split_markdown(text: &str, limit: usize) -> Vec<String> {
    if char_len(text) <= limit {
        return vec![text.to_owned()];
    }
    pack(&markdown_tokens(text), limit, char_len)
}

/// Cuts `parts` (the text split at `limit` minus room for a note) to its first part plus a
/// note saying how many lines were left out.
fn first_with_note(parts: &[String], full_lines: usize, measure: fn(&str) -> usize) -> String {
    let first = parts.first().cloned().unwrap_or_default();
    let kept = first.lines().filter(|l| !l.trim().is_empty()).count();
    match full_lines.saturating_sub(kept) {
        n if n > 1 && measure(&first) > 0 => format!("{first}\n… and {n} more lines"),
        _ => format!("{first}…"),
    }
}

/// Room kept for the note `first_with_note` adds.
const NOTE_ROOM: usize = 32;

/// Cuts a Telegram HTML text to at most `limit` UTF-16 units, ending with a note on what was
/// left out; tags stay balanced and no tag or entity is cut.
#[must_use]
pub fn truncate_telegram_html(html: &str, limit: usize) -> String {
    if utf16_len(html) <= limit {
        return html.to_owned();
    }
    let lines = html.lines().filter(|l| !l.trim().is_empty()).count();
    let parts = pack(
        &html_tokens(html),
        limit.saturating_sub(NOTE_ROOM),
        utf16_len,
    );
    first_with_note(&parts, lines, utf16_len)
}

/// Cuts Discord Markdown (or plain text) to at most `limit` characters, ending with a note on
/// what was left out; no escape or broken mention is cut.
#[must_use]
pub fn truncate_markdown(text: &str, limit: usize) -> String {
    if char_len(text) <= limit {
        return text.to_owned();
    }
    let lines = text.lines().filter(|l| !l.trim().is_empty()).count();
    let parts = pack(
        &markdown_tokens(text),
        limit.saturating_sub(NOTE_ROOM),
        char_len,
    );
    first_with_note(&parts, lines, char_len)
}

/// The length Discord checks against [`EMBED_TOTAL`].
#[must_use]
pub fn embed_len(embed: &Embed) -> usize {
    char_len(&embed.title)
        + char_len(&embed.description)
        + embed
            .fields
            .iter()
            .map(|f| char_len(&f.name) + char_len(&f.value))
            .sum::<usize>()
        + embed.footer.as_deref().map_or(0, char_len)
}

fn more_fields(hidden: usize) -> EmbedField {
    EmbedField {
        name: "…".into(),
        value: format!("and {hidden} more"),
        inline: false,
    }
}

/// Makes an embed fit every Discord limit: each part is cut to its own limit, fields past the
/// 25th are replaced by an "and N more" field, and when the total is over 6000 the description
/// is shortened first, then fields are dropped from the end.
#[must_use]
pub fn fit_embed(mut embed: Embed) -> Embed {
    embed.title = truncate_markdown(&embed.title, EMBED_TITLE);
    embed.description = truncate_markdown(&embed.description, EMBED_DESCRIPTION);
    embed.footer = embed.footer.map(|f| truncate_markdown(&f, EMBED_FOOTER));
    for field in &mut embed.fields {
        field.name = truncate_markdown(&field.name, EMBED_FIELD_NAME);
        field.value = truncate_markdown(&field.value, EMBED_FIELD_VALUE);
    }
    let mut hidden = 0;
    if embed.fields.len() > EMBED_FIELDS {
        hidden = embed.fields.len() - (EMBED_FIELDS - 1);
        embed.fields.truncate(EMBED_FIELDS - 1);
    }
    let note = |hidden: usize| {
        if hidden > 0 {
            let f = more_fields(hidden);
            char_len(&f.name) + char_len(&f.value)
        } else {
            0
        }
    };
    let description = char_len(&embed.description);
    let rest = embed_len(&embed) - description + note(hidden);
    if rest + description > EMBED_TOTAL {
        // Keep a readable description if dropping fields can make room for it.
        let keep = EMBED_TOTAL
            .saturating_sub(rest)
            .max(description.min(EMBED_FIELD_VALUE));
        embed.description = truncate_markdown(&embed.description, keep);
    }
    while embed_len(&embed) + note(hidden) > EMBED_TOTAL && !embed.fields.is_empty() {
        embed.fields.pop();
        // The note grows by a digit at most; recount with the new number.
        hidden += 1;
    }
    if hidden > 0 {
        embed.fields.push(more_fields(hidden));
    }
    let over = embed_len(&embed).saturating_sub(EMBED_TOTAL);
    if over > 0 {
        let keep = char_len(&embed.description).saturating_sub(over);
        embed.description = truncate_markdown(&embed.description, keep);
    }
    embed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn embed(description: &str, fields: usize, value: &str) -> Embed {
        Embed {
            title: "t".into(),
            description: description.into(),
            fields: (0..fields)
                .map(|i| EmbedField {
                    name: format!("f{i}"),
                    value: value.into(),
                    inline: true,
                })
                .collect(),
            color: 0,
            footer: Some("footer".into()),
        }
    }

    fn assert_embed_fits(e: &Embed) {
        assert!(char_len(&e.title) <= EMBED_TITLE);
        assert!(char_len(&e.description) <= EMBED_DESCRIPTION);
        assert!(e.fields.len() <= EMBED_FIELDS);
        for f in &e.fields {
            assert!(char_len(&f.name) <= EMBED_FIELD_NAME);
            assert!(char_len(&f.value) <= EMBED_FIELD_VALUE);
        }
        assert!(e.footer.as_deref().map_or(0, char_len) <= EMBED_FOOTER);
        assert!(embed_len(e) <= EMBED_TOTAL, "{}", embed_len(e));
    }

    #[test]
    fn telegram_counts_utf16_units() {
        assert_eq!(utf16_len("🚨 BTC"), 6);
        assert_eq!(char_len("🚨 BTC"), 5);
    }

    #[test]
    fn a_short_message_is_left_alone() {
        assert_eq!(split_telegram_html("<b>a</b>", 10), vec!["<b>a</b>"]);
    }

    #[test]
    fn split_prefers_lines_and_reopens_tags() {
        let html = "<b>aaaa\nbbbb\ncccc</b>";
        let parts = split_telegram_html(html, 14);
        assert_eq!(parts, vec!["<b>aaaa</b>", "<b>bbbb</b>", "<b>cccc</b>"]);
        for p in &parts {
            assert!(utf16_len(p) <= 14);
        }
    }

    #[test]
    fn split_never_cuts_an_entity_or_a_tag() {
        let html = format!("{}<i>x</i>", "&amp;".repeat(10));
        for limit in 8..30 {
            for part in split_telegram_html(&html, limit) {
                assert!(utf16_len(&part) <= limit, "{limit}: {part}");
                let tokens = html_tokens(&part);
                assert!(tokens.iter().all(|t| t.text != "&" && t.text != "<"));
                assert_eq!(part.matches("<i>").count(), part.matches("</i>").count());
            }
        }
    }

    #[test]
    fn split_keeps_every_character_in_order() {
        let text: String = (0..500)
            .map(|i| format!("line {i} 🚨 &lt;x&gt;\n"))
            .collect();
        let parts = split_telegram_html(&text, 4096);
        assert!(parts.len() > 1);
        assert!(parts.iter().all(|p| utf16_len(p) <= 4096));
        assert_eq!(parts.join("\n"), text.trim_end());
    }

    #[test]
    fn truncation_notes_what_was_left_out() {
        let text: String = (0..100).map(|i| format!("line {i}\n")).collect();
        let cut = truncate_telegram_html(&format!("<b>{text}</b>"), 100);
        assert!(utf16_len(&cut) <= 100);
        assert!(cut.starts_with("<b>line 0\n"));
        assert!(cut.contains("</b>\n… and "), "{cut}");
        assert!(cut.ends_with(" more lines"));
    }

    #[test]
    fn markdown_cuts_keep_escapes_whole() {
        let text = r"\*".repeat(50);
        for limit in 34..60 {
            let cut = truncate_markdown(&text, limit);
            assert!(char_len(&cut) <= limit);
            assert!(cut.trim_end_matches('…').ends_with(r"\*"), "{cut}");
        }
        let pings = "@\u{200B}everyone ".repeat(10);
        for part in split_markdown(&pings, 13) {
            assert!(!part.contains("@everyone"));
            assert!(!part.ends_with('@'));
        }
    }

    #[test]
    fn an_embed_with_too_many_fields_keeps_24_and_a_note() {
        let e = fit_embed(embed("d", 40, "v"));
        assert_eq!(e.fields.len(), 25);
        assert_eq!(e.fields[24].value, "and 16 more");
        assert_embed_fits(&e);
    }

    #[test]
    fn an_oversized_embed_fits_every_limit() {
        let long_line = "word ".repeat(60) + "\n";
        let e = fit_embed(Embed {
            title: "T".repeat(400),
            footer: Some("F".repeat(3000)),
            ..embed(&long_line.repeat(100), 30, &long_line.repeat(10))
        });
        assert_embed_fits(&e);
        assert!(e.fields.last().unwrap().value.starts_with("and "));
        assert!(!e.description.is_empty());
    }

    #[test]
    fn a_fitting_embed_is_unchanged() {
        let e = embed("desc", 3, "value");
        assert_eq!(fit_embed(e.clone()), e);
    }
}
