//! One error type for the harness: a message with its context, printed on exit.

use std::fmt::Display;

/// What went wrong, with the context it happened in.
#[derive(Debug)]
pub struct Fail(pub String);

impl Display for Fail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Fail {}

/// The harness's result type.
pub type Result<T> = std::result::Result<T, Fail>;

/// Adds what was being done to an error.
pub trait Context<T> {
    /// `what: error`.
    fn ctx(self, what: impl Display) -> Result<T>;
}

impl<T, E: Display> Context<T> for std::result::Result<T, E> {
    fn ctx(self, what: impl Display) -> Result<T> {
        self.map_err(|e| Fail(format!("{what}: {e}")))
    }
}

impl<T> Context<T> for Option<T> {
    fn ctx(self, what: impl Display) -> Result<T> {
        self.ok_or_else(|| Fail(what.to_string()))
    }
}

/// Returns early with a formatted [`Fail`].
macro_rules! bail {
    ($($arg:tt)*) => {
        return Err($crate::fail::Fail(format!($($arg)*)))
    };
}
pub(crate) use bail;
