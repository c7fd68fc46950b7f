//! Fuzz target `rest`: see [`liqbot_fuzz::rest`] for what it feeds and checks.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| liqbot_fuzz::rest(data));
