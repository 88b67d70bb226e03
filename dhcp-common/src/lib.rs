//! Pieces of xdhcpd shared by the XDP program (`dhcp-ebpf`) and the userspace server
//! (`dhcp-user`).
//!
//! Contract: `no_std`, no allocation, no panics on any input, only bounded loops. Everything
//! here must compile for `bpfel-unknown-none` and pass the kernel verifier, so the code reads
//! packets through the [`frame::Bytes`] trait (one bounds check per byte) instead of slices.
//!
//! - [`hash`]: the RFC 3074 load-balancing hash exactly as ISC dhcpd 4.4 computes it.
//! - [`hba`]: the 256-bucket hash bucket assignment and `split` → HBA.
//! - [`frame`]: classification of a raw Ethernet frame into a [`frame::RequestView`].
//! - [`decision`]: *the* load-balancing decision ("do I answer this DISCOVER?").
//! - [`maps`]: `#[repr(C)]` layouts of the BPF maps userspace writes and reads.
//! - [`state`]: the failover vocabulary every crate shares: [`FailoverState`], [`Role`],
//!   [`BindingState`], each with its wire, BPF and lease-file spellings.
//! - [`open_enum!`]: the shape of an open wire code (unknown values survive).
#![no_std]
#![cfg_attr(not(test), deny(clippy::indexing_slicing, clippy::panic, clippy::unwrap_used))]

mod open_enum;

pub mod decision;
pub mod frame;
pub mod hash;
pub mod hba;
pub mod maps;
pub mod state;

pub use decision::{Steering, Verdict, decide};
pub use frame::{Bytes, Classified, MsgKind, RequestView, classify, classify_bootp};
pub use hash::lb_hash;
pub use hba::Hba;
pub use state::{BindingState, FailoverState, ParseStateError, Role};
