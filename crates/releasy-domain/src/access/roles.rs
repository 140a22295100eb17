//! Operator roles and the matrix that maps each admin action to the roles allowed to
//! perform it. The admin bootstrap key acts as `platform_admin`.

use std::collections::BTreeSet;

/// A role an operator can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OperatorRole {
    /// Everything.
    PlatformAdmin,
    /// Reads, and revokes keys.
    PlatformSupport,
    /// Creates and publishes releases and their artifacts.
    ReleasePublisher,
}

impl OperatorRole {
    /// Every role.
    pub const ALL: [OperatorRole; 3] = [
        OperatorRole::PlatformAdmin,
        OperatorRole::PlatformSupport,
        OperatorRole::ReleasePublisher,
    ];

    /// The claim value naming this role.
    pub const fn as_str(self) -> &'static str {
        match self {
            OperatorRole::PlatformAdmin => "platform_admin",
            OperatorRole::PlatformSupport => "platform_support",
            OperatorRole::ReleasePublisher => "release_publisher",
        }
    }

    /// The role a claim value names; `None` for values that map to no role.
    pub fn from_claim(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|role| role.as_str() == value)
    }
}

/// Calls the macro named `$callback` once with every [`Action`], each with its doc
/// comment (`/// doc CreateCustomer, ...`). The enum is made this way,
/// and so are the HTTP crate's type-level names of the actions, so the list of actions
/// is written once.
#[macro_export]
macro_rules! with_each_action {
    ($callback:ident) => {
        $callback! {
            /// `POST /v1/admin/customers`
            CreateCustomer,
            /// `PATCH /v1/admin/customers/{id}`
            UpdateCustomer,
            /// `GET /v1/admin/customers`
            ListCustomers,
            /// `GET /v1/admin/customers/{id}`
            GetCustomer,
            /// `POST /v1/admin/keys`
            CreateKey,
            /// `POST /v1/admin/keys/revoke`
            RevokeKey,
            /// `GET .../entitlements`
            ListEntitlements,
            /// `POST .../entitlements`
            CreateEntitlement,
            /// `PATCH .../entitlements/{id}`
            UpdateEntitlement,
            /// `DELETE .../entitlements/{id}`
            DeleteEntitlement,
            /// `POST /v1/releases`
            CreateRelease,
            /// `POST /v1/releases/{id}/publish`
            PublishRelease,
            /// `POST /v1/releases/{id}/artifacts/presign`
            PresignArtifact,
            /// `POST /v1/releases/{id}/artifacts`
            RegisterArtifact,
            /// `GET /v1/releases` as an operator
            ListReleases,
            /// `POST /v1/releases/{id}/unpublish`
            UnpublishRelease,
            /// `DELETE /v1/releases/{id}`
            DeleteRelease,
            /// `GET /v1/admin/audit-events`
            ReadAuditEvents,
            /// `PATCH /v1/releases/{id}` (a draft's channel, notes, metadata)
            UpdateRelease,
            /// `POST /v1/releases/{id}/yank`
            YankRelease,
            /// `POST /v1/releases/{id}/unyank`
            UnyankRelease,
            /// `GET /v1/admin/customers/{id}/access` (why a customer may or may not
            /// have a release)
            ExplainAccess,
            /// `GET /v1/admin/products`
            ListProducts,
            /// `GET /v1/admin/products/{product}/policy`
            ReadProductPolicy,
            /// `PUT /v1/admin/products/{product}/policy`
            SetProductPolicy,
            /// `GET /v1/admin/customers/{id}/keys` (never a secret)
            ListKeys,
            /// `POST /v1/admin/keys/{id}/rotate` (issues a key, so as `CreateKey`)
            RotateKey,
            /// `PATCH /v1/admin/keys/{id}` (a key's name and address rule)
            UpdateKey,
            /// `GET /v1/admin/downloads` and `/stats` (the download ledger)
            ReadDownloads,
        }
    };
}

macro_rules! define_actions {
    ($( $(#[$doc:meta])* $name:ident ),* $(,)?) => {
        /// An admin or release action that the role matrix governs.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Action {
            $( $(#[$doc])* $name, )*
        }

        impl Action {
            /// Every action.
            pub const ALL: [Action; [$(stringify!($name)),*].len()] = [$(Action::$name),*];
        }
    };
}

with_each_action!(define_actions);

/// The role matrix: whether `role` may perform `action`.
pub const fn role_allows(role: OperatorRole, action: Action) -> bool {
    use Action::*;
    use OperatorRole::*;
    match role {
        PlatformAdmin => true,
        PlatformSupport => matches!(
            action,
            ListCustomers
                | GetCustomer
                | RevokeKey
                | ListEntitlements
                | ListReleases
                | ReadAuditEvents
                | ExplainAccess
                | ListProducts
                | ReadProductPolicy
                | ListKeys
                | ReadDownloads
        ),
        ReleasePublisher => matches!(
            action,
            CreateRelease
                | PublishRelease
                | PresignArtifact
                | RegisterArtifact
                | ListReleases
                | UpdateRelease
                | YankRelease
                | ListProducts
                | ReadProductPolicy
        ),
    }
}

/// An authenticated operator: a subject (for logs) and the roles it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    /// Who it is: the token's `sub`, or `admin_key` for the bootstrap key.
    pub subject: String,
    /// How it signed in; with `subject`, it names the caller uniquely (a token whose
    /// `sub` is `admin_key` is still not the admin key).
    pub credential: Credential,
    /// Its mapped roles; never empty.
    pub roles: BTreeSet<OperatorRole>,
}

/// How an operator signed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Credential {
    /// The admin bootstrap key.
    AdminKey,
    /// A token from the identity provider.
    Token,
}

impl Operator {
    /// A name for the caller that no other caller shares (for scoping idempotency keys):
    /// the credential kind and the subject.
    pub fn caller_id(&self) -> String {
        match self.credential {
            Credential::AdminKey => "admin-key".to_owned(),
            Credential::Token => format!("token:{}", self.subject),
        }
    }

    /// The operator the admin bootstrap key authenticates.
    pub fn admin_key() -> Self {
        Self {
            subject: "admin_key".to_owned(),
            credential: Credential::AdminKey,
            roles: BTreeSet::from([OperatorRole::PlatformAdmin]),
        }
    }

    /// The operator a verified token describes: `subject` and the roles its role claims
    /// name (values that map to no role are ignored). `None` when no value maps to a
    /// role: such a token is refused.
    pub fn from_role_claims<'a>(
        subject: impl Into<String>,
        claims: impl IntoIterator<Item = &'a str>,
    ) -> Option<Self> {
        let roles: BTreeSet<OperatorRole> = claims
            .into_iter()
            .filter_map(OperatorRole::from_claim)
            .collect();
        (!roles.is_empty()).then(|| Self {
            subject: subject.into(),
            credential: Credential::Token,
            roles,
        })
    }

    /// Whether any of the operator's roles allows `action`.
    pub fn may(&self, action: Action) -> bool {
        self.roles.iter().any(|role| role_allows(*role, action))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Action::*;

    /// The contract's matrix, row by row: (action, admin, support, publisher).
    const MATRIX: [(Action, bool, bool, bool); 29] = [
        (CreateCustomer, true, false, false),
        (UpdateCustomer, true, false, false),
        (CreateKey, true, false, false),
        (ListCustomers, true, true, false),
        (GetCustomer, true, true, false),
        (RevokeKey, true, true, false),
        (ListEntitlements, true, true, false),
        (CreateEntitlement, true, false, false),
        (UpdateEntitlement, true, false, false),
        (DeleteEntitlement, true, false, false),
        (CreateRelease, true, false, true),
        (PublishRelease, true, false, true),
        (PresignArtifact, true, false, true),
        (RegisterArtifact, true, false, true),
        (ListReleases, true, true, true),
        (UnpublishRelease, true, false, false),
        (DeleteRelease, true, false, false),
        (ReadAuditEvents, true, true, false),
        // The release model (#14).
        (UpdateRelease, true, false, true),
        (YankRelease, true, false, true),
        (UnyankRelease, true, false, false),
        (ExplainAccess, true, true, false),
        (ListProducts, true, true, true),
        (ReadProductPolicy, true, true, true),
        (SetProductPolicy, true, false, false),
        // Keys an operator can see and rotate (#16).
        (ListKeys, true, true, false),
        (RotateKey, true, false, false),
        (UpdateKey, true, false, false),
        // The download ledger (#16).
        (ReadDownloads, true, true, false),
    ];

    #[test]
    fn every_action_and_role_follows_the_matrix() {
        for (action, admin, support, publisher) in MATRIX {
            assert_eq!(
                role_allows(OperatorRole::PlatformAdmin, action),
                admin,
                "{action:?}"
            );
            assert_eq!(
                role_allows(OperatorRole::PlatformSupport, action),
                support,
                "{action:?}"
            );
            assert_eq!(
                role_allows(OperatorRole::ReleasePublisher, action),
                publisher,
                "{action:?}"
            );
        }
        // The table covers every action exactly once.
        for action in Action::ALL {
            assert_eq!(
                MATRIX.iter().filter(|row| row.0 == action).count(),
                1,
                "{action:?}"
            );
        }
    }

    #[test]
    fn roles_combine_as_a_union() {
        let op = Operator {
            subject: "ops".into(),
            credential: Credential::Token,
            roles: BTreeSet::from([
                OperatorRole::PlatformSupport,
                OperatorRole::ReleasePublisher,
            ]),
        };
        assert!(op.may(CreateRelease));
        assert!(op.may(RevokeKey));
        assert!(!op.may(DeleteRelease));
        assert!(Operator::admin_key().may(DeleteRelease));
    }

    #[test]
    fn role_claims_make_an_operator_only_when_one_maps() {
        let op = Operator::from_role_claims(
            "alice",
            ["offline_access", "release_publisher", "release_publisher"],
        )
        .unwrap();
        assert_eq!(op.subject, "alice");
        assert_eq!(op.roles, BTreeSet::from([OperatorRole::ReleasePublisher]));
        assert!(Operator::from_role_claims("bob", ["admin", "uma_authorization"]).is_none());
        let impostor = Operator::from_role_claims("admin_key", ["platform_admin"]).unwrap();
        assert_ne!(impostor.caller_id(), Operator::admin_key().caller_id());
        assert!(Operator::from_role_claims("carol", []).is_none());
    }

    #[test]
    fn claim_values_map_to_roles() {
        assert_eq!(
            OperatorRole::from_claim("platform_support"),
            Some(OperatorRole::PlatformSupport)
        );
        assert_eq!(OperatorRole::from_claim("admin"), None);
    }
}
