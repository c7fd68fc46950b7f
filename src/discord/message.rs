//! A rendered Discord post as serenity builders: the embed with the image attached as
//! `attachment://name.png`, no pings, and the window buttons under a summary.

use poise::serenity_prelude as serenity;
use serenity::{
    ButtonStyle, CreateActionRow, CreateAllowedMentions, CreateAttachment, CreateButton,
    CreateEmbed, CreateEmbedFooter,
};

use crate::analytics::Window;
use crate::render::posts::{Image, PostBundle};
use crate::render::text::{Platform, PostKind, RenderedPost};

/// The windows a summary's buttons switch between.
pub const BUTTON_WINDOWS: [Window; 3] = [Window::H1, Window::H4, Window::H24];
/// The prefix of a window button's custom id: `liqbot:win:{coin or *}:{window}`.
const BUTTON_PREFIX: &str = "liqbot:win:";

/// A post ready to send: content, embed, file.
pub struct DiscordPost {
    /// Text outside the embed; often empty.
    pub content: String,
    /// The embed, its image pointing at the attachment.
    pub embed: Option<CreateEmbed>,
    /// The image.
    pub file: Option<CreateAttachment>,
}

impl DiscordPost {
    /// The Discord rendering of `bundle` with its first image.
    #[must_use]
    pub fn from_bundle(bundle: &PostBundle) -> Option<Self> {
        let post = bundle
            .posts
            .iter()
            .find(|p| p.platform == Platform::Discord)?;
        Some(Self::new(post, bundle.images.first()))
    }

    /// `post` with `image` attached and shown in the embed.
    #[must_use]
    pub fn new(post: &RenderedPost, image: Option<&Image>) -> Self {
        let embed = post.embed.as_ref().map(|e| {
            let mut embed = CreateEmbed::new()
                .title(&e.title)
                .description(&e.description)
                .colour(e.color)
                .fields(
                    e.fields
                        .iter()
                        .map(|f| (f.name.clone(), f.value.clone(), f.inline)),
                );
            if let Some(footer) = &e.footer {
                embed = embed.footer(CreateEmbedFooter::new(footer));
            }
            if let Some(image) = image {
                embed = embed.image(format!("attachment://{}", image.name));
            }
            embed
        });
        Self {
            content: post.text.clone(),
            embed,
            file: image.map(|i| CreateAttachment::bytes(i.png.clone(), i.name.clone())),
        }
    }
}

/// Nobody is pinged, whatever the text holds.
pub fn no_pings() -> CreateAllowedMentions {
    CreateAllowedMentions::new()
        .everyone(false)
        .all_users(false)
        .all_roles(false)
        .replied_user(false)
}

/// The 1h / 4h / 24h buttons under a summary of `coin` (all coins when `None`), the current
/// window's disabled.
#[must_use]
pub fn window_buttons(kind: PostKind, coin: Option<&str>, current: Window) -> Vec<CreateActionRow> {
    if kind != PostKind::Summary {
        return Vec::new();
    }
    let buttons = BUTTON_WINDOWS
        .iter()
        .map(|&w| {
            CreateButton::new(button_id(coin, w))
                .label(w.label())
                .style(if w == current {
                    ButtonStyle::Primary
                } else {
                    ButtonStyle::Secondary
                })
                .disabled(w == current)
        })
        .collect();
    vec![CreateActionRow::Buttons(buttons)]
}

/// `liqbot:win:BTC:4h`, or `liqbot:win:*:4h` for all coins.
#[must_use]
pub fn button_id(coin: Option<&str>, window: Window) -> String {
    format!("{BUTTON_PREFIX}{}:{}", coin.unwrap_or("*"), window.label())
}

/// The coin and window of a window button's custom id.
#[must_use]
pub fn parse_button_id(id: &str) -> Option<(Option<String>, Window)> {
    let (coin, window) = id.strip_prefix(BUTTON_PREFIX)?.split_once(':')?;
    let window = window.parse().ok()?;
    let coin = (coin != "*").then(|| coin.to_owned());
    if coin.as_deref().is_some_and(|c| {
        c.is_empty() || c.len() > 20 || !c.bytes().all(|b| b.is_ascii_alphanumeric())
    }) {
        return None;
    }
    Some((coin, window))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn button_ids_round_trip_and_reject_junk() {
        assert_eq!(
            parse_button_id(&button_id(Some("BTC"), Window::H4)),
            Some((Some("BTC".to_owned()), Window::H4))
        );
        assert_eq!(
            parse_button_id(&button_id(None, Window::H24)),
            Some((None, Window::H24))
        );
        for junk in [
            "",
            "liqbot:win:",
            "liqbot:win:BTC",
            "liqbot:win:BTC:9y",
            "other:BTC:4h",
            "liqbot:win:<b>:4h",
        ] {
            assert_eq!(parse_button_id(junk), None, "{junk}");
        }
    }
}
