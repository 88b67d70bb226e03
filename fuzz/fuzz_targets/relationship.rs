#![no_main]
//! A failover relationship (the one the server runs: `Peer` plus the engine-side rules) fed
//! arbitrary message sequences from a partner, with writes that fail when the input says so.
//! It must refuse or apply them, never panic, and never transmit while a write is awaited.
use dhcp_failover::wire::{LinkParams, Message, ServerFlags, encode_to_vec};
use dhcp_failover::{Role, State, Time};
use dhcp_user::dhcp::{Engine, EngineConfig};
use dhcp_user::failover::relationship::{Action, Relationship, RelationshipConfig};
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, OnceLock};

const CONF: &str = "authoritative;\n\
    failover peer \"f\" { secondary; address 198.18.0.2; peer address 198.18.0.1; max-response-delay 5; max-unacked-updates 10; load balance max seconds 3; }\n\
    subnet 198.18.0.0 netmask 255.255.255.0 { pool { failover peer \"f\"; range 198.18.0.100 198.18.0.120; } }\n";

/// A fresh engine per input, from a configuration parsed once.
fn engine() -> Option<Arc<Engine>> {
    static CFG: OnceLock<Option<EngineConfig>> = OnceLock::new();
    let cfg = CFG.get_or_init(|| {
        let mut files = dhcp_config::MemoryLoader::default();
        files.insert("/f.conf", CONF);
        let parsed = dhcp_config::parse_str("/f.conf", CONF, &files).ok()?;
        Some(dhcp_user::conf::engine_config(&parsed.config))
    });
    Some(Arc::new(Engine::new(cfg.clone()?)))
}

fuzz_target!(|data: &[u8]| {
    let Some(engine) = engine() else { return };
    let peer = dhcp_failover::PeerConfig {
        name: "f".into(),
        role: Role::Secondary,
        mclt: 0,
        hba: None,
        max_unacked_updates: 10,
        max_response_delay: 5,
        auto_partner_down_secs: 0,
        load_balance_max_secs: 3,
        vendor: "fuzz".into(),
    };
    let cfg = RelationshipConfig { peer, max_lease_misbalance: 15, hot_standby_reserve_percent: None, enforce_xdp: false };
    let mut now = Time { unix: 1_800_000_000, mono_ms: 0 };
    let mut rel = Relationship::new(cfg, None, engine, now);
    rel.handle_link_up(now);
    // A valid opening from the primary, so that the input explores what follows it
    // (STATE, BNDUPD, UPDREQ…) rather than the handshake alone.
    let lp = LinkParams { relationship_name: b"f".to_vec(), max_unacked: 10, receive_timer: 5, vendor_class: b"fuzz".to_vec() };
    let opening = [
        Message::connect(now.unix, 1, &lp, 60, Some(&[0x0f; 32])),
        Message::state(now.unix, 2, State::NORMAL, ServerFlags::NONE, now.unix - 100),
    ];
    for m in &opening {
        if let Ok(bytes) = encode_to_vec(m) {
            rel.handle_bytes(now, &bytes);
        }
    }
    // Chunks: the first byte of each says how long it is and whether writes succeed.
    let mut rest = data;
    while let Some((&head, tail)) = rest.split_first() {
        let len = usize::from(head & 0x7f).min(tail.len());
        let (chunk, next) = tail.split_at(len);
        rest = next;
        let writes_ok = head & 0x80 == 0;
        now = Time { unix: now.unix + 1, mono_ms: now.mono_ms + 1000 };
        rel.handle_bytes(now, chunk);
        rel.handle_timeout(now);
        rel.handle_tick(now);
        for _ in 0..10_000 {
            let Some(action) = rel.poll_action() else { break };
            if let Action::Persist { token, .. } = action {
                let mut out = Vec::new();
                assert!(!rel.poll_transmit(&mut out), "transmitted while a write was awaited");
                rel.handle_durable(now, token, writes_ok);
            }
        }
        let mut out = Vec::new();
        while rel.poll_transmit(&mut out) {}
    }
});
