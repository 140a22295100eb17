//! What a command prints on standard output: a human table by default, or, with
//! `--json`, one JSON document whose shape is the API's (or, for `publish`, `upload`
//! and `download`, the CLI's own documented shape). Diagnostics and progress go to
//! standard error, so `--json` output can be piped as it is.

mod table;
mod time;

use std::io::Write;

use serde::Serialize;

pub use table::{Table, short_digest};
pub use time::{format_time, format_time_opt, now, parse_end_time, parse_time};

/// The output mode of a run.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    json: bool,
}

impl Output {
    /// JSON when `json`, human text otherwise.
    pub fn new(json: bool) -> Self {
        Self { json }
    }

    /// Prints `value` as JSON with `--json`, otherwise the text `human` makes.
    pub fn emit<T: Serialize>(self, value: &T, human: impl FnOnce() -> String) {
        if self.json {
            match serde_json::to_string_pretty(value) {
                Ok(text) => print_stdout(&text),
                Err(e) => eprintln!("error: cannot encode the output as JSON: {e}"),
            }
        } else {
            print_stdout(&human());
        }
    }

    /// A status line on standard error (not with `--json`: stderr then holds only
    /// progress and errors).
    pub fn note(self, line: &str) {
        if !self.json {
            eprintln!("{line}");
        }
    }
}

/// `rendered` (a table of `shown` rows of a page asked at `offset` with `limit`), and,
/// when the page is full, the line that asks for the next one: a listing cut at the
/// server's page size never looks complete.
pub fn with_offset_hint(mut rendered: String, shown: usize, limit: i64, offset: i64) -> String {
    let shown = i64::try_from(shown).unwrap_or(i64::MAX);
    if shown > 0 && shown >= limit {
        rendered.push_str(&format!(
            "\nmore: --offset {}",
            offset.saturating_add(shown)
        ));
    }
    rendered
}

/// Writes `text` and a newline to standard output, ignoring a closed pipe.
fn print_stdout(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", text.trim_end_matches('\n'));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_page_says_how_to_ask_for_the_next() {
        assert_eq!(
            with_offset_hint("t".into(), 50, 50, 0),
            "t\nmore: --offset 50"
        );
        assert_eq!(
            with_offset_hint("t".into(), 10, 10, 30),
            "t\nmore: --offset 40"
        );
        assert_eq!(with_offset_hint("t".into(), 49, 50, 0), "t");
        assert_eq!(with_offset_hint("t".into(), 0, 50, 100), "t");
    }
}
