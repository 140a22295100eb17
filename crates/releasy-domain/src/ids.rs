//! Typed identifiers: a customer id can never be passed where a key id is expected.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// An identifier a change can create: see [`crate::audit::Origin::new_id`].
pub trait NewId: Sized {
    /// Its kind, mixed into ids derived for it, so two kinds never share one.
    const KIND: &'static str;

    /// A fresh, time-ordered identifier.
    fn generate() -> Self;

    /// Wraps an existing UUID.
    fn from_uuid(uuid: Uuid) -> Self;
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh identifier: a version 7 UUID, the current time in milliseconds
            /// followed by 74 random bits. Time-ordered ids land at the end of the
            /// primary-key index instead of on a random page of it, which keeps
            /// inserts into large tables (audit events, download tokens) cheap.
            pub fn generate() -> Self {
                Self(Uuid::now_v7())
            }

            /// Wraps an existing UUID.
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The underlying UUID.
            pub const fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }

        impl NewId for $name {
            const KIND: &'static str = stringify!($name);

            fn generate() -> Self {
                Self::generate()
            }

            fn from_uuid(uuid: Uuid) -> Self {
                Self::from_uuid(uuid)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = crate::ValidationError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self).map_err(|_| {
                    crate::ValidationError::new(stringify!($name), "must be a UUID")
                })
            }
        }
    };
}

uuid_id!(
    /// Identifies a customer.
    CustomerId
);
uuid_id!(
    /// Identifies a customer API key.
    ApiKeyId
);
uuid_id!(
    /// Identifies a release.
    ReleaseId
);
uuid_id!(
    /// Identifies an artifact of a release.
    ArtifactId
);
uuid_id!(
    /// Identifies an entitlement.
    EntitlementId
);
uuid_id!(
    /// Identifies an audit event.
    AuditEventId
);
uuid_id!(
    /// Identifies a stored download token.
    DownloadTokenId
);
uuid_id!(
    /// Identifies a row of the download ledger.
    DownloadRecordId
);
