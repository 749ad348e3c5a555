//! Application Identifier definitions, lookup, value validation and the
//! pairing rules (`req`/`ex`) between AIs.

use serde::Serialize;

use crate::error::Gs1Error;
use crate::lint::{self, LintError};
use crate::table::AI_TABLE;

/// Character set of one component of an AI value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Cset {
    /// Digits only.
    N,
    /// GS1 AI encodable character set 82.
    X,
    /// GS1 AI encodable character set 39 (`0-9 A-Z # - /`).
    Y,
    /// base64url (character set 64) with optional `=` padding.
    Z,
}

/// A named content check applied to one component (GS1 Syntax Dictionary
/// "linter"). Linters listed as "not checked" in [`Linter::is_checked`] are
/// accepted without validation.
#[allow(missing_docs, reason = "variant names are the GS1 linter names")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Linter {
    Couponcode,
    Couponposoffer,
    Csum,
    Csumalpha,
    Gcppos1,
    Gcppos2,
    Hasnondigit,
    Hh,
    Hhmi,
    Hyphen,
    Iban,
    Importeridx,
    Iso3166,
    Iso3166999,
    Iso3166alpha2,
    Iso4217,
    Iso5218,
    Latitude,
    Longitude,
    Mediatype,
    Mi,
    Nonzero,
    Nozeroprefix,
    Packagetype,
    Pcenc,
    Pieceoftotal,
    Posinseqslash,
    Ss,
    Winding,
    Yesno,
    Yymmd0,
    Yymmdd,
    Yyyymmd0,
    Yyyymmdd,
    Zero,
}

impl Linter {
    /// The linter's name in the GS1 Syntax Dictionary.
    pub fn name(self) -> &'static str {
        match self {
            Self::Couponcode => "couponcode",
            Self::Couponposoffer => "couponposoffer",
            Self::Csum => "csum",
            Self::Csumalpha => "csumalpha",
            Self::Gcppos1 => "gcppos1",
            Self::Gcppos2 => "gcppos2",
            Self::Hasnondigit => "hasnondigit",
            Self::Hh => "hh",
            Self::Hhmi => "hhmi",
            Self::Hyphen => "hyphen",
            Self::Iban => "iban",
            Self::Importeridx => "importeridx",
            Self::Iso3166 => "iso3166",
            Self::Iso3166999 => "iso3166999",
            Self::Iso3166alpha2 => "iso3166alpha2",
            Self::Iso4217 => "iso4217",
            Self::Iso5218 => "iso5218",
            Self::Latitude => "latitude",
            Self::Longitude => "longitude",
            Self::Mediatype => "mediatype",
            Self::Mi => "mi",
            Self::Nonzero => "nonzero",
            Self::Nozeroprefix => "nozeroprefix",
            Self::Packagetype => "packagetype",
            Self::Pcenc => "pcenc",
            Self::Pieceoftotal => "pieceoftotal",
            Self::Posinseqslash => "posinseqslash",
            Self::Ss => "ss",
            Self::Winding => "winding",
            Self::Yesno => "yesno",
            Self::Yymmd0 => "yymmd0",
            Self::Yymmdd => "yymmdd",
            Self::Yyyymmd0 => "yyyymmd0",
            Self::Yyyymmdd => "yyyymmdd",
            Self::Zero => "zero",
        }
    }

    /// Looks a linter up by its dictionary name.
    pub fn from_name(name: &str) -> Option<Self> {
        ALL_LINTERS.iter().copied().find(|l| l.name() == name)
    }

    /// False for linters this crate deliberately does not implement (coupon
    /// internals, package type codes, GCP position checks); they are
    /// accepted unchecked.
    pub fn is_checked(self) -> bool {
        !matches!(
            self,
            Self::Couponcode
                | Self::Couponposoffer
                | Self::Packagetype
                | Self::Gcppos1
                | Self::Gcppos2
        )
    }

    /// Runs the linter over `data`.
    pub fn check(self, data: &[u8]) -> Result<(), LintError> {
        lint::run(self, data)
    }
}

const ALL_LINTERS: &[Linter] = &[
    Linter::Couponcode,
    Linter::Couponposoffer,
    Linter::Csum,
    Linter::Csumalpha,
    Linter::Gcppos1,
    Linter::Gcppos2,
    Linter::Hasnondigit,
    Linter::Hh,
    Linter::Hhmi,
    Linter::Hyphen,
    Linter::Iban,
    Linter::Importeridx,
    Linter::Iso3166,
    Linter::Iso3166999,
    Linter::Iso3166alpha2,
    Linter::Iso4217,
    Linter::Iso5218,
    Linter::Latitude,
    Linter::Longitude,
    Linter::Mediatype,
    Linter::Mi,
    Linter::Nonzero,
    Linter::Nozeroprefix,
    Linter::Packagetype,
    Linter::Pcenc,
    Linter::Pieceoftotal,
    Linter::Posinseqslash,
    Linter::Ss,
    Linter::Winding,
    Linter::Yesno,
    Linter::Yymmd0,
    Linter::Yymmdd,
    Linter::Yyyymmd0,
    Linter::Yyyymmdd,
    Linter::Zero,
];

/// One component of an AI's value format, e.g. `N6,yymmd0` or `[X..16]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Component {
    /// Character set.
    pub cset: Cset,
    /// Minimum length when present.
    pub min: u8,
    /// Maximum length.
    pub max: u8,
    /// Optional components may be absent at the end of the value.
    pub optional: bool,
    /// Content checks.
    pub linters: &'static [Linter],
}

/// The definition of one Application Identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct AiDef {
    /// The AI digits, e.g. `"01"`, `"3103"`.
    pub ai: &'static str,
    /// Predefined length: no FNC1 separator is needed after this AI.
    pub predefined: bool,
    /// Allowed as a GS1 Digital Link query (data) attribute.
    pub dl_attr: bool,
    /// Value format.
    pub components: &'static [Component],
    /// Requisite rules; each string lists alternatives separated by `,`,
    /// each alternative a `+`-joined group of AIs or patterns (`31nn`).
    pub req: &'static [&'static str],
    /// Exclusions: AIs or patterns that may not appear alongside.
    pub ex: &'static str,
    /// `Some` if this AI is a Digital Link primary key; the string lists the
    /// qualifier sequences (`"22,10,21|235"`), empty if none.
    pub dlpkey: Option<&'static str>,
    /// Short title from the GS1 General Specifications.
    pub title: &'static str,
}

impl AiDef {
    /// Minimum total value length.
    pub fn min_len(&self) -> usize {
        self.components
            .iter()
            .filter(|c| !c.optional)
            .map(|c| usize::from(c.min))
            .sum()
    }

    /// Maximum total value length.
    pub fn max_len(&self) -> usize {
        self.components.iter().map(|c| usize::from(c.max)).sum()
    }

    /// True if every component has a fixed length and none is optional.
    pub fn is_fixed_length(&self) -> bool {
        self.components
            .iter()
            .all(|c| !c.optional && c.min == c.max)
    }

    /// The qualifier sequences of a primary key (empty if none or not a key).
    pub fn qualifier_sequences(&self) -> Vec<Vec<&'static str>> {
        match self.dlpkey {
            Some(s) if !s.is_empty() => s.split('|').map(|alt| alt.split(',').collect()).collect(),
            _ => Vec::new(),
        }
    }

    /// A printable description of the format, e.g. `N14` or `X..20`.
    pub fn format(&self) -> String {
        let mut parts = Vec::new();
        for c in self.components {
            let cs = match c.cset {
                Cset::N => "N",
                Cset::X => "X",
                Cset::Y => "Y",
                Cset::Z => "Z",
            };
            let len = if c.min == c.max {
                format!("{cs}{}", c.max)
            } else {
                format!("{cs}..{}", c.max)
            };
            parts.push(if c.optional { format!("[{len}]") } else { len });
        }
        parts.join(" ")
    }

    /// Validates a value against the format and linters. `offset` is the
    /// byte position of the value in the caller's input, used in errors.
    pub fn validate(&self, value: &[u8], offset: usize) -> Result<(), Gs1Error> {
        self.validate_with(value, offset, true)
    }

    /// As [`AiDef::validate`]; with `check_digits` false the `csum` linter
    /// is skipped.
    pub fn validate_with(
        &self,
        value: &[u8],
        offset: usize,
        check_digits: bool,
    ) -> Result<(), Gs1Error> {
        let err = |pos: usize, rule: String| Gs1Error::AiValue {
            ai: self.ai.to_string(),
            value: String::from_utf8_lossy(value).into_owned(),
            pos: offset + pos,
            rule,
        };
        if value.is_empty() {
            return Err(err(0, "value must not be empty".into()));
        }
        if value.len() > self.max_len() {
            return Err(err(
                self.max_len(),
                format!(
                    "value too long: {} characters, format {} allows at most {}",
                    value.len(),
                    self.format(),
                    self.max_len()
                ),
            ));
        }
        let mut pos = 0usize;
        for c in self.components {
            let rest = value.len() - pos;
            if rest == 0 && c.optional {
                break;
            }
            let take = rest.min(usize::from(c.max));
            if take < usize::from(c.min) {
                return Err(err(
                    pos,
                    format!(
                        "value too short: component {} needs {} characters, {} left",
                        self.format(),
                        c.min,
                        rest
                    ),
                ));
            }
            let part = &value[pos..pos + take];
            if let Err(e) = check_cset(c.cset, part) {
                return Err(err(pos + e.pos, e.describe()));
            }
            for l in c.linters {
                if *l == Linter::Csum && !check_digits {
                    continue;
                }
                if let Err(e) = l.check(part) {
                    return Err(err(pos + e.pos, e.describe()));
                }
            }
            pos += take;
        }
        if pos < value.len() {
            return Err(err(
                pos,
                format!("value too long for format {}", self.format()),
            ));
        }
        Ok(())
    }
}

/// Checks the character set of one component.
pub(crate) fn check_cset(cset: Cset, data: &[u8]) -> Result<(), LintError> {
    match cset {
        Cset::N => lint::csetnumeric(data),
        Cset::X => lint::cset82(data),
        Cset::Y => lint::cset39(data),
        Cset::Z => lint::cset64(data),
    }
}

/// Looks an AI up by its exact digits.
pub fn lookup(ai: &str) -> Option<&'static AiDef> {
    let found = match short_key(ai) {
        // Every table AI has 2 to 4 digits, so comparing the zero-padded keys
        // orders exactly like comparing the strings (see the `table_sorted` test).
        Some(key) => AI_TABLE.binary_search_by(|d| table_key(d.ai).cmp(&key)),
        None => AI_TABLE.binary_search_by(|d| d.ai.cmp(ai)),
    };
    found.ok().and_then(|i| AI_TABLE.get(i))
}

/// [`short_key`] of a table AI (2 to 4 digits, checked by a test).
fn table_key(ai: &'static str) -> u32 {
    let b = ai.as_bytes();
    let byte = |i: usize| u32::from(b.get(i).copied().unwrap_or(0));
    byte(0) << 24 | byte(1) << 16 | byte(2) << 8 | byte(3)
}

/// Up to 4 bytes without NUL as a big-endian, zero-padded integer, which orders
/// like the string; `None` otherwise.
fn short_key(s: &str) -> Option<u32> {
    let b = s.as_bytes();
    if b.len() > 4 || b.contains(&0) {
        return None;
    }
    let mut k = [0u8; 4];
    k[..b.len()].copy_from_slice(b);
    Some(u32::from_be_bytes(k))
}

/// Finds the AI that is a prefix of `data` (AIs are prefix-free), trying
/// 2, 3 and 4 digits.
pub fn lookup_prefix(data: &[u8]) -> Option<&'static AiDef> {
    (2..=4).find_map(|n| {
        let p = data.get(..n)?;
        if !p.iter().all(u8::is_ascii_digit) {
            return None;
        }
        lookup(std::str::from_utf8(p).ok()?)
    })
}

/// The GS1 table of predefined-length AI prefixes (General Specifications
/// figure 5.10.1-2): the value length for AIs starting with these two
/// digits, used when an AI is not in the table.
pub fn predefined_prefix_len(ai: &str) -> Option<usize> {
    let p = ai.get(..2)?;
    Some(match p {
        "00" => 18,
        "01" | "02" | "03" => 14,
        "04" => 16,
        "11" | "12" | "13" | "14" | "15" | "16" | "17" | "18" | "19" => 6,
        "20" => 2,
        "31" | "32" | "33" | "34" | "35" | "36" => 6,
        "41" => 13,
        _ => return None,
    })
}

/// Does `ai` match the dictionary pattern `pat` (`n` is a digit wildcard)?
fn matches_pattern(pat: &str, ai: &str) -> bool {
    pat.len() == ai.len()
        && pat
            .bytes()
            .zip(ai.bytes())
            .all(|(p, a)| p == a || (p == b'n' && a.is_ascii_digit()))
}

/// Checks the pairing rules over a set of AIs (in any order): every AI's
/// requisites are present and no exclusions are present, and an AI that
/// repeats carries the same value each time.
///
/// Unknown AIs (not in the table) have no rules.
pub fn validate_pairings(ais: &[(String, String)]) -> Result<(), Gs1Error> {
    // Repeats must agree.
    for (i, (ai, v)) in ais.iter().enumerate() {
        if let Some((_, w)) = ais[..i].iter().find(|(a, _)| a == ai)
            && w != v
        {
            return Err(Gs1Error::Pairing {
                ai: ai.clone(),
                rule: format!("repeated with different values '{w}' and '{v}'"),
            });
        }
    }
    for (ai, _) in ais {
        let Some(def) = lookup(ai) else { continue };
        if !def.ex.is_empty() {
            for pat in def.ex.split(',') {
                if let Some((other, _)) =
                    ais.iter().find(|(o, _)| o != ai && matches_pattern(pat, o))
                {
                    return Err(Gs1Error::Pairing {
                        ai: ai.clone(),
                        rule: format!("may not be used together with ({other})"),
                    });
                }
            }
        }
        for req in def.req {
            let satisfied = req.split(',').any(|group| {
                group
                    .split('+')
                    .all(|pat| ais.iter().any(|(o, _)| matches_pattern(pat, o)))
            });
            if !satisfied {
                let alts: Vec<String> = req
                    .split(',')
                    .map(|g| {
                        g.split('+')
                            .map(|p| format!("({p})"))
                            .collect::<Vec<_>>()
                            .join("+")
                    })
                    .collect();
                return Err(Gs1Error::Pairing {
                    ai: ai.clone(),
                    rule: format!("requires one of {}", alts.join(", ")),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_sorted_and_prefix_free() {
        for w in AI_TABLE.windows(2) {
            assert!(w[0].ai < w[1].ai, "{} {}", w[0].ai, w[1].ai);
            assert!(
                short_key(w[0].ai) < short_key(w[1].ai),
                "{} {}",
                w[0].ai,
                w[1].ai
            );
        }
        for a in AI_TABLE {
            assert!(short_key(a.ai).is_some(), "{}", a.ai);
            assert_eq!(short_key(a.ai), Some(table_key(a.ai)), "{}", a.ai);
            assert!(std::ptr::eq(lookup(a.ai).expect("found"), a));
        }
        for probe in ["", "0", "01\0", "010", "99999", "9", "x1", "8004"] {
            assert_eq!(
                lookup(probe).map(|d| d.ai),
                AI_TABLE.iter().find(|d| d.ai == probe).map(|d| d.ai),
                "{probe:?}"
            );
        }
        for a in AI_TABLE {
            for b in AI_TABLE {
                if a.ai != b.ai {
                    assert!(!b.ai.starts_with(a.ai), "{} prefixes {}", a.ai, b.ai);
                }
            }
        }
    }

    #[test]
    fn predefined_matches_prefix_table() {
        for a in AI_TABLE {
            if let Some(n) = predefined_prefix_len(a.ai) {
                assert!(a.predefined, "{}", a.ai);
                assert_eq!(a.max_len(), n, "{}", a.ai);
            } else {
                assert!(!a.predefined, "{}", a.ai);
            }
        }
    }

    #[test]
    fn date_error_message() {
        let e = lookup("17").unwrap().validate(b"261332", 12).unwrap_err();
        assert_eq!(
            e.to_string(),
            "AI (17): invalid value '261332' at position 14: month 13 out of range"
        );
    }
}
