//! Reading query parameters and ids: empty values count as absent (as the contract
//! says), and every parse error names its parameter.

use releasy_domain::ValidationError;
use releasy_domain::pagination::{Offset, PageLimit, PageRequest};

/// `None` for a missing or empty value.
pub(crate) fn non_empty(value: Option<&String>) -> Option<&str> {
    value.map(|v| v.trim()).filter(|v| !v.is_empty())
}

/// An optional integer parameter.
pub(crate) fn parse_int(
    field: &'static str,
    value: Option<&String>,
) -> Result<Option<i64>, ValidationError> {
    non_empty(value)
        .map(|v| {
            v.parse::<i64>()
                .map_err(|_| ValidationError::new(field, "must be an integer"))
        })
        .transpose()
}

/// An optional `true`/`false` parameter.
pub(crate) fn parse_bool(
    field: &'static str,
    value: Option<&String>,
) -> Result<Option<bool>, ValidationError> {
    match non_empty(value) {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(_) => Err(ValidationError::new(field, "must be true or false")),
    }
}

/// The `limit` and `offset` parameters of a listing, checked.
pub(crate) fn page_request(
    limit: Option<&String>,
    offset: Option<&String>,
) -> Result<PageRequest, ValidationError> {
    Ok(PageRequest {
        limit: PageLimit::parse(parse_int("limit", limit)?)?,
        offset: Offset::parse(parse_int("offset", offset)?)?,
    })
}

/// A UUID id named `field`.
pub(crate) fn parse_id<T: std::str::FromStr>(
    field: &'static str,
    value: &str,
) -> Result<T, ValidationError> {
    value
        .trim()
        .parse()
        .map_err(|_| ValidationError::new(field, "must be a UUID"))
}

/// Deserialises a field that distinguishes "absent" (`None`) from "null" (`Some(None)`).
pub(crate) fn double_option<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: serde::Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    serde::Deserialize::deserialize(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_values_are_absent_and_bad_numbers_name_the_field() {
        assert_eq!(parse_int("limit", Some(&String::new())).unwrap(), None);
        assert_eq!(
            parse_int("limit", Some(&"10".to_owned())).unwrap(),
            Some(10)
        );
        assert_eq!(
            parse_int("limit", Some(&"ten".to_owned()))
                .unwrap_err()
                .to_string(),
            "limit must be an integer"
        );
        assert!(parse_id::<uuid::Uuid>("customer_id", "nope").is_err());
    }
}
