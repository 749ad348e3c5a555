//! The browse resources of the EPCIS 2.0 REST binding: `/eventTypes`, `/epcs`,
//! `/bizSteps`, `/bizLocations`, `/readPoints`, `/dispositions`, each with `/{id}`
//! (a `Collection` whose only member is `events`) and `/{id}/events` (the events with
//! that value, taking every `GET /events` parameter as well).
//!
//! The top-level lists are the distinct values found in the stored events (event types:
//! the five standard types), read from the ledger's EPC and field indexes (one seek per
//! value, whatever the ledger's size), sorted, paged with `perPage` (default 30, at most
//! [`super::PER_PAGE_MAX`]) and `nextPageToken` (the last value of the page, opaque);
//! `Link: <…>; rel="next"` announces the next page. EPCs and locations are listed
//! normalised (canonical Digital Link, or EPC URNs under `GS1-EPC-Format:
//! Always_EPC_URN`), business steps and dispositions as bare words when standard. A
//! value whose `/{id}` is asked for but occurs in no event is a 404.

use super::auth::ReadAuth;
use super::binding::{EpcFormat, Presentation};
use super::epc;
use super::error::ApiError;
use super::query::{self, EventQuery, Index};
use super::util::{self, parse_query};
use super::{EventField, PER_PAGE_DEFAULT, PER_PAGE_MAX, Routes, Shared};
use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use pedigree_epcis::model::EventType;
use serde_json::json;

const CONTEXT: &str = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld";
const STANDARD_TYPES: [&str; 5] = [
    "AggregationEvent",
    "AssociationEvent",
    "ObjectEvent",
    "TransactionEvent",
    "TransformationEvent",
];

/// A browse resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    EventTypes,
    Epcs,
    BizSteps,
    BizLocations,
    ReadPoints,
    Dispositions,
}

impl Kind {
    const ALL: [Kind; 6] = [
        Kind::EventTypes,
        Kind::Epcs,
        Kind::BizSteps,
        Kind::BizLocations,
        Kind::ReadPoints,
        Kind::Dispositions,
    ];

    /// (list path, item path, item events path).
    fn paths(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Kind::EventTypes => (
                "/eventTypes",
                "/eventTypes/{eventType}",
                "/eventTypes/{eventType}/events",
            ),
            Kind::Epcs => ("/epcs", "/epcs/{epc}", "/epcs/{epc}/events"),
            Kind::BizSteps => (
                "/bizSteps",
                "/bizSteps/{bizStep}",
                "/bizSteps/{bizStep}/events",
            ),
            Kind::BizLocations => (
                "/bizLocations",
                "/bizLocations/{bizLocation}",
                "/bizLocations/{bizLocation}/events",
            ),
            Kind::ReadPoints => (
                "/readPoints",
                "/readPoints/{readPoint}",
                "/readPoints/{readPoint}/events",
            ),
            Kind::Dispositions => (
                "/dispositions",
                "/dispositions/{disposition}",
                "/dispositions/{disposition}/events",
            ),
        }
    }

    /// The `GET /events` parameter an item's `/events` fixes.
    fn parameter(self) -> &'static str {
        match self {
            Kind::EventTypes => "eventType",
            Kind::Epcs => "MATCH_anyEPC",
            Kind::BizSteps => "EQ_bizStep",
            Kind::BizLocations => "EQ_bizLocation",
            Kind::ReadPoints => "EQ_readPoint",
            Kind::Dispositions => "EQ_disposition",
        }
    }

    /// The index behind this kind's list (`None` for event types: the five standard ones).
    fn index(self) -> Option<Index> {
        let field = match self {
            Kind::EventTypes => return None,
            Kind::Epcs => return Some(Index::Epc),
            Kind::BizSteps => EventField::BizStep,
            Kind::Dispositions => EventField::Disposition,
            Kind::BizLocations => EventField::BizLocation,
            Kind::ReadPoints => EventField::ReadPoint,
        };
        Some(Index::Field(field))
    }

    /// The comparison key of a value given in a path.
    fn key(self, value: &str) -> String {
        match self.index() {
            Some(Index::Field(field)) => field.key(value),
            Some(Index::Epc) => epc::normalize(value),
            None => value.trim().to_string(),
        }
    }

    fn is_identifier(self) -> bool {
        matches!(self, Kind::Epcs | Kind::BizLocations | Kind::ReadPoints)
    }
}

/// Runs `read` on the ledger off the async runtime: ledger reads block, and listings scan.
async fn read_ledger<T: Send + 'static>(
    state: &Shared,
    read: impl FnOnce(&dyn super::LedgerApi) -> T + Send + 'static,
) -> Result<T, ApiError> {
    let ledger = state.ledger.clone();
    tokio::task::spawn_blocking(move || read(ledger.as_ref()))
        .await
        .map_err(|e| ApiError::internal(format!("ledger read task failed: {e}")))
}

fn collection(members: Vec<String>) -> serde_json::Value {
    json!({"@context": [CONTEXT], "type": "Collection", "member": members})
}

async fn list(
    kind: Kind,
    state: Shared,
    headers: HeaderMap,
    raw: Option<String>,
) -> Result<Response, ApiError> {
    let mut per_page = PER_PAGE_DEFAULT;
    let mut after: Option<String> = None;
    for (name, value) in parse_query(raw.as_deref())? {
        match name.as_str() {
            "perPage" => per_page = query::count_param(&name, &value, 1, PER_PAGE_MAX)?,
            "nextPageToken" => {
                after = Some(
                    hex::decode(value.trim())
                        .ok()
                        .and_then(|b| String::from_utf8(b).ok())
                        .ok_or_else(|| {
                            ApiError::query_param(&name, "not a token issued by this server")
                        })?,
                )
            }
            _ => {
                return Err(ApiError::query_param(
                    &name,
                    "unknown parameter; this list takes perPage and nextPageToken",
                ));
            }
        }
    }
    let presentation = Presentation::from_headers(&headers, &state)?;
    // Each list is read from an index, one seek per value, whatever the ledger's size.
    let mut page: Vec<String> = match kind.index() {
        Some(index) => {
            let after = after.clone();
            read_ledger(&state, move |ledger| {
                index.values(ledger, after.as_deref(), per_page + 1)
            })
            .await??
        }
        None => STANDARD_TYPES
            .iter()
            .filter(|name| after.as_deref().is_none_or(|after| **name > after))
            .take(per_page + 1)
            .map(|name| name.to_string())
            .collect(),
    };
    let more = page.len() > per_page;
    page.truncate(per_page);
    let next = page.last().cloned().filter(|_| more);
    let members: Vec<String> = page
        .into_iter()
        .map(|v| {
            if kind.is_identifier() && presentation.epc_format == EpcFormat::AlwaysEpcUrn {
                presentation.identifier(&v)
            } else {
                v
            }
        })
        .collect();
    let mut response = Json(collection(members)).into_response();
    if let Some(last) = next {
        let link = format!(
            "<{}?perPage={per_page}&nextPageToken={}>; rel=\"next\"",
            kind.paths().0,
            hex::encode(last)
        );
        if let Ok(value) = HeaderValue::from_str(&link) {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    if kind.is_identifier() {
        presentation.announce(response.headers_mut());
    }
    Ok(response)
}

async fn item(kind: Kind, state: Shared, id: String) -> Result<Response, ApiError> {
    let key = kind.key(&id);
    let known = match kind.index() {
        Some(index) => {
            read_ledger(&state, move |ledger| {
                index
                    .events(ledger, &key, 0, 1)
                    .map(|events| !events.is_empty())
            })
            .await??
        }
        None => EventType::from_name(&key).is_some(),
    };
    if !known {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "NoSuchResourceException",
            format!("`{id}` does not occur in any stored event"),
        )
        .with("field", kind.paths().1));
    }
    Ok(
        Json(json!({"@context": [CONTEXT], "type": "Collection", "member": ["events"]}))
            .into_response(),
    )
}

async fn events(
    kind: Kind,
    state: Shared,
    headers: HeaderMap,
    id: String,
    raw: Option<String>,
) -> Result<Response, ApiError> {
    if kind == Kind::EventTypes && EventType::from_name(id.trim()).is_none() {
        return Err(ApiError::not_found(format!(
            "`{id}` is not an EPCIS event type"
        )));
    }
    let path = format!("{}/{}/events", kind.paths().0, util::encode_component(&id));
    let query = EventQuery::from_pairs(
        parse_query(raw.as_deref())?,
        &[(kind.parameter(), id)],
        &path,
    )?;
    query::respond(&state, &headers, query, "SimpleEventQuery").await
}

/// Adds the browse routes (and leaves `OPTIONS` to the caller).
pub(super) fn add_routes(mut routes: Routes) -> Routes {
    for kind in Kind::ALL {
        let (list_path, item_path, events_path) = kind.paths();
        routes = routes
            .add(
                "GET",
                list_path,
                move |State(state): State<Shared>,
                      _: ReadAuth,
                      headers: HeaderMap,
                      RawQuery(raw): RawQuery| list(kind, state, headers, raw),
            )
            .add(
                "GET",
                item_path,
                move |State(state): State<Shared>, _: ReadAuth, Path(id): Path<String>| {
                    item(kind, state, id)
                },
            )
            .add(
                "GET",
                events_path,
                move |State(state): State<Shared>,
                      _: ReadAuth,
                      headers: HeaderMap,
                      Path(id): Path<String>,
                      RawQuery(raw): RawQuery| {
                    events(kind, state, headers, id, raw)
                },
            );
    }
    routes
}
