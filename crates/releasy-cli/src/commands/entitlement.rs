//! `releasy entitlement grant|list|update|revoke|access`.

use serde_json::json;

use super::{Context, push_opt};
use crate::api::{Role, segment};
use crate::cli::{EntitlementCommand, QuotaArgs};
use crate::dto::{
    Access, CreateEntitlement, DownloadQuota, Entitlement, EntitlementList, UpdateEntitlement,
};
use crate::error::CliError;
use crate::output::{Table, format_time, format_time_opt, with_offset_hint};

/// Runs an `entitlement` command.
///
/// # Errors
/// [`CliError`].
pub async fn run(ctx: &Context, command: EntitlementCommand) -> Result<(), CliError> {
    let client = ctx.client(Role::Operator)?;
    match command {
        EntitlementCommand::Grant {
            customer,
            product,
            starts_at,
            ends_at,
            metadata,
            channels,
            versions,
            perpetual_fallback,
            quota,
        } => {
            let body = CreateEntitlement {
                product,
                starts_at,
                ends_at,
                metadata,
                channels,
                versions,
                perpetual_fallback,
                download_quota: quota_body(quota),
            };
            let path = format!("/v1/admin/customers/{}/entitlements", segment(&customer)?);
            let entitlement: Entitlement = client.post(&path, &body, None).await?.body;
            ctx.output
                .emit(&entitlement, || table(std::slice::from_ref(&entitlement)))?;
        }
        EntitlementCommand::List {
            customer,
            product,
            limit,
            offset,
        } => {
            let mut query = Vec::new();
            push_opt(&mut query, "product", product);
            push_opt(&mut query, "limit", limit);
            push_opt(&mut query, "offset", offset);
            let path = format!("/v1/admin/customers/{}/entitlements", segment(&customer)?);
            let list: EntitlementList = client.get(&path, &query).await?;
            ctx.output.emit(&list, || {
                let shown = list.entitlements.len();
                with_offset_hint(table(&list.entitlements), shown, list.limit, list.offset)
            })?;
        }
        EntitlementCommand::Update {
            customer,
            entitlement_id,
            product,
            starts_at,
            ends_at,
            no_end,
            metadata,
            clear_metadata,
            channels,
            all_channels,
            versions,
            all_versions,
            perpetual_fallback,
            quota,
            no_quota,
        } => {
            let body = UpdateEntitlement {
                product,
                starts_at,
                ends_at: if no_end {
                    Some(None)
                } else {
                    ends_at.map(Some)
                },
                metadata: if clear_metadata {
                    Some(None)
                } else {
                    metadata.map(Some)
                },
                channels: if all_channels {
                    Some(None)
                } else {
                    channels.map(Some)
                },
                versions: if all_versions {
                    Some(None)
                } else {
                    versions.map(Some)
                },
                perpetual_fallback,
                download_quota: if no_quota {
                    Some(None)
                } else {
                    quota_body(quota).map(Some)
                },
            };
            let path = format!(
                "/v1/admin/customers/{}/entitlements/{}",
                segment(&customer)?,
                segment(&entitlement_id)?
            );
            let entitlement: Entitlement = client.patch(&path, &body).await?;
            ctx.output
                .emit(&entitlement, || table(std::slice::from_ref(&entitlement)))?;
        }
        EntitlementCommand::Revoke {
            customer,
            entitlement_id,
        } => {
            let path = format!(
                "/v1/admin/customers/{}/entitlements/{}",
                segment(&customer)?,
                segment(&entitlement_id)?
            );
            client.delete(&path).await?;
            let value = json!({ "entitlement_id": entitlement_id.trim(), "revoked": true });
            ctx.output.emit(&value, || {
                format!("revoked entitlement {}", entitlement_id.trim())
            })?;
        }
        EntitlementCommand::Access {
            customer,
            product,
            version,
        } => {
            let path = format!("/v1/admin/customers/{}/access", segment(&customer)?);
            let query = vec![("product", product), ("version", version)];
            let access: Access = client.get(&path, &query).await?;
            ctx.output.emit(&access, || access_text(&access))?;
        }
    }
    Ok(())
}

/// The verdict on one line, then a reason per line.
fn access_text(access: &Access) -> String {
    let release = &access.release;
    let verdict = if access.allowed { "allowed" } else { "refused" };
    let mut text = format!(
        "{} {} ({}, {}): {verdict}\n",
        release.product, release.version, release.channel, release.status
    );
    let mut table = Table::new(&["", "reason", "entitlement", "detail"]);
    for reason in &access.reasons {
        table.row(vec![
            if reason.allows { "+" } else { "-" }.to_owned(),
            reason.code.clone(),
            reason
                .entitlement_id
                .clone()
                .unwrap_or_else(|| "-".to_owned()),
            reason.message.clone(),
        ]);
    }
    text.push_str(&table.render("(no reasons)"));
    text
}

/// The quota the flags describe, if any: `--quota-period` alone is a quota without a
/// limit, which the server refuses with its own message.
fn quota_body(quota: QuotaArgs) -> Option<DownloadQuota> {
    let period = quota.quota_period?;
    Some(DownloadQuota {
        downloads: quota.quota_downloads,
        bytes: quota.quota_bytes,
        period,
    })
}

/// A quota in one cell: `100 downloads, 50.0 GiB / month`.
fn quota_text(quota: Option<&DownloadQuota>) -> String {
    let Some(quota) = quota else {
        return "-".to_owned();
    };
    let mut limits = Vec::new();
    if let Some(downloads) = quota.downloads {
        limits.push(format!("{downloads} downloads"));
    }
    if let Some(bytes) = quota.bytes {
        limits.push(format!("{bytes} bytes"));
    }
    format!("{} / {}", limits.join(", "), quota.period)
}

/// What an entitlement grants within its product, in one cell.
fn scope(e: &Entitlement) -> String {
    let mut parts = Vec::new();
    if let Some(channels) = &e.channels {
        parts.push(channels.join(","));
    }
    if let Some(versions) = &e.versions {
        parts.push(versions.clone());
    }
    if e.perpetual_fallback {
        parts.push("perpetual fallback".to_owned());
    }
    if parts.is_empty() {
        "all".to_owned()
    } else {
        parts.join("; ")
    }
}

fn table(entitlements: &[Entitlement]) -> String {
    let mut table = Table::new(&[
        "id", "customer", "product", "starts", "ends", "grants", "quota", "metadata",
    ]);
    for e in entitlements {
        table.row(vec![
            e.id.clone(),
            e.customer_id.clone(),
            e.product.clone(),
            format_time(e.starts_at),
            format_time_opt(e.ends_at),
            scope(e),
            quota_text(e.download_quota.as_ref()),
            e.metadata
                .as_ref()
                .map_or_else(|| "-".to_owned(), ToString::to_string),
        ]);
    }
    table.render("(no entitlements)")
}
