//! Where requests enter: one module per resource, one handler per endpoint.

pub mod audit;
pub mod customers;
pub mod health;
pub mod introspect;
pub mod keys;
pub mod openapi;
