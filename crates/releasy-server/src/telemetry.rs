//! Logging with tracing-subscriber: human lines by default, JSON on request; and the
//! export of traces when `RELEASY_OTLP_ENDPOINT` is set.

use std::io::IsTerminal;

use releasy_traces::TraceExport;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

use crate::settings::LogFormat;

/// Libraries whose debug output carries what must never be logged: the PostgreSQL
/// driver prints every statement's bind values (key hashes, stored idempotent answers
/// that hold a download link). They log at `info` at most, whatever the level; only a
/// `RELEASY_LOG` directive that names them asks for more.
const QUIET_LIBRARIES: [&str; 1] = ["tokio_postgres"];

/// The filter `RELEASY_LOG_LEVEL` stands for: `level` for everything, the
/// [`QUIET_LIBRARIES`] at `info` at most.
fn level_directive(level: tracing::Level) -> String {
    // `Level` orders the more verbose higher: the smaller of the two is the quieter.
    let quiet = level
        .min(tracing::Level::INFO)
        .as_str()
        .to_ascii_lowercase();
    let mut directive = level.as_str().to_ascii_lowercase();
    for library in QUIET_LIBRARIES {
        directive.push_str(&format!(",{library}={quiet}"));
    }
    directive
}

/// A `RELEASY_LOG` directive with the [`QUIET_LIBRARIES`] it does not name held to its
/// loudest level, and to `info` at most (`debug` alone must not print bind values).
fn quieted(directive: &str) -> String {
    let Ok(filter) = EnvFilter::try_new(directive) else {
        return directive.to_owned();
    };
    let loudest = filter
        .max_level_hint()
        .unwrap_or(tracing::level_filters::LevelFilter::TRACE);
    let quiet = loudest
        .min(tracing::level_filters::LevelFilter::INFO)
        .to_string()
        .to_ascii_lowercase();
    let mut quieted = directive.to_owned();
    for library in QUIET_LIBRARIES {
        if !names_target(directive, library) {
            quieted.push_str(&format!(",{library}={quiet}"));
        }
    }
    quieted
}

/// Whether one of `directive`'s parts sets the level of `target` itself: naming one of
/// its modules (`tokio_postgres::connection=warn`) leaves the rest at the default, and
/// so does a part narrowed to spans (`tokio_postgres[query]=trace`): outside them, the
/// driver would log at the default level.
fn names_target(directive: &str, target: &str) -> bool {
    directive.split(',').any(|part| {
        !part.contains('[')
            && part
                .split('=')
                .next()
                .is_some_and(|named| named.trim() == target)
    })
}

/// How the log lines are filtered and written: `RELEASY_LOG_LEVEL`, `RELEASY_LOG` (a full
/// filter directive that overrides the level, when set) and `RELEASY_LOG_FORMAT`.
#[derive(Debug, Clone, Copy)]
pub struct LogSettings<'a> {
    /// `RELEASY_LOG_LEVEL`.
    pub level: tracing::Level,
    /// `RELEASY_LOG`.
    pub directive: Option<&'a str>,
    /// `RELEASY_LOG_FORMAT`.
    pub format: LogFormat,
}

impl<'a> From<&'a crate::settings::Settings> for LogSettings<'a> {
    fn from(settings: &'a crate::settings::Settings) -> Self {
        Self {
            level: settings.log_level,
            directive: settings.log_directive.as_deref(),
            format: settings.log_format,
        }
    }
}

/// Installs the global subscriber as `log` says, and with `traces`, the layer that
/// exports Releasy's spans (whatever the log level). Does nothing when a subscriber is
/// already installed, as in tests that start several servers.
pub fn init(log: LogSettings<'_>, traces: Option<&TraceExport>) {
    let colours = colours_on(&std::io::stdout());
    init_writing_to(log, std::io::stdout, colours, traces);
}

/// As [`init`], logging to standard error: for commands whose output is a report.
pub fn init_on_stderr(log: LogSettings<'_>) {
    let colours = colours_on(&std::io::stderr());
    init_writing_to(log, std::io::stderr, colours, None);
}

/// Colours only on a terminal (not in a log file, a pipe or the journal), and not
/// when `NO_COLOR` is set (<https://no-color.org>).
fn colours_on(output: &impl IsTerminal) -> bool {
    output.is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty())
}

fn init_writing_to<W>(log: LogSettings<'_>, writer: W, colours: bool, traces: Option<&TraceExport>)
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = line_filter(log.directive, log.level);
    let lines = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_ansi(colours);
    // The filter belongs to the log lines alone: spans are exported whatever the level.
    let lines = match log.format {
        LogFormat::Human => lines.with_filter(filter).boxed(),
        LogFormat::Json => lines
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_filter(filter)
            .boxed(),
    };
    let _ = tracing_subscriber::registry()
        .with(lines)
        .with(traces.map(TraceExport::layer))
        .try_init();
}

/// Which events become log lines: `RELEASY_LOG` (`directive`) when set and valid, else
/// `level`; and whatever they say, the [`QUIET_LIBRARIES`] at `info` at most unless a
/// part of `RELEASY_LOG` without a span names them. That cap stands beside the filter:
/// a part narrowed to spans (`[request]=debug`) lets every target through inside them,
/// the driver's statements too.
fn line_filter<S>(
    directive: Option<&str>,
    level: tracing::Level,
) -> impl tracing_subscriber::layer::Filter<S> + Send + Sync + 'static
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    use tracing_subscriber::filter::{FilterExt as _, LevelFilter, filter_fn};
    let named = directive.is_some_and(|directive| {
        QUIET_LIBRARIES
            .iter()
            .any(|library| names_target(directive, library))
    });
    let cap = if named {
        LevelFilter::TRACE
    } else {
        LevelFilter::INFO
    };
    let filter = directive
        .and_then(|directive| EnvFilter::try_new(quieted(directive)).ok())
        .unwrap_or_else(|| EnvFilter::new(level_directive(level)));
    filter.and(filter_fn(move |metadata| {
        let quiet = QUIET_LIBRARIES.iter().any(|library| {
            metadata
                .target()
                .strip_prefix(library)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
        });
        !quiet || *metadata.level() <= cap
    }))
}

#[cfg(test)]
mod tests {
    use tracing_subscriber::Layer as _;

    use super::{level_directive, line_filter, quieted};

    #[test]
    fn the_database_driver_never_logs_below_info() {
        assert_eq!(
            level_directive(tracing::Level::DEBUG),
            "debug,tokio_postgres=info"
        );
        assert_eq!(
            level_directive(tracing::Level::TRACE),
            "trace,tokio_postgres=info"
        );
        assert_eq!(
            level_directive(tracing::Level::WARN),
            "warn,tokio_postgres=warn"
        );
        // Every directive the levels make is one the filter accepts.
        for level in [tracing::Level::TRACE, tracing::Level::ERROR] {
            tracing_subscriber::EnvFilter::try_new(level_directive(level)).unwrap();
        }
    }

    #[test]
    fn a_full_directive_keeps_the_database_driver_at_info_unless_it_names_it() {
        assert_eq!(quieted("debug"), "debug,tokio_postgres=info");
        assert_eq!(
            quieted("warn,releasy_http=trace"),
            "warn,releasy_http=trace,tokio_postgres=info"
        );
        assert_eq!(quieted("warn"), "warn,tokio_postgres=warn");
        assert_eq!(
            quieted("debug,tokio_postgres=debug"),
            "debug,tokio_postgres=debug"
        );
        // One of its modules named: the rest (its statements' bind values) stays held.
        assert_eq!(
            quieted("debug,tokio_postgres::connection=warn"),
            "debug,tokio_postgres::connection=warn,tokio_postgres=info"
        );
        assert_eq!(
            quieted("debug,tokio_postgres[query]=trace"),
            "debug,tokio_postgres[query]=trace,tokio_postgres=info"
        );
    }

    /// Lines written under `directive`: a driver statement and a request's line, both
    /// at debug inside a request span.
    fn lines_under(directive: &str) -> String {
        use std::sync::{Arc, Mutex};
        use tracing_subscriber::layer::SubscriberExt as _;

        #[derive(Clone, Default)]
        struct Captured(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Captured {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let captured = Captured::default();
        let writer = captured.clone();
        let lines = tracing_subscriber::fmt::layer()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_filter(line_filter(Some(directive), tracing::Level::INFO));
        let subscriber = tracing_subscriber::registry().with(lines);
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("request");
            let _inside = span.enter();
            tracing::debug!(target: "tokio_postgres::query", "executing statement with parameters: [hash]");
            tracing::debug!(target: "releasy_http", "request line");
        });
        String::from_utf8(captured.0.lock().unwrap().clone()).unwrap()
    }

    /// A part narrowed to spans lets every target through inside them: the driver's
    /// bind values stay out all the same, unless a part names the driver itself.
    #[test]
    fn the_database_driver_stays_quiet_inside_a_span_a_directive_opens() {
        let lines = lines_under("info,[request]=debug");
        assert!(lines.contains("request line"), "{lines}");
        assert!(!lines.contains("parameters"), "{lines}");
        let asked = lines_under("info,[request]=debug,tokio_postgres=debug");
        assert!(asked.contains("parameters"), "{asked}");
    }
}
