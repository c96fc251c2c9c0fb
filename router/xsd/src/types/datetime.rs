//! The seven date/time types (`dateTime`, `date`, `time`, `gYearMonth`, `gYear`, `gMonthDay`,
//! `gDay`, `gMonth`) with the lexical rules libxml2 2.9 applies: years of at least four digits
//! (no leading zero beyond four, no year 0, fitting in 64 bits), `24:00:00` allowed, no leap
//! second, time zones up to ±14:00.

use std::cmp::Ordering;

/// Which date/time type a value belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DtKind {
    DateTime,
    Date,
    Time,
    GYearMonth,
    GYear,
    GMonthDay,
    GDay,
    GMonth,
}

/// A date/time value; fields a kind does not have are set to the neutral 1972-01-01T00:00:00.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DateTime {
    pub(crate) kind: DtKind,
    year: i64,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: f64,
    /// Offset in minutes, when the value has a time zone.
    tz: Option<i16>,
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        if self.peek() == Some(c) {
            self.i += 1;
            Some(())
        } else {
            None
        }
    }

    fn two_digits(&mut self) -> Option<u8> {
        let a = self.peek().filter(u8::is_ascii_digit)?;
        let b = self.b.get(self.i + 1).copied().filter(u8::is_ascii_digit)?;
        self.i += 2;
        Some((a - b'0') * 10 + (b - b'0'))
    }

    fn at_end(&self) -> bool {
        self.i == self.b.len()
    }

    /// `-? YYYY+`: at least four digits, no leading zero when longer, not zero, fits in i64.
    fn year(&mut self) -> Option<i64> {
        let neg = self.eat(b'-').is_some();
        let start = self.i;
        let mut year: i64 = 0;
        while let Some(c) = self.peek().filter(u8::is_ascii_digit) {
            year = year.checked_mul(10)?.checked_add(i64::from(c - b'0'))?;
            self.i += 1;
        }
        let digits = self.i - start;
        if digits < 4 || (digits > 4 && self.b.get(start) == Some(&b'0')) || year == 0 {
            return None;
        }
        Some(if neg { -year } else { year })
    }

    /// `hh:mm:ss(.s+)?`, with `24:00:00` as the only hour-24 time.
    fn time(&mut self) -> Option<(u8, u8, f64)> {
        let hour = self.two_digits()?;
        self.eat(b':')?;
        let minute = self.two_digits()?;
        self.eat(b':')?;
        let start = self.i;
        self.two_digits()?;
        if self.eat(b'.').is_some() {
            let frac_start = self.i;
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.i += 1;
            }
            if self.i == frac_start {
                return None;
            }
        }
        let second: f64 = std::str::from_utf8(self.b.get(start..self.i)?)
            .ok()?
            .parse()
            .ok()?;
        let valid = (hour < 24 && minute < 60 && second < 60.0)
            || (hour == 24 && minute == 0 && second == 0.0);
        valid.then_some((hour, minute, second))
    }

    /// `Z | (+|-)hh:mm` with |offset| <= 14:00, or nothing.
    fn timezone(&mut self) -> Option<Option<i16>> {
        match self.peek() {
            None => Some(None),
            Some(b'Z') => {
                self.i += 1;
                Some(Some(0))
            }
            Some(sign @ (b'+' | b'-')) => {
                self.i += 1;
                let h = self.two_digits()?;
                self.eat(b':')?;
                let m = self.two_digits()?;
                if h > 14 || m > 59 || (h == 14 && m != 0) {
                    return None;
                }
                let minutes = i16::from(h) * 60 + i16::from(m);
                Some(Some(if sign == b'-' { -minutes } else { minutes }))
            }
            Some(_) => None,
        }
    }
}

/// Parses a value of `kind` (no surrounding whitespace).
pub(crate) fn parse(kind: DtKind, s: &str) -> Option<DateTime> {
    let mut c = Cursor {
        b: s.as_bytes(),
        i: 0,
    };
    let mut v = DateTime {
        kind,
        year: 1972,
        month: 1,
        day: 1,
        hour: 0,
        minute: 0,
        second: 0.0,
        tz: None,
    };
    match kind {
        DtKind::DateTime | DtKind::Date | DtKind::GYearMonth | DtKind::GYear => {
            v.year = c.year()?;
            if kind != DtKind::GYear {
                c.eat(b'-')?;
                v.month = c.two_digits()?;
                if !(1..=12).contains(&v.month) {
                    return None;
                }
                if kind != DtKind::GYearMonth {
                    c.eat(b'-')?;
                    v.day = c.two_digits()?;
                    if v.day == 0 || v.day > days_in_month(v.year, v.month) {
                        return None;
                    }
                    if kind == DtKind::DateTime {
                        c.eat(b'T')?;
                        (v.hour, v.minute, v.second) = c.time()?;
                    }
                }
            }
        }
        DtKind::Time => (v.hour, v.minute, v.second) = c.time()?,
        DtKind::GMonthDay | DtKind::GMonth => {
            c.eat(b'-')?;
            c.eat(b'-')?;
            v.month = c.two_digits()?;
            if !(1..=12).contains(&v.month) {
                return None;
            }
            if kind == DtKind::GMonthDay {
                c.eat(b'-')?;
                v.day = c.two_digits()?;
                // 29 February is allowed: a gMonthDay recurs in leap years too.
                if v.day == 0 || v.day > days_in_month(2000, v.month) {
                    return None;
                }
            }
        }
        DtKind::GDay => {
            for _ in 0..3 {
                c.eat(b'-')?;
            }
            v.day = c.two_digits()?;
            if v.day == 0 || v.day > 31 {
                return None;
            }
        }
    }
    v.tz = c.timezone()?;
    c.at_end().then_some(v)
}

/// Whether `s` ends with a time zone designator (`Z` or `±hh:mm`).
pub(crate) fn ends_with_timezone(s: &str) -> bool {
    let b = s.as_bytes();
    if b.last() == Some(&b'Z') {
        return true;
    }
    match b.len().checked_sub(6).and_then(|i| b.get(i..)) {
        Some([sign, h1, h2, b':', m1, m2]) => {
            matches!(sign, b'+' | b'-') && [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit())
        }
        _ => false,
    }
}

/// Days from 0000-03-01-style civil calendar (proleptic Gregorian) to the given date.
fn days_from_civil(year: i64, month: u8, day: u8) -> i128 {
    let y = i128::from(year) - i128::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i128::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i128::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe
}

impl DateTime {
    /// Seconds on a common time line; with a time zone the value is normalised to UTC.
    fn timeline(&self) -> f64 {
        let days = days_from_civil(self.year, self.month, self.day);
        let mut secs = days as f64 * 86_400.0
            + f64::from(self.hour) * 3600.0
            + f64::from(self.minute) * 60.0
            + self.second;
        if let Some(tz) = self.tz {
            secs -= f64::from(tz) * 60.0;
        }
        secs
    }

    /// The XSD order: values with and without time zone compare only when they are more than
    /// 14 hours apart; otherwise they are incomparable (`None`).
    pub(crate) fn partial_cmp(&self, other: &DateTime) -> Option<Ordering> {
        let (a, b) = (self.timeline(), other.timeline());
        match (self.tz.is_some(), other.tz.is_some()) {
            (true, true) | (false, false) => a.partial_cmp(&b),
            _ => {
                const WINDOW: f64 = 14.0 * 3600.0;
                // Whichever value lacks a zone may be anywhere within ±14h of its face value.
                if a < b - WINDOW {
                    Some(Ordering::Less)
                } else if a > b + WINDOW {
                    Some(Ordering::Greater)
                } else {
                    None
                }
            }
        }
    }

    pub(crate) fn equals(&self, other: &DateTime) -> bool {
        self.kind == other.kind && self.partial_cmp(other) == Some(Ordering::Equal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(kind: DtKind, s: &str) -> bool {
        parse(kind, s).is_some()
    }

    #[test]
    fn accepts_and_rejects_date_times_like_libxml2() {
        assert!(ok(DtKind::DateTime, "2020-01-01T00:00:00"));
        assert!(ok(DtKind::DateTime, "2020-01-01T24:00:00.0"));
        assert!(ok(DtKind::DateTime, "-0001-01-01T00:00:00"));
        assert!(ok(DtKind::DateTime, "12020-01-01T00:00:00"));
        assert!(ok(DtKind::DateTime, "2026-04-02T08:30:00.123+14:00"));
        assert!(!ok(DtKind::DateTime, "2020-01-01T24:00:01"));
        assert!(!ok(DtKind::DateTime, "2020-01-01T23:59:60"));
        assert!(!ok(DtKind::DateTime, "0000-01-01T00:00:00"));
        assert!(!ok(DtKind::DateTime, "02020-01-01T00:00:00"));
        assert!(!ok(DtKind::DateTime, "2020-01-01T00:00:00."));
        assert!(!ok(DtKind::DateTime, "2020-01-01T00:00:00+13:60"));
        assert!(!ok(DtKind::DateTime, "2020-01-01T00:00:00+14:01"));
        assert!(!ok(DtKind::DateTime, "2021-02-29T00:00:00"));
        assert!(!ok(DtKind::DateTime, "2026-04-02"));
        assert!(!ok(DtKind::DateTime, "2020-01-01t10:00:00"));
    }

    #[test]
    fn accepts_partial_dates_of_each_kind() {
        assert!(ok(DtKind::Date, "2000-02-29Z"));
        assert!(!ok(DtKind::Date, "1900-02-29"));
        assert!(ok(DtKind::GYear, "2020-14:00"));
        assert!(!ok(DtKind::GYear, "-0000"));
        assert!(!ok(DtKind::GYear, "24"));
        assert!(ok(DtKind::GYearMonth, "2020-12"));
        assert!(!ok(DtKind::GYearMonth, "2020-1"));
        assert!(ok(DtKind::GMonthDay, "--02-29"));
        assert!(!ok(DtKind::GMonthDay, "--04-31"));
        assert!(ok(DtKind::GDay, "---31+01:00"));
        assert!(!ok(DtKind::GDay, "---32"));
        assert!(ok(DtKind::GMonth, "--12Z"));
        assert!(!ok(DtKind::GMonth, "--01--"));
        assert!(ok(DtKind::Time, "24:00:00"));
        assert!(!ok(DtKind::Time, "10:00"));
    }

    #[test]
    fn orders_values_and_treats_mixed_zones_as_incomparable_when_close() {
        let a = parse(DtKind::DateTime, "2020-01-01T10:00:00Z").expect("valid");
        let b = parse(DtKind::DateTime, "2020-01-01T12:00:00+02:00").expect("valid");
        assert_eq!(a.partial_cmp(&b), Some(Ordering::Equal));
        let c = parse(DtKind::DateTime, "2020-01-01T10:00:00").expect("valid");
        assert_eq!(a.partial_cmp(&c), None);
        let d = parse(DtKind::DateTime, "2020-01-03T10:00:00").expect("valid");
        assert_eq!(a.partial_cmp(&d), Some(Ordering::Less));
    }

    #[test]
    fn recognises_trailing_time_zones() {
        assert!(ends_with_timezone("2020-01-01T00:00:00Z"));
        assert!(ends_with_timezone("2020-01-01T00:00:00-05:30"));
        assert!(!ends_with_timezone("2020-01-01T00:00:00"));
    }
}
