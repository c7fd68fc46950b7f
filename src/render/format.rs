//! Number formatting for posts: money (`$1.36B`, `$47.87M`, `$950K`), signed percentages,
//! prices with a precision that suits their size, and counts with thousands separators.
//!
//! Every formatter takes any `f64`: a value that is not a number (NaN, an infinity) prints as
//! [`NOT_A_NUMBER`] rather than leaking `NaN` or `inf` into a public post, and a value that
//! rounds to zero prints without a sign.

/// What a formatter prints for NaN or an infinity.
pub const NOT_A_NUMBER: &str = "n/a";

/// Money in US dollars, short: `$1.36B`, `$47.87M`, `$950K`, `$812`, `-$2.50M`.
#[must_use]
pub fn money(usd: f64) -> String {
    if !usd.is_finite() {
        return NOT_A_NUMBER.to_owned();
    }
    let v = usd.abs();
    // Pick the unit on the printed mantissa itself, so $999,999 shows as $1.00M rather than
    // $1000K, and $995,000 (0.995 is a hair under it as an f64) as $995K rather than $0.99M.
    let large = [(1e12, "T"), (1e9, "B"), (1e6, "M")]
        .into_iter()
        .map(|(scale, unit)| (format!("{:.2}", v / scale), unit))
        .find(|(mantissa, _)| !mantissa.starts_with("0."));
    let text = match large {
        Some((mantissa, unit)) => format!("${mantissa}{unit}"),
        None if v.round() >= 1_000.0 => format!("${:.0}K", v / 1e3),
        None => format!("${v:.0}"),
    };
    with_sign(usd, text)
}

/// `text`, the magnitude of `value`, with a minus when `value` is negative and `text` is not
/// all zeros (`-$0` and `$-0.00000` read as nonsense).
fn with_sign(value: f64, text: String) -> String {
    let zero = !text.bytes().any(|b| matches!(b, b'1'..=b'9'));
    if value < 0.0 && !zero {
        format!("-{text}")
    } else {
        text
    }
}

/// A percentage with its sign and one decimal: `+4.2%`, `-13.1%`, `0.0%`.
#[must_use]
pub fn pct_signed(pct: f64) -> String {
    if !pct.is_finite() {
        return NOT_A_NUMBER.to_owned();
    }
    let rounded = (pct * 10.0).round() / 10.0;
    // Beyond f64::MAX / 10 the rounding overflows; such a value has no decimals to round.
    let rounded = if rounded.is_finite() { rounded } else { pct };
    if rounded > 0.0 {
        format!("+{rounded:.1}%")
    } else if rounded < 0.0 {
        format!("{rounded:.1}%")
    } else {
        "0.0%".to_owned()
    }
}

/// A share (0 to 1) as a percentage with one decimal: `65.6%`.
#[must_use]
pub fn share(fraction: f64) -> String {
    let pct = fraction * 100.0;
    if !pct.is_finite() {
        return NOT_A_NUMBER.to_owned();
    }
    with_sign(pct, format!("{:.1}%", pct.abs()))
}

/// A price with sensible precision: `$94,512.3`, `$3,301.25`, `$2.300`, `$0.38123`.
#[must_use]
pub fn price(p: f64) -> String {
    if !p.is_finite() {
        return NOT_A_NUMBER.to_owned();
    }
    let v = p.abs();
    // The precision of the size the value prints as: 9,999.96 rounds to $10,000.0, not
    // $10,000.00.
    let text = [(10_000.0, 1), (100.0, 2), (1.0, 3)]
        .into_iter()
        .map(|(size, decimals)| (size, format!("{v:.decimals$}")))
        .find(|(size, text)| text.parse::<f64>().is_ok_and(|printed| printed >= *size))
        .map_or_else(|| format!("{v:.5}"), |(_, text)| text);
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let int = thousands(int);
    let text = if frac.is_empty() {
        format!("${int}")
    } else {
        format!("${int}.{frac}")
    };
    with_sign(p, text)
}

/// A count with thousands separators: `4,123`.
#[must_use]
pub fn count(n: i64) -> String {
    let text = n.unsigned_abs().to_string();
    let sign = if n < 0 { "-" } else { "" };
    format!("{sign}{}", thousands(&text))
}

fn thousands(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_short_and_rounded() {
        let cases = [
            (1_360_000_000.0, "$1.36B"),
            (47_870_000.0, "$47.87M"),
            (950_000.0, "$950K"),
            (999_999.0, "$1.00M"),
            (999.4, "$999"),
            (999.6, "$1K"),
            (0.0, "$0"),
            (-2_500_000.0, "-$2.50M"),
            (2.1e12, "$2.10T"),
        ];
        for (v, want) in cases {
            assert_eq!(money(v), want, "{v}");
        }
    }

    #[test]
    fn percentages_carry_their_sign() {
        assert_eq!(pct_signed(-13.14), "-13.1%");
        assert_eq!(pct_signed(4.25), "+4.3%");
        assert_eq!(pct_signed(0.04), "0.0%");
        assert_eq!(pct_signed(-0.04), "0.0%");
        assert_eq!(share(0.656), "65.6%");
    }

    #[test]
    fn prices_and_counts_are_readable() {
        assert_eq!(price(94_512.34), "$94,512.3");
        assert_eq!(price(3_301.254), "$3,301.25");
        assert_eq!(price(0.381_23), "$0.38123");
        assert_eq!(price(2.3), "$2.300");
        assert_eq!(count(4_123), "4,123");
        assert_eq!(count(1_000_000), "1,000,000");
        assert_eq!(count(12), "12");
    }
}
