//! OMAPI (the protocol of ISC `omshell`) for xdhcpd: wire codec, HMAC-MD5 signatures and a
//! sans-IO server session. No I/O, no panics on any input.
//!
//! - [`wire`]: intro (`version 100, header size 24`), messages, name/value lists.
//! - [`auth`]: keys and the signature (HMAC over bytes 4.. through the object-list terminator).
//! - [`session`]: one server connection: authenticator exchange, signature checks, requests
//!   for the server to answer, replies.
//!
//! What the server answers (digest §6.5), as [`Response::object`] attribute lists, in order:
//! - lease: `state` Int, `ip-address` Ip, `dhcp-client-identifier` Bytes*, `client-hostname` Str*,
//!   `host` Handle*, `subnet` Handle, `pool` Handle, `billing-class` Handle*, `hardware-address`
//!   Bytes* + `hardware-type` Int, `ends`, `starts`, `tstp`, `tsfp`, `atsfp`, `cltt` Int,
//!   `flags` Byte (one byte!), then scope variables (* = only if present).
//! - host: `name` Str, `group`, `hardware-address` Bytes, `hardware-type` Int,
//!   `dhcp-client-identifier` Bytes, `ip-address` Ip, `statements`, `known`; unknown attributes
//!   give [`ResultCode::UNKNOWNATTRIBUTE`] with message "can't update object".
//! - failover-state: `name`, `partner-address`, `partner-port`, `local-address`, `local-port`,
//!   `max-outstanding-updates`, `mclt`, `load-balance-max-secs`, `load-balance-hba` (32 bytes),
//!   `partner-state`, `local-state`, `partner-stos`, `local-stos`, `hierarchy`,
//!   `last-packet-sent`, `last-timestamp-received`, `skew`, `max-response-delay`,
//!   `cur-unacked-updates`; only `local-state` is settable.
//! - control: `state` Int; UPDATE `state` = 2 starts a shutdown, other values INVALIDARG.
//! - misses: [`Response::not_found`] (23, "no object matches specification").

pub mod auth;
pub mod object;
pub mod result;
pub mod session;
pub mod wire;

pub use auth::{Algorithm, Key, KeyError};
pub use object::{AttrError, HardwareAddr, HostAttrs, LeaseLookup, LeaseUpdate, ObjectType, Value};
pub use result::ResultCode;
pub use session::{
    Action, Refusal, RefusalReason, Request, RequestId, RequestKind, RespondError, Response, Session, SessionConfig,
    SessionError,
};
pub use wire::{Decoded, EncodeError, Intro, Message, NameValue, Op, Values, WireError};
