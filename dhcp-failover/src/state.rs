//! Failover states and roles. Both are defined once, in `dhcp-common` (the XDP program reads
//! them from its steering map); this crate calls the state `State`.

pub use dhcp_common::{ParseStateError, Role};

/// A failover state: wire code (`server-state`) and dhcpd's name. See
/// [`dhcp_common::FailoverState`].
pub use dhcp_common::FailoverState as State;
