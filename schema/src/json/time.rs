//! Calendar arithmetic for rendering dates, times and intervals in the ISO 8601
//! forms PostgreSQL accepts back (proleptic Gregorian; years before 1 AD are
//! written PostgreSQL's way, `0044-03-15 BC`).

use std::fmt::Write;

use wellhead_decoders::change::Interval;

const MICROS_PER_SECOND: i64 = 1_000_000;
const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;

/// (year, month, day) of a day count since 1970-01-01 (Howard Hinnant's `civil_from_days`).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn write_civil_date(out: &mut String, days: i64) -> bool {
    let (year, month, day) = civil_from_days(days);
    let before_christ = year <= 0;
    let shown_year = if before_christ { 1 - year } else { year };
    let _ = write!(out, "{shown_year:04}-{month:02}-{day:02}");
    before_christ
}

/// `YYYY-MM-DD` (with ` BC` for years before 1 AD).
pub fn write_date(out: &mut String, days: i32) {
    if write_civil_date(out, i64::from(days)) {
        out.push_str(" BC");
    }
}

/// `HH:MM:SS[.ffffff]` with trailing zeros of the fraction dropped.
pub fn write_time_of_day(out: &mut impl Write, micros: i64) {
    let seconds = micros.div_euclid(MICROS_PER_SECOND);
    let fraction = micros.rem_euclid(MICROS_PER_SECOND);
    let _ = write!(out, "{:02}:{:02}:{:02}", seconds / 3600, seconds / 60 % 60, seconds % 60);
    write_fraction(out, fraction);
}

fn write_fraction(out: &mut impl Write, fraction_micros: i64) {
    if fraction_micros != 0 {
        let (mut digits, mut width) = (fraction_micros, 6);
        while digits % 10 == 0 {
            digits /= 10;
            width -= 1;
        }
        let _ = write!(out, ".{digits:0width$}");
    }
}

/// `[-]H:MM:SS[.ffffff]` for a signed duration (MySQL TIME), hours unbounded.
pub fn write_duration(out: &mut String, micros: i64) {
    if micros < 0 {
        out.push('-');
    }
    let magnitude = micros.unsigned_abs();
    let seconds = magnitude / 1_000_000;
    let _ = write!(out, "{:02}:{:02}:{:02}", seconds / 3600, seconds / 60 % 60, seconds % 60);
    write_fraction(out, (magnitude % 1_000_000) as i64);
}

/// `YYYY-MM-DDTHH:MM:SS[.ffffff][+00:00][ BC]` for microseconds since 1970.
pub fn write_timestamp(out: &mut String, micros: i128, with_zone: bool) {
    let per_day = i128::from(MICROS_PER_DAY);
    // Any timestamp a database holds has far fewer days than i64 counts.
    let days = i64::try_from(micros.div_euclid(per_day)).unwrap_or(i64::MAX);
    let time = i64::try_from(micros.rem_euclid(per_day)).unwrap_or_default();
    let before_christ = write_civil_date(out, days);
    out.push('T');
    write_time_of_day(out, time);
    if with_zone {
        out.push_str("+00:00");
    }
    if before_christ {
        out.push_str(" BC");
    }
}

/// ISO 8601 duration, each field with its own sign, as PostgreSQL's `iso_8601` style.
pub fn write_interval(out: &mut impl Write, interval: &Interval) {
    if interval.months == i32::MAX && interval.days == i32::MAX && interval.micros == i64::MAX {
        let _ = out.write_str("infinity");
        return;
    }
    if interval.months == i32::MIN && interval.days == i32::MIN && interval.micros == i64::MIN {
        let _ = out.write_str("-infinity");
        return;
    }
    let _ = out.write_char('P');
    let (years, months) = (interval.months / 12, interval.months % 12);
    for (amount, unit) in [(i64::from(years), 'Y'), (i64::from(months), 'M'), (i64::from(interval.days), 'D')] {
        if amount != 0 {
            let _ = write!(out, "{amount}{unit}");
        }
    }
    if interval.micros != 0 {
        let _ = out.write_char('T');
        let hours = interval.micros / 3_600_000_000;
        let minutes = interval.micros % 3_600_000_000 / 60_000_000;
        let second_micros = interval.micros % 60_000_000;
        if hours != 0 {
            let _ = write!(out, "{hours}H");
        }
        if minutes != 0 {
            let _ = write!(out, "{minutes}M");
        }
        if second_micros != 0 {
            let sign = if second_micros < 0 { "-" } else { "" };
            let magnitude = second_micros.unsigned_abs();
            let _ = write!(out, "{sign}{}", magnitude / 1_000_000);
            write_fraction(out, (magnitude % 1_000_000) as i64);
            let _ = out.write_char('S');
        }
    }
    if interval.months == 0 && interval.days == 0 && interval.micros == 0 {
        let _ = out.write_str("T0S");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_timestamps_render_like_postgres() {
        let mut out = String::new();
        write_date(&mut out, 0);
        assert_eq!(out, "1970-01-01");
        out.clear();
        // 0044-03-15 BC is astronomical year -43.
        write_date(&mut out, -735_160);
        assert_eq!(out, "0044-03-15 BC");
        out.clear();
        write_timestamp(&mut out, 1_714_564_800_500_000, true);
        assert_eq!(out, "2024-05-01T12:00:00.5+00:00");
        out.clear();
        write_time_of_day(&mut out, 86_400_000_000);
        assert_eq!(out, "24:00:00");
    }

    #[test]
    fn intervals_render_as_iso_8601() {
        let render = |months, days, micros| {
            let mut out = String::new();
            write_interval(&mut out, &Interval { months, days, micros });
            out
        };
        assert_eq!(render(14, 3, 4 * 3_600_000_000 + 5 * 60_000_000 + 6_500_000), "P1Y2M3DT4H5M6.5S");
        assert_eq!(render(0, 0, 0), "PT0S");
        assert_eq!(render(-14, 0, -6_500_000), "P-1Y-2MT-6.5S");
    }
}
