//! `GET /openapi.json`: the document utoipa generates from the handlers and DTOs.

use actix_web::{HttpResponse, get, web};
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{Object, Ref, Type};
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

/// Adds the 429 every authenticated operation can answer: too many failed
/// authentications from the caller's address, or a customer key's budget spent.
/// Added here, after the routes registered, since the limits apply to every
/// operation that takes credentials.
pub fn with_rate_limit_responses(
    mut openapi: utoipa::openapi::OpenApi,
) -> utoipa::openapi::OpenApi {
    for item in openapi.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            if operation.security.as_ref().is_some_and(|s| !s.is_empty()) {
                operation
                    .responses
                    .responses
                    .entry("429".to_owned())
                    .or_insert_with(|| too_many_requests().into());
            }
        }
    }
    openapi
}

fn too_many_requests() -> Response {
    let integer = || Object::with_type(Type::Integer);
    let text = || Object::with_type(Type::String);
    ResponseBuilder::new()
        .description(
            "`too_many_requests`: past `RELEASY_AUTH_FAILURE_LIMIT` failed authentications a \
             minute from this address (valid credentials keep working), or a customer key \
             over its `RELEASY_RATE_LIMIT_*` budget.",
        )
        .header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(Some(integer()))
                .description(Some("Seconds until a request may succeed"))
                .build(),
        )
        .header(
            "RateLimit-Policy",
            HeaderBuilder::new()
                .schema(Some(text()))
                .description(Some(
                    "A budgeted key's policy, such as `\"ci\";q=600;w=60` (also on its other answers)",
                ))
                .build(),
        )
        .header(
            "RateLimit",
            HeaderBuilder::new()
                .schema(Some(text()))
                .description(Some(
                    "What is left of the budget, such as `\"ci\";r=0;t=60` (also on its other answers)",
                ))
                .build(),
        )
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
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
