//! A strict reader for the small, flat JSON objects venues send, for parsers' fast paths.
//!
//! It reads only what a liquidation frame holds in the common case: objects, strings without
//! escapes, and integers. On anything else (an escape, a fraction, `true`, an array, bytes that
//! are not JSON) it gives up with `None`, and the parser reads the frame with serde_json
//! instead, which accepts or rejects it exactly as it would have without the fast path. So the
//! fast path may only ever answer for input serde_json reads the same way: every string it
//! returns is the JSON string's value, every integer the number's value.

/// A cursor over one frame.
pub(crate) struct Scanner<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Scanner<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Self { text, pos: 0 }
    }

    fn skip_whitespace(&mut self) {
        let bytes = self.text.as_bytes();
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_whitespace();
        self.text.as_bytes().get(self.pos).copied()
    }

    /// Consumes `byte`, after any whitespace.
    pub(crate) fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.pos += 1)
    }

    /// A string without escapes or control characters; its value is the text between the
    /// quotes.
    pub(crate) fn string(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let start = self.pos;
        let bytes = self.text.as_bytes();
        loop {
            match *bytes.get(self.pos)? {
                b'"' => break,
                b'\\' | 0..=0x1f => return None,
                _ => self.pos += 1,
            }
        }
        // Both ends sit next to an ASCII quote, so they are character boundaries.
        let value = self.text.get(start..self.pos)?;
        self.pos += 1;
        Some(value)
    }

    /// An integer as JSON writes one (`-?(0|[1-9][0-9]*)`), of at most 18 digits so it fits
    /// an `i64`, not `-0`, and not the start of a fraction or an exponent.
    pub(crate) fn integer(&mut self) -> Option<i64> {
        self.skip_whitespace();
        let bytes = self.text.as_bytes();
        let negative = bytes.get(self.pos) == Some(&b'-');
        if negative {
            self.pos += 1;
        }
        let start = self.pos;
        let mut value: i64 = 0;
        while let Some(&digit @ b'0'..=b'9') = bytes.get(self.pos) {
            // Wraps only past 18 digits, which are refused below.
            value = value.wrapping_mul(10).wrapping_add(i64::from(digit - b'0'));
            self.pos += 1;
        }
        let digits = self.pos - start;
        // serde_json reads `-0` as the float -0.0, not as an integer.
        if digits == 0
            || digits > 18
            || (digits > 1 && bytes[start] == b'0')
            || (negative && value == 0)
        {
            return None;
        }
        if let Some(b'.' | b'e' | b'E') = bytes.get(self.pos) {
            return None;
        }
        Some(if negative { -value } else { value })
    }

    /// The next key of the object being read, leaving the cursor before its value:
    /// `Some(Some(key))`, or `Some(None)` at the object's closing brace (consumed). `first` is
    /// whether no key of this object has been read yet.
    pub(crate) fn next_key(&mut self, first: bool) -> Option<Option<&'a str>> {
        match self.peek()? {
            b'}' => {
                self.pos += 1;
                return Some(None);
            }
            b',' if !first => self.pos += 1,
            b'"' if first => {}
            _ => return None,
        }
        let key = self.string()?;
        self.eat(b':')?;
        Some(Some(key))
    }

    /// Whether the array being read has another element, leaving the cursor before it;
    /// consumes the closing bracket at the end. `first` is whether no element has been read.
    pub(crate) fn next_element(&mut self, first: bool) -> Option<bool> {
        match self.peek()? {
            b']' => {
                self.pos += 1;
                Some(false)
            }
            b',' if !first => {
                self.pos += 1;
                Some(true)
            }
            _ if first => Some(true),
            _ => None,
        }
    }

    /// Skips a value that is a string or an integer.
    pub(crate) fn skip_scalar(&mut self) -> Option<()> {
        if self.peek()? == b'"' {
            self.string().map(drop)
        } else {
            self.integer().map(drop)
        }
    }

    /// Nothing but whitespace is left.
    pub(crate) fn end(&mut self) -> Option<()> {
        self.skip_whitespace();
        (self.pos == self.text.len()).then_some(())
    }
}

/// Frame generators for property tests of fast paths against serde_json.
#[cfg(test)]
pub(crate) mod arb {
    use proptest::prelude::*;

    /// Any JSON value, or something that is not one, in a field the parser does not read.
    pub(crate) fn other_value() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-zA-Z0-9.]{0,6}".prop_map(|s| format!("\"{s}\"")),
            any::<i64>().prop_map(|n| n.to_string()),
            "-?(0|[1-9][0-9]{0,19})(\\.[0-9]{1,2})?([eE][+-]?[0-9])?",
            prop::sample::select(vec![
                r#""a\"b""#,
                r#""\u0041""#,
                "\"\t\"",
                "true",
                "null",
                "[]",
                "{}",
                "[1,\"x\"]",
                "{\"a\":1}",
                "01",
                "-",
                "\"\u{e9}\u{20ac}\"",
            ])
            .prop_map(str::to_owned),
        ]
    }

    /// A value of a field the parser reads: usually the right kind, sometimes not.
    pub(crate) fn field(good: impl Strategy<Value = String> + 'static) -> BoxedStrategy<String> {
        prop_oneof![30 => good, 1 => other_value()].boxed()
    }

    pub(crate) fn decimal() -> impl Strategy<Value = String> {
        prop_oneof![
            6 => "[1-9][0-9]{0,5}(\\.[0-9]{1,4})?",
        1 => "0\\.[0-9]{1,4}",
            1 => prop::sample::select(vec!["0", "-1", "abc", "1e400", "NaN", "", " 1", "1e-300"])
                .prop_map(str::to_owned),
        ]
        .prop_map(|d| format!("\"{d}\""))
    }

    /// An object of `fields` with extra fields (some named `special_keys`), some fields repeated or dropped, in any
    /// order, with `ws` between tokens.
    pub(crate) fn object(
        fields: Vec<(&'static str, BoxedStrategy<String>)>,
        special_keys: &'static [&'static str],
        ws: &'static str,
    ) -> impl Strategy<Value = String> {
        let keys: Vec<&'static str> = fields.iter().map(|(k, _)| *k).collect();
        let values: Vec<BoxedStrategy<String>> = fields.into_iter().map(|(_, v)| v).collect();
        (
            values,
            prop::collection::vec((
                    prop_oneof![
                        14 => "[a-zA-Z]{1,3}",
                        1 => prop::sample::select(special_keys)
                            .prop_map(str::to_owned),
                    ],
                    prop_oneof![3 => "[a-z]{0,3}".prop_map(|s| format!("\"{s}\"")), 1 => other_value()]), 0..2),
            prop::collection::vec(prop::bool::weighted(0.97), keys.len()),
            prop::option::weighted(0.04, 0..keys.len()),
        )
            .prop_flat_map(move |(values, extra, keep, repeat)| {
                let mut entries: Vec<(String, String)> = keys
                    .iter()
                    .zip(values)
                    .zip(&keep)
                    // Mostly kept: a dropped field is a frame serde rejects.
                    .filter(|(_, keep)| **keep)
                    .map(|((k, v), _)| ((*k).to_owned(), v))
                    .collect();
                if let Some(i) = repeat.filter(|i| *i < entries.len()) {
                    entries.push(entries[i].clone());
                }
                entries.extend(extra);
                Just(entries).prop_shuffle()
            })
            .prop_map(move |entries| {
                let body: Vec<String> = entries
                    .iter()
                    .map(|(k, v)| format!("{ws}\"{k}\"{ws}:{ws}{v}{ws}"))
                    .collect();
                format!("{{{}}}", body.join(","))
            })
    }

    /// `text` with `ws` around it, or now and then cut short or with a character added.
    pub(crate) fn edited(
        text: impl Strategy<Value = String>,
        ws: &'static str,
    ) -> impl Strategy<Value = String> {
        (
            text,
            prop::option::weighted(0.15, (any::<prop::sample::Index>(), 0..3_u8, any::<char>())),
        )
            .prop_map(move |(text, edit)| {
                let Some((at, how, c)) = edit else {
                    return format!("{ws}{text}{ws}");
                };
                let cuts: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
                let i = cuts[at.index(cuts.len())];
                match how {
                    0 => text[..i].to_owned(),
                    1 => format!("{}{c}{}", &text[..i], &text[i..]),
                    _ => format!("{text}{c}"),
                }
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_strings_and_integers_as_serde_json_does_and_gives_up_on_the_rest() {
        for (text, want) in [
            (r#""BTCUSDT""#, Some("BTCUSDT")),
            (r#" "" "#, Some("")),
            (r#""Ünïcode €""#, Some("Ünïcode €")),
            (r#""a\"b""#, None),
            (r#""a\u0041""#, None),
            ("\"a\tb\"", None),
            (r#""open"#, None),
        ] {
            let got = Scanner::new(text).string();
            assert_eq!(got, want, "{text}");
            if let Some(got) = got {
                assert_eq!(serde_json::from_str::<String>(text).unwrap(), got);
            }
        }
        for (text, want) in [
            ("0", Some(0)),
            ("-0", None),
            ("1650898329196", Some(1_650_898_329_196)),
            ("-42", Some(-42)),
            ("999999999999999999", Some(999_999_999_999_999_999)),
            ("9999999999999999999", None),
            ("01", None),
            ("-", None),
            ("1.5", None),
            ("1e3", None),
            ("true", None),
        ] {
            let got = Scanner::new(text).integer();
            assert_eq!(got, want, "{text}");
            if let Some(got) = got {
                assert_eq!(serde_json::from_str::<i64>(text).unwrap(), got);
            }
        }
    }

    #[test]
    fn walks_an_object_key_by_key() {
        let mut s = Scanner::new(r#" { "a" : "x" , "b":7 } "#);
        s.eat(b'{').unwrap();
        assert_eq!(s.next_key(true), Some(Some("a")));
        assert_eq!(s.string(), Some("x"));
        assert_eq!(s.next_key(false), Some(Some("b")));
        assert_eq!(s.integer(), Some(7));
        assert_eq!(s.next_key(false), Some(None));
        assert_eq!(s.end(), Some(()));
        // A comma before the first key, or none between two, is not JSON.
        let mut s = Scanner::new(r#"{,"a":1}"#);
        s.eat(b'{').unwrap();
        assert_eq!(s.next_key(true), None);
        let mut s = Scanner::new(r#"{"a":1 "b":2}"#);
        s.eat(b'{').unwrap();
        assert_eq!(s.next_key(true), Some(Some("a")));
        s.skip_scalar().unwrap();
        assert_eq!(s.next_key(false), None);
    }

    #[test]
    fn walks_an_array_element_by_element() {
        let mut s = Scanner::new(r#"[ "a" , 2 ]"#);
        s.eat(b'[').unwrap();
        assert_eq!(s.next_element(true), Some(true));
        assert_eq!(s.string(), Some("a"));
        assert_eq!(s.next_element(false), Some(true));
        assert_eq!(s.integer(), Some(2));
        assert_eq!(s.next_element(false), Some(false));
        assert_eq!(s.end(), Some(()));
        let mut s = Scanner::new("[]");
        s.eat(b'[').unwrap();
        assert_eq!(s.next_element(true), Some(false));
        // No comma between two elements.
        let mut s = Scanner::new("[1 2]");
        s.eat(b'[').unwrap();
        assert_eq!(s.next_element(true), Some(true));
        s.skip_scalar().unwrap();
        assert_eq!(s.next_element(false), None);
    }
}
