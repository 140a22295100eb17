//! Finding, creating and publishing releases.

use std::time::Duration;

use serde::Serialize;

use super::keys;
use crate::api::{ApiClient, ApiError};
use crate::dto::{CreateRelease, Release, ReleaseList};
use crate::error::CliError;

/// The largest page the API serves.
const PAGE: u32 = 200;

/// What publishing did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Published {
    /// The release was a draft and is now published.
    Now,
    /// It was published already.
    Already,
    /// Publishing was not asked for.
    Skipped,
}

/// The release `product` `version` with its artifacts, if it exists.
///
/// # Errors
/// [`CliError::Api`].
pub async fn find_release(
    client: &ApiClient,
    product: &str,
    version: &str,
) -> Result<Option<Release>, CliError> {
    let query = [
        ("product", product.to_owned()),
        ("version", version.to_owned()),
        ("include_artifacts", "true".to_owned()),
    ];
    let list: ReleaseList = client.get("/v1/releases", &query).await?;
    Ok(list.releases.into_iter().next())
}

/// The release `body` names, created as a draft (with the body's channel, notes and
/// metadata) when it does not exist yet, and whether this call created it. The
/// creation carries an idempotency key derived from the whole body, so a re-run that
/// changes the notes or metadata (after the release was deleted, say) is a new
/// creation, not a conflict with the earlier one; a 409 (created meanwhile) is
/// answered by looking the release up.
///
/// # Errors
/// [`CliError::Api`].
pub async fn ensure_release(
    client: &ApiClient,
    body: &CreateRelease,
) -> Result<(Release, bool), CliError> {
    let (product, version) = (body.product.as_str(), body.version.as_str());
    if let Some(release) = find_release(client, product, version).await? {
        return Ok((release, false));
    }
    let request = creation_parts(body);
    let request: Vec<&str> = request.iter().map(String::as_str).collect();
    let mut key = keys::derive("release", &request);
    // A replayed creation names a release that was deleted since (the lookup above
    // found none): follow a chain of keys to create a new one, the same on every run.
    for _ in 0..10 {
        match client
            .post::<_, Release>("/v1/releases", body, Some(&key))
            .await
        {
            Ok(answer) if !answer.replayed => {
                let mut release = answer.body;
                release.artifacts = Some(Vec::new());
                return Ok((release, true));
            }
            Ok(answer) => {
                if let Some(release) = find_release(client, product, version).await? {
                    return Ok((release, false));
                }
                let after = [request.as_slice(), &["after", &answer.body.id]].concat();
                key = keys::derive("release", &after);
            }
            Err(ApiError::Status {
                status: 409, code, ..
            }) if code == "conflict" => {
                return find_release(client, product, version)
                    .await?
                    .map(|release| (release, false))
                    .ok_or_else(|| {
                        CliError::Conflict(format!(
                            "{product} {version} exists but is not visible to these credentials"
                        ))
                    });
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(CliError::Conflict(format!(
        "{product} {version} keeps disappearing while it is being created"
    )))
}

/// Every field of a creation, for its idempotency key: an unset field and an empty
/// one differ.
fn creation_parts(body: &CreateRelease) -> Vec<String> {
    let field = |value: Option<String>| value.map_or_else(|| "-".to_owned(), |v| format!("={v}"));
    vec![
        body.product.clone(),
        body.version.clone(),
        field(body.channel.clone()),
        field(body.notes.clone()),
        field(body.metadata.as_ref().map(ToString::to_string)),
    ]
}

/// The release a `RELEASE` argument names (an id, or `PRODUCT@VERSION`), with its
/// artifacts.
///
/// # Errors
/// [`CliError::NotFound`] when there is none, [`CliError::Usage`] for a malformed
/// argument, [`CliError::Api`].
pub async fn resolve_release(client: &ApiClient, reference: &str) -> Result<Release, CliError> {
    let not_found = || CliError::NotFound(format!("release {reference} not found"));
    if is_uuid(reference) {
        let mut offset = 0_u64;
        loop {
            let query = [
                ("include_artifacts", "true".to_owned()),
                ("limit", PAGE.to_string()),
                ("offset", offset.to_string()),
            ];
            let list: ReleaseList = client.get("/v1/releases", &query).await?;
            let count = list.releases.len() as u64;
            if let Some(release) = list
                .releases
                .into_iter()
                .find(|r| r.id.eq_ignore_ascii_case(reference))
            {
                return Ok(release);
            }
            if count < u64::from(PAGE) {
                return Err(not_found());
            }
            offset += count;
        }
    }
    let (product, version) = split_reference(reference)?;
    find_release(client, product, version)
        .await?
        .ok_or_else(not_found)
}

/// The id a `RELEASE` argument names, looking `PRODUCT@VERSION` up.
///
/// # Errors
/// As [`resolve_release`].
pub async fn release_id(client: &ApiClient, reference: &str) -> Result<String, CliError> {
    if is_uuid(reference) {
        return Ok(reference.to_owned());
    }
    let (product, version) = split_reference(reference)?;
    find_release(client, product, version)
        .await?
        .map(|r| r.id)
        .ok_or_else(|| CliError::NotFound(format!("release {reference} not found")))
}

/// Publishes release `id`; "already published" counts as success. A concurrent
/// status change (409) is retried twice.
///
/// # Errors
/// [`CliError::Api`].
pub async fn publish_release(client: &ApiClient, id: &str) -> Result<Published, CliError> {
    let path = format!("/v1/releases/{id}/publish");
    let mut attempt = 0;
    loop {
        match client.post_empty::<Release>(&path).await {
            Ok(_) => return Ok(Published::Now),
            Err(ApiError::Status {
                status: 400,
                message,
                ..
            }) if message.contains("already published") => return Ok(Published::Already),
            // Only a lost race is worth retrying; other conflicts (an immutable
            // release without artifacts) stay as they are.
            Err(ApiError::Status {
                status: 409,
                message,
                ..
            }) if attempt < 2 && message.contains("status changed") => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// How long `publish` waits for the server to verify the release's artifacts when the
/// release cannot be published before (immutable releases): the background verifier
/// reads large files at disk or network speed, minutes for tens of GiB.
const VERIFICATION_WAIT: Duration = Duration::from_secs(3600);

/// How often the release is looked at meanwhile.
const VERIFICATION_POLL: Duration = Duration::from_secs(2);

/// The server's refusal to publish an immutable release whose artifacts are not all
/// verified yet.
const NOT_VERIFIED: &str = "release has artifacts that are not verified";

/// Publishes `release` as [`publish_release`] does; when the server refuses because
/// some of its artifacts are still being verified (immutable releases seal only
/// verified bytes), waits until none is (up to an hour, `note` told each minute) and
/// publishes then. An artifact that failed verification ends the wait.
///
/// # Errors
/// [`CliError::Conflict`] when an artifact failed verification, or the wait ran out
/// (the server's refusal); [`CliError::Api`].
pub async fn publish_when_verified(
    client: &ApiClient,
    release: &Release,
    note: impl Fn(&str),
) -> Result<Published, CliError> {
    let started = std::time::Instant::now();
    let mut noted: Option<std::time::Instant> = None;
    let mut looked_at_nothing = 0;
    loop {
        let refusal = match publish_release(client, &release.id).await {
            Err(CliError::Api(ApiError::Status {
                status: 409,
                message,
                ..
            })) if message.contains(NOT_VERIFIED) => message,
            other => return other,
        };
        let current = find_release(client, &release.product, &release.version)
            .await?
            .ok_or_else(|| CliError::NotFound(format!("release {} not found", release.id)))?;
        let artifacts = current.artifacts.unwrap_or_default();
        let in_state = |state: &'static str| {
            artifacts
                .iter()
                .filter(move |a| a.verification.as_deref() == Some(state))
        };
        if let Some(failed) = in_state("failed").next() {
            return Err(CliError::Conflict(format!(
                "{} ({}) failed the server's check of its bytes: the release cannot be published with it",
                failed.file_name(),
                failed.platform
            )));
        }
        let pending = in_state("pending").count();
        // Nothing left to wait for, and refused all the same (a server that does not
        // say which artifacts are pending): its answer stands.
        if pending == 0 {
            looked_at_nothing += 1;
        }
        if started.elapsed() >= VERIFICATION_WAIT || looked_at_nothing >= 2 {
            return Err(CliError::Conflict(format!(
                "{refusal}: {pending} still being verified; publish it later with `releasy release publish {}`",
                release.id
            )));
        }
        if noted.is_none_or(|at| at.elapsed() >= Duration::from_secs(60)) {
            note(&format!(
                "waiting for the server to verify {pending} file(s) before publishing"
            ));
            noted = Some(std::time::Instant::now());
        }
        tokio::time::sleep(VERIFICATION_POLL).await;
    }
}

fn split_reference(reference: &str) -> Result<(&str, &str), CliError> {
    reference
        .rsplit_once('@')
        .filter(|(p, v)| !p.trim().is_empty() && !v.trim().is_empty())
        .map(|(p, v)| (p.trim(), v.trim()))
        .ok_or_else(|| {
            CliError::Usage(format!(
                "`{reference}` is neither a release id nor PRODUCT@VERSION"
            ))
        })
}

/// `8-4-4-4-12` hex digits.
fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_ids_or_product_at_version() {
        assert!(is_uuid("0b7c1a52-3f7e-4a8e-9a51-1f2d3c4b5a69"));
        assert!(!is_uuid("acme@1.0.0"));
        assert_eq!(
            split_reference("@scope/app@1.0.0").unwrap(),
            ("@scope/app", "1.0.0")
        );
        assert!(split_reference("acme").is_err());
        assert!(split_reference("acme@").is_err());
    }
}
