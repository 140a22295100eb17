//! The `api_keys` row, and the authentication candidate read with its customer.

use diesel::prelude::*;
use releasy_domain::api_key::{
    AllowedNetworks, ApiKey, AuthCandidate, KeyLookup, KeyName, KeyType, ScopeSet, StoredKeyHash,
    StoredSetting,
};
use releasy_domain::ports::RepoError;
use releasy_domain::{ApiKeyId, CustomerId, Timestamp};

use super::{parse_id, ts};
use crate::error::corrupt;
use crate::schema::api_keys;

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
    pub last_used_address: Option<String>,
    pub allowed_cidrs: Option<String>,
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
            last_used_address: k.last_used_address.map(|a| a.to_string()),
            allowed_cidrs: k.allowed_networks.as_ref().map(AllowedNetworks::to_stored),
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
            // Names of keys carried over from the reference server were never checked;
            // a type or scopes this server cannot read are kept as stored, so the key
            // can still be listed, changed and revoked (it cannot authenticate).
            name: row.name.as_deref().map(KeyName::from_stored),
            key_type: StoredSetting::read(&row.key_type, KeyType::parse),
            scopes: StoredSetting::read(&row.scopes, ScopeSet::from_stored),
            hash: StoredKeyHash::from_stored(row.key_hash),
            lookup: KeyLookup::from_stored(row.key_lookup.unwrap_or_default()),
            created_at: ts(row.created_at),
            expires_at: row.expires_at.map(ts),
            revoked_at: row.revoked_at.map(ts),
            last_used_at: row.last_used_at.map(ts),
            last_used_address: row
                .last_used_address
                .as_deref()
                .map(str::parse)
                .transpose()
                .map_err(|e| corrupt("api_keys", e))?,
            allowed_networks: row
                .allowed_cidrs
                .as_deref()
                .map(AllowedNetworks::from_stored)
                .transpose()
                .map_err(bad)?,
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
    Option<i64>,
    Option<String>,
);

pub(crate) fn candidate(row: CandidateRow) -> Result<AuthCandidate, RepoError> {
    let (
        id,
        customer_id,
        key_hash,
        scopes,
        key_type,
        expires_at,
        revoked_at,
        last_used_at,
        suspended_at,
        allowed_cidrs,
    ) = row;
    Ok(AuthCandidate {
        id: parse_id("api_keys", &id)?,
        customer_id: parse_id("api_keys", &customer_id)?,
        hash: StoredKeyHash::from_stored(key_hash),
        scopes,
        key_type,
        expires_at: expires_at.map(ts),
        revoked_at: revoked_at.map(ts),
        customer_suspended_at: suspended_at.map(ts),
        last_used_at: last_used_at.map(ts),
        allowed_cidrs,
    })
}
