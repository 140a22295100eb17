//! `releasy publish --product P --version V FILE[:PLATFORM]...`: create (or reuse) the
//! release, upload every file, publish. Safe to re-run after a failure.

use std::collections::HashSet;

use indicatif::HumanBytes;
use serde::Serialize;

use super::Context;
use super::release::release_body;
use crate::api::Role;
use crate::cli::PublishArgs;
use crate::dto::Release;
use crate::error::CliError;
use crate::output::{Table, short_digest};
use crate::publish::{
    ArtifactOutcome, LocalFile, Published, UploadResult, ensure_release, parse_file_spec,
    publish_when_verified, upload_all,
};

/// What `publish --json` prints.
#[derive(Debug, Serialize)]
struct PublishReport {
    /// The release (as created or found, before publishing).
    release: Release,
    /// Whether this run created the release.
    created: bool,
    /// What publishing did.
    published: Published,
    /// One entry per file, in argument order.
    artifacts: Vec<ArtifactOutcome>,
}

/// Runs `publish`.
///
/// # Errors
/// [`CliError`].
pub async fn run(ctx: &Context, args: PublishArgs) -> Result<(), CliError> {
    let product = args.product.trim().to_owned();
    let version = args.version.trim().to_owned();
    if product.is_empty() || version.is_empty() {
        return Err(CliError::Usage(
            "--product and --version must not be empty".into(),
        ));
    }
    let specs = args
        .files
        .iter()
        .map(|raw| parse_file_spec(raw, args.platform.as_deref()))
        .collect::<Result<Vec<_>, _>>()?;
    let client = ctx.client(Role::Operator)?;
    // Before the files are hashed: a notes file that cannot be sent fails at once.
    let body = release_body(&product, &version, &args.details).await?;
    let mut files = Vec::with_capacity(specs.len());
    for (path, platform) in &specs {
        files.push(LocalFile::hash(path, platform, ctx.progress).await?);
    }
    check_distinct(&files)?;

    let (release, created) = ensure_release(&client, &body).await?;
    ctx.output.note(&format!(
        "{} release {product} {version} ({})",
        if created { "created" } else { "reusing" },
        release.id
    ));
    let artifacts = upload_all(
        &client,
        &release,
        &files,
        ctx.progress,
        usize::from(args.parallel),
    )
    .await?;
    let published = if args.no_publish {
        Published::Skipped
    } else {
        publish_when_verified(&client, &release, |line| ctx.output.note(line)).await?
    };
    let report = PublishReport {
        release,
        created,
        published,
        artifacts,
    };
    ctx.output.emit(&report, || {
        let r = &report.release;
        let status = match report.published {
            Published::Now => "published",
            Published::Already => "was already published",
            Published::Skipped => "left as a draft",
        };
        format!(
            "{}\n{} {} {status} (release {})",
            outcomes_table(&report.artifacts),
            r.product,
            r.version,
            r.id
        )
    })?;
    Ok(())
}

/// Refuses two files that would be stored under the same name for the same platform.
///
/// # Errors
/// [`CliError::Usage`].
pub fn check_distinct(files: &[LocalFile]) -> Result<(), CliError> {
    let mut seen = HashSet::new();
    for file in files {
        // Platforms name one slot whatever their ASCII case, as on the server.
        if !seen.insert((file.platform.to_ascii_lowercase(), file.stored_name())) {
            return Err(CliError::Usage(format!(
                "{} is given twice for {}",
                file.stored_name(),
                file.platform
            )));
        }
    }
    Ok(())
}

/// One row per file.
pub fn outcomes_table(outcomes: &[ArtifactOutcome]) -> String {
    let mut table = Table::new(&["file", "platform", "size", "sha256", "result"]);
    for o in outcomes {
        table.row(vec![
            o.file_name.clone(),
            o.platform.clone(),
            HumanBytes(o.size).to_string(),
            short_digest(&o.sha256),
            match (o.result, o.verification.as_deref()) {
                (UploadResult::Uploaded, Some("pending")) => "uploaded, verification pending",
                (UploadResult::Uploaded, _) => "uploaded",
                (UploadResult::AlreadyRegistered, Some("pending")) => {
                    "already registered, verification pending"
                }
                (UploadResult::AlreadyRegistered, _) => "already registered",
            }
            .to_owned(),
        ]);
    }
    table.render("(no files)")
}
