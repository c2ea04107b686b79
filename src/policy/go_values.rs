//! How Go reads and prints the values Kyverno's condition operators compare: `time.ParseDuration`,
//! Kubernetes' `resource.ParseQuantity` (k8s.io/apimachinery), `strconv.ParseFloat` and the
//! `%v` form of a float64 (`fmt.Sprint`). Kept apart from the operators so that each reads at once.

/// Go's `time.ParseDuration` (`[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+`, or `0`), in nanoseconds; the
/// fraction is accumulated and scaled as Go's `leadingFraction` does.
pub(crate) fn go_duration(text: &str) -> Option<i128> {
    const LIMIT: u128 = 1 << 63;
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let integer_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (integer, after) = rest.split_at(integer_len);
        let (fraction, after) = match after.strip_prefix('.') {
            Some(f) => {
                let len = f.bytes().take_while(u8::is_ascii_digit).count();
                (Some(&f[..len]), &f[len..])
            }
            None => (None, after),
        };
        if integer.is_empty() && fraction.is_none_or(str::is_empty) {
            return None;
        }
        let unit_len = after
            .char_indices()
            .find(|(_, c)| *c == '.' || c.is_ascii_digit())
            .map_or(after.len(), |(i, _)| i);
        let (unit, after) = after.split_at(unit_len);
        let unit: u128 = match unit {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return None,
        };
        let whole: u128 = if integer.is_empty() {
            0
        } else {
            integer.parse().ok().filter(|v| *v < LIMIT)?
        };
        if whole > LIMIT / unit {
            return None;
        }
        let mut part = whole * unit;
        let (digits, scale) = leading_fraction(fraction.unwrap_or_default());
        if digits > 0 {
            part += (digits as f64 * (unit as f64 / scale)) as u128;
            if part > LIMIT {
                return None;
            }
        }
        total += part;
        if total > LIMIT {
            return None;
        }
        rest = after;
    }
    if negative {
        Some(-(total as i128))
    } else {
        (total < LIMIT).then_some(total as i128)
    }
}

/// Go's `leadingFraction`: the fraction's digits as an integer, and ten to their count, both
/// stopping where the integer would overflow.
fn leading_fraction(digits: &str) -> (u64, f64) {
    let (mut x, mut scale) = (0u64, 1f64);
    for d in digits.bytes() {
        let Some(y) = x
            .checked_mul(10)
            .and_then(|x| x.checked_add(u64::from(d - b'0')))
            .filter(|y| *y <= 1 << 63)
        else {
            break;
        };
        x = y;
        scale *= 10.0;
    }
    (x, scale)
}

/// A Kubernetes resource quantity (`resource.ParseQuantity`, k8s.io/apimachinery), as an exact
/// decimal `sign × mantissa × 10^exponent` in lowest terms, rounded up to nano units as
/// `ParseQuantity` rounds; compared as `Quantity.Equal` compares. A quantity too large for this
/// representation is compared by its nearest float.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Quantity {
    Exact {
        negative: bool,
        mantissa: u128,
        exponent: i64,
    },
    Approximate(f64),
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        match (*self, *other) {
            (
                Quantity::Exact {
                    negative: n1,
                    mantissa: m1,
                    exponent: e1,
                },
                Quantity::Exact {
                    negative: n2,
                    mantissa: m2,
                    exponent: e2,
                },
            ) => {
                if m1 == 0 || m2 == 0 {
                    return m1 == m2;
                }
                (n1, m1, e1) == (n2, m2, e2)
            }
            _ => self.approximate() == other.approximate(),
        }
    }
}

impl Quantity {
    /// `parseQuantityString` and the suffix table (`suffix.go`); `None` when `text` is not a
    /// quantity.
    pub(crate) fn parse(text: &str) -> Option<Quantity> {
        if text.is_empty() {
            return None;
        }
        let (negative, unsigned) = match text.as_bytes()[0] {
            b'-' => (true, &text[1..]),
            b'+' => (false, &text[1..]),
            _ => (false, text),
        };
        let integer_len = unsigned.bytes().take_while(u8::is_ascii_digit).count();
        let (integer, rest) = unsigned.split_at(integer_len);
        let (fraction, suffix) = match rest.strip_prefix('.') {
            Some(f) => {
                let len = f.bytes().take_while(u8::is_ascii_digit).count();
                (&f[..len], &f[len..])
            }
            None => ("", rest),
        };
        // Only zeros so far ends the parse there (`Zeroes`), whatever follows.
        if unsigned.bytes().all(|b| b == b'0') {
            return Some(Quantity::Exact {
                negative: false,
                mantissa: 0,
                exponent: 0,
            });
        }
        let (base, power) = quantity_suffix(suffix)?;
        let digits = format!("{integer}{fraction}");
        let digits = digits.trim_start_matches('0');
        let mut exponent = -(fraction.len() as i64);
        let approximate = || -> Option<Quantity> {
            let magnitude: f64 = format!("0{integer}.{fraction}0").parse().ok()?;
            let factor = if base == 2 {
                2f64.powi(power as i32)
            } else {
                10f64.powi(power as i32)
            };
            Some(Quantity::Approximate(
                if negative { -1.0 } else { 1.0 } * magnitude * factor,
            ))
        };
        let Ok(mut mantissa) = (if digits.is_empty() {
            Ok(0)
        } else {
            digits.parse::<u128>()
        }) else {
            return approximate();
        };
        if base == 2 {
            let Some(shifted) = 1u128
                .checked_shl(power as u32)
                .and_then(|f| mantissa.checked_mul(f))
            else {
                return approximate();
            };
            mantissa = shifted;
        } else {
            exponent += power;
        }
        if exponent < -9 && mantissa != 0 {
            // Round away from zero to nano units (`amount.Round(..., Nano, inf.RoundUp)`).
            let shift = (-9 - exponent) as u32;
            mantissa = match 10u128.checked_pow(shift) {
                Some(divisor) => mantissa.div_ceil(divisor),
                None => 1,
            };
            exponent = -9;
        }
        while mantissa != 0 && mantissa % 10 == 0 {
            mantissa /= 10;
            exponent += 1;
        }
        Some(Quantity::Exact {
            negative,
            mantissa,
            exponent,
        })
    }

    fn approximate(&self) -> f64 {
        match *self {
            Quantity::Exact {
                negative,
                mantissa,
                exponent,
            } => {
                let sign = if negative { -1.0 } else { 1.0 };
                sign * mantissa as f64 * 10f64.powi(exponent as i32)
            }
            Quantity::Approximate(v) => v,
        }
    }
}

/// The base and power of a quantity suffix: binary (`Ki`..`Ei`), decimal SI (`n`..`E`), or a
/// decimal exponent (`e3`, `E-2`).
fn quantity_suffix(suffix: &str) -> Option<(u32, i64)> {
    let power = match suffix {
        "Ki" => return Some((2, 10)),
        "Mi" => return Some((2, 20)),
        "Gi" => return Some((2, 30)),
        "Ti" => return Some((2, 40)),
        "Pi" => return Some((2, 50)),
        "Ei" => return Some((2, 60)),
        "n" => -9,
        "u" => -6,
        "m" => -3,
        "" => 0,
        "k" => 3,
        "M" => 6,
        "G" => 9,
        "T" => 12,
        "P" => 15,
        "E" => 18,
        _ => {
            let exponent = suffix.strip_prefix(['e', 'E'])?;
            let digits = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            // Go keeps the exponent as an int32.
            exponent.parse::<i64>().ok()? as i32 as i64
        }
    };
    Some((10, power))
}

/// Go's `strconv.ParseFloat(s, 64)`, for decimal text (hexadecimal floats are not read).
pub(crate) fn go_parse_float(text: &str) -> Option<f64> {
    let plain = text.strip_prefix(['+', '-']).unwrap_or(text);
    if plain.is_empty() || plain.contains('_') || plain.starts_with("0x") || plain.starts_with("0X")
    {
        return None;
    }
    text.parse().ok()
}

/// `strconv.FormatFloat(f, 'g', -1, 64)` as `%v` prints it: the shortest digits, in exponent
/// form when the exponent is below -4 or at least 6 (for the shortest form Go decides with
/// precision 6).
pub(crate) fn go_float(f: f64) -> String {
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let scientific = format!("{f:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if !(-4..6).contains(&exponent) {
        let rest = &digits[1..];
        let dot = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        return format!(
            "{sign}{}{dot}e{exp_sign}{:02}",
            &digits[..1],
            exponent.abs()
        );
    }
    if exponent < 0 {
        let zeros = "0".repeat((-exponent - 1) as usize);
        return format!("{sign}0.{zeros}{digits}");
    }
    let integer_len = exponent as usize + 1;
    if digits.len() <= integer_len {
        format!("{sign}{digits}{}", "0".repeat(integer_len - digits.len()))
    } else {
        format!(
            "{sign}{}.{}",
            &digits[..integer_len],
            &digits[integer_len..]
        )
    }
}
