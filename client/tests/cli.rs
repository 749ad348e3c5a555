//! End-to-end tests of the `pedigree` binary: exit statuses, JSON output, error messages.

use std::io::Write;
use std::process::{Command, Output};

fn pedigree(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pedigree"))
        .args(args)
        .output()
        .expect("run pedigree")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A pharma commissioning document (the worked example of standards.md §5.3).
const COMMISSIONING: &str = r#"{
  "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
               {"cbvmda": "urn:epcglobal:cbv:mda:"}],
  "type": "EPCISDocument",
  "schemaVersion": "2.0",
  "creationDate": "2024-03-01T09:31:00+01:00",
  "epcisBody": {
    "eventList": [
      {
        "type": "ObjectEvent",
        "eventTime": "2024-03-01T09:30:00.123+01:00",
        "eventTimeZoneOffset": "+01:00",
        "epcList": ["urn:epc:id:sgtin:0614141.107346.SN002", "urn:epc:id:sgtin:0614141.107346.SN001"],
        "action": "ADD",
        "bizStep": "commissioning",
        "disposition": "active",
        "readPoint": {"id": "urn:epc:id:sgln:0614141.00777.0"},
        "bizLocation": {"id": "urn:epc:id:sgln:0614141.00888.0"},
        "ilmd": {"cbvmda:lotNumber": "LOT123", "cbvmda:itemExpirationDate": "2026-12-31"}
      }
    ]
  }
}"#;

fn temp_file(text: &str, suffix: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::Builder::new()
        .suffix(suffix)
        .tempfile()
        .expect("temp file");
    file.write_all(text.as_bytes()).expect("write temp file");
    file
}

#[test]
fn gs1_parse_prints_the_pharma_fields() {
    let out = pedigree(&[
        "gs1",
        "parse",
        "(01)10614141073464(17)261200(10)LOT123(21)SN001",
        "--gcp-len",
        "7",
        "--reference-year",
        "2025",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON output");
    assert_eq!(json["gtin14"], "10614141073464");
    assert_eq!(json["serial"], "SN001");
    assert_eq!(json["lot"], "LOT123");
    // DD = 00 means the last day of the month.
    assert_eq!(json["expiry"], "2026-12-31");
    assert_eq!(json["sgtin_urn"], "urn:epc:id:sgtin:0614141.107346.SN001");
    assert_eq!(
        json["canonical_digital_link"],
        "https://id.gs1.org/01/10614141073464/10/LOT123/21/SN001?17=261200"
    );
    assert_eq!(json["ais"][1]["ai"], "17");
}

#[test]
fn gs1_parse_reads_scan_data_and_digital_link_alike() {
    let scan = pedigree(&[
        "gs1",
        "parse",
        "]d2011061414107346417261231\\x1D10LOT123\\x1D21SN001",
    ]);
    let link = pedigree(&[
        "gs1",
        "parse",
        "https://example.com/01/10614141073464/10/LOT123/21/SN001?17=261231",
    ]);
    assert!(scan.status.success(), "{}", stderr(&scan));
    assert!(link.status.success(), "{}", stderr(&link));
    let scan: serde_json::Value = serde_json::from_str(&stdout(&scan)).unwrap();
    let link: serde_json::Value = serde_json::from_str(&stdout(&link)).unwrap();
    for field in [
        "gtin14",
        "serial",
        "lot",
        "expiry",
        "canonical_digital_link",
    ] {
        assert_eq!(scan[field], link[field], "{field}");
    }
    assert_eq!(scan["symbology"], "]d2");
}

#[test]
fn gs1_parse_rejects_bad_check_digit_with_status_2() {
    let out = pedigree(&["gs1", "parse", "(01)10614141073465(21)SN001"]);
    assert_eq!(out.status.code(), Some(2));
    let message = stderr(&out);
    assert!(message.contains("AI (01)"), "{message}");
    assert!(message.contains("check digit"), "{message}");
    assert!(message.contains("position"), "{message}");
}

#[test]
fn gs1_parse_rejects_bad_date_naming_the_rule() {
    let out = pedigree(&["gs1", "parse", "(01)10614141073464(17)261331"]);
    assert_eq!(out.status.code(), Some(2));
    let message = stderr(&out);
    assert!(
        message.contains("AI (17)") && message.contains("month 13"),
        "{message}"
    );
}

#[test]
fn epcis_validate_hash_and_convert() {
    let file = temp_file(COMMISSIONING, ".jsonld");
    let path = file.path().to_str().unwrap();

    let out = pedigree(&["epcis", "validate", path]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("valid (1 events)"));

    // The hash of the worked pharma example in standards.md §5.3.
    let out = pedigree(&["epcis", "hash", path]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).trim(),
        "ni:///sha-256;b03e5e1ef5dcd81ba4ac5d45d8f53f81ce55ce9e9982c80822e9cf86ad2604fe?ver=CBV2.0"
    );

    // JSON-LD → XML → hash gives the same event hash.
    let out = pedigree(&["epcis", "convert", "--to", "xml", path]);
    assert!(out.status.success(), "{}", stderr(&out));
    let xml = stdout(&out);
    assert!(xml.contains("urn:epcglobal:epcis:xsd:2"), "{xml}");
    let xml_file = temp_file(&xml, ".xml");
    let out = pedigree(&["epcis", "hash", xml_file.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("b03e5e1ef5dcd81ba4ac5d45d8f53f81ce55ce9e9982c80822e9cf86ad2604fe")
    );

    // And back to JSON-LD.
    let out = pedigree(&[
        "epcis",
        "convert",
        "--to",
        "jsonld",
        xml_file.path().to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let back: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON-LD output");
    assert_eq!(
        back["epcisBody"]["eventList"][0]["bizStep"],
        "commissioning"
    );
}

#[test]
fn epcis_validate_lists_every_problem_with_index_and_field() {
    let broken = COMMISSIONING.replace("\"action\": \"ADD\",", "").replace(
        "\"eventTimeZoneOffset\": \"+01:00\",",
        "\"eventTimeZoneOffset\": \"+25:00\",",
    );
    let file = temp_file(&broken, ".jsonld");
    let out = pedigree(&["epcis", "validate", file.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let report = stderr(&out);
    assert!(report.contains("eventList[0].action"), "{report}");
    assert!(
        report.contains("eventList[0].eventTimeZoneOffset"),
        "{report}"
    );
    assert!(report.contains("line"), "{report}");
}

#[test]
fn epcis_syntax_error_names_line_and_column() {
    let file = temp_file("{\n  \"type\": \"EPCISDocument\",\n  oops\n}", ".jsonld");
    let out = pedigree(&["epcis", "validate", file.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let message = stderr(&out);
    assert!(message.contains("line 3"), "{message}");
}

#[test]
fn missing_file_is_an_io_error_with_status_1() {
    let out = pedigree(&["epcis", "hash", "/nonexistent/pedigree-test.jsonld"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("/nonexistent/pedigree-test.jsonld"));
}
