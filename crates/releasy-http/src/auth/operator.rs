//! Operator authentication (admin bootstrap key or JWT) and the role-matrix check.

use std::marker::PhantomData;
use std::net::IpAddr;

use actix_web::dev::Payload;
use actix_web::http::header::{AUTHORIZATION, HeaderMap};
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use releasy_domain::access::{Action, Operator};
use releasy_domain::audit::{Actor, Origin};
use releasy_domain::ports::OperatorTokenError;
use releasy_domain::rate_limit::{Throttled, count_failure};

use crate::client::client_address;
use crate::error::ApiError;
use crate::origin::origin_of;
use crate::state::AppState;

/// The header carrying the admin bootstrap key.
pub const ADMIN_KEY_HEADER: &str = "x-releasy-admin-key";

/// Names the role-matrix action a handler performs.
pub trait Permission {
    /// The action.
    const ACTION: Action;
}

/// An operator allowed to perform `P::ACTION`.
#[derive(Debug)]
pub struct Authorized<P: Permission> {
    /// Who it is.
    pub operator: Operator,
    /// The operator, the request and its client, as the changes it makes record them.
    pub origin: Origin,
    _permission: PhantomData<P>,
}

impl<P: Permission> FromRequest for Authorized<P> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let client = state
            .as_ref()
            .and_then(|state| client_address(req, &state.trusted_proxies));
        let req = req.clone();
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::internal(&MissingState))?;
            // Through the request handle: copying the header map per request is not free.
            let operator = authorize(&state, req.headers(), client, P::ACTION).await?;
            let origin = origin_of(&req, &state, Actor::from(&operator));
            Ok(Self {
                operator,
                origin,
                _permission: PhantomData,
            })
        })
    }
}

/// Authenticates the operator behind `headers` and checks, through the domain's role
/// matrix, that one of its roles allows `action`. A failed authentication counts
/// against `client`'s failure limit, and past it is [`OperatorRefusal::Throttled`].
pub(crate) async fn authorize(
    state: &AppState,
    headers: &HeaderMap,
    client: Option<IpAddr>,
    action: Action,
) -> Result<Operator, ApiError> {
    let operator = match authenticate(state, headers).await {
        Ok(operator) => operator,
        Err(OperatorRefusal::Unauthorized(reason)) => {
            let limiter = state.services.rate_limiter.as_ref();
            let refusal = match client.map(|client| count_failure(limiter, client)) {
                Some(Err(throttled)) => OperatorRefusal::Throttled(throttled),
                _ => OperatorRefusal::Unauthorized(reason),
            };
            count_refusal(state, headers, &refusal);
            return Err(refusal.into());
        }
        Err(other) => {
            count_refusal(state, headers, &other);
            return Err(other.into());
        }
    };
    if !operator.may(action) {
        tracing::info!(subject = %operator.subject, ?action, "operator lacks role");
        return Err(ApiError::forbidden(
            "operator role does not allow this action",
        ));
    }
    tracing::debug!(subject = %operator.subject, ?action, "operator authorized");
    Ok(operator)
}

/// Why operator credentials were refused (answered in `crate::error`).
#[derive(Debug, thiserror::Error)]
pub enum OperatorRefusal {
    /// Missing or wrong credentials: a failed authentication, which counts against the
    /// client's address.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// A valid operator token that carries no Releasy role.
    #[error("operator token has no releasy role")]
    NoRole,
    /// The identity provider's keys could not be fetched.
    #[error(transparent)]
    Unavailable(OperatorTokenError),
    /// Wrong credentials from an address past its failure limit.
    #[error(transparent)]
    Throttled(#[from] Throttled),
}

/// Counts `refusal` in the metrics by the credential presented and why it failed.
fn count_refusal(state: &AppState, headers: &HeaderMap, refusal: &OperatorRefusal) {
    let credential = match (
        headers.contains_key(ADMIN_KEY_HEADER),
        bearer_token(headers),
    ) {
        (true, _) => "admin_key",
        (false, Some(bearer)) if bearer.matches('.').count() == 2 => "operator_token",
        (false, Some(_)) => "admin_key",
        (false, None) => "none",
    };
    let reason = match refusal {
        OperatorRefusal::Unauthorized(_) if credential == "none" => "missing",
        OperatorRefusal::Unauthorized(_) => "invalid",
        OperatorRefusal::NoRole => "no_role",
        OperatorRefusal::Unavailable(_) => "keys_unavailable",
        OperatorRefusal::Throttled(_) => "throttled",
    };
    state.count_refusal(credential, reason);
}

/// Whether the request carries the admin-key header, which is checked before any other
/// credential.
pub(crate) fn has_admin_key_header(headers: &HeaderMap) -> bool {
    headers.contains_key(ADMIN_KEY_HEADER)
}

#[derive(Debug, thiserror::Error)]
#[error("application state is not registered")]
pub(crate) struct MissingState;

/// The contract's priority: the admin-key header first; then a bearer value, which is a
/// JWT when it has two dots and an admin key otherwise.
async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Operator, OperatorRefusal> {
    if let Some(value) = headers.get(ADMIN_KEY_HEADER) {
        let presented = value.to_str().unwrap_or_default();
        return admin_key(state, presented);
    }
    let Some(bearer) = bearer_token(headers) else {
        return Err(OperatorRefusal::Unauthorized(
            "missing operator credentials",
        ));
    };
    if bearer.matches('.').count() == 2 {
        let Some(verifier) = &state.operator_tokens else {
            return Err(OperatorRefusal::Unauthorized(
                "operator tokens are not enabled on this server",
            ));
        };
        return verifier.verify(bearer).await.map_err(|err| match err {
            OperatorTokenError::Invalid(_) => {
                OperatorRefusal::Unauthorized("invalid operator token")
            }
            OperatorTokenError::NoRole => OperatorRefusal::NoRole,
            OperatorTokenError::Unavailable(_) => OperatorRefusal::Unavailable(err),
        });
    }
    admin_key(state, bearer)
}

fn admin_key(state: &AppState, presented: &str) -> Result<Operator, OperatorRefusal> {
    match &state.admin_key {
        Some(key) if key.matches(presented) => Ok(Operator::admin_key()),
        _ => Err(OperatorRefusal::Unauthorized("invalid admin key")),
    }
}

fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}
