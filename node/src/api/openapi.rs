//! `GET /openapi.json`: the OpenAPI 3.0.3 description of every route (hand-written;
//! the test `api_openapi_lists_every_route` keeps it in sync with the router).

use axum::Json;
use serde_json::{Map, Value, json};

fn param(name: &str, location: &str, description: &str) -> Value {
    json!({
        "name": name,
        "in": location,
        "required": location == "path",
        "description": description,
        "schema": {"type": "string"},
    })
}

fn query_list(names: &[(&str, &str)]) -> Vec<Value> {
    names.iter().map(|(n, d)| param(n, "query", d)).collect()
}

fn problem_responses(codes: &[&str]) -> Map<String, Value> {
    let mut out = Map::new();
    for code in codes {
        out.insert(
            code.to_string(),
            json!({
                "description": "RFC 7807 problem (type epcisException:…)",
                "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
            }),
        );
    }
    out
}

fn op(
    summary: &str,
    tag: &str,
    parameters: Vec<Value>,
    ok: (&str, &str, &[&str]),
    errors: &[&str],
    body: Option<Value>,
) -> Value {
    let mut responses = problem_responses(errors);
    let mut content = Map::new();
    for media in ok.2 {
        content.insert(media.to_string(), json!({"schema": {"type": "object"}}));
    }
    responses.insert(
        ok.0.to_string(),
        json!({"description": ok.1, "content": Value::Object(content)}),
    );
    let mut operation = json!({
        "summary": summary,
        "tags": [tag],
        "parameters": parameters,
        "responses": responses,
    });
    if let Some(body) = body {
        operation["requestBody"] = body;
    }
    operation
}

fn body(media: &[&str]) -> Value {
    let mut content = Map::new();
    for m in media {
        content.insert(m.to_string(), json!({"schema": {"type": "object"}}));
    }
    json!({"required": true, "content": content})
}

const JSON: &[&str] = &["application/json"];
const EPCIS_OUT: &[&str] = &["application/json", "application/ld+json", "application/xml"];
const EPCIS_IN: &[&str] = &[
    "application/json",
    "application/ld+json",
    "application/xml",
    "text/xml",
];

/// The OpenAPI document.
pub fn document() -> Value {
    let event_filters = query_list(&[
        ("eventType", "Pipe-delimited event types"),
        ("GE_eventTime", "eventTime >= (xsd:dateTime)"),
        ("LT_eventTime", "eventTime < (xsd:dateTime)"),
        ("GE_recordTime", "recordTime >="),
        ("LT_recordTime", "recordTime <"),
        ("EQ_action", "ADD|OBSERVE|DELETE"),
        ("EQ_bizStep", "CBV bare words, URNs or Web URIs"),
        ("EQ_disposition", "CBV bare words, URNs or Web URIs"),
        ("EQ_readPoint", "SGLN URN or Digital Link"),
        ("EQ_bizLocation", "SGLN URN or Digital Link"),
        ("MATCH_epc", "epcList/childEPCs (EPC URN or Digital Link)"),
        ("MATCH_parentID", "parentID"),
        ("MATCH_inputEPC", "inputEPCList"),
        ("MATCH_outputEPC", "outputEPCList"),
        ("MATCH_anyEPC", "any EPC field"),
        ("MATCH_epcClass", "quantity list epcClass"),
        ("EQ_eventID", "eventID or event hash ID"),
        ("orderBy", "eventTime or recordTime"),
        ("orderDirection", "ASC or DESC (default DESC)"),
        ("eventCountLimit", "At most this many events in total"),
        (
            "maxEventCount",
            "413 QueryTooLargeException if more events match",
        ),
        ("perPage", "Page size (default 30, max 1000)"),
        ("nextPageToken", "From the Link rel=next header"),
    ]);
    let verify_query = query_list(&[
        ("reqGLN", "Requestor GLN"),
        ("corrUUID", "Correlation UUID, echoed"),
        ("linkType", "Ignored"),
        ("context", "Ignored"),
    ]);
    let mut lms_query = verify_query.clone();
    lms_query.push(param("exp", "query", "Expiry YYMMDD"));
    let mut dl1_query = verify_query.clone();
    dl1_query.push(param("10", "query", "Lot"));
    dl1_query.push(param("17", "query", "Expiry YYMMDD"));
    let mut dl2_query = verify_query;
    dl2_query.push(param("17", "query", "Expiry YYMMDD"));
    let with = |mut list: Vec<Value>, path: &[(&str, &str)]| {
        for (n, d) in path {
            list.insert(0, param(n, "path", d));
        }
        list
    };
    let read = ["400", "401", "404", "406"];
    let write = ["400", "401", "403", "413", "415", "503", "504"];
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Pedigree node API",
            "version": "0.1.0",
            "description": "EPCIS 2.0 capture/query (GS1 REST binding subset), DSCSA LMS verification, traceability and audit. All routes except /openapi.json require `Authorization: Bearer <token>`; writes require a write/admin token of the node's org and a non-read-only node."
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Problem": {
                "type": "object",
                "required": ["type", "title"],
                "properties": {
                    "type": {"type": "string", "example": "epcisException:QueryParameterException"},
                    "title": {"type": "string"},
                    "status": {"type": "integer"},
                    "detail": {"type": "string"},
                    "field": {"type": "string"},
                    "parameter": {"type": "string"},
                    "line": {"type": "integer"},
                    "column": {"type": "integer"},
                    "errors": {"type": "array", "items": {"type": "object"}}
                }
            }}
        },
        "security": [{"bearer": []}],
        "paths": {
            "/openapi.json": {"get": {
                "summary": "This document", "tags": ["meta"], "security": [],
                "responses": {"200": {"description": "OpenAPI 3.0.3", "content": {"application/json": {"schema": {"type": "object"}}}}}
            }},
            "/capture": {
                "post": op("Capture an EPCISDocument (JSON-LD or XML; each event signed by the node's org) or client-signed transactions (application/vnd.pedigree.signed-txs+json: JSON array of hex bincode SignedTx)", "capture",
                    vec![param("GS1-Capture-Error-Behaviour", "header", "rollback (default) or proceed")],
                    ("202", "Capture job created; Location: /capture/{captureID}", JSON), &write,
                    Some(body(&["application/json", "application/ld+json", "application/xml", "text/xml", "application/vnd.pedigree.signed-txs+json"]))),
                "get": op("Recent capture jobs", "capture", vec![], ("200", "Capture jobs", JSON), &["401"], None)
            },
            "/capture/{captureID}": {"get": op("Capture job status with per-event receipts and errors", "capture",
                with(vec![], &[("captureID", "Capture job id")]), ("200", "Capture job", JSON), &read, None)},
            "/events": {
                "post": op("Capture one event synchronously", "capture", vec![],
                    ("201", "Created; Location: /events/{eventHashID}", JSON), &["400", "401", "403", "409", "413", "415", "503", "504"], Some(body(EPCIS_IN))),
                "get": op("Query events (EPCISQueryDocument); Link rel=next for more pages", "query", event_filters,
                    ("200", "EPCISQueryDocument", EPCIS_OUT), &["400", "401", "406", "413"], None)
            },
            "/events/{eventID}": {"get": op("One event by eventID or hash ID (URL-encoded)", "query",
                with(vec![], &[("eventID", "eventID or ni:///sha-256;… hash ID")]), ("200", "EPCISQueryDocument", EPCIS_OUT), &read, None)},
            "/verify/gtin/{gtin}/lot/{lot}/ser/{serial}": {"get": op("DSCSA LMS verification", "verify",
                with(lms_query, &[("serial", "Serial"), ("lot", "Lot"), ("gtin", "GTIN-14")]), ("200", "LMS response plus status and custodian", JSON), &["400", "401"], None)},
            "/01/{gtin}/21/{serial}": {"get": op("Verification at a GS1 Digital Link URI", "verify",
                with(dl1_query, &[("serial", "Serial (AI 21)"), ("gtin", "GTIN (AI 01)")]), ("200", "LMS response", JSON), &["400", "401"], None)},
            "/01/{gtin}/10/{lot}/21/{serial}": {"get": op("Verification at a GS1 Digital Link URI with lot", "verify",
                with(dl2_query, &[("serial", "Serial (AI 21)"), ("lot", "Lot (AI 10)"), ("gtin", "GTIN (AI 01)")]), ("200", "LMS response", JSON), &["400", "401"], None)},
            "/trace/{epc}": {"get": op("Object trace: record, status, containers, history", "trace",
                with(vec![], &[("epc", "EPC URN, Digital Link or element string (may contain slashes)")]), ("200", "Trace", JSON), &read, None)},
            "/recall/{gtin}/{lot}": {"get": op("Recall scope of a lot by custodian and status", "trace",
                with(vec![], &[("lot", "Lot"), ("gtin", "GTIN")]), ("200", "Recall scope", JSON), &read, None)},
            "/reconciliation/{gtin}/{lot}": {"get": op("Lot reconciliation counters", "trace",
                with(vec![], &[("lot", "Lot"), ("gtin", "GTIN")]), ("200", "Reconciliation", JSON), &read, None)},
            "/recall": {"post": op("Recall a lot ({gtin, lot, reason}); signed by the node's org", "trace", vec![],
                ("200", "Receipt", JSON), &write, Some(body(JSON)))},
            "/release": {"post": op("Release a recalled lot ({gtin, lot}); signed by the node's org", "trace", vec![],
                ("200", "Receipt", JSON), &write, Some(body(JSON)))},
            "/blocks/latest": {"get": op("Latest block", "audit", vec![], ("200", "Block", JSON), &read, None)},
            "/blocks/{height}": {"get": op("Block at a height", "audit",
                with(vec![], &[("height", "Block height (first block is 1)")]), ("200", "Block", JSON), &read, None)},
            "/proof/{txId}": {"get": op("Merkle inclusion proof of a transaction", "audit",
                with(vec![], &[("txId", "64 hex digits")]), ("200", "Proof", JSON), &read, None)},
            "/receipts/{txId}": {"get": op("Receipt of a transaction", "audit",
                with(vec![], &[("txId", "64 hex digits")]), ("200", "Receipt", JSON), &read, None)},
            "/status": {"get": op("Node and consensus status", "audit", vec![], ("200", "Status", JSON), &["401"], None)},
            "/metrics": {"get": op("Prometheus metrics", "audit", vec![], ("200", "Prometheus text", &["text/plain"]), &["401"], None)}
        }
    })
}

/// `GET /openapi.json` (public).
pub async fn get_openapi() -> Json<Value> {
    Json(document())
}
