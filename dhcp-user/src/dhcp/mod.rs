//! The DHCPv4 protocol core (RFC 2131), sans-IO: `Engine::handle(now, meta, bytes)` returns
//! what to send, where, and which lease records must be durable before it leaves.

pub mod classify;
pub mod config;
pub mod engine;
pub mod reply;
pub mod sanity;

pub use config::{EngineConfig, HostCfg, Network, Params, PoolCfg, SubnetCfg};
pub use engine::{DropReason, Engine, IfName, LeaseNames, Outcome, Probe, RequestMeta};
pub use reply::{Destination, Reply};
