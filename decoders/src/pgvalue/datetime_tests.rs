//! Date and time parsers against the exact strings PostgreSQL 15 prints, and a
//! round trip through a test-only formatter that prints as `timestamp_out` does.

use proptest::prelude::*;

use super::*;

/// Howard Hinnant's `civil_from_days`: (astronomical year, month, day).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 { shifted_month + 3 } else { shifted_month - 9 };
    (year_of_era + era * 400 + i64::from(month <= 2), month, day)
}

/// `YYYY-MM-DD` and whether ` BC` follows, as `EncodeDateOnly` prints it.
fn format_date(days: i64) -> (String, bool) {
    let (year, month, day) = civil_from_days(days);
    let (year, before_christ) = if year <= 0 { (1 - year, true) } else { (year, false) };
    (format!("{year:04}-{month:02}-{day:02}"), before_christ)
}

/// A timestamp as PostgreSQL prints it with `DateStyle=ISO`, `+00` appended for timestamptz.
fn format_timestamp(micros: i64, with_offset: bool) -> String {
    let days = micros.div_euclid(86_400_000_000);
    let clock = micros.rem_euclid(86_400_000_000);
    let (date, before_christ) = format_date(days);
    let (seconds, fraction) = (clock / 1_000_000, clock % 1_000_000);
    let mut text = format!("{date} {:02}:{:02}:{:02}", seconds / 3600, seconds / 60 % 60, seconds % 60);
    if fraction != 0 {
        text.push_str(format!(".{fraction:06}").trim_end_matches('0'));
    }
    if with_offset {
        text.push_str("+00");
    }
    if before_christ {
        text.push_str(" BC");
    }
    text
}

#[test]
fn dates() {
    // SELECT '0044-03-15 BC'::date, '4713-01-01 BC'::date, '5874897-12-31'::date, 'infinity'::date, ...
    assert_eq!(parse_date("1970-01-01"), Ok(Date::Days(0)));
    assert_eq!(parse_date("2000-01-01"), Ok(Date::Days(10_957)));
    assert_eq!(parse_date("0001-01-01"), Ok(Date::Days(-719_162)));
    assert_eq!(parse_date("0044-03-15 BC"), Ok(Date::Days(-735_160)));
    assert_eq!(parse_date("0001-12-31 BC"), Ok(Date::Days(-719_163)));
    assert_eq!(parse_date("4713-01-01 BC"), Ok(Date::Days(-2_440_550)));
    assert_eq!(parse_date("5874897-12-31"), Ok(Date::Days(2_145_042_905)));
    assert_eq!(parse_date("10000-01-01"), Ok(Date::Days(2_932_897)));
    assert_eq!(parse_date("2000-02-29"), Ok(Date::Days(11_016)));
    assert_eq!(parse_date("infinity"), Ok(Date::PositiveInfinity));
    assert_eq!(parse_date("-infinity"), Ok(Date::NegativeInfinity));
}

#[test]
fn dates_rejected() {
    for text in [
        "",
        "2020-1-01",
        "2020-13-01",
        "2021-02-29",
        "1900-02-29",
        "2020-04-31",
        "0000-01-01",
        "2020-01-00",
        "2020-01-01 AD",
        "-2020-01-01",
        "2020/01/01",
        "2020-01-01x",
        "Infinity",
        "999999999999-01-01",
    ] {
        assert!(parse_date(text).is_err(), "{text:?}");
    }
}

#[test]
fn times() {
    // SELECT '24:00:00'::time, '12:34:56.123456'::time, '12:00:00.000001'::time
    assert_eq!(parse_time("00:00:00"), Ok(0));
    assert_eq!(parse_time("24:00:00"), Ok(86_400_000_000));
    assert_eq!(parse_time("12:34:56.123456"), Ok(45_296_123_456));
    assert_eq!(parse_time("12:00:00.000001"), Ok(43_200_000_001));
    assert_eq!(parse_time("23:59:59.999999"), Ok(86_399_999_999));
    assert_eq!(parse_time("12:00:00.5"), Ok(43_200_500_000));
    for text in
        ["24:00:00.000001", "24:00:01", "12:60:00", "12:00:60", "12:00", "1:00:00", "12:00:00.", "12:00:00.1234567"]
    {
        assert!(parse_time(text).is_err(), "{text:?}");
    }
}

#[test]
fn times_with_zone() {
    // SELECT '12:00:00+05:30:15'::timetz, '24:00:00-15:59'::timetz, '00:00:00+15:59'::timetz, '12:00:00.5-03'::timetz
    let timetz = |micros, utc_offset_seconds| Ok(TimeTz { micros, utc_offset_seconds });
    assert_eq!(parse_timetz("12:00:00+05:30:15"), timetz(43_200_000_000, 19_815));
    assert_eq!(parse_timetz("24:00:00-15:59"), timetz(86_400_000_000, -57_540));
    assert_eq!(parse_timetz("00:00:00+15:59"), timetz(0, 57_540));
    assert_eq!(parse_timetz("12:00:00.5-03"), timetz(43_200_500_000, -10_800));
    assert_eq!(parse_timetz("12:00:00+00"), timetz(43_200_000_000, 0));
    for text in ["12:00:00", "12:00:00+5", "12:00:00+05:60", "12:00:00+05:30:15:00", "12:00:00+", "+05"] {
        assert!(parse_timetz(text).is_err(), "{text:?}");
    }
}

#[test]
fn timestamps() {
    // SELECT '294276-12-31 23:59:59.999999'::timestamp, '4714-11-24 00:00:00 BC'::timestamp, 'infinity'::timestamp,
    //        '2020-01-01 00:00:00.120'::timestamp, '0001-12-31 23:59:59 BC'::timestamp
    assert_eq!(parse_timestamp("1970-01-01 00:00:00", false), Ok(Timestamp::Micros(0)));
    // PostgreSQL's last timestamp is past i64 microseconds since 1970 (its own epoch is 2000): kept.
    assert!(
        matches!(parse_timestamp("294276-12-31 23:59:59.999999", false), Ok(Timestamp::Micros(m)) if m > i128::from(i64::MAX))
    );
    assert_eq!(parse_timestamp("4714-11-24 00:00:00 BC", false), Ok(Timestamp::Micros(-210_866_803_200_000_000)));
    assert_eq!(parse_timestamp("0001-12-31 23:59:59 BC", false), Ok(Timestamp::Micros(-62_135_596_801_000_000)));
    assert_eq!(parse_timestamp("2020-01-01 00:00:00.12", false), Ok(Timestamp::Micros(1_577_836_800_120_000)));
    assert_eq!(parse_timestamp("2020-01-01 00:00:00.000001", false), Ok(Timestamp::Micros(1_577_836_800_000_001)));
    assert_eq!(parse_timestamp("infinity", false), Ok(Timestamp::PositiveInfinity));
    assert_eq!(parse_timestamp("-infinity", true), Ok(Timestamp::NegativeInfinity));
    assert!(parse_timestamp("2020-01-01 00:00:00+00", false).is_err());
    assert!(parse_timestamp("2020-01-01", false).is_err());
    assert!(parse_timestamp("2020-01-01T00:00:00", false).is_err());
}

#[test]
fn timestamps_with_zone() {
    // SELECT '2020-01-01 12:00:00.1+05:30:15'::timestamptz → 2020-01-01 06:29:45.1+00; other offsets
    // from TimeZone='Asia/Kolkata' (+05:30, +05:21:10) and 'Europe/Amsterdam' (+00:19:32).
    let expected = Ok(Timestamp::Micros(1_577_860_185_100_000));
    assert_eq!(parse_timestamp("2020-01-01 06:29:45.1+00", true), expected);
    assert_eq!(parse_timestamp("2020-01-01 12:00:00.1+05:30:15", true), expected);
    assert_eq!(
        parse_timestamp("1900-01-01 00:00:00+05:21:10", true),
        Ok(Timestamp::Micros(-2_208_988_800_000_000 - 19_270_000_000))
    );
    assert_eq!(
        parse_timestamp("1900-01-01 00:00:00+00:19:32", true),
        Ok(Timestamp::Micros(-2_208_988_800_000_000 - 1_172_000_000))
    );
    assert_eq!(parse_timestamp("1969-12-31 19:00:00-05", true), Ok(Timestamp::Micros(0)));
    assert_eq!(parse_timestamp("4714-11-24 00:00:00+00 BC", true), Ok(Timestamp::Micros(-210_866_803_200_000_000)));
    assert!(
        matches!(parse_timestamp("294276-12-31 23:59:59.999999+00", true), Ok(Timestamp::Micros(m)) if m > i128::from(i64::MAX))
    );
    assert!(parse_timestamp("2020-01-01 00:00:00", true).is_err());
}

#[test]
fn timestamps_beyond_i64_micros_are_kept_exactly() {
    // PostgreSQL accepts timestamps to 294276 AD; after 294247-01-10 they pass i64
    // microseconds since 1970, and are kept exactly (a sink that cannot hold them says so).
    assert_eq!(format_timestamp(i64::MAX, false), "294247-01-10 04:00:54.775807");
    let max = i128::from(i64::MAX);
    assert_eq!(parse_timestamp("294247-01-10 04:00:54.775807", false), Ok(Timestamp::Micros(max)));
    assert_eq!(parse_timestamp("294247-01-10 04:00:54.775808", false), Ok(Timestamp::Micros(max + 1)));
    assert_eq!(parse_timestamp("294247-01-10 04:00:54.775807-00:00:01", true), Ok(Timestamp::Micros(max + 1_000_000)));
    assert!(
        matches!(parse_timestamp("294276-12-31 23:59:59.999999", false), Ok(Timestamp::Micros(micros)) if micros > max)
    );
    assert_eq!(
        timestamp_from_pg_micros(i64::MAX - 1),
        Ok(Timestamp::Micros(i128::from(i64::MAX - 1) + 946_684_800_000_000))
    );
}

#[test]
fn binary_epochs() {
    assert_eq!(date_from_pg_days(0), Ok(Date::Days(10_957)));
    assert_eq!(date_from_pg_days(i32::MAX), Ok(Date::PositiveInfinity));
    assert_eq!(date_from_pg_days(i32::MIN), Ok(Date::NegativeInfinity));
    assert!(date_from_pg_days(i32::MAX - 1).is_err());
    assert_eq!(timestamp_from_pg_micros(0), Ok(Timestamp::Micros(946_684_800_000_000)));
    assert_eq!(timestamp_from_pg_micros(i64::MAX), Ok(Timestamp::PositiveInfinity));
    assert_eq!(timestamp_from_pg_micros(i64::MIN), Ok(Timestamp::NegativeInfinity));
    assert!(timestamp_from_pg_micros(i64::MAX - 1).is_ok());
    assert_eq!(check_time_micros(86_400_000_000), Ok(86_400_000_000));
    assert!(check_time_micros(-1).is_err());
}

proptest! {
    #[test]
    fn timestamp_text_round_trips(micros in any::<i64>(), with_offset in any::<bool>()) {
        let text = format_timestamp(micros, with_offset);
        prop_assert_eq!(parse_timestamp(&text, with_offset), Ok(Timestamp::Micros(i128::from(micros))), "{}", text);
    }

    #[test]
    fn date_text_round_trips(days in -2_000_000_000_i32..=2_000_000_000) {
        let (date, before_christ) = format_date(i64::from(days));
        let text = if before_christ { format!("{date} BC") } else { date };
        prop_assert_eq!(parse_date(&text), Ok(Date::Days(days)), "{}", text);
    }
}
