//! The bot under soak: `liqbot run` in a process of its own (so its memory is measured alone),
//! its logs in a file, its `/metrics` scraped over HTTP, stopped with SIGTERM.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use anyhow::Context as _;

/// A running `liqbot run`.
pub struct BotProcess {
    child: Child,
    log: PathBuf,
    metrics_url: String,
    http: reqwest::Client,
}

/// A free TCP port on 127.0.0.1 (bound, read and released; the bot binds it a moment later).
///
/// # Errors
/// When no port can be bound.
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

impl BotProcess {
    /// Starts `exe run --config config` with a clean environment but for `env` (tokens, log
    /// filter), its stderr in `log`; `metrics_port` is the config's `[metrics] listen` port.
    ///
    /// # Errors
    /// When the log file cannot be created or the process cannot start.
    pub fn spawn(
        exe: &Path,
        config: &Path,
        env: &[(&str, &str)],
        log: PathBuf,
        metrics_port: u16,
    ) -> anyhow::Result<Self> {
        let file = std::fs::File::create(&log)
            .with_context(|| format!("creating the bot's log {}", log.display()))?;
        // No variable of this shell (a LIQBOT_ override, a token) reaches the bot's config;
        // the C library's allocator settings do, so a soak can compare them.
        let allocator = std::env::vars()
            .filter(|(key, _)| key.starts_with("MALLOC_") || key == "GLIBC_TUNABLES");
        let child = Command::new(exe)
            .args(["run", "--config"])
            .arg(config)
            .env_clear()
            .envs(allocator)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(file))
            .spawn()
            .with_context(|| format!("starting {} run", exe.display()))?;
        Ok(Self {
            child,
            log,
            metrics_url: format!("http://127.0.0.1:{metrics_port}/metrics"),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()?,
        })
    }

    /// The process id.
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The exit status, if it has exited.
    ///
    /// # Errors
    /// When the status cannot be read.
    pub fn exited(&mut self) -> anyhow::Result<Option<ExitStatus>> {
        Ok(self.child.try_wait()?)
    }

    /// Fails, with the end of the logs, when the process has exited.
    ///
    /// # Errors
    /// When it has exited.
    pub fn ensure_running(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.exited()? {
            anyhow::bail!(
                "the bot exited early ({status}); the end of its log:\n{}",
                self.tail(30)
            );
        }
        Ok(())
    }

    /// Its log so far.
    #[must_use]
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The last `n` lines of its log.
    #[must_use]
    pub fn tail(&self, n: usize) -> String {
        let logs = self.logs();
        let lines: Vec<&str> = logs.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// Its `/metrics` text, or `None` while it does not answer.
    pub async fn metrics(&self) -> Option<String> {
        let response = self.http.get(&self.metrics_url).send().await.ok()?;
        if !response.status().is_success() {
            return None;
        }
        response.text().await.ok()
    }

    /// CPU time used so far (user + system), from `/proc/<pid>/stat`.
    #[must_use]
    pub fn cpu_time(&self) -> Option<Duration> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).ok()?;
        // Fields after the command name (which may hold spaces), from field 3 on.
        let rest = stat.rsplit_once(')')?.1;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 =
            fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        // /proc counts in USER_HZ, 100 on every Linux ABI.
        Some(Duration::from_millis(ticks * 10))
    }

    /// SIGTERM, then waits up to `limit` for the exit; kills it after that.
    ///
    /// # Errors
    /// When the signal cannot be sent, or the bot did not exit in time (it is killed then).
    pub async fn stop(&mut self, limit: Duration) -> anyhow::Result<ExitStatus> {
        let pid = self.pid().to_string();
        let signalled = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .context("running kill -TERM")?;
        anyhow::ensure!(signalled.success(), "kill -TERM {pid} failed");
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if tokio::time::Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                anyhow::bail!(
                    "the bot did not exit within {limit:?} of SIGTERM and was killed; the end of its log:\n{}",
                    self.tail(30)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for BotProcess {
    fn drop(&mut self) {
        // A soak that failed half-way leaves no bot behind.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
