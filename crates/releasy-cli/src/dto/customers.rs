//! Customer bodies.

use serde::{Deserialize, Serialize};

/// `POST /v1/admin/customers`.
#[derive(Debug, Serialize)]
pub struct CreateCustomer {
    /// Display name.
    pub name: String,
    /// Plan.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
}

/// `PATCH /v1/admin/customers/{id}`.
#[derive(Debug, Serialize)]
pub struct UpdateCustomer {
    /// `true` suspends, `false` resumes.
    pub suspended: bool,
}

/// A customer.
#[derive(Debug, Serialize, Deserialize)]
pub struct Customer {
    /// Customer id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Plan.
    pub plan: Option<String>,
    /// Creation time (Unix seconds).
    pub created_at: i64,
    /// Suspension time (Unix seconds), `null` while active.
    #[serde(default)]
    pub suspended_at: Option<i64>,
}

/// `GET /v1/admin/customers`.
#[derive(Debug, Serialize, Deserialize)]
pub struct CustomerList {
    /// The customers, newest first.
    pub customers: Vec<Customer>,
    /// Page size used.
    pub limit: i64,
    /// Offset used.
    pub offset: i64,
    /// Cursor of the next page, `null` on the last.
    pub next_cursor: Option<String>,
}
