//! `/v1/admin/keys` and a customer's keys: issue, list, rotate and revoke customer API
//! keys.

use actix_web::{HttpRequest, HttpResponse, get, patch, post, web};
use releasy_domain::api_key::{
    AllowedNetworks, KeyChanges, KeyName, KeyType, NewApiKeyRequest, RotationOverlap, ScopeSet,
};
use releasy_domain::{ApiKeyId, CustomerId, Timestamp};

use crate::auth::Authorized;
use crate::auth::permissions::{CreateKey, ListKeys, RevokeKey, RotateKey, UpdateKey};
use crate::dto::{
    CreateKeyRequest, CreateKeyResponse, ErrorBody, KeyListQuery, KeyListResponse, KeySummary,
    RevokeKeyRequest, RevokeKeyResponse, RotateKeyRequest, RotateKeyResponse, UpdateKeyRequest,
    page_request, parse_id,
};
use crate::error::ApiError;
use crate::extract_errors::after_caller;
use crate::idempotency::{IDEMPOTENCY_KEY_HEADER, idempotent, nothing_to_recover};
use crate::json_body::Json;
use crate::state::AppState;

/// Issue a customer API key. The raw key is in this response only, so
/// `Idempotency-Key` is not supported here: a request carrying it is refused (`400`),
/// as the reference server refuses it, rather than run twice by a client that took its
/// retry for a replay.
#[utoipa::path(
    tag = "keys",
    request_body = CreateKeyRequest,
    responses(
        (status = 200, body = CreateKeyResponse),
        (status = 400, body = ErrorBody,
         description = "a field breaks its rule, or the request carries `Idempotency-Key` (not supported: the secret is shown once)"),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    ),
    security(("admin_key" = []), ("operator_jwt" = []))
)]
#[post("/v1/admin/keys")]
pub async fn create_key(
    auth: Authorized<CreateKey>,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Result<Json<CreateKeyRequest>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let body = body?;
    if req.headers().contains_key(IDEMPOTENCY_KEY_HEADER) {
        return Err(ApiError::bad_request(
            "Idempotency-Key is not supported for key creation: the secret is shown only once, so a retry cannot be answered from a stored response",
        ));
    }
    let body = body.into_inner();
    let request = NewApiKeyRequest {
        customer_id: parse_id::<CustomerId>("customer_id", &body.customer_id)?,
        name: body
            .name
            .as_deref()
            .map(KeyName::parse_or_none)
            .transpose()?
            .flatten(),
        key_type: body
            .key_type
            .as_deref()
            .map(KeyType::parse)
            .transpose()?
            .unwrap_or_default(),
        scopes: match &body.scopes {
            Some(names) => ScopeSet::parse(names)?,
            None => ScopeSet::all(),
        },
        expires_at: body.expires_at.map(Timestamp::from_unix_seconds),
        allowed_networks: body
            .allowed_cidrs
            .as_deref()
            .map(AllowedNetworks::parse)
            .transpose()?,
    };
    let issued = state
        .services
        .api_keys
        .create(&auth.origin, request)
        .await?;
    Ok(HttpResponse::Ok().json(CreateKeyResponse::from(issued)))
}

/// Revoke a customer API key; it stops working on the next request.
#[utoipa::path(
    tag = "keys",
    request_body = RevokeKeyRequest,
    responses(
        (status = 200, body = RevokeKeyResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    ),
    security(("admin_key" = []), ("operator_jwt" = []))
)]
#[post("/v1/admin/keys/revoke")]
pub async fn revoke_key(
    auth: Authorized<RevokeKey>,
    state: web::Data<AppState>,
    body: Result<Json<RevokeKeyRequest>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let body = body?;
    let id = parse_id::<ApiKeyId>("api_key_id", &body.api_key_id)?;
    let revoked = state.services.api_keys.revoke(&auth.origin, id).await?;
    Ok(HttpResponse::Ok().json(RevokeKeyResponse {
        api_key_id: revoked.to_string(),
    }))
}

/// List a customer's keys, newest first, revoked ones included: settings, expiry,
/// revocation, address rule and last use, never a secret.
#[utoipa::path(
    tag = "keys",
    params(("customer_id" = String, Path, description = "Customer UUID"), KeyListQuery),
    responses(
        (status = 200, body = KeyListResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    ),
    security(("admin_key" = []), ("operator_jwt" = []))
)]
#[get("/v1/admin/customers/{customer_id}/keys")]
pub async fn list_keys(
    _auth: Authorized<ListKeys>,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: Result<web::Query<KeyListQuery>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let query = after_caller(query)?;
    let customer_id = parse_id::<CustomerId>("customer_id", &path)?;
    let page = page_request(query.limit.as_ref(), query.offset.as_ref())?;
    let keys = state.services.api_keys.list(customer_id, page).await?;
    Ok(HttpResponse::Ok().json(KeyListResponse {
        keys: keys.into_iter().map(Into::into).collect(),
        limit: i64::from(page.limit.get()),
        offset: page.offset.get() as i64,
    }))
}

/// Rotate a customer API key: a new key with the same customer, name, type, scopes and
/// expiry, while the old one keeps working for `overlap_seconds` and is then revoked.
/// The body may be `{}` (a day's overlap). A key already revoked, being rotated, or
/// expired, or one whose stored type or scopes cannot be read (carried over from
/// another server), is 409. Supports `Idempotency-Key`: a rotation cannot be run again once it
/// is done, so a retry whose first answer was lost replays it (stored sealed under the
/// client's key for 24 hours, as every replayed answer is).
#[utoipa::path(
    tag = "keys",
    params(
        ("api_key_id" = String, Path, description = "The key to rotate (UUID)"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe"),
    ),
    request_body = RotateKeyRequest,
    responses(
        (status = 200, body = RotateKeyResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody),
    ),
    security(("admin_key" = []), ("operator_jwt" = []))
)]
#[post("/v1/admin/keys/{api_key_id}/rotate")]
pub async fn rotate_key(
    auth: Authorized<RotateKey>,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: Result<Json<RotateKeyRequest>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let body = body?;
    let id = parse_id::<ApiKeyId>("api_key_id", &path)?;
    let overlap = RotationOverlap::parse(body.overlap_seconds)?;
    let api_keys = &state.services.api_keys;
    idempotent(
        &state,
        &req,
        &auth.operator.caller_id(),
        &*body,
        &auth.origin,
        async |origin| {
            let rotated = api_keys.rotate(&origin, id, overlap).await?;
            Ok(RotateKeyResponse::from(rotated))
        },
        // A run cut off after its commit left a successor whose secret no one kept:
        // its retry is refused as the key is being rotated, and the operator revokes
        // the successor (docs/downloads.md).
        nothing_to_recover,
    )
    .await
}

/// Change a key's name or address rule (`allowed_cidrs`; `null` allows every address).
/// The rule applies from the key's next request, on every instance; download tokens
/// already issued keep the rule they were issued with.
#[utoipa::path(
    tag = "keys",
    params(("api_key_id" = String, Path, description = "The key (UUID)")),
    request_body = UpdateKeyRequest,
    responses(
        (status = 200, body = KeySummary),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    ),
    security(("admin_key" = []), ("operator_jwt" = []))
)]
#[patch("/v1/admin/keys/{api_key_id}")]
pub async fn update_key(
    auth: Authorized<UpdateKey>,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: Result<Json<UpdateKeyRequest>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let body = body?;
    let id = parse_id::<ApiKeyId>("api_key_id", &path)?;
    let body = body.into_inner();
    let changes = KeyChanges {
        name: body
            .name
            .map(|name| name.as_deref().map(KeyName::parse).transpose())
            .transpose()?,
        allowed_networks: body
            .allowed_cidrs
            .map(|cidrs| cidrs.as_deref().map(AllowedNetworks::parse).transpose())
            .transpose()?,
    };
    let key = state
        .services
        .api_keys
        .update(&auth.origin, id, changes)
        .await?;
    Ok(HttpResponse::Ok().json(KeySummary::from(key)))
}
