//! `date`, `time`, `timetz`, `timestamp` and `timestamptz`: the text forms
//! under `DateStyle=ISO, YMD` and the binary forms (counts since 2000-01-01).
//!
//! ```text
//!   date         0044-03-15 BC | 5874897-12-31 | infinity | -infinity
//!   time         24:00:00 | 12:34:56.123456
//!   timetz       12:00:00+05:30:15 | 12:00:00.5-03
//!   timestamp    4714-11-24 00:00:00 BC | 294276-12-31 23:59:59.999999
//!   timestamptz  2020-01-01 06:29:45.1+00 | 4714-11-24 00:00:00+00 BC
//! ```
//!
//! Invariants: the calendar is proleptic Gregorian and year `N BC` is
//! astronomical year `1 - N`; arithmetic is done in `i128` and a result that
//! does not fit the model's integer is an error, never a wrapped value; an
//! offset east of UTC is positive; a fraction has 1 to 6 digits.

use crate::change::{Date, TimeTz, Timestamp};

use super::error::Problem;

const MICROS_PER_SECOND: i128 = 1_000_000;
const MICROS_PER_DAY: i128 = 86_400 * MICROS_PER_SECOND;
/// Days from 1970-01-01 to PostgreSQL's epoch 2000-01-01.
const PG_EPOCH_DAYS: i32 = 10_957;
/// Microseconds from 1970-01-01 to PostgreSQL's epoch 2000-01-01.
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

pub(crate) fn parse_date(text: &str) -> Result<Date, Problem> {
    match text {
        "infinity" => return Ok(Date::PositiveInfinity),
        "-infinity" => return Ok(Date::NegativeInfinity),
        _ => {}
    }
    let (body, before_christ) = strip_era(text);
    let days = days_since_epoch(body, before_christ)?;
    i32::try_from(days).map(Date::Days).map_err(|_| "date out of range".into())
}

/// Microseconds since midnight, `24:00:00` included.
pub(crate) fn parse_time(text: &str) -> Result<i64, Problem> {
    let micros = clock_micros(text)?;
    i64::try_from(micros).map_err(|_| "time out of range".into())
}

pub(crate) fn parse_timetz(text: &str) -> Result<TimeTz, Problem> {
    let (clock, offset) = split_offset(text).ok_or("expected a UTC offset like +05:30")?;
    Ok(TimeTz { micros: parse_time(clock)?, utc_offset_seconds: parse_offset(offset)? })
}

/// `timestamp` (no offset allowed) or, with `with_offset`, `timestamptz`.
pub(crate) fn parse_timestamp(text: &str, with_offset: bool) -> Result<Timestamp, Problem> {
    match text {
        "infinity" => return Ok(Timestamp::PositiveInfinity),
        "-infinity" => return Ok(Timestamp::NegativeInfinity),
        _ => {}
    }
    let (body, before_christ) = strip_era(text);
    let (date, clock) = body.split_once(' ').ok_or("expected a date and a time separated by a space")?;
    let (clock, offset_seconds) = if with_offset {
        let (clock, offset) = split_offset(clock).ok_or("expected a UTC offset like +00")?;
        (clock, parse_offset(offset)?)
    } else {
        (clock, 0)
    };
    let micros = i128::from(days_since_epoch(date, before_christ)?) * MICROS_PER_DAY + clock_micros(clock)?
        - i128::from(offset_seconds) * MICROS_PER_SECOND;
    Ok(Timestamp::Micros(micros))
}

/// `date_send`: days since 2000-01-01, `i32::MAX`/`MIN` for ±infinity.
pub(crate) fn date_from_pg_days(days: i32) -> Result<Date, Problem> {
    match days {
        i32::MAX => Ok(Date::PositiveInfinity),
        i32::MIN => Ok(Date::NegativeInfinity),
        _ => days.checked_add(PG_EPOCH_DAYS).map(Date::Days).ok_or_else(|| "date out of range".into()),
    }
}

/// `timestamp_send`: microseconds since 2000-01-01, `i64::MAX`/`MIN` for ±infinity.
pub(crate) fn timestamp_from_pg_micros(micros: i64) -> Result<Timestamp, Problem> {
    match micros {
        i64::MAX => Ok(Timestamp::PositiveInfinity),
        i64::MIN => Ok(Timestamp::NegativeInfinity),
        _ => Ok(Timestamp::Micros(i128::from(micros) + i128::from(PG_EPOCH_MICROS))),
    }
}

/// `time_send`: microseconds since midnight, at most 24:00:00.
pub(crate) fn check_time_micros(micros: i64) -> Result<i64, Problem> {
    if (0..=86_400_000_000).contains(&micros) {
        Ok(micros)
    } else {
        Err("time of day out of range 00:00:00..=24:00:00".into())
    }
}

/// Splits off a trailing ` BC`.
fn strip_era(text: &str) -> (&str, bool) {
    match text.strip_suffix(" BC") {
        Some(body) => (body, true),
        None => (text, false),
    }
}

/// Days since 1970-01-01 of `YYYY-MM-DD` (year of any width from 1).
fn days_since_epoch(date: &str, before_christ: bool) -> Result<i64, Problem> {
    let mut parts = date.splitn(3, '-');
    let (Some(year), Some(month), Some(day)) = (parts.next(), parts.next(), parts.next()) else {
        return Err("expected a date as YYYY-MM-DD".into());
    };
    let year = decimal_number(year, 9).ok_or("expected a year of 1 to 9 digits")?;
    let month = two_digits(month).ok_or("expected a two-digit month")?;
    let day = two_digits(day).ok_or("expected a two-digit day")?;
    if year == 0 {
        return Err("there is no year 0".into());
    }
    if !(1..=12).contains(&month) {
        return Err(format!("month {month} is out of range").into());
    }
    let year = if before_christ { 1 - year } else { year };
    if day == 0 || day > days_in_month(year, month) {
        return Err(format!("day {day} is out of range for the month").into());
    }
    Ok(days_from_civil(year, month, day))
}

pub(crate) fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (astronomical year);
/// Howard Hinnant's `days_from_civil`. Exact for |year| < 10^9.
pub(crate) fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let shifted_month = (month + 9) % 12;
    let day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// `HH:MM:SS[.f{1,6}]` in microseconds; hours 0..=24, 24 only for 24:00:00.
fn clock_micros(clock: &str) -> Result<i128, Problem> {
    let (whole, fraction) = clock.split_once('.').unwrap_or((clock, ""));
    let mut fields = whole.splitn(3, ':');
    let (Some(hour), Some(minute), Some(second)) = (fields.next(), fields.next(), fields.next()) else {
        return Err("expected a time as HH:MM:SS".into());
    };
    let (Some(hour), Some(minute), Some(second)) = (two_digits(hour), two_digits(minute), two_digits(second)) else {
        return Err("expected two-digit hours, minutes and seconds".into());
    };
    let fraction_micros = if clock.contains('.') { fraction_micros(fraction)? } else { 0 };
    if minute > 59 || second > 59 || hour > 24 || (hour == 24 && (minute, second, fraction_micros) != (0, 0, 0)) {
        return Err("time of day out of range 00:00:00..=24:00:00".into());
    }
    Ok(i128::from((hour * 60 + minute) * 60 + second) * MICROS_PER_SECOND + i128::from(fraction_micros))
}

/// Microseconds from the 1 to 6 digits after a decimal point.
pub(crate) fn fraction_micros(fraction: &str) -> Result<i64, Problem> {
    if fraction.is_empty() || fraction.len() > 6 {
        return Err("expected 1 to 6 digits after the decimal point".into());
    }
    let value = decimal_number(fraction, 6).ok_or("expected digits after the decimal point")?;
    let padding = u32::try_from(6 - fraction.len()).unwrap_or(0);
    Ok(value * 10_i64.pow(padding))
}

/// Splits `clock±offset` at the offset's sign.
fn split_offset(text: &str) -> Option<(&str, &str)> {
    let sign = text.find(['+', '-'])?;
    Some((text.get(..sign)?, text.get(sign..)?))
}

/// `±HH[:MM[:SS]]` in seconds east of UTC.
fn parse_offset(offset: &str) -> Result<i32, Problem> {
    let malformed = || Problem::from("expected a UTC offset as ±HH[:MM[:SS]]");
    let (negative, unsigned) = match offset.as_bytes().first() {
        Some(b'+') => (false, offset.get(1..).ok_or_else(malformed)?),
        Some(b'-') => (true, offset.get(1..).ok_or_else(malformed)?),
        _ => return Err(malformed()),
    };
    let mut seconds = 0;
    let mut field_count: u32 = 0;
    for (index, field) in unsigned.split(':').enumerate() {
        let value = two_digits(field).ok_or_else(malformed)?;
        let limit = if index == 0 { 23 } else { 59 };
        if index > 2 || value > limit {
            return Err(malformed());
        }
        seconds = seconds * 60 + value;
        field_count += 1;
    }
    let seconds = seconds * 60_i64.pow(3 - field_count);
    let seconds = i32::try_from(seconds).map_err(|_| malformed())?;
    Ok(if negative { -seconds } else { seconds })
}

fn two_digits(text: &str) -> Option<i64> {
    if text.len() == 2 { decimal_number(text, 2) } else { None }
}

/// A non-empty run of at most `max_digits` ASCII digits (≤ 18, so no overflow).
pub(crate) fn decimal_number(text: &str, max_digits: usize) -> Option<i64> {
    if text.is_empty() || text.len() > max_digits.min(18) || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
#[path = "datetime_tests.rs"]
mod tests;
