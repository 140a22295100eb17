//! Row structs and their conversions to and from domain types. Rows hold plain column
//! values; only the conversions know the domain's rules.

use diesel::prelude::*;
use releasy_domain::api_key::{
    ApiKey, AuthCandidate, KeyLookup, KeyName, KeyType, ScopeSet, StoredKeyHash,
};
use releasy_domain::audit::AuditEvent;
use releasy_domain::customer::{Customer, CustomerName, Plan};
use releasy_domain::idempotency::{
    IdempotencyKey, IdempotencyRecord, IdempotencyState, StoredResponse,
};
use releasy_domain::ports::RepoError;
use releasy_domain::{ApiKeyId, AuditEventId, CustomerId, Timestamp};

use crate::error::corrupt;
use crate::schema::{api_keys, audit_events, customers, idempotency_keys};

fn ts(seconds: i64) -> Timestamp {
    Timestamp::from_unix_seconds(seconds)
}

fn parse_id<T: std::str::FromStr>(table: &'static str, raw: &str) -> Result<T, RepoError> {
    raw.parse()
        .map_err(|_| corrupt(table, format_args!("bad id `{raw}`")))
}

#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = customers)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub(crate) struct CustomerRow {
    pub id: String,
    pub name: String,
    pub plan: Option<String>,
    pub created_at: i64,
    pub suspended_at: Option<i64>,
}

impl From<&Customer> for CustomerRow {
    fn from(c: &Customer) -> Self {
        Self {
            id: c.id.to_string(),
            name: c.name.as_str().to_owned(),
            plan: c.plan.as_ref().map(|p| p.as_str().to_owned()),
            created_at: c.created_at.unix_seconds(),
            suspended_at: c.suspended_at.map(Timestamp::unix_seconds),
        }
    }
}

impl TryFrom<CustomerRow> for Customer {
    type Error = RepoError;

    fn try_from(row: CustomerRow) -> Result<Self, RepoError> {
        Ok(Self {
            id: parse_id("customers", &row.id)?,
            name: CustomerName::parse(&row.name).map_err(|e| corrupt("customers", e))?,
            plan: row
                .plan
                .as_deref()
                .map(Plan::parse)
                .transpose()
                .map_err(|e| corrupt("customers", e))?,
            created_at: ts(row.created_at),
            suspended_at: row.suspended_at.map(ts),
        })
    }
}

#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = api_keys)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub(crate) struct ApiKeyRow {
    pub id: String,
    pub customer_id: String,
    pub name: Option<String>,
    pub key_type: String,
    pub scopes: String,
    pub key_hash: String,
    pub key_lookup: Option<String>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

impl From<&ApiKey> for ApiKeyRow {
    fn from(k: &ApiKey) -> Self {
        Self {
            id: k.id.to_string(),
            customer_id: k.customer_id.to_string(),
            name: k.name.as_ref().map(|n| n.as_str().to_owned()),
            key_type: k.key_type.as_str().to_owned(),
            scopes: k.scopes.to_stored(),
            key_hash: k.hash.as_str().to_owned(),
            key_lookup: Some(k.lookup.as_str().to_owned()),
            created_at: k.created_at.unix_seconds(),
            expires_at: k.expires_at.map(Timestamp::unix_seconds),
            revoked_at: k.revoked_at.map(Timestamp::unix_seconds),
            last_used_at: k.last_used_at.map(Timestamp::unix_seconds),
        }
    }
}

impl TryFrom<ApiKeyRow> for ApiKey {
    type Error = RepoError;

    fn try_from(row: ApiKeyRow) -> Result<Self, RepoError> {
        let bad = |e| corrupt("api_keys", e);
        Ok(Self {
            id: parse_id::<ApiKeyId>("api_keys", &row.id)?,
            customer_id: parse_id::<CustomerId>("api_keys", &row.customer_id)?,
            name: row
                .name
                .as_deref()
                .map(KeyName::parse)
                .transpose()
                .map_err(bad)?,
            key_type: KeyType::parse(&row.key_type).map_err(bad)?,
            scopes: ScopeSet::from_stored(&row.scopes).map_err(bad)?,
            hash: StoredKeyHash::from_stored(row.key_hash),
            lookup: KeyLookup::from_stored(row.key_lookup.unwrap_or_default()),
            created_at: ts(row.created_at),
            expires_at: row.expires_at.map(ts),
            revoked_at: row.revoked_at.map(ts),
            last_used_at: row.last_used_at.map(ts),
        })
    }
}

/// An auth candidate: the key's columns that authentication reads, and its customer's
/// suspension time.
pub(crate) type CandidateRow = (
    String,
    String,
    String,
    String,
    String,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

pub(crate) fn candidate(row: CandidateRow) -> Result<AuthCandidate, RepoError> {
    let (id, customer_id, key_hash, scopes, key_type, expires_at, revoked_at, suspended_at) = row;
    Ok(AuthCandidate {
        id: parse_id("api_keys", &id)?,
        customer_id: parse_id("api_keys", &customer_id)?,
        hash: StoredKeyHash::from_stored(key_hash),
        scopes,
        key_type,
        expires_at: expires_at.map(ts),
        revoked_at: revoked_at.map(ts),
        customer_suspended_at: suspended_at.map(ts),
    })
}

#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_events)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub(crate) struct AuditEventRow {
    pub id: String,
    pub customer_id: Option<String>,
    pub actor: String,
    pub event: String,
    pub payload: String,
    pub created_at: i64,
}

impl From<&AuditEvent> for AuditEventRow {
    fn from(e: &AuditEvent) -> Self {
        Self {
            id: e.id.to_string(),
            customer_id: e.customer_id.map(|c| c.to_string()),
            actor: e.actor.clone(),
            event: e.event.clone(),
            payload: e.payload.to_string(),
            created_at: e.created_at.unix_seconds(),
        }
    }
}

impl TryFrom<AuditEventRow> for AuditEvent {
    type Error = RepoError;

    fn try_from(row: AuditEventRow) -> Result<Self, RepoError> {
        Ok(Self {
            id: parse_id::<AuditEventId>("audit_events", &row.id)?,
            customer_id: row
                .customer_id
                .as_deref()
                .map(|c| parse_id::<CustomerId>("audit_events", c))
                .transpose()?,
            actor: row.actor,
            event: row.event,
            payload: serde_json::from_str(&row.payload).map_err(|e| corrupt("audit_events", e))?,
            created_at: ts(row.created_at),
        })
    }
}

pub(crate) const IN_PROGRESS: &str = "in_progress";
pub(crate) const COMPLETED: &str = "completed";

#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = idempotency_keys)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub(crate) struct IdempotencyRow {
    pub scope: String,
    pub idem_key: String,
    pub fingerprint: String,
    pub state: String,
    pub response_status: Option<i32>,
    pub response_body: Option<String>,
    pub created_at: i64,
}

impl From<&IdempotencyRecord> for IdempotencyRow {
    fn from(r: &IdempotencyRecord) -> Self {
        let (state, status, body) = match &r.state {
            IdempotencyState::InProgress => (IN_PROGRESS, None, None),
            IdempotencyState::Completed(resp) => (
                COMPLETED,
                Some(i32::from(resp.status)),
                Some(resp.body.clone()),
            ),
        };
        Self {
            scope: r.scope.clone(),
            idem_key: r.key.as_str().to_owned(),
            fingerprint: r.fingerprint.clone(),
            state: state.to_owned(),
            response_status: status,
            response_body: body,
            created_at: r.created_at.unix_seconds(),
        }
    }
}

impl TryFrom<IdempotencyRow> for IdempotencyRecord {
    type Error = RepoError;

    fn try_from(row: IdempotencyRow) -> Result<Self, RepoError> {
        let bad = |detail: &str| corrupt("idempotency_keys", detail);
        let state = match (row.state.as_str(), row.response_status, row.response_body) {
            (IN_PROGRESS, _, _) => IdempotencyState::InProgress,
            (COMPLETED, Some(status), Some(body)) => IdempotencyState::Completed(StoredResponse {
                status: u16::try_from(status).map_err(|_| bad("bad status"))?,
                body,
            }),
            _ => return Err(bad("bad state")),
        };
        Ok(Self {
            scope: row.scope,
            key: IdempotencyKey::parse(&row.idem_key)
                .map_err(|e| corrupt("idempotency_keys", e))?,
            fingerprint: row.fingerprint,
            state,
            created_at: ts(row.created_at),
        })
    }
}
