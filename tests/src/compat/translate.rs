//! Moves a real configuration's addresses into 198.18.0.0/15, so that it can be served inside
//! a test namespace without breaking the network rule (test traffic uses 198.18.0.0/15 only).
//!
//! The translation only has to be *consistent*: dhcpd and xdhcpd both receive the same
//! translated file. Each subnet gets an aligned block of its own size, addresses inside a
//! subnet keep their offset in it, every other address (DNS servers, routers of other
//! networks, failover partners) keeps its last octet in a /24 of its own, and netmasks
//! (`255.x.x.x` with contiguous ones), `0.0.0.0` and `255.255.255.255` stay as written.
//! Comments are left alone.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// The space translated into: 198.18.0.0/15.
const BASE: u32 = 0xC612_0000;
const SPACE: u64 = 1 << 17;

/// Why a file could not be translated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Untranslatable(pub String);

impl std::fmt::Display for Untranslatable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A subnet as declared: network and prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Net {
    pub network: Ipv4Addr,
    pub prefix: u8,
}

impl Net {
    fn size(self) -> u64 {
        1u64 << (32 - u32::from(self.prefix))
    }
    fn contains(self, a: Ipv4Addr) -> bool {
        let mask = if self.prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(self.prefix)) };
        u32::from(a) & mask == u32::from(self.network)
    }
}

/// The address map of one file.
#[derive(Debug, Clone)]
pub struct AddressMap {
    /// Original subnet → translated network address.
    subnets: Vec<(Net, u32)>,
    /// Original /24 (address >> 8) of an address outside every subnet → translated /24 base.
    others: BTreeMap<u32, u32>,
}

impl AddressMap {
    /// Build the map for `subnets` (in file order) and the other address literals of `text`.
    pub fn new(subnets: &[Net], text: &str) -> Result<AddressMap, Untranslatable> {
        // Largest blocks first keeps every block aligned to its own size.
        let mut order: Vec<Net> = subnets.to_vec();
        order.sort_by_key(|n| std::cmp::Reverse(n.size()));
        order.dedup();
        let mut next: u64 = 0;
        let mut placed = Vec::new();
        for net in order {
            let size = net.size();
            next = next.div_ceil(size) * size;
            if next + size > SPACE {
                return Err(Untranslatable(format!(
                    "its subnets need more than 198.18.0.0/15 ({}/{} does not fit)",
                    net.network, net.prefix
                )));
            }
            placed.push((net, BASE + next as u32));
            next += size;
        }
        let mut map = AddressMap { subnets: placed, others: BTreeMap::new() };
        next = next.div_ceil(256) * 256;
        for (_, a) in literals(text) {
            if keep_as_written(a) || map.subnet_of(a).is_some() {
                continue;
            }
            let key = u32::from(a) >> 8;
            if let std::collections::btree_map::Entry::Vacant(e) = map.others.entry(key) {
                if next + 256 > SPACE {
                    return Err(Untranslatable("too many addresses outside its subnets".into()));
                }
                e.insert(BASE + next as u32);
                next += 256;
            }
        }
        Ok(map)
    }

    fn subnet_of(&self, a: Ipv4Addr) -> Option<(Net, u32)> {
        // The longest prefix wins where declarations nest.
        self.subnets.iter().filter(|(n, _)| n.contains(a)).max_by_key(|(n, _)| n.prefix).copied()
    }

    /// The translated form of `a`.
    pub fn map(&self, a: Ipv4Addr) -> Ipv4Addr {
        if keep_as_written(a) {
            return a;
        }
        if let Some((net, base)) = self.subnet_of(a) {
            return Ipv4Addr::from(base + (u32::from(a) - u32::from(net.network)));
        }
        match self.others.get(&(u32::from(a) >> 8)) {
            Some(base) => Ipv4Addr::from(base + (u32::from(a) & 0xff)),
            None => a,
        }
    }

    /// The translated subnet of an original one.
    pub fn map_net(&self, n: Net) -> Net {
        Net { network: self.map(n.network), prefix: n.prefix }
    }

    /// `text` with every address literal outside comments replaced by its translation.
    pub fn apply(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut last = 0;
        for (span, a) in literals(text) {
            out.push_str(&text[last..span.0]);
            out.push_str(&self.map(a).to_string());
            last = span.1;
        }
        out.push_str(&text[last..]);
        out
    }
}

/// Netmasks, the unspecified and the limited-broadcast address are not places.
fn keep_as_written(a: Ipv4Addr) -> bool {
    let v = u32::from(a);
    let is_mask = v.leading_ones() + v.trailing_zeros() == 32 && a.octets()[0] == 255;
    v == 0 || is_mask
}

/// Every dotted-quad literal outside `#` comments: (byte span, address).
pub fn literals(text: &str) -> Vec<((usize, usize), Ipv4Addr)> {
    let b = text.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    let mut in_string = false;
    while i < b.len() {
        let c = b[i];
        if c == b'"' {
            in_string = !in_string;
        } else if c == b'#' && !in_string {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            continue;
        } else if c.is_ascii_digit() && (i == 0 || !is_word(b[i - 1])) {
            let start = i;
            let mut j = i;
            while j < b.len() && (b[j].is_ascii_digit() || b[j] == b'.') {
                j += 1;
            }
            // A literal is followed by neither more of a name (`1.2.3.4a`) nor more dots
            // and digits (`1.2.3.4.5`); a sentence's full stop after it is fine.
            let candidate = text[start..j].trim_end_matches('.');
            let followed_by_word = j < b.len() && is_word(b[j]) && b[j] != b'.';
            if !followed_by_word
                && candidate.split('.').count() == 4
                && let Ok(a) = candidate.parse::<Ipv4Addr>()
            {
                found.push(((start, start + candidate.len()), a));
            }
            i = j;
            continue;
        }
        i += 1;
    }
    found
}

fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'-' || c == b'.' || c == b':'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str, p: u8) -> Net {
        Net { network: s.parse().unwrap(), prefix: p }
    }

    #[test]
    fn subnets_keep_offsets_and_masks_stay() {
        let text = "subnet 10.1.0.0 netmask 255.255.0.0 { range 10.1.2.3 10.1.2.9; option routers 10.1.0.1; }\n\
                    subnet 192.168.5.0 netmask 255.255.255.0 { option domain-name-servers 8.8.8.8, 8.8.4.4; }\n\
                    # 172.16.0.1 in a comment stays\n";
        let m = AddressMap::new(&[net("10.1.0.0", 16), net("192.168.5.0", 24)], text).unwrap();
        let out = m.apply(text);
        assert!(out.contains("subnet 198.18.0.0 netmask 255.255.0.0"), "{out}");
        assert!(out.contains("range 198.18.2.3 198.18.2.9"), "{out}");
        assert!(out.contains("option routers 198.18.0.1"), "{out}");
        assert!(out.contains("subnet 198.19.0.0 netmask 255.255.255.0"), "{out}");
        assert!(out.contains("198.19.1.8, 198.19.1.4"), "{out}");
        assert!(out.contains("# 172.16.0.1 in a comment"), "{out}");
    }

    #[test]
    fn names_and_versions_are_not_addresses() {
        let text = "option x \"1.2.3.4.5\"; filename \"pxelinux.0\"; a 1.2.3.4a; b 10.0.0.1;";
        let found: Vec<_> = literals(text).into_iter().map(|(_, a)| a.to_string()).collect();
        assert_eq!(found, vec!["10.0.0.1".to_string()]);
    }

    #[test]
    fn too_big_is_refused() {
        assert!(AddressMap::new(&[net("10.0.0.0", 8)], "").is_err());
    }
}
