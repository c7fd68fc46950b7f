//! The last line of defence for secrets. [`crate::config::Secret`] already prints as `***`, but
//! a token can still reach text some other way: inside a URL in a library's error, in a panic
//! message, in an error chain. Every secret value the bot loads is registered here, and the
//! log writer, the panic hook and the top-level error replace any registered value with `***`
//! before it is written.

use std::borrow::Cow;
use std::io::{self, Write};
use std::sync::{PoisonError, RwLock};

/// Values shorter than this are not registered: replacing them would garble ordinary text, and
/// no real token or password of the bot's is that short.
const MIN_LEN: usize = 8;

static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Registers `value` (and, for a URL with a password, the password alone) to be redacted.
pub fn register(value: &str) {
    let mut values = vec![value];
    if let Some(password) = url_password(value) {
        values.push(password);
    }
    let mut secrets = SECRETS.write().unwrap_or_else(PoisonError::into_inner);
    for value in values {
        if value.len() >= MIN_LEN && !secrets.iter().any(|s| s == value) {
            secrets.push(value.to_owned());
            // Longest first, so a value containing another is replaced whole.
            secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
    }
}

/// Registers only the password of `url`, if it has one (a database URL written in the config
/// file rather than the secrets file).
pub fn register_url_password(url: &str) {
    if let Some(password) = url_password(url) {
        register(password);
    }
}

/// The password of `scheme://user:password@host...`, if any.
fn url_password(url: &str) -> Option<&str> {
    let rest = &url[url.find("://")? + 3..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let userinfo = &authority[..authority.rfind('@')?];
    userinfo.split_once(':').map(|(_, password)| password)
}

/// `text` with every registered secret replaced by `***`.
#[must_use]
pub fn redact(text: &str) -> Cow<'_, str> {
    let secrets = SECRETS.read().unwrap_or_else(PoisonError::into_inner);
    let mut out = Cow::Borrowed(text);
    for secret in secrets.iter() {
        if out.contains(secret.as_str()) {
            out = Cow::Owned(out.replace(secret.as_str(), "***"));
        }
    }
    out
}

/// A log writer that redacts each write before it reaches stderr. tracing's formatter writes
/// each event in one `write_all`, so a secret is never split between two writes.
#[derive(Debug, Default, Clone, Copy)]
pub struct RedactingStderr;

impl Write for RedactingStderr {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        io::stderr().lock().write_all(redact(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for RedactingStderr {
    type Writer = Self;

    fn make_writer(&'a self) -> Self::Writer {
        *self
    }
}

/// Replaces the panic hook with one that prints what the default one does (thread, location,
/// message), redacted.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let thread = std::thread::current();
        let name = thread.name().unwrap_or("<unnamed>");
        let text = format!("thread '{name}' {info}");
        let _ = writeln!(io::stderr().lock(), "{}", redact(&text));
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_values_and_url_passwords_are_replaced_short_ones_are_not() {
        register("7777:redact-unit-test-token");
        register("postgres://liq:hunter2-unit@db.example/liq");
        register("short");
        assert_eq!(
            redact("GET https://api.telegram.org/bot7777:redact-unit-test-token/getMe failed"),
            "GET https://api.telegram.org/bot***/getMe failed"
        );
        assert_eq!(
            redact("connecting to postgres://liq:hunter2-unit@other-host/x"),
            "connecting to postgres://liq:***@other-host/x"
        );
        assert_eq!(redact("a short text"), "a short text");
        assert!(matches!(redact("nothing here"), Cow::Borrowed(_)));
    }
}
