//! Timestamps: Unix seconds from the API shown as UTC RFC 3339, and time arguments
//! read as Unix seconds, an RFC 3339 time, or a date.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The last second RFC 3339 can write: 9999-12-31T23:59:59Z.
const LAST_RFC3339_SECOND: i64 = 253_402_300_799;

/// `2026-01-31T12:00:00Z` for Unix seconds; a time RFC 3339 cannot write (before 1970
/// here, or after the year 9999, which the server may hold: it stores any future
/// second) as the number it is.
pub fn format_time(seconds: i64) -> String {
    if !(0..=LAST_RFC3339_SECOND).contains(&seconds) {
        return seconds.to_string();
    }
    u64::try_from(seconds)
        .ok()
        .and_then(|s| UNIX_EPOCH.checked_add(Duration::from_secs(s)))
        .map_or_else(
            || seconds.to_string(),
            |t| humantime::format_rfc3339_seconds(t).to_string(),
        )
}

/// [`format_time`], or `-` for none.
pub fn format_time_opt(seconds: Option<i64>) -> String {
    seconds.map_or_else(|| "-".to_owned(), format_time)
}

/// Reads a time argument: Unix seconds (`1767225600`), an RFC 3339 time
/// (`2026-01-01T00:00:00Z`, `2026-01-01T02:00:00.5+02:00`; a space may stand for the
/// `T`, and a time without an offset is UTC) or a date (`2026-01-01`, midnight UTC).
///
/// # Errors
/// A message for anything else, and for a time before 1970 or after the year 9999
/// (most likely milliseconds given for seconds).
pub fn parse_time(raw: &str) -> Result<i64, String> {
    let raw = raw.trim();
    if let Ok(seconds) = raw.parse::<i64>() {
        return match seconds {
            ..0 => Err(format!("`{raw}` is before 1970")),
            0..=LAST_RFC3339_SECOND => Ok(seconds),
            _ => Err(format!(
                "`{raw}` is after the year 9999: give Unix seconds, not milliseconds"
            )),
        };
    }
    let not_a_time = || {
        format!(
            "`{raw}` is not a time: use Unix seconds, 2026-01-01 or 2026-01-01T00:00:00Z \
             (or an offset: 2026-01-01T02:00:00+02:00)"
        )
    };
    let mut full = if is_date_alone(raw) {
        format!("{raw}T00:00:00")
    } else {
        raw.to_owned()
    };
    if full.as_bytes().get(10) == Some(&b' ') {
        full.replace_range(10..11, "T");
    }
    let time_part = full.get(11..).ok_or_else(not_a_time)?;
    let has_offset = time_part.ends_with(['Z', 'z']) || time_part.contains(['+', '-']);
    if !has_offset {
        full.push('Z');
    }
    let time = time::OffsetDateTime::parse(&full, &time::format_description::well_known::Rfc3339)
        .map_err(|_| not_a_time())?;
    match time.unix_timestamp() {
        ..0 => Err(format!("`{raw}` is before 1970")),
        seconds @ 0..=LAST_RFC3339_SECOND => Ok(seconds),
        _ => Err(format!("`{raw}` is after the year 9999")),
    }
}

/// Reads the end of a range, as [`parse_time`] reads any time, except that a date alone
/// stands for its last second (`2026-01-31` is `2026-01-31T23:59:59Z`): `--to
/// 2026-01-31` takes in that whole day, as the statistics' whole UTC days do.
///
/// # Errors
/// As [`parse_time`].
pub fn parse_end_time(raw: &str) -> Result<i64, String> {
    let start = parse_time(raw)?;
    Ok(if is_date_alone(raw.trim()) {
        start + 86_399
    } else {
        start
    })
}

/// Whether `raw` (trimmed) is what [`parse_time`] reads as a date alone: ten
/// characters that are not seconds.
fn is_date_alone(raw: &str) -> bool {
    raw.len() == 10 && raw.parse::<i64>().is_err()
}

/// Unix seconds now.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_date_ending_a_range_takes_in_its_whole_day() {
        assert_eq!(parse_end_time("2026-01-01"), Ok(1_767_225_600 + 86_399));
        assert_eq!(parse_end_time(" 2026-01-01 "), Ok(1_767_225_600 + 86_399));
        // A time, or seconds, are taken as given.
        assert_eq!(parse_end_time("2026-01-01T00:00:00Z"), Ok(1_767_225_600));
        assert_eq!(parse_end_time("1767225600"), Ok(1_767_225_600));
        assert_eq!(parse_end_time("0000000001"), Ok(1));
        assert!(parse_end_time("2026-13-01").is_err());
    }

    #[test]
    fn formats_and_parses_times() {
        assert_eq!(format_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_time(1_767_225_600), "2026-01-01T00:00:00Z");
        assert_eq!(format_time_opt(None), "-");
        assert_eq!(parse_time("1767225600"), Ok(1_767_225_600));
        assert_eq!(parse_time("2026-01-01"), Ok(1_767_225_600));
        assert_eq!(parse_time("2026-01-01T00:00:00Z"), Ok(1_767_225_600));
        assert!(parse_time("next week").is_err());
        assert!(parse_time("1969-12-31T23:59:59Z").is_err());
        assert!(parse_time("-1").is_err());
    }

    /// A time in milliseconds by mistake is refused before anything is sent; one the
    /// server holds anyway (set another way) is shown as its number, never a panic
    /// after the server acted (humantime refuses to write years past 9999).
    #[test]
    fn times_rfc_3339_cannot_write_are_refused_or_shown_as_numbers() {
        assert_eq!(format_time(253_402_300_799), "9999-12-31T23:59:59Z");
        assert_eq!(format_time(253_402_300_800), "253402300800");
        assert_eq!(format_time(1_767_225_600_000), "1767225600000");
        assert_eq!(format_time(i64::MAX), i64::MAX.to_string());
        assert_eq!(format_time(-1), "-1");
        assert_eq!(parse_time("253402300799"), Ok(253_402_300_799));
        let refused = parse_time("1767225600000").unwrap_err();
        assert!(refused.contains("milliseconds"), "{refused}");
        assert!(parse_time("9999-12-31T23:30:00-01:00").is_err());
    }

    #[test]
    fn an_offset_moves_the_time_with_or_without_a_fraction() {
        // Python's `isoformat()` writes fractions and an offset; neither may be lost.
        assert_eq!(parse_time("2026-01-01T02:00:00+02:00"), Ok(1_767_225_600));
        assert_eq!(
            parse_time("2026-01-01T02:00:00.000000+02:00"),
            Ok(1_767_225_600)
        );
        assert_eq!(parse_time("2025-12-31T19:00:00-05:00"), Ok(1_767_225_600));
        assert_eq!(parse_time("2026-01-01 00:00:00Z"), Ok(1_767_225_600));
        assert_eq!(parse_time("2026-01-01T00:00:00"), Ok(1_767_225_600));
        assert_eq!(parse_time("2026-01-01 00:00:00.9"), Ok(1_767_225_600));
        assert!(parse_time("2026-01-01T00:00:00+25:00").is_err());
        assert!(parse_time("2026-13-01").is_err());
        assert!(now() > 1_700_000_000);
    }
}
