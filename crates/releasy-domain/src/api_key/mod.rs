//! Customer API keys: their scopes and types, the secret and its stored hash, and the
//! use cases that issue, list, rotate, revoke and authenticate them.

mod address_rule;
mod authenticate;
mod key_type;
mod model;
mod rotation;
mod scope;
mod secret;
mod service;
mod stored_setting;
mod unindexed;

pub use address_rule::{AllowedNetworks, address_allowed};
pub use authenticate::{
    AdmittedKey, ApiKeyAuthenticator, AuthFailure, AuthenticatedKey, LAST_USE_RESOLUTION_SECONDS,
    MissingScope,
};
pub use key_type::KeyType;
pub use model::{ApiKey, AuthCandidate, KeyChanges, KeyName, NewApiKeyRequest};
pub use rotation::{Rotation, RotationOverlap, RotationRefusal, check_rotatable};
pub use scope::{Scope, ScopeSet};
pub use secret::{ApiKeySecret, KeyLookup, StoredKeyHash};
pub use service::{
    ApiKeyService, CreateKeyError, IssuedKey, ListKeysError, RevokeKeyError, RotateKeyError,
    RotatedKey, UpdateKeyError,
};
pub use stored_setting::StoredSetting;
pub use unindexed::{
    SearchBudget, VERIFICATIONS_PER_ADDRESS, VERIFICATIONS_PER_MINUTE, VERIFICATIONS_PER_SEARCH,
};
