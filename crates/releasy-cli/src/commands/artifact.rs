//! `releasy artifact upload RELEASE FILE... --platform P`.

use serde_json::json;

use super::Context;
use super::publish::{check_distinct, outcomes_table};
use crate::api::Role;
use crate::cli::ArtifactCommand;
use crate::error::CliError;
use crate::publish::{LocalFile, resolve_release, upload_all};

/// Runs an `artifact` command.
///
/// # Errors
/// [`CliError`].
pub async fn run(ctx: &Context, command: ArtifactCommand) -> Result<(), CliError> {
    let ArtifactCommand::Upload {
        release,
        files,
        platform,
        parallel,
    } = command;
    let platform = platform.trim().to_owned();
    if platform.is_empty() {
        return Err(CliError::Usage("--platform must not be empty".into()));
    }
    let client = ctx.client(Role::Operator)?;
    let release = resolve_release(&client, &release).await?;
    let mut local = Vec::with_capacity(files.len());
    for path in &files {
        local.push(LocalFile::hash(path, &platform, ctx.progress).await?);
    }
    check_distinct(&local)?;
    let outcomes = upload_all(
        &client,
        &release,
        &local,
        ctx.progress,
        usize::from(parallel),
    )
    .await?;
    let value = json!({ "release_id": release.id, "artifacts": outcomes });
    ctx.output.emit(&value, || outcomes_table(&outcomes))?;
    Ok(())
}
