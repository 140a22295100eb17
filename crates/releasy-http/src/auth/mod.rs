//! Who is calling: operators (admin key or JWT) checked against the role matrix, and
//! customers (API key) checked for a scope. Handlers state what they need in their
//! signature (`Authorized<CreateCustomer>`, `CustomerKey<KeysRead>`); the check itself
//! happens here, in one place.

mod customer;
mod operator;
pub mod permissions;
mod reader;

pub use customer::{CustomerKey, RequiredScope};
pub use operator::{Authorized, OperatorRefusal, Permission};
pub use reader::{Caller, OperatorOrCustomer};
