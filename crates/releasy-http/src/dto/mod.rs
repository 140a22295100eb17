//! Request and response bodies exactly as the contract spells them, and their
//! conversions from domain types. Handlers never serialise domain types directly.

mod audit;
mod customers;
mod error;
mod health;
mod keys;
mod params;

pub use audit::{AuditEventListQuery, AuditEventListResponse, AuditEventResponse};
pub use customers::{
    CreateCustomerRequest, CustomerListQuery, CustomerListResponse, CustomerResponse,
    UpdateCustomerRequest,
};
pub use error::{ErrorBody, ErrorDetail};
pub use health::HealthResponse;
pub use keys::{
    CreateKeyRequest, CreateKeyResponse, IntrospectionResponse, RevokeKeyRequest, RevokeKeyResponse,
};
pub(crate) use params::{non_empty, parse_id, parse_int};
