//! The failover wire codec, byte-compatible with ISC dhcpd 4.4.3.
//!
//! # Contract
//!
//! * **Framing.** A message is `u16 length` (whole message, including the length field;
//!   12..=2048), `u8 type`, `u8 payload offset`, `u32 time`, `u32 xid`, then TLV options
//!   (`u16 code`, `u16 len`, value), all big-endian. [`decode`] takes the front of a stream
//!   buffer and returns the message plus the bytes consumed, or
//!   [`DecodeError::Incomplete`] ("read more") — distinct from every protocol error
//!   ([`DecodeError::is_incomplete`]). [`frame_len`] peeks at the length only.
//! * **Payload offset.** We always send 12 (draft-12's "8" cannot work). On receipt bytes
//!   between 12 and the offset are skipped; an offset below 12 or past the end is an error.
//! * **Message types** follow dhcpd: 7 = UPDREQALL, 8 = UPDDONE, 9 = UPDREQ. A type dhcpd does
//!   not know (0, >12) decodes only if it has no options.
//! * **Options.** Decode rules, in dhcpd's order: unknown codes are skipped (listed in
//!   [`Message::ignored`]); message-digest (17) must end the message; a duplicate option is an
//!   error; a known option dhcpd does not keep in this message type (its `fto_allowed[]`) is
//!   skipped and listed in `ignored` — before any length check, as dhcpd does; fixed-size
//!   options must have exactly their size (IP-flags = **2** bytes). Variable options keep
//!   raw bytes (HBA is not length-checked here; a dhcpd secondary requires 32 in CONNECT).
//! * **Encode** ([`encode`]) writes payload offset 12 and the options in dhcpd's order for
//!   the message type (then any others in code order, digest last). It refuses options dhcpd
//!   would drop in that message type and messages over 2048 bytes. Decoding any dhcpd
//!   message and re-encoding it gives identical bytes (see `tests/golden.rs`).
//! * **Never panics**, on any input; no I/O, no clock: times and xids are parameters.
//! * **xid**: the caller owns the per-link counter. Responses echo the request's xid
//!   (CONNECTACK, BNDACK, UPDDONE, POOLRESP); the constructors take it as a parameter.
//!
//! * **vendor-specific-options (29)** is xdhcpd's one extension: allowed in BNDUPD (dhcpd's
//!   `fto_allowed[]` keeps it in no message, so a dhcpd partner skips it there), carrying
//!   [`vendor::XdhcpdVendor`] (a lease's DNS-update variables) between xdhcpd partners.
//!
//! Things dhcpd does that callers must respect (not enforced here): send max-unacked and
//! receive-timer in CONNECT/CONNECTACK; never send DDNS (dhcpd drops the link on any DDNS
//! option); never put client-identifier in a BNDACK.

pub(crate) mod codes;
mod error;
mod header;
mod message;
mod option;
pub mod raw;
pub mod vendor;

pub use codes::{BindingStatus, IpFlags, MessageType, OptionCode, RejectReason, ServerFlags, UnknownBindingStatus};
pub use error::{DecodeError, EncodeError};
pub use header::{HEADER_LEN, Header, MAX_MESSAGE_LEN, MIN_MESSAGE_LEN, frame_len};
pub use message::{Binding, LinkParams, Message, PROTOCOL_VERSION, decode, encode, encode_to_vec};
pub use option::{IgnoreReason, IgnoredOption, OptionKind, OptionSpec, spec};

/// Fuzz entry point (for the cargo-fuzz target): decodes `data` as a stream of messages.
/// Every decoded message must re-encode, and the re-encoding must decode to the same message
/// (without its `ignored` list). Panics only if one of those invariants is broken, i.e. on a
/// codec bug, never on malformed input.
pub fn fuzz_decode(data: &[u8]) {
    let mut rest = data;
    while let Ok((msg, used)) = decode(rest) {
        let mut clean = msg.clone();
        clean.ignored.clear();
        let bytes = match encode_to_vec(&clean) {
            Ok(b) => b,
            Err(e) => panic!("decoded message failed to re-encode: {e}"),
        };
        assert!(bytes.len() <= used, "re-encoding grew the message");
        match decode(&bytes) {
            Ok((again, n)) => {
                assert_eq!(n, bytes.len());
                assert_eq!(again, clean, "round trip changed the message");
            }
            Err(e) => panic!("re-encoded message failed to decode: {e}"),
        }
        rest = rest.get(used..).unwrap_or(&[]);
    }
}
