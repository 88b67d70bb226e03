//! Server side of one OMAPI connection, sans-IO.
//!
//! Feed received bytes to [`Session::handle_bytes`], write whatever [`Session::poll_transmit`]
//! hands out, answer every [`Request`] from [`Session::poll_request`] with
//! [`Session::respond`]. The session does the intro, the authenticator exchange, signature
//! checks, NOTIFY and unknown operations itself.

use std::collections::{HashMap, VecDeque};

use crate::auth::Key;
use crate::object::{HostAttrs, LeaseLookup, LeaseUpdate, ObjectType, Value, to_values};
use crate::result::ResultCode;
use crate::wire::{EncodeError, Intro, Message, Op, Values, WireError};

/// Identifies a [`Request`] for [`Session::respond`]. Unique within a session.
pub type RequestId = u64;

/// Message text dhcpd uses for lookups that match nothing (omshell prints "not found").
pub const NOT_FOUND_MESSAGE: &str = "no object matches specification";

/// Tunables, mostly so that tests can reproduce dhcpd's handles and ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionConfig {
    /// Id of the first message this session sends; later ones count up (dhcpd uses `random()`).
    pub first_message_id: u32,
    /// Handle of the first authenticator established on this connection; later ones count up.
    /// dhcpd draws handles from one table shared with objects, so the caller should hand out
    /// object handles that do not collide with these.
    pub first_auth_handle: u32,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig { first_message_id: 1, first_auth_handle: 1 }
    }
}

/// Why a session stopped. The connection must be closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    #[error("OMAPI wire error: {0}")]
    Wire(#[from] WireError),
    #[error("unsolicited reply from client (op {op}, rid {rid:#x})")]
    UnsolicitedReply { op: u32, rid: u32 },
    #[error("session is closed")]
    Closed,
}

/// Errors from [`Session::respond`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RespondError {
    #[error("no outstanding request {0}")]
    UnknownRequest(RequestId),
    #[error("cannot encode response: {0}")]
    Encode(#[from] EncodeError),
    #[error("session is closed")]
    Closed,
}

/// An object operation the server must answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub id: RequestId,
    /// The client's message id (the reply's `rid`).
    pub message_id: u32,
    /// The authenticator the request was signed with (0 = unsigned, no keys configured).
    pub authid: u32,
    pub kind: RequestKind,
}

/// The raw operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestKind {
    /// Look up (or with `create`, make) an object. Answer with [`Response::Object`] or a STATUS.
    Open { object: ObjectType, create: bool, update: bool, exclusive: bool, values: Values },
    /// Send every attribute of the object behind `handle`.
    Refresh { handle: u32, object: Option<ObjectType> },
    /// Set the given attributes. Answer with STATUS (success = 0).
    Update { handle: u32, object: Option<ObjectType>, values: Values },
    /// Remove the object. Answer with STATUS.
    Delete { handle: u32, object: Option<ObjectType> },
}

/// A typed reading of a request, for the object types dhcpd's omshell users use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// OPEN lease by handle / ip-address / dhcp-client-identifier / hardware-address(+type).
    OpenLease(LeaseLookup),
    /// OPEN lease with `create`: dhcpd does not support it (answer NOTIMPLEMENTED).
    CreateLease,
    /// OPEN host (lookup), or with `create` a new host from these attributes.
    OpenHost {
        attrs: HostAttrs,
        create: bool,
        exclusive: bool,
        update: bool,
    },
    /// OPEN failover-state by `name` (or `handle`).
    OpenFailoverState {
        name: Option<String>,
        handle: Option<u32>,
    },
    /// OPEN control (a single object matches any lookup).
    OpenControl,
    UpdateLease {
        handle: u32,
        update: LeaseUpdate,
    },
    UpdateHost {
        handle: u32,
        attrs: HostAttrs,
    },
    /// UPDATE failover-state; `local_state` is the only effective setter in dhcpd
    /// (not validated; 4 = partner-down, 8 = shutdown).
    UpdateFailoverState {
        handle: u32,
        local_state: Option<u32>,
    },
    /// UPDATE control: `state` 2 = shutdown; anything else gives INVALIDARG.
    UpdateControl {
        handle: u32,
        state: Option<u32>,
    },
    Refresh {
        handle: u32,
        object: Option<ObjectType>,
    },
    Delete {
        handle: u32,
        object: Option<ObjectType>,
    },
    /// An attribute had the wrong size or encoding; answer INVALIDARG.
    Invalid(crate::object::AttrError),
    /// Anything else: look at [`Request::kind`].
    Other,
}

impl Request {
    /// A typed view of the request.
    pub fn action(&self) -> Action {
        match &self.kind {
            RequestKind::Open { object, create, update, exclusive, values } => match object {
                ObjectType::Lease if *create => Action::CreateLease,
                ObjectType::Lease => match LeaseLookup::from_values(values) {
                    Ok(l) => Action::OpenLease(l),
                    Err(e) => Action::Invalid(e),
                },
                ObjectType::Host => match HostAttrs::from_values(values) {
                    Ok(attrs) => Action::OpenHost { attrs, create: *create, exclusive: *exclusive, update: *update },
                    Err(e) => Action::Invalid(e),
                },
                ObjectType::FailoverState => Action::OpenFailoverState {
                    name: values.get_str("name").map(str::to_owned),
                    handle: values.get_u32("handle"),
                },
                ObjectType::Control => Action::OpenControl,
                ObjectType::Other(_) => Action::Other,
            },
            RequestKind::Update { handle, object, values } => {
                let handle = *handle;
                match object {
                    Some(ObjectType::Lease) => match LeaseUpdate::from_values(values) {
                        Ok(update) => Action::UpdateLease { handle, update },
                        Err(e) => Action::Invalid(e),
                    },
                    Some(ObjectType::Host) => match HostAttrs::from_values(values) {
                        Ok(attrs) => Action::UpdateHost { handle, attrs },
                        Err(e) => Action::Invalid(e),
                    },
                    Some(ObjectType::FailoverState) => {
                        Action::UpdateFailoverState { handle, local_state: values.get_uint("local-state") }
                    }
                    Some(ObjectType::Control) => Action::UpdateControl { handle, state: values.get_uint("state") },
                    _ => Action::Other,
                }
            }
            RequestKind::Refresh { handle, object } => Action::Refresh { handle: *handle, object: object.clone() },
            RequestKind::Delete { handle, object } => Action::Delete { handle: *handle, object: object.clone() },
        }
    }
}

/// The server's answer to a [`Request`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// An UPDATE carrying the object's attributes, in this order.
    Object { handle: u32, values: Values },
    /// A STATUS with a result code and optional message text.
    Status { result: ResultCode, message: Option<String> },
}

impl Response {
    /// Object reply from typed attributes.
    pub fn object<N: Into<String>>(handle: u32, attrs: impl IntoIterator<Item = (N, Value)>) -> Response {
        Response::Object { handle, values: to_values(attrs) }
    }

    pub fn status(result: ResultCode, message: Option<&str>) -> Response {
        Response::Status { result, message: message.map(str::to_owned) }
    }

    /// STATUS success (the answer to UPDATE and DELETE).
    pub fn ok() -> Response {
        Response::status(ResultCode::SUCCESS, None)
    }

    /// STATUS NOTFOUND "no object matches specification".
    pub fn not_found() -> Response {
        Response::status(ResultCode::NOTFOUND, Some(NOT_FOUND_MESSAGE))
    }
}

/// Why the session refused a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefusalReason {
    /// Keys are configured and the message carried no authenticator (DHCP_R_NOKEYS).
    Unsigned,
    /// The authid names no authenticator of this connection (DHCP_R_KEY_UNKNOWN).
    UnknownAuthenticator(u32),
    /// The signature did not verify (DHCP_R_INVALIDKEY).
    BadSignature,
    /// An authenticator OPEN named a key/algorithm we do not have (ISC_R_NOTFOUND).
    UnknownKey { name: String, algorithm: String },
}

/// A refused message, for logging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub message_id: u32,
    pub op: u32,
    pub authid: u32,
    pub reason: RefusalReason,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    AwaitIntro,
    Running { header_size: u32 },
    Closed,
}

#[derive(Debug, Clone)]
struct Authenticator {
    handle: u32,
    key: usize,
}

#[derive(Debug, Clone)]
struct Pending {
    message_id: u32,
    authid: u32,
    object: Option<ObjectType>,
    /// Set for DELETE: the handle to forget once the delete succeeded.
    delete_handle: Option<u32>,
}

/// One server-side OMAPI connection.
#[derive(Debug)]
pub struct Session {
    keys: Vec<Key>,
    state: State,
    inbuf: Vec<u8>,
    out: Vec<u8>,
    next_message_id: u32,
    next_auth_handle: u32,
    auths: Vec<Authenticator>,
    next_request: RequestId,
    pending: HashMap<RequestId, Pending>,
    requests: VecDeque<Request>,
    handles: HashMap<u32, ObjectType>,
    refused: u64,
    refusals: VecDeque<Refusal>,
}

/// At most this many refusals are kept for [`Session::poll_refusal`]; the count goes on.
const MAX_REFUSALS_KEPT: usize = 64;

impl Session {
    /// A session that requires every message to be signed with one of `keys`
    /// (no keys: unsigned messages are accepted, as dhcpd without `omapi-key`).
    pub fn new(keys: Vec<Key>) -> Session {
        Session::with_config(keys, SessionConfig::default())
    }

    pub fn with_config(keys: Vec<Key>, config: SessionConfig) -> Session {
        let mut out = Vec::new();
        Intro::STANDARD.encode(&mut out);
        Session {
            keys,
            state: State::AwaitIntro,
            inbuf: Vec::new(),
            out,
            next_message_id: config.first_message_id,
            next_auth_handle: config.first_auth_handle,
            auths: Vec::new(),
            next_request: 1,
            pending: HashMap::new(),
            requests: VecDeque::new(),
            handles: HashMap::new(),
            refused: 0,
            refusals: VecDeque::new(),
        }
    }

    /// Feed bytes received from the client. An error means: close the connection.
    pub fn handle_bytes(&mut self, bytes: &[u8]) -> Result<(), SessionError> {
        if self.state == State::Closed {
            return Err(SessionError::Closed);
        }
        self.inbuf.extend_from_slice(bytes);
        let res = self.drain();
        if res.is_err() {
            self.state = State::Closed;
            self.inbuf = Vec::new();
            self.requests.clear();
            self.pending.clear();
        }
        res
    }

    fn drain(&mut self) -> Result<(), SessionError> {
        let mut consumed = 0;
        let res = loop {
            let buf = self.inbuf.get(consumed..).unwrap_or_default();
            match self.state {
                State::Closed => break Err(SessionError::Closed),
                State::AwaitIntro => match Intro::decode(buf) {
                    Ok(Some(intro)) => {
                        consumed += crate::wire::INTRO_LEN;
                        self.state = State::Running { header_size: intro.header_size };
                    }
                    Ok(None) => break Ok(()),
                    Err(e) => break Err(e.into()),
                },
                State::Running { header_size } => match Message::decode(buf, header_size) {
                    Ok(Some(d)) => {
                        let signed = buf.get(d.signed.clone()).unwrap_or_default().to_vec();
                        consumed += d.len;
                        if let Err(e) = self.process(d.message, &signed) {
                            break Err(e);
                        }
                    }
                    Ok(None) => break Ok(()),
                    Err(e) => break Err(e.into()),
                },
            }
        };
        self.inbuf.drain(..consumed.min(self.inbuf.len()));
        res
    }

    /// Move bytes to send into `out`. Returns true if any were added.
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) -> bool {
        if self.out.is_empty() {
            return false;
        }
        out.append(&mut self.out);
        true
    }

    /// The next operation to answer.
    pub fn poll_request(&mut self) -> Option<Request> {
        self.requests.pop_front()
    }

    /// The next refused message (kept for logging; at most 64 are buffered).
    pub fn poll_refusal(&mut self) -> Option<Refusal> {
        self.refusals.pop_front()
    }

    /// How many messages were refused (unsigned, unknown authenticator, bad signature, unknown key).
    pub fn refused_count(&self) -> u64 {
        self.refused
    }

    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// Requests handed out and not yet answered.
    pub fn outstanding(&self) -> usize {
        self.pending.len() + self.requests.len()
    }

    /// The object type the session remembers for a handle it has sent in an object reply.
    pub fn handle_type(&self, handle: u32) -> Option<&ObjectType> {
        self.handles.get(&handle)
    }

    /// Answer a request. Object replies go out as UPDATE (handle, rid = request's id),
    /// statuses as STATUS; both are signed with the request's authenticator.
    pub fn respond(&mut self, id: RequestId, response: Response) -> Result<(), RespondError> {
        if self.state == State::Closed {
            return Err(RespondError::Closed);
        }
        let p = self.pending.get(&id).ok_or(RespondError::UnknownRequest(id))?.clone();
        let (msg, success) = match response {
            Response::Object { handle, values } => (
                Message { op: Op::Update.to_u32(), handle, rid: p.message_id, object: values, ..Message::default() },
                Some(handle),
            ),
            Response::Status { result, message } => {
                let mut mv = Values::new().with("result", result.0.to_be_bytes());
                if let Some(m) = message {
                    mv.push("message", m.into_bytes());
                }
                let ok = result.is_success();
                (
                    Message { op: Op::Status.to_u32(), rid: p.message_id, message: mv, ..Message::default() },
                    if ok { Some(0) } else { None },
                )
            }
        };
        self.send(p.authid, msg)?;
        self.pending.remove(&id);
        match (success, p.delete_handle) {
            (Some(0), Some(h)) => {
                self.handles.remove(&h);
            }
            (Some(handle), _) if handle != 0 => {
                if let Some(obj) = p.object {
                    self.handles.insert(handle, obj);
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Sign (if `authid` != 0) and queue a message, giving it the next message id.
    fn send(&mut self, authid: u32, mut msg: Message) -> Result<(), EncodeError> {
        msg.id = self.next_message_id;
        msg.authid = authid;
        msg.signature.clear();
        let key = self.auths.iter().find(|a| a.handle == authid).and_then(|a| self.keys.get(a.key));
        let mut buf = Vec::new();
        match (authid, key) {
            (0, _) | (_, None) => {
                msg.authid = 0;
                msg.encode(&mut buf)?;
            }
            (_, Some(k)) => k.encode_signed(&mut msg, authid, &mut buf)?,
        }
        self.out.extend_from_slice(&buf);
        self.next_message_id = self.next_message_id.wrapping_add(1);
        Ok(())
    }

    fn send_status(&mut self, authid: u32, rid: u32, result: ResultCode, message: Option<&str>) {
        let mut mv = Values::new().with("result", result.0.to_be_bytes());
        if let Some(m) = message {
            mv.push("message", m.as_bytes());
        }
        let msg = Message { op: Op::Status.to_u32(), rid, message: mv, ..Message::default() };
        // Fixed, valid names: encoding cannot fail.
        let _ = self.send(authid, msg);
    }

    fn refuse(&mut self, m: &Message, reply_authid: u32, reason: RefusalReason) {
        let (code, text) = match &reason {
            RefusalReason::Unsigned => (ResultCode::NOKEYS, Some("No authenticator on message")),
            RefusalReason::UnknownAuthenticator(_) => (ResultCode::KEY_UNKNOWN, None),
            RefusalReason::BadSignature => (ResultCode::INVALIDKEY, None),
            RefusalReason::UnknownKey { .. } => (ResultCode::NOTFOUND, Some(NOT_FOUND_MESSAGE)),
        };
        self.send_status(reply_authid, m.id, code, text);
        self.refused += 1;
        if self.refusals.len() < MAX_REFUSALS_KEPT {
            self.refusals.push_back(Refusal { message_id: m.id, op: m.op, authid: m.authid, reason });
        }
    }

    fn process(&mut self, m: Message, signed: &[u8]) -> Result<(), SessionError> {
        let op = m.op();
        // The server never asks anything, so every reply (or STATUS) from a client is unsolicited.
        if m.rid != 0 || op == Op::Status {
            return Err(SessionError::UnsolicitedReply { op: m.op, rid: m.rid });
        }

        // Authentication.
        let signed_ok = if m.authid == 0 {
            false
        } else {
            let Some(key) = self.auths.iter().find(|a| a.handle == m.authid).and_then(|a| self.keys.get(a.key)) else {
                self.refuse(&m, 0, RefusalReason::UnknownAuthenticator(m.authid));
                return Ok(());
            };
            if m.signature.len() != key.algorithm().digest_len() || !key.verify(signed, &m.signature) {
                self.refuse(&m, m.authid, RefusalReason::BadSignature);
                return Ok(());
            }
            true
        };

        let type_name = m.message.get_str("type").map(str::to_owned);
        if op == Op::Open && type_name.as_deref() == Some("authenticator") {
            self.open_authenticator(&m);
            return Ok(());
        }
        if !signed_ok && !self.keys.is_empty() {
            self.refuse(&m, 0, RefusalReason::Unsigned);
            return Ok(());
        }
        let authid = if signed_ok { m.authid } else { 0 };

        let is_auth_handle = self.auths.iter().any(|a| a.handle == m.handle);
        let kind = match op {
            Op::Open => {
                let Some(type_name) = type_name else {
                    if m.message.get_uint("create").unwrap_or(0) != 0 {
                        self.send_status(authid, m.id, ResultCode::INVALIDARG, Some("type required on create"));
                        return Ok(());
                    }
                    if m.handle == 0 {
                        self.send_status(authid, m.id, ResultCode::NOTFOUND, Some(NOT_FOUND_MESSAGE));
                        return Ok(());
                    }
                    // OPEN by handle without a type: a refresh.
                    return self.handle_refresh(authid, &m, is_auth_handle);
                };
                let flag = |n: &str| m.message.get_uint(n).unwrap_or(0) != 0;
                RequestKind::Open {
                    object: ObjectType::from_name(&type_name),
                    create: flag("create"),
                    update: flag("update"),
                    exclusive: flag("exclusive"),
                    values: m.object.clone(),
                }
            }
            Op::Refresh => return self.handle_refresh(authid, &m, is_auth_handle),
            Op::Update if is_auth_handle => {
                self.send_status(authid, m.id, ResultCode::NOPERM, None);
                return Ok(());
            }
            Op::Update => RequestKind::Update {
                handle: m.handle,
                object: self.handles.get(&m.handle).cloned(),
                values: m.object.clone(),
            },
            Op::Delete if is_auth_handle => {
                self.send_status(authid, m.id, ResultCode::NOTIMPLEMENTED, None);
                return Ok(());
            }
            Op::Delete => RequestKind::Delete { handle: m.handle, object: self.handles.get(&m.handle).cloned() },
            Op::Notify => {
                self.send_status(authid, m.id, ResultCode::NOTIMPLEMENTED, Some("notify not implemented yet"));
                return Ok(());
            }
            Op::Status | Op::Unknown(_) => {
                self.send_status(authid, m.id, ResultCode::NOTIMPLEMENTED, Some("unknown operation"));
                return Ok(());
            }
        };
        self.enqueue(m.id, authid, kind);
        Ok(())
    }

    fn handle_refresh(&mut self, authid: u32, m: &Message, is_auth_handle: bool) -> Result<(), SessionError> {
        if is_auth_handle {
            let found = self
                .auths
                .iter()
                .find(|a| a.handle == m.handle)
                .and_then(|a| self.keys.get(a.key))
                .map(|k| (k.name().to_owned(), k.algorithm().wire_name()));
            if let Some((name, alg)) = found {
                self.send_auth_update(authid, m.id, m.handle, &name, alg);
            }
            return Ok(());
        }
        let kind = RequestKind::Refresh { handle: m.handle, object: self.handles.get(&m.handle).cloned() };
        self.enqueue(m.id, authid, kind);
        Ok(())
    }

    fn enqueue(&mut self, message_id: u32, authid: u32, kind: RequestKind) {
        let id = self.next_request;
        self.next_request += 1;
        let object = match &kind {
            RequestKind::Open { object, .. } => Some(object.clone()),
            RequestKind::Refresh { object, .. }
            | RequestKind::Update { object, .. }
            | RequestKind::Delete { object, .. } => object.clone(),
        };
        let delete_handle = match kind {
            RequestKind::Delete { handle, .. } => Some(handle),
            _ => None,
        };
        self.pending.insert(id, Pending { message_id, authid, object, delete_handle });
        self.requests.push_back(Request { id, message_id, authid, kind });
    }

    fn open_authenticator(&mut self, m: &Message) {
        let name = m.object.get_str("name").unwrap_or_default().to_owned();
        let algorithm = m.object.get_str("algorithm").map(str::to_owned);
        let found = self.keys.iter().position(|k| {
            k.name() == name
                && algorithm.as_deref().is_none_or(|a| crate::auth::Algorithm::from_name(a) == Some(k.algorithm()))
        });
        let Some(key) = found else {
            self.refuse(m, m.authid, RefusalReason::UnknownKey { name, algorithm: algorithm.unwrap_or_default() });
            return;
        };
        let handle = self.next_auth_handle;
        self.next_auth_handle = self.next_auth_handle.wrapping_add(1).max(1);
        self.auths.retain(|a| a.handle != handle);
        self.auths.push(Authenticator { handle, key });
        let alg = self.keys.get(key).map(|k| k.algorithm().wire_name()).unwrap_or_default();
        // The reply goes out with the request's authid: unsigned for the usual first OPEN.
        self.send_auth_update(m.authid, m.id, handle, &name, alg);
    }

    fn send_auth_update(&mut self, authid: u32, rid: u32, handle: u32, name: &str, alg: &str) {
        let msg = Message {
            op: Op::Update.to_u32(),
            handle,
            rid,
            object: Values::new().with("name", name.as_bytes()).with("algorithm", alg.as_bytes()),
            ..Message::default()
        };
        let _ = self.send(authid, msg);
    }
}
