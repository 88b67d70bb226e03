//! xdhcpd: a DHCPv4 failover server accelerated with XDP.
//!
//! Module map (see docs/ARCHITECTURE.md):
//! - [`xdp`]: loading, attaching and configuring the XDP program; reading its counters.
//!
//! IO boundary: protocol logic is sans-IO (events in, actions out, explicit clock); only the
//! runtime touches sockets, files and clocks.
pub mod conf;
pub mod ddns;
pub mod dhcp;
pub mod failover;
pub mod lease;
pub mod leases;
pub mod runtime;
pub mod stats;
pub mod time;
pub mod xdp;
