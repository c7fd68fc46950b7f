//! The venue parsers against recorded-format frames in `tests/fixtures/` (each folder's README
//! says where the format comes from), the encoders against the parsers, and the instrument
//! fetchers against a local REST server.

use std::collections::HashMap;

use liqbot::model::{Exchange, Liquidation, Side};
use liqbot::sources::binance::{self, BinanceParser};
use liqbot::sources::bybit::{self, BybitContract, BybitInstrument, BybitParser, InstrumentsPage};
use liqbot::sources::okx::{self, OkxInstrument, OkxParser};
use liqbot::sources::rest::FetchError;
use liqbot::sources::{FrameError, Parsed};
use pretty_assertions::assert_eq;

fn fixture(path: &str) -> String {
    let full = format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|error| panic!("{full}: {error}"))
}

fn events(parsed: Parsed) -> Vec<Liquidation> {
    assert_eq!(parsed.rejected, 0, "no entry should be rejected");
    parsed.events
}

/// Rounds the floats to 12 significant digits, so values that went through a decimal string
/// compare equal to the originals.
fn rounded(events: &[Liquidation]) -> Vec<Liquidation> {
    let round = |x: f64| -> f64 { format!("{x:.11e}").parse().unwrap() };
    events
        .iter()
        .map(|event| Liquidation {
            price: round(event.price),
            quantity: round(event.quantity),
            usd: round(event.usd),
            ..event.clone()
        })
        .collect()
}

fn assert_malformed<T: std::fmt::Debug>(result: Result<T, FrameError>, what: &str) {
    assert!(
        matches!(result, Err(FrameError::Json(_) | FrameError::Invalid(_))),
        "{what}: {result:?}"
    );
}

fn assert_not_json_of_the_shape<T: std::fmt::Debug>(result: Result<T, FrameError>, what: &str) {
    assert!(
        matches!(result, Err(FrameError::Json(_))),
        "{what}: {result:?}"
    );
}

fn assert_invalid_value<T: std::fmt::Debug>(result: Result<T, FrameError>, what: &str) {
    assert!(
        matches!(result, Err(FrameError::Invalid(_))),
        "{what}: {result:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Binance

#[test]
fn binance_sell_order_means_long_liquidated() {
    let parsed = BinanceParser
        .parse(&fixture("binance/long_liquidated.json"))
        .unwrap();
    assert_eq!(
        events(parsed),
        vec![Liquidation {
            exchange: Exchange::Binance,
            symbol: "BTCUSDT".into(),
            base: "BTC".into(),
            quote: "USDT".into(),
            side: Side::Long,
            price: 39021.0,
            quantity: 0.288,
            usd: 39021.0 * 0.288,
            ts_ms: 1_650_898_329_196,
        }]
    );
}

#[test]
fn binance_buy_order_means_short_liquidated_sized_by_average_price_and_filled_quantity() {
    let parsed = BinanceParser
        .parse(&fixture("binance/short_liquidated.json"))
        .unwrap();
    assert_eq!(
        events(parsed),
        vec![Liquidation {
            exchange: Exchange::Binance,
            symbol: "ETHUSDT".into(),
            base: "ETH".into(),
            quote: "USDT".into(),
            side: Side::Short,
            price: 2500.5,
            quantity: 1.5,
            usd: 3750.75,
            ts_ms: 1_700_000_000_100,
        }]
    );
}

#[test]
fn binance_array_frame_yields_every_event() {
    let parsed = BinanceParser
        .parse(&fixture("binance/array_frame.json"))
        .unwrap();
    assert_eq!(
        events(parsed),
        vec![
            Liquidation {
                exchange: Exchange::Binance,
                symbol: "SOLUSDT".into(),
                base: "SOL".into(),
                quote: "USDT".into(),
                side: Side::Long,
                price: 100.25,
                quantity: 10.0,
                usd: 1002.5,
                ts_ms: 1_700_000_000_100,
            },
            Liquidation {
                exchange: Exchange::Binance,
                symbol: "1000PEPEUSDT".into(),
                base: "1000PEPE".into(),
                quote: "USDT".into(),
                side: Side::Short,
                price: 0.0125,
                quantity: 4000.0,
                usd: 0.0125 * 4000.0,
                ts_ms: 1_700_000_000_200,
            },
        ]
    );
}

#[test]
fn binance_object_frame_and_combined_stream_wrapper_are_read_alike() {
    let object = BinanceParser
        .parse(&fixture("binance/short_liquidated.json"))
        .unwrap();
    assert_eq!(object.events.len(), 1);
    let wrapped = BinanceParser
        .parse(&fixture("binance/combined_stream.json"))
        .unwrap();
    assert_eq!(
        events(wrapped),
        vec![Liquidation {
            exchange: Exchange::Binance,
            symbol: "BTCUSDC".into(),
            base: "BTC".into(),
            quote: "USDC".into(),
            side: Side::Short,
            price: 64000.5,
            quantity: 0.5,
            usd: 32000.25,
            ts_ms: 1_700_000_000_100,
        }]
    );
}

#[test]
fn binance_unknown_fields_are_accepted() {
    let extra = BinanceParser
        .parse(&fixture("binance/extra_fields.json"))
        .unwrap();
    let plain = BinanceParser
        .parse(&fixture("binance/short_liquidated.json"))
        .unwrap();
    assert_eq!(extra, plain);
}

#[test]
fn binance_other_events_and_subscription_replies_are_control_frames() {
    for name in ["other_event.json", "subscribe_reply.json"] {
        let parsed = BinanceParser
            .parse(&fixture(&format!("binance/{name}")))
            .unwrap();
        assert_eq!(parsed, Parsed::control(), "{name}");
    }
}

#[test]
fn binance_error_reply_is_a_venue_error() {
    let result = BinanceParser.parse(&fixture("binance/error_reply.json"));
    assert!(
        matches!(&result, Err(FrameError::Venue(msg)) if msg.starts_with("2: Invalid request")),
        "{result:?}"
    );
}

#[test]
fn binance_malformed_frames_are_errors() {
    for name in ["not_json.txt", "truncated.json", "wrong_shape.json"] {
        assert_not_json_of_the_shape(
            BinanceParser.parse(&fixture(&format!("binance/{name}"))),
            name,
        );
    }
    assert_invalid_value(
        BinanceParser.parse(&fixture("binance/bad_price.json")),
        "non-numeric price",
    );
    assert_malformed(BinanceParser.parse(r#"{"foo":1}"#), "unrelated object");
    assert_malformed(BinanceParser.parse(r#""forceOrder""#), "a string");
}

#[test]
fn binance_one_good_and_one_bad_entry_gives_one_event_and_one_rejected() {
    let parsed = BinanceParser
        .parse(&fixture("binance/good_and_bad.json"))
        .unwrap();
    assert_eq!(parsed.rejected, 1);
    assert_eq!(parsed.events.len(), 1);
    assert_eq!(parsed.events[0].symbol, "ETHUSDT");
}

#[test]
fn binance_encoded_events_parse_back_unchanged() {
    let originals = [
        Liquidation {
            exchange: Exchange::Binance,
            symbol: "BTCUSDT".into(),
            base: "BTC".into(),
            quote: "USDT".into(),
            side: Side::Long,
            price: 64123.4,
            quantity: 0.037,
            usd: 64123.4 * 0.037,
            ts_ms: 1_700_000_000_001,
        },
        Liquidation {
            exchange: Exchange::Binance,
            symbol: "DOGEUSDT".into(),
            base: "DOGE".into(),
            quote: "USDT".into(),
            side: Side::Short,
            price: 0.16543,
            quantity: 12_345.0,
            usd: 0.16543 * 12_345.0,
            ts_ms: 1_700_000_000_002,
        },
    ];
    for original in &originals {
        let parsed = BinanceParser.parse(&binance::encode(original)).unwrap();
        assert_eq!(
            rounded(&events(parsed)),
            rounded(std::slice::from_ref(original))
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Bybit

#[test]
fn bybit_buy_side_means_long_liquidated() {
    let parsed = BybitParser::new(BybitContract::Linear)
        .parse(&fixture("bybit/long_liquidated.json"))
        .unwrap();
    assert_eq!(
        events(parsed),
        vec![Liquidation {
            exchange: Exchange::Bybit,
            symbol: "ETHUSDT".into(),
            base: "ETH".into(),
            quote: "USDT".into(),
            side: Side::Long,
            price: 2500.5,
            quantity: 1.5,
            usd: 3750.75,
            ts_ms: 1_739_502_302_929,
        }]
    );
}

#[test]
fn bybit_sell_side_means_short_liquidated() {
    let parsed = BybitParser::new(BybitContract::Linear)
        .parse(&fixture("bybit/short_liquidated.json"))
        .unwrap();
    assert_eq!(
        events(parsed),
        vec![Liquidation {
            exchange: Exchange::Bybit,
            symbol: "ROSEUSDT".into(),
            base: "ROSE".into(),
            quote: "USDT".into(),
            side: Side::Short,
            price: 0.04499,
            quantity: 20_000.0,
            usd: 20_000.0 * 0.04499,
            ts_ms: 1_739_502_302_929,
        }]
    );
}

#[test]
fn bybit_linear_size_is_base_quantity_and_usd_is_size_times_price() {
    let parsed = BybitParser::new(BybitContract::Linear)
        .parse(&fixture("bybit/linear_sizing.json"))
        .unwrap();
    assert_eq!(
        events(parsed),
        vec![
            Liquidation {
                exchange: Exchange::Bybit,
                symbol: "BTCUSDT".into(),
                base: "BTC".into(),
                quote: "USDT".into(),
                side: Side::Long,
                price: 64000.5,
                quantity: 0.125,
                usd: 8000.0625,
                ts_ms: 1_739_502_302_929,
            },
            Liquidation {
                exchange: Exchange::Bybit,
                symbol: "BTCUSDT".into(),
                base: "BTC".into(),
                quote: "USDT".into(),
                side: Side::Short,
                price: 64100.25,
                quantity: 2.0,
                usd: 128_200.5,
                ts_ms: 1_739_502_303_001,
            },
        ]
    );
}

#[test]
fn bybit_inverse_size_is_usd_and_quantity_is_usd_over_price() {
    let parsed = BybitParser::new(BybitContract::Inverse)
        .parse(&fixture("bybit/inverse_sizing.json"))
        .unwrap();
    assert_eq!(
        events(parsed),
        vec![Liquidation {
            exchange: Exchange::Bybit,
            symbol: "BTCUSD".into(),
            base: "BTC".into(),
            quote: "USD".into(),
            side: Side::Long,
            price: 64000.0,
            quantity: 0.2,
            usd: 12_800.0,
            ts_ms: 1_739_502_302_929,
        }]
    );
}

#[test]
fn bybit_instrument_list_decides_base_and_quote_over_the_symbol_name() {
    let parser = BybitParser::with_instruments(
        BybitContract::Linear,
        [BybitInstrument {
            symbol: "ETHUSDT".into(),
            base: "WETH".into(),
            quote: "USDT".into(),
        }],
    );
    let parsed = parser
        .parse(&fixture("bybit/long_liquidated.json"))
        .unwrap();
    assert_eq!(parsed.events[0].base, "WETH");
    let parsed = parser
        .parse(&fixture("bybit/short_liquidated.json"))
        .unwrap();
    assert_eq!(
        parsed.events[0].base, "ROSE",
        "not in the list: split by name"
    );
}

#[test]
fn bybit_unknown_fields_are_accepted() {
    let parser = BybitParser::new(BybitContract::Linear);
    assert_eq!(
        parser.parse(&fixture("bybit/extra_fields.json")).unwrap(),
        parser
            .parse(&fixture("bybit/long_liquidated.json"))
            .unwrap()
    );
}

#[test]
fn bybit_pongs_and_subscription_acks_are_control_frames() {
    let parser = BybitParser::new(BybitContract::Linear);
    for name in ["pong.json", "op_pong.json", "subscribe_ack.json"] {
        let parsed = parser.parse(&fixture(&format!("bybit/{name}"))).unwrap();
        assert_eq!(parsed, Parsed::control(), "{name}");
    }
}

#[test]
fn bybit_refused_subscription_is_a_venue_error() {
    let result =
        BybitParser::new(BybitContract::Linear).parse(&fixture("bybit/subscribe_failed.json"));
    assert!(
        matches!(&result, Err(FrameError::Venue(msg)) if msg.contains("handler not found")),
        "{result:?}"
    );
}

#[test]
fn bybit_malformed_frames_are_errors() {
    let parser = BybitParser::new(BybitContract::Linear);
    for name in ["not_json.txt", "truncated.json", "wrong_shape.json"] {
        assert_not_json_of_the_shape(parser.parse(&fixture(&format!("bybit/{name}"))), name);
    }
    assert_invalid_value(
        parser.parse(&fixture("bybit/bad_price.json")),
        "non-numeric price",
    );
    assert_malformed(parser.parse(r#"{"foo":1}"#), "unrelated object");
    assert_malformed(
        parser.parse(r#"{"topic":"allLiquidation.BTCUSDT","type":"snapshot"}"#),
        "topic without data",
    );
}

#[test]
fn bybit_one_good_and_one_bad_entry_gives_one_event_and_one_rejected() {
    let parsed = BybitParser::new(BybitContract::Linear)
        .parse(&fixture("bybit/good_and_bad.json"))
        .unwrap();
    assert_eq!(parsed.rejected, 1);
    assert_eq!(parsed.events.len(), 1);
    assert_eq!(parsed.events[0].side, Side::Long);
}

#[test]
fn bybit_encoded_events_parse_back_unchanged_for_linear_and_inverse() {
    let linear = [
        Liquidation {
            exchange: Exchange::Bybit,
            symbol: "SOLUSDT".into(),
            base: "SOL".into(),
            quote: "USDT".into(),
            side: Side::Long,
            price: 143.27,
            quantity: 12.3,
            usd: 143.27 * 12.3,
            ts_ms: 1_700_000_000_001,
        },
        Liquidation {
            exchange: Exchange::Bybit,
            symbol: "SOLUSDT".into(),
            base: "SOL".into(),
            quote: "USDT".into(),
            side: Side::Short,
            price: 143.31,
            quantity: 0.7,
            usd: 143.31 * 0.7,
            ts_ms: 1_700_000_000_002,
        },
    ];
    let frame = bybit::encode(BybitContract::Linear, "SOLUSDT", &linear);
    let parsed = BybitParser::new(BybitContract::Linear)
        .parse(&frame)
        .unwrap();
    assert_eq!(rounded(&events(parsed)), rounded(&linear));

    let inverse = [Liquidation {
        exchange: Exchange::Bybit,
        symbol: "ETHUSD".into(),
        base: "ETH".into(),
        quote: "USD".into(),
        side: Side::Short,
        price: 2512.35,
        quantity: 5000.0 / 2512.35,
        usd: 5000.0,
        ts_ms: 1_700_000_000_003,
    }];
    let frame = bybit::encode(BybitContract::Inverse, "ETHUSD", &inverse);
    let parsed = BybitParser::new(BybitContract::Inverse)
        .parse(&frame)
        .unwrap();
    assert_eq!(rounded(&events(parsed)), rounded(&inverse));
}

#[test]
fn bybit_instrument_list_keeps_trading_perpetuals_and_the_cursor() {
    let page = bybit::parse_instruments(&fixture("bybit/instruments_linear.json")).unwrap();
    assert_eq!(
        page,
        InstrumentsPage {
            symbols: vec![
                BybitInstrument {
                    symbol: "BTCUSDT".into(),
                    base: "BTC".into(),
                    quote: "USDT".into(),
                },
                BybitInstrument {
                    symbol: "BTCPERP".into(),
                    base: "BTC".into(),
                    quote: "USDC".into(),
                },
            ],
            next_cursor: Some("first%3D10000000AIDOGEUSDT%26last%3DBTCUSDT".into()),
        }
    );
    let page = bybit::parse_instruments(&fixture("bybit/instruments_inverse.json")).unwrap();
    assert_eq!(
        page,
        InstrumentsPage {
            symbols: vec![BybitInstrument {
                symbol: "BTCUSD".into(),
                base: "BTC".into(),
                quote: "USD".into(),
            }],
            next_cursor: None,
        }
    );
}

#[test]
fn bybit_instrument_list_error_code_is_a_venue_error() {
    let result = bybit::parse_instruments(&fixture("bybit/instruments_error.json"));
    assert!(
        matches!(&result, Err(FrameError::Venue(msg)) if msg.contains("10001")),
        "{result:?}"
    );
    assert_malformed(bybit::parse_instruments("<html>"), "not JSON");
}

#[test]
fn bybit_encoded_instrument_list_parses_back_unchanged() {
    let list = vec![
        BybitInstrument {
            symbol: "BTCUSD".into(),
            base: "BTC".into(),
            quote: "USD".into(),
        },
        BybitInstrument {
            symbol: "ETHUSD".into(),
            base: "ETH".into(),
            quote: "USD".into(),
        },
    ];
    let body = bybit::encode_instruments(&list, BybitContract::Inverse, Some("next"));
    assert_eq!(
        bybit::parse_instruments(&body).unwrap(),
        InstrumentsPage {
            symbols: list,
            next_cursor: Some("next".into()),
        }
    );
}

// ---------------------------------------------------------------------------------------------
// OKX

fn okx_parser() -> OkxParser {
    OkxParser::from_list(okx::parse_instruments(&fixture("okx/instruments.json")).unwrap())
}

fn okx_btc_usdt(side: Side) -> Liquidation {
    Liquidation {
        exchange: Exchange::Okx,
        symbol: "BTC-USDT-SWAP".into(),
        base: "BTC".into(),
        quote: "USDT".into(),
        side,
        price: 60000.5,
        quantity: 0.25,
        usd: 15_000.125,
        ts_ms: 1_692_266_434_010,
    }
}

#[test]
fn okx_net_mode_sell_means_long_liquidated() {
    let parsed = okx_parser().parse(&fixture("okx/net_sell.json")).unwrap();
    assert_eq!(events(parsed), vec![okx_btc_usdt(Side::Long)]);
}

#[test]
fn okx_net_mode_buy_means_short_liquidated() {
    let parsed = okx_parser().parse(&fixture("okx/net_buy.json")).unwrap();
    assert_eq!(events(parsed), vec![okx_btc_usdt(Side::Short)]);
}

#[test]
fn okx_hedge_mode_pos_side_long_means_long_liquidated() {
    let parsed = okx_parser().parse(&fixture("okx/hedge_long.json")).unwrap();
    assert_eq!(events(parsed), vec![okx_btc_usdt(Side::Long)]);
}

#[test]
fn okx_hedge_mode_pos_side_short_means_short_liquidated() {
    let parsed = okx_parser()
        .parse(&fixture("okx/hedge_short.json"))
        .unwrap();
    assert_eq!(
        events(parsed),
        vec![Liquidation {
            exchange: Exchange::Okx,
            symbol: "IOST-USDT-SWAP".into(),
            base: "IOST".into(),
            quote: "USDT".into(),
            side: Side::Short,
            price: 0.007831,
            quantity: 13_000.0,
            usd: 101.803,
            ts_ms: 1_692_266_434_010,
        }]
    );
}

#[test]
fn okx_linear_size_is_contracts_times_contract_value_in_base() {
    // 25 contracts of 0.01 BTC at 60000.5.
    let parsed = okx_parser().parse(&fixture("okx/hedge_long.json")).unwrap();
    let event = &parsed.events[0];
    assert_eq!((event.quantity, event.usd), (0.25, 15_000.125));
}

#[test]
fn okx_inverse_size_is_contracts_times_contract_value_in_usd() {
    // 3 contracts of 100 USD at 64000.
    let parsed = okx_parser()
        .parse(&fixture("okx/inverse_sizing.json"))
        .unwrap();
    assert_eq!(
        events(parsed),
        vec![Liquidation {
            exchange: Exchange::Okx,
            symbol: "BTC-USD-SWAP".into(),
            base: "BTC".into(),
            quote: "USD".into(),
            side: Side::Long,
            price: 64000.0,
            quantity: 0.0046875,
            usd: 300.0,
            ts_ms: 1_692_266_434_010,
        }]
    );
}

#[test]
fn okx_unknown_fields_are_accepted() {
    let parser = okx_parser();
    assert_eq!(
        parser.parse(&fixture("okx/extra_fields.json")).unwrap(),
        parser.parse(&fixture("okx/hedge_long.json")).unwrap()
    );
}

#[test]
fn okx_pong_and_subscription_ack_are_control_frames() {
    let parser = okx_parser();
    for name in ["pong.txt", "subscribe_ack.json"] {
        let parsed = parser.parse(&fixture(&format!("okx/{name}"))).unwrap();
        assert_eq!(parsed, Parsed::control(), "{name}");
    }
}

#[test]
fn okx_error_event_is_a_venue_error() {
    let result = okx_parser().parse(&fixture("okx/error_event.json"));
    assert!(
        matches!(&result, Err(FrameError::Venue(msg)) if msg.starts_with("60012: Invalid request")),
        "{result:?}"
    );
}

#[test]
fn okx_malformed_frames_are_errors() {
    let parser = okx_parser();
    for name in ["not_json.txt", "truncated.json", "wrong_shape.json"] {
        assert_not_json_of_the_shape(parser.parse(&fixture(&format!("okx/{name}"))), name);
    }
    assert_invalid_value(
        parser.parse(&fixture("okx/bad_price.json")),
        "non-numeric price",
    );
    assert_malformed(parser.parse(r#"{"foo":1}"#), "unrelated object");
    assert_malformed(parser.parse("ping"), "a ping is not a server frame");
}

#[test]
fn okx_one_good_and_one_bad_entry_gives_one_event_and_one_rejected() {
    let parsed = okx_parser()
        .parse(&fixture("okx/good_and_bad.json"))
        .unwrap();
    assert_eq!(
        parsed,
        Parsed {
            events: vec![okx_btc_usdt(Side::Long)],
            rejected: 1,
        }
    );
}

#[test]
fn okx_detail_on_an_unknown_instrument_is_rejected_not_an_error() {
    let parser = okx_parser();
    let parsed = parser
        .parse(&fixture("okx/unknown_instrument.json"))
        .unwrap();
    assert_eq!(
        parsed,
        Parsed {
            events: vec![okx_btc_usdt(Side::Long)],
            rejected: 1,
        }
    );
    let parsed = OkxParser::default()
        .parse(&fixture("okx/hedge_long.json"))
        .unwrap();
    assert_eq!(
        parsed,
        Parsed {
            events: vec![],
            rejected: 1,
        }
    );
}

#[test]
fn okx_instrument_list_gives_contract_values_and_skips_unusable_rows() {
    let list = okx::parse_instruments(&fixture("okx/instruments.json")).unwrap();
    assert_eq!(
        list,
        vec![
            OkxInstrument {
                inst_id: "BTC-USDT-SWAP".into(),
                base: "BTC".into(),
                quote: "USDT".into(),
                ct_val: 0.01,
                inverse: false,
            },
            OkxInstrument {
                inst_id: "BTC-USD-SWAP".into(),
                base: "BTC".into(),
                quote: "USD".into(),
                ct_val: 100.0,
                inverse: true,
            },
            OkxInstrument {
                inst_id: "IOST-USDT-SWAP".into(),
                base: "IOST".into(),
                quote: "USDT".into(),
                ct_val: 1000.0,
                inverse: false,
            },
            OkxInstrument {
                inst_id: "ETH-USDC-SWAP".into(),
                base: "ETH".into(),
                quote: "USDC".into(),
                ct_val: 0.1,
                inverse: false,
            },
        ]
    );
}

#[test]
fn okx_instrument_list_error_code_is_a_venue_error() {
    let result = okx::parse_instruments(&fixture("okx/instruments_error.json"));
    assert!(
        matches!(&result, Err(FrameError::Venue(msg)) if msg.contains("51000")),
        "{result:?}"
    );
    assert_malformed(okx::parse_instruments(r#"{"data":[]}"#), "no code");
}

#[test]
fn okx_encoded_events_parse_back_unchanged() {
    let parser = okx_parser();
    let originals = vec![
        okx_btc_usdt(Side::Short),
        Liquidation {
            exchange: Exchange::Okx,
            symbol: "BTC-USD-SWAP".into(),
            base: "BTC".into(),
            quote: "USD".into(),
            side: Side::Long,
            price: 63_999.9,
            quantity: 1_200.0 / 63_999.9,
            usd: 1_200.0,
            ts_ms: 1_692_266_434_020,
        },
        Liquidation {
            exchange: Exchange::Okx,
            symbol: "BTC-USDT-SWAP".into(),
            base: "BTC".into(),
            quote: "USDT".into(),
            side: Side::Long,
            price: 60_010.0,
            quantity: 1.37,
            usd: 60_010.0 * 1.37,
            ts_ms: 1_692_266_434_030,
        },
    ];
    let frame = okx::encode(&originals, parser.instruments());
    let parsed = parser.parse(&frame).unwrap();
    // Events come back grouped by instrument, in order of first appearance.
    let expected = vec![
        originals[0].clone(),
        originals[2].clone(),
        originals[1].clone(),
    ];
    assert_eq!(rounded(&events(parsed)), rounded(&expected));
}

#[test]
fn okx_encoded_instrument_list_parses_back_unchanged() {
    let list = okx::parse_instruments(&fixture("okx/instruments.json")).unwrap();
    assert_eq!(
        okx::parse_instruments(&okx::encode_instruments(&list)).unwrap(),
        list
    );
}

#[test]
fn okx_subscription_and_keepalive_are_the_documented_texts() {
    assert_eq!(
        okx::subscribe_message(),
        r#"{"args":[{"channel":"liquidation-orders","instType":"SWAP"}],"op":"subscribe"}"#
    );
    assert_eq!(okx::PING, "ping");
    assert_eq!(bybit::PING, r#"{"op":"ping"}"#);
}

// ---------------------------------------------------------------------------------------------
// Instrument fetchers against a local REST server

async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

type Query = axum::extract::Query<HashMap<String, String>>;

#[tokio::test]
async fn bybit_fetch_follows_the_cursor_to_the_last_page() {
    let instrument = |symbol: &str, base: &str| BybitInstrument {
        symbol: symbol.into(),
        base: base.into(),
        quote: "USDT".into(),
    };
    let first = vec![instrument("BTCUSDT", "BTC"), instrument("ETHUSDT", "ETH")];
    let second = vec![instrument("SOLUSDT", "SOL")];
    let (page1, page2) = (first.clone(), second.clone());
    let router = axum::Router::new().route(
        "/v5/market/instruments-info",
        axum::routing::get(move |axum::extract::Query(query): Query| async move {
            assert_eq!(query.get("category").map(String::as_str), Some("linear"));
            assert_eq!(query.get("limit").map(String::as_str), Some("1000"));
            match query.get("cursor").map(String::as_str) {
                None => bybit::encode_instruments(&page1, BybitContract::Linear, Some("page%3D2")),
                Some("page=2") => bybit::encode_instruments(&page2, BybitContract::Linear, None),
                Some(other) => panic!("unexpected cursor {other}"),
            }
        }),
    );
    let base = serve(router).await;
    let list = bybit::fetch_instruments(&reqwest::Client::new(), &base, BybitContract::Linear)
        .await
        .unwrap();
    assert_eq!(list, [first, second].concat());
}

#[tokio::test]
async fn okx_fetch_reads_the_swap_list() {
    let list = okx::parse_instruments(&fixture("okx/instruments.json")).unwrap();
    let body = okx::encode_instruments(&list);
    let router = axum::Router::new().route(
        "/api/v5/public/instruments",
        axum::routing::get(move |axum::extract::Query(query): Query| async move {
            assert_eq!(query.get("instType").map(String::as_str), Some("SWAP"));
            body
        }),
    );
    let base = serve(router).await;
    let fetched = okx::fetch_instruments(&reqwest::Client::new(), &format!("{base}/"))
        .await
        .unwrap();
    assert_eq!(fetched, list);
}

#[tokio::test]
async fn fetch_reports_a_failed_status_and_a_venue_error_body() {
    let router = axum::Router::new()
        .route(
            "/api/v5/public/instruments",
            axum::routing::get(|| async { (axum::http::StatusCode::SERVICE_UNAVAILABLE, "busy") }),
        )
        .route(
            "/v5/market/instruments-info",
            axum::routing::get(|| async {
                r#"{"retCode":10001,"retMsg":"params error","result":{}}"#
            }),
        );
    let base = serve(router).await;
    let client = reqwest::Client::new();
    let result = okx::fetch_instruments(&client, &base).await;
    assert!(
        matches!(&result, Err(FetchError::Status { status, .. }) if status.as_u16() == 503),
        "{result:?}"
    );
    let result = bybit::fetch_instruments(&client, &base, BybitContract::Inverse).await;
    assert!(
        matches!(&result, Err(FetchError::Body(FrameError::Venue(_)))),
        "{result:?}"
    );
}
