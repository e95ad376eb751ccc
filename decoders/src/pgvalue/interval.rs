//! `interval` in `IntervalStyle=iso_8601`, as `EncodeInterval` prints it:
//!
//! ```text
//!   P1Y2M3DT4H5M6.5S   P-1Y-2M   PT0S   P1DT-0.000001S   PT-2562047788H-54.775808S
//!   infinity  -infinity   (PostgreSQL 17+)
//! ```
//!
//! Years and months fold into `months`, weeks and days into `days`, hours,
//! minutes and seconds into `micros`; each part carries its own sign, fields
//! are independent (`P1M-1D` stays one month minus one day). `infinity` is
//! every field at its maximum, `-infinity` every field at its minimum.
//! Sums are done in `i128`; a field that does not fit is an error.

use crate::change::Interval;

use super::datetime::{decimal_number, fraction_micros};
use super::error::Problem;

const MICROS_PER_SECOND: i128 = 1_000_000;

pub(crate) fn parse_interval(text: &str) -> Result<Interval, Problem> {
    match text {
        "infinity" => {
            return Ok(Interval { months: i32::MAX, days: i32::MAX, micros: i64::MAX });
        }
        "-infinity" => {
            return Ok(Interval { months: i32::MIN, days: i32::MIN, micros: i64::MIN });
        }
        _ => {}
    }
    let designated = text.strip_prefix('P').ok_or("expected ISO 8601 form starting with P (IntervalStyle=iso_8601)")?;
    let (date_part, time_part) = match designated.split_once('T') {
        Some((date_part, time_part)) if !time_part.is_empty() => (date_part, Some(time_part)),
        Some(_) => return Err("expected hours, minutes or seconds after T".into()),
        None if designated.is_empty() => return Err("expected at least one part after P".into()),
        None => (designated, None),
    };
    let (mut months, mut days, mut micros) = (0_i128, 0_i128, 0_i128);
    for (designator, amount) in parts(date_part, "YMWD")? {
        let whole = i128::from(amount.whole()?);
        match designator {
            'Y' => months += whole * 12,
            'M' => months += whole,
            'W' => days += whole * 7,
            _ => days += whole,
        }
    }
    for (designator, amount) in parts(time_part.unwrap_or_default(), "HMS")? {
        micros += match designator {
            'H' => i128::from(amount.whole()?) * 3600 * MICROS_PER_SECOND,
            'M' => i128::from(amount.whole()?) * 60 * MICROS_PER_SECOND,
            _ => amount.micros()?,
        };
    }
    Ok(Interval {
        months: i32::try_from(months).map_err(|_| "months out of range")?,
        days: i32::try_from(days).map_err(|_| "days out of range")?,
        micros: i64::try_from(micros).map_err(|_| "time part out of range of 64-bit microseconds")?,
    })
}

/// A signed number before a designator: `-12`, `6.5`.
#[derive(Debug, Clone, Copy)]
struct Amount<'a> {
    negative: bool,
    whole: &'a str,
    /// Digits after the point, `None` when there is no point.
    fraction: Option<&'a str>,
}

impl Amount<'_> {
    fn magnitude_whole(&self) -> Result<i64, Problem> {
        decimal_number(self.whole, 18).ok_or_else(|| "expected at most 18 digits before a designator".into())
    }

    /// The amount as an integer (only seconds may have a fraction).
    fn whole(&self) -> Result<i64, Problem> {
        if self.fraction.is_some() {
            return Err("only seconds may have a fraction".into());
        }
        let magnitude = self.magnitude_whole()?;
        Ok(if self.negative { -magnitude } else { magnitude })
    }

    /// The amount as seconds, in microseconds.
    fn micros(&self) -> Result<i128, Problem> {
        let fraction = match self.fraction {
            Some(fraction) => fraction_micros(fraction)?,
            None => 0,
        };
        let magnitude = i128::from(self.magnitude_whole()?) * MICROS_PER_SECOND + i128::from(fraction);
        Ok(if self.negative { -magnitude } else { magnitude })
    }
}

/// Splits `1Y-2M3D` into `(designator, amount)` pairs; designators must
/// appear in the order of `allowed`, each at most once.
fn parts<'a>(text: &'a str, allowed: &str) -> Result<Vec<(char, Amount<'a>)>, Problem> {
    let mut found = Vec::new();
    let mut rest = text;
    let mut remaining_designators = allowed;
    while !rest.is_empty() {
        let end = rest.find(|c: char| c.is_ascii_alphabetic()).ok_or("expected a designator letter after a number")?;
        let (number, tail) = rest.split_at(end);
        let mut tail_chars = tail.chars();
        let designator = tail_chars.next().ok_or("expected a designator letter")?;
        let position =
            remaining_designators.find(designator).ok_or_else(|| format!("unexpected designator {designator:?}"))?;
        remaining_designators = remaining_designators.get(position + 1..).unwrap_or_default();
        let (negative, unsigned) = match number.strip_prefix('-') {
            Some(unsigned) => (true, unsigned),
            None => (false, number),
        };
        let (whole, fraction) = match unsigned.split_once('.') {
            Some((whole, fraction)) => (whole, Some(fraction)),
            None => (unsigned, None),
        };
        found.push((designator, Amount { negative, whole, fraction }));
        rest = tail_chars.as_str();
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn interval(months: i32, days: i32, micros: i64) -> Result<Interval, Problem> {
        Ok(Interval { months, days, micros })
    }

    /// `EncodeInterval` with `INTSTYLE_ISO_8601`, for the round trip.
    fn format_interval(value: Interval) -> String {
        let (years, months) = (value.months / 12, value.months % 12);
        let hours = value.micros / 3_600_000_000;
        let minutes = value.micros / 60_000_000 % 60;
        let seconds = value.micros % 60_000_000;
        if (value.months, value.days, value.micros) == (0, 0, 0) {
            return "PT0S".to_owned();
        }
        let mut text = "P".to_owned();
        for (amount, designator) in [(i64::from(years), 'Y'), (i64::from(months), 'M'), (i64::from(value.days), 'D')] {
            if amount != 0 {
                text.push_str(&format!("{amount}{designator}"));
            }
        }
        if value.micros != 0 {
            text.push('T');
        }
        for (amount, designator) in [(hours, 'H'), (minutes, 'M')] {
            if amount != 0 {
                text.push_str(&format!("{amount}{designator}"));
            }
        }
        if seconds != 0 {
            let sign = if seconds < 0 { "-" } else { "" };
            let (whole, fraction) = (seconds.unsigned_abs() / 1_000_000, seconds.unsigned_abs() % 1_000_000);
            let fraction = format!(".{fraction:06}");
            let fraction = fraction.trim_end_matches('0').trim_end_matches('.');
            text.push_str(&format!("{sign}{whole}{fraction}S"));
        }
        text
    }

    #[test]
    fn forms_postgres_prints() {
        // SET IntervalStyle=iso_8601; SELECT '1 year 2 mons 3 days 04:05:06.5'::interval, ...
        assert_eq!(parse_interval("P1Y2M3DT4H5M6.5S"), interval(14, 3, 14_706_500_000));
        assert_eq!(parse_interval("P-1Y-2M"), interval(-14, 0, 0));
        assert_eq!(parse_interval("PT0S"), interval(0, 0, 0));
        assert_eq!(parse_interval("P-1DT3H"), interval(0, -1, 10_800_000_000));
        assert_eq!(parse_interval("PT0.000001S"), interval(0, 0, 1));
        assert_eq!(parse_interval("PT-0.000001S"), interval(0, 0, -1));
        assert_eq!(parse_interval("P178000000Y"), interval(2_136_000_000, 0, 0));
        assert_eq!(parse_interval("P1DT-0.000001S"), interval(0, 1, -1));
        assert_eq!(parse_interval("P-1M1D"), interval(-1, 1, 0));
        assert_eq!(parse_interval("PT1M"), interval(0, 0, 60_000_000));
        assert_eq!(parse_interval("PT-1H-2M-3.25S"), interval(0, 0, -3_723_250_000));
        assert_eq!(parse_interval("PT58M"), interval(0, 0, 3_480_000_000));
        assert_eq!(parse_interval("PT-1.5S"), interval(0, 0, -1_500_000));
        assert_eq!(parse_interval("PT100H"), interval(0, 0, 360_000_000_000));
        assert_eq!(parse_interval("P7D"), interval(0, 7, 0));
        assert_eq!(parse_interval("P1Y6M"), interval(18, 0, 0));
        assert_eq!(parse_interval("P-10M"), interval(-10, 0, 0));
        assert_eq!(parse_interval("P2W"), interval(0, 14, 0));
    }

    #[test]
    fn extremes_and_infinities() {
        // '2147483647 mons 2147483647 days 2562047788:00:54.775807'::interval, '-2147483648 days'::interval,
        // '-2562047788:00:54.775807'::interval - '1 microsecond', and PostgreSQL 18's ±infinity.
        assert_eq!(
            parse_interval("P178956970Y7M2147483647DT2562047788H54.775807S"),
            interval(i32::MAX, i32::MAX, i64::MAX)
        );
        assert_eq!(parse_interval("P-178956970Y-8M"), interval(i32::MIN, 0, 0));
        assert_eq!(parse_interval("P-2147483648D"), interval(0, i32::MIN, 0));
        assert_eq!(parse_interval("PT-2562047788H-54.775808S"), interval(0, 0, i64::MIN));
        assert_eq!(parse_interval("infinity"), interval(i32::MAX, i32::MAX, i64::MAX));
        assert_eq!(parse_interval("-infinity"), interval(i32::MIN, i32::MIN, i64::MIN));
    }

    #[test]
    fn malformed_or_out_of_range() {
        for text in [
            "",
            "P",
            "PT",
            "1 day",
            "P1",
            "P1X",
            "PT1D",
            "P1D1Y",
            "P1Y1Y",
            "P1.5Y",
            "PT1.1234567S",
            "P--1D",
            "P178956970Y8M",
            "P2147483648D",
            "PT2562047788H54.775808S",
            "P9999999999999999999Y",
            "Infinity",
            "P1DT",
            "PT1HS",
        ] {
            assert!(parse_interval(text).is_err(), "{text:?}");
        }
    }

    proptest! {
        #[test]
        fn round_trips_through_postgres_format(months in any::<i32>(), days in any::<i32>(), micros in any::<i64>()) {
            let value = Interval { months, days, micros };
            prop_assume!(value != Interval { months: i32::MAX, days: i32::MAX, micros: i64::MAX });
            let text = format_interval(value);
            prop_assert_eq!(parse_interval(&text), Ok(value), "{}", text);
        }
    }
}
