//! `xs:duration`: lexical rules as libxml2 2.9 applies them (designators in order, a fraction
//! only on seconds, `T` before time items, 64-bit overflow refused) and the XSD partial order.

use std::cmp::Ordering;

/// A duration as (months, days, seconds), all with the duration's sign.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Duration {
    months: i64,
    days: i64,
    seconds: f64,
}

const DESIGNATORS: [u8; 6] = [b'Y', b'M', b'D', b'H', b'M', b'S'];

/// Parses `-?P(nY)?(nM)?(nD)?(T(nH)?(nM)?(n(.n*)?S)?)?` with at least one item.
pub(crate) fn parse(s: &str) -> Option<Duration> {
    let (neg, rest) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let b = rest.strip_prefix('P')?.as_bytes();
    if b.is_empty() {
        return None;
    }
    let (mut months, mut days, mut secs, mut frac) = (0i64, 0i64, 0i64, 0f64);
    let mut seq = 0usize;
    let mut i = 0usize;
    while i < b.len() {
        if seq >= DESIGNATORS.len() {
            return None;
        }
        if b.get(i) == Some(&b'T') {
            if seq > 3 {
                return None;
            }
            i += 1;
            seq = 3;
        } else if seq == 3 {
            return None;
        }
        let mut num: i64 = 0;
        let mut has_digits = false;
        while let Some(c) = b.get(i).copied().filter(u8::is_ascii_digit) {
            num = num.checked_mul(10)?.checked_add(i64::from(c - b'0'))?;
            has_digits = true;
            i += 1;
        }
        let mut has_frac = false;
        if b.get(i) == Some(&b'.') {
            i += 1;
            has_frac = true;
            let mut scale = 0.1;
            while let Some(c) = b.get(i).copied().filter(u8::is_ascii_digit) {
                frac += f64::from(c - b'0') * scale;
                scale /= 10.0;
                has_digits = true;
                i += 1;
            }
        }
        // Find the designator at or after the current position in the Y M D H M S order;
        // time items cannot be reached without the `T`.
        let c = *b.get(i)?;
        while DESIGNATORS.get(seq) != Some(&c) {
            seq += 1;
            if seq == 3 || seq >= DESIGNATORS.len() {
                return None;
            }
        }
        i += 1;
        if !has_digits || (has_frac && seq != 5) {
            return None;
        }
        match seq {
            0 => months = num.checked_mul(12)?,
            1 => months = months.checked_add(num)?,
            2 => days = num,
            3 => {
                days = days.checked_add(num / 24)?;
                secs += (num % 24) * 3600;
            }
            4 => {
                days = days.checked_add(num / 1440)?;
                secs += (num % 1440) * 60;
            }
            _ => {
                days = days.checked_add(num / 86_400)?;
                secs += num % 86_400;
            }
        }
        seq += 1;
    }
    let seconds = secs as f64 + frac;
    Some(if neg {
        Duration {
            months: -months,
            days: -days,
            seconds: -seconds,
        }
    } else {
        Duration {
            months,
            days,
            seconds,
        }
    })
}

/// The four reference instants of XSD 1.0 (3.2.6.2), as (year, month).
const REFERENCES: [(i128, i128); 4] = [(1696, 9), (1697, 2), (1903, 3), (1903, 7)];

fn days_from_civil(year: i128, month: i128) -> i128 {
    let y = year - i128::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let doy = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5;
    era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy
}

impl Duration {
    /// Seconds from a fixed origin after adding this duration to a reference instant.
    fn added_to(&self, (year, month): (i128, i128)) -> f64 {
        let total = year * 12 + (month - 1) + i128::from(self.months);
        let days =
            days_from_civil(total.div_euclid(12), total.rem_euclid(12) + 1) + i128::from(self.days);
        days as f64 * 86_400.0 + self.seconds
    }

    /// The XSD partial order: defined when all four reference instants agree.
    pub(crate) fn partial_cmp(&self, other: &Duration) -> Option<Ordering> {
        let mut result = None;
        for r in REFERENCES {
            let ord = self.added_to(r).partial_cmp(&other.added_to(r))?;
            match result {
                None => result = Some(ord),
                Some(prev) if prev != ord => return None,
                Some(_) => {}
            }
        }
        result
    }

    pub(crate) fn equals(&self, other: &Duration) -> bool {
        self.partial_cmp(other) == Some(Ordering::Equal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_rejects_durations_like_libxml2() {
        for ok in [
            "P1D",
            "-P1D",
            "P1Y2M3DT4H5M6.7S",
            "PT1.S",
            "PT.5S",
            "P0D",
            "P1Y2M",
            "PT1H1M1S",
            "-PT0S",
            "P9223372036854775807D",
        ] {
            assert!(parse(ok).is_some(), "{ok}");
        }
        for bad in [
            "P",
            "PT",
            "P1DT",
            "P1.5D",
            "P1Y1Y",
            "P1M1Y",
            "PT1M1H",
            "P-1D",
            "P1W",
            "PT1,5S",
            "+P1D",
            "PT1.5H",
            "P1000000000000000000Y",
            "PT1000000000000000000000S",
            "1D",
            "",
        ] {
            assert!(parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn orders_durations_by_the_four_reference_dates() {
        let d = |s: &str| parse(s).expect("valid duration");
        assert_eq!(d("P1D").partial_cmp(&d("PT24H")), Some(Ordering::Equal));
        assert_eq!(d("P1Y").partial_cmp(&d("P365D")), None);
        assert_eq!(d("P1Y").partial_cmp(&d("P367D")), Some(Ordering::Less));
        assert_eq!(d("P1M").partial_cmp(&d("P27D")), Some(Ordering::Greater));
        assert_eq!(d("-P1D").partial_cmp(&d("P0D")), Some(Ordering::Less));
    }
}
