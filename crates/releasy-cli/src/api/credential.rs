//! Which credential a command sends, and how.

use crate::config::{Secret, Settings};

/// The caller a command acts as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Vendor, CI and operator commands: the admin key, else an operator token.
    Operator,
    /// Customer commands: the customer API key.
    Customer,
    /// Either: operator credentials when set, else the customer API key.
    Any,
}

/// A credential and the header it travels in.
#[derive(Debug, Clone)]
pub enum Credential {
    /// `x-releasy-admin-key`.
    AdminKey(Secret),
    /// `Authorization: Bearer`.
    OperatorToken(Secret),
    /// `x-releasy-api-key`.
    ApiKey(Secret),
}

impl Credential {
    /// The credential `settings` give `role`, or a message saying what to set.
    ///
    /// # Errors
    /// A description of the missing setting.
    pub fn for_role(settings: &Settings, role: Role) -> Result<Self, String> {
        let operator = settings
            .admin_key
            .as_ref()
            .map(|s| Self::AdminKey(s.value.clone()))
            .or_else(|| {
                settings
                    .operator_token
                    .as_ref()
                    .map(|s| Self::OperatorToken(s.value.clone()))
            });
        let customer = settings
            .api_key
            .as_ref()
            .map(|s| Self::ApiKey(s.value.clone()));
        match role {
            Role::Operator => operator.ok_or_else(|| {
                "this command needs an admin key or an operator token: set \
                 RELEASY_ADMIN_API_KEY or RELEASY_OPERATOR_TOKEN (or --admin-key, \
                 --operator-token, or the profile file)"
                    .to_owned()
            }),
            Role::Customer => customer.ok_or_else(|| {
                "this command needs a customer API key: set RELEASY_API_KEY (or \
                 --api-key, or the profile file)"
                    .to_owned()
            }),
            Role::Any => operator.or(customer).ok_or_else(|| {
                "this command needs credentials: set RELEASY_ADMIN_API_KEY, \
                 RELEASY_OPERATOR_TOKEN or RELEASY_API_KEY"
                    .to_owned()
            }),
        }
    }

    /// Adds the credential's header to `request`.
    pub fn apply(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            Self::AdminKey(key) => request.header("x-releasy-admin-key", key.expose()),
            Self::OperatorToken(token) => request.bearer_auth(token.expose()),
            Self::ApiKey(key) => request.header("x-releasy-api-key", key.expose()),
        }
    }
}
