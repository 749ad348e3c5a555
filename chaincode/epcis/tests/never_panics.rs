//! Property tests: the parsers return `Ok` or `Err` on arbitrary input, never panic.

use proptest::prelude::*;

/// Fragments that steer random input towards interesting parser states.
fn json_like() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("{".to_string()),
        Just("}".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just(",".to_string()),
        Just(":".to_string()),
        Just("\"type\"".to_string()),
        Just("\"EPCISDocument\"".to_string()),
        Just("\"ObjectEvent\"".to_string()),
        Just("\"epcisBody\"".to_string()),
        Just("\"eventList\"".to_string()),
        Just("\"@context\"".to_string()),
        Just("\"quantityList\"".to_string()),
        Just("\"quantity\"".to_string()),
        Just("\"ex:a\"".to_string()),
        Just("\"\\ud800\"".to_string()),
        Just("-1.5e999".to_string()),
        Just("null".to_string()),
        "\\PC{0,8}".prop_map(|s| s),
    ];
    prop::collection::vec(token, 0..64).prop_map(|v| v.concat())
}

fn xml_like() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("<epcis:EPCISDocument xmlns:epcis=\"urn:epcglobal:epcis:xsd:2\">".to_string()),
        Just("</epcis:EPCISDocument>".to_string()),
        Just("<EPCISBody>".to_string()),
        Just("</EPCISBody>".to_string()),
        Just("<EventList>".to_string()),
        Just("</EventList>".to_string()),
        Just("<ObjectEvent>".to_string()),
        Just("</ObjectEvent>".to_string()),
        Just("<extension>".to_string()),
        Just("</extension>".to_string()),
        Just("<quantity xsi:nil=\"true\"/>".to_string()),
        Just("<ex:a xmlns:ex=\"urn:x\" ex:b=\"&amp;\">".to_string()),
        Just("</ex:a>".to_string()),
        Just("&#0;&unknown;&#x1F600;".to_string()),
        Just("<![CDATA[x]]>".to_string()),
        Just("<sensorReport value=\"1e5\" booleanValue=\"maybe\"/>".to_string()),
        "\\PC{0,8}".prop_map(|s| s),
    ];
    prop::collection::vec(token, 0..64).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn json_parser_never_panics(text in json_like()) {
        if let Ok(doc) = pedigree_epcis::json::parse_document(&text) {
            let _ = pedigree_epcis::validate::validate(&doc);
            let _ = pedigree_epcis::json::write_document(&doc);
            let _ = pedigree_epcis::xml::write_document(&doc);
        }
    }

    #[test]
    fn json_parser_never_panics_on_any_string(text in "\\PC{0,200}") {
        let _ = pedigree_epcis::json::parse_document(&text);
    }

    #[test]
    fn xml_parser_never_panics(text in xml_like()) {
        if let Ok(doc) = pedigree_epcis::xml::parse_document(&text) {
            let _ = pedigree_epcis::validate::validate(&doc);
            let _ = pedigree_epcis::xml::write_document(&doc);
            let _ = pedigree_epcis::json::write_document(&doc);
        }
    }

    #[test]
    fn xml_parser_never_panics_on_any_string(text in "\\PC{0,200}") {
        let _ = pedigree_epcis::xml::parse_document(&text);
    }

    #[test]
    fn time_and_decimal_never_panic(text in "\\PC{0,40}") {
        let _ = pedigree_epcis::EpcisTime::new(text.clone()).parse().map(|p| p.to_utc_string());
        let _ = pedigree_epcis::Decimal::parse(&text).map(|d| d.normalized());
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let json = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(pedigree_epcis::json::parse_document(&json).is_err());
    let xml = format!("{}{}", "<a>".repeat(100_000), "</a>".repeat(100_000));
    assert!(pedigree_epcis::xml::parse_document(&xml).is_err());
}
