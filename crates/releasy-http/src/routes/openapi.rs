//! `GET /openapi.json`: the document utoipa generates from the handlers and DTOs.

use actix_web::{HttpResponse, get, web};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// The document's fixed parts; paths and schemas are collected as routes register.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Releasy API",
        description = "Controlled software releases: customers, API keys, entitlements, releases, artifacts and downloads."
    ),
    modifiers(&SecuritySchemes),
    tags(
        (name = "health", description = "Liveness and readiness"),
        (name = "customers", description = "Customers (operators)"),
        (name = "keys", description = "Customer API keys"),
        (name = "audit", description = "The audit trail"),
        (name = "entitlements", description = "Which products customers may download, and when"),
        (name = "releases", description = "Releases and their lifecycle"),
        (name = "products", description = "Products and their release policies"),
        (name = "artifacts", description = "Uploading a release's files"),
        (name = "downloads", description = "Download tokens and links"),
    )
)]
#[derive(Debug)]
pub struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("x-releasy-admin-key"))),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("x-releasy-api-key"))),
        );
        components.add_security_scheme(
            "operator_jwt",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The generated document, rendered once at startup.
#[derive(Debug, Clone)]
pub struct OpenApiJson(pub String);

/// The server's OpenAPI document.
#[utoipa::path(tag = "health", responses((status = 200, description = "OpenAPI 3.1 document")))]
#[get("/openapi.json")]
pub async fn openapi_json(doc: web::Data<OpenApiJson>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(doc.0.clone())
}
