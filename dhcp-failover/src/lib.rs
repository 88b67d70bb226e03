//! The DHCP failover protocol as ISC dhcpd 4.4.3 speaks it, sans-IO.
//!
//! * [`wire`]: the message codec (framing, 12 message types, 29 options), byte-exact with
//!   dhcpd. See the module docs for the contract.
//! * [`state`]: failover states with their wire codes and dhcpd names, and [`Role`].
//! * [`transitions`]: dhcpd's state-transition tables, service levels and the MCLT rule as
//!   pure functions.
//! * [`peer`]: the sans-IO peer connection state machine ([`Peer`]) built on the above.
//! * [`testing`]: a deterministic back-to-back harness of two peers ([`testing::Pair`]).
//! * [`link`]: the per-connection link layer between a peer and its stream: HMAC-SHA256
//!   message authentication with replay protection, and xdhcpd's private options.
//! * [`drift`]: per-section configuration digests two xdhcpd partners compare.
//!
//! No sockets, no clocks: times are parameters.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod drift;
pub mod link;
pub mod peer;
pub mod state;
pub mod testing;
pub mod transitions;
pub mod wire;

pub use link::{LinkError, LinkGuard, LinkKey};
pub use peer::{Command, DisconnectReason, Event, Peer, PeerConfig, PeerError, PersistedState, Time};
pub use state::{ParseStateError, Role, State};
pub use transitions::{
    EntryActions, ServiceLevel, Transition, entry_actions, lease_time_allowed, on_link_lost, on_partner_state,
    on_startup_timeout, on_upddone, service_allowed, tstp_for,
};
pub use wire::{DecodeError, EncodeError, Message, decode, encode, fuzz_decode};
