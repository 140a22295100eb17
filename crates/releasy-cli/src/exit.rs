//! The process exit codes: stable, documented in `--help` and `docs/cli.md`, so scripts
//! can branch on them.

/// What a run ended with. The numbers never change meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything asked for was done.
    Ok = 0,
    /// A local problem: a file that cannot be read or written.
    Failure = 1,
    /// Bad arguments or configuration, or a request the server refused as invalid (400).
    Usage = 2,
    /// Missing credentials, or the server said 401 or 403.
    Auth = 3,
    /// The server said 404, or nothing matched what was asked for.
    NotFound = 4,
    /// The server said 409, or the release already holds a different file.
    Conflict = 5,
    /// The server failed (5xx), could not be reached, or answered something unexpected.
    Server = 6,
    /// A downloaded file's sha256 differs from the listed checksum (the file is deleted).
    ChecksumMismatch = 7,
}

impl Exit {
    /// The number the process exits with.
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// The table shown at the end of `releasy --help`.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success
  1  local error (a file cannot be read or written)
  2  usage: bad arguments or configuration, or the server answered 400
  3  auth: missing credentials, or the server answered 401 or 403
  4  not found: the server answered 404, or nothing matched
  5  conflict: the server answered 409, or the release holds a different file
  6  server or network error: 5xx or 429, unreachable, or an unexpected answer
  7  checksum mismatch: the downloaded file was deleted

Configuration: flags, then environment variables (RELEASY_URL, RELEASY_ADMIN_API_KEY,
RELEASY_API_KEY, RELEASY_OPERATOR_TOKEN), then the profile file
(--config / RELEASY_CONFIG, default ~/.config/releasy/config.toml; --profile /
RELEASY_PROFILE picks a [profiles.NAME] table). See docs/cli.md.";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable() {
        let all = [
            (Exit::Ok, 0),
            (Exit::Failure, 1),
            (Exit::Usage, 2),
            (Exit::Auth, 3),
            (Exit::NotFound, 4),
            (Exit::Conflict, 5),
            (Exit::Server, 6),
            (Exit::ChecksumMismatch, 7),
        ];
        for (exit, code) in all {
            assert_eq!(exit.code(), code);
            if code > 0 {
                assert!(EXIT_CODES_HELP.contains(&format!("  {code}  ")));
            }
        }
    }
}
