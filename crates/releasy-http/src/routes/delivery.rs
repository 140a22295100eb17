//! The download ledger: `/v1/admin/downloads` (rows, a CSV export, statistics) for
//! operators, `/v1/downloads` (their own rows) for customers.

use actix_web::http::header::{Accept, CONTENT_DISPOSITION, Header, Quality, VARY};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, get, web};
use futures_util::stream;
use releasy_domain::delivery::{
    DeliveryService, DownloadFilter, DownloadOutcome, DownloadRecord, StatsGroup, StatsQuery,
};
use releasy_domain::pagination::{Cursor, PageLimit};
use releasy_domain::release::{Product, Version};
use releasy_domain::{ArtifactId, CustomerId, Timestamp, ValidationError};

use crate::auth::permissions::{DownloadsRead, ReadDownloads};
use crate::auth::{Authorized, CustomerKey};
use crate::dto::{
    CustomerDownloadsQuery, DownloadListQuery, DownloadListResponse, DownloadRecordResponse,
    DownloadStatsQuery, DownloadStatsResponse, ErrorBody, non_empty, parse_id, parse_int,
};
use crate::error::ApiError;
use crate::extract_errors::after_caller;
use crate::state::AppState;

/// List the download ledger, newest first: every token issued and every resolve of a
/// known token, with its outcome (`redirected` for a link handed out, or the reason it
/// was refused). Keyset-paginated with `cursor`. With `Accept: text/csv` or
/// `format=csv`, streams every matching row as CSV instead (header row first, the JSON
/// field names as columns), without holding them in memory.
#[utoipa::path(
    tag = "downloads",
    params(DownloadListQuery),
    responses(
        (status = 200, description = "One page (JSON), or with `Accept: text/csv` or `format=csv` every matching row (CSV)", content(
            (DownloadListResponse = "application/json"),
            (String = "text/csv"),
        )),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    ),
    security(("admin_key" = []), ("operator_jwt" = []))
)]
#[get("/v1/admin/downloads")]
pub async fn list_downloads(
    _auth: Authorized<ReadDownloads>,
    state: web::Data<AppState>,
    req: HttpRequest,
    query: Result<web::Query<DownloadListQuery>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let query = after_caller(query)?;
    let filter = ledger_filter(&query)?;
    let after = cursor(query.cursor.as_ref())?;
    if wants_csv(&req, query.format.as_ref())? {
        // Every row: `limit` does not apply, so it is not checked either.
        return Ok(csv_export(state.services.delivery.clone(), filter, after));
    }
    let limit = PageLimit::parse(parse_int("limit", query.limit.as_ref())?)?;
    let page = state
        .services
        .delivery
        .page(&filter, limit, after.as_ref())
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((VARY, "Accept"))
        .json(list_response(page.items, limit, page.next_cursor)))
}

/// Statistics of successful downloads (links handed out): count, distinct customers
/// and bytes per product, version, artifact, customer or UTC day. Answered from a
/// summary kept per day as rows arrive, so `from` and `to` select whole UTC days. The
/// listing's filters that statistics cannot apply (`version`, `artifact_id`, an
/// `outcome` other than `redirected`) are 400, not ignored.
#[utoipa::path(
    tag = "downloads",
    params(DownloadStatsQuery),
    responses(
        (status = 200, body = DownloadStatsResponse),
        (status = 400, body = ErrorBody, description = "a bad parameter, or one of the listing's filters that statistics cannot apply (version, artifact_id, an outcome other than redirected)"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    ),
    security(("admin_key" = []), ("operator_jwt" = []))
)]
#[get("/v1/admin/downloads/stats")]
pub async fn download_stats(
    _auth: Authorized<ReadDownloads>,
    state: web::Data<AppState>,
    query: Result<web::Query<DownloadStatsQuery>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let query = after_caller(query)?;
    if let Some((field, instead)) = query.unsupported_filter() {
        return Err(ValidationError::new(
            field,
            format!("does not narrow statistics ({instead}; the listing takes it)"),
        )
        .into());
    }
    let group_by = non_empty(query.group_by.as_ref()).ok_or_else(|| {
        ValidationError::new(
            "group_by",
            "is required: one of product, version, artifact, customer, day",
        )
    })?;
    let stats_query = StatsQuery {
        group_by: StatsGroup::parse(group_by)?,
        product: product(query.product.as_ref())?,
        customer_id: customer(query.customer_id.as_ref())?,
        from: instant("from", query.from.as_ref())?,
        to: instant("to", query.to.as_ref())?,
    }
    .checked()?;
    let groups = state.services.delivery.stats(&stats_query).await?;
    Ok(HttpResponse::Ok().json(DownloadStatsResponse {
        group_by: stats_query.group_by.as_str().to_owned(),
        groups: groups.into_iter().map(Into::into).collect(),
    }))
}

/// The calling key's customer's own download history, newest first (needs
/// `downloads:read`): the same rows an operator sees, for this customer only.
#[utoipa::path(
    tag = "downloads",
    params(CustomerDownloadsQuery),
    responses(
        (status = 200, body = DownloadListResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody, description = "missing scope"),
    ),
    security(("api_key" = []))
)]
#[get("/v1/downloads")]
pub async fn customer_downloads(
    caller: CustomerKey<DownloadsRead>,
    state: web::Data<AppState>,
    query: Result<web::Query<CustomerDownloadsQuery>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let query = after_caller(query)?;
    let limit = PageLimit::parse(parse_int("limit", query.limit.as_ref())?)?;
    let after = cursor(query.cursor.as_ref())?;
    let page = state
        .services
        .delivery
        .customer_history(caller.key.customer_id, limit, after.as_ref())
        .await?;
    Ok(HttpResponse::Ok().json(list_response(page.items, limit, page.next_cursor)))
}

fn list_response(
    rows: Vec<DownloadRecord>,
    limit: PageLimit,
    next: Option<Cursor>,
) -> DownloadListResponse {
    DownloadListResponse {
        downloads: rows.into_iter().map(Into::into).collect(),
        limit: i64::from(limit.get()),
        next_cursor: next.map(|cursor| cursor.encode()),
    }
}

/// The filter the listing's parameters describe.
fn ledger_filter(query: &DownloadListQuery) -> Result<DownloadFilter, ValidationError> {
    DownloadFilter {
        customer_id: customer(query.customer_id.as_ref())?,
        product: product(query.product.as_ref())?,
        version: non_empty(query.version.as_ref())
            .map(Version::parse)
            .transpose()?,
        artifact_id: non_empty(query.artifact_id.as_ref())
            .map(|id| parse_id::<ArtifactId>("artifact_id", id))
            .transpose()?,
        outcome: non_empty(query.outcome.as_ref())
            .map(|name| {
                DownloadOutcome::from_name(name).ok_or_else(|| {
                    ValidationError::new(
                        "outcome",
                        "must be one of issued, redirected, suspended, expired, \
                         address_not_allowed, not_available, yanked, not_verified, used_up, quota_exceeded",
                    )
                })
            })
            .transpose()?,
        from: instant("from", query.from.as_ref())?,
        to: instant("to", query.to.as_ref())?,
    }
    .checked()
}

fn customer(value: Option<&String>) -> Result<Option<CustomerId>, ValidationError> {
    non_empty(value)
        .map(|id| parse_id::<CustomerId>("customer_id", id))
        .transpose()
}

fn product(value: Option<&String>) -> Result<Option<Product>, ValidationError> {
    non_empty(value).map(Product::parse).transpose()
}

fn instant(
    field: &'static str,
    value: Option<&String>,
) -> Result<Option<Timestamp>, ValidationError> {
    parse_int(field, value)?
        .map(|seconds| Timestamp::from_client(field, seconds))
        .transpose()
}

fn cursor(value: Option<&String>) -> Result<Option<Cursor>, ValidationError> {
    non_empty(value).map(Cursor::decode).transpose()
}

/// Whether the caller asked for CSV: `format=csv`, or else an `Accept` that prefers
/// CSV to JSON. Each takes the q-value of the most precise range that names it
/// (RFC 9110: `application/json` before `application/*` before `*/*`; `text/csv`
/// before `text/*` before `*/*`), and ranks by it, then by that precision: CSV when it
/// ranks above 0 and above JSON; a tie, or an `Accept` that does not parse, is JSON,
/// the default.
fn wants_csv(req: &HttpRequest, format: Option<&String>) -> Result<bool, ValidationError> {
    match non_empty(format) {
        Some("csv") => Ok(true),
        Some("json") => Ok(false),
        Some(_) => Err(ValidationError::new("format", "must be json or csv")),
        None => {
            let Ok(accept) = Accept::parse(req) else {
                return Ok(false);
            };
            let rank_of = |ranges: &[(&str, u8)]| {
                let named: Vec<(u8, Quality)> = accept
                    .iter()
                    .filter_map(|item| {
                        let range = item.item.essence_str();
                        ranges
                            .iter()
                            .find(|(name, _)| range.eq_ignore_ascii_case(name))
                            .map(|(_, precision)| (*precision, item.quality))
                    })
                    .collect();
                let most_precise = named.iter().map(|(precision, _)| *precision).max();
                most_precise.map_or((Quality::ZERO, 0), |precise| {
                    let quality = named
                        .iter()
                        .filter(|(precision, _)| *precision == precise)
                        .map(|(_, quality)| *quality)
                        .max()
                        .unwrap_or(Quality::ZERO);
                    (quality, precise)
                })
            };
            let csv = rank_of(&[("text/csv", 2), ("text/*", 1), ("*/*", 0)]);
            let json = rank_of(&[("application/json", 2), ("application/*", 1), ("*/*", 0)]);
            Ok(csv.0 > Quality::ZERO && csv > json)
        }
    }
}

/// Where an export stands between two chunks of its body.
enum Export {
    /// The header row is next.
    Header(Option<Cursor>),
    /// The rows after this position are next.
    Rows(Option<Cursor>),
    /// Every row was sent.
    Done,
}

/// A `200 text/csv` response streaming every row of `filter` after `after`, a batch
/// at a time: memory holds one batch, however many rows match. A database error
/// part-way ends the body without its final chunk, so a client sees a broken transfer,
/// never a short file that looks complete.
fn csv_export(
    delivery: DeliveryService,
    filter: DownloadFilter,
    after: Option<Cursor>,
) -> HttpResponse {
    let body = stream::try_unfold(Export::Header(after), move |export| {
        let (delivery, filter) = (delivery.clone(), filter.clone());
        async move {
            match export {
                Export::Header(after) => {
                    let header = DownloadRecordResponse::CSV_HEADER.map(str::to_owned);
                    let chunk = csv_chunk(std::iter::once(header))?;
                    Ok(Some((chunk, Export::Rows(after))))
                }
                Export::Rows(after) => {
                    let (rows, next) = delivery
                        .export_batch(&filter, after.as_ref())
                        .await
                        .map_err(|err| {
                            tracing::error!(error = %err, "download export ended early");
                            std::io::Error::other(err)
                        })?;
                    let chunk = csv_chunk(
                        rows.into_iter()
                            .map(|row| DownloadRecordResponse::from(row).csv_fields()),
                    )?;
                    let state = match next {
                        Some(cursor) => Export::Rows(Some(cursor)),
                        None => Export::Done,
                    };
                    Ok::<_, std::io::Error>(Some((chunk, state)))
                }
                Export::Done => Ok(None),
            }
        }
    });
    HttpResponse::Ok()
        .insert_header((VARY, "Accept"))
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            CONTENT_DISPOSITION,
            "attachment; filename=\"downloads.csv\"",
        ))
        .streaming(body)
}

/// `records` as CSV lines (written to memory: an error is one of allocation).
fn csv_chunk(records: impl Iterator<Item = [String; 15]>) -> std::io::Result<Bytes> {
    let mut writer = csv::Writer::from_writer(Vec::with_capacity(64 * 1024));
    for record in records {
        writer.write_record(&record)?;
    }
    let bytes = writer.into_inner().map_err(|err| err.into_error())?;
    Ok(Bytes::from(bytes))
}
