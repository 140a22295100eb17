//! Customer API-key authentication and the scope check.

use std::marker::PhantomData;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use releasy_domain::api_key::{AuthenticatedKey, Scope};

use crate::auth::operator::MissingState;
use crate::error::ApiError;
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
    _scope: PhantomData<S>,
}

impl<S: RequiredScope> FromRequest for CustomerKey<S> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let presented = presented_key(req);
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::internal(&MissingState))?;
            let key = authenticate(&state, presented.as_deref(), S::SCOPE).await?;
            Ok(Self {
                key,
                _scope: PhantomData,
            })
        })
    }
}

/// Authenticates a presented customer key and checks it carries `scope`.
///
/// The check runs on its own task, so it finishes even when actix drops this extractor
/// because a sibling failed (a bad JSON body, say, answered at once with a 400): every
/// attempt that reached the server with a key is decided and audited.
pub(crate) async fn authenticate(
    state: &AppState,
    presented: Option<&str>,
    scope: Scope,
) -> Result<AuthenticatedKey, ApiError> {
    let authenticator = state.services.authenticator.clone();
    let presented = presented.map(str::to_owned);
    let key =
        actix_web::rt::spawn(async move { authenticator.authenticate(presented.as_deref()).await })
            .await
            .map_err(|err| ApiError::internal(&err))??;
    key.require(scope)?;
    Ok(key)
}

/// The customer key a request presents, if any. A value that is not visible ASCII is
/// no key, but it was presented: it is passed on as it is (bytes that are not UTF-8
/// replaced), to be refused as an unknown key rather than reported missing.
pub(crate) fn presented_key(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(API_KEY_HEADER)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}
