//! Fuzz target `binance_frame`: see [`liqbot_fuzz::binance_frame`] for what it feeds and checks.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| liqbot_fuzz::binance_frame(data));
