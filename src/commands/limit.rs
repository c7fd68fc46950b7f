//! The per-chat command limit (`[commands] chat_limit` per `chat_period_secs`): all members of
//! a group, channel or Discord server channel together run at most so many commands per
//! period. The first command over the limit gets one short reply; the rest of the cooldown is
//! silent, so a flood of commands never becomes a flood of replies from the bot. It sits on
//! top of the per-user image limit, which a crowd of users would otherwise get around.
//!
//! Like [`RateLimiter`], time is passed in as `now` since an origin the caller fixes.

use std::collections::HashMap;
use std::time::Duration;

use crate::config::CommandsConfig;
use crate::pacing::RateLimiter;

/// What to do with one command in a chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatVerdict {
    /// Under the limit: answer it.
    Allow,
    /// Over the limit, and the chat has not been told: reply once with
    /// [`chat_cooldown_text`] for this wait, and do nothing else.
    Refuse(Duration),
    /// Over the limit, and the chat has been told already: send nothing.
    Silent,
}

/// Counts commands per chat and remembers which chats were told to slow down.
#[derive(Debug)]
pub struct ChatLimiter {
    limiter: RateLimiter,
    /// Chats told to slow down, until when their cooldown lasts.
    told: HashMap<u64, Duration>,
}

impl ChatLimiter {
    /// A limiter allowing `max` commands per `per` to each chat.
    #[must_use]
    pub fn new(max: u32, per: Duration) -> Self {
        Self {
            limiter: RateLimiter::new(max, per),
            told: HashMap::new(),
        }
    }

    /// The limiter `[commands]` configures.
    #[must_use]
    pub fn from_config(config: &CommandsConfig) -> Self {
        Self::new(config.chat_limit, config.chat_period())
    }

    /// Records a command in `chat` at `now` if the chat is under its limit, and says what to
    /// do with it. Refused commands are not counted, so a flood does not extend the cooldown.
    pub fn check(&mut self, chat: u64, now: Duration) -> ChatVerdict {
        let wait = match self.limiter.check(chat, now) {
            Ok(()) => {
                self.told.remove(&chat);
                return ChatVerdict::Allow;
            }
            Err(wait) => wait,
        };
        if self.told.get(&chat).is_some_and(|&until| until > now) {
            return ChatVerdict::Silent;
        }
        // Refusals are rare (one per chat per cooldown): a good moment to forget old ones.
        self.told.retain(|_, until| *until > now);
        self.told.insert(chat, now + wait);
        ChatVerdict::Refuse(wait)
    }
}

/// The one reply a chat over its limit gets; the wait rounds up to whole seconds.
#[must_use]
pub fn chat_cooldown_text(wait: Duration) -> String {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    format!(
        "This chat is asking quickly; try again in {} s.",
        secs.max(1)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    fn at(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    #[test]
    fn a_chat_over_its_limit_is_told_once_then_left_in_silence() {
        let mut limiter = ChatLimiter::new(2, MINUTE);
        assert_eq!(limiter.check(7, at(0)), ChatVerdict::Allow);
        assert_eq!(limiter.check(7, at(10)), ChatVerdict::Allow);
        assert_eq!(limiter.check(7, at(20)), ChatVerdict::Refuse(at(40)));
        assert_eq!(limiter.check(7, at(30)), ChatVerdict::Silent);
        assert_eq!(limiter.check(7, at(59)), ChatVerdict::Silent);
        // Another chat has its own count.
        assert_eq!(limiter.check(8, at(30)), ChatVerdict::Allow);
        // The first command left the window: one more goes through, then the chat is told
        // again, once.
        assert_eq!(limiter.check(7, at(60)), ChatVerdict::Allow);
        assert_eq!(limiter.check(7, at(61)), ChatVerdict::Refuse(at(9)));
        assert_eq!(limiter.check(7, at(62)), ChatVerdict::Silent);
    }

    #[test]
    fn the_cooldown_reply_rounds_up_to_whole_seconds() {
        assert_eq!(
            chat_cooldown_text(Duration::from_millis(40_200)),
            "This chat is asking quickly; try again in 41 s."
        );
        assert_eq!(
            chat_cooldown_text(Duration::ZERO),
            "This chat is asking quickly; try again in 1 s."
        );
    }
}
