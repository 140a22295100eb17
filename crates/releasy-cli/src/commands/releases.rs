//! `releasy releases`: what the customer API key may download.

use super::release::artifacts_table;
use super::{Context, push_opt};
use crate::api::Role;
use crate::cli::ReleasesArgs;
use crate::dto::ReleaseList;
use crate::error::CliError;
use crate::output::with_offset_hint;

/// Runs `releases`.
///
/// # Errors
/// [`CliError`].
pub async fn run(ctx: &Context, args: ReleasesArgs) -> Result<(), CliError> {
    let client = ctx.client(Role::Customer)?;
    let mut query = vec![("include_artifacts", "true".to_owned())];
    push_opt(&mut query, "product", args.product);
    push_opt(&mut query, "version", args.version);
    push_opt(&mut query, "limit", args.limit);
    push_opt(&mut query, "offset", args.offset);
    let list: ReleaseList = client.get("/v1/releases", &query).await?;
    ctx.output.emit(&list, || {
        let rendered = artifacts_table(&list.releases);
        with_offset_hint(rendered, list.releases.len(), list.limit, list.offset)
    })?;
    Ok(())
}
