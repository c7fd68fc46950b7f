//! Turning a chat message into a [`Command`]: a pure function of the text, the bot's own
//! username and the defaults, with limits so that no input can make it allocate much or panic.

use super::{Command, CommandDefaults, CommandSpec};
use crate::analytics::Window;
use crate::model::split_concatenated_symbol;
use crate::render::text::PostKind;

/// The longest command text accepted, in bytes.
pub const MAX_COMMAND_LEN: usize = 200;
/// The longest single argument accepted, in bytes: enough for any ticker or instrument id
/// (`1000PEPE-USDT-SWAP`), window, kind or cron field (`1,3,5,7,9,11,13,15,17,19,21,23`).
pub const MAX_ARG_LEN: usize = 32;
/// The longest `/subscribe` schedule accepted, in bytes, its words joined by single spaces.
pub const MAX_SCHEDULE_LEN: usize = 64;
/// The most arguments a command takes (`/subscribe`'s cron schedule is one argument here).
pub const MAX_ARGS: usize = 3;
/// Bad input is quoted back at most this many characters long.
const QUOTE_CHARS: usize = 20;
/// Fields of a cron line; the sixth is optional seconds.
const CRON_FIELDS: [usize; 2] = [5, 6];

/// Names people use for the large coins, besides the ticker.
const COIN_ALIASES: &[(&str, &str)] = &[
    ("XBT", "BTC"),
    ("BITCOIN", "BTC"),
    ("ETHEREUM", "ETH"),
    ("SOLANA", "SOL"),
    ("RIPPLE", "XRP"),
    ("DOGECOIN", "DOGE"),
    ("CARDANO", "ADA"),
];

/// Why a message addressed to us is not a valid command, for the user: a short sentence and
/// the command's usage line. The message quotes the user's input verbatim (cut to 20
/// characters) and is NOT escaped: the adapter escapes it for its platform's markup.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}\nUsage: {usage}")]
pub struct UsageError {
    /// What is wrong, one sentence.
    pub message: String,
    /// The usage line of the command: `/liq [coin] [window]`.
    pub usage: String,
}

impl UsageError {
    fn new(spec: &CommandSpec, message: String) -> Self {
        Self {
            message,
            usage: spec.usage(),
        }
    }
}

/// Parses `text` as one of our commands.
///
/// Returns `Ok(None)` for text that is not a command for us: no leading `/`, a command
/// addressed to another bot (`/liq@OtherBot`; with `bot_username` unknown, any `@bot`), or a
/// name not in [`COMMANDS`](super::COMMANDS) and not addressed to us explicitly. Arguments
/// are case-insensitive and may come in any order where that is unambiguous (`/liq 4h eth`).
///
/// # Errors
/// A [`UsageError`] for a command of ours with bad arguments or too many of them. Text over
/// [`MAX_COMMAND_LEN`] bytes, an argument over [`MAX_ARG_LEN`] and a schedule over
/// [`MAX_SCHEDULE_LEN`] are refused before anything else is done with them, and the reply
/// never quotes them.
pub fn parse(
    text: &str,
    bot_username: Option<&str>,
    defaults: &CommandDefaults,
) -> Result<Option<Command>, UsageError> {
    let text = text.trim_start();
    let Some(rest) = text.strip_prefix('/') else {
        return Ok(None);
    };
    let head_len = rest.find(char::is_whitespace).unwrap_or(rest.len());
    let (head, args) = rest.split_at(head_len);
    let (name, addressed) = match head.split_once('@') {
        Some((name, user)) => match bot_username {
            Some(me) if me.trim_start_matches('@').eq_ignore_ascii_case(user) => (name, true),
            _ => return Ok(None),
        },
        None => (head, false),
    };
    let Some(spec) = CommandSpec::find(name) else {
        if !addressed {
            return Ok(None);
        }
        return Err(UsageError {
            message: format!("Unknown command `/{}`.", quote(name)),
            usage: "/help".to_owned(),
        });
    };
    if text.len() > MAX_COMMAND_LEN {
        return Err(UsageError::new(
            spec,
            format!("That is too long (at most {MAX_COMMAND_LEN} characters)."),
        ));
    }
    let args: Vec<&str> = args.split_whitespace().collect();
    if args.iter().any(|a| a.len() > MAX_ARG_LEN) {
        return Err(UsageError::new(
            spec,
            format!("An argument is too long (at most {MAX_ARG_LEN} characters)."),
        ));
    }
    if spec.name == "subscribe" {
        return subscribe(spec, &args).map(Some);
    }
    if args.len() > MAX_ARGS {
        return Err(UsageError::new(spec, "Too many arguments.".to_owned()));
    }
    command(spec, &args, defaults).map(Some)
}

/// Builds every command but `/subscribe` from its (at most [`MAX_ARGS`]) arguments.
fn command(
    spec: &CommandSpec,
    args: &[&str],
    defaults: &CommandDefaults,
) -> Result<Command, UsageError> {
    if spec.name == "unsubscribe" {
        if args.len() > 1 {
            return Err(UsageError::new(spec, "Give one kind at most.".to_owned()));
        }
        let kind = args.first().map(|a| parse_kind(spec, a)).transpose()?;
        return Ok(Command::Unsubscribe { kind });
    }
    let takes_coin = spec.args.contains("[coin]");
    let takes_window = spec.args.contains("[window]");
    let mut coin = None;
    let mut window = None;
    for &arg in args {
        let window_like = is_window_like(arg);
        if window_like && takes_window {
            let w = arg.parse().map_err(|_| bad_window(spec, arg))?;
            if window.replace(w).is_some() {
                return Err(twice(spec, "window"));
            }
        } else if takes_coin && !window_like {
            let c = parse_coin(arg).ok_or_else(|| {
                UsageError::new(
                    spec,
                    format!(
                        "Unknown coin `{}`. Use a ticker such as BTC or ETH.",
                        quote(arg)
                    ),
                )
            })?;
            if coin.replace(c).is_some() {
                return Err(twice(spec, "coin"));
            }
        } else if takes_window {
            return Err(bad_window(spec, arg));
        } else {
            return Err(UsageError::new(
                spec,
                format!("/{} takes no `{}`.", spec.name, quote(arg)),
            ));
        }
    }
    let window = window.unwrap_or(defaults.window);
    let btc = || coin.clone().unwrap_or_else(|| "BTC".to_owned());
    Ok(match spec.name {
        "liq" => Command::Summary { coin, window },
        "heatmap" => Command::Heatmap {
            coin: btc(),
            window,
        },
        "levels" => Command::Levels { coin: btc() },
        "fng" => Command::FearGreed,
        "top" => Command::Top { window },
        "subscriptions" => Command::Subscriptions,
        _ => Command::Help,
    })
}

/// `/subscribe <kind> <schedule>`: the schedule is the rest of the line.
fn subscribe(spec: &CommandSpec, args: &[&str]) -> Result<Command, UsageError> {
    let Some((kind, schedule)) = args.split_first() else {
        return Err(UsageError::new(
            spec,
            "Say what to post: liq, heatmap, levels, fng or alert.".to_owned(),
        ));
    };
    let kind = parse_kind(spec, kind)?;
    // The words joined by single spaces, as the schedule is stored.
    let len = schedule.iter().map(|w| w.len()).sum::<usize>() + schedule.len().saturating_sub(1);
    if len > MAX_SCHEDULE_LEN {
        return Err(UsageError::new(
            spec,
            format!("That schedule is too long (at most {MAX_SCHEDULE_LEN} characters)."),
        ));
    }
    let schedule = parse_schedule(schedule).ok_or_else(|| {
        let given = schedule.join(" ");
        let message = if given.is_empty() {
            "Say when: 1h, 4h, 24h, hourly, daily 08:00 or a cron line.".to_owned()
        } else {
            format!(
                "Unknown schedule `{}`. Use 1h, 4h, 24h, hourly, daily 08:00 or a cron line.",
                quote(&given)
            )
        };
        UsageError::new(spec, message)
    })?;
    Ok(Command::Subscribe { kind, schedule })
}

/// A post kind by its name or the command that shows it: `liq`, `summary`, `top`, `heatmap`,
/// `levels`, `fng`, `alert(s)`.
fn parse_kind(spec: &CommandSpec, arg: &str) -> Result<PostKind, UsageError> {
    let kind = match arg.to_ascii_lowercase().as_str() {
        "liq" | "top" | "summary" => Some(PostKind::Summary),
        "alerts" => Some(PostKind::Alert),
        "feargreed" | "fear-greed" => Some(PostKind::FearGreed),
        other => other.parse().ok(),
    };
    kind.ok_or_else(|| {
        UsageError::new(
            spec,
            format!(
                "Unknown kind `{}`. Use liq, heatmap, levels, fng or alert.",
                quote(arg)
            ),
        )
    })
}

/// A schedule, normalised: a window label (`4h`), `hourly`, `daily HH:MM`, or a cron line of
/// 5 or 6 fields. Only a light check: the scheduler parses it for real.
fn parse_schedule(words: &[&str]) -> Option<String> {
    match words {
        [one] if one.eq_ignore_ascii_case("hourly") => Some("hourly".to_owned()),
        [one] => one.parse::<Window>().ok().map(|w| w.label().to_owned()),
        [daily, time] if daily.eq_ignore_ascii_case("daily") => {
            let (h, m) = time.split_once(':')?;
            let h: u8 = h.parse().ok().filter(|h| *h < 24)?;
            let m: u8 = m
                .parse()
                .ok()
                .filter(|m| *m < 60)
                .filter(|_| m.len() == 2)?;
            Some(format!("daily {h:02}:{m:02}"))
        }
        fields if CRON_FIELDS.contains(&fields.len()) => {
            let cron_char = |c: char| c.is_ascii_alphanumeric() || "*/,-?#".contains(c);
            fields
                .iter()
                .all(|f| f.chars().all(cron_char))
                .then(|| fields.join(" ").to_ascii_uppercase())
        }
        _ => None,
    }
}

/// A coin ticker from what people type: `btc`, `$btc`, `bitcoin`, `XBT`, `BTCUSDT`,
/// `BTC-USDT-SWAP`, `btcusd`, `ethperp`. Any other 2-10 ASCII alphanumerics are a ticker.
#[must_use]
pub(super) fn parse_coin(arg: &str) -> Option<String> {
    if arg.len() > 32 {
        return None;
    }
    let upper = arg.strip_prefix('$').unwrap_or(arg).to_ascii_uppercase();
    // OKX-style instrument ids: BTC-USDT-SWAP, BTC-USD-250328.
    let head = upper.split('-').next().unwrap_or(&upper);
    let alias = |s: &str| {
        COIN_ALIASES
            .iter()
            .find(|(name, _)| *name == s)
            .map(|(_, ticker)| (*ticker).to_owned())
    };
    let base = alias(head).unwrap_or_else(|| split_concatenated_symbol(head).0);
    let base = alias(&base).unwrap_or(base);
    let valid = (2..=10).contains(&base.len()) && base.bytes().all(|b| b.is_ascii_alphanumeric());
    valid.then_some(base)
}

/// Digits then one or two letters (`4h`, `99y`, `30m`): meant as a window, not a ticker
/// (which `1INCH` or `1000PEPE` are).
fn is_window_like(arg: &str) -> bool {
    let digits = arg.bytes().take_while(u8::is_ascii_digit).count();
    let letters = arg.len() - digits;
    (1..=4).contains(&digits)
        && (1..=2).contains(&letters)
        && arg.bytes().skip(digits).all(|b| b.is_ascii_alphabetic())
}

fn bad_window(spec: &CommandSpec, arg: &str) -> UsageError {
    UsageError::new(
        spec,
        format!(
            "Unknown window `{}`. Use 1h, 4h, 12h, 24h or 7d.",
            quote(arg)
        ),
    )
}

fn twice(spec: &CommandSpec, what: &str) -> UsageError {
    UsageError::new(spec, format!("Give one {what} at most."))
}

/// The user's input cut to [`QUOTE_CHARS`] characters, with `…` when cut.
fn quote(s: &str) -> String {
    match s.char_indices().nth(QUOTE_CHARS) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coin_aliases_and_pairs_map_to_the_ticker() {
        for arg in [
            "btc",
            "XBT",
            "bitcoin",
            "BTCUSDT",
            "BTC-USDT-SWAP",
            "btcusd",
            "$btc",
            "xbtusd",
        ] {
            assert_eq!(parse_coin(arg).as_deref(), Some("BTC"), "{arg}");
        }
        let cases = [
            ("ethereum", "ETH"),
            ("solana", "SOL"),
            ("ripple", "XRP"),
            ("dogecoin", "DOGE"),
            ("bnb", "BNB"),
            ("cardano", "ADA"),
            ("ethperp", "ETH"),
            ("solusdc", "SOL"),
            ("1000pepeusdt", "1000PEPE"),
            ("1inch", "1INCH"),
        ];
        for (arg, ticker) in cases {
            assert_eq!(parse_coin(arg).as_deref(), Some(ticker), "{arg}");
        }
    }

    #[test]
    fn coins_must_be_short_alphanumerics() {
        for arg in [
            "<script>",
            "x",
            "abcdefghijkl",
            "b.tc",
            "",
            "$",
            "btc/usd",
            "é",
        ] {
            assert_eq!(parse_coin(arg), None, "{arg}");
        }
    }

    #[test]
    fn schedules_are_presets_or_cron_lines() {
        let ok = [
            (&["1h"][..], "1h"),
            (&["4H"][..], "4h"),
            (&["24h"][..], "24h"),
            (&["hourly"][..], "hourly"),
            (&["daily", "8:00"][..], "daily 08:00"),
            (&["Daily", "23:59"][..], "daily 23:59"),
            (&["0", "*/4", "*", "*", "*"][..], "0 */4 * * *"),
            (
                &["0", "30", "8", "*", "*", "mon-fri"][..],
                "0 30 8 * * MON-FRI",
            ),
        ];
        for (words, want) in ok {
            assert_eq!(parse_schedule(words).as_deref(), Some(want), "{words:?}");
        }
        let bad: [&[&str]; 6] = [
            &[],
            &["2h"],
            &["daily", "24:00"],
            &["daily", "8:5"],
            &["0", "*", "*", "*"],
            &["0", "*", "*", "*", "<b>"],
        ];
        for words in bad {
            assert_eq!(parse_schedule(words), None, "{words:?}");
        }
    }

    #[test]
    fn quotes_are_cut_on_a_char_boundary() {
        assert_eq!(quote("short"), "short");
        let long = "é".repeat(30);
        assert_eq!(quote(&long), format!("{}…", "é".repeat(20)));
    }

    #[test]
    fn window_like_words_are_digits_then_a_unit() {
        for w in ["4h", "99y", "60m", "168h"] {
            assert!(is_window_like(w), "{w}");
        }
        for w in ["1inch", "1000pepe", "btc", "h4", "4", ""] {
            assert!(!is_window_like(w), "{w}");
        }
    }
}
