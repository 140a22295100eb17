//! `releasy audit list`.

use super::{Context, push_opt};
use crate::api::Role;
use crate::cli::AuditCommand;
use crate::dto::AuditEventList;
use crate::error::CliError;
use crate::output::{Table, format_time, with_offset_hint};

/// Runs an `audit` command.
///
/// # Errors
/// [`CliError`].
pub async fn run(ctx: &Context, command: AuditCommand) -> Result<(), CliError> {
    let AuditCommand::List {
        customer,
        actor,
        event,
        from,
        to,
        limit,
        offset,
    } = command;
    let client = ctx.client(Role::Operator)?;
    let mut query = Vec::new();
    push_opt(&mut query, "customer_id", customer);
    push_opt(&mut query, "actor", actor);
    push_opt(&mut query, "event", event);
    push_opt(&mut query, "created_from", from);
    push_opt(&mut query, "created_to", to);
    push_opt(&mut query, "limit", limit);
    push_opt(&mut query, "offset", offset);
    let list: AuditEventList = client.get("/v1/admin/audit-events", &query).await?;
    ctx.output.emit(&list, || {
        let mut table = Table::new(&["time", "event", "actor", "customer", "payload"]);
        for e in &list.events {
            table.row(vec![
                format_time(e.created_at),
                e.event.clone(),
                e.actor.clone(),
                e.customer_id.clone().unwrap_or_else(|| "-".into()),
                e.payload.to_string(),
            ]);
        }
        let shown = list.events.len();
        with_offset_hint(table.render("(no events)"), shown, list.limit, list.offset)
    })?;
    Ok(())
}
