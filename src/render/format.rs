//! Number formatting for posts: money (`$1.36B`, `$47.87M`, `$950K`), signed percentages,
//! prices with a precision that suits their size, and counts with thousands separators.

/// Money in US dollars, short: `$1.36B`, `$47.87M`, `$950K`, `$812`.
#[must_use]
pub fn money(usd: f64) -> String {
    let sign = if usd < 0.0 { "-" } else { "" };
    let v = usd.abs();
    // Pick the unit after rounding, so $999,999 shows as $1.00M rather than $1000K.
    let unit = [(1e12, "T"), (1e9, "B"), (1e6, "M")]
        .into_iter()
        .find(|(scale, _)| round2(v / scale) >= 1.0);
    match unit {
        Some((scale, unit)) => format!("{sign}${:.2}{unit}", v / scale),
        None if v.round() >= 1_000.0 => format!("{sign}${:.0}K", v / 1e3),
        None => format!("{sign}${v:.0}"),
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// A percentage with its sign and one decimal: `+4.2%`, `-13.1%`, `0.0%`.
#[must_use]
pub fn pct_signed(pct: f64) -> String {
    let rounded = (pct * 10.0).round() / 10.0;
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
    format!("{:.1}%", fraction * 100.0)
}

/// A price with sensible precision: `$94,512.3`, `$3,301.25`, `$0.3812`.
#[must_use]
pub fn price(p: f64) -> String {
    let decimals = if p >= 10_000.0 {
        1
    } else if p >= 100.0 {
        2
    } else if p >= 1.0 {
        3
    } else {
        5
    };
    let text = format!("{p:.decimals$}");
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let int = thousands(int);
    if frac.is_empty() {
        format!("${int}")
    } else {
        format!("${int}.{frac}")
    }
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
