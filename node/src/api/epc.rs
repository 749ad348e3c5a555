//! Identifier normalisation for queries: EPC URNs and GS1 Digital Link URIs compare equal.

/// The comparison key of an EPC or class identifier: the constrained canonical GS1
/// Digital Link (`https://id.gs1.org/01/…/21/…`) when the input is a recognised EPC URN
/// or Digital Link, otherwise the input trimmed.
pub fn normalize(id: &str) -> String {
    let id = id.trim();
    pedigree_gs1::dl::canonical_for_hash(id).unwrap_or_else(|_| id.to_string())
}

/// Every EPC-like identifier an event mentions, with the EPCIS field it came from
/// (`epc`, `parentID`, `inputEPC`, `outputEPC`, `epcClass`).
pub fn event_ids(event: &pedigree_epcis::model::EpcisEvent) -> Vec<(&'static str, &str)> {
    let mut out = Vec::new();
    for list in [&event.epc_list, &event.child_epcs].into_iter().flatten() {
        out.extend(list.iter().map(|s| ("epc", s.as_str())));
    }
    if let Some(parent) = &event.parent_id {
        out.push(("parentID", parent.as_str()));
    }
    for s in event.input_epc_list.iter().flatten() {
        out.push(("inputEPC", s.as_str()));
    }
    for s in event.output_epc_list.iter().flatten() {
        out.push(("outputEPC", s.as_str()));
    }
    for list in [
        &event.quantity_list,
        &event.child_quantity_list,
        &event.input_quantity_list,
        &event.output_quantity_list,
    ]
    .into_iter()
    .flatten()
    {
        out.extend(list.iter().map(|q| ("epcClass", q.epc_class.as_str())));
    }
    out
}
