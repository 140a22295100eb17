//! `releasy entitlement grant|list|update|revoke`.

use serde_json::json;

use super::{Context, push_opt};
use crate::api::Role;
use crate::cli::EntitlementCommand;
use crate::dto::{CreateEntitlement, Entitlement, EntitlementList, UpdateEntitlement};
use crate::error::CliError;
use crate::output::{Table, format_time, format_time_opt};

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
        } => {
            let body = CreateEntitlement {
                product,
                starts_at,
                ends_at,
                metadata,
            };
            let path = format!("/v1/admin/customers/{}/entitlements", customer.trim());
            let entitlement: Entitlement = client.post(&path, &body, None).await?.body;
            ctx.output
                .emit(&entitlement, || table(std::slice::from_ref(&entitlement)));
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
            let path = format!("/v1/admin/customers/{}/entitlements", customer.trim());
            let list: EntitlementList = client.get(&path, &query).await?;
            ctx.output.emit(&list, || table(&list.entitlements));
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
            };
            let path = format!(
                "/v1/admin/customers/{}/entitlements/{}",
                customer.trim(),
                entitlement_id.trim()
            );
            let entitlement: Entitlement = client.patch(&path, &body).await?;
            ctx.output
                .emit(&entitlement, || table(std::slice::from_ref(&entitlement)));
        }
        EntitlementCommand::Revoke {
            customer,
            entitlement_id,
        } => {
            let path = format!(
                "/v1/admin/customers/{}/entitlements/{}",
                customer.trim(),
                entitlement_id.trim()
            );
            client.delete(&path).await?;
            let value = json!({ "entitlement_id": entitlement_id.trim(), "revoked": true });
            ctx.output.emit(&value, || {
                format!("revoked entitlement {}", entitlement_id.trim())
            });
        }
    }
    Ok(())
}

fn table(entitlements: &[Entitlement]) -> String {
    let mut table = Table::new(&["id", "customer", "product", "starts", "ends", "metadata"]);
    for e in entitlements {
        table.row(vec![
            e.id.clone(),
            e.customer_id.clone(),
            e.product.clone(),
            format_time(e.starts_at),
            format_time_opt(e.ends_at),
            e.metadata
                .as_ref()
                .map_or_else(|| "-".to_owned(), ToString::to_string),
        ]);
    }
    table.render("(no entitlements)")
}
