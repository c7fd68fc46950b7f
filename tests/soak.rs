//! `liqbot soak`, shortened: the real binary runs the whole bot as a child process against the
//! simulator and the rate-limited fakes for 45 seconds, with jobs firing every 10 and 30
//! seconds, and must pass every check it judges. The ten-minute soak is run by hand
//! (`cargo run --release -- soak`); this keeps its code path working.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_liqbot");

#[test]
fn a_short_soak_passes_every_check_it_judges() {
    let dir = tempfile::tempdir().unwrap();
    let keep = dir.path().join("soak");
    let out = Command::new(BIN)
        .args([
            "soak",
            "--secs",
            "45",
            "--rate",
            "40",
            "--telegram-chats",
            "6",
            "--discord-channels",
            "3",
            "--summary-schedule",
            "*/10 * * * * *",
            "--heatmap-schedule",
            "5,35 * * * * *",
            "--history-hours",
            "0.1",
            "--keep",
        ])
        .arg(&keep)
        .env_remove("LIQBOT_LOG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let log = std::fs::read_to_string(keep.join("bot.log")).unwrap_or_default();
    let tail: Vec<&str> = log.lines().rev().take(40).collect();
    assert!(
        out.status.success(),
        "{stdout}\n{stderr}\nthe bot's log, last lines first:\n{}",
        tail.join("\n")
    );
    for check in [
        "PASS rate:",
        "SKIP memory flat: not judged",
        "PASS no errors:",
        "PASS no 429s:",
        "PASS every slot delivered:",
        "PASS every event stored:",
    ] {
        assert!(stdout.contains(check), "{check}\n{stdout}");
    }
    assert!(stdout.contains("soak PASSED"), "{stdout}");
    // The memory figures of the bot process are reported even when not judged.
    assert!(
        stdout.contains("steady (second half) median RSS"),
        "{stdout}"
    );
    assert!(keep.join("bot.toml").exists() && keep.join("soak.db").exists());
}

/// The soak's "no 429s" can fail: with their limits on, the fakes refuse what the platforms
/// would. Telegram: a second message to one chat within the second; Discord: a sixth message
/// to one channel within five seconds.
#[tokio::test]
async fn the_fakes_answer_429_to_sends_over_the_platform_limits() {
    use liqbot::sim::discord::FakeDiscord;
    use liqbot::sim::telegram::FakeTelegram;

    let http = reqwest::Client::new();
    let telegram = FakeTelegram::start("1:limits", "LiqBot").await.unwrap();
    telegram.enforce_limits();
    let send = || {
        http.post(format!("{}/bot1:limits/sendMessage", telegram.url()))
            .json(&serde_json::json!({"chat_id": -100_123, "text": "hi"}))
            .send()
    };
    assert_eq!(send().await.unwrap().status(), 200);
    let refused = send().await.unwrap();
    assert_eq!(refused.status(), 429);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["parameters"]["retry_after"], 1, "{body}");
    telegram.stop().await;

    let discord = FakeDiscord::start("limits").await.unwrap();
    discord.enforce_limits();
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let response = http
            .post(format!("{}/api/v10/channels/42/messages", discord.url()))
            .header("Authorization", "Bot limits")
            .json(&serde_json::json!({"content": "hi"}))
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 200, 200, 429]);
    discord.stop().await;
}
