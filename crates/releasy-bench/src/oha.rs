//! Driving one scenario with `oha` and reading its JSON summary.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::fail::{Context, Result, bail};

/// The request body of a scenario.
#[derive(Debug, Clone)]
pub enum Body {
    /// No body.
    None,
    /// The same JSON body on every request (`-d`).
    Json(String),
    /// A JSON body drawn at random from the lines of a file for each request (`-Z`).
    JsonLines(PathBuf),
}

/// One load: what every request looks like.
#[derive(Debug, Clone)]
pub struct Load {
    /// `GET` or `POST`.
    pub method: &'static str,
    /// The full URL.
    pub url: String,
    /// Extra headers, `name: value`.
    pub headers: Vec<String>,
    /// The body.
    pub body: Body,
}

/// What `oha` measured.
#[derive(Debug, Clone, Default)]
pub struct Measured {
    /// Responses and failures per second over the run.
    pub rps: f64,
    /// Median latency, ms.
    pub p50_ms: f64,
    /// 99th percentile latency, ms.
    pub p99_ms: f64,
    /// Requests that got a response or failed.
    pub requests: u64,
    /// How long the run took, in seconds (until the last request in flight finished).
    pub seconds: f64,
    /// Responses by status code.
    pub statuses: BTreeMap<u16, u64>,
    /// Failures without a response (connection errors, timeouts), by message.
    pub failures: BTreeMap<String, u64>,
}

/// `oha --version`, or an error saying how to install it.
pub fn version(oha: &Path) -> Result<String> {
    let out = Command::new(oha).arg("--version").output().map_err(|e| {
        crate::fail::Fail(format!(
            "cannot run `{}` ({e}); install it with `cargo install oha --locked`",
            oha.display()
        ))
    })?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Runs `load` for `seconds` over `connections` connections (requests still in flight
/// at the deadline are waited for, never counted as failures; redirects are not
/// followed) and parses the summary.
pub async fn run(oha: &Path, load: &Load, seconds: u64, connections: u32) -> Result<Measured> {
    let mut args: Vec<String> = vec![
        "--no-tui".into(),
        "--output-format".into(),
        "json".into(),
        "--disable-compression".into(),
        "--redirect".into(),
        "0".into(),
        "-w".into(),
        "-z".into(),
        format!("{seconds}s"),
        "-c".into(),
        connections.to_string(),
        "-m".into(),
        load.method.into(),
    ];
    for header in &load.headers {
        args.push("-H".into());
        args.push(header.clone());
    }
    match &load.body {
        Body::None => {}
        Body::Json(body) => {
            args.extend(["-T".into(), "application/json".into(), "-d".into()]);
            args.push(body.clone());
        }
        Body::JsonLines(path) => {
            args.extend(["-T".into(), "application/json".into(), "-Z".into()]);
            args.push(path.to_string_lossy().into_owned());
        }
    }
    args.push(load.url.clone());
    let oha = oha.to_owned();
    let out = tokio::task::spawn_blocking(move || Command::new(&oha).args(&args).output())
        .await
        .ctx("running oha")?
        .ctx("running oha")?;
    if !out.status.success() {
        bail!(
            "oha failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let json: Value = serde_json::from_slice(&out.stdout).ctx("reading oha's JSON output")?;
    Ok(parse(&json))
}

fn number(v: &Value) -> f64 {
    v.as_f64().unwrap_or(0.0)
}

/// Reads oha's JSON summary (`metrics.latency_ms` when present, else the
/// `latencyPercentiles` in seconds).
pub fn parse(json: &Value) -> Measured {
    let rps = json["metrics"]["requests_per_sec"]
        .as_f64()
        .unwrap_or_else(|| number(&json["summary"]["requestsPerSec"]));
    let percentile = |p: &str| {
        json["metrics"]["latency_ms"][p]
            .as_f64()
            .unwrap_or_else(|| number(&json["latencyPercentiles"][p]) * 1000.0)
    };
    let statuses: BTreeMap<u16, u64> = json["statusCodeDistribution"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.parse().ok()?, v.as_u64()?)))
                .collect()
        })
        .unwrap_or_default();
    let failures: BTreeMap<String, u64> = json["errorDistribution"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_u64()?)))
                .collect()
        })
        .unwrap_or_default();
    let requests = statuses.values().sum::<u64>() + failures.values().sum::<u64>();
    let seconds = json["summary"]["total"].as_f64().unwrap_or_else(|| {
        if rps > 0.0 {
            requests as f64 / rps
        } else {
            0.0
        }
    });
    Measured {
        rps,
        seconds,
        p50_ms: percentile("p50"),
        p99_ms: percentile("p99"),
        requests,
        statuses,
        failures,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_summary() {
        let json: Value = serde_json::from_str(
            r#"{"summary":{"requestsPerSec":10.0,"total":2.5},
                "metrics":{"requests_per_sec":1234.5,"latency_ms":{"p50":1.5,"p99":9.25}},
                "latencyPercentiles":{"p50":0.0015,"p99":0.00925},
                "statusCodeDistribution":{"200":100,"409":3},
                "errorDistribution":{"connection closed":2}}"#,
        )
        .unwrap();
        let m = parse(&json);
        assert_eq!(m.rps, 1234.5);
        assert_eq!(m.p50_ms, 1.5);
        assert_eq!(m.p99_ms, 9.25);
        assert_eq!(m.requests, 105);
        assert_eq!(m.statuses[&409], 3);
        assert_eq!(m.seconds, 2.5);
    }

    #[test]
    fn falls_back_to_seconds_percentiles() {
        let json: Value = serde_json::from_str(
            r#"{"summary":{"requestsPerSec":10.0},"latencyPercentiles":{"p50":0.002,"p99":0.01},
                "statusCodeDistribution":{"200":20},"errorDistribution":{}}"#,
        )
        .unwrap();
        let m = parse(&json);
        assert_eq!(m.rps, 10.0);
        assert!((m.p99_ms - 10.0).abs() < 1e-9);
        // Without oha's total, the time the throughput implies.
        assert!((m.seconds - 2.0).abs() < 1e-9);
    }
}
