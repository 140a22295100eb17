//! `/v1/downloads`: a customer key issues a token; the token resolves to the bytes.

use actix_web::http::header::{CACHE_CONTROL, LOCATION};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use releasy_domain::ArtifactId;
use releasy_domain::download::{MaxUses, TokenTtl};

use crate::auth::CustomerKey;
use crate::auth::permissions::DownloadsToken;
use crate::client::requester;
use crate::dto::{DownloadTokenRequest, DownloadTokenResponse, ErrorBody, parse_id};
use crate::error::ApiError;
use crate::idempotency::{idempotent, nothing_to_recover};
use crate::json_body::Json;
use crate::state::AppState;

/// Issue a short-lived download link for one artifact (needs `downloads:token`, a
/// published release and an active entitlement). Supports `Idempotency-Key`.
#[utoipa::path(
    tag = "downloads",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe")),
    request_body = DownloadTokenRequest,
    responses(
        (status = 200, body = DownloadTokenResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody, description = "missing scope, release not published, entitlement required, or artifact not verified (its bytes are being checked, or did not match)"),
        (status = 404, body = ErrorBody, description = "artifact not found"),
        (status = 409, body = ErrorBody),
        (status = 429, body = ErrorBody, description = "`quota exceeded`: every entitlement that allows the artifact has a `download_quota`, and none has room for one more download of it in its current period (issuing counts nothing, resolving does); `Retry-After` is the time until the soonest of those periods resets.",
            headers(("Retry-After" = i64, description = "Seconds until a request may succeed"))),
    ),
    security(("api_key" = []))
)]
#[post("/v1/downloads/token")]
pub async fn create_download_token(
    caller: CustomerKey<DownloadsToken>,
    state: web::Data<AppState>,
    req: HttpRequest,
    // Read once the key is known: a request without a valid key is 401 whatever its body.
    body: Result<Json<DownloadTokenRequest>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let body = body?;
    let artifact_id = parse_id::<ArtifactId>("artifact_id", &body.artifact_id)?;
    let ttl = TokenTtl::parse(
        body.expires_in_seconds,
        state.services.limits.download_token_max_ttl_seconds,
    )?;
    let max_uses = MaxUses::parse(body.max_uses)?;
    let purpose = body.purpose.clone();
    let caller_id = caller.key.api_key_id.to_string();
    // A token issued again is another token: the first one's secret is not kept.
    idempotent(
        &state,
        &req,
        &caller_id,
        &*body,
        &caller.origin,
        async |origin| {
            let issued = state
                .services
                .downloads
                .issue(&origin, &caller.key, artifact_id, purpose, ttl, max_uses)
                .await?;
            Ok(DownloadTokenResponse {
                download_url: format!(
                    "{}/v1/downloads/{}",
                    state.public_base_url,
                    issued.secret.expose()
                ),
                expires_at: issued.expires_at.unix_seconds(),
                max_uses: max_uses.map(MaxUses::get),
            })
        },
        nothing_to_recover,
    )
    .await
}

/// Follow a download link: 302 to a short-lived presigned URL of the artifact, while
/// the token is valid, the customer active, the release published and the entitlement
/// active. The presigned URL expires with the token, and at most
/// `RELEASY_DOWNLOAD_URL_TTL_SECONDS` (300) after this request; to resume later, follow
/// the still-valid download link again for a fresh one.
#[utoipa::path(
    tag = "downloads",
    params(("token" = String, Path, description = "The token from `download_url`")),
    responses(
        (status = 302, description = "Redirect to the artifact (`Location`), `Cache-Control: no-store`"),
        (status = 403, body = ErrorBody, description = "artifact not verified (its bytes are being checked, did not match, or were replaced in the store since registration); release yanked; address not allowed (the client is outside the `allowed_cidrs` of the key that asked for the token)"),
        (status = 404, body = ErrorBody, description = "download token not found, download token expired, release not available, or download token used up (every use its `max_uses` allowed was spent)"),
        (status = 429, body = ErrorBody, description = "`too_many_requests`: `quota exceeded`: only entitlements with a `download_quota` allow the artifact, and none has room for this download in its current period (the refusal spends no use of the token); or `too many failed authentications from this address`: every refusal of the client's doing (`download token not found`: a token that does not exist, or a suspended customer's; `download token expired`; `download token used up`; `address not allowed`) counts as a failed attempt of the client's address, and past `RELEASY_AUTH_FAILURE_LIMIT` a token not found gets this instead of 404 (the other refusals keep their answer but are no longer recorded one by one; other tokens from the address still resolve)",
            headers(("Retry-After" = i64, description = "Seconds until the soonest of those quotas' periods resets, or until the address may fail again"))),
    )
)]
#[get("/v1/downloads/{token}")]
pub async fn resolve_download(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let requester = requester(&req, &state.trusted_proxies);
    let location = state.services.downloads.resolve(&path, &requester).await?;
    Ok(HttpResponse::Found()
        .insert_header((LOCATION, location.url))
        .insert_header((CACHE_CONTROL, "no-store"))
        .finish())
}
