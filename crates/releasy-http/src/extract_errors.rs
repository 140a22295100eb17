//! actix's own extractor and routing errors, answered in the contract's error shape.

use actix_web::dev::ResourceDef;
use actix_web::error::{PathError, QueryPayloadError};
use actix_web::http::header::ALLOW;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::error::ApiError;

/// The API's routes and the methods each answers, taken from the OpenAPI document, so
/// a known path asked with another method is told so (405 with `Allow`) instead of
/// "no route".
#[derive(Debug, Default)]
pub struct KnownRoutes(Vec<(ResourceDef, Vec<&'static str>)>);

/// The methods the API routes, in the order `Allow` lists them.
const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

impl KnownRoutes {
    /// The routes of `openapi`.
    pub fn of(openapi: &utoipa::openapi::OpenApi) -> Self {
        let routes = openapi
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let present = [
                    item.get.is_some(),
                    item.post.is_some(),
                    item.put.is_some(),
                    item.patch.is_some(),
                    item.delete.is_some(),
                ];
                let methods = METHODS
                    .into_iter()
                    .zip(present)
                    .filter_map(|(method, present)| present.then_some(method))
                    .collect();
                (ResourceDef::new(path.as_str()), methods)
            })
            .collect();
        Self(routes)
    }

    /// The `Allow` value for `path`: the methods of every route it matches (a fixed
    /// path such as `/v1/admin/keys/revoke` also matches `/v1/admin/keys/{api_key_id}`,
    /// whose methods reach a handler too), if it matches any.
    fn allowed(&self, path: &str) -> Option<String> {
        let matched: Vec<&str> = self
            .0
            .iter()
            .filter(|(route, _)| route.is_match(path))
            .flat_map(|(_, methods)| methods.iter().copied())
            .collect();
        let allowed: Vec<&str> = METHODS
            .into_iter()
            .filter(|method| matched.contains(method))
            .collect();
        (!allowed.is_empty()).then(|| allowed.join(", "))
    }
}

/// Query strings: 400 naming the parameter.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _req| {
        let message = match &err {
            QueryPayloadError::Deserialize(e) => format!("invalid query: {e}"),
            _ => "invalid query".to_owned(),
        };
        ApiError::bad_request(message).into()
    })
}

/// A query a handler reads only once its caller is known. actix fails a request on the
/// first extractor error, and a caller's check takes a moment (a customer key's
/// Argon2, an operator token's signing keys being fetched) while a bad query fails at
/// once: taken as a `Result` and unwrapped here, after the caller, a request without
/// valid credentials is 401 whatever its query (and a budgeted key's 400 carries its
/// `RateLimit` headers). Bodies are taken as `Result` for the same reason.
pub(crate) fn after_caller<T>(
    query: Result<web::Query<T>, actix_web::Error>,
) -> Result<web::Query<T>, ApiError> {
    query.map_err(|err| {
        err.as_error::<ApiError>()
            .cloned()
            .unwrap_or_else(|| ApiError::bad_request("invalid query"))
    })
}

/// Path segments: 400.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|err, _req| {
        let message = match &err {
            PathError::Deserialize(e) => format!("invalid path: {e}"),
            _ => "invalid path".to_owned(),
        };
        actix_web::error::InternalError::from_response(
            err,
            ApiError::bad_request(message).into_response(),
        )
        .into()
    })
}

/// Unknown routes: 404 in the error shape; a known path asked with a method it does not
/// answer (`TRACE`, say): 405 `method_not_allowed` with `Allow`.
pub async fn route_not_found(req: HttpRequest) -> HttpResponse {
    let allowed = req
        .app_data::<web::Data<KnownRoutes>>()
        .and_then(|routes| routes.allowed(req.path()));
    match allowed {
        Some(methods) => {
            let mut response = ApiError::method_not_allowed(format!(
                "{} is not allowed on {}; allowed: {methods}",
                req.method(),
                req.path()
            ))
            .into_response();
            if let Ok(value) = methods.parse() {
                response.headers_mut().insert(ALLOW, value);
            }
            response
        }
        None => ApiError::not_found(format!("no route for {} {}", req.method(), req.path()))
            .into_response(),
    }
}

impl ApiError {
    /// The response this error renders to.
    pub fn into_response(self) -> HttpResponse {
        actix_web::ResponseError::error_response(&self)
    }
}

#[cfg(test)]
mod tests {
    use utoipa::openapi::path::{OperationBuilder, PathItem, PathsBuilder};
    use utoipa::openapi::{HttpMethod, OpenApiBuilder};

    use super::*;

    fn routes(paths: &[(&str, HttpMethod)]) -> KnownRoutes {
        let mut builder = PathsBuilder::new();
        for (path, method) in paths {
            builder = builder.path(
                *path,
                PathItem::new(method.clone(), OperationBuilder::new().build()),
            );
        }
        KnownRoutes::of(&OpenApiBuilder::new().paths(builder).build())
    }

    /// A path that two routes match allows the methods of both: `PUT` on the revoke
    /// path is told that `PATCH` (the key's edit, through `{api_key_id}`) goes there too.
    #[test]
    fn allow_lists_the_methods_of_every_route_a_path_matches() {
        let known = routes(&[
            ("/v1/admin/keys/revoke", HttpMethod::Post),
            ("/v1/admin/keys/{api_key_id}", HttpMethod::Patch),
            ("/v1/releases", HttpMethod::Get),
        ]);
        assert_eq!(
            known.allowed("/v1/admin/keys/revoke").as_deref(),
            Some("POST, PATCH")
        );
        assert_eq!(
            known.allowed("/v1/admin/keys/5f0c").as_deref(),
            Some("PATCH")
        );
        assert_eq!(known.allowed("/v1/releases").as_deref(), Some("GET"));
        assert_eq!(known.allowed("/v1/nothing"), None);
    }
}
