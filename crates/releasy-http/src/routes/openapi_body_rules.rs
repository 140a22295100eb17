//! The rules the server checks in request bodies, stated on the fields of the OpenAPI
//! document, so generated clients and fuzzers send what is accepted and know what is
//! not. Each rule is read from the domain's own limits (names, lengths, channels,
//! scopes, part counts), so the document cannot drift from what the server enforces.
//!
//! The patterns are exact where JSON Schema can be: a short text is trimmed of Unicode
//! white space, then must hold 1 to N characters and no control character, which is
//! what `bounded_text` checks, written with explicit character classes (ECMA-262 and
//! Python `re` disagree on `\s`, and neither matches Rust's white space). What a
//! keyword cannot say (a byte limit, a rule between two fields, a maximum the
//! configuration sets) stays in the field's description.

use releasy_domain::api_key::{AllowedNetworks, KeyName, KeyType, RotationOverlap, Scope};
use releasy_domain::artifact::{Filename, MAX_OBJECT_SIZE, MAX_PARTS, Platform, TargetLabel};
use releasy_domain::customer::{CustomerName, Plan};
use releasy_domain::download::MaxUses;
use releasy_domain::release::{Channel, Product, Version, YankReason};
use serde_json::Value;
use utoipa::Number;
use utoipa::openapi::schema::{ArrayItems, Object, Schema, SchemaFormat, SchemaType, Type};
use utoipa::openapi::{OpenApi, RefOr};

/// Unicode `White_Space`: what Rust's `str::trim` removes.
const WHITE_SPACE: &str =
    r"\t\n\u000B\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";
/// General category `Cc`: what `char::is_control` refuses.
const CONTROL: &str = r"\u0000-\u001F\u007F-\u009F";
/// White space and control characters together.
const WHITE_SPACE_OR_CONTROL: &str =
    r"\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";

/// What the server checks of one body field.
#[derive(Debug, Clone, Copy)]
enum Rule {
    /// Trimmed, then 1 to this many characters without a control character.
    Text(usize),
    /// Blank (read as not given), or as [`Rule::Text`].
    BlankOrText(usize),
    /// `os`, `arch`, `filetype`: blank counts as absent; otherwise, trimmed, 1 to 32
    /// of `A-Z a-z 0-9 . _ -`.
    Label,
    /// Exactly one of the listed values.
    OneOf(Values),
    /// At least one item, each one of the listed values (repeats are accepted).
    SomeOf(Values),
    /// At least one item, each one of the listed values with white space around it, or
    /// blank (left out; at least one must be left, which a schema cannot say).
    SomeOfPadded(Values),
    /// One of the listed values in any ASCII case, with white space around it.
    OneOfAnyCase(Values),
    /// A UUID.
    Uuid,
    /// 64 hexadecimal digits.
    Sha256,
    /// Free text without U+0000.
    NoNul,
    /// An integer from the first bound, up to the second when there is one.
    Integer(i64, Option<i64>),
    /// An array of 1 to this many items.
    Items(usize),
}

/// Lists of accepted values, read from the domain.
#[derive(Debug, Clone, Copy)]
enum Values {
    Channels,
    Scopes,
    KeyTypes,
}

impl Values {
    fn names(self) -> Vec<&'static str> {
        match self {
            Self::Channels => Channel::ALL.iter().map(|c| c.as_str()).collect(),
            Self::Scopes => Scope::ALL.iter().map(|s| s.as_str()).collect(),
            Self::KeyTypes => [KeyType::Human, KeyType::Ci, KeyType::Integration]
                .iter()
                .map(|t| t.as_str())
                .collect(),
        }
    }
}

/// Every rule, by schema and field.
fn rules() -> Vec<(&'static str, &'static str, Rule)> {
    use Rule::{
        BlankOrText, Integer, Items, Label, NoNul, OneOf, OneOfAnyCase, Sha256, SomeOf,
        SomeOfPadded, Text, Uuid,
    };
    let size = i64::try_from(MAX_OBJECT_SIZE).unwrap_or(i64::MAX);
    let parts = MAX_PARTS as usize;
    vec![
        (
            "CreateCustomerRequest",
            "name",
            Text(CustomerName::MAX_CHARS),
        ),
        (
            "CreateCustomerRequest",
            "plan",
            BlankOrText(Plan::MAX_CHARS),
        ),
        (
            "UpdateCustomerRequest",
            "name",
            Text(CustomerName::MAX_CHARS),
        ),
        (
            "UpdateCustomerRequest",
            "plan",
            BlankOrText(Plan::MAX_CHARS),
        ),
        ("CreateKeyRequest", "customer_id", Uuid),
        ("CreateKeyRequest", "name", BlankOrText(KeyName::MAX_CHARS)),
        ("CreateKeyRequest", "scopes", SomeOfPadded(Values::Scopes)),
        (
            "CreateKeyRequest",
            "key_type",
            OneOfAnyCase(Values::KeyTypes),
        ),
        (
            "CreateKeyRequest",
            "allowed_cidrs",
            Items(AllowedNetworks::MAX_RANGES),
        ),
        ("UpdateKeyRequest", "name", Text(KeyName::MAX_CHARS)),
        (
            "UpdateKeyRequest",
            "allowed_cidrs",
            Items(AllowedNetworks::MAX_RANGES),
        ),
        ("RevokeKeyRequest", "api_key_id", Uuid),
        (
            "RotateKeyRequest",
            "overlap_seconds",
            Integer(0, Some(RotationOverlap::MAX_SECONDS)),
        ),
        (
            "CreateEntitlementRequest",
            "product",
            Text(Product::MAX_CHARS),
        ),
        ("CreateEntitlementRequest", "starts_at", Integer(0, None)),
        ("CreateEntitlementRequest", "ends_at", Integer(0, None)),
        (
            "CreateEntitlementRequest",
            "channels",
            SomeOf(Values::Channels),
        ),
        (
            "UpdateEntitlementRequest",
            "product",
            Text(Product::MAX_CHARS),
        ),
        ("UpdateEntitlementRequest", "starts_at", Integer(0, None)),
        ("UpdateEntitlementRequest", "ends_at", Integer(0, None)),
        (
            "UpdateEntitlementRequest",
            "channels",
            SomeOf(Values::Channels),
        ),
        ("DownloadTokenRequest", "artifact_id", Uuid),
        ("DownloadTokenRequest", "purpose", NoNul),
        (
            "DownloadTokenRequest",
            "expires_in_seconds",
            Integer(1, None),
        ),
        (
            "DownloadTokenRequest",
            "max_uses",
            Integer(1, Some(i64::from(MaxUses::MAX))),
        ),
        (
            "PresignArtifactRequest",
            "filename",
            Text(Filename::MAX_CHARS),
        ),
        (
            "PresignArtifactRequest",
            "platform",
            Text(Platform::MAX_CHARS),
        ),
        ("PresignArtifactRequest", "size", Integer(1, Some(size))),
        ("PresignArtifactRequest", "checksum", Sha256),
        ("RegisterArtifactRequest", "artifact_id", Uuid),
        ("RegisterArtifactRequest", "checksum", Sha256),
        ("RegisterArtifactRequest", "size", Integer(1, None)),
        (
            "RegisterArtifactRequest",
            "platform",
            Text(Platform::MAX_CHARS),
        ),
        ("RegisterArtifactRequest", "parts", Items(parts)),
        ("RegisterArtifactRequest", "os", Label),
        ("RegisterArtifactRequest", "arch", Label),
        ("RegisterArtifactRequest", "filetype", Label),
        (
            "CompletedPartDto",
            "part_number",
            Integer(1, Some(i64::from(MAX_PARTS))),
        ),
        ("CreateReleaseRequest", "product", Text(Product::MAX_CHARS)),
        ("CreateReleaseRequest", "version", Text(Version::MAX_CHARS)),
        ("CreateReleaseRequest", "channel", OneOf(Values::Channels)),
        ("CreateReleaseRequest", "notes", NoNul),
        ("UpdateReleaseRequest", "channel", OneOf(Values::Channels)),
        ("UpdateReleaseRequest", "notes", NoNul),
        ("YankReleaseRequest", "reason", Text(YankReason::MAX_CHARS)),
    ]
}

/// The pattern of [`Rule::Text`]: white space around, then a character that is neither
/// white space nor control, then up to `max - 2` non-control characters and one more of
/// the first kind.
fn text_pattern(max: usize) -> String {
    let ws = WHITE_SPACE;
    let edge = WHITE_SPACE_OR_CONTROL;
    let inner = max.saturating_sub(2);
    format!("^[{ws}]*[^{edge}](?:[^{CONTROL}]{{0,{inner}}}[^{edge}])?[{ws}]*$")
}

/// The pattern of [`Rule::BlankOrText`].
fn blank_or_text_pattern(max: usize) -> String {
    format!("^[{WHITE_SPACE}]*$|{}", text_pattern(max))
}

/// The pattern of one of `names` with white space around it, in any ASCII case when
/// `any_case`, or blank when `blank`.
fn padded_names_pattern(names: &[&str], any_case: bool, blank: bool) -> String {
    let ws = WHITE_SPACE;
    let spelled: Vec<String> = names
        .iter()
        .map(|name| {
            name.chars()
                .map(|c| match c {
                    c if any_case && c.is_ascii_alphabetic() => {
                        format!("[{}{}]", c.to_ascii_uppercase(), c.to_ascii_lowercase())
                    }
                    c if c.is_ascii_alphanumeric() || c == ':' || c == '_' => c.to_string(),
                    c => format!("\\{c}"),
                })
                .collect()
        })
        .collect();
    let optional = if blank { "?" } else { "" };
    format!("^[{ws}]*(?:{}){optional}[{ws}]*$", spelled.join("|"))
}

/// The pattern of [`Rule::Label`].
fn label_pattern() -> String {
    let ws = WHITE_SPACE;
    let max = TargetLabel::MAX_CHARS;
    format!("^[{ws}]*(?:[A-Za-z0-9._-]{{1,{max}}}[{ws}]*)?$")
}

/// Applies the rules to the document's component schemas. A rule naming a schema or a
/// field the document lacks is a programming error the tests catch
/// ([`unapplied_rules`]).
pub(super) fn with_body_rules(mut openapi: OpenApi) -> OpenApi {
    for (schema, field, rule) in rules() {
        if let Some(property) = property(&mut openapi, schema, field) {
            apply(property, rule);
        }
    }
    openapi
}

/// The rules whose schema or field the document does not have.
#[cfg(test)]
fn unapplied_rules(openapi: &mut OpenApi) -> Vec<String> {
    rules()
        .into_iter()
        .filter(|(schema, field, _)| property(openapi, schema, field).is_none())
        .map(|(schema, field, _)| format!("{schema}.{field}"))
        .collect()
}

fn property<'a>(openapi: &'a mut OpenApi, schema: &str, field: &str) -> Option<&'a mut Schema> {
    let components = openapi.components.as_mut()?;
    let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(schema) else {
        return None;
    };
    match object.properties.get_mut(field)? {
        RefOr::T(property) => Some(property),
        RefOr::Ref(_) => None,
    }
}

fn apply(property: &mut Schema, rule: Rule) {
    match (property, rule) {
        (Schema::Array(array), Rule::SomeOf(values)) => {
            array.min_items = Some(1);
            if let ArrayItems::RefOrSchema(items) = &mut array.items
                && let RefOr::T(Schema::Object(item)) = items.as_mut()
            {
                item.enum_values = Some(values.names().into_iter().map(Value::from).collect());
            }
        }
        (Schema::Array(array), Rule::SomeOfPadded(values)) => {
            array.min_items = Some(1);
            if let ArrayItems::RefOrSchema(items) = &mut array.items
                && let RefOr::T(Schema::Object(item)) = items.as_mut()
            {
                item.pattern = Some(padded_names_pattern(&values.names(), false, true));
            }
        }
        (Schema::Array(array), Rule::Items(max)) => {
            array.min_items = Some(1);
            array.max_items = Some(max);
        }
        (Schema::Object(object), rule) => constrain(object, rule),
        _ => {}
    }
}

fn constrain(object: &mut Object, rule: Rule) {
    match rule {
        Rule::Text(max) => object.pattern = Some(text_pattern(max)),
        Rule::BlankOrText(max) => object.pattern = Some(blank_or_text_pattern(max)),
        Rule::OneOfAnyCase(values) => {
            object.pattern = Some(padded_names_pattern(&values.names(), true, false));
        }
        Rule::Label => object.pattern = Some(label_pattern()),
        Rule::OneOf(values) => {
            let mut accepted: Vec<Value> = values.names().into_iter().map(Value::from).collect();
            if is_nullable(object) {
                // Every keyword applies: without `null` in `enum`, the `null` the
                // server takes as "not given" would be invalid.
                accepted.push(Value::Null);
            }
            object.enum_values = Some(accepted);
        }
        Rule::Uuid => object.format = Some(SchemaFormat::Custom("uuid".to_owned())),
        Rule::Sha256 => {
            object.min_length = Some(64);
            object.max_length = Some(64);
            object.pattern = Some("^[0-9a-fA-F]{64}$".to_owned());
        }
        Rule::NoNul => object.pattern = Some(r"^[^\u0000]*$".to_owned()),
        Rule::Integer(minimum, maximum) => {
            object.minimum = Some(number(minimum));
            object.maximum = maximum.map(number);
        }
        Rule::SomeOf(_) | Rule::SomeOfPadded(_) | Rule::Items(_) => {}
    }
}

fn is_nullable(object: &Object) -> bool {
    matches!(&object.schema_type, SchemaType::Array(types) if types.contains(&Type::Null))
}

fn number(n: i64) -> Number {
    Number::Int(isize::try_from(n).unwrap_or(isize::MAX))
}

#[cfg(test)]
mod tests {
    use regex::Regex;

    use super::*;

    /// Characters that sit on the rule's edges: white space that is control and that is
    /// not, control that is not white space, format characters that are neither.
    const TRICKY: &[char] = &[
        'a', 'Z', '0', ' ', '\t', '\n', '\r', '\u{0}', '\u{1}', '\u{7f}', '\u{85}', '\u{a0}',
        '\u{9f}', '\u{2000}', '\u{200b}', '\u{2028}', '\u{3000}', '\u{feff}', 'é', '漢', '😀', '.',
        '-', '_', '/',
    ];

    /// A small deterministic generator (xorshift), so every run checks the same cases.
    struct Cases(u64);

    impl Cases {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn text(&mut self, max_len: usize) -> String {
            let len = (self.next() % (max_len as u64 + 1)) as usize;
            (0..len)
                .map(|_| TRICKY[(self.next() % TRICKY.len() as u64) as usize])
                .collect()
        }
    }

    fn agree(pattern: &str, accepted_by_the_server: impl Fn(&str) -> bool, cases: &[String]) {
        let regex = Regex::new(pattern).unwrap();
        for case in cases {
            assert_eq!(
                regex.is_match(case),
                accepted_by_the_server(case),
                "{case:?} against {pattern}"
            );
        }
    }

    fn cases(max_len: usize) -> Vec<String> {
        let mut generator = Cases(0x9e37_79b9_7f4a_7c15);
        let mut cases: Vec<String> = (0..4_000).map(|_| generator.text(max_len)).collect();
        let at_the_limit = "x".repeat(Plan::MAX_CHARS);
        cases.extend([
            String::new(),
            at_the_limit.clone(),
            format!("{at_the_limit}x"),
            format!(" \u{3000}{at_the_limit}\t\n"),
            format!("a{}b", " ".repeat(Plan::MAX_CHARS - 2)),
        ]);
        cases
    }

    #[test]
    fn the_text_pattern_accepts_exactly_what_bounded_text_accepts() {
        let cases = cases(Plan::MAX_CHARS + 4);
        agree(
            &text_pattern(Plan::MAX_CHARS),
            |s| Plan::parse(s).is_ok(),
            &cases,
        );
        let short: Vec<String> = cases.iter().map(|c| c.chars().take(5).collect()).collect();
        agree(&text_pattern(2), |s| bounded_two(s).is_some(), &short);
    }

    #[test]
    fn the_blank_or_text_pattern_accepts_what_a_blank_means_none_accepts() {
        let cases = cases(Plan::MAX_CHARS + 4);
        agree(
            &blank_or_text_pattern(Plan::MAX_CHARS),
            |s| Plan::parse_or_none(s).is_ok(),
            &cases,
        );
    }

    #[test]
    fn the_key_type_and_scope_patterns_accept_what_key_creation_accepts() {
        use releasy_domain::api_key::{KeyType, Scope};
        let mut cases = cases(8);
        for name in Values::KeyTypes
            .names()
            .into_iter()
            .chain(Values::Scopes.names())
        {
            let upper = name.to_ascii_uppercase();
            cases.extend([
                name.to_owned(),
                upper.clone(),
                format!(" \t{name}\u{3000}"),
                format!(" {upper} "),
                format!("{name}x"),
                name.replace(':', " "),
                name.replacen(|c: char| c.is_ascii_alphabetic(), "\u{131}", 1),
            ]);
        }
        agree(
            &padded_names_pattern(&Values::KeyTypes.names(), true, false),
            |s| KeyType::parse(s).is_ok(),
            &cases,
        );
        agree(
            &padded_names_pattern(&Values::Scopes.names(), false, true),
            |s| s.trim().is_empty() || Scope::parse(s).is_ok(),
            &cases,
        );
    }

    /// `bounded_text` with a limit of 2, through a domain type that has none that small:
    /// the edge where the pattern's middle part is empty.
    fn bounded_two(s: &str) -> Option<Plan> {
        Plan::parse(s)
            .ok()
            .filter(|p| p.as_str().chars().count() <= 2)
    }

    #[test]
    fn the_label_pattern_accepts_exactly_what_registration_accepts() {
        let cases = cases(TargetLabel::MAX_CHARS + 4);
        // Blank counts as not given, which registration accepts.
        agree(
            &label_pattern(),
            |s| s.trim().is_empty() || TargetLabel::parse("os", s).is_ok(),
            &cases,
        );
    }

    /// A document holding the request bodies' schemas, as the routes register them.
    fn request_bodies() -> OpenApi {
        use crate::dto as d;
        use utoipa::openapi::{ComponentsBuilder, OpenApiBuilder};
        let components = ComponentsBuilder::new()
            .schema_from::<d::CreateCustomerRequest>()
            .schema_from::<d::UpdateCustomerRequest>()
            .schema_from::<d::CreateKeyRequest>()
            .schema_from::<d::RevokeKeyRequest>()
            .schema_from::<d::RotateKeyRequest>()
            .schema_from::<d::UpdateKeyRequest>()
            .schema_from::<d::CreateEntitlementRequest>()
            .schema_from::<d::UpdateEntitlementRequest>()
            .schema_from::<d::DownloadTokenRequest>()
            .schema_from::<d::PresignArtifactRequest>()
            .schema_from::<d::RegisterArtifactRequest>()
            .schema_from::<d::CompletedPartDto>()
            .schema_from::<d::CreateReleaseRequest>()
            .schema_from::<d::UpdateReleaseRequest>()
            .schema_from::<d::YankReleaseRequest>()
            .build();
        OpenApiBuilder::new().components(Some(components)).build()
    }

    #[test]
    fn every_rule_names_a_field_of_the_document() {
        assert_eq!(unapplied_rules(&mut request_bodies()), Vec::<String>::new());
    }

    #[test]
    fn fields_carry_their_rules_and_nullable_enums_keep_null() {
        let openapi = with_body_rules(request_bodies());
        let json = serde_json::to_value(&openapi).unwrap();
        let field = |schema: &str, field: &str| {
            json["components"]["schemas"][schema]["properties"][field].clone()
        };
        assert_eq!(
            field("CreateCustomerRequest", "name")["pattern"],
            Value::from(text_pattern(200))
        );
        assert_eq!(
            field("CreateReleaseRequest", "channel")["enum"],
            serde_json::json!(["stable", "rc", "beta", "alpha", "dev", null])
        );
        assert_eq!(field("CreateKeyRequest", "scopes")["minItems"], 1);
        assert_eq!(
            field("CreateKeyRequest", "scopes")["items"]["pattern"],
            Value::from(padded_names_pattern(&Values::Scopes.names(), false, true))
        );
        assert_eq!(
            field("CreateCustomerRequest", "plan")["pattern"],
            Value::from(blank_or_text_pattern(64))
        );
        assert_eq!(field("CompletedPartDto", "part_number")["maximum"], 10_000);
        assert_eq!(
            field("RegisterArtifactRequest", "parts")["maxItems"],
            10_000
        );
        assert_eq!(field("PresignArtifactRequest", "checksum")["minLength"], 64);
        assert_eq!(field("RevokeKeyRequest", "api_key_id")["format"], "uuid");
    }
}
