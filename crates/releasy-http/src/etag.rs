//! Conditional GETs: answers that updaters poll carry an `ETag`, and a request whose
//! `If-None-Match` names it gets `304 Not Modified` without the body.
//!
//! The tag is a hash of the body, so every instance behind a load balancer gives the
//! same tag for the same answer, and nothing has to be invalidated: a changed answer
//! has another tag. xxh3-128 is not a cryptographic hash; it needs only to tell
//! two answers of one URL apart, which 128 bits do.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};

/// Answers 200 with `body` and its `ETag`, or 304 when the request's `If-None-Match`
/// names that tag. `Cache-Control: private, no-cache`: an answer depends on the
/// caller's credentials, so no shared cache keeps it, and a private one asks again.
pub(crate) fn conditional_json(req: &HttpRequest, body: Vec<u8>) -> HttpResponse {
    let tag = entity_tag(&body);
    let not_modified = matches_any(req.headers().get_all(header::IF_NONE_MATCH), &tag);
    let mut response = if not_modified {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::ETAG, tag.as_str()))
        .insert_header((header::CACHE_CONTROL, "private, no-cache"));
    if not_modified {
        return response.finish();
    }
    response.content_type(mime::APPLICATION_JSON).body(body)
}

/// The strong entity tag of `body`: 32 hex digits in quotes.
fn entity_tag(body: &[u8]) -> String {
    format!("\"{:032x}\"", xxhash_rust::xxh3::xxh3_128(body))
}

/// Whether `If-None-Match` names `tag`: `*`, or a comma-separated list compared
/// weakly (RFC 9110 13.1.2: `W/"x"` matches `"x"`), in one field line or split over
/// several (RFC 9110 5.3).
fn matches_any<'a>(if_none_match: impl Iterator<Item = &'a HeaderValue>, tag: &str) -> bool {
    if_none_match
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .any(|candidate| {
            candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate) == tag
        })
}

#[cfg(test)]
mod tests {
    use actix_web::body::MessageBody;
    use actix_web::http::StatusCode;
    use actix_web::test::TestRequest;

    use super::*;

    fn answer(if_none_match: Option<&str>, body: &[u8]) -> HttpResponse {
        answer_to(if_none_match.as_slice(), body)
    }

    /// The answer to a request with one `If-None-Match` field line per entry.
    fn answer_to(field_lines: &[&str], body: &[u8]) -> HttpResponse {
        let mut req = TestRequest::get();
        for value in field_lines {
            req = req.append_header((header::IF_NONE_MATCH, *value));
        }
        conditional_json(&req.to_http_request(), body.to_vec())
    }

    fn tag_of(response: &HttpResponse) -> String {
        response
            .headers()
            .get(header::ETAG)
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn the_tag_depends_on_the_body_only() {
        let first = tag_of(&answer(None, b"{\"a\":1}"));
        assert_eq!(first, tag_of(&answer(None, b"{\"a\":1}")));
        assert_ne!(first, tag_of(&answer(None, b"{\"a\":2}")));
        assert_eq!(first.len(), 34);
    }

    #[test]
    fn a_matching_tag_gets_304_without_a_body() {
        let tag = tag_of(&answer(None, b"[]"));
        for header in [
            tag.clone(),
            format!("W/{tag}"),
            format!("\"other\", {tag}"),
            "*".to_owned(),
        ] {
            let response = answer(Some(&header), b"[]");
            assert_eq!(response.status(), StatusCode::NOT_MODIFIED, "{header}");
            assert_eq!(tag_of(&response), tag);
            assert!(response.into_body().try_into_bytes().unwrap().is_empty());
        }
    }

    #[test]
    fn a_list_split_over_field_lines_is_read_whole() {
        let tag = tag_of(&answer(None, b"[]"));
        let response = answer_to(&["\"other\"", &tag], b"[]");
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
        let response = answer_to(&["\"other\"", "\"another\""], b"[]");
        assert_eq!(response.status(), StatusCode::OK);
    }

    #[test]
    fn another_tag_gets_the_body() {
        let response = answer(Some("\"0123\""), b"[1]");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers().get(header::CACHE_CONTROL).unwrap(),
            "private, no-cache"
        );
        assert_eq!(response.into_body().try_into_bytes().unwrap(), &b"[1]"[..]);
    }
}
