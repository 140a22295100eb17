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
    /// The credential given most directly wins: a flag over an environment variable
    /// over the profile file, so that `--operator-token` is not shadowed by an
    /// `admin_key` in the profile. From the same place, the admin key comes before the
    /// operator token, and (for [`Role::Any`]) both before the customer API key.
    ///
    /// # Errors
    /// A description of the missing setting.
    pub fn for_role(settings: &Settings, role: Role) -> Result<Self, String> {
        let admin = settings
            .admin_key
            .as_ref()
            .map(|s| (s.source, Self::AdminKey(s.value.clone())));
        let token = settings
            .operator_token
            .as_ref()
            .map(|s| (s.source, Self::OperatorToken(s.value.clone())));
        let customer = settings
            .api_key
            .as_ref()
            .map(|s| (s.source, Self::ApiKey(s.value.clone())));
        let candidates = match role {
            Role::Operator => vec![admin, token],
            Role::Customer => vec![customer],
            Role::Any => vec![admin, token, customer],
        };
        // `min_by_key` keeps the first of equals: the listed order breaks ties.
        let chosen = candidates
            .into_iter()
            .flatten()
            .min_by_key(|(source, _)| *source)
            .map(|(_, credential)| credential);
        chosen.ok_or_else(|| {
            match role {
                Role::Operator => {
                    "this command needs an admin key or an operator token: set \
                     RELEASY_ADMIN_API_KEY or RELEASY_OPERATOR_TOKEN (or --admin-key, \
                     --operator-token, or the profile file)"
                }
                Role::Customer => {
                    "this command needs a customer API key: set RELEASY_API_KEY (or \
                     --api-key, or the profile file)"
                }
                Role::Any => {
                    "this command needs credentials: set RELEASY_ADMIN_API_KEY, \
                     RELEASY_OPERATOR_TOKEN or RELEASY_API_KEY"
                }
            }
            .to_owned()
        })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Source, Sourced};

    fn settings(admin: Option<Source>, token: Option<Source>, api_key: Option<Source>) -> Settings {
        let sourced = |value: &str, source: Option<Source>| {
            source.map(|source| Sourced {
                value: Secret::new(value.to_owned()).expect("not blank"),
                source,
            })
        };
        Settings {
            url: Sourced {
                value: "http://127.0.0.1:8080".parse().expect("url"),
                source: Source::Default,
            },
            admin_key: sourced("admin", admin),
            operator_token: sourced("token", token),
            api_key: sourced("customer", api_key),
            profile: None,
            profile_file: None,
        }
    }

    fn header(credential: &Credential) -> &'static str {
        match credential {
            Credential::AdminKey(_) => "admin",
            Credential::OperatorToken(_) => "token",
            Credential::ApiKey(_) => "customer",
        }
    }

    #[test]
    fn the_credential_given_most_directly_wins() {
        use Source::{Env, Flag, Profile};
        let chosen = |s: Settings, role| header(&Credential::for_role(&s, role).expect("one"));
        // A token on the command line is not shadowed by the profile's admin key.
        assert_eq!(
            chosen(settings(Some(Profile), Some(Flag), None), Role::Operator),
            "token"
        );
        assert_eq!(
            chosen(settings(Some(Profile), Some(Env), None), Role::Operator),
            "token"
        );
        // From the same place, the admin key first.
        assert_eq!(
            chosen(settings(Some(Env), Some(Env), None), Role::Operator),
            "admin"
        );
        assert_eq!(
            chosen(settings(Some(Flag), Some(Env), None), Role::Operator),
            "admin"
        );
        // `latest` with --api-key shows the customer's view despite a profile admin key.
        assert_eq!(
            chosen(settings(Some(Profile), None, Some(Flag)), Role::Any),
            "customer"
        );
        assert_eq!(
            chosen(settings(Some(Env), Some(Env), Some(Env)), Role::Any),
            "admin"
        );
        // A customer command never sends operator credentials.
        assert_eq!(
            chosen(settings(Some(Flag), None, Some(Profile)), Role::Customer),
            "customer"
        );
        assert!(Credential::for_role(&settings(Some(Flag), None, None), Role::Customer).is_err());
        assert!(Credential::for_role(&settings(None, None, Some(Flag)), Role::Operator).is_err());
    }
}
