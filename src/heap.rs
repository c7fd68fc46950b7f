//! The process heap under glibc's malloc, which the bot's bursts otherwise grow for good.
//!
//! glibc gives each thread that finds an arena locked an arena of its own, up to eight per
//! core, and memory freed in one arena is not reused by another. With renders on one worker
//! thread, their sends on others and SQLite's connection threads, the soak's heap grew by about
//! 8 MiB a minute and did not come back. Two arenas, and handing free pages back to the kernel
//! once a minute (a heatmap render and its 70 sends leave ~16 MiB free behind them), keep it
//! flat: see `liqbot soak` and docs/operations.md. Elsewhere these do nothing.

/// Caps malloc at two arenas; call it before any thread starts. `MALLOC_ARENA_MAX` in the
/// environment wins.
pub fn limit_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets an allocator parameter.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}

/// Hands the heap's free pages back to the kernel (a few milliseconds; the bot calls it once a
/// minute).
pub fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory the allocator holds.
    unsafe {
        libc::malloc_trim(0);
    }
}
