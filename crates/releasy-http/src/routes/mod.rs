//! Where requests enter: one module per resource, one handler per endpoint.

pub mod artifacts;
pub mod audit;
pub mod customers;
pub mod delivery;
pub mod downloads;
pub mod entitlements;
pub mod health;
pub mod introspect;
pub mod keys;
pub mod metrics;
pub mod openapi;
mod openapi_body_rules;
pub mod openapi_rules;
pub mod products;
pub mod releases;
pub mod updates;
