//! Failover pairs of the corpus run as pairs (issue 11): the two files of one relationship
//! (primary and secondary, matched by their `address` / `peer address`) are translated with
//! ONE address map, so that subnets, ranges and the failover addresses still line up, and the
//! failover addresses become the addresses of the two server namespaces of a
//! [`crate::pair::PairLab`]. Everything else (ports, mclt, split, delays) stays as written.
//!
//! Clients reach the pair through a relay: a UDP socket in the client namespace that sends
//! each DISCOVER and REQUEST to both servers with its giaddr, as a relay with two helper
//! addresses does (deployments put failover servers on a server network and relay to them).

use super::translate::{AddressMap, Net};
use super::{corpus_text, subnets_of};
use crate::compat::packet::{PRL, Reply, Request};
use anyhow::{Context, Result, bail};
use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The two files of one failover relationship in the corpus.
#[derive(Debug, Clone)]
pub struct CorpusPair {
    /// The relationship's name (`failover peer "NAME"`).
    pub peer: String,
    /// The primary's file, then the secondary's.
    pub files: [PathBuf; 2],
}

/// The corpus files that declare a failover peer, grouped into pairs.
pub struct CorpusPairs {
    pub pairs: Vec<CorpusPair>,
    /// The files with a failover peer that could not be paired, each with the reason.
    pub unpaired: Vec<(PathBuf, String)>,
}

/// Pair the files of `files` that declare a failover peer: a primary and a secondary of the
/// same relationship name whose `address` and `peer address` are each other's.
pub fn corpus_pairs(files: &[PathBuf]) -> Result<CorpusPairs> {
    struct Side {
        path: PathBuf,
        peer: dhcp_config::FailoverPeer,
    }
    let mut sides = Vec::new();
    let mut unpaired = Vec::new();
    for path in files {
        let text = corpus_text(path, true)?;
        if super::without_failover(&text) == text {
            continue;
        }
        let parsed = match dhcp_config::parse_str("corpus.conf", &text, &dhcp_config::FsLoader) {
            Ok(p) => p,
            Err(e) => {
                unpaired.push((path.clone(), format!("xdhcpd refuses the file: {e}")));
                continue;
            }
        };
        match parsed.config.failover_peers.as_slice() {
            [peer] => sides.push(Side { path: path.clone(), peer: peer.clone() }),
            peers => {
                unpaired.push((path.clone(), format!("{} failover peers (one relationship per pair)", peers.len())))
            }
        }
    }
    let mut pairs = Vec::new();
    let mut used = BTreeSet::new();
    for (i, p) in sides.iter().enumerate() {
        if p.peer.role != dhcp_config::Role::Primary {
            continue;
        }
        let partner = sides.iter().enumerate().find(|(j, s)| {
            !used.contains(j)
                && s.peer.role == dhcp_config::Role::Secondary
                && s.peer.name == p.peer.name
                && s.peer.address == p.peer.peer_address
                && s.peer.peer_address == p.peer.address
        });
        if let Some((j, s)) = partner {
            used.insert(i);
            used.insert(j);
            pairs.push(CorpusPair { peer: p.peer.name.clone(), files: [p.path.clone(), s.path.clone()] });
        }
    }
    for (i, s) in sides.iter().enumerate() {
        if !used.contains(&i) {
            unpaired.push((s.path.clone(), format!("no partner file in the corpus for {:?}", s.peer.name)));
        }
    }
    Ok(CorpusPairs { pairs, unpaired })
}

/// A pair translated into 198.18.0.0/15, ready for a [`crate::pair::PairLab`].
pub struct TranslatedPair {
    /// The primary's and the secondary's configuration (`ping-check false;` in front: both
    /// servers ping each new address for a second before offering it by default, which would
    /// shift the pair's timings; `tests/ping_check.rs` checks the default on both).
    pub texts: [String; 2],
    /// The servers' interface addresses (the translated failover addresses, with the prefix
    /// of the subnet that holds them).
    pub servers: [Ipv4Addr; 2],
    pub prefix: u8,
    /// The primary's relationship as xdhcpd reads it (split/hba, mclt).
    pub peer: dhcp_config::FailoverPeer,
    /// Relay sites, one in each of up to `max_relays` subnets with a failover pool open to
    /// every client.
    pub relays: Vec<RelaySite>,
}

/// A subnet clients are relayed from.
#[derive(Debug, Clone)]
pub struct RelaySite {
    /// The relay's address (giaddr) in the subnet, and a second free one (for a second relay).
    pub giaddr: Ipv4Addr,
    pub spare: Ipv4Addr,
    pub prefix: u8,
    /// The failover pool's ranges.
    pub ranges: Vec<dhcp_config::AddrRange>,
}

/// Translate both files of `pair` with one address map.
pub fn translate_pair(pair: &CorpusPair, max_relays: usize) -> Result<TranslatedPair> {
    let texts = [corpus_text(&pair.files[0], true)?, corpus_text(&pair.files[1], true)?];
    let mut nets: Vec<Net> = Vec::new();
    for t in &texts {
        let parsed = dhcp_config::parse_str("corpus.conf", t, &dhcp_config::FsLoader)
            .map_err(|e| anyhow::anyhow!("xdhcpd refuses the file: {e}"))?;
        for (n, _) in subnets_of(&parsed.config) {
            if !nets.contains(&n) {
                nets.push(n);
            }
        }
    }
    // One map over both texts: the same original address becomes the same test address in
    // either file (the peers' addresses, subnets and ranges must stay the same on both sides).
    let both = format!("{}\n{}", texts[0], texts[1]);
    let map = AddressMap::new(&nets, &both).map_err(|e| anyhow::anyhow!("{e}"))?;
    let translated = texts.clone().map(|t| format!("ping-check false;\n{}", map.apply(&t)));
    let configs = [parse_text(&translated[0])?, parse_text(&translated[1])?];
    let peer = configs[0].failover_peers.first().context("the primary has no failover peer")?.clone();
    let me = |c: &dhcp_config::Config| -> Result<Ipv4Addr> {
        let p = c.failover_peers.first().context("no failover peer")?;
        p.address.ip().context("failover address is a name")
    };
    let servers = [me(&configs[0])?, me(&configs[1])?];
    if peer.peer_address.ip() != Some(servers[1]) {
        bail!("the translated addresses do not line up: {:?} vs {}", peer.peer_address, servers[1]);
    }
    let home = subnets_of(&configs[0])
        .into_iter()
        .map(|(n, _)| n)
        .filter(|n| n.contains(servers[0]) && n.contains(servers[1]))
        .max_by_key(|n| n.prefix)
        .context("the failover addresses are in no common declared subnet")?;
    let used: BTreeSet<Ipv4Addr> = super::translate::literals(&translated[0])
        .into_iter()
        .chain(super::translate::literals(&translated[1]))
        .map(|(_, a)| a)
        .collect();
    let mut relays = Vec::new();
    for sn in &configs[0].shared_networks {
        for pool in &sn.pools {
            if relays.len() >= max_relays {
                break;
            }
            let Some(subnet) = sn.subnets.get(pool.subnet_index) else { continue };
            let net = Net { network: subnet.network, prefix: subnet.prefix_len };
            if pool.failover_peer.is_none() || !pool.permits.is_empty() || !pool.prohibits.is_empty() || net == home {
                continue;
            }
            let first = u32::from(net.network) + 1;
            let last = first + ((1u64 << (32 - u32::from(net.prefix))) as u32).saturating_sub(3);
            let mut free = (first..=last)
                .map(Ipv4Addr::from)
                .filter(|a| !used.contains(a) && !pool.ranges.iter().any(|r| r.contains(*a)));
            if let (Some(giaddr), Some(spare)) = (free.next(), free.next()) {
                relays.push(RelaySite { giaddr, spare, prefix: net.prefix, ranges: pool.ranges.clone() });
            }
        }
    }
    Ok(TranslatedPair { texts: translated, servers, prefix: home.prefix, peer, relays })
}

fn parse_text(text: &str) -> Result<dhcp_config::Config> {
    Ok(dhcp_config::parse_str("translated.conf", text, &dhcp_config::FsLoader)
        .map_err(|e| anyhow::anyhow!("xdhcpd refuses the translated file: {e}"))?
        .config)
}

/// What the relay saw of one client's exchange.
#[derive(Debug, Clone)]
pub struct Relayed {
    /// The servers (by source address) that answered the DISCOVER with an OFFER.
    pub offers: Vec<(Ipv4Addr, Reply)>,
    /// The servers that answered the REQUEST for the first OFFER with an ACK or NAK.
    pub acks: Vec<(Ipv4Addr, Reply)>,
}

/// One client's DISCOVER/REQUEST through a relay at `giaddr` (an address of the client
/// namespace `ns`) to both `servers`. The client identifier is `01` + `mac`, as udhcpc and
/// dhclient send it (so the load-balancing hash is the one of [`client_id`]).
pub fn relay_exchange(ns: &str, giaddr: Ipv4Addr, servers: [Ipv4Addr; 2], mac: [u8; 6], xid: u32) -> Result<Relayed> {
    crate::netns::in_netns(ns, move || {
        let sock = UdpSocket::bind(SocketAddrV4::new(giaddr, 67)).context("binding the relay's port 67")?;
        sock.set_read_timeout(Some(Duration::from_millis(100)))?;
        let discover = Request { giaddr, ..Request::new("relayed", mac, Some(1)) }
            .option(61, client_id(mac))
            .option(55, PRL.to_vec());
        let offers = send_collect(&sock, &discover, xid, servers)?;
        let mut acks = Vec::new();
        if let Some((_, offer)) = offers.iter().find(|(_, r)| r.kind() == Some(2)) {
            let mut request = discover.clone();
            request.kind = Some(3);
            request.options.insert(0, (50, offer.yiaddr.octets().to_vec()));
            if let Some(id) = offer.option(54) {
                request.options.insert(1, (54, id.to_vec()));
            }
            acks = send_collect(&sock, &request, xid + 1, servers)?;
        }
        Ok(Relayed { offers, acks })
    })
}

/// The client identifier the relayed clients send (what the load-balancing hash covers).
pub fn client_id(mac: [u8; 6]) -> Vec<u8> {
    [&[1u8][..], &mac].concat()
}

/// Send `req` to both servers and collect every reply with `xid` for a bounded time (long
/// enough for a server that answers at all: both answer a relay within milliseconds).
fn send_collect(sock: &UdpSocket, req: &Request, xid: u32, servers: [Ipv4Addr; 2]) -> Result<Vec<(Ipv4Addr, Reply)>> {
    let payload = req.encode(xid);
    for s in servers {
        sock.send_to(&payload, SocketAddrV4::new(s, 67)).with_context(|| format!("relaying to {s}"))?;
    }
    let local = match sock.local_addr()? {
        std::net::SocketAddr::V4(a) => a,
        std::net::SocketAddr::V6(_) => bail!("relay socket is not IPv4"),
    };
    let deadline = Instant::now() + Duration::from_millis(1500);
    let mut buf = vec![0u8; 2048];
    let mut out = Vec::new();
    while Instant::now() < deadline {
        let Ok((n, from)) = sock.recv_from(&mut buf) else { continue };
        let std::net::SocketAddr::V4(from) = from else { continue };
        if let Some(r) = Reply::from_payload(*local.ip(), local.port(), &buf[..n])
            && r.xid == xid
        {
            out.push((*from.ip(), r));
        }
    }
    Ok(out)
}

/// The file name of `p`, for reports and DIFFERENCES keys.
pub fn file_name(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The EMF 2014 pair: found as one relationship, and one map puts both failover addresses
    /// in the same translated subnet, each file naming the other's address as its peer.
    #[test]
    fn emf_pair_lines_up_after_translation() {
        let files = super::super::corpus_files().expect("corpus");
        let found = corpus_pairs(&files).expect("pairing");
        let emf =
            found.pairs.iter().find(|p| file_name(&p.files[0]).starts_with("012-")).expect("the EMF pair is paired");
        assert!(file_name(&emf.files[1]).starts_with("057-"));
        let t = translate_pair(emf, 2).expect("translates");
        assert_eq!(t.prefix, 26);
        assert_ne!(t.servers[0], t.servers[1]);
        for (i, text) in t.texts.iter().enumerate() {
            let c = parse_text(text).expect("parses");
            let peer = &c.failover_peers[0];
            assert_eq!(peer.address.ip(), Some(t.servers[i]));
            assert_eq!(peer.peer_address.ip(), Some(t.servers[1 - i]));
            assert!(text.starts_with("ping-check false;"));
        }
        assert_eq!(t.relays.len(), 2);
        for r in &t.relays {
            for a in [r.giaddr, r.spare] {
                assert!(!r.ranges.iter().any(|range| range.contains(a)));
                assert!(u32::from(a) >> 17 == u32::from(Ipv4Addr::new(198, 18, 0, 0)) >> 17);
            }
        }
    }
}
