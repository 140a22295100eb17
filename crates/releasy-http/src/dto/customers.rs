//! Customer bodies.

use releasy_domain::customer::{Customer, Plan};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// `POST /v1/admin/customers`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreateCustomerRequest {
    /// Display name; must not be empty.
    pub name: String,
    /// Plan identifier such as `core` or `enterprise` (trimmed); a blank one is no plan.
    #[serde(default)]
    pub plan: Option<String>,
}

/// `PATCH /v1/admin/customers/{customer_id}`: at least one field.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UpdateCustomerRequest {
    /// New name; must not be empty.
    #[serde(default)]
    pub name: Option<String>,
    /// New plan; `null` or a blank one removes it.
    #[serde(default, deserialize_with = "super::params::double_option")]
    #[schema(value_type = Option<String>)]
    pub plan: Option<Option<String>>,
    /// `true` suspends (keys and download tokens stop working), `false` resumes.
    #[serde(default)]
    pub suspended: Option<bool>,
}

/// A customer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CustomerResponse {
    /// Customer id (UUID).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Plan, or `null`.
    pub plan: Option<String>,
    /// Creation time (Unix seconds).
    pub created_at: i64,
    /// Suspension time (Unix seconds), or `null` while active.
    pub suspended_at: Option<i64>,
}

impl From<Customer> for CustomerResponse {
    fn from(c: Customer) -> Self {
        Self {
            id: c.id.to_string(),
            name: c.name.into_string(),
            plan: c.plan.map(Plan::into_string),
            created_at: c.created_at.unix_seconds(),
            suspended_at: c.suspended_at.map(|t| t.unix_seconds()),
        }
    }
}

/// `GET /v1/admin/customers` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CustomerListQuery {
    /// Exactly this customer.
    pub customer_id: Option<String>,
    /// Name contains this text, ignoring case (of every letter: `öbb` finds `ÖBB`).
    pub name: Option<String>,
    /// Plan equals this text, ignoring case (of every letter).
    pub plan: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[param(value_type = Option<i64>)]
    pub limit: Option<String>,
    /// Items to skip (kept for older clients; not with `cursor`).
    #[param(value_type = Option<i64>)]
    pub offset: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A page of customers, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CustomerListResponse {
    /// The customers.
    pub customers: Vec<CustomerResponse>,
    /// The page size used.
    pub limit: i64,
    /// The offset used (0 with a cursor).
    pub offset: i64,
    /// Cursor of the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}
