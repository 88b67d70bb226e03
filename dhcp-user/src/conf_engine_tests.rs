//! dhcpd.conf text to the engine's answers: the statements whose effect on a reply
//! (or on a lease) xdhcpd must reproduce, each checked on the DHCP messages it changes.

use crate::dhcp::{Engine, Outcome, RequestMeta};
use crate::lease::BindingState;
use crate::time::Now;
use dhcproto::v4::{DhcpOption, Flags, HType, Message, MessageType, Opcode, OptionCode};
use dhcproto::{Decodable, Decoder, Encodable, Encoder};
use std::net::Ipv4Addr;

const IFACE: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const META: RequestMeta = RequestMeta { iface_addr: IFACE, broadcast: true };

/// The engine for `text`, host names looked up in a fixed table (as /etc/hosts would
/// answer), the way the runtime loads a file.
fn engine(text: &str) -> Engine {
    let parsed = dhcp_config::parse_str("t.conf", text, &dhcp_config::MemoryLoader::default())
        .unwrap_or_else(|e| panic!("does not load:\n{e}"));
    let mut cfg = parsed.config;
    cfg.resolve_names(&mut |name: &str| match name {
        "ns1.lab.test" => Ok(vec![Ipv4Addr::new(198, 18, 0, 53), Ipv4Addr::new(198, 18, 0, 54)]),
        "tftp.lab.test" => Ok(vec![Ipv4Addr::new(198, 18, 0, 69)]),
        "printer.lab.test" => Ok(vec![Ipv4Addr::new(198, 18, 0, 7)]),
        _ => Err("host unknown".into()),
    });
    Engine::new(super::engine_config(&cfg))
}

fn mac(n: u8) -> [u8; 6] {
    [0x52, 0x54, 0, 0, 0, n]
}

fn msg(t: MessageType, mac: [u8; 6], opts: Vec<DhcpOption>) -> Vec<u8> {
    let mut m = Message::default();
    m.set_opcode(Opcode::BootRequest).set_htype(HType::Eth).set_chaddr(&mac).set_xid(7).set_flags(Flags::default());
    m.opts_mut().clear();
    m.opts_mut().insert(DhcpOption::MessageType(t));
    for o in opts {
        m.opts_mut().insert(o);
    }
    let mut b = Vec::new();
    m.encode(&mut Encoder::new(&mut b)).expect("encode");
    b
}

fn reply(o: &Outcome) -> Message {
    let r = o.reply.as_ref().expect("a reply");
    Message::decode(&mut Decoder::new(&r.bytes)).expect("reply decodes")
}

fn offer(e: &Engine, m: [u8; 6]) -> Message {
    reply(&e.handle(Now::at(1000), &META, &msg(MessageType::Discover, m, vec![])))
}

const SUBNET: &str = "subnet 198.18.0.0 netmask 255.255.255.0 {\n  range 198.18.0.100 198.18.0.110;\n}\n";

#[test]
fn host_names_give_the_addresses_they_resolve_to() {
    let e = engine(&format!(
        "option domain-name-servers ns1.lab.test, 198.18.0.1;\n\
         next-server tftp.lab.test;\n\
         option ntp-servers 198.18.0.2, nosuch.lab.test;\n\
         {SUBNET}\
         host printer {{ hardware ethernet 52:54:00:00:00:07; fixed-address printer.lab.test; }}\n\
         host ghost {{ hardware ethernet 52:54:00:00:00:08; fixed-address 198.18.0.8, nosuch.lab.test; }}\n"
    ));
    let m = offer(&e, mac(7));
    assert_eq!(m.yiaddr(), Ipv4Addr::new(198, 18, 0, 7), "the fixed address a name resolves to");
    assert_eq!(m.siaddr(), Ipv4Addr::new(198, 18, 0, 69), "next-server by name");
    assert_eq!(
        m.opts().get(OptionCode::DomainNameServer),
        Some(&DhcpOption::DomainNameServer(vec![
            Ipv4Addr::new(198, 18, 0, 53),
            Ipv4Addr::new(198, 18, 0, 54),
            Ipv4Addr::new(198, 18, 0, 1)
        ])),
        "every address of the name, then the literal"
    );
    // dhcpd evaluates the list as one expression: with a name that does not resolve,
    // the option is not sent at all.
    assert_eq!(m.opts().get(OptionCode::NtpServers), None);
    // Same for a fixed-address list: the host has no fixed address, and its client
    // gets a dynamic one.
    let m = offer(&e, mac(8));
    assert!((100..=110).contains(&m.yiaddr().octets()[3]), "{}", m.yiaddr());
}

#[test]
fn unquoted_domain_name_is_sent_as_written() {
    let e = engine(&format!("option domain-name lab-test;\n{SUBNET}"));
    assert_eq!(offer(&e, mac(1)).opts().get(OptionCode::DomainName), Some(&DhcpOption::DomainName("lab-test".into())));
}

#[test]
fn two_hosts_sharing_a_fixed_address_both_get_it() {
    // dhcpd finds the host by the client's hardware address, then that host's address:
    // each client is answered from its own host, so both are offered 198.18.0.5.
    let e = engine(&format!(
        "{SUBNET}host a {{ hardware ethernet 52:54:00:00:00:01; fixed-address 198.18.0.5; option host-name \"a\"; }}\n\
         host b {{ hardware ethernet 52:54:00:00:00:02; fixed-address 198.18.0.5; option host-name \"b\"; }}\n"
    ));
    for (n, name) in [(1, "a"), (2, "b")] {
        let m = offer(&e, mac(n));
        assert_eq!(m.yiaddr(), Ipv4Addr::new(198, 18, 0, 5));
        assert_eq!(m.opts().get(OptionCode::Hostname), Some(&DhcpOption::Hostname(name.into())));
    }
}

/// A client takes an address, then declines it: the abandoned lease's end.
fn declined_until(text: &str) -> u32 {
    let e = engine(text);
    let ip = offer(&e, mac(1)).yiaddr();
    let req = msg(
        MessageType::Request,
        mac(1),
        vec![DhcpOption::ServerIdentifier(IFACE), DhcpOption::RequestedIpAddress(ip)],
    );
    assert_eq!(e.handle(Now::at(1000), &META, &req).reply.map(|r| r.msg_type), Some(MessageType::Ack));
    let dec = msg(
        MessageType::Decline,
        mac(1),
        vec![DhcpOption::RequestedIpAddress(ip), DhcpOption::ServerIdentifier(IFACE)],
    );
    let out = e.handle(Now::at(2000), &META, &dec);
    assert_eq!(out.durable.len(), 1);
    assert_eq!(out.durable[0].state, BindingState::Abandoned);
    out.durable[0].ends
}

#[test]
fn abandon_lease_time_sets_how_long_a_declined_address_is_out() {
    // dhcpd's default is 86400 s whatever the lease times (abandon_lease_time).
    assert_eq!(declined_until(&format!("default-lease-time 600;\n{SUBNET}")), 2000 + 86_400);
    assert_eq!(declined_until(&format!("abandon-lease-time 3600;\n{SUBNET}")), 2000 + 3600);
    assert_eq!(declined_until(&format!("abandon-lease-time infinite;\n{SUBNET}")), crate::time::NEVER);
    // Only the global statement counts, as in dhcpd.
    let inner = SUBNET.replace("range", "abandon-lease-time 60;\n  range");
    assert_eq!(declined_until(&inner), 2000 + 86_400);
}
