//! `releasy release create|list|publish|unpublish|yank|unyank|delete`.

use indicatif::HumanBytes;
use serde_json::json;

use super::{Context, push_opt};
use crate::api::Role;
use crate::cli::{ReleaseCommand, ReleaseDetails};
use crate::dto::{CreateRelease, Release, ReleaseList, UpdateRelease, YankRelease};
use crate::error::CliError;
use crate::output::{Table, format_time, format_time_opt, short_digest, with_offset_hint};
use crate::publish::{Published, publish_release, release_id};

/// Runs a `release` command.
///
/// # Errors
/// [`CliError`].
pub async fn run(ctx: &Context, command: ReleaseCommand) -> Result<(), CliError> {
    match command {
        ReleaseCommand::Create {
            product,
            version,
            details,
        } => {
            let client = ctx.client(Role::Operator)?;
            let body = release_body(product.trim(), version.trim(), &details).await?;
            let release: Release = client.post("/v1/releases", &body, None).await?.body;
            ctx.output
                .emit(&release, || releases_table(std::slice::from_ref(&release)))?;
        }
        ReleaseCommand::List {
            product,
            version,
            status,
            channel,
            sort,
            include_yanked,
            artifacts,
            limit,
            offset,
        } => {
            let client = ctx.client(Role::Any)?;
            let mut query = Vec::new();
            push_opt(&mut query, "product", product);
            push_opt(&mut query, "version", version);
            push_opt(&mut query, "status", status);
            push_opt(&mut query, "channel", channel);
            push_opt(&mut query, "sort", sort);
            push_opt(&mut query, "include_yanked", include_yanked.then_some(true));
            push_opt(&mut query, "include_artifacts", artifacts.then_some(true));
            push_opt(&mut query, "limit", limit);
            push_opt(&mut query, "offset", offset);
            let list: ReleaseList = client.get("/v1/releases", &query).await?;
            ctx.output.emit(&list, || {
                let rendered = if artifacts {
                    artifacts_table(&list.releases)
                } else {
                    releases_table(&list.releases)
                };
                with_offset_hint(rendered, list.releases.len(), list.limit, list.offset)
            })?;
        }
        ReleaseCommand::Publish { release } => {
            let client = ctx.client(Role::Operator)?;
            let id = release_id(&client, &release).await?;
            let published = publish_release(&client, &id).await?;
            let value = json!({ "release_id": id, "published": published });
            ctx.output.emit(&value, || match published {
                Published::Already => format!("release {id} was already published"),
                _ => format!("published release {id}"),
            })?;
        }
        ReleaseCommand::Unpublish { release } => {
            let client = ctx.client(Role::Operator)?;
            let id = release_id(&client, &release).await?;
            let release: Release = client
                .post_empty(&format!("/v1/releases/{id}/unpublish"))
                .await?;
            ctx.output
                .emit(&release, || format!("release {id} is a draft again"))?;
        }
        ReleaseCommand::Update {
            release,
            details,
            clear_notes,
            clear_metadata,
        } => {
            let client = ctx.client(Role::Operator)?;
            let id = release_id(&client, &release).await?;
            let body = UpdateRelease {
                channel: details.channel.clone(),
                notes: if clear_notes {
                    Some(None)
                } else {
                    read_notes(&details).await?.map(Some)
                },
                metadata: if clear_metadata {
                    Some(None)
                } else {
                    details.metadata.clone().map(Some)
                },
            };
            let updated: Release = client.patch(&format!("/v1/releases/{id}"), &body).await?;
            ctx.output
                .emit(&updated, || format!("updated release {id}"))?;
        }
        ReleaseCommand::Yank {
            release,
            reason,
            block_downloads,
        } => {
            let client = ctx.client(Role::Operator)?;
            let id = release_id(&client, &release).await?;
            let body = YankRelease {
                reason,
                block_downloads,
            };
            let yanked: Release = client
                .post(&format!("/v1/releases/{id}/yank"), &body, None)
                .await?
                .body;
            ctx.output.emit(&yanked, || {
                format!(
                    "yanked release {id}{}",
                    if block_downloads {
                        "; its files can no longer be downloaded"
                    } else {
                        ""
                    }
                )
            })?;
        }
        ReleaseCommand::Unyank { release } => {
            let client = ctx.client(Role::Operator)?;
            let id = release_id(&client, &release).await?;
            let restored: Release = client
                .post_empty(&format!("/v1/releases/{id}/unyank"))
                .await?;
            ctx.output
                .emit(&restored, || format!("release {id} is no longer yanked"))?;
        }
        ReleaseCommand::Delete { release } => {
            let client = ctx.client(Role::Operator)?;
            let id = release_id(&client, &release).await?;
            client.delete(&format!("/v1/releases/{id}")).await?;
            let value = json!({ "release_id": id, "deleted": true });
            ctx.output
                .emit(&value, || format!("deleted release {id}"))?;
        }
    }
    Ok(())
}

/// The body creating `product` `version` with `details` (the notes read from their
/// file).
///
/// # Errors
/// [`CliError::Io`] when the notes file cannot be read.
pub async fn release_body(
    product: &str,
    version: &str,
    details: &ReleaseDetails,
) -> Result<CreateRelease, CliError> {
    Ok(CreateRelease {
        product: product.to_owned(),
        version: version.to_owned(),
        channel: details.channel.clone(),
        notes: read_notes(details).await?,
        metadata: details.metadata.clone(),
    })
}

/// The most release notes the server keeps (64 KiB), so the most of a notes file
/// read: a file named by mistake (`--notes-file dist/disk.img`) is refused, not read.
const NOTES_MAX_BYTES: u64 = 64 * 1024;

/// The notes file's text, when one was named.
///
/// # Errors
/// [`CliError::Io`] when it cannot be read or is not UTF-8; [`CliError::Usage`] when
/// it holds more than the server keeps.
async fn read_notes(details: &ReleaseDetails) -> Result<Option<String>, CliError> {
    use tokio::io::AsyncReadExt as _;
    let Some(path) = &details.notes_file else {
        return Ok(None);
    };
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| CliError::io(path, e))?;
    let mut bytes = Vec::new();
    file.take(NOTES_MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .await
        .map_err(|e| CliError::io(path, e))?;
    if bytes.len() as u64 > NOTES_MAX_BYTES {
        return Err(CliError::Usage(format!(
            "{} holds more than {} KiB, the most release notes may hold",
            path.display(),
            NOTES_MAX_BYTES / 1024
        )));
    }
    String::from_utf8(bytes).map(Some).map_err(|e| {
        CliError::io(
            path,
            std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        )
    })
}

/// One row per release.
pub fn releases_table(releases: &[Release]) -> String {
    let mut table = Table::new(&[
        "id",
        "product",
        "version",
        "channel",
        "status",
        "created",
        "published",
    ]);
    for r in releases {
        let status = match &r.yank_reason {
            Some(reason) => format!("{} (yanked: {reason})", r.status),
            None => r.status.clone(),
        };
        table.row(vec![
            r.id.clone(),
            r.product.clone(),
            r.version.clone(),
            r.channel.clone().unwrap_or_else(|| "-".into()),
            status,
            format_time(r.created_at),
            format_time_opt(r.published_at),
        ]);
    }
    table.render("(no releases)")
}

/// One row per artifact (a release without any gets one row).
pub fn artifacts_table(releases: &[Release]) -> String {
    let mut table = Table::new(&[
        "product",
        "version",
        "status",
        "platform",
        "file",
        "size",
        "sha256",
        "artifact id",
    ]);
    for r in releases {
        let artifacts = r.artifacts.as_deref().unwrap_or_default();
        if artifacts.is_empty() {
            table.row(vec![
                r.product.clone(),
                r.version.clone(),
                r.status.clone(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
            ]);
        }
        for a in artifacts {
            table.row(vec![
                r.product.clone(),
                r.version.clone(),
                r.status.clone(),
                a.platform.clone(),
                a.file_name().to_owned(),
                HumanBytes(a.size).to_string(),
                short_digest(&a.checksum),
                a.id.clone(),
            ]);
        }
    }
    table.render("(no releases)")
}
