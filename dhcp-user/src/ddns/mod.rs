//! Dynamic DNS (RFC 2136 updates from the DHCP server), as dhcpd 4.4 does them. Sans-IO:
//! this module decides names and guard records ([`plan`]), builds and signs the update
//! messages and reads the answers ([`update`]); it never touches a socket or the clock.
//! `runtime::ddns` sends the messages, after the lease they describe is durable.
//!
//! Facts taken from dhcpd 4.4 (server/ddns.c, common/dns.c), in words:
//! - the host part is `ddns-hostname` if configured, else the first label of the client's
//!   FQDN option (81), else its host-name option (12), else the scope's `option host-name`;
//!   with `use-host-decl-names` a host declaration's name; the domain is `ddns-domainname`,
//!   else the scope's `option domain-name`;
//! - a client that sends option 81 with S clear and a domain in it, where client updates
//!   are allowed (the default), updates its own A record: the server does the PTR only,
//!   for the client's name (kept as `ddns-client-fqdn`);
//! - TTL: `ddns-ttl`, else half the time left on the lease, at most 3600 s;
//! - the reverse name is the address's octets reversed, then `ddns-rev-domainname`
//!   (default `in-addr.arpa.`);
//! - the guard record: interim, a TXT of "31" (client identifier; "00" for a hardware
//!   address: the type's high nibble, then the type modulo 15) and the MD5 of the
//!   identifier in hex; standard, a DHCID (RFC 4701): identifier type, digest type 1,
//!   SHA-256 of the identifier and the FQDN in wire form;
//! - the lease keeps `ddns-fwd-name`, `ddns-txt` (interim, the TXT without its length
//!   byte) or `ddns-dhcid` (standard), `ddns-rev-name`, and `ddns-client-fqdn`.

pub mod guard;
pub mod plan;
pub mod update;

pub use guard::Guard;
pub use plan::{AddJob, BindPlan, Job, RemoveJob, plan_bind, plan_bind_reply, plan_end};
pub use update::{Exchange, Outcome, Step, ZoneServer};

/// `ddns-update-style` values that do updates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Style {
    /// `interim`: TXT guard records.
    Interim,
    /// `standard`: DHCID guard records (RFC 4701).
    Standard,
}

/// Names of the binding-scope variables dhcpd keeps in the lease file.
pub mod vars {
    /// The forward name the server added an A record for.
    pub const FWD_NAME: &str = "ddns-fwd-name";
    /// The interim guard (TXT contents, without the length byte).
    pub const TXT: &str = "ddns-txt";
    /// The standard guard (DHCID RDATA).
    pub const DHCID: &str = "ddns-dhcid";
    /// The reverse name the server added a PTR for.
    pub const REV_NAME: &str = "ddns-rev-name";
    /// The client's own name when the client updated its A record.
    pub const CLIENT_FQDN: &str = "ddns-client-fqdn";
    /// Every variable of a lease's DNS state (what a failover partner is told).
    pub const ALL: [&str; 5] = [FWD_NAME, TXT, DHCID, REV_NAME, CLIENT_FQDN];
}

/// Errors of the DDNS core (bad names, bad answers); never a panic.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DdnsError {
    #[error("invalid DNS name {name:?}: {reason}")]
    BadName { name: String, reason: String },
    #[error("no zone declared for {0} (xdhcpd needs a `zone` block for each zone it updates)")]
    NoZone(String),
    #[error("zone {0} has no IPv4 primary or secondary address")]
    NoServer(String),
    #[error("encoding the update: {0}")]
    Encode(String),
    #[error("malformed answer: {0}")]
    BadAnswer(String),
    #[error("answer's TSIG does not verify: {0}")]
    BadTsig(String),
    /// The server could not verify our signature and said so (a TSIG error of RFC 8945:
    /// BADSIG, BADKEY, BADTIME...): a wrong key or clock, not worth sending again.
    #[error("the server refused our TSIG signature: {0}")]
    TsigRefused(String),
}
