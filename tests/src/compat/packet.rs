//! The client side of the differential harness: the requests of the battery, built byte by
//! byte, and the servers' replies taken apart without interpretation (options kept in the
//! order and with the bytes the server sent), so that two replies can be compared exactly.

use std::net::Ipv4Addr;

/// One request of the battery.
#[derive(Debug, Clone)]
pub struct Request {
    /// What it stands for, e.g. "PXE UEFI x64" (shown in the report).
    pub label: String,
    pub chaddr: [u8; 6],
    /// DHCP message type (option 53); `None` is a BOOTP request.
    pub kind: Option<u8>,
    pub flags: u16,
    pub ciaddr: Ipv4Addr,
    pub giaddr: Ipv4Addr,
    /// Options after 53, in order (code, data).
    pub options: Vec<(u8, Vec<u8>)>,
}

/// Parameter request list of a typical client (dhclient's, plus boot options).
pub const PRL: &[u8] = &[1, 28, 2, 3, 15, 6, 119, 12, 44, 47, 26, 121, 42, 66, 67, 43, 150, 60];

impl Request {
    pub fn new(label: impl Into<String>, chaddr: [u8; 6], kind: Option<u8>) -> Request {
        Request {
            label: label.into(),
            chaddr,
            kind,
            flags: 0,
            ciaddr: Ipv4Addr::UNSPECIFIED,
            giaddr: Ipv4Addr::UNSPECIFIED,
            options: Vec::new(),
        }
    }

    pub fn option(mut self, code: u8, data: impl Into<Vec<u8>>) -> Request {
        self.options.push((code, data.into()));
        self
    }

    /// The BOOTP/DHCP payload with transaction id `xid`.
    pub fn encode(&self, xid: u32) -> Vec<u8> {
        let mut p = vec![0u8; 240];
        p[0] = 1;
        p[1] = 1;
        p[2] = 6;
        p[3] = u8::from(!self.giaddr.is_unspecified());
        p[4..8].copy_from_slice(&xid.to_be_bytes());
        p[10..12].copy_from_slice(&self.flags.to_be_bytes());
        p[12..16].copy_from_slice(&self.ciaddr.octets());
        p[24..28].copy_from_slice(&self.giaddr.octets());
        p[28..34].copy_from_slice(&self.chaddr);
        p[236..240].copy_from_slice(&[99, 130, 83, 99]);
        if let Some(kind) = self.kind {
            p.extend_from_slice(&[53, 1, kind]);
        }
        for (code, data) in &self.options {
            p.push(*code);
            p.push(data.len() as u8);
            p.extend_from_slice(data);
        }
        p.push(255);
        // BOOTP requests are at least 300 bytes (RFC 951's vendor area).
        if p.len() < 300 {
            p.resize(300, 0);
        }
        p
    }
}

/// A reply as sent: where it went and every field and option as bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub dst_ip: Ipv4Addr,
    pub dst_port: u16,
    pub op: u8,
    pub htype: u8,
    pub hlen: u8,
    pub hops: u8,
    pub xid: u32,
    pub secs: u16,
    pub flags: u16,
    pub ciaddr: Ipv4Addr,
    pub yiaddr: Ipv4Addr,
    pub siaddr: Ipv4Addr,
    pub giaddr: Ipv4Addr,
    pub chaddr: [u8; 16],
    pub sname: Vec<u8>,
    pub file: Vec<u8>,
    /// Options in the order sent (PAD and END left out).
    pub options: Vec<(u8, Vec<u8>)>,
}

impl Reply {
    /// DHCP message type, if any.
    pub fn kind(&self) -> Option<u8> {
        self.option(53).and_then(|d| d.first().copied())
    }

    pub fn option(&self, code: u8) -> Option<&[u8]> {
        self.options.iter().find(|(c, _)| *c == code).map(|(_, d)| d.as_slice())
    }

    /// Parse an Ethernet frame carrying a UDP datagram from port 67; `None` if it is not one
    /// or is malformed.
    pub fn from_frame(frame: &[u8]) -> Option<Reply> {
        let ip = frame.get(14..)?;
        if frame.get(12..14)? != [0x08, 0x00] || ip.first()? >> 4 != 4 || *ip.get(9)? != 17 {
            return None;
        }
        let ihl = usize::from(ip[0] & 0x0f) * 4;
        let dst_ip = Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);
        let udp = ip.get(ihl..)?;
        let src_port = u16::from_be_bytes([*udp.first()?, *udp.get(1)?]);
        let dst_port = u16::from_be_bytes([*udp.get(2)?, *udp.get(3)?]);
        if src_port != 67 {
            return None;
        }
        Reply::from_payload(dst_ip, dst_port, udp.get(8..)?)
    }

    /// Parse a BOOTP reply `b` received (e.g. on a relay's UDP socket) for `dst_ip:dst_port`.
    pub fn from_payload(dst_ip: Ipv4Addr, dst_port: u16, b: &[u8]) -> Option<Reply> {
        if b.len() < 240 || b[0] != 2 || b[236..240] != [99, 130, 83, 99] {
            return None;
        }
        let addr = |i: usize| Ipv4Addr::new(b[i], b[i + 1], b[i + 2], b[i + 3]);
        let mut chaddr = [0u8; 16];
        chaddr.copy_from_slice(&b[28..44]);
        let trim = |s: &[u8]| s[..s.iter().position(|&c| c == 0).unwrap_or(s.len())].to_vec();
        let mut options = Vec::new();
        let mut i = 240;
        while i < b.len() {
            match b[i] {
                0 => i += 1,
                255 => break,
                code => {
                    let len = usize::from(*b.get(i + 1)?);
                    options.push((code, b.get(i + 2..i + 2 + len)?.to_vec()));
                    i += 2 + len;
                }
            }
        }
        Some(Reply {
            dst_ip,
            dst_port,
            op: b[0],
            htype: b[1],
            hlen: b[2],
            hops: b[3],
            xid: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
            secs: u16::from_be_bytes([b[8], b[9]]),
            flags: u16::from_be_bytes([b[10], b[11]]),
            ciaddr: addr(12),
            yiaddr: addr(16),
            siaddr: addr(20),
            giaddr: addr(24),
            chaddr,
            sname: trim(&b[44..108]),
            file: trim(&b[108..236]),
            options,
        })
    }
}

/// The name of a DHCP message type, for reports.
pub fn kind_name(kind: Option<u8>) -> &'static str {
    match kind {
        None => "BOOTREPLY",
        Some(1) => "DISCOVER",
        Some(2) => "OFFER",
        Some(3) => "REQUEST",
        Some(4) => "DECLINE",
        Some(5) => "ACK",
        Some(6) => "NAK",
        Some(7) => "RELEASE",
        Some(8) => "INFORM",
        Some(_) => "other",
    }
}
