//! The rules the server enforces on every operation, stated once in the OpenAPI
//! document after the routes registered, so generated clients and fuzzers know them:
//! ids are UUIDs, pages hold 1 to 200 items, offsets and times are bounded, every
//! operation that reads the database or the artifact store can answer 503 (with
//! `Retry-After`), and any can answer 400, 431 and 500 (those with a body 408 and 413).

use releasy_domain::Timestamp;
use releasy_domain::pagination::PageLimit;
use utoipa::Number;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::header::{Header, HeaderBuilder};
use utoipa::openapi::path::{Operation, Parameter, ParameterIn};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{Object, Ref, Schema, SchemaFormat, Type};
use utoipa::openapi::{OpenApi, RefOr};

use crate::error::UNAVAILABLE_RETRY_AFTER_SECONDS;
use crate::json_body::{JSON_LIMIT_BYTES, RELEASE_JSON_LIMIT_BYTES};

/// The operations that answer without the database or the store.
const WITHOUT_DEPENDENCIES: [&str; 2] = ["/live", "/openapi.json"];

/// Applies the rules to every operation of `openapi`, and the body fields' rules to its
/// schemas (`openapi_body_rules.rs`).
pub fn with_enforced_rules(openapi: OpenApi) -> OpenApi {
    let mut openapi = super::openapi_body_rules::with_body_rules(openapi);
    for (path, item) in &mut openapi.paths.paths {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            for parameter in operation.parameters.iter_mut().flatten() {
                if let RefOr::T(parameter) = parameter {
                    constrain(parameter);
                }
            }
            if !WITHOUT_DEPENDENCIES.contains(&path.as_str()) {
                add_unavailable(operation);
            }
            if operation.request_body.is_some() {
                add_too_large(operation);
                add_error(
                    operation,
                    "408",
                    "`request_timeout`: the request's body stopped arriving before its end.",
                );
            }
            add_bad_request(operation);
            add_error(
                operation,
                "431",
                "`request_header_fields_too_large`: the request's headers are larger than the \
                 server accepts (`RELEASY_MAX_HEADER_BYTES`).",
            );
            add_error(
                operation,
                "500",
                "`internal_error`: the server failed; the cause is logged, never sent.",
            );
        }
    }
    openapi
}

/// What the server checks of a parameter, by its name (the names mean one thing on
/// every operation).
fn constrain(parameter: &mut Parameter) {
    let Some(RefOr::T(Schema::Object(schema))) = parameter.schema.as_mut() else {
        return;
    };
    let name = parameter.name.as_str();
    if name.ends_with("_id") {
        schema.format = Some(SchemaFormat::Custom("uuid".to_owned()));
        return;
    }
    if parameter.parameter_in != ParameterIn::Query {
        return;
    }
    let (minimum, maximum) = match name {
        "limit" => (1, Some(i64::from(PageLimit::MAX))),
        "offset" => (0, None),
        "created_from" | "created_to" => (0, Some(Timestamp::MAX_CLIENT.unix_seconds())),
        _ => return,
    };
    schema.minimum = Some(number(minimum));
    schema.maximum = maximum.map(number);
}

fn number(n: i64) -> Number {
    Number::Int(isize::try_from(n).unwrap_or(isize::MAX))
}

/// 503 `service_unavailable` with `Retry-After`: a 503 the operation states keeps its
/// description and gains the header, which every 503 carries.
fn add_unavailable(operation: &mut Operation) {
    let response = operation
        .responses
        .responses
        .entry("503".to_owned())
        .or_insert_with(|| unavailable().into());
    if let RefOr::T(response) = response {
        response
            .headers
            .entry("Retry-After".to_owned())
            .or_insert_with(|| retry_after().into());
    }
}

/// `status` in the error shape with `description`, unless the operation states its own.
fn add_error(operation: &mut Operation, status: &str, description: &str) {
    operation
        .responses
        .responses
        .entry(status.to_owned())
        .or_insert_with(|| error_response(description).into());
}

/// 400 `bad_request`, unless the operation states its own: any request can carry
/// something no operation accepts, a NUL in its query string for one
/// (`query_nul.rs`).
fn add_bad_request(operation: &mut Operation) {
    add_error(
        operation,
        "400",
        "`bad_request`: the request is malformed or breaks a rule.",
    );
}

/// 413 `payload_too_large`: every JSON body has a size limit ([`crate::json_body`]).
fn add_too_large(operation: &mut Operation) {
    add_error(
        operation,
        "413",
        &format!(
            "`payload_too_large`: the body is larger than the endpoint accepts \
             ({} KiB; {} KiB for a release's JSON).",
            JSON_LIMIT_BYTES / 1024,
            RELEASE_JSON_LIMIT_BYTES / 1024
        ),
    );
}

fn error_response(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
}

fn unavailable() -> Response {
    ResponseBuilder::new()
        .description(
            "`service_unavailable`: the database or the artifact store cannot be reached; \
             try again after `Retry-After` seconds.",
        )
        .header("Retry-After", retry_after())
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
}

fn retry_after() -> Header {
    HeaderBuilder::new()
        .schema(Some(Object::with_type(Type::Integer)))
        .description(Some(format!(
            "Seconds to wait before trying again ({UNAVAILABLE_RETRY_AFTER_SECONDS})"
        )))
        .build()
}

#[cfg(test)]
mod tests {
    use utoipa::openapi::path::{OperationBuilder, ParameterBuilder, PathItem, PathsBuilder};
    use utoipa::openapi::{HttpMethod, OpenApiBuilder};

    use super::*;

    fn parameter(name: &str, location: ParameterIn, schema: Type) -> Parameter {
        ParameterBuilder::new()
            .name(name)
            .parameter_in(location)
            .schema(Some(Object::with_type(schema)))
            .build()
    }

    fn document(path: &str, parameters: Vec<Parameter>) -> OpenApi {
        let operation = OperationBuilder::new().parameters(Some(parameters)).build();
        OpenApiBuilder::new()
            .paths(PathsBuilder::new().path(path, PathItem::new(HttpMethod::Get, operation)))
            .build()
    }

    fn schema_of(openapi: &OpenApi, path: &str, name: &str) -> serde_json::Value {
        let operation = openapi.paths.paths[path].get.as_ref().unwrap();
        let parameter = operation
            .parameters
            .iter()
            .flatten()
            .find_map(|p| match p {
                RefOr::T(p) if p.name == name => Some(p),
                _ => None,
            })
            .unwrap();
        serde_json::to_value(parameter.schema.as_ref().unwrap()).unwrap()
    }

    #[test]
    fn ids_are_uuids_and_pages_and_times_are_bounded() {
        let openapi = with_enforced_rules(document(
            "/v1/things/{thing_id}",
            vec![
                parameter("thing_id", ParameterIn::Path, Type::String),
                parameter("customer_id", ParameterIn::Query, Type::String),
                parameter("limit", ParameterIn::Query, Type::Integer),
                parameter("offset", ParameterIn::Query, Type::Integer),
                parameter("created_from", ParameterIn::Query, Type::Integer),
                parameter("name", ParameterIn::Query, Type::String),
            ],
        ));
        let schema = |name| schema_of(&openapi, "/v1/things/{thing_id}", name);
        assert_eq!(schema("thing_id")["format"], "uuid");
        assert_eq!(schema("customer_id")["format"], "uuid");
        assert_eq!(
            (
                schema("limit")["minimum"].clone(),
                schema("limit")["maximum"].clone()
            ),
            (1.into(), 200.into())
        );
        assert_eq!(schema("offset")["minimum"], 0);
        assert!(schema("offset").get("maximum").is_none());
        assert_eq!(schema("created_from")["maximum"], 253_402_300_799_i64);
        assert!(schema("name").get("format").is_none());
        let responses = &openapi.paths.paths["/v1/things/{thing_id}"]
            .get
            .as_ref()
            .unwrap()
            .responses
            .responses;
        let unavailable = serde_json::to_value(&responses["503"]).unwrap();
        assert!(
            unavailable["headers"]["Retry-After"].is_object(),
            "{unavailable}"
        );
    }

    #[test]
    fn every_operation_can_answer_400_and_those_with_a_body_413() {
        use utoipa::openapi::request_body::RequestBodyBuilder;
        let with_body = OperationBuilder::new()
            .request_body(Some(RequestBodyBuilder::new().build()))
            .build();
        let openapi = with_enforced_rules(
            OpenApiBuilder::new()
                .paths(
                    PathsBuilder::new()
                        .path("/v1/things", PathItem::new(HttpMethod::Post, with_body))
                        .path(
                            "/v1/other",
                            PathItem::new(HttpMethod::Get, OperationBuilder::new().build()),
                        ),
                )
                .build(),
        );
        let responses = |path: &str, post: bool| {
            let item = &openapi.paths.paths[path];
            let operation = if post { &item.post } else { &item.get };
            operation.as_ref().unwrap().responses.responses.clone()
        };
        for status in ["413", "408"] {
            assert!(responses("/v1/things", true).contains_key(status));
            assert!(!responses("/v1/other", false).contains_key(status));
        }
        for (path, post) in [("/v1/things", true), ("/v1/other", false)] {
            for status in ["400", "431", "500"] {
                assert!(
                    responses(path, post).contains_key(status),
                    "{path} {status}"
                );
            }
        }
    }

    /// A 503 an operation states itself (presign, `/ready`) keeps its description and
    /// gains `Retry-After`, which the server sends on every 503.
    #[test]
    fn a_stated_503_gains_retry_after() {
        let stated = OperationBuilder::new()
            .response(
                "503",
                ResponseBuilder::new()
                    .description("the store is down")
                    .build(),
            )
            .build();
        let openapi = with_enforced_rules(
            OpenApiBuilder::new()
                .paths(PathsBuilder::new().path("/ready", PathItem::new(HttpMethod::Get, stated)))
                .build(),
        );
        let operation = openapi.paths.paths["/ready"].get.as_ref().unwrap();
        let unavailable = serde_json::to_value(&operation.responses.responses["503"]).unwrap();
        assert_eq!(unavailable["description"], "the store is down");
        assert!(
            unavailable["headers"]["Retry-After"].is_object(),
            "{unavailable}"
        );
    }

    #[test]
    fn liveness_and_the_document_itself_never_answer_503() {
        let openapi = with_enforced_rules(document("/live", vec![]));
        let responses = &openapi.paths.paths["/live"]
            .get
            .as_ref()
            .unwrap()
            .responses
            .responses;
        assert!(!responses.contains_key("503"));
    }
}
