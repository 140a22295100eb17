//! `releasy latest` and `releasy upgrade`: what an updater asks the server.

use super::download::latest_release;
use super::release::artifacts_table;
use super::{Context, push_opt};
use crate::api::Role;
use crate::cli::{LatestArgs, UpgradeArgs};
use crate::dto::Upgrade;
use crate::error::CliError;

/// Runs `latest`.
///
/// # Errors
/// [`CliError::NotFound`] when no release is visible; API errors.
pub async fn latest(ctx: &Context, args: LatestArgs) -> Result<(), CliError> {
    let client = ctx.client(Role::Any)?;
    let product = args.product.trim();
    let release = latest_release(&client, product, &args.channel, args.platform.as_deref())
        .await
        .map_err(|err| match err.status() {
            Some(404) => CliError::NotFound(format!(
                "no release of {product} is available to these credentials on that channel"
            )),
            _ => err.into(),
        })?;
    ctx.output
        .emit(&release, || artifacts_table(std::slice::from_ref(&release)))?;
    Ok(())
}

/// Runs `upgrade`.
///
/// # Errors
/// API errors (a 400 when `--current` or `--constraint` does not parse).
pub async fn upgrade(ctx: &Context, args: UpgradeArgs) -> Result<(), CliError> {
    let client = ctx.client(Role::Any)?;
    let mut query = vec![
        ("product", args.product.trim().to_owned()),
        ("current", args.current.trim().to_owned()),
        ("channel", args.channel),
    ];
    push_opt(&mut query, "platform", args.platform);
    push_opt(&mut query, "constraint", args.constraint);
    let found: Option<Upgrade> = client.get_if_any("/v1/releases/upgrade", &query).await?;
    ctx.output.emit(&found, || match &found {
        Some(upgrade) => format!(
            "{} {} is available (you run {})\n{}",
            upgrade.release.product,
            upgrade.release.version,
            upgrade.current,
            artifacts_table(std::slice::from_ref(&upgrade.release))
        ),
        None => format!("{} is the newest version available", args.current.trim()),
    })?;
    Ok(())
}
