//! `releasy product list|policy`.

use super::{Context, push_opt};
use crate::api::{Role, segment};
use crate::cli::ProductCommand;
use crate::dto::{Policy, ProductList, SetPolicy};
use crate::error::CliError;
use crate::output::{Table, format_time_opt, with_offset_hint};

/// Runs a `product` command.
///
/// # Errors
/// [`CliError`].
pub async fn run(ctx: &Context, command: ProductCommand) -> Result<(), CliError> {
    let client = ctx.client(Role::Operator)?;
    match command {
        ProductCommand::List { limit, offset } => {
            let mut query = Vec::new();
            push_opt(&mut query, "limit", limit);
            push_opt(&mut query, "offset", offset);
            let list: ProductList = client.get("/v1/admin/products", &query).await?;
            ctx.output.emit(&list, || {
                let shown = list.products.len();
                with_offset_hint(table(&list), shown, list.limit, list.offset)
            })?;
        }
        ProductCommand::Policy {
            product,
            immutable_releases,
        } => {
            let path = format!("/v1/admin/products/{}/policy", segment(&product)?);
            let policy: Policy = match immutable_releases {
                Some(immutable_releases) => {
                    client.put(&path, &SetPolicy { immutable_releases }).await?
                }
                None => client.get(&path, &[]).await?,
            };
            ctx.output.emit(&policy, || policy_text(&policy))?;
        }
    }
    Ok(())
}

fn table(list: &ProductList) -> String {
    let mut table = Table::new(&[
        "product",
        "releases",
        "published",
        "latest",
        "last release",
        "immutable",
    ]);
    for p in &list.products {
        table.row(vec![
            p.product.clone(),
            p.releases.to_string(),
            p.published.to_string(),
            p.latest_version.clone().unwrap_or_else(|| "-".to_owned()),
            format_time_opt(p.last_release_at),
            immutable(p.immutable_releases, p.effective_immutable_releases),
        ]);
    }
    table.render("(no products)")
}

/// `yes`, `no`, or `yes (server)` when only the server's setting applies.
fn immutable(own: bool, effective: bool) -> String {
    match (own, effective) {
        (true, _) => "yes".to_owned(),
        (false, true) => "yes (server)".to_owned(),
        (false, false) => "no".to_owned(),
    }
}

fn policy_text(policy: &Policy) -> String {
    format!(
        "{}: immutable releases {} (product: {}, server: {})",
        policy.product,
        if policy.effective_immutable_releases {
            "on"
        } else {
            "off"
        },
        if policy.immutable_releases {
            "on"
        } else {
            "off"
        },
        if policy.server_immutable_releases {
            "on"
        } else {
            "off"
        },
    )
}
