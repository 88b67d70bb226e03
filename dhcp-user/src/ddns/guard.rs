//! Guard records (the "this name belongs to this DHCP client" record next to the A record):
//! dhcpd's interim TXT and the standard DHCID of RFC 4701.

use super::Style;
use md5::{Digest as _, Md5};
use sha2::Sha256;

/// The guard record of one client for one name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Guard {
    /// Interim: the TXT string (34 ASCII characters), without the DNS length byte.
    Txt(String),
    /// Standard: the DHCID RDATA (identifier type, digest type, SHA-256 digest).
    Dhcid(Vec<u8>),
}

/// Who the guard identifies: what dhcpd takes from the lease.
#[derive(Clone, Copy, Debug)]
pub enum Identity<'a> {
    /// The client identifier (option 61) as the lease keeps it.
    ClientId(&'a [u8]),
    /// The hardware type and address (no client identifier).
    Hardware { htype: u8, addr: &'a [u8] },
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl Guard {
    /// The guard dhcpd computes for `who` and the forward name (wire form, for DHCID).
    pub fn compute(style: Style, who: Identity<'_>, fwd_name_wire: &[u8]) -> Guard {
        match style {
            Style::Interim => {
                // dhcpd: type 61 (DHO_DHCP_CLIENT_IDENTIFIER) for a client identifier,
                // 0 for htype + chaddr; written as the type's high nibble and the type
                // modulo 15 (a known dhcpd quirk kept for compatibility), then the MD5.
                let (ty, data): (u16, Vec<u8>) = match who {
                    Identity::ClientId(id) => (61, id.to_vec()),
                    Identity::Hardware { htype, addr } => (0, [&[htype][..], addr].concat()),
                };
                let digest = Md5::digest(&data);
                let mut s = String::with_capacity(34);
                s.push(char::from(HEX[usize::from((ty >> 4) & 0xf)]));
                s.push(char::from(HEX[usize::from(ty % 15)]));
                for b in digest {
                    s.push(char::from(HEX[usize::from(b >> 4)]));
                    s.push(char::from(HEX[usize::from(b & 0xf)]));
                }
                Guard::Txt(s)
            }
            Style::Standard => {
                // RFC 4701 3.3: type 2 (DUID) for an RFC 4361 client identifier (first
                // byte 255: type, IAID, DUID), 1 for another client identifier, 0 for
                // htype + chaddr.
                let (ty, data): (u16, Vec<u8>) = match who {
                    Identity::ClientId(id) if id.first() == Some(&255) && id.len() >= 5 => {
                        (2, id.get(5..).unwrap_or(&[]).to_vec())
                    }
                    Identity::ClientId(id) => (1, id.to_vec()),
                    Identity::Hardware { htype, addr } => (0, [&[htype][..], addr].concat()),
                };
                let mut h = Sha256::new();
                h.update(&data);
                h.update(fwd_name_wire);
                let mut out = Vec::with_capacity(35);
                out.extend_from_slice(&ty.to_be_bytes());
                out.push(1);
                out.extend_from_slice(&h.finalize());
                Guard::Dhcid(out)
            }
        }
    }

    /// The lease-file variable and value dhcpd keeps for it.
    pub fn lease_var(&self) -> (&'static str, Vec<u8>) {
        match self {
            Guard::Txt(s) => (super::vars::TXT, s.as_bytes().to_vec()),
            Guard::Dhcid(d) => (super::vars::DHCID, d.clone()),
        }
    }

    /// The guard kept in a lease's variables, if any.
    pub fn from_vars(vars: &dhcp_config::Vars) -> Option<Guard> {
        if let Some(t) = vars.get(super::vars::TXT) {
            return std::str::from_utf8(t).ok().map(|s| Guard::Txt(s.to_string()));
        }
        vars.get(super::vars::DHCID).map(|d| Guard::Dhcid(d.to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn interim_txt_is_31_and_the_md5_of_the_client_id() {
        let id = [1u8, 0x52, 0x54, 0, 0x12, 0x34, 0x56];
        let Guard::Txt(t) = Guard::compute(Style::Interim, Identity::ClientId(&id), b"") else { panic!() };
        assert_eq!(t.len(), 34);
        assert!(t.starts_with("31"));
        assert_eq!(&t[2..], hex(&Md5::digest(id)));
    }

    #[test]
    fn interim_txt_of_a_hardware_address_is_00_and_covers_the_type_byte() {
        let mac = [0x52, 0x54, 0, 0x12, 0x34, 0x56];
        let Guard::Txt(t) = Guard::compute(Style::Interim, Identity::Hardware { htype: 1, addr: &mac }, b"") else {
            panic!()
        };
        assert!(t.starts_with("00"));
        assert_eq!(&t[2..], hex(&Md5::digest([1, 0x52, 0x54, 0, 0x12, 0x34, 0x56])));
    }

    /// RFC 4701 section 3.6.2: chaddr 01:02:03:04:05:06 (htype 1) and
    /// "client.example.com." give AAABxLmlskllE0MVjd57zHcWmEH3pCQ6VytcKD//7es/deY=.
    #[test]
    fn standard_dhcid_matches_rfc_4701_example_2() {
        let wire = b"\x06client\x07example\x03com\x00";
        let g = Guard::compute(Style::Standard, Identity::Hardware { htype: 1, addr: &[1, 2, 3, 4, 5, 6] }, wire);
        let Guard::Dhcid(d) = g else { panic!() };
        assert_eq!(hex(&d), "000001c4b9a5b249651343158dde7bcc77169841f7a4243a572b5c283fffedeb3f75e6");
    }

    /// RFC 4701 section 3.6.3: client identifier 01:07:08:09:0a:0b:0c and
    /// "chi.example.com." give AAEBOSD+XR3Os/0LozeXVqcNc7FwCfQdWL3b/NaiUDlW2No=.
    #[test]
    fn standard_dhcid_matches_rfc_4701_example_3() {
        let wire = b"\x03chi\x07example\x03com\x00";
        let g = Guard::compute(Style::Standard, Identity::ClientId(&[1, 7, 8, 9, 10, 11, 12]), wire);
        let Guard::Dhcid(d) = g else { panic!() };
        assert_eq!(hex(&d), "0001013920fe5d1dceb3fd0ba3379756a70d73b17009f41d58bddbfcd6a2503956d8da");
    }

    #[test]
    fn guard_round_trips_through_lease_vars() {
        for g in [Guard::Txt("31abc".into()), Guard::Dhcid(vec![0, 1, 1, 9])] {
            let (name, value) = g.lease_var();
            let mut v = dhcp_config::Vars::default();
            v.set(name, Some(value));
            assert_eq!(Guard::from_vars(&v), Some(g));
        }
    }
}
