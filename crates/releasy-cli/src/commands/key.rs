//! `releasy key create|revoke`.

use super::Context;
use crate::api::Role;
use crate::cli::KeyCommand;
use crate::dto::{CreateKey, CreatedKey, RevokeKey, RevokedKey};
use crate::error::CliError;
use crate::output::format_time_opt;

/// Runs a `key` command.
///
/// # Errors
/// [`CliError`].
pub async fn run(ctx: &Context, command: KeyCommand) -> Result<(), CliError> {
    let client = ctx.client(Role::Operator)?;
    match command {
        KeyCommand::Create {
            customer,
            name,
            scopes,
            expires_at,
            key_type,
        } => {
            let scopes: Vec<String> = scopes
                .into_iter()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect();
            let body = CreateKey {
                customer_id: customer.trim().to_owned(),
                name,
                scopes: (!scopes.is_empty()).then_some(scopes),
                expires_at,
                key_type,
            };
            // No idempotency key: the server shows the secret only once.
            let key: CreatedKey = client.post("/v1/admin/keys", &body, None).await?.body;
            ctx.output.emit(&key, || {
                format!(
                    "api key id: {}\ncustomer:   {}\ntype:       {}\nscopes:     {}\nexpires:    {}\n\n{}\n\nThe key is shown only once: store it now.",
                    key.api_key_id,
                    key.customer_id,
                    key.key_type,
                    key.scopes.join(", "),
                    format_time_opt(key.expires_at),
                    key.api_key
                )
            });
        }
        KeyCommand::Revoke { api_key_id } => {
            let body = RevokeKey {
                api_key_id: api_key_id.trim().to_owned(),
            };
            let revoked: RevokedKey = client
                .post("/v1/admin/keys/revoke", &body, None)
                .await?
                .body;
            ctx.output
                .emit(&revoked, || format!("revoked key {}", revoked.api_key_id));
        }
    }
    Ok(())
}
