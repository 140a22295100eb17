//! Timestamps: Unix seconds from the API shown as UTC RFC 3339, and time arguments
//! read as Unix seconds, an RFC 3339 time, or a date.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `2026-01-31T12:00:00Z` for Unix seconds.
pub fn format_time(seconds: i64) -> String {
    u64::try_from(seconds)
        .ok()
        .and_then(|s| UNIX_EPOCH.checked_add(Duration::from_secs(s)))
        .map(|t| humantime::format_rfc3339_seconds(t).to_string())
        .unwrap_or_else(|| seconds.to_string())
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
/// A message for anything else.
pub fn parse_time(raw: &str) -> Result<i64, String> {
    let raw = raw.trim();
    if let Ok(seconds) = raw.parse::<i64>() {
        return Ok(seconds);
    }
    let not_a_time = || {
        format!(
            "`{raw}` is not a time: use Unix seconds, 2026-01-01 or 2026-01-01T00:00:00Z \
             (or an offset: 2026-01-01T02:00:00+02:00)"
        )
    };
    let mut full = if raw.len() == 10 {
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
    let seconds = time.unix_timestamp();
    if seconds < 0 {
        return Err(format!("`{raw}` is before 1970"));
    }
    Ok(seconds)
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
    fn formats_and_parses_times() {
        assert_eq!(format_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_time(1_767_225_600), "2026-01-01T00:00:00Z");
        assert_eq!(format_time_opt(None), "-");
        assert_eq!(parse_time("1767225600"), Ok(1_767_225_600));
        assert_eq!(parse_time("2026-01-01"), Ok(1_767_225_600));
        assert_eq!(parse_time("2026-01-01T00:00:00Z"), Ok(1_767_225_600));
        assert!(parse_time("next week").is_err());
        assert!(parse_time("1969-12-31T23:59:59Z").is_err());
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
