//! Logging with tracing-subscriber: human lines by default, JSON on request.

use tracing_subscriber::EnvFilter;

use crate::settings::LogFormat;

/// Installs the global subscriber at `level` (`RELEASY_LOG`, when set, is a full filter
/// directive that overrides it). Does nothing when a subscriber is already installed,
/// as in tests that start several servers.
pub fn init(level: tracing::Level, format: LogFormat) {
    let filter = EnvFilter::try_from_env("RELEASY_LOG")
        .unwrap_or_else(|_| EnvFilter::new(level.as_str().to_ascii_lowercase()));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = match format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
    };
}
