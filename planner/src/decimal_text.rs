//! Rounding and grouping numbers as decimal text, the way Java's `BigDecimal` and
//! `DecimalFormat` do for Spark's `bround` and `format_number`: a double is taken at its
//! shortest decimal spelling (Scala's `BigDecimal(d)`), never at its binary value.

/// A plain (non-scientific) decimal spelling of a finite double, shortest digits.
pub(crate) fn plain(v: f64) -> String {
    format!("{v}")
}

/// Splits `-12.345` into (negative, integer digits, fraction digits).
fn parts(text: &str) -> (bool, String, String) {
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (int_part, frac_part) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let int_part = int_part.trim_start_matches('0');
    (negative, int_part.to_string(), frac_part.to_string())
}

/// Adds one to a string of decimal digits (`199` → `200`, `99` → `100`).
fn increment(digits: &str) -> String {
    let mut out: Vec<u8> = digits.bytes().collect();
    for d in out.iter_mut().rev() {
        if *d == b'9' {
            *d = b'0';
        } else {
            *d += 1;
            return String::from_utf8(out).unwrap_or_default();
        }
    }
    format!("1{}", String::from_utf8(out).unwrap_or_default())
}

/// `text` rounded half-to-even to `scale` fraction digits (negative: tens, hundreds...).
/// Returns (negative, integer digits, exactly `max(scale, 0)` fraction digits).
fn round_half_even(text: &str, scale: i32) -> (bool, String, String) {
    let (negative, int_part, frac_part) = parts(text);
    // All digits, and how many of them to keep.
    let digits = format!("{int_part}{frac_part}");
    let keep = int_part.len() as i64 + i64::from(scale);
    if keep < 0 {
        return (negative, String::new(), "0".repeat(scale.max(0) as usize));
    }
    let keep = keep as usize;
    let padded = format!("{digits:0<keep$}");
    let (kept, dropped) = padded.split_at(keep.min(padded.len()));
    let first = dropped.bytes().next().unwrap_or(b'0');
    let rest_nonzero = dropped.bytes().skip(1).any(|b| b != b'0');
    let last_odd = kept.bytes().last().is_some_and(|b| (b - b'0') % 2 == 1);
    let up = first > b'5' || (first == b'5' && (rest_nonzero || last_odd));
    let kept = if up {
        increment(kept)
    } else {
        kept.to_string()
    };
    // Re-split: the integer part is everything but the last `scale` digits.
    let frac_len = scale.max(0) as usize;
    let kept = format!("{kept:0>frac_len$}");
    let (int_digits, frac_digits) = kept.split_at(kept.len() - frac_len);
    let zeros = "0".repeat((-scale).max(0) as usize);
    let int_digits = format!("{int_digits}{zeros}");
    let int_digits = int_digits.trim_start_matches('0').to_string();
    (negative, int_digits, frac_digits.to_string())
}

/// Spark's `bround(x, scale)` of a double: half-to-even on its decimal spelling.
pub(crate) fn bround(v: f64, scale: i32) -> f64 {
    if !v.is_finite() {
        return v;
    }
    let (negative, int_digits, frac_digits) = round_half_even(&plain(v), scale);
    // BigDecimal has no negative zero: -0.4 rounds to 0.0.
    let zero = int_digits.is_empty() && frac_digits.bytes().all(|b| b == b'0');
    let sign = if negative && !zero { "-" } else { "" };
    let int_digits = if int_digits.is_empty() {
        "0"
    } else {
        &int_digits
    };
    format!("{sign}{int_digits}.{frac_digits}0")
        .parse()
        .unwrap_or(v)
}

/// Spark's `format_number(x, d)`: `#,###,##0.00…` with `d` decimals, half-to-even.
pub(crate) fn format_number(text: &str, decimals: i32) -> String {
    let (negative, int_digits, frac_digits) = round_half_even(text, decimals);
    let int_digits = if int_digits.is_empty() {
        "0".to_string()
    } else {
        int_digits
    };
    let mut grouped = String::with_capacity(int_digits.len() * 4 / 3 + 1);
    for (i, c) in int_digits.chars().enumerate() {
        if i > 0 && (int_digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let zero = int_digits == "0" && frac_digits.bytes().all(|b| b == b'0');
    let sign = if negative && !zero { "-" } else { "" };
    if frac_digits.is_empty() {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped}.{frac_digits}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bround_is_half_even() {
        assert_eq!(bround(2.5, 0), 2.0);
        assert_eq!(bround(-2.5, 0), -2.0);
        assert_eq!(bround(3.5, 0), 4.0);
        assert_eq!(bround(1.2345, 0), 1.0);
        assert_eq!(bround(1.2345, 3), 1.234);
        assert_eq!(bround(1.2355, 3), 1.236);
        assert_eq!(bround(125.0, -1), 120.0);
        assert_eq!(bround(0.4, 0), 0.0);
        assert_eq!(bround(9.99, 1), 10.0);
        assert!(bround(-0.4, 0).is_sign_positive());
    }

    #[test]
    fn format_number_groups_and_rounds() {
        assert_eq!(format_number("1234567.891", 2), "1,234,567.89");
        assert_eq!(format_number("1234567.891", 0), "1,234,568");
        assert_eq!(format_number("0.5", 0), "0");
        assert_eq!(format_number("-1000", 1), "-1,000.0");
        assert_eq!(format_number("999.999", 2), "1,000.00");
        assert_eq!(format_number("12", 3), "12.000");
    }
}
