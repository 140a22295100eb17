//! Customer API-key authentication and the scope check.

use std::marker::PhantomData;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage as _, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use releasy_domain::api_key::{AuthFailure, AuthenticatedKey, Scope};
use releasy_domain::audit::{Actor, Origin};
use tracing::Instrument as _;

use crate::auth::operator::MissingState;
use crate::client::client_address;
use crate::error::ApiError;
use crate::origin::origin_of;
use crate::state::AppState;

/// The header carrying a customer API key.
pub const API_KEY_HEADER: &str = "x-releasy-api-key";

/// Names the scope a handler needs.
pub trait RequiredScope {
    /// The scope.
    const SCOPE: Scope;
}

/// A customer key that authenticated and carries `S::SCOPE`.
#[derive(Debug)]
pub struct CustomerKey<S: RequiredScope> {
    /// The key.
    pub key: AuthenticatedKey,
    /// The key, the request and its client, as the changes it makes record them.
    pub origin: Origin,
    _scope: PhantomData<S>,
}

impl<S: RequiredScope> FromRequest for CustomerKey<S> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let presented = presented_key(req);
        let req = req.clone();
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::internal(&MissingState))?;
            let key = authenticate(&state, &req, presented.as_deref(), S::SCOPE).await?;
            let actor = Actor::ApiKey {
                key_id: key.api_key_id,
                customer_id: key.customer_id,
            };
            Ok(Self {
                origin: origin_of(&req, &state, actor),
                key,
                _scope: PhantomData,
            })
        })
    }
}

/// Authenticates a customer key presented by `req`'s client and checks it carries
/// `scope`. Where the key stands in its request budget, when it has one, is left in
/// `req`'s extensions for the `RateLimit` headers (`crate::rate_limit_headers`).
///
/// The check runs on its own task, so it finishes even when actix drops this extractor
/// because a sibling failed (a bad JSON body, say, answered at once with a 400): every
/// attempt that reached the server with a key is decided and audited.
pub(crate) async fn authenticate(
    state: &AppState,
    req: &HttpRequest,
    presented: Option<&str>,
    scope: Scope,
) -> Result<AuthenticatedKey, ApiError> {
    let client = client_address(req, &state.trusted_proxies);
    let authenticator = state.services.authenticator.clone();
    let presented = presented.map(str::to_owned);
    let outcome = actix_web::rt::spawn(
        async move {
            authenticator
                .authenticate_from(presented.as_deref(), client)
                .await
        }
        .in_current_span(),
    )
    .await
    .map_err(|err| ApiError::internal(&err))?;
    let admitted = match outcome {
        Ok(admitted) => admitted,
        Err(failure) => {
            if let Some(reason) = refusal_reason(&failure) {
                state.count_refusal(CREDENTIAL, reason);
            }
            if let AuthFailure::OverBudget { state: budget, .. } = &failure {
                req.extensions_mut().insert(*budget);
            }
            return Err(failure.into());
        }
    };
    if let Some(budget) = admitted.budget {
        req.extensions_mut().insert(budget);
    }
    if let Err(missing) = admitted.key.require(scope) {
        state.count_refusal(CREDENTIAL, "missing_scope");
        return Err(missing.into());
    }
    Ok(admitted.key)
}

/// The metrics' name for a customer key.
const CREDENTIAL: &str = "api_key";

/// The metrics' reason for `failure`, when it is a refusal (not the database or the
/// hasher failing).
fn refusal_reason(failure: &AuthFailure) -> Option<&'static str> {
    match failure {
        AuthFailure::Rejected(reason) => Some(reason.as_str()),
        AuthFailure::Throttled { .. } => Some("throttled"),
        AuthFailure::OverBudget { .. } => Some("over_budget"),
        AuthFailure::Repo(_) | AuthFailure::Hash(_) => None,
    }
}

/// The customer key a request presents, if any. A value that is not visible ASCII is
/// no key, but it was presented: it is passed on as it is (bytes that are not UTF-8
/// replaced), to be refused as an unknown key rather than reported missing.
pub(crate) fn presented_key(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(API_KEY_HEADER)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}
