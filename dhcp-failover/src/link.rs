//! The link layer between a [`Peer`](crate::Peer) and its TCP (or TLS) stream, sans-IO:
//! shared-secret message authentication and xdhcpd's own options.
//!
//! A [`LinkGuard`] lives for one connection. Outgoing, [`LinkGuard::seal`] takes the whole
//! messages `Peer::poll_transmit` produced and, when a key is configured, appends a
//! message-digest option (code 17, last as the protocol requires) holding an HMAC-SHA256 of
//! the whole message. Incoming, [`LinkGuard::open`] cuts the stream into messages, checks
//! each one and passes it unchanged to `Peer::handle_bytes` (the codec skips the digest).
//!
//! # The digest (an xdhcpd extension; dhcpd implements none)
//!
//! Value of option 17, 49 bytes: algorithm `2` (HMAC-SHA256; draft-12 gives `1` to
//! HMAC-MD5), the sender's 8-byte connection nonce, the receiver's nonce as last seen (zero
//! before the sender has received anything), and the 32-byte HMAC of every byte of the
//! message before the HMAC itself, header included (so the length, type, time and xid are
//! covered too).
//!
//! # Replay rule
//!
//! A message is accepted only if all of these hold:
//! 1. its time is within ±[`MAX_TIME_SKEW`] seconds of ours (the same bound as the
//!    CONNECT/CONNECTACK time check: a recording is useless after a minute);
//! 2. its sender nonce is the one this connection started with, and is not ours (a
//!    reflected message);
//! 3. it echoes our nonce — except the very first message received on the connection,
//!    which may not know it yet. A recorded conversation therefore cannot get past its
//!    first message on a new connection: every later message would have to echo the fresh
//!    nonce we just chose;
//! 4. its xid is fresh: a message the sender numbers itself (CONNECT, STATE, BNDUPD,
//!    UPDREQ, UPDREQALL, POOLREQ, CONTACT, DISCONNECT; the sender's per-link counter only
//!    grows) must carry an xid greater than the last such xid accepted on this connection;
//!    a response (CONNECTACK, BNDACK, UPDDONE, POOLRESP), whose xid echoes our request's,
//!    must answer a request we sent on this connection and not answered yet. So no message
//!    is accepted twice on a connection, and none from another connection.
//!
//! # Mismatches
//!
//! A keyed side refuses unsigned messages ([`LinkError::MissingDigest`]), an unkeyed side
//! refuses signed ones ([`LinkError::DigestNotConfigured`]: a partner that signs expects us
//! to check), different secrets fail the HMAC ([`LinkError::BadDigest`]). The caller logs
//! the error, sends [`LinkGuard::reject`] (a DISCONNECT with the matching reject reason, so
//! the partner can say why too) and closes: the link never reaches the STATE exchange, so
//! neither side leaves its state for NORMAL. A real ISC dhcpd is unkeyed and never signs.
//!
//! # xdhcpd options
//!
//! When the partner's CONNECT or CONNECTACK names it as xdhcpd (vendor-class `xdhcpd-…`),
//! the first message we send afterwards carries our configuration digest
//! ([`crate::drift`]) in option [`XDHCPD_CONFIG_OPTION`], a code draft-12 does not assign.
//! A dhcpd partner never receives it (and would skip it: unknown codes are ignored).

use std::collections::VecDeque;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::peer::MAX_TIME_SKEW;
use crate::wire::raw::{append_option, find_option, options};
use crate::wire::{EncodeError, Header, Message, MessageType, OptionCode, RejectReason, encode_to_vec, frame_len};

/// Option carrying xdhcpd's configuration digest between xdhcpd partners.
pub const XDHCPD_CONFIG_OPTION: OptionCode = OptionCode(0xf001);
/// Algorithm byte of xdhcpd's HMAC-SHA256 message digest.
pub const DIGEST_HMAC_SHA256: u8 = 2;
/// Size of a connection nonce.
pub const NONCE_LEN: usize = 8;
const MAC_LEN: usize = 32;
/// Length of the message-digest option's value.
pub const DIGEST_VALUE_LEN: usize = 1 + 2 * NONCE_LEN + MAC_LEN;
/// Requests we keep waiting for an answer; beyond this the oldest is forgotten (its answer
/// would then be refused). The partner's window keeps real numbers far below it.
const MAX_AWAITING: usize = 65_536;
/// The vendor-class prefix every xdhcpd sends.
pub const XDHCPD_VENDOR_PREFIX: &[u8] = b"xdhcpd";

type HmacSha256 = Hmac<Sha256>;

/// A shared secret for the peer link (`key NAME { algorithm hmac-sha256; secret …; }`).
#[derive(Clone, PartialEq, Eq)]
pub struct LinkKey {
    /// The key's name (for logs).
    pub name: String,
    secret: Vec<u8>,
}

impl LinkKey {
    /// A key named `name` with `secret` (any length; HMAC hashes long keys).
    pub fn new(name: impl Into<String>, secret: Vec<u8>) -> LinkKey {
        LinkKey { name: name.into(), secret }
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC accepts keys of any length; the error case cannot happen.
        HmacSha256::new_from_slice(&self.secret).unwrap_or_else(|_| HmacSha256::new(&Default::default()))
    }
}

impl std::fmt::Debug for LinkKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkKey").field("name", &self.name).finish_non_exhaustive()
    }
}

/// Why the link layer refused the partner's bytes (or could not send ours).
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum LinkError {
    /// We have a key, the partner's message carries no digest.
    #[error("the partner's messages are not signed but auth-key \"{key}\" is configured here{}", said(.partner_said))]
    MissingDigest {
        /// Our key's name.
        key: String,
        /// The partner's DISCONNECT/CONNECTACK reason, if that is what it sent.
        partner_said: Option<String>,
    },
    /// We have no key, the partner signs its messages.
    #[error("the partner signs its messages (message-digest) but no auth-key is configured here{}", said(.partner_said))]
    DigestNotConfigured {
        /// The partner's DISCONNECT/CONNECTACK reason, if that is what it sent.
        partner_said: Option<String>,
    },
    /// A digest we do not implement.
    #[error("the partner's message-digest is not xdhcpd's HMAC-SHA256 (algorithm {algorithm}, {len} bytes)")]
    UnsupportedDigest {
        /// First byte of the value.
        algorithm: u8,
        /// Length of the value.
        len: usize,
    },
    /// The HMAC does not match: the partner uses another secret, or the message was altered.
    #[error("message-digest check failed: the partner's auth-key secret differs from \"{key}\" (or the message was altered){}", said(.partner_said))]
    BadDigest {
        /// Our key's name.
        key: String,
        /// The partner's DISCONNECT/CONNECTACK reason, unauthenticated, if that is what it sent.
        partner_said: Option<String>,
    },
    /// The message breaks the replay rule (module docs).
    #[error("replayed or out-of-order message refused: {0}")]
    Replay(String),
    /// The message's time is too far from ours.
    #[error(
        "message time differs from ours by {skew} s (more than {MAX_TIME_SKEW} s): refused; synchronise the clocks"
    )]
    TimeWindow {
        /// Partner time minus ours, seconds.
        skew: i64,
    },
    /// TLS bytes arrived on a link configured without TLS.
    #[error("the partner speaks TLS but no tls-certificate/tls-key/tls-ca is configured here")]
    TlsNotConfigured,
    /// Our own message plus its digest would exceed the maximum message size.
    #[error("cannot sign message: {0}")]
    Encode(#[from] EncodeError),
}

fn said(s: &Option<String>) -> String {
    s.as_ref().map(|s| format!(" (partner says: {s})")).unwrap_or_default()
}

impl LinkError {
    /// The reject reason to send in the DISCONNECT.
    pub fn reject_reason(&self) -> RejectReason {
        match self {
            LinkError::MissingDigest { .. } => RejectReason::IP_MISSING_DIGEST,
            LinkError::DigestNotConfigured { .. } => RejectReason::DIGEST_UNCONFIGURED,
            LinkError::UnsupportedDigest { .. } => RejectReason::DIGEST_UNSUPPORTED,
            LinkError::BadDigest { .. } | LinkError::Replay(_) => RejectReason::IP_DIGEST_FAILURE,
            LinkError::TimeWindow { .. } => RejectReason::TIMEMISMATCH,
            LinkError::TlsNotConfigured => RejectReason::TLS_UNCONFIGURED,
            LinkError::Encode(_) => RejectReason::MISC_REJECT,
        }
    }

    /// The DISCONNECT's text: what the partner should read, in its own terms (our log line
    /// speaks of "the partner", this one of "you" and "this server").
    pub fn partner_text(&self) -> String {
        match self {
            LinkError::MissingDigest { key, .. } => {
                format!("your messages are not signed; this server requires auth-key \"{key}\"")
            }
            LinkError::DigestNotConfigured { .. } => "this server has no auth-key and does not check digests".into(),
            LinkError::UnsupportedDigest { .. } => {
                "message-digest algorithm not supported (xdhcpd: HMAC-SHA256)".into()
            }
            LinkError::BadDigest { .. } => "message digest check failed: the auth-key secrets differ".into(),
            LinkError::Replay(why) => format!("replayed message refused: {why}"),
            LinkError::TimeWindow { skew } => format!("your clock differs from this server's by {skew} s"),
            LinkError::TlsNotConfigured => "TLS is not configured on this server".into(),
            LinkError::Encode(e) => e.to_string(),
        }
    }
}

/// The request type a response answers.
fn request_of(response: MessageType) -> Option<&'static [MessageType]> {
    match response {
        MessageType::CONNECTACK => Some(&[MessageType::CONNECT]),
        MessageType::BNDACK => Some(&[MessageType::BNDUPD]),
        MessageType::UPDDONE => Some(&[MessageType::UPDREQ, MessageType::UPDREQALL]),
        MessageType::POOLRESP => Some(&[MessageType::POOLREQ]),
        _ => None,
    }
}

fn expects_response(t: MessageType) -> bool {
    matches!(
        t,
        MessageType::CONNECT
            | MessageType::BNDUPD
            | MessageType::UPDREQ
            | MessageType::UPDREQALL
            | MessageType::POOLREQ
    )
}

/// What the partner's DISCONNECT or rejecting CONNECTACK says, for our log line.
fn partner_said(frame: &[u8]) -> Option<String> {
    let (m, _) = crate::wire::decode(frame).ok()?;
    if !matches!(m.msg_type, MessageType::DISCONNECT | MessageType::CONNECTACK) {
        return None;
    }
    let r = m.reject_reason?;
    let text = m.message.as_deref().map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default();
    Some(if text.is_empty() { r.to_string() } else { format!("{r}: {text}") })
}

/// One connection's link layer. See the module docs.
#[derive(Debug)]
pub struct LinkGuard {
    key: Option<LinkKey>,
    nonce: [u8; NONCE_LEN],
    partner_nonce: Option<[u8; NONCE_LEN]>,
    /// A message of the partner was accepted on this connection.
    received: bool,
    /// Last self-numbered xid accepted from the partner.
    last_partner_xid: Option<u32>,
    /// Our requests not answered yet: (type, xid).
    awaiting: VecDeque<(MessageType, u32)>,
    /// The xid for a DISCONNECT the guard makes itself (after the Peer's own numbers).
    next_own_xid: u32,
    rx: Vec<u8>,
    config: Option<Vec<u8>>,
    partner_is_xdhcpd: bool,
    config_sent: bool,
    partner_config: Option<Vec<u8>>,
}

impl LinkGuard {
    /// A guard for a new connection. `key`: sign and require signatures; `nonce`: fresh
    /// random bytes for this connection (the caller's randomness keeps this sans-IO);
    /// `config`: our encoded [`crate::drift::ConfigSections`], sent to an xdhcpd partner.
    pub fn new(key: Option<LinkKey>, nonce: [u8; NONCE_LEN], config: Option<Vec<u8>>) -> LinkGuard {
        LinkGuard {
            key,
            nonce,
            partner_nonce: None,
            received: false,
            last_partner_xid: None,
            awaiting: VecDeque::new(),
            next_own_xid: 0,
            rx: Vec::new(),
            config,
            partner_is_xdhcpd: false,
            config_sent: false,
            partner_config: None,
        }
    }

    /// True when messages are signed and checked.
    pub fn keyed(&self) -> bool {
        self.key.is_some()
    }

    /// The partner's CONNECT/CONNECTACK named it as xdhcpd.
    pub fn partner_is_xdhcpd(&self) -> bool {
        self.partner_is_xdhcpd
    }

    /// The partner's configuration digest (encoded), once per connection when it arrives.
    pub fn take_partner_config(&mut self) -> Option<Vec<u8>> {
        self.partner_config.take()
    }

    /// Bytes read from the stream. Whole messages that pass the checks are appended to
    /// `out` (for `Peer::handle_bytes`); an incomplete tail is kept. On error nothing more
    /// may be accepted from this connection: log, send [`LinkGuard::reject`], close.
    /// Bytes that are not a failover message at all go to `out` as they are: the peer's
    /// codec reports them.
    pub fn open(&mut self, now_unix: u32, data: &[u8], out: &mut Vec<u8>) -> Result<(), LinkError> {
        // A TLS record header (handshake, version 3.x) where a failover length is expected:
        // 0x16 0x03 would be a 5,635-byte message, beyond the 2,048 maximum, so this never
        // misreads a real message.
        if !self.received && self.rx.is_empty() && data.starts_with(&[0x16, 0x03]) {
            return Err(LinkError::TlsNotConfigured);
        }
        // Walk the buffer with a cursor and drop the consumed part once: a 256 KiB read
        // holds thousands of messages during a resync, and draining each one would move the
        // rest of the buffer every time.
        let mut rx = std::mem::take(&mut self.rx);
        rx.extend_from_slice(data);
        let mut pos = 0;
        let result = loop {
            let rest = rx.get(pos..).unwrap_or(&[]);
            let len = match frame_len(rest) {
                Ok(l) if l <= rest.len() => l,
                Ok(_) => break Ok(()),
                Err(e) if e.is_incomplete() => break Ok(()),
                Err(_) => {
                    out.extend_from_slice(rest);
                    pos = rx.len();
                    break Ok(());
                }
            };
            let frame = rest.get(..len).unwrap_or(&[]);
            if let Err(e) = self.check(now_unix, frame) {
                break Err(e);
            }
            out.extend_from_slice(frame);
            pos += len;
        };
        rx.drain(..pos.min(rx.len()));
        self.rx = rx;
        result
    }

    fn check(&mut self, now_unix: u32, frame: &[u8]) -> Result<(), LinkError> {
        let Ok(hdr) = Header::parse(frame) else {
            return Ok(()); // the codec reports it
        };
        let digest = options(frame).last().filter(|o| o.code == OptionCode::MESSAGE_DIGEST).map(|o| o.value);
        match &self.key {
            None => {
                if digest.is_some() {
                    return Err(LinkError::DigestNotConfigured { partner_said: partner_said(frame) });
                }
            }
            Some(key) => {
                let Some(d) = digest else {
                    return Err(LinkError::MissingDigest { key: key.name.clone(), partner_said: partner_said(frame) });
                };
                if d.len() != DIGEST_VALUE_LEN || d.first() != Some(&DIGEST_HMAC_SHA256) {
                    return Err(LinkError::UnsupportedDigest {
                        algorithm: d.first().copied().unwrap_or(0),
                        len: d.len(),
                    });
                }
                let signed = frame.get(..frame.len() - MAC_LEN).unwrap_or(&[]);
                let tag = frame.get(frame.len() - MAC_LEN..).unwrap_or(&[]);
                let mut mac = key.mac();
                mac.update(signed);
                if mac.verify_slice(tag).is_err() {
                    return Err(LinkError::BadDigest { key: key.name.clone(), partner_said: partner_said(frame) });
                }
                let mut sender = [0u8; NONCE_LEN];
                sender.copy_from_slice(d.get(1..1 + NONCE_LEN).unwrap_or(&[0; NONCE_LEN]));
                let echo = d.get(1 + NONCE_LEN..1 + 2 * NONCE_LEN).unwrap_or(&[]);
                if sender == self.nonce {
                    return Err(LinkError::Replay("the message carries our own nonce (reflected)".into()));
                }
                if self.partner_nonce.is_some_and(|n| n != sender) {
                    return Err(LinkError::Replay("the sender's nonce changed within the connection".into()));
                }
                let echo_ok = echo == self.nonce || (!self.received && echo.iter().all(|&b| b == 0));
                if !echo_ok {
                    return Err(LinkError::Replay(
                        "the message does not echo this connection's nonce (recorded from another connection?)".into(),
                    ));
                }
                let skew = i64::from(hdr.time) - i64::from(now_unix);
                if skew.abs() > MAX_TIME_SKEW {
                    return Err(LinkError::TimeWindow { skew });
                }
                match request_of(hdr.msg_type) {
                    Some(requests) => {
                        let Some(i) = self.awaiting.iter().position(|(t, x)| *x == hdr.xid && requests.contains(t))
                        else {
                            return Err(LinkError::Replay(format!(
                                "{} xid {} answers no open request of ours",
                                hdr.msg_type, hdr.xid
                            )));
                        };
                        self.awaiting.remove(i);
                    }
                    None => {
                        if let Some(last) = self.last_partner_xid
                            && hdr.xid <= last
                        {
                            return Err(LinkError::Replay(format!(
                                "{} xid {} is not newer than {last}",
                                hdr.msg_type, hdr.xid
                            )));
                        }
                        self.last_partner_xid = Some(hdr.xid);
                    }
                }
                self.partner_nonce = Some(sender);
            }
        }
        self.received = true;
        if matches!(hdr.msg_type, MessageType::CONNECT | MessageType::CONNECTACK) {
            self.partner_is_xdhcpd = find_option(frame, OptionCode::VENDOR_CLASS_IDENTIFIER)
                .is_some_and(|v| v.starts_with(XDHCPD_VENDOR_PREFIX));
        }
        if let Some(c) = find_option(frame, XDHCPD_CONFIG_OPTION) {
            self.partner_config = Some(c.to_vec());
        }
        Ok(())
    }

    /// Messages from `Peer::poll_transmit` (whole messages) to write to the stream: each is
    /// appended to `out`, with our configuration digest (once, to an xdhcpd partner) and,
    /// when keyed, the message-digest.
    pub fn seal(&mut self, messages: &[u8], out: &mut Vec<u8>) -> Result<(), LinkError> {
        let mut rest = messages;
        while !rest.is_empty() {
            let Some(len) = frame_len(rest).ok().filter(|&l| l <= rest.len()) else {
                // Not whole messages: the peer never produces this; pass it rather than lose it.
                out.extend_from_slice(rest);
                return Ok(());
            };
            let (msg, tail) = rest.split_at(len);
            rest = tail;
            let add_config = self.partner_is_xdhcpd && !self.config_sent && self.config.is_some();
            if self.key.is_none() && !add_config {
                // Nothing to add: the bytes go out as the peer made them.
                self.note_own_xid(msg);
                out.extend_from_slice(msg);
                continue;
            }
            let mut frame = msg.to_vec();
            if self.partner_is_xdhcpd
                && !self.config_sent
                && let Some(c) = &self.config
            {
                // Best effort: a digest too large for this message is not sent (the partner
                // then reports no comparison) rather than costing the message itself.
                let _ = append_option(&mut frame, XDHCPD_CONFIG_OPTION, c);
                self.config_sent = true;
            }
            self.sign(&mut frame)?;
            out.extend_from_slice(&frame);
        }
        Ok(())
    }

    /// Keeps the xid for a DISCONNECT of the guard's own after the peer's numbers.
    fn note_own_xid(&mut self, frame: &[u8]) {
        if let Ok(hdr) = Header::parse(frame)
            && request_of(hdr.msg_type).is_none()
        {
            self.next_own_xid = self.next_own_xid.max(hdr.xid.wrapping_add(1));
        }
    }

    fn sign(&mut self, frame: &mut Vec<u8>) -> Result<(), LinkError> {
        self.note_own_xid(frame);
        let Ok(hdr) = Header::parse(frame) else {
            return Ok(());
        };
        let Some(key) = &self.key else {
            return Ok(());
        };
        let mut value = [0u8; DIGEST_VALUE_LEN];
        value[0] = DIGEST_HMAC_SHA256;
        value[1..1 + NONCE_LEN].copy_from_slice(&self.nonce);
        if let Some(p) = self.partner_nonce {
            value[1 + NONCE_LEN..1 + 2 * NONCE_LEN].copy_from_slice(&p);
        }
        append_option(frame, OptionCode::MESSAGE_DIGEST, &value)?;
        let at = frame.len() - MAC_LEN;
        let mut mac = key.mac();
        mac.update(frame.get(..at).unwrap_or(&[]));
        let tag = mac.finalize().into_bytes();
        if let Some(slot) = frame.get_mut(at..) {
            slot.copy_from_slice(&tag);
        }
        if expects_response(hdr.msg_type) {
            if self.awaiting.len() >= MAX_AWAITING {
                self.awaiting.pop_front();
            }
            self.awaiting.push_back((hdr.msg_type, hdr.xid));
        }
        Ok(())
    }

    /// The DISCONNECT to write before closing after `err` (signed when keyed), telling the
    /// partner why.
    pub fn reject(&mut self, now_unix: u32, err: &LinkError) -> Vec<u8> {
        let mut text = err.partner_text().into_bytes();
        text.truncate(200);
        let m = Message::disconnect(now_unix, self.next_own_xid, err.reject_reason(), &text);
        let Ok(mut frame) = encode_to_vec(&m) else {
            return Vec::new();
        };
        if self.sign(&mut frame).is_err() {
            return Vec::new();
        }
        frame
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::peer::{Event, Peer, PersistedState, Time};
    use crate::state::{Role, State};
    use crate::testing::{START_UNIX, test_config};
    use crate::wire::{LinkParams, decode};

    const NOW: u32 = START_UNIX;

    fn key(secret: &[u8]) -> Option<LinkKey> {
        Some(LinkKey::new("peerkey", secret.to_vec()))
    }

    fn params(vendor: &str) -> LinkParams {
        LinkParams {
            relationship_name: b"fo-test".to_vec(),
            max_unacked: 10,
            receive_timer: 30,
            vendor_class: vendor.as_bytes().to_vec(),
        }
    }

    fn sealed(g: &mut LinkGuard, m: &Message) -> Vec<u8> {
        let mut out = Vec::new();
        g.seal(&encode_to_vec(m).unwrap_or_default(), &mut out).unwrap_or_else(|e| panic!("{e}"));
        out
    }

    fn connect(t: u32) -> Message {
        Message::connect(t, 0, &params("xdhcpd-test"), 120, Some(&[0xff; 32]))
    }

    /// A primary guard `a` and a secondary guard `b` after a signed CONNECT/CONNECTACK.
    fn handshake(ka: Option<LinkKey>, kb: Option<LinkKey>) -> (LinkGuard, LinkGuard) {
        let mut a = LinkGuard::new(ka, [1; 8], None);
        let mut b = LinkGuard::new(kb, [2; 8], None);
        let c = connect(NOW);
        let mut plain = Vec::new();
        b.open(NOW, &sealed(&mut a, &c), &mut plain).unwrap_or_else(|e| panic!("{e}"));
        let (mut got, _) = decode(&plain).unwrap_or_else(|e| panic!("{e}"));
        assert!(got.message_digest.take().is_some());
        assert_eq!(got, c, "the message arrives as sent, plus its digest");
        let ack = Message::connectack(NOW, &c, &params("xdhcpd-test"), None);
        let mut plain = Vec::new();
        a.open(NOW, &sealed(&mut b, &ack), &mut plain).unwrap_or_else(|e| panic!("{e}"));
        (a, b)
    }

    #[test]
    fn signed_messages_verify_and_reach_the_codec_intact() {
        let (mut a, mut b) = handshake(key(b"secret"), key(b"secret"));
        let st = Message::state(NOW, 1, State::NORMAL, crate::wire::ServerFlags::NONE, NOW);
        let wire = sealed(&mut a, &st);
        assert_eq!(wire.len(), encode_to_vec(&st).unwrap_or_default().len() + 4 + DIGEST_VALUE_LEN);
        let mut plain = Vec::new();
        // Split anywhere: the guard reassembles.
        for chunk in wire.chunks(5) {
            b.open(NOW, chunk, &mut plain).unwrap_or_else(|e| panic!("{e}"));
        }
        let (m, _) = decode(&plain).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.server_state, Some(State::NORMAL));
        assert_eq!(m.message_digest.as_ref().map(Vec::len), Some(DIGEST_VALUE_LEN));
    }

    #[test]
    fn tampering_fails_the_digest() {
        let (mut a, mut b) = handshake(key(b"secret"), key(b"secret"));
        let st = Message::state(NOW, 1, State::NORMAL, crate::wire::ServerFlags::NONE, NOW);
        let mut wire = sealed(&mut a, &st);
        // server-state NORMAL (2) → PARTNER-DOWN (4): byte 16 is its value.
        assert_eq!(wire[16], 2);
        wire[16] = 4;
        let err = b.open(NOW, &wire, &mut Vec::new());
        assert!(matches!(err, Err(LinkError::BadDigest { .. })), "{err:?}");
    }

    #[test]
    fn different_secrets_fail_and_the_reject_says_why_on_both_sides() {
        let mut a = LinkGuard::new(key(b"one"), [1; 8], None);
        let mut b = LinkGuard::new(key(b"two"), [2; 8], None);
        let err = b.open(NOW, &sealed(&mut a, &connect(NOW)), &mut Vec::new());
        let Err(e) = err else { panic!("accepted a message signed with another secret") };
        assert!(matches!(e, LinkError::BadDigest { .. }));
        assert_eq!(e.reject_reason(), RejectReason::IP_DIGEST_FAILURE);
        let back = b.reject(NOW, &e);
        let Err(LinkError::BadDigest { partner_said: Some(s), .. }) = a.open(NOW, &back, &mut Vec::new()) else {
            panic!("the primary did not see the failure")
        };
        assert!(
            s.contains("message digest failed to compare: message digest check failed: the auth-key secrets differ"),
            "{s}"
        );
    }

    #[test]
    fn keyed_side_refuses_unsigned_and_unkeyed_side_refuses_signed() {
        let mut plain_side = LinkGuard::new(None, [1; 8], None);
        let mut keyed = LinkGuard::new(key(b"k"), [2; 8], None);
        let unsigned = sealed(&mut plain_side, &connect(NOW));
        assert_eq!(unsigned, encode_to_vec(&connect(NOW)).unwrap_or_default(), "no key: bytes untouched");
        let Err(e) = keyed.open(NOW, &unsigned, &mut Vec::new()) else { panic!("unsigned accepted") };
        assert!(matches!(e, LinkError::MissingDigest { .. }), "{e}");
        assert_eq!(e.reject_reason(), RejectReason::IP_MISSING_DIGEST);
        // The keyed side's signed DISCONNECT makes the unkeyed side name the problem too.
        let back = keyed.reject(NOW, &e);
        let Err(e2) = plain_side.open(NOW, &back, &mut Vec::new()) else { panic!("signed accepted unkeyed") };
        assert!(matches!(e2, LinkError::DigestNotConfigured { partner_said: Some(_) }), "{e2}");
        assert!(e2.to_string().contains("missing message digest"), "{e2}");
    }

    #[test]
    fn a_message_is_accepted_once() {
        let (mut a, mut b) = handshake(key(b"s"), key(b"s"));
        let st = sealed(&mut a, &Message::state(NOW, 1, State::NORMAL, crate::wire::ServerFlags::NONE, NOW));
        assert!(b.open(NOW, &st, &mut Vec::new()).is_ok());
        let again = b.open(NOW, &st, &mut Vec::new());
        assert!(matches!(again, Err(LinkError::Replay(_))), "{again:?}");
    }

    #[test]
    fn xids_must_grow_and_responses_must_answer_our_requests() {
        let (mut a, mut b) = handshake(key(b"s"), key(b"s"));
        let st5 = sealed(&mut a, &Message::contact(NOW, 5));
        assert!(b.open(NOW, &st5, &mut Vec::new()).is_ok());
        let st3 = sealed(&mut a, &Message::contact(NOW, 3));
        assert!(matches!(b.open(NOW, &st3, &mut Vec::new()), Err(LinkError::Replay(_))));
        // A BNDACK for a BNDUPD the primary never sent.
        let (mut a, mut b) = handshake(key(b"s"), key(b"s"));
        let ack = sealed(&mut b, &Message::bndack(NOW, 9, std::net::Ipv4Addr::new(198, 18, 0, 9), None));
        assert!(matches!(a.open(NOW, &ack, &mut Vec::new()), Err(LinkError::Replay(_))));
        // For one it sent: accepted once.
        let (mut a, mut b) = handshake(key(b"s"), key(b"s"));
        let upd = sealed(&mut a, &Message::bndupd(NOW, 9, &crate::testing::test_binding(9, NOW + 100)));
        assert!(b.open(NOW, &upd, &mut Vec::new()).is_ok());
        let ack = sealed(&mut b, &Message::bndack(NOW, 9, std::net::Ipv4Addr::new(10, 0, 0, 9), None));
        assert!(a.open(NOW, &ack, &mut Vec::new()).is_ok());
        assert!(matches!(a.open(NOW, &ack, &mut Vec::new()), Err(LinkError::Replay(_))));
    }

    #[test]
    fn a_recorded_conversation_stops_at_its_first_message_on_a_new_connection() {
        let (mut a, mut b) = handshake(key(b"s"), key(b"s"));
        let st = sealed(&mut a, &Message::state(NOW, 1, State::NORMAL, crate::wire::ServerFlags::NONE, NOW));
        let _ = b.open(NOW, &st, &mut Vec::new());
        // New connection, new nonce: the recording's CONNECT still verifies (first message)…
        let mut fresh = LinkGuard::new(key(b"s"), [3; 8], None);
        let recorded_connect = {
            let mut g = LinkGuard::new(key(b"s"), [1; 8], None);
            sealed(&mut g, &connect(NOW))
        };
        assert!(fresh.open(NOW, &recorded_connect, &mut Vec::new()).is_ok());
        // …but the next recorded message echoes the old connection's nonce.
        let e = fresh.open(NOW, &st, &mut Vec::new());
        assert!(matches!(e, Err(LinkError::Replay(_))), "{e:?}");
    }

    #[test]
    fn reflected_messages_are_refused() {
        let mut a = LinkGuard::new(key(b"s"), [1; 8], None);
        let c = sealed(&mut a, &connect(NOW));
        assert!(matches!(a.open(NOW, &c, &mut Vec::new()), Err(LinkError::Replay(_))));
    }

    #[test]
    fn messages_outside_the_time_window_are_refused() {
        let mut a = LinkGuard::new(key(b"s"), [1; 8], None);
        let mut b = LinkGuard::new(key(b"s"), [2; 8], None);
        let late = sealed(&mut a, &connect(NOW - 61));
        let e = b.open(NOW, &late, &mut Vec::new());
        assert_eq!(e, Err(LinkError::TimeWindow { skew: -61 }));
        let mut b = LinkGuard::new(key(b"s"), [2; 8], None);
        assert!(b.open(NOW, &sealed(&mut a, &connect(NOW + 60)), &mut Vec::new()).is_ok());
    }

    #[test]
    fn tls_bytes_on_a_plain_link_are_named() {
        let mut g = LinkGuard::new(None, [1; 8], None);
        let hello = [0x16, 0x03, 0x01, 0x00, 0xc8, 0x01];
        assert_eq!(g.open(NOW, &hello, &mut Vec::new()), Err(LinkError::TlsNotConfigured));
    }

    #[test]
    fn config_digest_goes_only_to_an_xdhcpd_partner() {
        for (vendor, expect) in [("xdhcpd-0.1.0", true), ("isc-4.4.3-P1", false)] {
            let mut sec =
                LinkGuard::new(None, [2; 8], Some(vec![1, 4, b'm', b'c', b'l', b't', 0, 0, 0, 0, 0, 0, 0, 0]));
            let c = Message::connect(NOW, 0, &params(vendor), 120, Some(&[0xff; 32]));
            sec.open(NOW, &encode_to_vec(&c).unwrap_or_default(), &mut Vec::new()).unwrap_or_else(|e| panic!("{e}"));
            let ack = sealed(&mut sec, &Message::connectack(NOW, &c, &params("xdhcpd-0.1.0"), None));
            assert_eq!(find_option(&ack, XDHCPD_CONFIG_OPTION).is_some(), expect, "{vendor}");
            let mut prim = LinkGuard::new(None, [1; 8], None);
            prim.open(NOW, &ack, &mut Vec::new()).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(prim.take_partner_config().is_some(), expect);
            // Once per connection.
            let st = sealed(&mut sec, &Message::contact(NOW, 1));
            assert!(find_option(&st, XDHCPD_CONFIG_OPTION).is_none());
        }
    }

    #[test]
    fn an_oversize_config_digest_is_dropped_not_the_message() {
        let mut sec = LinkGuard::new(key(b"s"), [2; 8], Some(vec![1; 2100]));
        let c = Message::connect(NOW, 0, &params("xdhcpd-0.1.0"), 120, Some(&[0xff; 32]));
        let mut prim = LinkGuard::new(key(b"s"), [1; 8], None);
        sec.open(NOW, &sealed(&mut prim, &c), &mut Vec::new()).unwrap_or_else(|e| panic!("{e}"));
        let ack = sealed(&mut sec, &Message::connectack(NOW, &c, &params("xdhcpd-0.1.0"), None));
        assert!(find_option(&ack, XDHCPD_CONFIG_OPTION).is_none());
        assert!(prim.open(NOW, &ack, &mut Vec::new()).is_ok());
    }

    /// Two real peers behind guards, driven to quiescence. Returns each side's states seen.
    fn run_pair(ka: Option<LinkKey>, kb: Option<LinkKey>) -> (State, State, Vec<LinkError>) {
        let (a, b, errors, _) = run_skewed_pair(ka, kb, 0);
        (a, b, errors)
    }

    /// As `run_pair`, with the secondary's clock `skew` seconds ahead; also returns each
    /// side's peer log lines.
    fn run_skewed_pair(
        ka: Option<LinkKey>,
        kb: Option<LinkKey>,
        skew: u32,
    ) -> (State, State, Vec<LinkError>, [Vec<String>; 2]) {
        let saved = PersistedState {
            my_state: State::NORMAL,
            my_stos: NOW - 100,
            partner_state: State::NORMAL,
            partner_stos: NOW - 100,
            mclt: 120,
        };
        let clock = [Time { unix: NOW, mono_ms: 0 }, Time { unix: NOW + skew, mono_ms: 0 }];
        let mut peers = [
            Peer::new(test_config(Role::Primary), Some(saved), clock[0]),
            Peer::new(test_config(Role::Secondary), Some(saved), clock[1]),
        ];
        let mut guards = [LinkGuard::new(ka, [1; 8], None), LinkGuard::new(kb, [2; 8], None)];
        let mut errors = Vec::new();
        let mut logs: [Vec<String>; 2] = [Vec::new(), Vec::new()];
        for (p, now) in peers.iter_mut().zip(clock) {
            p.handle_link_up(now);
        }
        let mut closed = false;
        for _ in 0..1000 {
            let mut moved = false;
            for from in 0..2 {
                let to = 1 - from;
                while let Some(e) = peers[from].poll_event() {
                    if let Event::Log(l) = e {
                        logs[from].push(l);
                    }
                }
                let mut raw = Vec::new();
                if !peers[from].poll_transmit(&mut raw) || closed {
                    continue;
                }
                moved = true;
                let mut wire = Vec::new();
                guards[from].seal(&raw, &mut wire).unwrap_or_else(|e| panic!("{e}"));
                let mut plain = Vec::new();
                if let Err(e) = guards[to].open(clock[to].unix, &wire, &mut plain) {
                    let back = guards[to].reject(clock[to].unix, &e);
                    errors.push(e);
                    if let Err(e) = guards[from].open(clock[from].unix, &back, &mut Vec::new()) {
                        errors.push(e);
                    }
                    closed = true;
                    peers[0].handle_link_down(clock[0]);
                    peers[1].handle_link_down(clock[1]);
                    continue;
                }
                peers[to].handle_bytes(clock[to], &plain);
            }
            if !moved {
                break;
            }
        }
        for (i, p) in peers.iter_mut().enumerate() {
            while let Some(e) = p.poll_event() {
                assert!(!matches!(e, Event::Fatal(_)));
                if let Event::Log(l) = e {
                    logs[i].push(l);
                }
            }
        }
        (peers[0].state(), peers[1].state(), errors, logs)
    }

    #[test]
    fn clock_skew_above_60_s_is_refused_on_both_sides() {
        // Unkeyed: the peers' own CONNECT check refuses, and each side logs it.
        let (a, b, errors, logs) = run_skewed_pair(None, None, 61);
        assert_ne!(a, State::NORMAL);
        assert_ne!(b, State::NORMAL);
        assert!(errors.is_empty());
        assert!(logs[1].iter().any(|l| l.contains("CONNECT rejected: time offset too large")), "{:?}", logs[1]);
        assert!(logs[0].iter().any(|l| l.contains("CONNECT rejected: time mismatch too great")), "{:?}", logs[0]);
        // Keyed: the guards refuse first, on both sides, naming the skew.
        let (a, b, errors, _) = run_skewed_pair(key(b"s"), key(b"s"), 61);
        assert_ne!(a, State::NORMAL);
        assert_ne!(b, State::NORMAL);
        assert_eq!(errors, vec![LinkError::TimeWindow { skew: -61 }, LinkError::TimeWindow { skew: 61 }]);
        // 60 s is still accepted (dhcpd's bound is inclusive).
        let (a, b, errors, _) = run_skewed_pair(key(b"s"), key(b"s"), 60);
        assert_eq!((a, b, errors), (State::NORMAL, State::NORMAL, vec![]));
        let (a, b, errors, _) = run_skewed_pair(None, None, 60);
        assert_eq!((a, b, errors), (State::NORMAL, State::NORMAL, vec![]));
    }

    #[test]
    fn same_key_reaches_normal_through_the_guards() {
        assert_eq!(run_pair(key(b"s"), key(b"s")), (State::NORMAL, State::NORMAL, vec![]));
        assert_eq!(run_pair(None, None), (State::NORMAL, State::NORMAL, vec![]));
    }

    #[test]
    fn mismatches_keep_both_out_of_normal_with_an_error_on_each_side() {
        for (ka, kb) in [(key(b"s"), key(b"t")), (key(b"s"), None), (None, key(b"s"))] {
            let (a, b, errors) = run_pair(ka, kb);
            assert_ne!(a, State::NORMAL);
            assert_ne!(b, State::NORMAL);
            assert_eq!(errors.len(), 2, "{errors:?}");
        }
    }
}
