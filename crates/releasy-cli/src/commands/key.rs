//! `releasy key create|revoke|list|rotate|update`.

use std::time::Duration;

use super::Context;
use crate::api::{Role, segment};
use crate::cli::KeyCommand;
use crate::dto::{
    CreateKey, CreatedKey, KeyList, KeySummary, RevokeKey, RevokedKey, RotateKey, RotatedKey,
    UpdateKey,
};
use crate::error::CliError;
use crate::output::{Table, format_time, format_time_opt, now, print_stderr};

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
            allowed_cidrs,
        } => {
            let body = CreateKey {
                customer_id: customer.trim().to_owned(),
                name,
                scopes: non_empty(scopes),
                expires_at,
                key_type,
                allowed_cidrs: non_empty(allowed_cidrs),
            };
            // No idempotency key: the server shows the secret only once.
            let key: CreatedKey = client.post("/v1/admin/keys", &body, None).await?.body;
            ctx.output.emit_secret(&key, || {
                format!(
                    "api key id: {}\ncustomer:   {}\ntype:       {}\nscopes:     {}\nexpires:    {}\n\n{}\n\nThe key is shown only once: store it now.",
                    key.api_key_id,
                    key.customer_id,
                    key.key_type,
                    key.scopes.join(", "),
                    format_time_opt(key.expires_at),
                    key.api_key
                )
            })
            .inspect_err(|_| {
                print_stderr(&format!(
                    "key {id} was created but its secret could not be shown: revoke it with `releasy key revoke {id}` and create another",
                    id = key.api_key_id
                ));
            })?;
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
                .emit(&revoked, || format!("revoked key {}", revoked.api_key_id))?;
        }
        KeyCommand::Update {
            api_key_id,
            name,
            clear_name,
            allowed_cidrs,
            any_address,
        } => {
            let body = UpdateKey {
                name: if clear_name {
                    Some(None)
                } else {
                    name.map(Some)
                },
                allowed_cidrs: if any_address {
                    Some(None)
                } else {
                    non_empty(allowed_cidrs).map(Some)
                },
            };
            if body.name.is_none() && body.allowed_cidrs.is_none() {
                return Err(CliError::Usage(
                    "name something to change: --name, --clear-name, --allowed-cidr or --any-address"
                        .into(),
                ));
            }
            let path = format!("/v1/admin/keys/{}", segment(&api_key_id)?);
            let key: KeySummary = client.patch(&path, &body).await?;
            ctx.output
                .emit(&key, || table(std::slice::from_ref(&key), now()))?;
        }
        KeyCommand::List { customer } => {
            let path = format!("/v1/admin/customers/{}/keys", segment(&customer)?);
            // Every page: a customer's keys are few, and the table shows them all.
            let mut keys = Vec::new();
            loop {
                let query = [
                    ("limit", PAGE.to_string()),
                    ("offset", keys.len().to_string()),
                ];
                let page: KeyList = client.get(&path, &query).await?;
                let last = page.keys.len() < PAGE;
                keys.extend(page.keys);
                if last {
                    break;
                }
            }
            let list = KeyList { keys };
            ctx.output.emit(&list, || table(&list.keys, now()))?;
        }
        KeyCommand::Rotate {
            api_key_id,
            overlap_seconds,
        } => {
            let path = format!("/v1/admin/keys/{}/rotate", segment(&api_key_id)?);
            // A rotation cannot run twice, so only its replay recovers the new secret.
            let rotated: RotatedKey = client
                .post_until_answered(
                    &path,
                    &RotateKey { overlap_seconds },
                    ROTATE_PATIENCE,
                    |_| {},
                )
                .await?
                .body;
            ctx.output.emit_secret(&rotated, || {
                format!(
                    "new api key id: {}\nreplaces:       {} (works until {})\n\n{}\n\nThe key is shown only once: store it now.",
                    rotated.key.api_key_id,
                    rotated.replaces_api_key_id,
                    format_time(rotated.replaced_key_revoked_at),
                    rotated.key.api_key
                )
            })
            .inspect_err(|_| {
                print_stderr(&format!(
                    "key {new} was created but its secret could not be shown: revoke it with `releasy key revoke {new}`, and before {until}, when {old} stops working, create another key with `releasy key create`",
                    new = rotated.key.api_key_id,
                    old = rotated.replaces_api_key_id,
                    until = format_time(rotated.replaced_key_revoked_at)
                ));
            })?;
        }
    }
    Ok(())
}

/// How long, from the first loss, a rotation whose answer was lost is asked for again:
/// past the server's 10 seconds after which a request cut off by a crash may be taken
/// over, so a first run still going (or cut off) ends as an answer or a refusal, not
/// "in progress".
const ROTATE_PATIENCE: Duration = Duration::from_secs(15);

/// The page size `key list` asks for: the largest the server gives.
const PAGE: usize = 200;

/// What a key is at `now`: revoked, expired (also during a rotation's overlap: it is
/// refused already), rotating (working until its overlap ends) or active.
fn state(key: &KeySummary, now: i64) -> String {
    match (key.revoked_at, key.expires_at) {
        (Some(at), _) if at <= now => format!("revoked {}", format_time(at)),
        (_, Some(at)) if at <= now => "expired".to_owned(),
        (Some(at), _) => format!("rotating, until {}", format_time(at)),
        (None, _) => "active".to_owned(),
    }
}

/// The keys as a table; `now` tells a revoked key from one whose rotation ends later.
fn table(keys: &[KeySummary], now: i64) -> String {
    let mut table = Table::new(&[
        "id",
        "name",
        "type",
        "scopes",
        "created",
        "expires",
        "state",
        "last used",
        "from",
        "allowed from",
    ]);
    for key in keys {
        let state = state(key, now);
        table.row(vec![
            key.api_key_id.clone(),
            key.name.clone().unwrap_or_else(|| "-".into()),
            key.key_type.clone(),
            key.scopes.join(","),
            format_time(key.created_at),
            format_time_opt(key.expires_at),
            state,
            format_time_opt(key.last_used_at),
            key.last_used_address.clone().unwrap_or_else(|| "-".into()),
            key.allowed_cidrs
                .as_ref()
                .map_or_else(|| "anywhere".to_owned(), |cidrs| cidrs.join(",")),
        ]);
    }
    table.render("(no keys)")
}

/// The values a repeated, comma-separated flag was given, trimmed, blanks dropped;
/// `None` when none is left (the server's default applies).
fn non_empty(values: Vec<String>) -> Option<Vec<String>> {
    let values: Vec<String> = values
        .into_iter()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .collect();
    (!values.is_empty()).then_some(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(revoked_at: Option<i64>, expires_at: Option<i64>) -> KeySummary {
        KeySummary {
            api_key_id: "k".into(),
            customer_id: "c".into(),
            name: None,
            key_type: "human".into(),
            scopes: Vec::new(),
            created_at: 0,
            expires_at,
            revoked_at,
            last_used_at: None,
            last_used_address: None,
            allowed_cidrs: None,
        }
    }

    #[test]
    fn a_key_that_expired_during_its_overlap_is_expired_not_rotating() {
        let now = 1_000;
        assert_eq!(state(&key(None, None), now), "active");
        assert_eq!(state(&key(None, Some(now)), now), "expired");
        assert!(state(&key(Some(2_000), None), now).starts_with("rotating, until "));
        assert_eq!(state(&key(Some(2_000), Some(now - 1)), now), "expired");
        assert!(state(&key(Some(now), Some(now - 1)), now).starts_with("revoked "));
    }
}
