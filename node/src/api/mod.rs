//! The node's HTTP API: EPCIS 2.0 capture and query (GS1 REST binding: events, the browse
//! resources, named queries, webhook and WebSocket subscriptions, `OPTIONS` discovery and the GS1-*
//! headers), DSCSA verification (Lightweight Messaging shape, also at GS1 Digital Link
//! paths), traceability queries, and audit (blocks, proofs, receipts, status, metrics).
//! The reference for clients is `docs/api.md` and `GET /openapi.json`.
//!
//! The API talks to the ledger only through [`LedgerApi`] ([`service`]).
//! [`direct::DirectLedger`] implements it in memory for tests and single-process dev.
//!
//! # Access
//! Every route except `GET /openapi.json` needs `Authorization: Bearer <token>` (401
//! otherwise); tokens come from `node.toml` `[[api.tokens]]` (org + role). Reads accept
//! any valid token, including verification (DSCSA VRS requires authenticated partners).
//! Writes (`POST /capture`, `POST /events`, `POST /recall`, `POST /release`) need a
//! `write` or `admin` token **of the node's own org** (403 otherwise), because the node
//! signs them as that org — except client-signed transactions
//! (`application/vnd.pedigree.signed-txs+json` on `POST /capture`), which a partner may
//! submit through any node with a `write`/`admin` token of the org that signed every one
//! of them. A read-only node ([`NodeRole::Learner`]) refuses every write with 403. Named queries and
//! subscriptions are node-local (not ledger writes): creating or deleting them needs a
//! `write` or `admin` token of any org, on any node ([`auth::ManageAuth`]).
//!
//! # Binding headers
//! Every request's `GS1-EPCIS-Version`/`GS1-CBV-Version`/`-Min`/`-Max`, `GS1-EPC-Format`,
//! `GS1-CBV-XML-Format` and `GS1-Extensions` are checked and every response carries the
//! version headers ([`binding`]).
//!
//! # Errors
//! RFC 7807 `application/problem+json` with `type` `epcisException:<Name>` ([`error`]).
//!
//! # Limits
//! [`CAPTURE_BODY_MAX`] bytes per request body (413 `CaptureLimitExceededException`),
//! [`CAPTURE_EVENTS_MAX`] events per capture (advertised in `GS1-EPCIS-Capture-Limit`),
//! [`PER_PAGE_MAX`] events per page, [`QUERY_SCAN_MAX`] events scanned per sorted query,
//! [`SUBMIT_TIMEOUT`] per commit wait, [`queries::NAMED_QUERIES_MAX`] named queries and
//! [`queries::SUBSCRIPTIONS_MAX`] subscriptions per node.

pub mod audit;
pub mod auth;
pub mod binding;
pub mod browse;
pub mod capture;
pub mod direct;
pub mod epc;
pub mod error;
pub mod merkle;
pub mod openapi;
pub mod queries;
pub mod query;
pub mod service;
#[cfg(test)]
pub(crate) mod tests;
pub mod trace;
pub mod util;
pub mod verify;
pub mod webhook;

pub use direct::{Clock, DirectIdentity, DirectLedger};
pub use error::ApiError;
pub use service::{
    BlockView, BoxFuture, CommitMark, Committed, EventField, InclusionProof, LedgerApi,
    LedgerStatus, NodeInfo, NodeRole, PeerStatus, ProofStep, ReadError, Side, StoredEvent,
    SubmitError, indexable,
};

use crate::config::TokenGrant;
use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::handler::Handler;
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, on};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a write request waits for its transactions to be committed and applied.
pub const SUBMIT_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest request body accepted (capture documents included): 64 MiB.
pub const CAPTURE_BODY_MAX: usize = 64 << 20;
/// Most events per `POST /capture` (`GS1-EPCIS-Capture-Limit`).
pub const CAPTURE_EVENTS_MAX: usize = 10_000;
/// Capture jobs remembered for `GET /capture/{id}` (oldest forgotten first).
pub const CAPTURE_JOBS_MAX: usize = 10_000;
/// Default `perPage`.
pub const PER_PAGE_DEFAULT: usize = 30;
/// Largest `perPage`.
pub const PER_PAGE_MAX: usize = 1_000;
/// Most stored events a sorted (`orderBy`) or counted query scans (413 beyond).
pub const QUERY_SCAN_MAX: usize = 1_000_000;
/// Most transactions in one `application/vnd.pedigree.signed-txs+json` body.
pub const SIGNED_TXS_MAX: usize = CAPTURE_EVENTS_MAX;

/// API configuration.
#[derive(Clone)]
pub struct ApiConfig {
    /// Bearer tokens → org + role (from `node.toml`).
    pub tokens: BTreeMap<String, TokenGrant>,
    /// GLN reported as LMS `responderGLN` (the node org's GLN).
    pub responder_gln: Option<String>,
    /// Unix-ms clock, used for `verificationTimestamp`, expiry judgement and job times.
    pub clock: Clock,
    /// Commit wait per write request.
    pub submit_timeout: Duration,
    /// Body size limit in bytes.
    pub body_max: usize,
    /// Events per capture.
    pub capture_events_max: usize,
    /// Where node-local API state (named queries, subscriptions) is kept; `None` keeps
    /// it in memory only.
    pub state_dir: Option<PathBuf>,
    /// First wait before retrying a failed webhook delivery (doubles up to
    /// [`queries::RETRY_MAX`]).
    pub webhook_retry_base: Duration,
    /// Whether webhook subscriptions may deliver to loopback, private and link-local
    /// addresses ([`webhook`]); off by default.
    pub webhook_private_destinations: bool,
}

impl ApiConfig {
    /// Defaults with the system clock and the given tokens.
    pub fn new(tokens: BTreeMap<String, TokenGrant>) -> ApiConfig {
        ApiConfig {
            tokens,
            responder_gln: None,
            clock: Arc::new(util::system_now_ms),
            submit_timeout: SUBMIT_TIMEOUT,
            body_max: CAPTURE_BODY_MAX,
            capture_events_max: CAPTURE_EVENTS_MAX,
            state_dir: None,
            webhook_retry_base: Duration::from_millis(500),
            webhook_private_destinations: false,
        }
    }
}

/// Shared state of all handlers.
pub struct AppState {
    /// The ledger.
    pub ledger: Arc<dyn LedgerApi>,
    /// Configuration.
    pub config: ApiConfig,
    /// Capture jobs by id, with insertion order for eviction.
    pub jobs: Mutex<(HashMap<String, capture::CaptureJob>, VecDeque<String>)>,
    /// HTTP request counters by (method, route, status).
    pub requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    /// Named queries and subscriptions.
    pub queries: queries::Queries,
}

impl AppState {
    /// Now, in Unix ms.
    pub fn now_ms(&self) -> u64 {
        (self.config.clock)()
    }
}

/// Shared handler state.
pub type Shared = Arc<AppState>;

/// Collects routes and their (method, path) table, so the OpenAPI test can check both.
struct Routes {
    router: Router<Shared>,
    table: Vec<(&'static str, &'static str)>,
}

impl Routes {
    fn add<H, T>(mut self, method: &'static str, path: &'static str, handler: H) -> Routes
    where
        H: Handler<T, Shared>,
        T: 'static,
    {
        let filter = match method {
            "GET" => MethodFilter::GET,
            "POST" => MethodFilter::POST,
            "DELETE" => MethodFilter::DELETE,
            _ => MethodFilter::OPTIONS,
        };
        self.router = self.router.route(path, on(filter, handler));
        self.table.push((method, path));
        self
    }

    /// Adds `OPTIONS` (204 with `Allow` and the binding's discovery headers) to every
    /// path routed so far.
    fn with_options(mut self) -> Routes {
        let mut paths: Vec<&'static str> = Vec::new();
        for (_, path) in &self.table {
            if !paths.contains(path) {
                paths.push(path);
            }
        }
        for path in paths {
            let mut allow: Vec<&str> = self
                .table
                .iter()
                .filter(|(_, p)| *p == path)
                .map(|(m, _)| *m)
                .collect();
            allow.push("OPTIONS");
            let handler = binding::options_handler(allow.join(", "));
            self = self.add("OPTIONS", path, handler);
        }
        self
    }
}

fn routes() -> Routes {
    let routes = Routes {
        router: Router::new(),
        table: Vec::new(),
    }
    .add("GET", "/openapi.json", openapi::get_openapi)
    .add("POST", "/capture", capture::post_capture)
    .add("GET", "/capture", capture::list_captures)
    .add("GET", "/capture/{captureID}", capture::get_capture)
    .add("POST", "/events", capture::post_event)
    .add("GET", "/events", query::get_events)
    .add("GET", "/events/{eventID}", query::get_event)
    .add(
        "GET",
        "/verify/gtin/{gtin}/lot/{lot}/ser/{serial}",
        verify::verify_lms,
    )
    .add("GET", "/01/{gtin}/21/{serial}", verify::verify_dl_serial)
    .add(
        "GET",
        "/01/{gtin}/10/{lot}/21/{serial}",
        verify::verify_dl_lot_serial,
    )
    .add("GET", "/trace/{*epc}", trace::get_trace)
    .add("GET", "/recall/{gtin}/{lot}", trace::get_recall_scope)
    .add(
        "GET",
        "/reconciliation/{gtin}/{lot}",
        trace::get_reconciliation,
    )
    .add("POST", "/recall", trace::post_recall)
    .add("POST", "/release", trace::post_release)
    .add("GET", "/blocks/latest", audit::get_latest_block)
    .add("GET", "/blocks/{height}", audit::get_block)
    .add("GET", "/proof/{txId}", audit::get_proof)
    .add("GET", "/receipts/{txId}", audit::get_receipt)
    .add("GET", "/status", audit::get_status)
    .add("GET", "/metrics", audit::get_metrics)
    .add("POST", "/queries", queries::create_query)
    .add("GET", "/queries", queries::list_queries)
    .add("GET", "/queries/{queryName}", queries::get_query)
    .add("DELETE", "/queries/{queryName}", queries::delete_query)
    .add(
        "GET",
        "/queries/{queryName}/events",
        queries::run_named_query,
    )
    .add(
        "POST",
        "/queries/{queryName}/subscriptions",
        queries::create_subscription,
    )
    .add(
        "GET",
        "/queries/{queryName}/subscriptions",
        queries::list_subscriptions,
    )
    .add(
        "GET",
        "/queries/{queryName}/subscriptions/{subscriptionID}",
        queries::get_subscription,
    )
    .add(
        "DELETE",
        "/queries/{queryName}/subscriptions/{subscriptionID}",
        queries::delete_subscription,
    );
    browse::add_routes(routes).with_options()
}

/// The (method, path) of every route, in axum path syntax.
pub fn route_table() -> Vec<(&'static str, &'static str)> {
    routes().table
}

/// Builds the API router over `ledger`, loading named queries from
/// [`ApiConfig::state_dir`] and starting their subscriptions' delivery tasks (when
/// called inside a tokio runtime).
pub fn router(ledger: Arc<dyn LedgerApi>, config: ApiConfig) -> Router {
    let queries = Arc::new(queries::Registry::open(
        config.state_dir.clone(),
        config.webhook_private_destinations,
    ));
    let state = Arc::new(AppState {
        ledger,
        config,
        jobs: Mutex::new((HashMap::new(), VecDeque::new())),
        requests: Mutex::new(BTreeMap::new()),
        queries,
    });
    queries::Registry::start_all(&state);
    routes()
        .router
        .fallback(fallback)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            count_requests,
        ))
        .layer(axum::middleware::from_fn(binding::check_request))
        // Bodies are read with our own limit (so the 413 is a problem document).
        .layer(DefaultBodyLimit::disable())
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            panic_response,
        ))
        .with_state(state)
}

/// Serves `router` on `listener` until `shutdown` resolves, then drains connections.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

async fn fallback(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!("no route for {method} {}", uri.path())).with("route", false)
}

async fn method_not_allowed(method: Method, uri: axum::http::Uri) -> Response {
    let mut response = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "ImplementationException",
        format!("method {method} is not allowed on {}", uri.path()),
    )
    .into_response();
    *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    response
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("API handler panicked");
    ApiError::internal("internal error").into_response()
}

async fn count_requests(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let response = next.run(request).await;
    let status = response.status().as_u16();
    if let Ok(mut counters) = state.requests.lock() {
        *counters.entry((method, route, status)).or_insert(0) += 1;
    }
    response
}
