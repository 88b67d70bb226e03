//! xdhcpd's contents of vendor-specific-options (29) in a BNDUPD: the binding-scope
//! variables a lease keeps for its DNS records (`ddns-fwd-name`, `ddns-txt`, ...), so that
//! the partner that ends the lease can remove what this server added.
//!
//! Why option 29: dhcpd 4.4 (server/failover.c `do_a_failover_option`, server/stables.c
//! `fto_allowed[]`) knows the code but keeps it in no message type, so in a BNDUPD it is
//! skipped before any length check; a dhcpd partner reads the rest of the update as if the
//! option were not there. Unknown codes (above 29) would be skipped too, but 29 is the one
//! the protocol reserves for a vendor's own data.
//!
//! Layout (all big-endian): the 6 bytes `xdhcpd`, a version byte (1), then records of
//! `u8 tag`, `u16 length`, body. Tag 1 is one variable: `u8` name length, the name, then
//! the value (the rest of the body). Unknown tags are skipped by their length, so a later
//! version can add records an older partner ignores. An option 29 that does not start with
//! the magic belongs to someone else and decodes to `None`.

/// The first bytes of xdhcpd's option 29.
pub const MAGIC: &[u8; 6] = b"xdhcpd";
/// The layout version written.
pub const VERSION: u8 = 1;
const TAG_VAR: u8 = 1;

/// What xdhcpd carries in option 29 of a BNDUPD.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct XdhcpdVendor {
    /// The lease's DNS-update variables as the sender holds them (name, value); empty =
    /// the sender holds none.
    pub vars: Vec<(String, Vec<u8>)>,
}

/// Why an option 29 that starts with xdhcpd's magic could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VendorError {
    /// No version byte after the magic, or a version this code does not read.
    #[error("xdhcpd vendor option: version {0:?} not understood")]
    Version(Option<u8>),
    /// A record's header or body runs past the end of the option.
    #[error("xdhcpd vendor option: record at offset {0} truncated")]
    Truncated(usize),
    /// A variable name that is not text.
    #[error("xdhcpd vendor option: variable name is not UTF-8")]
    BadName,
    /// A variable or value too long for its length field.
    #[error("xdhcpd vendor option: variable {0:?} too long to encode")]
    TooLong(String),
}

impl XdhcpdVendor {
    /// The option's bytes. Fails only for a name over 255 bytes or a record over 65,535.
    pub fn encode(&self) -> Result<Vec<u8>, VendorError> {
        let mut out = Vec::with_capacity(8 + self.vars.iter().map(|(n, v)| 4 + n.len() + v.len()).sum::<usize>());
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        for (name, value) in &self.vars {
            let too_long = || VendorError::TooLong(name.clone());
            let name_len = u8::try_from(name.len()).map_err(|_| too_long())?;
            let body_len = u16::try_from(1 + name.len() + value.len()).map_err(|_| too_long())?;
            out.push(TAG_VAR);
            out.extend_from_slice(&body_len.to_be_bytes());
            out.push(name_len);
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(value);
        }
        Ok(out)
    }

    /// Reads an option 29. `Ok(None)`: not xdhcpd's (another vendor's data).
    pub fn decode(bytes: &[u8]) -> Result<Option<XdhcpdVendor>, VendorError> {
        let Some(rest) = bytes.strip_prefix(MAGIC.as_slice()) else {
            return Ok(None);
        };
        let (&version, mut rest) = rest.split_first().ok_or(VendorError::Version(None))?;
        if version != VERSION {
            return Err(VendorError::Version(Some(version)));
        }
        let mut vars = Vec::new();
        let mut offset = MAGIC.len() + 1;
        while !rest.is_empty() {
            let (tag, len) = match rest {
                [tag, hi, lo, ..] => (*tag, usize::from(u16::from_be_bytes([*hi, *lo]))),
                _ => return Err(VendorError::Truncated(offset)),
            };
            let body = rest.get(3..3 + len).ok_or(VendorError::Truncated(offset))?;
            if tag == TAG_VAR {
                let (&name_len, nv) = body.split_first().ok_or(VendorError::Truncated(offset))?;
                let name = nv.get(..usize::from(name_len)).ok_or(VendorError::Truncated(offset))?;
                let value = nv.get(usize::from(name_len)..).unwrap_or(&[]);
                let name = std::str::from_utf8(name).map_err(|_| VendorError::BadName)?;
                vars.push((name.to_string(), value.to_vec()));
            }
            rest = rest.get(3 + len..).unwrap_or(&[]);
            offset += 3 + len;
        }
        Ok(Some(XdhcpdVendor { vars }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> XdhcpdVendor {
        XdhcpdVendor {
            vars: vec![
                ("ddns-fwd-name".into(), b"laptop.example.test".to_vec()),
                ("ddns-txt".into(), b"31abcdef".to_vec()),
                ("ddns-rev-name".into(), b"10.0.18.198.in-addr.arpa.".to_vec()),
            ],
        }
    }

    #[test]
    fn bytes_are_the_documented_layout() {
        let v = XdhcpdVendor { vars: vec![("ab".into(), b"xyz".to_vec())] };
        assert_eq!(v.encode().unwrap(), b"xdhcpd\x01\x01\x00\x06\x02abxyz".to_vec());
        assert_eq!(XdhcpdVendor::default().encode().unwrap(), b"xdhcpd\x01".to_vec());
    }

    #[test]
    fn round_trip() {
        let v = sample();
        assert_eq!(XdhcpdVendor::decode(&v.encode().unwrap()), Ok(Some(v)));
        let empty = XdhcpdVendor::default();
        assert_eq!(XdhcpdVendor::decode(&empty.encode().unwrap()), Ok(Some(empty)));
    }

    #[test]
    fn another_vendors_data_is_not_ours() {
        assert_eq!(XdhcpdVendor::decode(b""), Ok(None));
        assert_eq!(XdhcpdVendor::decode(b"\x00\x00\x09\x0bsomething"), Ok(None));
    }

    #[test]
    fn unknown_records_are_skipped() {
        let mut b = sample().encode().unwrap();
        // A record of a later version, then one more variable.
        b.extend_from_slice(&[9, 0, 2, 0xaa, 0xbb]);
        b.extend_from_slice(&[1, 0, 3, 1, b'n', b'v']);
        let got = XdhcpdVendor::decode(&b).unwrap().unwrap();
        assert_eq!(got.vars.len(), 4);
        assert_eq!(got.vars[3], ("n".to_string(), b"v".to_vec()));
    }

    #[test]
    fn malformed_is_an_error_never_a_panic() {
        assert_eq!(XdhcpdVendor::decode(b"xdhcpd"), Err(VendorError::Version(None)));
        assert_eq!(XdhcpdVendor::decode(b"xdhcpd\x02"), Err(VendorError::Version(Some(2))));
        assert_eq!(XdhcpdVendor::decode(b"xdhcpd\x01\x01\x00"), Err(VendorError::Truncated(7)));
        assert_eq!(XdhcpdVendor::decode(b"xdhcpd\x01\x01\x00\x05\x01a"), Err(VendorError::Truncated(7)));
        // Name length beyond the body.
        assert_eq!(XdhcpdVendor::decode(b"xdhcpd\x01\x01\x00\x02\x05a"), Err(VendorError::Truncated(7)));
        assert_eq!(XdhcpdVendor::decode(b"xdhcpd\x01\x01\x00\x02\x01\xff"), Err(VendorError::BadName));
        let long = XdhcpdVendor { vars: vec![("n".repeat(300), vec![])] };
        assert!(matches!(long.encode(), Err(VendorError::TooLong(_))));
        // Every prefix of a good option decodes or fails cleanly.
        let b = sample().encode().unwrap();
        for i in 0..b.len() {
            let _ = XdhcpdVendor::decode(&b[..i]);
        }
    }
}
