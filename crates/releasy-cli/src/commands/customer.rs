//! `releasy customer create|list|get|suspend|unsuspend`.

use super::{Context, push_opt};
use crate::api::{Role, segment};
use crate::cli::CustomerCommand;
use crate::dto::{CreateCustomer, Customer, CustomerList, UpdateCustomer};
use crate::error::CliError;
use crate::output::{Table, format_time, format_time_opt};

/// Runs a `customer` command.
///
/// # Errors
/// [`CliError`].
pub async fn run(ctx: &Context, command: CustomerCommand) -> Result<(), CliError> {
    let client = ctx.client(Role::Operator)?;
    match command {
        CustomerCommand::Create { name, plan } => {
            let body = CreateCustomer { name, plan };
            let customer: Customer = client.post("/v1/admin/customers", &body, None).await?.body;
            ctx.output
                .emit(&customer, || table(std::slice::from_ref(&customer)))?;
        }
        CustomerCommand::List {
            name,
            plan,
            limit,
            cursor,
            all,
        } => {
            let mut base = Vec::new();
            push_opt(&mut base, "name", name);
            push_opt(&mut base, "plan", plan);
            push_opt(&mut base, "limit", limit);
            let mut cursor = cursor;
            let mut list: Option<CustomerList> = None;
            loop {
                let mut query = base.clone();
                push_opt(&mut query, "cursor", cursor.as_ref());
                let page: CustomerList = client.get("/v1/admin/customers", &query).await?;
                cursor = page.next_cursor.clone();
                list = Some(match list {
                    None => page,
                    Some(mut acc) => {
                        acc.customers.extend(page.customers);
                        acc.next_cursor = page.next_cursor;
                        acc
                    }
                });
                if !all || cursor.is_none() {
                    break;
                }
            }
            if let Some(list) = list {
                ctx.output.emit(&list, || {
                    let mut text = table(&list.customers);
                    if let Some(next) = &list.next_cursor {
                        text.push_str(&format!("\nmore: --cursor {next}"));
                    }
                    text
                })?;
            }
        }
        CustomerCommand::Get { customer_id } => {
            let customer: Customer = client
                .get(
                    &format!("/v1/admin/customers/{}", segment(&customer_id)?),
                    &[],
                )
                .await?;
            ctx.output
                .emit(&customer, || table(std::slice::from_ref(&customer)))?;
        }
        CustomerCommand::Suspend { customer_id } => {
            set_suspended(ctx, &client, &customer_id, true).await?;
        }
        CustomerCommand::Unsuspend { customer_id } => {
            set_suspended(ctx, &client, &customer_id, false).await?;
        }
    }
    Ok(())
}

async fn set_suspended(
    ctx: &Context,
    client: &crate::api::ApiClient,
    customer_id: &str,
    suspended: bool,
) -> Result<(), CliError> {
    let customer: Customer = client
        .patch(
            &format!("/v1/admin/customers/{}", segment(customer_id)?),
            &UpdateCustomer { suspended },
        )
        .await?;
    ctx.output
        .emit(&customer, || table(std::slice::from_ref(&customer)))?;
    Ok(())
}

fn table(customers: &[Customer]) -> String {
    let mut table = Table::new(&["id", "name", "plan", "created", "suspended"]);
    for c in customers {
        table.row(vec![
            c.id.clone(),
            c.name.clone(),
            c.plan.clone().unwrap_or_else(|| "-".into()),
            format_time(c.created_at),
            format_time_opt(c.suspended_at),
        ]);
    }
    table.render("(no customers)")
}
