//! What Releasy reads from a verified token: the subject (`sub`) and the role claims,
//! mapped to Releasy roles through the domain's
//! [`Operator::from_role_claims`](releasy_domain::access::Operator::from_role_claims).
//!
//! Roles are the union of three places, so that Keycloak, Auth0, Dex and plain custom
//! claims all work without a mapping layer:
//!
//! - `roles`: a top-level array of strings (Auth0 with an Action, most custom setups);
//! - `realm_access.roles`: Keycloak realm roles;
//! - `resource_access.<resource>.roles`: Keycloak client roles, for the client named by
//!   `RELEASY_OPERATOR_RESOURCE` (ignored when that is unset).
//!
//! A claim of an unexpected shape contributes no role rather than failing the token; a
//! single string is read as a one-element list. Values that name no Releasy role are
//! ignored.

use std::collections::BTreeSet;

use releasy_domain::access::Operator;
use serde_json::{Map, Value};

/// Why verified claims give no operator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimsError {
    /// `sub` is missing, empty or not a string.
    #[error("token has no subject (sub)")]
    NoSubject,
    /// No role claim names a Releasy role.
    #[error("token names no releasy role")]
    NoRole,
}

/// Every role value the three role claims carry, deduplicated and sorted.
pub fn role_values(claims: &Map<String, Value>, resource: Option<&str>) -> BTreeSet<String> {
    let mut values = BTreeSet::new();
    collect(claims.get("roles"), &mut values);
    collect(
        claims
            .get("realm_access")
            .and_then(|realm| realm.get("roles")),
        &mut values,
    );
    if let Some(resource) = resource {
        collect(
            claims
                .get("resource_access")
                .and_then(|access| access.get(resource))
                .and_then(|client| client.get("roles")),
            &mut values,
        );
    }
    values
}

/// The token's subject: a non-empty string `sub`.
pub fn subject(claims: &Map<String, Value>) -> Option<&str> {
    claims
        .get("sub")
        .and_then(Value::as_str)
        .filter(|sub| !sub.trim().is_empty())
}

/// The operator verified `claims` describe.
///
/// # Errors
/// [`ClaimsError::NoSubject`] without a `sub`; [`ClaimsError::NoRole`] when no role
/// value maps to a Releasy role.
pub fn operator(
    claims: &Map<String, Value>,
    resource: Option<&str>,
) -> Result<Operator, ClaimsError> {
    let subject = subject(claims).ok_or(ClaimsError::NoSubject)?;
    let values = role_values(claims, resource);
    Operator::from_role_claims(subject, values.iter().map(String::as_str))
        .ok_or(ClaimsError::NoRole)
}

fn collect(claim: Option<&Value>, into: &mut BTreeSet<String>) {
    match claim {
        Some(Value::Array(items)) => {
            into.extend(items.iter().filter_map(Value::as_str).map(str::to_owned));
        }
        Some(Value::String(one)) => {
            into.insert(one.clone());
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use releasy_domain::access::OperatorRole;
    use serde_json::json;

    fn map(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => panic!("not an object"),
        }
    }

    fn roles(value: Value, resource: Option<&str>) -> Result<BTreeSet<OperatorRole>, ClaimsError> {
        operator(&map(value), resource).map(|op| op.roles)
    }

    #[test]
    fn roles_come_from_each_of_the_three_claims() {
        assert_eq!(
            roles(json!({"sub": "a", "roles": ["platform_admin"]}), None),
            Ok(BTreeSet::from([OperatorRole::PlatformAdmin]))
        );
        assert_eq!(
            roles(
                json!({"sub": "a", "realm_access": {"roles": ["offline_access", "platform_support"]}}),
                None
            ),
            Ok(BTreeSet::from([OperatorRole::PlatformSupport]))
        );
        assert_eq!(
            roles(
                json!({"sub": "a", "resource_access": {"releasy": {"roles": ["release_publisher"]}}}),
                Some("releasy")
            ),
            Ok(BTreeSet::from([OperatorRole::ReleasePublisher]))
        );
    }

    #[test]
    fn the_three_claims_are_united() {
        let claims = json!({
            "sub": "a",
            "roles": ["release_publisher"],
            "realm_access": {"roles": ["platform_support", "uma_authorization"]},
            "resource_access": {
                "releasy": {"roles": ["platform_admin"]},
                "account": {"roles": ["manage-account"]}
            }
        });
        assert_eq!(
            roles(claims.clone(), Some("releasy")),
            Ok(BTreeSet::from(OperatorRole::ALL))
        );
        assert_eq!(
            role_values(&map(claims), Some("releasy")),
            BTreeSet::from(
                [
                    "platform_admin",
                    "platform_support",
                    "release_publisher",
                    "uma_authorization"
                ]
                .map(str::to_owned)
            )
        );
    }

    #[test]
    fn client_roles_count_only_for_the_configured_resource() {
        let claims =
            json!({"sub": "a", "resource_access": {"other": {"roles": ["platform_admin"]}}});
        assert_eq!(
            roles(claims.clone(), Some("releasy")),
            Err(ClaimsError::NoRole)
        );
        assert_eq!(roles(claims.clone(), None), Err(ClaimsError::NoRole));
        assert!(roles(claims, Some("other")).is_ok());
    }

    #[test]
    fn odd_shapes_add_no_role_and_a_single_string_counts() {
        assert_eq!(
            roles(json!({"sub": "a", "roles": "platform_support"}), None),
            Ok(BTreeSet::from([OperatorRole::PlatformSupport]))
        );
        assert_eq!(
            roles(
                json!({"sub": "a", "roles": [1, null, {"x": 1}, "platform_admin"]}),
                None
            ),
            Ok(BTreeSet::from([OperatorRole::PlatformAdmin]))
        );
        for odd in [
            json!({"sub": "a", "roles": {"platform_admin": true}}),
            json!({"sub": "a", "realm_access": ["platform_admin"]}),
            json!({"sub": "a", "realm_access": {"roles": 5}}),
            json!({"sub": "a", "resource_access": {"releasy": ["platform_admin"]}}),
        ] {
            assert_eq!(
                roles(odd.clone(), Some("releasy")),
                Err(ClaimsError::NoRole),
                "{odd}"
            );
        }
    }

    #[test]
    fn unknown_role_names_give_no_operator() {
        assert_eq!(
            roles(
                json!({"sub": "a", "roles": ["admin", "Platform_Admin"]}),
                None
            ),
            Err(ClaimsError::NoRole)
        );
        assert_eq!(roles(json!({"sub": "a"}), None), Err(ClaimsError::NoRole));
    }

    #[test]
    fn the_subject_is_required() {
        for claims in [
            json!({"roles": ["platform_admin"]}),
            json!({"sub": "", "roles": ["platform_admin"]}),
            json!({"sub": "  ", "roles": ["platform_admin"]}),
            json!({"sub": 42, "roles": ["platform_admin"]}),
        ] {
            assert_eq!(
                roles(claims.clone(), None),
                Err(ClaimsError::NoSubject),
                "{claims}"
            );
        }
        let op = operator(
            &map(json!({"sub": "alice", "roles": ["platform_admin"]})),
            None,
        )
        .unwrap();
        assert_eq!(op.subject, "alice");
    }
}
