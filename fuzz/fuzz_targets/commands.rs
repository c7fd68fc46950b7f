//! Fuzz target `commands`: see [`liqbot_fuzz::commands`] for what it feeds and checks.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| liqbot_fuzz::commands(data));
