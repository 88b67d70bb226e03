//! OMAPI (the protocol of ISC `omshell`): a TCP listener on `omapi-port`, one task per
//! connection driving the sans-IO [`dhcp_omapi::Session`], and the objects behind it:
//!
//! - `lease`: looked up by `ip-address`, `hardware-address` (+`hardware-type`) or
//!   `dhcp-client-identifier` in the lease store; read-only here.
//! - `host`: configured hosts (read-only) and hosts created at run time (`create`), which the
//!   engine uses as reservations from the next request on; `remove` deletes those.
//! - `failover-state`: by relationship name; `local-state` 4 (partner-down) and 8 (shutdown)
//!   become operator commands of the relationship's task.
//! - `control`: `state` 2 shuts the server down cleanly.
//!
//! With `omapi-key NAME;` every message must be signed with that key; the session refuses
//! the rest and we log each refusal.

use super::failover::Input;
use crate::dhcp::{Engine, HostCfg};
use crate::lease::{BindingState, Lease};
use dhcp_config::{FailoverPeer, PeerAddress};
use dhcp_failover::{Command, Role, State};
use dhcp_omapi::{
    Action, HostAttrs, Key, LeaseLookup, ObjectType, Request, Response, ResultCode, Session, SessionConfig, Value,
};
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::sync::mpsc::UnboundedSender;

pub use super::failover::Rels;

/// At most this many OMAPI connections at once (dhcpd has no limit; omshell opens one).
const MAX_CONNECTIONS: usize = 32;
/// Object handles of a connection start here; authenticator handles count up from 1.
const FIRST_OBJECT_HANDLE: u32 = 0x100;
/// How long an `update` of `local-state` waits for the relationship to reach the state, so
/// that a following `refresh` shows it.
const STATE_SETTLE: Duration = Duration::from_secs(2);

struct Shared {
    engine: Arc<Engine>,
    rels: Rels,
    keys: Vec<Key>,
    peers: Vec<FailoverPeer>,
    shutdown: Arc<Notify>,
    journal: super::journal::JournalHandle,
}

/// Start the OMAPI listener if `omapi-port` is configured. `shutdown` is notified when a
/// client sets control `state = 2`.
pub fn spawn(
    config: &dhcp_config::Config,
    engine: Arc<Engine>,
    rels: Rels,
    shutdown: Arc<Notify>,
    journal: super::journal::JournalHandle,
) {
    let Some(port) = config.omapi_port else { return };
    let keys = match &config.omapi_key {
        None => {
            tracing::warn!(port, "OMAPI without omapi-key: unsigned requests are accepted");
            Vec::new()
        }
        Some(name) => {
            let Some(k) = config.keys.iter().find(|k| &k.name == name) else {
                tracing::error!(key = %name, "omapi-key names no key; OMAPI disabled");
                return;
            };
            match Key::hmac_md5(k.name.clone(), k.secret.clone()) {
                Ok(k) => vec![k],
                Err(e) => {
                    tracing::error!(key = %name, "omapi-key unusable ({e}); OMAPI disabled");
                    return;
                }
            }
        }
    };
    let listener = match std::net::TcpListener::bind((Ipv4Addr::UNSPECIFIED, port))
        .and_then(|l| l.set_nonblocking(true).map(|()| l))
        .and_then(TcpListener::from_std)
    {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(port, "OMAPI: cannot listen on port {port}: {e}; OMAPI disabled");
            return;
        }
    };
    tracing::info!(port, signed = !keys.is_empty(), "OMAPI listening");
    let shared = Arc::new(Shared { engine, rels, keys, peers: config.failover_peers.clone(), shutdown, journal });
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    tokio::spawn(async move {
        loop {
            let (stream, from) = match listener.accept().await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!("OMAPI accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let Ok(permit) = slots.clone().try_acquire_owned() else {
                tracing::warn!(%from, "OMAPI: too many connections; closing");
                continue;
            };
            let shared = shared.clone();
            tokio::spawn(async move {
                serve(stream, from, &shared).await;
                drop(permit);
            });
        }
    });
}

/// What a connection's handles refer to.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Obj {
    Lease(Ipv4Addr),
    Host(String),
    Failover(String),
    Control,
}

/// Handles given out on one connection (the session remembers their types).
struct Objects {
    next: u32,
    by_handle: HashMap<u32, Obj>,
}

impl Objects {
    fn new() -> Objects {
        Objects { next: FIRST_OBJECT_HANDLE, by_handle: HashMap::new() }
    }

    fn handle_for(&mut self, obj: Obj) -> u32 {
        if let Some((h, _)) = self.by_handle.iter().find(|(_, o)| **o == obj) {
            return *h;
        }
        let h = self.next;
        self.next = self.next.wrapping_add(1).max(FIRST_OBJECT_HANDLE);
        self.by_handle.insert(h, obj);
        h
    }

    fn get(&self, h: u32) -> Option<&Obj> {
        self.by_handle.get(&h)
    }
}

/// After answering: anything the connection task must do.
#[derive(PartialEq, Eq)]
enum After {
    Nothing,
    Shutdown,
}

async fn serve(mut stream: TcpStream, from: SocketAddr, shared: &Shared) {
    tracing::info!(%from, "OMAPI connection");
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() ^ (d.as_secs() as u32))
        .unwrap_or(1);
    let mut session = Session::with_config(
        shared.keys.clone(),
        SessionConfig { first_message_id: seed & 0x7fff_ffff, first_auth_handle: 1 },
    );
    let mut objects = Objects::new();
    let mut buf = vec![0u8; 16 * 1024];
    let mut out = Vec::new();
    loop {
        if session.poll_transmit(&mut out) {
            if let Err(e) = stream.write_all(&out).await {
                tracing::debug!(%from, "OMAPI write: {e}");
                break;
            }
            out.clear();
        }
        let n = match stream.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                tracing::debug!(%from, "OMAPI read: {e}");
                break;
            }
        };
        let res = session.handle_bytes(buf.get(..n).unwrap_or_default());
        while let Some(r) = session.poll_refusal() {
            tracing::warn!(
                %from,
                op = r.op,
                message_id = r.message_id,
                authid = r.authid,
                reason = ?r.reason,
                "OMAPI message refused"
            );
        }
        if let Err(e) = res {
            tracing::warn!(%from, "OMAPI: closing connection: {e}");
            break;
        }
        let mut after = After::Nothing;
        while let Some(req) = session.poll_request() {
            let (response, then) = answer(shared, &mut objects, &req).await;
            if let Response::Status { result, message } = &response
                && !result.is_success()
            {
                tracing::info!(%from, action = ?req.action(), %result, message = message.as_deref().unwrap_or(""), "OMAPI request failed");
            }
            if let Err(e) = session.respond(req.id, response) {
                tracing::warn!(%from, "OMAPI respond: {e}");
            }
            if then == After::Shutdown {
                after = After::Shutdown;
            }
        }
        if after == After::Shutdown {
            if session.poll_transmit(&mut out) {
                let _ = stream.write_all(&out).await;
                let _ = stream.flush().await;
                out.clear();
            }
            tracing::info!(%from, "OMAPI: control state 2: shutting down");
            shared.shutdown.notify_one();
        }
    }
    if session.refused_count() > 0 {
        tracing::warn!(%from, refused = session.refused_count(), "OMAPI connection closed after refused messages");
    } else {
        tracing::info!(%from, "OMAPI connection closed");
    }
}

fn status(code: ResultCode, message: &str) -> Response {
    Response::status(code, Some(message))
}

fn not_implemented(what: &str) -> Response {
    status(ResultCode::NOTIMPLEMENTED, what)
}

async fn answer(shared: &Shared, objects: &mut Objects, req: &Request) -> (Response, After) {
    let r = match req.action() {
        Action::OpenLease(q) => match find_lease(shared, objects, &q) {
            Ok(l) => lease_object(objects, &l),
            Err(r) => r,
        },
        Action::CreateLease => not_implemented("leases cannot be created"),
        Action::UpdateLease { .. } => not_implemented("lease updates are not supported"),
        Action::OpenHost { attrs, create, exclusive, update } => {
            open_host(shared, objects, attrs, create, exclusive, update)
        }
        Action::UpdateHost { handle, attrs } => match objects.get(handle) {
            Some(Obj::Host(name)) => {
                let name = name.clone();
                update_host(shared, objects, &name, attrs)
            }
            _ => Response::not_found(),
        },
        Action::OpenFailoverState { name, handle } => {
            let name = match (name, handle.map(|h| objects.get(h))) {
                (Some(n), _) => Some(n),
                (None, Some(Some(Obj::Failover(n)))) => Some(n.clone()),
                _ => None,
            };
            match name {
                Some(n) => failover_object(shared, objects, &n).await,
                None => Response::not_found(),
            }
        }
        Action::UpdateFailoverState { handle, local_state } => match objects.get(handle) {
            Some(Obj::Failover(name)) => {
                let name = name.clone();
                set_local_state(shared, &name, local_state).await
            }
            _ => Response::not_found(),
        },
        Action::OpenControl => control_object(objects),
        Action::UpdateControl { handle, state } => match (objects.get(handle), state) {
            (Some(Obj::Control), Some(2)) => return (Response::ok(), After::Shutdown),
            (Some(Obj::Control), None) => Response::ok(),
            (Some(Obj::Control), Some(_)) => status(ResultCode::INVALIDARG, "only state 2 (shutdown) can be set"),
            _ => Response::not_found(),
        },
        Action::Refresh { handle, .. } => match objects.get(handle).cloned() {
            Some(obj) => refresh(shared, objects, obj).await,
            None => Response::not_found(),
        },
        Action::Delete { handle, .. } => match objects.get(handle).cloned() {
            Some(Obj::Host(name)) => {
                if shared.engine.remove_dynamic_host(&name) {
                    shared.journal.host(deleted_host(&name));
                    tracing::info!(host = %name, "OMAPI: host removed");
                    objects.by_handle.remove(&handle);
                    Response::ok()
                } else if shared.engine.config().hosts.iter().any(|h| h.name == name) {
                    status(ResultCode::NOPERM, "hosts declared in the configuration cannot be removed")
                } else {
                    Response::not_found()
                }
            }
            Some(_) => not_implemented("this object cannot be removed"),
            None => Response::not_found(),
        },
        Action::Invalid(e) => status(ResultCode::INVALIDARG, &e.to_string()),
        Action::Other => match &req.kind {
            dhcp_omapi::RequestKind::Open { object: ObjectType::Other(t), .. } => {
                not_implemented(&format!("object type {t} is not supported"))
            }
            _ => Response::not_found(),
        },
    };
    (r, After::Nothing)
}

async fn refresh(shared: &Shared, objects: &mut Objects, obj: Obj) -> Response {
    match obj {
        Obj::Lease(ip) => match shared.engine.store().get(ip) {
            Some(l) => lease_object(objects, &l),
            None => Response::not_found(),
        },
        Obj::Host(name) => match find_host_by_name(shared, &name) {
            Some((h, _)) => host_object(objects, &h),
            None => Response::not_found(),
        },
        Obj::Failover(name) => failover_object(shared, objects, &name).await,
        Obj::Control => control_object(objects),
    }
}

// ---------------------------------------------------------------------------------------
// lease

/// Pick the one lease among `cands` (bound ones win); MULTIPLE if that is ambiguous.
fn pick(mut cands: Vec<Lease>) -> Result<Option<Lease>, Response> {
    if cands.len() > 1 {
        let bound: Vec<Lease> =
            cands.iter().filter(|l| matches!(l.state, BindingState::Active | BindingState::Bootp)).cloned().collect();
        if !bound.is_empty() {
            cands = bound;
        }
    }
    match cands.len() {
        0 => Ok(None),
        1 => Ok(cands.pop()),
        _ => Err(status(ResultCode::MULTIPLE, "more than one object matches key")),
    }
}

fn find_lease(shared: &Shared, objects: &Objects, q: &LeaseLookup) -> Result<Lease, Response> {
    if q.is_empty() {
        return Err(status(ResultCode::NOKEYS, "no key specified"));
    }
    let store = shared.engine.store();
    let mut found: Option<Lease> = None;
    let mut add = |l: Lease| -> Result<(), Response> {
        match &found {
            Some(f) if f.ip != l.ip => Err(status(ResultCode::KEYCONFLICT, "keys match different leases")),
            _ => {
                found = Some(l);
                Ok(())
            }
        }
    };
    if let Some(h) = q.handle {
        match objects.get(h) {
            Some(Obj::Lease(ip)) => add(store.get(*ip).ok_or_else(Response::not_found)?)?,
            Some(_) => return Err(status(ResultCode::INVALIDARG, "handle is not a lease")),
            None => return Err(Response::not_found()),
        }
    }
    if let Some(ip) = q.ip_address {
        add(store.get(ip).ok_or_else(Response::not_found)?)?;
    }
    if q.client_identifier.is_some() || q.hardware.is_some() {
        let all = store.snapshot();
        if let Some(id) = &q.client_identifier {
            let cands = all.iter().filter(|l| l.client.as_ref().and_then(|c| c.client_id()) == Some(id.as_slice()));
            add(pick(cands.cloned().collect())?.ok_or_else(Response::not_found)?)?;
        }
        if let Some(hw) = &q.hardware {
            let cands = all.iter().filter(|l| {
                l.hw.as_ref().is_some_and(|h| u32::from(h.htype) == hw.htype && h.as_slice() == hw.addr.as_slice())
            });
            add(pick(cands.cloned().collect())?.ok_or_else(Response::not_found)?)?;
        }
    }
    found.ok_or_else(Response::not_found)
}

fn lease_object(objects: &mut Objects, l: &Lease) -> Response {
    let handle = objects.handle_for(Obj::Lease(l.ip));
    let mut v: Vec<(&str, Value)> =
        vec![("state", Value::Int(u32::from(l.state.fts_code()))), ("ip-address", Value::Ip(l.ip))];
    if let Some(id) = l.client.as_ref().and_then(|c| c.client_id()) {
        v.push(("dhcp-client-identifier", Value::Bytes(id.to_vec())));
    }
    if let Some(name) = &l.hostname {
        v.push(("client-hostname", Value::Str(name.to_string())));
    }
    if let Some(hw) = &l.hw {
        v.push(("hardware-address", Value::Bytes(hw.as_slice().to_vec())));
        v.push(("hardware-type", Value::Int(u32::from(hw.htype))));
    }
    v.extend([
        ("ends", Value::Int(l.ends)),
        ("starts", Value::Int(l.starts)),
        ("tstp", Value::Int(l.tstp)),
        ("tsfp", Value::Int(l.tsfp)),
        ("atsfp", Value::Int(l.atsfp)),
        ("cltt", Value::Int(l.cltt)),
        ("flags", Value::Byte(0)),
    ]);
    Response::object(handle, v)
}

// ---------------------------------------------------------------------------------------
// host

/// A host by name: (host, declared in the configuration).
fn find_host_by_name(shared: &Shared, name: &str) -> Option<(HostCfg, bool)> {
    if let Some(h) = shared.engine.config().hosts.iter().find(|h| h.name == name) {
        return Some((h.clone(), true));
    }
    shared.engine.dynamic_hosts().into_iter().find(|h| h.name == name).map(|h| (h, false))
}

/// The host a lookup names: by name, else hardware address, client identifier, fixed address.
fn find_host(shared: &Shared, objects: &Objects, a: &HostAttrs) -> Option<(HostCfg, bool)> {
    if let Some(Some(Obj::Host(name))) = a.handle.map(|h| objects.get(h)) {
        return find_host_by_name(shared, name);
    }
    if let Some(name) = &a.name {
        return find_host_by_name(shared, name);
    }
    let all: Vec<(HostCfg, bool)> = shared
        .engine
        .config()
        .hosts
        .iter()
        .cloned()
        .map(|h| (h, true))
        .chain(shared.engine.dynamic_hosts().into_iter().map(|h| (h, false)))
        .collect();
    all.into_iter().find(|(h, _)| {
        a.hardware_address.as_deref().is_some_and(|hw| h.hardware_ethernet.is_some_and(|e| e.as_slice() == hw))
            || a.client_identifier.as_deref().is_some_and(|id| h.client_identifier.as_deref() == Some(id))
            || a.ip_address.is_some_and(|ip| h.fixed_addresses.contains(&ip))
    })
}

fn host_object(objects: &mut Objects, h: &HostCfg) -> Response {
    let handle = objects.handle_for(Obj::Host(h.name.clone()));
    let mut v: Vec<(&str, Value)> = vec![("name", Value::Str(h.name.clone()))];
    if let Some(hw) = h.hardware_ethernet {
        v.push(("hardware-address", Value::Bytes(hw.to_vec())));
        v.push(("hardware-type", Value::Int(1)));
    }
    if let Some(id) = &h.client_identifier {
        v.push(("dhcp-client-identifier", Value::Bytes(id.clone())));
    }
    if let Some(ip) = h.fixed_addresses.first() {
        v.push(("ip-address", Value::Ip(*ip)));
    }
    Response::object(handle, v)
}

/// Apply host attributes to `h` (a new or a run-time host).
fn apply_host_attrs(h: &mut HostCfg, a: &HostAttrs) -> Result<(), Response> {
    if !a.unknown.is_empty() {
        return Err(status(ResultCode::UNKNOWNATTRIBUTE, "can't update object"));
    }
    if a.statements.is_some() {
        return Err(not_implemented("host statements are not supported"));
    }
    if let Some(hw) = &a.hardware_address {
        if a.hardware_type.is_some_and(|t| t != 1) {
            return Err(status(ResultCode::INVALIDARG, "only hardware-type 1 (ethernet) is supported"));
        }
        let mac: [u8; 6] = hw
            .as_slice()
            .try_into()
            .map_err(|_| status(ResultCode::INVALIDARG, "hardware-address must be 6 bytes (ethernet)"))?;
        h.hardware_ethernet = Some(mac);
    }
    if let Some(id) = &a.client_identifier {
        h.client_identifier = Some(id.clone());
    }
    if let Some(ip) = a.ip_address {
        h.fixed_addresses = vec![ip];
    }
    Ok(())
}

fn open_host(
    shared: &Shared,
    objects: &mut Objects,
    attrs: HostAttrs,
    create: bool,
    exclusive: bool,
    update: bool,
) -> Response {
    if !attrs.unknown.is_empty() {
        return status(ResultCode::UNKNOWNATTRIBUTE, "can't update object");
    }
    match find_host(shared, objects, &attrs) {
        Some(_) if create && exclusive => status(ResultCode::EXISTS, "object already exists"),
        Some((h, false)) if update => update_host(shared, objects, &h.name, attrs),
        Some((_, true)) if update => {
            status(ResultCode::NOPERM, "hosts declared in the configuration cannot be changed")
        }
        Some((h, _)) => host_object(objects, &h),
        None if !create => Response::not_found(),
        None => {
            let name = attrs.name.clone().unwrap_or_else(|| {
                let n = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(0);
                format!("nh{n:016x}")
            });
            let mut h = HostCfg {
                name,
                hardware_ethernet: None,
                client_identifier: None,
                fixed_addresses: Vec::new(),
                fixed_address_declared: false,
                identifier: None,
                params: crate::dhcp::Params {
                    // The host has no statements of its own: the global scope's per-packet
                    // ones already ran in the client's scope chain.
                    dynamic: std::sync::Arc::from(Vec::new()),
                    ..shared.engine.config().global.clone()
                },
            };
            if let Err(r) = apply_host_attrs(&mut h, &attrs) {
                return r;
            }
            if !shared.engine.add_dynamic_host(h.clone()) {
                return status(ResultCode::EXISTS, "object already exists");
            }
            shared.journal.host(host_record(&h));
            tracing::info!(
                host = %h.name,
                hardware = ?h.hardware_ethernet.map(|m| m.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")),
                fixed_address = ?h.fixed_addresses.first(),
                "OMAPI: host created"
            );
            host_object(objects, &h)
        }
    }
}

fn update_host(shared: &Shared, objects: &mut Objects, name: &str, attrs: HostAttrs) -> Response {
    match find_host_by_name(shared, name) {
        None => Response::not_found(),
        Some((_, true)) => status(ResultCode::NOPERM, "hosts declared in the configuration cannot be changed"),
        Some((mut h, false)) => {
            if let Err(r) = apply_host_attrs(&mut h, &attrs) {
                return r;
            }
            if let Some(new_name) = &attrs.name
                && new_name != name
            {
                shared.engine.remove_dynamic_host(name);
                shared.journal.host(deleted_host(name));
                objects.by_handle.retain(|_, o| *o != Obj::Host(name.to_string()));
                h.name = new_name.clone();
            }
            if !shared.engine.add_dynamic_host(h.clone()) {
                return status(ResultCode::EXISTS, "object already exists");
            }
            shared.journal.host(host_record(&h));
            tracing::info!(host = %h.name, "OMAPI: host updated");
            Response::ok()
        }
    }
}

// ---------------------------------------------------------------------------------------
// failover-state

fn sender(shared: &Shared, name: &str) -> Option<UnboundedSender<Input>> {
    shared.rels.lock().ok()?.get(name).cloned()
}

fn address_value(a: &PeerAddress) -> Value {
    match a {
        PeerAddress::Ip(ip) => Value::Ip(*ip),
        PeerAddress::Name(n) => Value::Str(n.clone()),
    }
}

async fn failover_object(shared: &Shared, objects: &mut Objects, name: &str) -> Response {
    let (Some(tx), Some(cfg)) = (sender(shared, name), shared.peers.iter().find(|p| p.name == name)) else {
        return Response::not_found();
    };
    let Some(st) = super::failover::status_of(&tx).await else {
        return status(ResultCode::UNEXPECTED, "failover relationship does not answer");
    };
    let handle = objects.handle_for(Obj::Failover(name.to_string()));
    let primary = cfg.role == Role::Primary;
    let mut v: Vec<(&str, Value)> = vec![
        ("name", Value::Str(name.to_string())),
        ("partner-address", address_value(&cfg.peer_address)),
        ("partner-port", Value::Int(u32::from(cfg.peer_port))),
        ("local-address", address_value(&cfg.address)),
        ("local-port", Value::Int(u32::from(cfg.port))),
        ("max-outstanding-updates", Value::Int(cfg.max_unacked_updates)),
        ("mclt", Value::Int(st.mclt)),
        ("load-balance-max-secs", Value::Int(cfg.load_balance_max_seconds)),
    ];
    if primary {
        v.push(("load-balance-hba", Value::Bytes(cfg.hba_or_default().to_vec())));
    }
    v.extend([
        ("partner-state", Value::Int(u32::from(st.partner_state.get()))),
        ("local-state", Value::Int(u32::from(st.my_state.get()))),
        ("partner-stos", Value::Int(st.partner_stos)),
        ("local-stos", Value::Int(st.my_stos)),
        ("hierarchy", Value::Int(u32::from(cfg.role.code()))),
        ("last-packet-sent", Value::Int(0)),
        ("last-timestamp-received", Value::Int(0)),
        ("skew", Value::Int(0)),
        ("max-response-delay", Value::Int(cfg.max_response_delay)),
        ("cur-unacked-updates", Value::Int(u32::try_from(st.unacked_updates).unwrap_or(u32::MAX))),
    ]);
    Response::object(handle, v)
}

async fn set_local_state(shared: &Shared, name: &str, local_state: Option<u32>) -> Response {
    let Some(tx) = sender(shared, name) else { return Response::not_found() };
    // The state's wire code; a number no state has is refused below.
    let wanted = local_state.map(|code| u8::try_from(code).map_or(State::UNKNOWN, State));
    let (command, target) = match wanted {
        // dhcpd: every other attribute "succeeds" without effect.
        None => return Response::ok(),
        Some(State::PARTNER_DOWN) => (Command::PartnerDown, State::PARTNER_DOWN),
        Some(State::SHUTDOWN) => (Command::Shutdown, State::SHUTDOWN),
        Some(_) => {
            return status(ResultCode::INVALIDARG, "only local-state 4 (partner-down) and 8 (shutdown) can be set");
        }
    };
    tracing::info!(peer = %name, state = %target, "OMAPI: operator sets failover local-state");
    if tx.send(Input::Operator(command)).is_err() {
        return status(ResultCode::UNEXPECTED, "failover relationship is gone");
    }
    // Let the change land (it is persisted first) so that a following refresh shows it.
    let deadline = tokio::time::Instant::now() + STATE_SETTLE;
    while tokio::time::Instant::now() < deadline {
        if let Some(st) = super::failover::status_of(&tx).await
            && st.my_state == target
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Response::ok()
}

// ---------------------------------------------------------------------------------------
// control

fn control_object(objects: &mut Objects) -> Response {
    let handle = objects.handle_for(Obj::Control);
    // dhcpd's control states: 0 startup, 1 running, 2 shutdown.
    Response::object(handle, [("state", Value::Int(1))])
}

/// The lease-file record dhcpd writes for a host created through OMAPI.
pub fn host_record(h: &crate::dhcp::HostCfg) -> dhcp_journal::HostRecord {
    dhcp_journal::HostRecord {
        name: h.name.clone(),
        hardware: h.hardware_ethernet.map(|m| (1, m.to_vec())),
        uid: h.client_identifier.clone(),
        fixed_address: h.fixed_addresses.first().copied(),
        deleted: false,
    }
}

fn deleted_host(name: &str) -> dhcp_journal::HostRecord {
    dhcp_journal::HostRecord { name: name.to_string(), hardware: None, uid: None, fixed_address: None, deleted: true }
}

/// A host from the lease file back into the engine's form.
pub fn host_from_record(r: &dhcp_journal::HostRecord, global: &crate::dhcp::Params) -> crate::dhcp::HostCfg {
    crate::dhcp::HostCfg {
        name: r.name.clone(),
        hardware_ethernet: r.hardware.as_ref().and_then(|(_, b)| <[u8; 6]>::try_from(b.as_slice()).ok()),
        client_identifier: r.uid.clone(),
        fixed_addresses: r.fixed_address.into_iter().collect(),
        fixed_address_declared: false,
        identifier: None,
        // No statements of its own (see `host` above).
        params: crate::dhcp::Params { dynamic: std::sync::Arc::from(Vec::new()), ..global.clone() },
    }
}
