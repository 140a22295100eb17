//! Choosing what to download: the release (the given version, or the newest the key
//! may have) and the artifact (by platform and file name).

use std::cmp::Ordering;

use crate::api::{ApiClient, ApiError};
use crate::dto::{ArtifactSummary, Release, ReleaseList};
use crate::error::CliError;

/// The largest page the API serves.
const PAGE: u32 = 200;

/// The release of `product` to download from: `version` when given, otherwise the
/// newest release on `channel` (and the more stable ones) with a file for `platform`,
/// as the server's `latest` decides (semver order, yanked releases skipped). A server
/// without `latest` (older Releasy servers, the reference) is asked for its listing
/// instead, and the highest version taken (see [`compare_versions`]).
///
/// # Errors
/// [`CliError::NotFound`] when the key sees no such release; API errors.
pub async fn choose_release(
    client: &ApiClient,
    product: &str,
    version: Option<&str>,
    channel: &str,
    platform: Option<&str>,
) -> Result<Release, CliError> {
    if version.is_none() {
        match latest_release(client, product, channel, platform).await {
            Ok(release) => return Ok(release),
            Err(ApiError::Status {
                status: 404,
                message,
                ..
            }) if message == "release not found" => {
                return Err(CliError::NotFound(format!(
                    "no published release of {product} is visible to this key on the {channel} channel"
                )));
            }
            // No such endpoint: an older server.
            Err(ApiError::Status { status: 404, .. }) => {}
            Err(other) => return Err(other.into()),
        }
    }
    let mut best: Option<Release> = None;
    let mut offset = 0_u64;
    loop {
        let mut query = vec![
            ("product", product.to_owned()),
            ("include_artifacts", "true".to_owned()),
            ("limit", PAGE.to_string()),
            ("offset", offset.to_string()),
        ];
        if let Some(version) = version {
            query.push(("version", version.to_owned()));
            // A version asked for by name is fetched even when yanked (a lockfile pins
            // it); a yank that blocks downloads refuses the token, in its own words.
            query.push(("include_yanked", "true".to_owned()));
        }
        let list: ReleaseList = client.get("/v1/releases", &query).await?;
        let count = list.releases.len() as u64;
        for release in list.releases {
            if best.as_ref().is_none_or(|b| newer(&release, b)) {
                best = Some(release);
            }
        }
        if count < u64::from(PAGE) {
            break;
        }
        offset += count;
    }
    best.ok_or_else(|| {
        CliError::NotFound(match version {
            Some(v) => format!("{product} {v} is not published or not visible to this key"),
            None => format!("no published release of {product} is visible to this key"),
        })
    })
}

/// `GET /v1/releases/latest`: the newest release the credentials may have on
/// `channel`, with a file for `platform` when given.
///
/// # Errors
/// [`ApiError`]; a 404 `release not found` when there is none.
pub async fn latest_release(
    client: &ApiClient,
    product: &str,
    channel: &str,
    platform: Option<&str>,
) -> Result<Release, ApiError> {
    let mut query = vec![
        ("product", product.to_owned()),
        ("channel", channel.to_owned()),
    ];
    if let Some(platform) = platform {
        query.push(("platform", platform.to_owned()));
    }
    client.get("/v1/releases/latest", &query).await
}

/// Whether `a` is a higher version than `b` (publication time breaks ties).
fn newer(a: &Release, b: &Release) -> bool {
    compare_versions(&a.version, &b.version)
        .then((a.published_at, a.created_at).cmp(&(b.published_at, b.created_at)))
        .is_gt()
}

/// Orders versions the way people read them: runs of digits compare as numbers
/// (`1.10` > `1.9`), build metadata after `+` is ignored, and a pre-release (after the
/// first `-`) comes before its release (`2.0.0-rc.1` < `2.0.0`).
fn compare_versions(a: &str, b: &str) -> Ordering {
    let split = |v: &str| {
        let v = v.split('+').next().unwrap_or(v);
        match v.split_once('-') {
            Some((core, pre)) => (core.to_owned(), Some(pre.to_owned())),
            None => (v.to_owned(), None),
        }
    };
    let (a_core, a_pre) = split(a);
    let (b_core, b_pre) = split(b);
    natural(&a_core, &b_core).then_with(|| match (a_pre, b_pre) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(a), Some(b)) => natural(&a, &b),
    })
}

/// Compares digit runs numerically and everything else character by character.
fn natural(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.chars().peekable(), b.chars().peekable());
    loop {
        match (a.peek().copied(), b.peek().copied()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let take = |it: &mut std::iter::Peekable<std::str::Chars<'_>>| {
                    let mut digits = String::new();
                    while let Some(c) = it.next_if(char::is_ascii_digit) {
                        digits.push(c);
                    }
                    digits.trim_start_matches('0').to_owned()
                };
                let (x, y) = (take(&mut a), take(&mut b));
                let order = x.len().cmp(&y.len()).then_with(|| x.cmp(&y));
                if order.is_ne() {
                    return order;
                }
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(&y);
                }
                a.next();
                b.next();
            }
        }
    }
}

/// The artifact of `release` matching `platform` and `file` (each optional), when
/// exactly one does.
///
/// # Errors
/// [`CliError::NotFound`] when none matches, [`CliError::Usage`] when several do.
pub fn choose_artifact(
    release: &Release,
    platform: Option<&str>,
    file: Option<&str>,
) -> Result<ArtifactSummary, CliError> {
    let all = release.artifacts.as_deref().unwrap_or_default();
    let matching: Vec<&ArtifactSummary> = all
        .iter()
        .filter(|a| platform.is_none_or(|p| a.platform.eq_ignore_ascii_case(p.trim())))
        .filter(|a| file.is_none_or(|f| a.file_name().eq_ignore_ascii_case(f.trim())))
        .collect();
    let describe = |list: &[&ArtifactSummary]| {
        list.iter()
            .map(|a| format!("{} ({})", a.file_name(), a.platform))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match matching.as_slice() {
        [one] => Ok((*one).clone()),
        [] => {
            let everything: Vec<&ArtifactSummary> = all.iter().collect();
            Err(CliError::NotFound(format!(
                "{} {} has no matching file{}",
                release.product,
                release.version,
                if everything.is_empty() {
                    String::new()
                } else {
                    format!("; it has: {}", describe(&everything))
                }
            )))
        }
        several => Err(CliError::Usage(format!(
            "{} {} has several files: {}; choose with --platform or --file",
            release.product,
            release.version,
            describe(several)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn artifact(platform: &str, name: &str) -> ArtifactSummary {
        ArtifactSummary {
            id: format!("{platform}-{name}"),
            object_key: format!("releases/p/1/{platform}/id/{name}"),
            checksum: "0".repeat(64),
            size: 1,
            platform: platform.to_owned(),
            created_at: 0,
            verification: None,
            ..ArtifactSummary::default()
        }
    }

    fn release(artifacts: Vec<ArtifactSummary>) -> Release {
        Release {
            id: "r".into(),
            product: "p".into(),
            version: "1".into(),
            status: "published".into(),
            created_at: 0,
            published_at: Some(1),
            artifacts: Some(artifacts),
            ..Release::default()
        }
    }

    #[test]
    fn picks_the_only_match_or_explains() {
        let r = release(vec![
            artifact("linux", "a.tgz"),
            artifact("linux", "a.zip"),
            artifact("macos", "a.tgz"),
        ]);
        assert_eq!(
            choose_artifact(&r, Some("macos"), None).unwrap().id,
            "macos-a.tgz"
        );
        assert_eq!(
            choose_artifact(&r, Some("linux"), Some("a.zip"))
                .unwrap()
                .id,
            "linux-a.zip"
        );
        assert!(matches!(
            choose_artifact(&r, Some("linux"), None),
            Err(CliError::Usage(_))
        ));
        assert!(matches!(
            choose_artifact(&r, Some("windows"), None),
            Err(CliError::NotFound(_))
        ));
        let single = release(vec![artifact("linux", "a.tgz")]);
        assert!(choose_artifact(&single, None, None).is_ok());
    }

    #[test]
    fn versions_compare_as_people_read_them() {
        let ordered = [
            "0.9",
            "1.0.0-alpha",
            "1.0.0-rc.2",
            "1.0.0-rc.10",
            "1.0.0",
            "1.0.1",
            "1.9.0",
            "1.10.0",
            "2.0.0+build.5",
            "10.0",
        ];
        for pair in ordered.windows(2) {
            assert_eq!(
                compare_versions(pair[0], pair[1]),
                Ordering::Less,
                "{pair:?}"
            );
            assert_eq!(
                compare_versions(pair[1], pair[0]),
                Ordering::Greater,
                "{pair:?}"
            );
        }
        assert_eq!(compare_versions("1.0", "1.0"), Ordering::Equal);
    }

    #[test]
    fn newest_is_the_highest_version() {
        let mut old = release(vec![]);
        old.version = "1.9.0".into();
        old.published_at = Some(20);
        let mut new = release(vec![]);
        new.version = "1.10.0".into();
        new.published_at = Some(10);
        assert!(newer(&new, &old));
        assert!(!newer(&old, &new));
    }
}
