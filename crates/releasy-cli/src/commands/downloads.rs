//! `releasy downloads list|stats|export`: the download ledger.

use std::path::{Path, PathBuf};

use tokio::io::AsyncWriteExt;

use super::{Context, push_opt};
use crate::api::{ApiError, Role};
use crate::cli::{DownloadsCommand, LedgerFilter};
use crate::dto::{LedgerPage, Stats};
use crate::error::CliError;
use crate::output::{Table, format_time};

/// Runs a `downloads` command.
///
/// # Errors
/// [`CliError`].
pub async fn run(ctx: &Context, command: DownloadsCommand) -> Result<(), CliError> {
    let client = ctx.client(Role::Operator)?;
    match command {
        DownloadsCommand::List {
            filter,
            limit,
            cursor,
        } => {
            let mut query = filter_query(filter);
            push_opt(&mut query, "limit", limit);
            push_opt(&mut query, "cursor", cursor);
            let page: LedgerPage = client.get("/v1/admin/downloads", &query).await?;
            ctx.output.emit(&page, || {
                let mut table = Table::new(&[
                    "time", "outcome", "customer", "product", "version", "platform", "address",
                    "agent",
                ]);
                for row in &page.downloads {
                    table.row(vec![
                        format_time(row.at),
                        row.outcome.clone(),
                        row.customer_id.clone(),
                        row.product.clone(),
                        row.version.clone(),
                        row.platform.clone(),
                        row.client_address.clone().unwrap_or_else(|| "-".into()),
                        row.user_agent.clone().unwrap_or_else(|| "-".into()),
                    ]);
                }
                let mut text = table.render("(no downloads)");
                if let Some(next) = &page.next_cursor {
                    text.push_str(&format!("\nmore: --cursor {next}"));
                }
                text
            })?;
        }
        DownloadsCommand::Stats {
            group_by,
            product,
            customer,
            from,
            to,
        } => {
            let mut query = vec![("group_by", group_by)];
            push_opt(&mut query, "product", product);
            push_opt(&mut query, "customer_id", customer);
            push_opt(&mut query, "from", from);
            push_opt(&mut query, "to", to);
            let stats: Stats = client.get("/v1/admin/downloads/stats", &query).await?;
            ctx.output.emit(&stats, || {
                let mut table = Table::new(&[&stats.group_by, "downloads", "customers", "bytes"]);
                for group in &stats.groups {
                    let key = [
                        &group.product,
                        &group.version,
                        &group.platform,
                        &group.artifact_id,
                        &group.customer_id,
                        &group.day,
                    ]
                    .into_iter()
                    .flatten()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(" ");
                    table.row(vec![
                        key,
                        group.downloads.to_string(),
                        group.customers.to_string(),
                        group.bytes.to_string(),
                    ]);
                }
                table.render("(no downloads)")
            })?;
        }
        DownloadsCommand::Export {
            csv: _,
            filter,
            output,
        } => {
            let mut query = filter_query(filter);
            query.push(("format", "csv".to_owned()));
            let response = client
                .get_stream("/v1/admin/downloads", &query, "text/csv")
                .await?;
            let csv = response
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("text/csv"));
            if !csv {
                return Err(ApiError::Unexpected {
                    status: response.status().as_u16(),
                    detail: "the export is not CSV (Content-Type is not text/csv)".to_owned(),
                }
                .into());
            }
            match output {
                Some(path) => export_to_file(response, &path).await?,
                None => copy_body(response, &mut tokio::io::stdout(), "<stdout>".into()).await?,
            }
        }
    }
    Ok(())
}

/// Streams the export into a file of this run's own beside `path` (`path.part-…`) and
/// renames it to `path` once the whole body arrived: a cut-off transfer leaves no file
/// that looks complete (the server ends a failing export early on purpose), an earlier
/// export at `path` stays until the new one is whole, and two exports to one path never
/// write into one file (a killed run leaves its own behind). A device path
/// (`/dev/stdout`) or one that is not a regular file (a pipe) is written directly.
async fn export_to_file(response: reqwest::Response, path: &Path) -> Result<(), CliError> {
    // `/dev/stdout` leads to a regular file when standard output is redirected to one,
    // and nothing can be made beside it: device paths are always written directly.
    let special = path.starts_with("/dev")
        || path.starts_with("/proc")
        || tokio::fs::metadata(path)
            .await
            .is_ok_and(|meta| !meta.is_file());
    if special {
        let mut file = tokio::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .await
            .map_err(|source| CliError::io(path, source))?;
        return copy_body(response, &mut file, path.to_owned()).await;
    }
    let (partial, file) = new_partial_file(path).await?;
    let copied = async {
        let mut file = file;
        copy_body(response, &mut file, partial.clone()).await?;
        file.sync_all()
            .await
            .map_err(|source| CliError::io(&partial, source))?;
        tokio::fs::rename(&partial, path)
            .await
            .map_err(|source| CliError::io(path, source))
    }
    .await;
    if copied.is_err() {
        let _ = tokio::fs::remove_file(&partial).await;
    }
    copied
}

/// Creates `path.part-<pid>-<n>`, a name no other run writes.
async fn new_partial_file(path: &Path) -> Result<(PathBuf, tokio::fs::File), CliError> {
    let mut attempt = 0_u32;
    loop {
        let mut name = path.as_os_str().to_owned();
        name.push(format!(".part-{}-{attempt}", std::process::id()));
        let partial = PathBuf::from(name);
        match tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&partial)
            .await
        {
            Ok(file) => return Ok((partial, file)),
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists && attempt < 100 => {
                attempt += 1;
            }
            Err(source) => return Err(CliError::io(&partial, source)),
        }
    }
}

/// Copies the body chunk by chunk: an export of millions of rows never sits in memory.
async fn copy_body(
    mut response: reqwest::Response,
    sink: &mut (dyn tokio::io::AsyncWrite + Unpin + Send),
    sink_name: PathBuf,
) -> Result<(), CliError> {
    let url = response.url().clone();
    let write_error = |source| CliError::io(sink_name.clone(), source);
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| ApiError::network(&url, e))?
    {
        sink.write_all(&chunk).await.map_err(write_error)?;
    }
    sink.flush().await.map_err(write_error)
}

/// The query parameters of `filter`.
fn filter_query(filter: LedgerFilter) -> Vec<(&'static str, String)> {
    let mut query = Vec::new();
    push_opt(&mut query, "customer_id", filter.customer);
    push_opt(&mut query, "product", filter.product);
    push_opt(&mut query, "version", filter.version);
    push_opt(&mut query, "artifact_id", filter.artifact);
    push_opt(&mut query, "outcome", filter.outcome);
    push_opt(&mut query, "from", filter.from);
    push_opt(&mut query, "to", filter.to);
    query
}
