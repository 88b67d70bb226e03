//! Configuration drift between two xdhcpd partners, sans-IO.
//!
//! Each side describes the parts of its configuration that must be equal on both servers
//! as named sections ("mclt", "split/hba", "pool 198.18.1.0/24 ranges", …), each reduced to
//! a truncated SHA-256 of a canonical text. The link layer ([`crate::link`]) carries the
//! list to an xdhcpd partner in a private option; [`diff`] names every section that differs,
//! so the operator reads *what* drifted, not only that something did.
//!
//! Wire form of the list: a version byte (1), then per section `u8 name length`, the name,
//! and the 8-byte digest.

use sha2::{Digest, Sha256};
use std::fmt;

/// Digest bytes kept per section (64 bits: collisions between two honest configurations are
/// not a concern, and the list must fit in one failover message).
pub const SECTION_DIGEST_LEN: usize = 8;
const VERSION: u8 = 1;

/// One section: its name and the digest of its canonical text.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Section {
    /// What the section is, as shown to the operator.
    pub name: String,
    /// Truncated SHA-256 of the section's canonical text.
    pub digest: [u8; SECTION_DIGEST_LEN],
}

/// The sections of one server's view of a relationship.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct ConfigSections {
    sections: Vec<Section>,
}

/// Why a received section list could not be read.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum DriftDecodeError {
    /// Unknown version byte (a newer xdhcpd).
    #[error("configuration digest version {0} not understood")]
    Version(u8),
    /// The list ends inside a section.
    #[error("configuration digest truncated")]
    Truncated,
}

impl ConfigSections {
    /// An empty list.
    pub fn new() -> ConfigSections {
        ConfigSections::default()
    }

    /// Adds section `name` whose content is described by `canonical` (the same text on both
    /// sides when the configurations agree). Names longer than 255 bytes are cut.
    pub fn add(&mut self, name: &str, canonical: &str) {
        let full = Sha256::digest(canonical.as_bytes());
        let mut digest = [0u8; SECTION_DIGEST_LEN];
        digest.copy_from_slice(full.get(..SECTION_DIGEST_LEN).unwrap_or(&[0; SECTION_DIGEST_LEN]));
        let mut name = name.to_owned();
        while name.len() > 255 {
            name.pop();
        }
        self.sections.push(Section { name, digest });
    }

    /// The sections, in the order they were added.
    pub fn sections(&self) -> &[Section] {
        &self.sections
    }

    /// The wire form.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![VERSION];
        for s in &self.sections {
            out.push(u8::try_from(s.name.len()).unwrap_or(u8::MAX));
            out.extend_from_slice(s.name.as_bytes());
            out.extend_from_slice(&s.digest);
        }
        out
    }

    /// Reads the wire form.
    pub fn decode(mut b: &[u8]) -> Result<ConfigSections, DriftDecodeError> {
        let (&v, rest) = b.split_first().ok_or(DriftDecodeError::Truncated)?;
        if v != VERSION {
            return Err(DriftDecodeError::Version(v));
        }
        b = rest;
        let mut sections = Vec::new();
        while let Some((&n, rest)) = b.split_first() {
            let n = usize::from(n);
            let name = rest.get(..n).ok_or(DriftDecodeError::Truncated)?;
            let digest = rest.get(n..n + SECTION_DIGEST_LEN).ok_or(DriftDecodeError::Truncated)?;
            let mut d = [0u8; SECTION_DIGEST_LEN];
            d.copy_from_slice(digest);
            sections.push(Section { name: String::from_utf8_lossy(name).into_owned(), digest: d });
            b = rest.get(n + SECTION_DIGEST_LEN..).unwrap_or(&[]);
        }
        Ok(ConfigSections { sections })
    }
}

/// How one section differs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum DriftKind {
    /// Both servers have the section, with different content.
    Differs,
    /// Only this server has it.
    OnlyHere,
    /// Only the partner has it.
    OnlyOnPartner,
}

/// One difference between the two configurations.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Drift {
    /// The section's name.
    pub section: String,
    /// How it differs.
    pub kind: DriftKind,
}

impl fmt::Display for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            DriftKind::Differs => write!(f, "{} differs", self.section),
            DriftKind::OnlyHere => write!(f, "{} only on this server", self.section),
            DriftKind::OnlyOnPartner => write!(f, "{} only on the partner", self.section),
        }
    }
}

/// Every section that is not the same on both sides: ours first in our order, then those
/// only the partner has. Empty when the configurations agree.
pub fn diff(ours: &ConfigSections, partner: &ConfigSections) -> Vec<Drift> {
    let mut out = Vec::new();
    for s in &ours.sections {
        match partner.sections.iter().find(|p| p.name == s.name) {
            Some(p) if p.digest == s.digest => {}
            Some(_) => out.push(Drift { section: s.name.clone(), kind: DriftKind::Differs }),
            None => out.push(Drift { section: s.name.clone(), kind: DriftKind::OnlyHere }),
        }
    }
    for p in &partner.sections {
        if !ours.sections.iter().any(|s| s.name == p.name) {
            out.push(Drift { section: p.name.clone(), kind: DriftKind::OnlyOnPartner });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(range_end: u8) -> ConfigSections {
        let mut c = ConfigSections::new();
        c.add("mclt", "3600");
        c.add("pool 198.18.1.0/24 ranges", &format!("198.18.1.10-198.18.1.{range_end}"));
        c
    }

    #[test]
    fn round_trip() {
        let c = sample(50);
        assert_eq!(ConfigSections::decode(&c.encode()), Ok(c));
    }

    #[test]
    fn equal_configs_have_no_drift() {
        assert!(diff(&sample(50), &sample(50)).is_empty());
    }

    #[test]
    fn names_the_section_that_differs() {
        let d = diff(&sample(50), &sample(60));
        assert_eq!(d, vec![Drift { section: "pool 198.18.1.0/24 ranges".into(), kind: DriftKind::Differs }]);
        assert_eq!(d[0].to_string(), "pool 198.18.1.0/24 ranges differs");
    }

    #[test]
    fn sections_on_one_side_only() {
        let mut a = sample(50);
        a.add("pool 198.18.2.0/24 ranges", "x");
        let mut b = sample(50);
        b.add("pool 198.18.3.0/24 ranges", "y");
        let d = diff(&a, &b);
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].kind, DriftKind::OnlyHere);
        assert_eq!(d[1].kind, DriftKind::OnlyOnPartner);
        assert_eq!(d[1].section, "pool 198.18.3.0/24 ranges");
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert_eq!(ConfigSections::decode(&[]), Err(DriftDecodeError::Truncated));
        assert_eq!(ConfigSections::decode(&[9]), Err(DriftDecodeError::Version(9)));
        assert_eq!(ConfigSections::decode(&[1, 4, b'm']), Err(DriftDecodeError::Truncated));
    }
}
