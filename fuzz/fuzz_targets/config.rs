//! Fuzz target `config`: see [`liqbot_fuzz::config`] for what it feeds and checks.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| liqbot_fuzz::config(data));
