//! # releasy-http
//!
//! The HTTP adapter: actix-web routes that turn requests into calls of the domain's
//! services, and their results into the contract's JSON.
//!
//! - A request enters in [`routes`] (one module per resource).
//! - Who may make it is decided by the extractors in [`auth`]: operators against the
//!   role matrix, customer keys against a scope.
//! - Bodies are the [`dto`] types; errors become responses in [`error`], one place.
//! - [`app`] assembles everything, including the OpenAPI document.

#![warn(missing_docs)]

pub mod auth;
mod client;
pub mod dto;
pub mod error;
mod etag;
mod extract_errors;
pub mod idempotency;
pub mod json_body;
mod no_store;
mod origin;
mod query_nul;
pub mod rate_limit_headers;
pub mod release_json;
pub mod request_limits;
pub mod request_log;
pub mod routes;
pub mod run_to_completion;
mod state;
mod trace_context;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{App, middleware, web};
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;

pub use release_json::ReleaseJson;
pub use state::{AdminKey, AppState};

use routes::openapi::{ApiDoc, OpenApiJson};

/// The actix application for `state`: every route, the error shape for actix's own
/// errors, request logging and the generated OpenAPI document. `extra_routes` mounts
/// routes of other adapters (the embedded object store's upload and download URLs).
pub fn app(
    state: web::Data<AppState>,
    extra_routes: impl FnOnce(&mut web::ServiceConfig),
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let (app, openapi) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .service(routes::health::live)
        .service(routes::health::ready)
        .service(routes::health::health)
        .service(routes::openapi::openapi_json)
        .service(routes::customers::create_customer)
        .service(routes::customers::list_customers)
        .service(routes::customers::get_customer)
        .service(routes::customers::update_customer)
        .service(routes::keys::create_key)
        .service(routes::keys::revoke_key)
        .service(routes::keys::list_keys)
        .service(routes::keys::rotate_key)
        .service(routes::keys::update_key)
        .service(routes::introspect::introspect)
        .service(routes::audit::list_audit_events)
        .service(routes::entitlements::list_entitlements)
        .service(routes::entitlements::create_entitlement)
        .service(routes::entitlements::update_entitlement)
        .service(routes::entitlements::delete_entitlement)
        .service(routes::entitlements::explain_access)
        .service(routes::products::list_products)
        .service(routes::products::get_product_policy)
        .service(routes::products::set_product_policy)
        .service(routes::releases::create_release)
        .service(routes::releases::list_releases)
        .service(routes::updates::latest_release)
        .service(routes::updates::upgrade_check)
        .service(routes::releases::publish_release)
        .service(routes::releases::unpublish_release)
        .service(routes::releases::update_release)
        .service(routes::releases::yank_release)
        .service(routes::releases::unyank_release)
        .service(routes::releases::delete_release)
        .service(routes::artifacts::presign_artifact)
        .service(routes::artifacts::register_artifact)
        .service(routes::artifacts::get_upload)
        .service(routes::artifacts::abort_upload)
        .service(routes::delivery::list_downloads)
        .service(routes::delivery::download_stats)
        .service(routes::delivery::customer_downloads)
        .service(routes::downloads::create_download_token)
        .service(routes::downloads::resolve_download)
        .split_for_parts();
    let openapi = routes::openapi::with_rate_limit_responses(openapi);
    let openapi = routes::openapi_rules::with_enforced_rules(openapi);
    let known_routes = extract_errors::KnownRoutes::of(&openapi);
    let openapi_json = openapi.to_json().unwrap_or_else(|err| {
        tracing::error!(error = %err, "could not render the OpenAPI document");
        "{}".to_owned()
    });
    let request_limits = state.request_limits;
    app.app_data(state)
        .app_data(request_limits)
        .app_data(web::Data::new(OpenApiJson(openapi_json)))
        .app_data(web::Data::new(known_routes))
        .app_data(extract_errors::query_config())
        .app_data(extract_errors::path_config())
        .app_data(web::PayloadConfig::new(json_body::PAYLOAD_LIMIT_BYTES))
        .configure(extra_routes)
        .default_service(web::to(extract_errors::route_not_found))
        .wrap(middleware::from_fn(query_nul::refuse_nul_in_query))
        .wrap(middleware::from_fn(rate_limit_headers::rate_limit_headers))
        .wrap(middleware::from_fn(request_limits::limit_requests))
        .wrap(middleware::from_fn(run_to_completion::run_to_completion))
        .wrap(middleware::from_fn(no_store::no_store_by_default))
        .wrap(middleware::from_fn(request_log::log_requests))
}
