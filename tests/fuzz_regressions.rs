//! The fuzz targets' checks, run under plain `cargo test`: over every input that once crashed a
//! target (`fuzz/regressions/<target>/`), over the fixtures the fuzzer is seeded with, and over
//! hand-made nasty inputs. The checks are the fuzz crate's own (`fuzz/src/lib.rs`, included
//! below), so an input fails here exactly when it would crash its fuzz target.

#[path = "../fuzz/src/lib.rs"]
mod fuzz_checks;

use std::path::{Path, PathBuf};

use fuzz_checks::{TARGETS, check_for};
use liqbot::sources::binance::BinanceParser;
use liqbot::sources::bybit::{BybitContract, BybitParser};
use liqbot::sources::okx::{self, OkxParser};
use liqbot::sources::{FrameError, Parsed};

fn repo_path(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The files directly in `dir` (none when it does not exist), README files left out.
fn files_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.expect("a readable directory entry").path())
        .filter(|path| path.is_file() && !path.ends_with("README.md"))
        .collect();
    files.sort();
    files
}

/// Runs `target`'s check over each file, naming the file that breaks it.
fn check_files(target: &str, files: &[PathBuf]) {
    let check = check_for(target).expect("a known target");
    for file in files {
        let data = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let outcome = std::panic::catch_unwind(|| check(&data));
        assert!(outcome.is_ok(), "{target} fails on {}", file.display());
    }
}

#[test]
fn every_target_has_a_check() {
    for target in TARGETS {
        assert!(check_for(target).is_some(), "{target}");
    }
    assert!(check_for("nope").is_none());
}

#[test]
fn inputs_that_once_crashed_a_target_no_longer_do() {
    for target in TARGETS {
        check_files(
            target,
            &files_in(&repo_path(&format!("fuzz/regressions/{target}"))),
        );
    }
}

fn read_text(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn assert_invalid(result: Result<Parsed, FrameError>, path: &Path) {
    assert!(
        matches!(result, Err(FrameError::Invalid(ref m)) if m.contains("size out of range")),
        "{}: {result:?}",
        path.display()
    );
}

/// The frames fuzzing found: valid decimals whose product or quotient overflows to infinity or
/// underflows to zero. Each is now an invalid entry, and so an invalid frame.
#[test]
fn sizes_that_overflow_or_underflow_make_the_frame_invalid() {
    let regressions = |target: &str| files_in(&repo_path(&format!("fuzz/regressions/{target}")));
    for path in regressions("binance_frame") {
        assert_invalid(BinanceParser.parse(&read_text(&path)), &path);
    }
    for path in regressions("bybit_frame") {
        let contract = if path.to_string_lossy().contains("inverse") {
            BybitContract::Inverse
        } else {
            BybitContract::Linear
        };
        assert_invalid(BybitParser::new(contract).parse(&read_text(&path)), &path);
    }
    let instruments = read_text(&repo_path("tests/fixtures/okx/instruments.json"));
    let okx = OkxParser::from_list(okx::parse_instruments(&instruments).expect("fixture parses"));
    for path in regressions("okx_frame") {
        assert_invalid(okx.parse(&read_text(&path)), &path);
    }
}

#[test]
fn an_entry_out_of_range_is_counted_and_the_rest_of_the_frame_kept() {
    let frame = r#"{"topic":"allLiquidation.BTCUSDT","data":[
        {"T":1,"s":"BTCUSDT","S":"Buy","v":"1e308","p":"1e308"},
        {"T":2,"s":"BTCUSDT","S":"Sell","v":"2","p":"50000"}]}"#;
    let parsed = BybitParser::new(BybitContract::Linear)
        .parse(frame)
        .expect("one entry is usable");
    assert_eq!(parsed.rejected, 1);
    assert_eq!(parsed.events.len(), 1);
    assert_eq!(parsed.events[0].usd, 100_000.0);
}

#[test]
fn seed_fixtures_pass_every_check_of_their_target() {
    let fixtures = |dir: &str| files_in(&repo_path(&format!("tests/fixtures/{dir}")));
    let (instruments, frames): (Vec<_>, Vec<_>) = ["bybit", "okx"]
        .into_iter()
        .flat_map(fixtures)
        .partition(|path| path.to_string_lossy().contains("/instruments"));
    check_files("binance_frame", &fixtures("binance"));
    check_files("bybit_frame", &frames);
    check_files("okx_frame", &frames);
    let market: Vec<PathBuf> = ["binance", "bybit", "fear_greed", "okx"]
        .into_iter()
        .flat_map(|venue| fixtures(&format!("market/{venue}")))
        .chain(instruments)
        .collect();
    check_files("rest", &market);
    let mut configs = fixtures("config");
    configs.push(repo_path("bot.example.toml"));
    check_files("config", &configs);
    for target in TARGETS {
        check_files(
            target,
            &files_in(&repo_path(&format!("fuzz/seeds/{target}"))),
        );
    }
}

/// Inputs a fuzzer reaches slowly or a venue might send on a bad day: nothing, bytes that are
/// not UTF-8, numbers past f64 and i64, float spellings Rust accepts but JSON does not, and
/// nesting deep enough to exhaust a recursive parser's stack.
fn nasty_inputs() -> Vec<Vec<u8>> {
    let mut inputs: Vec<Vec<u8>> = [
        "", " ", "\0", "null", "[]", "{}", "pong", "/", "/@", "/liq@", "=", "[[jobs]]",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    inputs.push(vec![0xff, 0xfe, b'{', 0xc3]);
    inputs.push(b"/liq \xff\xfe 4h".to_vec());
    inputs.push(b"{\"e\":\"forceOrder\",\"o\":{\"s\":\"\xff\"}}".to_vec());

    for number in [
        "1e400", "1e308", "1e-320", "4.9e-324", "NaN", "inf", "-0", "0", "-1",
    ] {
        let quoted = |n: &str| {
            [
                format!(
                    r#"{{"e":"forceOrder","E":1,"o":{{"s":"BTCUSDT","S":"SELL","q":"{n}","p":"{n}","ap":"{n}","z":"{n}","T":1}}}}"#
                ),
                format!(
                    r#"{{"topic":"allLiquidation.BTCUSDT","data":[{{"T":1,"s":"BTCUSDT","S":"Buy","v":"{n}","p":"{n}"}}]}}"#
                ),
                format!(
                    r#"{{"data":[{{"instId":"BTC-USD-SWAP","details":[{{"bkPx":"{n}","sz":"{n}","side":"sell","posSide":"net","ts":"1"}}]}}]}}"#
                ),
                format!(r#"[[1,"{n}","{n}","{n}","{n}","0",2]]"#),
                format!(r#"{{"retCode":0,"result":{{"list":[["1","{n}","{n}","{n}","{n}"]]}}}}"#),
                format!(r#"{{"code":"0","data":[["1","{n}","{n}","{n}","{n}","0","0","0","1"]]}}"#),
                format!(
                    r#"{{"code":"0","data":[{{"ctType":"inverse","ctVal":"{n}","ctMult":"{n}","instId":"A-B-SWAP"}}]}}"#
                ),
                format!(r#"{{"openInterest":"{n}","symbol":"BTCUSDT","time":1}}"#),
                format!("[alerts]\nlarge_usd = {n}\n"),
                format!("[market.levels]\nmmr = {n}\n"),
            ]
        };
        inputs.extend(quoted(number).map(String::into_bytes));
    }
    for integer in [
        "9223372036854775807",
        "9223372036854775808",
        "-9223372036854775808",
        "18446744073709551616",
    ] {
        inputs.extend(
            [
                format!(r#"[[{integer},"1","1","1","1"]]"#),
                format!(r#"{{"code":"0","data":[["{integer}","1","1","1","1"]]}}"#),
                format!(
                    r#"{{"data":[{{"value":"1","value_classification":"Fear","timestamp":"{integer}"}}]}}"#
                ),
                format!("[store]\nbatch_size = {integer}\n"),
                format!("/liq {integer}h"),
            ]
            .map(String::into_bytes),
        );
    }

    let depth = 50_000;
    inputs.push(format!("{}{}", "[".repeat(depth), "]".repeat(depth)).into_bytes());
    inputs.push(r#"{"a":"#.repeat(depth).into_bytes());
    inputs.push(format!(r#"{{"data":{}"#, "[".repeat(depth)).into_bytes());
    inputs.push(format!("x = {}", "[".repeat(depth)).into_bytes());
    inputs.push(format!("x = {}", "{a = ".repeat(depth)).into_bytes());
    inputs.push(format!("[{}]", "a.".repeat(depth)).into_bytes());
    inputs.push(format!("/subscribe liq {}", "* ".repeat(depth)).into_bytes());
    inputs.push(format!("/liq {}", "x".repeat(depth)).into_bytes());
    inputs
}

#[test]
fn nasty_inputs_pass_every_check() {
    let inputs = nasty_inputs();
    let mut failures = Vec::new();
    for target in TARGETS {
        let check = check_for(target).expect("a known target");
        for input in &inputs {
            if std::panic::catch_unwind(|| check(input)).is_err() {
                let shown: String = String::from_utf8_lossy(input).chars().take(100).collect();
                failures.push(format!("{target}: {shown:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
