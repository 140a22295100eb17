//! `releasy release create|list|publish|unpublish|delete`.

use indicatif::HumanBytes;
use serde_json::json;

use super::{Context, push_opt};
use crate::api::Role;
use crate::cli::ReleaseCommand;
use crate::dto::{CreateRelease, Release, ReleaseList};
use crate::error::CliError;
use crate::output::{Table, format_time, format_time_opt, short_digest};
use crate::publish::{Published, publish_release, release_id};

/// Runs a `release` command.
///
/// # Errors
/// [`CliError`].
pub async fn run(ctx: &Context, command: ReleaseCommand) -> Result<(), CliError> {
    match command {
        ReleaseCommand::Create { product, version } => {
            let client = ctx.client(Role::Operator)?;
            let body = CreateRelease {
                product: product.trim().to_owned(),
                version: version.trim().to_owned(),
            };
            let release: Release = client.post("/v1/releases", &body, None).await?.body;
            ctx.output
                .emit(&release, || releases_table(std::slice::from_ref(&release)));
        }
        ReleaseCommand::List {
            product,
            version,
            status,
            artifacts,
            limit,
            offset,
        } => {
            let client = ctx.client(Role::Any)?;
            let mut query = Vec::new();
            push_opt(&mut query, "product", product);
            push_opt(&mut query, "version", version);
            push_opt(&mut query, "status", status);
            push_opt(&mut query, "include_artifacts", artifacts.then_some(true));
            push_opt(&mut query, "limit", limit);
            push_opt(&mut query, "offset", offset);
            let list: ReleaseList = client.get("/v1/releases", &query).await?;
            ctx.output.emit(&list, || {
                if artifacts {
                    artifacts_table(&list.releases)
                } else {
                    releases_table(&list.releases)
                }
            });
        }
        ReleaseCommand::Publish { release } => {
            let client = ctx.client(Role::Operator)?;
            let id = release_id(&client, &release).await?;
            let published = publish_release(&client, &id).await?;
            let value = json!({ "release_id": id, "published": published });
            ctx.output.emit(&value, || match published {
                Published::Already => format!("release {id} was already published"),
                _ => format!("published release {id}"),
            });
        }
        ReleaseCommand::Unpublish { release } => {
            let client = ctx.client(Role::Operator)?;
            let id = release_id(&client, &release).await?;
            let release: Release = client
                .post_empty(&format!("/v1/releases/{id}/unpublish"))
                .await?;
            ctx.output
                .emit(&release, || format!("release {id} is a draft again"));
        }
        ReleaseCommand::Delete { release } => {
            let client = ctx.client(Role::Operator)?;
            let id = release_id(&client, &release).await?;
            client.delete(&format!("/v1/releases/{id}")).await?;
            let value = json!({ "release_id": id, "deleted": true });
            ctx.output.emit(&value, || format!("deleted release {id}"));
        }
    }
    Ok(())
}

/// One row per release.
pub fn releases_table(releases: &[Release]) -> String {
    let mut table = Table::new(&["id", "product", "version", "status", "created", "published"]);
    for r in releases {
        table.row(vec![
            r.id.clone(),
            r.product.clone(),
            r.version.clone(),
            r.status.clone(),
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
