//! Products: what each product's releases add up to, and its release policy (whether
//! published releases are immutable).

mod model;
mod policy;
mod service;

pub use model::{ProductPolicy, ProductSummary};
pub use policy::ImmutabilityPolicy;
pub(crate) use policy::release_is_fixed;
pub use service::{EffectivePolicy, ProductError, ProductService};
