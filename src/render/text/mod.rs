//! Posts for Telegram (HTML) and Discord (Markdown and an embed), written by minijinja
//! templates.
//!
//! One template per post kind and platform (`summary.telegram.html.j2`,
//! `summary.discord.md.j2`, ...). The defaults in `templates/` are compiled into the binary; a
//! file of the same name in the override directory replaces one, and any other `*.j2` file
//! there can be included or imported. Every template is parsed, and rendered once on sample
//! data, when [`Templates`] is built, so a mistake is reported at startup with its file and
//! line, not when a post is due.
//!
//! Every dynamic value is escaped for its platform by the formatter (see [`escape`]); number
//! and time filters are in [`filters`]; the length limits of both platforms are enforced on
//! the result (see [`limits`]). `templates/README.md` documents the templates, their
//! variables, and how a Discord template names the parts of its embed.

mod error;
pub mod escape;
pub mod filters;
mod kind;
pub mod limits;
pub mod post;
mod sample;
pub mod view;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono_tz::Tz;
use minijinja::{AutoEscape, Environment, ErrorKind, UndefinedBehavior};

pub use error::TemplateError;
pub use kind::{Platform, PostData, PostKind, UnknownPostName};

/// A rendered post, within its platform's limits.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedPost {
    /// Where it goes.
    pub platform: Platform,
    /// What it is.
    pub kind: PostKind,
    /// Telegram: the whole HTML message, which may be longer than one message (send
    /// [`messages`](Self::messages)). Discord: the message content outside the embed, often
    /// empty.
    pub text: String,
    /// `text` split into messages to send in order: at most 4096 UTF-16 units each for
    /// Telegram (tags closed and reopened at each cut), at most 2000 characters for Discord.
    /// Empty when `text` is.
    pub messages: Vec<String>,
    /// Discord only: the embed.
    pub embed: Option<Embed>,
    /// Telegram only: the caption for when an image goes with the post. It is `text` itself
    /// when that fits in 1024 UTF-16 units; otherwise the template's `headline` block, and the
    /// full text follows the photo (see [`after_photo`](Self::after_photo)).
    pub caption: Option<String>,
}

impl RenderedPost {
    /// Telegram with an image: the messages to send after the captioned photo; none when the
    /// caption already carries the whole text.
    #[must_use]
    pub fn after_photo(&self) -> &[String] {
        if self.caption.as_deref() == Some(self.text.as_str()) {
            &[]
        } else {
            &self.messages
        }
    }
}

/// A Discord embed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Embed {
    /// The title (at most 256 characters).
    pub title: String,
    /// The description (at most 4096 characters).
    pub description: String,
    /// The fields (at most 25).
    pub fields: Vec<EmbedField>,
    /// The colour bar, `0xRRGGBB`: red when longs dominate, green for shorts, grey otherwise.
    pub color: u32,
    /// The footer, plain text (at most 2048 characters).
    pub footer: Option<String>,
}

/// One field of a Discord embed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbedField {
    /// The name (at most 256 characters).
    pub name: String,
    /// The value (at most 1024 characters).
    pub value: String,
    /// Whether Discord may put it beside its neighbours.
    pub inline: bool,
}

/// The default templates, compiled in.
const DEFAULTS: [(&str, &str); 10] = [
    (
        "summary.telegram.html.j2",
        include_str!("../../../templates/summary.telegram.html.j2"),
    ),
    (
        "summary.discord.md.j2",
        include_str!("../../../templates/summary.discord.md.j2"),
    ),
    (
        "heatmap.telegram.html.j2",
        include_str!("../../../templates/heatmap.telegram.html.j2"),
    ),
    (
        "heatmap.discord.md.j2",
        include_str!("../../../templates/heatmap.discord.md.j2"),
    ),
    (
        "levels.telegram.html.j2",
        include_str!("../../../templates/levels.telegram.html.j2"),
    ),
    (
        "levels.discord.md.j2",
        include_str!("../../../templates/levels.discord.md.j2"),
    ),
    (
        "fng.telegram.html.j2",
        include_str!("../../../templates/fng.telegram.html.j2"),
    ),
    (
        "fng.discord.md.j2",
        include_str!("../../../templates/fng.discord.md.j2"),
    ),
    (
        "alert.telegram.html.j2",
        include_str!("../../../templates/alert.telegram.html.j2"),
    ),
    (
        "alert.discord.md.j2",
        include_str!("../../../templates/alert.discord.md.j2"),
    ),
];

/// The template file of a post kind on a platform: `summary.telegram.html.j2`.
#[must_use]
pub fn template_name(kind: PostKind, platform: Platform) -> String {
    format!("{}{}", kind.as_str(), platform.suffix())
}

/// What `liqbot check-config` reports about templates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateCheck {
    /// Default templates replaced by a file in the override directory.
    pub overridden: Vec<String>,
    /// Other `*.j2` files there, loaded for `include` and `import`.
    pub extra: Vec<String>,
}

/// The post templates, parsed and checked. Cheap to share: wrap it in an `Arc`.
#[derive(Debug, Clone)]
pub struct Templates {
    env: Environment<'static>,
    /// Template name to the file it came from, for error messages.
    origins: BTreeMap<String, String>,
    time_zone: Tz,
    check: TemplateCheck,
}

impl Templates {
    /// Loads the default templates, replaced by same-named files in `dir`, parses every one
    /// and renders each on sample data. Times are written in `time_zone`.
    pub fn new(dir: Option<&Path>, time_zone: Tz) -> Result<Self, TemplateError> {
        let files = match dir {
            Some(dir) => read_dir(dir)?,
            None => BTreeMap::new(),
        };
        let mut origins: BTreeMap<String, String> = DEFAULTS
            .iter()
            .map(|(name, _)| ((*name).to_owned(), format!("templates/{name} (built in)")))
            .collect();
        let mut check = TemplateCheck {
            overridden: Vec::new(),
            extra: Vec::new(),
        };
        for (name, (path, _)) in &files {
            if !(name.ends_with(".html.j2") || name.ends_with(".md.j2")) {
                // The suffix picks the escaping; a partial without one would print data raw.
                return Err(TemplateError::Template {
                    file: path.display().to_string(),
                    line: None,
                    message: "a template's name must end in .html.j2 (Telegram) or .md.j2 \
                              (Discord), which decides how its values are escaped"
                        .into(),
                });
            }
            let list = if origins.contains_key(name) {
                &mut check.overridden
            } else {
                &mut check.extra
            };
            list.push(name.clone());
            origins.insert(name.clone(), path.display().to_string());
        }
        let mut env = environment(time_zone);
        let defaults: Vec<(String, String)> = DEFAULTS
            .iter()
            .filter(|(name, _)| !files.contains_key(*name))
            .map(|(name, source)| ((*name).to_owned(), (*source).to_owned()))
            .collect();
        let sources = defaults
            .into_iter()
            .chain(files.into_iter().map(|(name, (_, source))| (name, source)));
        for (name, source) in sources {
            env.add_template_owned(name.clone(), source)
                .map_err(|e| TemplateError::from_minijinja(&e, &origins, &name))?;
        }
        let templates = Self {
            env,
            origins,
            time_zone,
            check,
        };
        sample::render_all(&templates)?;
        Ok(templates)
    }

    /// Checks the templates as `liqbot check-config` does: everything [`new`](Self::new)
    /// does, reporting which defaults `dir` overrides.
    pub fn check(dir: Option<&Path>, time_zone: Tz) -> Result<TemplateCheck, TemplateError> {
        Self::new(dir, time_zone).map(|t| t.check)
    }

    /// Which templates came from the override directory.
    #[must_use]
    pub fn overrides(&self) -> &TemplateCheck {
        &self.check
    }

    /// The zone times are written in.
    #[must_use]
    pub fn time_zone(&self) -> Tz {
        self.time_zone
    }

    /// Renders one post for `platform`, at `now_ms` (for `ago` and same-day times).
    pub fn render(
        &self,
        platform: Platform,
        data: &PostData<'_>,
        now_ms: i64,
    ) -> Result<RenderedPost, TemplateError> {
        let kind = data.kind();
        let name = template_name(kind, platform);
        let error = |e: minijinja::Error| TemplateError::from_minijinja(&e, &self.origins, &name);
        let ctx = view::context(data, platform, now_ms, self.time_zone);
        let template = self.env.get_template(&name).map_err(error)?;
        let mut captured = template.render_captured(&ctx).map_err(error)?;
        let mut block = |block: &str| match captured.with_state_mut(|s| s.render_block(block)) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == ErrorKind::UnknownBlock => Ok(None),
            Err(e) => Err(error(e)),
        };
        Ok(match platform {
            Platform::Telegram => {
                let headline = block("headline")?;
                post::telegram(kind, captured.output(), headline.as_deref())
            }
            Platform::Discord => {
                let blocks = post::DiscordBlocks {
                    content: block("content")?,
                    title: block("title")?,
                    description: block("description")?,
                    fields: block("fields")?,
                    footer: block("footer")?,
                };
                post::discord(kind, blocks, post::color(data))
            }
        })
    }
}

/// The engine's settings: whitespace control, escaping, filters, `field()`.
fn environment(time_zone: Tz) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".html.j2") || name.ends_with(".html") {
            AutoEscape::Html
        } else if name.ends_with(".md.j2") || name.ends_with(".md") {
            AutoEscape::Custom(escape::DISCORD_ESCAPE)
        } else {
            AutoEscape::None
        }
    });
    env.set_formatter(escape::formatter);
    env.add_filter("escape", escape::escape_filter);
    env.add_filter("e", escape::escape_filter);
    filters::register(&mut env, time_zone);
    env.add_function("field", post::field);
    env
}

/// The `*.j2` files in `dir`, by file name, with their paths and sources.
fn read_dir(dir: &Path) -> Result<BTreeMap<String, (PathBuf, String)>, TemplateError> {
    let read_error = |path: &Path| {
        let path = path.to_owned();
        move |source| TemplateError::Read { path, source }
    };
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(dir).map_err(read_error(dir))? {
        let path = entry.map_err(read_error(dir))?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if !name.ends_with(".j2") || !path.is_file() {
            continue;
        }
        let source = std::fs::read_to_string(&path).map_err(read_error(&path))?;
        files.insert(name.to_owned(), (path.clone(), source));
    }
    Ok(files)
}
