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
    with_options(paths_document())
}

fn paths_document() -> Value {
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
        (
            "EQ_persistentDisposition_set",
            "persistentDisposition.set contains one of (CBV)",
        ),
        (
            "EQ_persistentDisposition_unset",
            "persistentDisposition.unset contains one of (CBV)",
        ),
        (
            "WD_readPoint",
            "readPoint is this location or a sub-location (same GLN with an AI 254 extension)",
        ),
        (
            "WD_bizLocation",
            "bizLocation is this location or a sub-location",
        ),
        ("EQ_transformationID", "transformationID"),
        ("MATCH_inputEPCClass", "inputQuantityList epcClass"),
        ("MATCH_outputEPCClass", "outputQuantityList epcClass"),
        ("MATCH_anyEPCClass", "any quantity list epcClass"),
        (
            "EQ_quantity",
            "a quantity element has this quantity (also GT_, GE_, LT_, LE_; _{UOM} suffix filters the unit, e.g. GE_quantity_KGM)",
        ),
        ("GT_quantity", "quantity >"),
        ("GE_quantity", "quantity >="),
        ("LT_quantity", "quantity <"),
        ("LE_quantity", "quantity <="),
        (
            "EQ_bizTransaction_{type}",
            "a business transaction of this type (CBV bare word or URI) has one of these ids",
        ),
        (
            "EQ_source_{type}",
            "a source of this type has one of these values (GLN URNs and Digital Link compare equal)",
        ),
        (
            "EQ_destination_{type}",
            "a destination of this type has one of these values",
        ),
        (
            "EXISTS_errorDeclaration",
            "the event is an error declaration (value true, or empty)",
        ),
        (
            "GE_errorDeclarationTime",
            "errorDeclaration.declarationTime >= (also GE_errorDeclaration_Time)",
        ),
        (
            "LT_errorDeclarationTime",
            "errorDeclaration.declarationTime < (also LT_errorDeclaration_Time)",
        ),
        ("EQ_errorReason", "errorDeclaration.reason (CBV)"),
        (
            "EQ_correctiveEventID",
            "errorDeclaration.correctiveEventIDs contains one of",
        ),
        ("EXISTS_sensorElementList", "the event has sensor elements"),
        (
            "EQ_type",
            "a sensor report of this type (gs1:Temperature, Temperature or the Web URI)",
        ),
        ("EQ_deviceID", "sensor report or metadata deviceID"),
        (
            "EQ_dataProcessingMethod",
            "sensor report or metadata dataProcessingMethod",
        ),
        ("EQ_microorganism", "sensor report microorganism"),
        ("EQ_chemicalSubstance", "sensor report chemicalSubstance"),
        ("EQ_bizRules", "sensor report or metadata bizRules"),
        ("EQ_stringValue", "sensor report stringValue"),
        ("EQ_booleanValue", "sensor report booleanValue (true|false)"),
        ("EQ_hexBinaryValue", "sensor report hexBinaryValue"),
        ("EQ_uriValue", "sensor report uriValue"),
        (
            "GE_time",
            "sensor report or metadata time >= (also LT_time)",
        ),
        (
            "GE_startTime",
            "sensor metadata startTime >= (also LT_startTime)",
        ),
        ("GE_endTime", "sensor metadata endTime >= (also LT_endTime)"),
        (
            "GE_value",
            "a sensor report value >= (EQ_, GT_, GE_, LT_, LE_; optional _{UOM} suffix)",
        ),
        (
            "GE_minValue",
            "sensor report minValue >= (GT_, GE_, LT_, LE_; also maxValue, meanValue, sDev, percValue; optional _{UOM})",
        ),
        (
            "GE_percRank",
            "sensor report percRank >= (GT_, GE_, LT_, LE_)",
        ),
        (
            "EQ_ILMD_{prefix:name}",
            "ILMD field equals one of (EQ_, GT_, GE_, LT_, LE_, EXISTS_; e.g. EQ_ILMD_cbvmda:lotNumber)",
        ),
        (
            "EQ_{prefix:name}",
            "event-level extension field (EQ_, GT_, GE_, LT_, LE_, EXISTS_)",
        ),
        (
            "EQ_INNER_{prefix:name}",
            "element nested in an extension element, at any depth (EQ_, GT_, GE_, LT_, LE_, EXISTS_; INNER_ILMD_ for ILMD)",
        ),
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
    let mut event_filters = event_filters;
    event_filters.extend(binding_headers());
    let browse_list = |what: &str| {
        op(
            &format!(
                "Distinct {what} in the stored events (Collection); perPage, nextPageToken, Link rel=next"
            ),
            "browse",
            {
                let mut p = query_list(&[
                    ("perPage", "Page size (default 30, max 1000)"),
                    ("nextPageToken", "From the Link rel=next header"),
                ]);
                p.extend(binding_headers());
                p
            },
            ("200", "Collection", JSON),
            &["400", "401", "406", "413"],
            None,
        )
    };
    let browse_item = |name: &str, what: &str| {
        op(
            &format!("Sub-resources of one {what} (Collection with member `events`)"),
            "browse",
            with(vec![], &[(name, what)]),
            ("200", "ResourceCollection", JSON),
            &["401", "404", "406"],
            None,
        )
    };
    let browse_events = |name: &str, what: &str| {
        op(
            &format!("Events with this {what}; every GET /events parameter applies as well"),
            "browse",
            with(event_filters.clone(), &[(name, what)]),
            ("200", "EPCISQueryDocument", EPCIS_OUT),
            &["400", "401", "404", "406", "413"],
            None,
        )
    };
    let query_name = [("queryName", "Named query")];
    let read = ["400", "401", "404", "406"];
    let write = ["400", "401", "403", "413", "415", "503", "504"];
    let browse_paths = json!({
            "/eventTypes": {"get": browse_list("event types (the five standard types)")},
            "/eventTypes/{eventType}": {"get": browse_item("eventType", "event type")},
            "/eventTypes/{eventType}/events": {"get": browse_events("eventType", "event type")},
            "/epcs": {"get": browse_list("EPCs (canonical Digital Link, or EPC URNs under GS1-EPC-Format: Always_EPC_URN)")},
            "/epcs/{epc}": {"get": browse_item("epc", "EPC (URN or URL-encoded Digital Link)")},
            "/epcs/{epc}/events": {"get": browse_events("epc", "EPC (any EPC field, as MATCH_anyEPC)")},
            "/bizSteps": {"get": browse_list("business steps")},
            "/bizSteps/{bizStep}": {"get": browse_item("bizStep", "business step")},
            "/bizSteps/{bizStep}/events": {"get": browse_events("bizStep", "business step")},
            "/bizLocations": {"get": browse_list("business locations")},
            "/bizLocations/{bizLocation}": {"get": browse_item("bizLocation", "business location")},
            "/bizLocations/{bizLocation}/events": {"get": browse_events("bizLocation", "business location")},
            "/readPoints": {"get": browse_list("read points")},
            "/readPoints/{readPoint}": {"get": browse_item("readPoint", "read point")},
            "/readPoints/{readPoint}/events": {"get": browse_events("readPoint", "read point")},
            "/dispositions": {"get": browse_list("dispositions")},
            "/dispositions/{disposition}": {"get": browse_item("disposition", "disposition")},
            "/dispositions/{disposition}/events": {"get": browse_events("disposition", "disposition")},
            "/queries": {
                "post": op("Create a named query: {name, query: {GET /events parameter: value or array}} (write/admin token of any org; node-local)", "queries", vec![],
                    ("201", "Named query; Location: /queries/{queryName}", JSON), &["400", "401", "403", "409", "415"], Some(body(JSON))),
                "get": op("Named queries on this node", "queries", vec![], ("200", "Array of {name, query, createdAt}", JSON), &["401"], None)
            },
            "/queries/{queryName}": {
                "get": op("A named query", "queries", with(vec![], &query_name), ("200", "{name, query, createdAt}", JSON), &["401", "404"], None),
                "delete": op("Delete a named query and its subscriptions", "queries", with(vec![], &query_name), ("204", "Deleted", &[]), &["401", "403", "404"], None)
            },
            "/queries/{queryName}/events": {"get": op("Run a named query (perPage, nextPageToken); with Upgrade: websocket (stream=true, initialRecordTime?) 101 and a stream of EPCISQueryDocument text messages, one per applied block with new matches", "queries",
                with({
                    let mut p = query_list(&[("perPage", "Page size"), ("nextPageToken", "From Link rel=next")]);
                    p.extend(binding_headers());
                    p
                }, &query_name), ("200", "EPCISQueryDocument (queryName = the name); 101 Switching Protocols for a WebSocket subscription", EPCIS_OUT), &["400", "401", "404", "406", "413"], None)},
            "/queries/{queryName}/subscriptions": {
                "post": op("Webhook subscription: {dest, stream: true, signatureToken?, initialRecordTime?, epcFormat?}; new matching events are POSTed to dest as EPCISQueryDocuments when blocks commit (GS1-Signature: sha256=<HMAC-SHA256 hex> with signatureToken)", "subscriptions",
                    with(vec![], &query_name), ("201", "Subscription; Location: /queries/{queryName}/subscriptions/{subscriptionID}", JSON), &["400", "401", "403", "404", "415"], Some(body(JSON))),
                "get": op("Subscriptions of a named query", "subscriptions", with(vec![], &query_name), ("200", "Array of subscriptions", JSON), &["401", "404"], None)
            },
            "/queries/{queryName}/subscriptions/{subscriptionID}": {
                "get": op("A subscription, with its delivery state (lastNotifiedAt, lastError, deliveries)", "subscriptions",
                    with(vec![], &[("subscriptionID", "Subscription id"), ("queryName", "Named query")]), ("200", "Subscription", JSON), &["401", "404"], None),
                "delete": op("Unsubscribe", "subscriptions",
                    with(vec![], &[("subscriptionID", "Subscription id"), ("queryName", "Named query")]), ("204", "Deleted", &[]), &["401", "403", "404"], None)
            }
    });
    let mut document = json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Pedigree node API",
            "version": "0.1.0",
            "description": "EPCIS 2.0 capture/query (GS1 REST binding: events, browse resources, named queries, webhook and WebSocket subscriptions, OPTIONS discovery, GS1-* headers), DSCSA LMS verification, traceability and audit. All routes except /openapi.json require `Authorization: Bearer <token>`; ledger writes require a write/admin token of the node's org (client-signed transactions: of their signing org) and a non-read-only node; see docs/api.md."
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
                    vec![param("GS1-Capture-Error-Behaviour", "header", "rollback (default) or proceed"),
                         param("Prefer", "header", "wait=N (RFC 7240): wait up to N seconds (max 60) and answer 200 with the finished job")],
                    ("202", "Capture job created; Location: /capture/{captureID} (200 with the finished job under Prefer: wait=N)", JSON), &write,
                    Some(body(&["application/json", "application/ld+json", "application/xml", "text/xml", "application/vnd.pedigree.signed-txs+json"]))),
                "get": op("Recent capture jobs", "capture", vec![], ("200", "Capture jobs", JSON), &["401"], None)
            },
            "/capture/{captureID}": {"get": op("Capture job status with per-event receipts and errors", "capture",
                with(vec![], &[("captureID", "Capture job id")]), ("200", "Capture job", JSON), &read, None)},
            "/events": {
                "post": op("Capture one event synchronously", "capture", vec![],
                    ("201", "Created; Location: /events/{eventHashID}", JSON), &["400", "401", "403", "409", "413", "415", "503", "504"], Some(body(EPCIS_IN))),
                "get": op("Query events (EPCISQueryDocument); Link rel=next for more pages", "query", event_filters.clone(),
                    ("200", "EPCISQueryDocument", EPCIS_OUT), &["400", "401", "406", "413"], None)
            },
            "/events/{eventID}": {"get": op("One event by eventID or hash ID (URL-encoded)", "query",
                with(binding_headers(), &[("eventID", "eventID or ni:///sha-256;… hash ID")]), ("200", "EPCISQueryDocument", EPCIS_OUT), &read, None)},
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
    });
    if let (Some(paths), Some(extra)) =
        (document["paths"].as_object_mut(), browse_paths.as_object())
    {
        for (k, v) in extra {
            paths.insert(k.clone(), v.clone());
        }
    }
    document
}

/// The binding's request headers (see [`super::binding`]).
fn binding_headers() -> Vec<Value> {
    [
        (
            "GS1-EPCIS-Version",
            "EPCIS version asked for; only 2.0 (406 otherwise)",
        ),
        (
            "GS1-CBV-Version",
            "CBV version asked for; only 2.0 (406 otherwise)",
        ),
        (
            "GS1-EPCIS-Min",
            "Lowest acceptable EPCIS version (406 if above 2.0.0)",
        ),
        (
            "GS1-EPCIS-Max",
            "Highest acceptable EPCIS version (406 if below 2.0.0)",
        ),
        ("GS1-CBV-Min", "Lowest acceptable CBV version"),
        ("GS1-CBV-Max", "Highest acceptable CBV version"),
        (
            "GS1-EPC-Format",
            "Always_GS1_Digital_Link (default), Always_EPC_URN, Never_Translates, No_Preference",
        ),
        (
            "GS1-CBV-XML-Format",
            "XML responses: Always_Web_URI, Always_URN, Never_Translates, No_Preference",
        ),
        (
            "GS1-Extensions",
            "prefix=namespace pairs, comma-separated; echoed back",
        ),
    ]
    .iter()
    .map(|(n, d)| param(n, "header", d))
    .collect()
}

/// Adds an `OPTIONS` operation (204 discovery) to every path.
fn with_options(mut document: Value) -> Value {
    if let Some(paths) = document["paths"].as_object_mut() {
        for (path, item) in paths.iter_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            let mut allow: Vec<String> = item.keys().map(|m| m.to_uppercase()).collect();
            allow.push("OPTIONS".into());
            item.insert(
                "options".into(),
                json!({
                    "summary": format!("Discovery for {path}: Allow and the GS1 version, format and extension headers"),
                    "tags": ["discovery"],
                    "responses": {
                        "204": {"description": format!("Allow: {}; GS1-EPCIS-Version/-Min/-Max, GS1-CBV-Version/-Min/-Max, GS1-EPC-Format, GS1-CBV-XML-Format, GS1-Vendor-Version", allow.join(", "))},
                        "401": {"description": "RFC 7807 problem", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}},
                        "406": {"description": "RFC 7807 problem", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
                    }
                }),
            );
        }
    }
    document
}

/// `GET /openapi.json` (public).
pub async fn get_openapi() -> Json<Value> {
    Json(document())
}
