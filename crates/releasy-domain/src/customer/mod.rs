//! Customers: the vendor's clients, who hold API keys and entitlements.

mod model;
mod service;

pub use model::{
    Customer, CustomerChanges, CustomerFilter, CustomerName, CustomerUpdate, Plan, fold_case,
};
pub use service::{CustomerError, CustomerService};
