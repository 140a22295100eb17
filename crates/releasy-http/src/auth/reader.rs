//! Endpoints that both operators and customers may call (listing releases, `latest`,
//! `upgrade`): the admin-key header, when present, decides; otherwise a customer key
//! that is not blank is authenticated and checked for a scope, whatever `Authorization`
//! says; otherwise the operator's credentials are checked against the role matrix.

use std::marker::PhantomData;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use releasy_domain::access::Operator;
use releasy_domain::api_key::AuthenticatedKey;
use releasy_domain::release::ReleaseViewer;

use super::customer::{self, RequiredScope};
use super::operator::{self, MissingState, Permission};
use crate::client::client_address;
use crate::error::ApiError;
use crate::state::AppState;

/// Who is calling.
#[derive(Debug)]
pub enum Caller {
    /// An operator allowed to perform the action.
    Operator(Operator),
    /// A customer key carrying the scope.
    Customer(AuthenticatedKey),
}

/// An operator allowed `P::ACTION`, or a customer key with `S::SCOPE`.
#[derive(Debug)]
pub struct OperatorOrCustomer<P: Permission, S: RequiredScope> {
    /// The caller.
    pub caller: Caller,
    _marker: PhantomData<(P, S)>,
}

impl<P: Permission, S: RequiredScope> OperatorOrCustomer<P, S> {
    /// Who is looking at releases: the domain decides what each may see.
    pub fn release_viewer(&self) -> ReleaseViewer {
        match &self.caller {
            Caller::Operator(_) => ReleaseViewer::Operator,
            Caller::Customer(key) => ReleaseViewer::Customer(key.customer_id),
        }
    }
}

impl<P: Permission, S: RequiredScope> FromRequest for OperatorOrCustomer<P, S> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let presented = customer::presented_key(req);
        // An `HttpRequest` is a reference-counted handle: cloning it is cheap, copying
        // its header map is not.
        let req = req.clone();
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::internal(&MissingState))?;
            let headers = req.headers();
            // The admin-key header first (SPEC), then a customer key: an `Authorization`
            // header that a gateway adds on the way must not turn a customer's request
            // into a failed operator sign-in (as the reference server reads it too).
            let customer_key = presented.as_deref().filter(|key| !key.trim().is_empty());
            let caller = if operator::has_admin_key_header(headers) || customer_key.is_none() {
                let client = client_address(&req, &state.trusted_proxies);
                Caller::Operator(operator::authorize(&state, headers, client, P::ACTION).await?)
            } else {
                Caller::Customer(
                    customer::authenticate(&state, &req, customer_key, S::SCOPE).await?,
                )
            };
            Ok(Self {
                caller,
                _marker: PhantomData,
            })
        })
    }
}
