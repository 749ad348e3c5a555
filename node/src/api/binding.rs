//! The EPCIS 2.0 REST binding's headers and `OPTIONS` discovery.
//!
//! # Request headers ([`check_request`], on every route)
//! - `GS1-EPCIS-Version`, `GS1-CBV-Version`: must name version 2.0 (`2.0`, `2.0.0`);
//!   `GS1-EPCIS-Min`/`GS1-EPCIS-Max` and `GS1-CBV-Min`/`GS1-CBV-Max` must admit 2.0.0.
//!   Otherwise 406 `NotAcceptableException` naming the header (a malformed version,
//!   i.e. not `^\d+(\.\d+)*$`, too).
//! - `GS1-EPC-Format`: `Always_GS1_Digital_Link` (the default), `Always_EPC_URN`,
//!   `Never_Translates` or `No_Preference`; `GS1-CBV-XML-Format`: `Always_Web_URI`,
//!   `Always_URN`, `Never_Translates` or `No_Preference`. Any other value is a 406.
//! - `GS1-Extensions`: `prefix=namespace` pairs, comma-separated (400
//!   `ValidationException` if malformed). Pedigree stores and returns user extensions
//!   verbatim, so every extension is supported; the validated list is echoed back.
//!
//! # Response headers ([`response_headers`], on every response)
//! `GS1-EPCIS-Version`, `GS1-CBV-Version`, `GS1-EPCIS-Min`/`-Max`, `GS1-CBV-Min`/`-Max`
//! (all `2.0.0`), `GS1-Vendor-Version`, the capture limits, and on query responses the
//! `GS1-EPC-Format` (and for XML `GS1-CBV-XML-Format`) actually applied.
//!
//! # EPC representation ([`Presentation`])
//! On query responses EPCs (`epcList`, `childEPCs`, `parentID`, input/output lists,
//! quantity `epcClass`), `readPoint`/`bizLocation` ids and source/destination values are
//! rewritten: `Always_GS1_Digital_Link` turns EPC URNs into canonical Digital Link URIs;
//! `Always_EPC_URN` turns Digital Link URIs into EPC URNs, using the GS1 Company Prefix
//! registered on the ledger (genesis and governance) to split the key, and leaves an
//! identifier whose prefix is not registered as it was captured; `Never_Translates` and
//! `No_Preference` return identifiers as captured. For XML responses,
//! `GS1-CBV-XML-Format` likewise rewrites standard CBV values (bizStep, disposition,
//! persistent disposition, business transaction, source/destination types, error reason)
//! as Web URIs or URNs.

use super::auth::ReadAuth;
use super::error::ApiError;
use super::util::{Format, negotiate};
use super::{CAPTURE_BODY_MAX, CAPTURE_EVENTS_MAX, Shared};
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use pedigree_epcis::model::{
    BizStep, BizTransactionType, Disposition, EpcisEvent, ErrorReason, SourceDestType,
};

/// The EPCIS and CBV version this server implements.
pub const VERSION: &str = "2.0.0";

/// `GS1-EPC-Format` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EpcFormat {
    /// EPCs as GS1 Digital Link URIs (the binding's default).
    AlwaysDigitalLink,
    /// EPCs as EPC URNs.
    AlwaysEpcUrn,
    /// EPCs as captured.
    NeverTranslates,
    /// The server's choice: as captured.
    NoPreference,
}

impl EpcFormat {
    /// A stored header value (the default if unknown).
    pub fn from_header(value: &str) -> EpcFormat {
        EpcFormat::parse(value).unwrap_or(EpcFormat::AlwaysDigitalLink)
    }

    fn parse(value: &str) -> Option<EpcFormat> {
        Some(match value.trim() {
            "Always_GS1_Digital_Link" => EpcFormat::AlwaysDigitalLink,
            "Always_EPC_URN" => EpcFormat::AlwaysEpcUrn,
            "Never_Translates" => EpcFormat::NeverTranslates,
            "No_Preference" => EpcFormat::NoPreference,
            _ => return None,
        })
    }

    /// The header value.
    pub fn as_str(self) -> &'static str {
        match self {
            EpcFormat::AlwaysDigitalLink => "Always_GS1_Digital_Link",
            EpcFormat::AlwaysEpcUrn => "Always_EPC_URN",
            EpcFormat::NeverTranslates => "Never_Translates",
            EpcFormat::NoPreference => "No_Preference",
        }
    }
}

/// `GS1-CBV-XML-Format` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CbvXmlFormat {
    /// Standard CBV values as `https://ref.gs1.org/cbv/…` Web URIs.
    AlwaysWebUri,
    /// Standard CBV values as `urn:epcglobal:cbv:…` URNs.
    AlwaysUrn,
    /// As captured.
    NeverTranslates,
    /// The server's choice: as captured.
    NoPreference,
}

impl CbvXmlFormat {
    fn parse(value: &str) -> Option<CbvXmlFormat> {
        Some(match value.trim() {
            "Always_Web_URI" => CbvXmlFormat::AlwaysWebUri,
            "Always_URN" => CbvXmlFormat::AlwaysUrn,
            "Never_Translates" => CbvXmlFormat::NeverTranslates,
            "No_Preference" => CbvXmlFormat::NoPreference,
            _ => return None,
        })
    }

    /// The header value.
    pub fn as_str(self) -> &'static str {
        match self {
            CbvXmlFormat::AlwaysWebUri => "Always_Web_URI",
            CbvXmlFormat::AlwaysUrn => "Always_URN",
            CbvXmlFormat::NeverTranslates => "Never_Translates",
            CbvXmlFormat::NoPreference => "No_Preference",
        }
    }
}

fn not_acceptable(name: &str, detail: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        StatusCode::NOT_ACCEPTABLE,
        "NotAcceptableException",
        format!("header `{name}`: {detail}"),
    )
    .with("field", name)
}

fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, ApiError> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(Some)
            .map_err(|_| not_acceptable(name, "not visible ASCII")),
    }
}

/// The `GS1-EPC-Format` requested (default `Always_GS1_Digital_Link`).
pub fn epc_format(headers: &HeaderMap) -> Result<EpcFormat, ApiError> {
    const NAME: &str = "GS1-EPC-Format";
    match header_text(headers, NAME)? {
        None => Ok(EpcFormat::AlwaysDigitalLink),
        Some(v) => EpcFormat::parse(v).ok_or_else(|| {
            not_acceptable(
                NAME,
                format!("`{v}` is not Always_GS1_Digital_Link, Always_EPC_URN, Never_Translates or No_Preference"),
            )
        }),
    }
}

/// The `GS1-CBV-XML-Format` requested (default `No_Preference`).
pub fn cbv_xml_format(headers: &HeaderMap) -> Result<CbvXmlFormat, ApiError> {
    const NAME: &str = "GS1-CBV-XML-Format";
    match header_text(headers, NAME)? {
        None => Ok(CbvXmlFormat::NoPreference),
        Some(v) => CbvXmlFormat::parse(v).ok_or_else(|| {
            not_acceptable(
                NAME,
                format!(
                    "`{v}` is not Always_Web_URI, Always_URN, Never_Translates or No_Preference"
                ),
            )
        }),
    }
}

/// A version string as numbers (`2.0` → `[2, 0, 0]`), `None` if not `^\d+(\.\d+)*$`.
fn version(text: &str) -> Option<Vec<u64>> {
    let mut parts: Vec<u64> = text
        .trim()
        .split('.')
        .map(|p| {
            if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) {
                p.parse().ok()
            } else {
                None
            }
        })
        .collect::<Option<_>>()?;
    while parts.len() < 3 {
        parts.push(0);
    }
    Some(parts)
}

/// Validates the request's binding headers (see the module docs).
pub fn check_headers(headers: &HeaderMap) -> Result<(), ApiError> {
    let ours = version(VERSION).unwrap_or_default();
    for (name, rule) in [
        ("GS1-EPCIS-Version", 0),
        ("GS1-CBV-Version", 0),
        ("GS1-EPCIS-Min", 1),
        ("GS1-CBV-Min", 1),
        ("GS1-EPCIS-Max", 2),
        ("GS1-CBV-Max", 2),
    ] {
        let Some(text) = header_text(headers, name)? else {
            continue;
        };
        let asked = version(text).ok_or_else(|| {
            not_acceptable(name, format!("`{text}` is not a version (e.g. 2.0.0)"))
        })?;
        let ok = match rule {
            0 => asked.get(..2) == ours.get(..2),
            1 => asked <= ours,
            _ => asked >= ours,
        };
        if !ok {
            return Err(not_acceptable(
                name,
                format!("`{text}`: this server implements EPCIS and CBV {VERSION} only"),
            ));
        }
    }
    epc_format(headers)?;
    cbv_xml_format(headers)?;
    if let Some(text) = header_text(headers, "GS1-Extensions")? {
        for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let ok = item.split_once('=').is_some_and(|(prefix, ns)| {
                !prefix.trim().is_empty()
                    && prefix
                        .trim()
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                    && ns.trim().contains(':')
            });
            if !ok {
                return Err(ApiError::validation(format!(
                    "header `GS1-Extensions`: `{item}` is not `prefix=namespaceURI`"
                ))
                .with("field", "GS1-Extensions"));
            }
        }
    }
    Ok(())
}

/// Middleware: refuses requests whose binding headers cannot be honoured, then adds the
/// binding's response headers to whatever the route answers.
pub async fn check_request(request: Request, next: Next) -> Response {
    let extensions = request.headers().get("GS1-Extensions").cloned();
    let mut response = match check_headers(request.headers()) {
        Ok(()) => next.run(request).await,
        Err(error) => error.into_response(),
    };
    response_headers(response.headers_mut());
    if let Some(value) = extensions
        && response.status() != StatusCode::BAD_REQUEST
    {
        response.headers_mut().insert("GS1-Extensions", value);
    }
    response
}

/// The binding's version and limit headers.
pub fn response_headers(headers: &mut HeaderMap) {
    for name in [
        "gs1-epcis-version",
        "gs1-cbv-version",
        "gs1-epcis-min",
        "gs1-epcis-max",
        "gs1-cbv-min",
        "gs1-cbv-max",
    ] {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(VERSION),
        );
    }
    headers.insert(
        "GS1-Vendor-Version",
        HeaderValue::from_static(concat!("pedigree/", env!("CARGO_PKG_VERSION"))),
    );
    headers.insert(
        "GS1-EPCIS-Capture-Limit",
        HeaderValue::from(CAPTURE_EVENTS_MAX as u64),
    );
    headers.insert(
        "GS1-EPCIS-Capture-File-Size-Limit",
        HeaderValue::from(CAPTURE_BODY_MAX as u64),
    );
}

/// A 204 answer to `OPTIONS` with `Allow` and the discovery headers.
pub fn options_response(allow: &str) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(allow) {
        headers.insert(header::ALLOW, value);
    }
    headers.insert(
        "GS1-EPC-Format",
        HeaderValue::from_static(
            "Always_GS1_Digital_Link, Always_EPC_URN, Never_Translates, No_Preference",
        ),
    );
    headers.insert(
        "GS1-CBV-XML-Format",
        HeaderValue::from_static("Always_Web_URI, Always_URN, Never_Translates, No_Preference"),
    );
    response
}

/// The `OPTIONS` handler for a resource whose methods are `allow`.
pub fn options_handler(
    allow: String,
) -> impl Fn(ReadAuth) -> std::future::Ready<Response> + Clone + Send + Sync + 'static {
    move |_: ReadAuth| std::future::ready(options_response(&allow))
}

/// How identifiers and CBV values are written in a query response.
#[derive(Clone, Debug)]
pub struct Presentation {
    /// EPC representation.
    pub epc_format: EpcFormat,
    /// CBV value spelling (applied to XML responses only).
    pub cbv_xml_format: Option<CbvXmlFormat>,
    /// GS1 Company Prefixes registered on the ledger (only read for `Always_EPC_URN`).
    prefixes: Vec<String>,
}

impl Presentation {
    /// From the request headers (and, for `Always_EPC_URN`, the ledger's registered
    /// company prefixes).
    pub fn from_headers(headers: &HeaderMap, state: &Shared) -> Result<Presentation, ApiError> {
        let epc_format = epc_format(headers)?;
        let xml = negotiate(headers)? == Format::Xml;
        let cbv = cbv_xml_format(headers)?;
        let prefixes = if epc_format == EpcFormat::AlwaysEpcUrn {
            company_prefixes(state.ledger.as_ref())
        } else {
            Vec::new()
        };
        Ok(Presentation {
            epc_format,
            cbv_xml_format: xml.then_some(cbv),
            prefixes,
        })
    }

    /// The default presentation (Digital Link EPCs, JSON), used for webhook deliveries
    /// unless the subscription asked otherwise.
    pub fn with(epc_format: EpcFormat, prefixes: Vec<String>) -> Presentation {
        Presentation {
            epc_format,
            cbv_xml_format: None,
            prefixes,
        }
    }

    /// Adds the applied `GS1-EPC-Format` / `GS1-CBV-XML-Format` to response headers.
    pub fn announce(&self, headers: &mut HeaderMap) {
        headers.insert(
            "GS1-EPC-Format",
            HeaderValue::from_static(self.epc_format.as_str()),
        );
        if let Some(cbv) = self.cbv_xml_format {
            headers.insert("GS1-CBV-XML-Format", HeaderValue::from_static(cbv.as_str()));
        }
    }

    /// One identifier in the requested representation.
    pub fn identifier(&self, id: &str) -> String {
        let converted = match self.epc_format {
            EpcFormat::AlwaysDigitalLink => to_digital_link(id),
            EpcFormat::AlwaysEpcUrn => to_epc_urn(id, &self.prefixes),
            EpcFormat::NeverTranslates | EpcFormat::NoPreference => None,
        };
        converted.unwrap_or_else(|| id.to_string())
    }

    /// Rewrites `event`'s identifiers and CBV values.
    pub fn apply(&self, event: &mut EpcisEvent) {
        match self.epc_format {
            EpcFormat::AlwaysDigitalLink => map_ids(event, &to_digital_link),
            EpcFormat::AlwaysEpcUrn => map_ids(event, &|id| to_epc_urn(id, &self.prefixes)),
            EpcFormat::NeverTranslates | EpcFormat::NoPreference => {}
        }
        match self.cbv_xml_format {
            Some(CbvXmlFormat::AlwaysWebUri) => map_cbv(event, true),
            Some(CbvXmlFormat::AlwaysUrn) => map_cbv(event, false),
            _ => {}
        }
    }
}

/// Every GS1 Company Prefix registered on the ledger (`prefix/{gcp}` state keys).
pub fn company_prefixes(ledger: &dyn super::LedgerApi) -> Vec<String> {
    let mut out = Vec::new();
    ledger.with_state(&mut |state| {
        let key = pedigree_chaincode::keys::company_prefix("");
        out = state
            .scan_prefix(&key, 1_000_000)
            .into_iter()
            .filter_map(|(k, _)| String::from_utf8(k.get(key.len()..)?.to_vec()).ok())
            .collect();
    });
    // Longest first, so the most specific registered prefix wins.
    out.sort_by_key(|p| std::cmp::Reverse(p.len()));
    out
}

fn map_ids(event: &mut EpcisEvent, f: &dyn Fn(&str) -> Option<String>) {
    let mut one = |s: &mut String| {
        if let Some(new) = f(s) {
            *s = new;
        }
    };
    for list in [
        &mut event.epc_list,
        &mut event.child_epcs,
        &mut event.input_epc_list,
        &mut event.output_epc_list,
    ]
    .into_iter()
    .flatten()
    {
        list.iter_mut().for_each(&mut one);
    }
    if let Some(parent) = &mut event.parent_id {
        one(parent);
    }
    for list in [
        &mut event.quantity_list,
        &mut event.child_quantity_list,
        &mut event.input_quantity_list,
        &mut event.output_quantity_list,
    ]
    .into_iter()
    .flatten()
    {
        list.iter_mut().for_each(|q| one(&mut q.epc_class));
    }
    for location in [&mut event.read_point, &mut event.biz_location]
        .into_iter()
        .flatten()
    {
        one(&mut location.id);
    }
    for list in [&mut event.source_list, &mut event.destination_list]
        .into_iter()
        .flatten()
    {
        list.iter_mut().for_each(|s| one(&mut s.value));
    }
}

/// An EPC URN (`urn:epc:id:…`, `urn:epc:class:…`) as canonical Digital Link.
pub fn to_digital_link(id: &str) -> Option<String> {
    let id = id.trim();
    if !(id.starts_with("urn:epc:id:") || id.starts_with("urn:epc:class:")) {
        return None;
    }
    let elements = pedigree_gs1::epc::parse_urn(id).ok()?;
    pedigree_gs1::dl::canonical(&elements).ok()
}

/// A Digital Link URI as an EPC URN, if its key's company prefix is in `prefixes`.
pub fn to_epc_urn(id: &str, prefixes: &[String]) -> Option<String> {
    let id = id.trim();
    if !(id.starts_with("https://") || id.starts_with("http://")) {
        return None;
    }
    let link = pedigree_gs1::dl::parse(id, &pedigree_gs1::Options::default()).ok()?;
    let path = link.elements.get(..link.path_count)?;
    let key = path.first()?;
    // Keys that begin with an indicator or extension digit before the company prefix.
    let digits = match key.ai.as_str() {
        "00" | "01" | "02" | "8003" | "8006" => key.value.get(1..)?,
        _ => key.value.as_str(),
    };
    let gcp = prefixes.iter().find(|p| digits.starts_with(p.as_str()))?;
    let gcp_len = gcp.len();
    let has = |ai: &str| path.iter().any(|e| e.ai == ai);
    if key.ai == "01" && !has("21") && has("10") {
        pedigree_gs1::epc::to_class_urn(path, gcp_len).ok()
    } else {
        pedigree_gs1::epc::to_urn(path, gcp_len).ok()
    }
}

fn map_cbv(event: &mut EpcisEvent, web: bool) {
    macro_rules! respell {
        ($value:expr, $ty:ident) => {
            if let Some(new) = if web { $value.web_uri() } else { $value.urn() } {
                *$value = $ty::new(new);
            }
        };
    }
    if let Some(step) = &mut event.biz_step {
        respell!(step, BizStep);
    }
    if let Some(d) = &mut event.disposition {
        respell!(d, Disposition);
    }
    if let Some(p) = &mut event.persistent_disposition {
        for list in [&mut p.set, &mut p.unset].into_iter().flatten() {
            for d in list.iter_mut() {
                respell!(d, Disposition);
            }
        }
    }
    for b in event.biz_transaction_list.iter_mut().flatten() {
        if let Some(t) = &mut b.transaction_type {
            respell!(t, BizTransactionType);
        }
    }
    for list in [&mut event.source_list, &mut event.destination_list]
        .into_iter()
        .flatten()
    {
        for s in list.iter_mut() {
            if let Some(t) = &mut s.source_dest_type {
                respell!(t, SourceDestType);
            }
        }
    }
    if let Some(reason) = event
        .error_declaration
        .as_mut()
        .and_then(|d| d.reason.as_mut())
    {
        respell!(reason, ErrorReason);
    }
}
