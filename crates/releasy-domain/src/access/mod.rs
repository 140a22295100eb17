//! Who may do what: operator roles and the role matrix of the contract.

mod roles;

pub use roles::{Action, Credential, Operator, OperatorRole, role_allows};
