//! The five devnet organisations and their GS1 identifiers.

/// One organisation of the devnet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrgPlan {
    /// Org id (also the node directory name).
    pub id: &'static str,
    /// Display name.
    pub name: &'static str,
    /// Genesis role.
    pub role: &'static str,
    /// GS1 company prefix, if the org owns brands.
    pub company_prefix: Option<&'static str>,
    /// The first 12 digits of the org's GLN (the check digit is computed).
    pub gln_body: &'static str,
}

/// Manufacturer (brand owner of prefix 0614141; runs the packaging line).
pub const MANUFACTURER: OrgPlan = OrgPlan {
    id: "mfg",
    name: "Acme Pharma (manufacturer)",
    role: "manufacturer",
    company_prefix: Some("0614141"),
    gln_body: "061414100000",
};

/// Contract manufacturer.
pub const CMO: OrgPlan = OrgPlan {
    id: "cmo",
    name: "Contract Pharma Services (CMO)",
    role: "cmo",
    company_prefix: Some("0777771"),
    gln_body: "077777100000",
};

/// Wholesale distributor.
pub const DISTRIBUTOR: OrgPlan = OrgPlan {
    id: "dist",
    name: "Wholesale Drug Distribution",
    role: "distributor",
    company_prefix: Some("0888881"),
    gln_body: "088888100000",
};

/// Pharmacy (dispenser).
pub const PHARMACY: OrgPlan = OrgPlan {
    id: "pharm",
    name: "Main Street Pharmacy",
    role: "dispenser",
    company_prefix: None,
    gln_body: "099999100000",
};

/// Regulator (read-only learner node).
pub const REGULATOR: OrgPlan = OrgPlan {
    id: "reg",
    name: "Drug Regulator",
    role: "regulator",
    company_prefix: None,
    gln_body: "055555100000",
};

/// Every org, voters first, the regulator last.
pub const ORGS: [OrgPlan; 5] = [MANUFACTURER, CMO, DISTRIBUTOR, PHARMACY, REGULATOR];

/// The unit GTIN the scenario commissions (brand of the manufacturer).
pub const UNIT_GTIN: &str = "00614141073467";
/// The case GTIN the scenario and the line simulator use.
pub const CASE_GTIN: &str = "10614141073464";

/// The GS1 mod-10 check digit of `body`.
pub fn check_digit(body: &str) -> u32 {
    let sum: u32 = body
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    (10 - sum % 10) % 10
}

impl OrgPlan {
    /// The org's GLN-13.
    pub fn gln(&self) -> String {
        format!("{}{}", self.gln_body, check_digit(self.gln_body))
    }

    /// True for the regulator's learner node.
    pub fn is_learner(&self) -> bool {
        self.role == "regulator"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glns_are_valid() {
        assert_eq!(MANUFACTURER.gln(), "0614141000005");
        assert_eq!(DISTRIBUTOR.gln(), "0888881000001");
        for org in ORGS {
            pedigree_client::events::gln13(&org.gln()).unwrap();
        }
        pedigree_client::events::gtin14(UNIT_GTIN).unwrap();
        pedigree_client::events::gtin14(CASE_GTIN).unwrap();
    }
}
