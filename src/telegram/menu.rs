//! teloxide's [`BotCommands`] over the one command registry, [`COMMANDS`]: the menu sent with
//! `setMyCommands`, the descriptions, and parsing, all from the same table the Discord adapter
//! and `/help` use, so the menu cannot drift from what the bot understands.

use std::sync::LazyLock;

use teloxide::types::BotCommand;
use teloxide::utils::command::{BotCommands, CommandDescription, CommandDescriptions, ParseError};

use crate::commands::{COMMANDS, Command, CommandDefaults, parse};
use crate::config::Config;

/// Commands left out of the menu: Telegram's client sends `/start` by itself.
const NOT_IN_MENU: [&str; 1] = ["start"];

/// A command parsed with the built-in defaults. The dispatcher parses with the loaded
/// config's defaults through [`crate::commands::parse`]; this type gives teloxide the menu.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelegramCommands(pub Command);

static DESCRIPTIONS: LazyLock<Vec<CommandDescription<'static>>> = LazyLock::new(|| {
    COMMANDS
        .iter()
        .map(|spec| CommandDescription {
            prefix: "/",
            command: spec.name,
            aliases: &[],
            description: spec.description,
        })
        .collect()
});

impl BotCommands for TelegramCommands {
    fn parse(s: &str, bot_username: &str) -> Result<Self, ParseError> {
        let defaults = CommandDefaults::from_config(&Config::default());
        match parse(s, Some(bot_username), &defaults) {
            Ok(Some(command)) => Ok(Self(command)),
            Ok(None) => Err(ParseError::UnknownCommand(
                s.split_whitespace().next().unwrap_or_default().to_owned(),
            )),
            Err(usage) => Err(ParseError::Custom(Box::new(usage))),
        }
    }

    fn descriptions() -> CommandDescriptions<'static> {
        CommandDescriptions::new(&DESCRIPTIONS)
    }

    fn bot_commands() -> Vec<BotCommand> {
        COMMANDS
            .iter()
            .filter(|spec| !NOT_IN_MENU.contains(&spec.name))
            .map(|spec| {
                let description = if spec.args.is_empty() {
                    spec.description.to_owned()
                } else {
                    format!("{} {}", spec.args, spec.description)
                };
                BotCommand::new(spec.name, description)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::Window;

    #[test]
    fn the_menu_is_the_registry_within_telegram_limits() {
        let menu = TelegramCommands::bot_commands();
        assert_eq!(menu.len(), COMMANDS.len() - NOT_IN_MENU.len());
        for command in &menu {
            assert!(COMMANDS.iter().any(|c| c.name == command.command));
            // Telegram rejects empty descriptions; it allows 1-256 characters.
            let len = command.description.chars().count();
            assert!((3..=256).contains(&len), "/{}: {len}", command.command);
        }
        assert!(
            menu.iter()
                .any(|c| c.command == "liq" && c.description.starts_with("[coin] [window]"))
        );
    }

    #[test]
    fn teloxide_parsing_goes_through_the_command_core() {
        let parsed = TelegramCommands::parse("/liq@LiqBot eth 4h", "LiqBot").unwrap();
        assert_eq!(
            parsed.0,
            Command::Summary {
                coin: Some("ETH".to_owned()),
                window: Window::H4
            }
        );
        assert!(matches!(
            TelegramCommands::parse("/liq@OtherBot", "LiqBot"),
            Err(ParseError::UnknownCommand(_))
        ));
        assert!(matches!(
            TelegramCommands::parse("/liq btc 99y", "LiqBot"),
            Err(ParseError::Custom(_))
        ));
    }
}
