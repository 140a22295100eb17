//! Who may do what: operator roles and the role matrix of the contract.

mod roles;

pub use roles::{Action, Operator, OperatorRole, role_allows};
