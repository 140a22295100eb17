//! `releasy downloads list|stats|export`: the download ledger.

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
            });
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
            });
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
            let url = response.url().clone();
            let mut sink: Box<dyn tokio::io::AsyncWrite + Unpin> = match &output {
                Some(path) => Box::new(tokio::fs::File::create(path).await.map_err(|source| {
                    CliError::Io {
                        path: path.clone(),
                        source,
                    }
                })?),
                None => Box::new(tokio::io::stdout()),
            };
            let write_error = |source| CliError::Io {
                path: output.clone().unwrap_or_else(|| "<stdout>".into()),
                source,
            };
            let mut response = response;
            // Chunk by chunk: an export of millions of rows never sits in memory.
            while let Some(chunk) = response
                .chunk()
                .await
                .map_err(|e| ApiError::network(&url, e))?
            {
                sink.write_all(&chunk).await.map_err(write_error)?;
            }
            sink.flush().await.map_err(write_error)?;
        }
    }
    Ok(())
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
