//! The `customers` row.

use diesel::prelude::*;
use releasy_domain::Timestamp;
use releasy_domain::customer::{Customer, CustomerName, Plan};
use releasy_domain::ports::RepoError;

use super::{parse_id, ts};
use crate::schema::customers;

/// A row of `customers`, built from the domain value with `From` (and read back with
/// `TryFrom`, which applies the domain's rules).
#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = customers)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct CustomerRow {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) plan: Option<String>,
    pub(crate) created_at: i64,
    pub(crate) suspended_at: Option<i64>,
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
            // Names and plans of customers carried over from the reference server
            // were never checked.
            name: CustomerName::from_stored(&row.name),
            plan: row.plan.as_deref().map(Plan::from_stored),
            created_at: ts(row.created_at),
            suspended_at: row.suspended_at.map(ts),
        })
    }
}
