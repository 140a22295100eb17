//! `GET /openapi.json`: the document utoipa generates from the handlers and DTOs.

use actix_web::{HttpResponse, get, web};
use utoipa::openapi::RefOr;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::header::{Header, HeaderBuilder};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{Object, Ref, Type};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
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

/// Adds what the rate limits answer, after the routes registered: every operation that
/// takes credentials can answer 429 (too many failed authentications from the address);
/// one that takes a customer key can also answer 429 for a spent budget, and, while a
/// budget applies, carries the `RateLimit` headers on its other answers. A route that
/// declares a 429 of its own (a download quota) keeps its reason, after the rate
/// limits'.
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
            let Some(security) = operation.security.as_ref().filter(|s| !s.is_empty()) else {
                continue;
            };
            let customer_key = security.contains(&customer_key_requirement());
            let responses = &mut operation.responses.responses;
            if customer_key {
                for (status, response) in responses.iter_mut() {
                    if let (true, RefOr::T(response)) = (status.starts_with('2'), response) {
                        response.headers.extend(budget_headers());
                    }
                }
            }
            let mut limits = too_many_requests(customer_key);
            if let Some(RefOr::T(own)) = responses.get("429") {
                limits.description = format!("{} Or {}", limits.description, own.description);
                for (name, header) in &own.headers {
                    limits.headers.entry(name.clone()).or_insert(header.clone());
                }
            }
            responses.insert("429".to_owned(), limits.into());
        }
    }
    openapi
}

/// `("api_key" = [])`, as the routes that take a customer key declare it.
fn customer_key_requirement() -> SecurityRequirement {
    SecurityRequirement::new("api_key", Vec::<String>::new())
}

/// The IETF draft's headers, sent while the key has a request budget.
fn budget_headers() -> [(String, RefOr<Header>); 2] {
    let text = || Some(Object::with_type(Type::String));
    [
        (
            "RateLimit-Policy".to_owned(),
            HeaderBuilder::new()
                .schema(text())
                .description(Some(
                    "Only while the key's type has a budget (`RELEASY_RATE_LIMIT_*`): `\"ci\";q=600;w=60`, q requests per w seconds",
                ))
                .build()
                .into(),
        ),
        (
            "RateLimit".to_owned(),
            HeaderBuilder::new()
                .schema(text())
                .description(Some(
                    "Only while the key's type has a budget: `\"ci\";r=598;t=1`, r left, t seconds until whole",
                ))
                .build()
                .into(),
        ),
    ]
}

fn too_many_requests(customer_key: bool) -> Response {
    let mut response = ResponseBuilder::new()
        .description(if customer_key {
            "`too_many_requests`: past `RELEASY_AUTH_FAILURE_LIMIT` failed authentications a \
             minute from this address (valid credentials keep working), or a customer key \
             over its `RELEASY_RATE_LIMIT_*` budget."
        } else {
            "`too_many_requests`: past `RELEASY_AUTH_FAILURE_LIMIT` failed authentications a \
             minute from this address (valid credentials keep working)."
        })
        .header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(Some(Object::with_type(Type::Integer)))
                .description(Some("Seconds until a request may succeed"))
                .build(),
        )
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build();
    if customer_key {
        response.headers.extend(budget_headers());
    }
    response
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
