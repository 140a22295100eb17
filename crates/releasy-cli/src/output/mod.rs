//! What a command prints on standard output: a human table by default, or, with
//! `--json`, one JSON document whose shape is the API's (or, for `publish`, `upload`
//! and `download`, the CLI's own documented shape). Diagnostics and progress go to
//! standard error, so `--json` output can be piped as it is.

mod table;
mod time;

use std::io::Write;

use serde::Serialize;

use crate::error::CliError;

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
    ///
    /// # Errors
    /// [`CliError::Io`] when standard output cannot take it (a full disk under
    /// `> out.json`): the run must not end well with its answer lost. A reader that
    /// went away (`| head`) is no error; see [`Self::emit_secret`] for output that must
    /// be read.
    pub fn emit<T: Serialize>(
        self,
        value: &T,
        human: impl FnOnce() -> String,
    ) -> Result<(), CliError> {
        let text = self.render(value, human)?;
        print_stdout(&mut std::io::stdout().lock(), &text, Reader::MayLeave)
    }

    /// As [`Self::emit`], for output that holds a secret shown only once (a new key):
    /// a reader that went away before it was written fails the run too.
    ///
    /// # Errors
    /// [`CliError::Io`] when standard output cannot take it, a closed pipe included.
    pub fn emit_secret<T: Serialize>(
        self,
        value: &T,
        human: impl FnOnce() -> String,
    ) -> Result<(), CliError> {
        let text = self.render(value, human)?;
        print_stdout(&mut std::io::stdout().lock(), &text, Reader::MustRead)
    }

    fn render<T: Serialize>(
        self,
        value: &T,
        human: impl FnOnce() -> String,
    ) -> Result<String, CliError> {
        if self.json {
            serde_json::to_string_pretty(value)
                .map_err(|e| CliError::io(STDOUT, std::io::Error::other(e)))
        } else {
            Ok(human())
        }
    }

    /// A status line on standard error (not with `--json`: stderr then holds only
    /// progress and errors).
    pub fn note(self, line: &str) {
        if !self.json {
            print_stderr(line);
        }
    }
}

/// How standard output is named in errors.
const STDOUT: &str = "standard output";

/// Writes `line` and a newline to standard error. Unlike `eprintln!`, which panics
/// when it cannot (a closed pipe: `2>&1 | head`), it lets the run go on: what goes
/// there is diagnostics and progress.
pub fn print_stderr(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
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

/// Whether output may go unread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reader {
    /// A reader that went away (`| head`) wanted no more: no error.
    MayLeave,
    /// The output is lost if unread (a secret shown once): a closed pipe is an error.
    MustRead,
}

/// Writes `text` and a newline to `out` and flushes it.
fn print_stdout(out: &mut impl Write, text: &str, reader: Reader) -> Result<(), CliError> {
    let written = writeln!(out, "{}", text.trim_end_matches('\n')).and_then(|()| out.flush());
    match written {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe && reader == Reader::MayLeave => {
            Ok(())
        }
        Err(e) => Err(CliError::io(STDOUT, e)),
        Ok(()) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Standard output whose every write fails with `kind`.
    struct Failing(std::io::ErrorKind);

    impl Write for Failing {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::from(self.0))
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Standard output on a full disk.
    fn full() -> Failing {
        Failing(std::io::ErrorKind::StorageFull)
    }

    /// A reader that went away.
    fn closed() -> Failing {
        Failing(std::io::ErrorKind::BrokenPipe)
    }

    #[test]
    fn output_that_cannot_be_written_fails_the_run_unless_its_reader_left() {
        let failed = print_stdout(&mut full(), "a table", Reader::MayLeave).unwrap_err();
        assert_eq!(failed.code(), "io_error");
        assert!(
            failed.to_string().starts_with("standard output: "),
            "{failed}"
        );
        print_stdout(&mut closed(), "a table", Reader::MayLeave).unwrap();
        let mut written = Vec::new();
        print_stdout(&mut written, "a table\n", Reader::MayLeave).unwrap();
        assert_eq!(written, b"a table\n");
    }

    #[test]
    fn a_secret_nobody_read_fails_the_run() {
        let failed = print_stdout(&mut closed(), "the key", Reader::MustRead).unwrap_err();
        assert_eq!(failed.code(), "io_error");
        assert!(print_stdout(&mut full(), "the key", Reader::MustRead).is_err());
    }

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
