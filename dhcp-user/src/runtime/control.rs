//! The local control plane: a Unix socket answering one-line commands with one JSON line.
//! `status` (all relationships, pools, counters), `reload` (re-read dhcpd.conf; answers
//! with what is in force or why the file was refused), `partner-down NAME`, `shutdown NAME`.
//! Used by `xdhcpd status`, `xdhcpd reload` and `xdhcpd partner-down`.

use super::failover::{Input, Rels};
use super::reload::Reloader;
use crate::dhcp::Engine;
use crate::failover::status::RelationshipStatus;
use crate::lease::store::PoolCounts;
use crate::stats::{Stats, StatsSnapshot};
use crate::xdp::Counters;
use dhcp_failover::Command;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc::UnboundedSender;

pub struct Control {
    listener: Option<UnixListener>,
    path: PathBuf,
    rels: Rels,
    stats: Arc<Stats>,
    engine: Arc<Engine>,
    xdp: super::failover::Xdp,
    reloader: Arc<Reloader>,
}

impl Control {
    pub async fn bind(
        path: &Path,
        rels: Rels,
        stats: Arc<Stats>,
        engine: Arc<Engine>,
        xdp: super::failover::Xdp,
        reloader: Arc<Reloader>,
    ) -> Control {
        // A stale socket from a crashed run is replaced.
        let _ = std::fs::remove_file(path);
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let listener = match UnixListener::bind(path) {
            Ok(l) => Some(l),
            Err(e) => {
                tracing::warn!("control socket {}: {e}; `xdhcpd status` will not work", path.display());
                None
            }
        };
        Control { listener, path: path.to_path_buf(), rels, stats, engine, xdp, reloader }
    }

    pub async fn accept(&self) -> Option<UnixStream> {
        match &self.listener {
            Some(l) => l.accept().await.ok().map(|(s, _)| s),
            None => std::future::pending().await,
        }
    }

    pub fn serve(&self, conn: Option<UnixStream>) {
        let Some(conn) = conn else { return };
        let (rels, stats, engine, reloader) =
            (self.rels.clone(), self.stats.clone(), self.engine.clone(), self.reloader.clone());
        // XDP counters are read here (map reads, no await while holding the lock).
        let xdp = self.xdp.lock().ok().and_then(|x| {
            let prog = x.as_ref()?;
            Some(XdpStatus {
                attached: prog.attachments().map(|(i, m)| format!("{i}:{m}")).collect(),
                origins: prog.origins().map(|(i, o)| (i.to_string(), o.to_string())).collect(),
                counters: prog.counters().ok()?,
            })
        });
        tokio::spawn(async move {
            let (r, mut w) = conn.into_split();
            let mut line = String::new();
            let mut reader = BufReader::new(r);
            if tokio::time::timeout(std::time::Duration::from_secs(5), reader.read_line(&mut line)).await.is_err() {
                return;
            }
            let reply = if line.trim() == "reload" {
                tokio::task::spawn_blocking(move || reloader.reload_logged("control socket"))
                    .await
                    .unwrap_or_else(|e| serde_json::json!({"ok": false, "error": format!("reload task: {e}")}))
            } else {
                handle(line.trim(), &rels, &stats, &engine, xdp).await
            };
            let _ = w.write_all(format!("{reply}\n").as_bytes()).await;
        });
    }

    pub fn remove(&self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn senders(rels: &Rels) -> Vec<(String, UnboundedSender<Input>)> {
    rels.lock().map(|r| r.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default()
}

/// The reply to `status`.
#[derive(Serialize)]
struct StatusReply {
    ok: bool,
    relationships: Vec<RelationshipStatus>,
    pools: Vec<PoolStatus>,
    stats: StatsSnapshot,
    /// `null` when no XDP program is attached or its counters cannot be read.
    xdp: Option<XdpStatus>,
}

/// One pool in `status`.
#[derive(Serialize)]
struct PoolStatus {
    pool: u32,
    network: String,
    failover_peer: Option<String>,
    counts: PoolCounts,
}

/// The XDP program in `status`.
#[derive(Serialize)]
struct XdpStatus {
    /// `interface:mode` of each attachment.
    attached: Vec<String>,
    /// How each interface got its program: attached, adopted (left pinned by the previous
    /// run, no gap) or replaced.
    origins: BTreeMap<String, String>,
    counters: Counters,
}

/// Answers one command. Replies are built from typed parts and turned into one
/// `serde_json::Value` here, at the socket: its objects print their keys in sorted order, as
/// the socket's replies always have.
async fn handle(cmd: &str, rels: &Rels, stats: &Stats, engine: &Engine, xdp: Option<XdpStatus>) -> serde_json::Value {
    let mut words = cmd.split_whitespace();
    match (words.next(), words.next()) {
        (Some("status"), _) => {
            let counts = engine.store().counts_by_pool();
            let pools = engine
                .config()
                .networks
                .iter()
                .flat_map(|n| n.pools.iter().enumerate().map(move |(i, p)| (n.first_pool_id + i as u32, n, p)))
                .map(|(id, n, p)| PoolStatus {
                    pool: id,
                    network: n.name.clone(),
                    failover_peer: p.failover_peer.clone(),
                    counts: counts.get(id as usize).copied().unwrap_or_default(),
                })
                .collect();
            let reply = StatusReply {
                ok: true,
                relationships: super::failover::statuses(rels).await,
                pools,
                stats: stats.snapshot(),
                xdp,
            };
            serde_json::to_value(reply)
                .unwrap_or_else(|e| serde_json::json!({"ok": false, "error": format!("status: {e}")}))
        }
        (Some("leases"), _) => {
            // `leases {filter as JSON}`: filtered here, so a large store never crosses the
            // socket whole.
            let arg = cmd.strip_prefix("leases").map(str::trim).unwrap_or("");
            let filter: crate::leases::Filter = if arg.is_empty() {
                Default::default()
            } else {
                match serde_json::from_str(arg) {
                    Ok(f) => f,
                    Err(e) => return serde_json::json!({"ok": false, "error": format!("leases filter: {e}")}),
                }
            };
            if let Err(e) = filter.validate() {
                return serde_json::json!({"ok": false, "error": e.to_string()});
            }
            let rows: Vec<crate::leases::Row> = engine
                .store()
                .all()
                .iter()
                .map(|l| crate::leases::Row::from_record(&crate::lease::record::to_record(l), Some(l.pool)))
                .filter(|r| filter.matches(r))
                .collect();
            serde_json::json!({"ok": true, "leases": rows})
        }
        (Some(c @ ("partner-down" | "shutdown")), name) => {
            let command = if c == "partner-down" { Command::PartnerDown } else { Command::Shutdown };
            let targets: Vec<_> =
                senders(rels).into_iter().filter(|(n, _)| name.is_none_or(|want| want == n)).collect();
            if targets.is_empty() {
                return serde_json::json!({"ok": false, "error": format!("no failover relationship {}", name.unwrap_or(""))});
            }
            for (_, tx) in &targets {
                let _ = tx.send(Input::Operator(command));
            }
            // This reply has always carried the XDP status too.
            serde_json::json!({"ok": true, "relationships": targets.iter().map(|(n, _)| n).collect::<Vec<_>>(), "xdp": xdp})
        }
        _ => {
            serde_json::json!({"ok": false, "error": format!("unknown command {cmd:?}; try status, reload, leases [FILTER], partner-down NAME, shutdown NAME")})
        }
    }
}

/// Client side: send one command, return the JSON reply.
pub fn request(path: &Path, cmd: &str) -> anyhow::Result<serde_json::Value> {
    use std::io::{BufRead, Write};
    let mut s = std::os::unix::net::UnixStream::connect(path)
        .map_err(|e| anyhow::anyhow!("connecting to {} (is xdhcpd running?): {e}", path.display()))?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(5)))?;
    s.write_all(format!("{cmd}\n").as_bytes())?;
    let mut line = String::new();
    std::io::BufReader::new(s).read_line(&mut line)?;
    Ok(serde_json::from_str(&line)?)
}
