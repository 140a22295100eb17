//! Who makes a change, as the audit trail records it: the authenticated caller (the
//! extractors in `auth` build it), the request's id (given by `request_log`) and the
//! client's address.

use actix_web::{HttpMessage, HttpRequest};
use releasy_domain::audit::{Actor, Origin};

use crate::client::{client_address, user_agent};
use crate::state::AppState;

/// The id `request_log` gave the request, left in its extensions.
#[derive(Debug, Clone)]
pub(crate) struct RequestId(pub(crate) String);

/// The origin of a change `actor` makes through `req`.
pub(crate) fn origin_of(req: &HttpRequest, state: &AppState, actor: Actor) -> Origin {
    let request_id = req.extensions().get::<RequestId>().map(|id| id.0.clone());
    let origin = Origin::new(actor)
        .with_client(client_address(req, &state.trusted_proxies))
        .with_user_agent(user_agent(req).as_deref());
    match request_id {
        Some(id) => origin.with_request_id(id),
        None => origin,
    }
}
