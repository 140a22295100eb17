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
/// (`2026-01-01T00:00:00Z`) or a date (`2026-01-01`, midnight UTC).
///
/// # Errors
/// A message for anything else.
pub fn parse_time(raw: &str) -> Result<i64, String> {
    let raw = raw.trim();
    if let Ok(seconds) = raw.parse::<i64>() {
        return Ok(seconds);
    }
    let full = if raw.len() == 10 {
        format!("{raw}T00:00:00Z")
    } else {
        raw.to_owned()
    };
    let time = humantime::parse_rfc3339_weak(&full).map_err(|_| {
        format!("`{raw}` is not a time: use Unix seconds, 2026-01-01 or 2026-01-01T00:00:00Z")
    })?;
    time.duration_since(UNIX_EPOCH)
        .map_err(|_| format!("`{raw}` is before 1970"))
        .and_then(|d| i64::try_from(d.as_secs()).map_err(|_| format!("`{raw}` is too far")))
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
        assert!(now() > 1_700_000_000);
    }
}
