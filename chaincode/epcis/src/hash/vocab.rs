//! CBV vocabulary spellings for the event hash: URN → Web URI, bare word →
//! Web URI, and expansion of the predefined `gs1:` / `cbv:` CURIE prefixes.

use std::borrow::Cow;

/// CBV 2.0 Web URI base (`https://ref.gs1.org/cbv/`).
pub const CBV_WEB_BASE: &str = "https://ref.gs1.org/cbv/";
/// GS1 Web Vocabulary base as emitted by the reference generator
/// (`https://gs1.org/voc/`, not `https://ref.gs1.org/voc/`).
pub const GS1_VOC_BASE: &str = "https://gs1.org/voc/";

const URN_TO_WEB: [(&str, &str); 5] = [
    (
        "urn:epcglobal:cbv:bizstep:",
        "https://ref.gs1.org/cbv/BizStep-",
    ),
    ("urn:epcglobal:cbv:disp:", "https://ref.gs1.org/cbv/Disp-"),
    ("urn:epcglobal:cbv:btt:", "https://ref.gs1.org/cbv/BTT-"),
    ("urn:epcglobal:cbv:sdt:", "https://ref.gs1.org/cbv/SDT-"),
    ("urn:epcglobal:cbv:er:", "https://ref.gs1.org/cbv/ER-"),
];

/// Replaces the CBV URN prefixes `urn:epcglobal:cbv:{bizstep,disp,btt,sdt,er}:`
/// by their Web URI equivalents (`https://ref.gs1.org/cbv/BizStep-`, `Disp-`,
/// `BTT-`, `SDT-`, `ER-`) wherever they occur, for any word (standard or not).
pub fn replace_cbv_urns(text: &str) -> Cow<'_, str> {
    if !text.contains("urn:epcglobal:cbv:") {
        return Cow::Borrowed(text);
    }
    let mut s = text.to_string();
    for (urn, web) in URN_TO_WEB {
        if s.contains(urn) {
            s = s.replace(urn, web);
        }
    }
    Cow::Owned(s)
}

/// Expands a value written with the predefined `gs1:` or `cbv:` prefix
/// (`gs1:Temperature` → `https://gs1.org/voc/Temperature`,
/// `cbv:Comp-x` → `https://ref.gs1.org/cbv/Comp-x`). Other values are returned
/// unchanged.
pub fn expand_predefined_curie(text: &str) -> Cow<'_, str> {
    if let Some(rest) = text.strip_prefix("gs1:") {
        Cow::Owned(format!("{GS1_VOC_BASE}{rest}"))
    } else if let Some(rest) = text.strip_prefix("cbv:") {
        Cow::Owned(format!("{CBV_WEB_BASE}{rest}"))
    } else {
        Cow::Borrowed(text)
    }
}

/// Maps a sensor `type` or `exception` value: a bare word (no `:`) becomes a
/// GS1 Web Vocabulary URI (`Temperature` → `https://gs1.org/voc/Temperature`),
/// `gs1:`/`cbv:` CURIEs are expanded, anything else is kept.
pub fn sensor_vocab(text: &str) -> Cow<'_, str> {
    let t = text.trim();
    if !t.is_empty() && !t.contains(':') {
        Cow::Owned(format!("{GS1_VOC_BASE}{t}"))
    } else {
        expand_predefined_curie(t)
    }
}

/// Maps a sensor `component` value: a bare word becomes a CBV component URI
/// (`x` → `https://ref.gs1.org/cbv/Comp-x`), `gs1:`/`cbv:` CURIEs are
/// expanded, anything else is kept.
pub fn sensor_component(text: &str) -> Cow<'_, str> {
    let t = text.trim();
    if !t.is_empty() && !t.contains(':') {
        Cow::Owned(format!("{CBV_WEB_BASE}Comp-{t}"))
    } else {
        expand_predefined_curie(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urns() {
        assert_eq!(
            replace_cbv_urns("urn:epcglobal:cbv:bizstep:shipping"),
            "https://ref.gs1.org/cbv/BizStep-shipping"
        );
        assert_eq!(
            replace_cbv_urns("urn:epcglobal:cbv:sdt:owning_party"),
            "https://ref.gs1.org/cbv/SDT-owning_party"
        );
        assert_eq!(
            replace_cbv_urns("urn:epcglobal:cbv:bt:0614141000005:PO-42"),
            "urn:epcglobal:cbv:bt:0614141000005:PO-42"
        );
    }

    #[test]
    fn sensors() {
        assert_eq!(
            sensor_vocab("Temperature"),
            "https://gs1.org/voc/Temperature"
        );
        assert_eq!(
            sensor_vocab("gs1:MT-Temperature"),
            "https://gs1.org/voc/MT-Temperature"
        );
        assert_eq!(
            sensor_vocab("example:someSensorProperty"),
            "example:someSensorProperty"
        );
        assert_eq!(sensor_component("x"), "https://ref.gs1.org/cbv/Comp-x");
        assert_eq!(sensor_component("example:x"), "example:x");
        assert_eq!(
            sensor_component("cbv:Comp-latitude"),
            "https://ref.gs1.org/cbv/Comp-latitude"
        );
    }
}
