//! Secrets that reach text by another road than `Secret`'s own `***` (a library error holding
//! a URL, a panic message, an error chain) are still redacted where the bot writes text: the
//! log writer, the panic hook and the top-level error.
//!
//! The checks run in a child process (this test binary again), so its panic hook and logger
//! do not touch the other tests and its stderr can be read whole.

use std::process::Command;

use liqbot::config::Secret;
use liqbot::redact::{RedactingStderr, install_panic_hook, redact};

const CHILD: &str = "LIQBOT_SECRETS_TEST_CHILD";
const TOKEN: &str = "9999:PANIC-token-do-not-print";
const DB_URL: &str = "postgres://liq:db-Password-42@db.internal/liq";

/// What the child does: everything the bot does with text that could carry a token.
fn child() {
    let _token = Secret::new(TOKEN);
    liqbot::redact::register_url_password(DB_URL);
    install_panic_hook();
    tracing_subscriber::fmt()
        .with_writer(RedactingStderr)
        .with_max_level(tracing::Level::TRACE)
        .init();
    let url = format!("https://api.telegram.org/bot{TOKEN}/getMe");
    tracing::error!(%url, "error sending request for url ({url})");
    tracing::trace!(db = DB_URL, "connecting");
    let chain =
        anyhow::anyhow!("error sending request for url ({url})").context("starting Telegram");
    eprintln!("error: {}", redact(&format!("{chain:#}")));
    let panicked = std::thread::spawn(|| panic!("a send task panicked with {TOKEN} in hand"))
        .join()
        .is_err();
    assert!(panicked);
}

#[test]
fn tokens_in_logs_panics_and_error_chains_are_printed_as_stars() {
    if std::env::var_os(CHILD).is_some() {
        child();
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "tokens_in_logs_panics_and_error_chains_are_printed_as_stars",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(!text.contains("PANIC-token"), "{text}");
    assert!(!text.contains("db-Password-42"), "{text}");
    // What was around the secrets is still there.
    assert!(
        text.contains("https://api.telegram.org/bot***/getMe"),
        "{text}"
    );
    assert!(
        text.contains("postgres://liq:***@db.internal/liq"),
        "{text}"
    );
    assert!(
        text.contains("error: starting Telegram: error sending request"),
        "{text}"
    );
    assert!(
        text.contains("panicked at") && text.contains("a send task panicked with *** in hand"),
        "{text}"
    );
}
