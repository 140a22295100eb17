//! `POST /v1/auth/introspect`: a customer key describes itself.

use actix_web::{HttpResponse, post};

use crate::auth::CustomerKey;
use crate::auth::permissions::KeysRead;
use crate::dto::{ErrorBody, IntrospectionResponse};

/// Describe the calling key (needs `keys:read`).
#[utoipa::path(
    tag = "keys",
    responses(
        (status = 200, body = IntrospectionResponse),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    ),
    security(("api_key" = []))
)]
#[post("/v1/auth/introspect")]
pub async fn introspect(caller: CustomerKey<KeysRead>) -> HttpResponse {
    HttpResponse::Ok().json(IntrospectionResponse::from(caller.key))
}
