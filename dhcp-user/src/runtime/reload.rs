//! Configuration reload (SIGHUP, `xdhcpd reload`): re-read dhcpd.conf and put it in force
//! when it parses and changes only what can change live (`conf::reloaded_engine_config`
//! decides which). Otherwise the running configuration stays, and the reason is logged and
//! returned. Leases live in the lease store, which a reload only ever adds addresses to.

use crate::conf::{self, ReloadRefused};
use crate::dhcp::Engine;
use dhcp_config::Config;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The file does not parse or validate: every error with file:line:column.
    #[error("{0}")]
    Invalid(String),
    /// It parses, but applying it needs a restart.
    #[error("{0}")]
    Refused(#[from] ReloadRefused),
    #[error("another reload panicked; restart the server")]
    Poisoned,
}

pub struct Reloader {
    path: PathBuf,
    /// The dhcpd.conf model in force (what the next reload is compared with). Also
    /// serialises reloads.
    model: Mutex<Config>,
    engine: Arc<Engine>,
}

impl Reloader {
    pub fn new(path: PathBuf, model: Config, engine: Arc<Engine>) -> Reloader {
        Reloader { path, model: Mutex::new(model), engine }
    }

    /// Reload; returns a one-line summary of what is now in force.
    pub fn reload(&self) -> Result<String, ReloadError> {
        let parsed = dhcp_config::parse_file(&self.path).map_err(|e| ReloadError::Invalid(e.to_string()))?;
        let mut model = self.model.lock().map_err(|_| ReloadError::Poisoned)?;
        let old = self.engine.config();
        let mut resolved = parsed.config.clone();
        super::resolve::resolve_logged(&mut resolved);
        let cfg = conf::reloaded_engine_config(&model, &resolved, &old)?;
        for w in &parsed.warnings {
            tracing::warn!("{w}");
        }
        let summary = format!(
            "{} shared networks, {} pools ({} new), {} hosts ({})",
            cfg.networks.len(),
            cfg.pool_count(),
            cfg.pool_count().saturating_sub(old.pool_count()),
            cfg.hosts.len(),
            conf::describe_changes(&old, &cfg)
        );
        self.engine.replace_config(cfg);
        // The lease file's time format follows the file in force, from the next write.
        super::localtime::apply(&parsed.config);
        *model = parsed.config;
        Ok(summary)
    }

    /// Looks the configuration's host names up again (dhcpd keeps a lookup an hour, a
    /// failed one a minute) and puts the new addresses in force when they changed.
    /// Returns whether some name did not resolve, and what changed (`None`: nothing).
    pub fn refresh_names_with(
        &self,
        lookup: &mut dyn FnMut(&str) -> Result<Vec<std::net::Ipv4Addr>, String>,
    ) -> Result<(bool, Option<String>), ReloadError> {
        let model = self.model.lock().map_err(|_| ReloadError::Poisoned)?;
        if !model.has_names() {
            return Ok((false, None));
        }
        let mut resolved = model.clone();
        let mut failures = resolved.resolve_names(lookup);
        // In place: the engine's configuration shares these operands with the model.
        failures.extend(model.resolve_host_lookups(lookup));
        for f in &failures {
            tracing::warn!("{}: host unknown ({}); it still adds no address", f.name, f.reason);
        }
        let old = self.engine.config();
        let cfg = conf::reloaded_engine_config(&model, &resolved, &old)?;
        let changes = conf::describe_changes(&old, &cfg);
        if changes == "no change" {
            return Ok((!failures.is_empty(), None));
        }
        self.engine.replace_config(cfg);
        Ok((!failures.is_empty(), Some(changes)))
    }

    /// [`Reloader::refresh_names_with`] the system resolver, logged. Returns when to
    /// look again: in a minute after a failure, else in an hour (dhcpd's cache times).
    pub fn refresh_names_logged(&self) -> std::time::Duration {
        // Looked up before the model is locked for the apply (all at once, bounded).
        let model = match self.model.lock() {
            Ok(m) => m.clone(),
            Err(_) => return std::time::Duration::from_secs(60),
        };
        let mut lookup = super::resolve::system_lookup_all(&model, super::resolve::LOOKUP_BOUND);
        match self.refresh_names_with(&mut lookup) {
            Ok((failed, changed)) => {
                if let Some(changes) = changed {
                    tracing::info!("host names looked up again: {changes}");
                }
                std::time::Duration::from_secs(if failed { 60 } else { 3600 })
            }
            Err(e) => {
                tracing::error!("host names looked up again, not applied: {e}");
                std::time::Duration::from_secs(60)
            }
        }
    }

    /// Reload and log the outcome; the JSON answer of the control command.
    pub fn reload_logged(&self, trigger: &str) -> serde_json::Value {
        let file = self.path.display().to_string();
        match self.reload() {
            Ok(summary) => {
                tracing::info!(trigger, file, "configuration reloaded: {summary}");
                serde_json::json!({"ok": true, "applied": summary})
            }
            Err(e) => {
                tracing::error!(trigger, file, "configuration reload failed, the running configuration is kept: {e}");
                serde_json::json!({"ok": false, "error": e.to_string()})
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn names_that_resolve_later_are_put_in_force() {
        let text = "next-server boot.test;\n\
                    subnet 198.18.0.0 netmask 255.255.255.0 { range 198.18.0.10 198.18.0.20; }\n\
                    host h { hardware ethernet 52:54:00:00:00:01; fixed-address printer.test; }\n";
        let model = match dhcp_config::parse_str("t.conf", text, &dhcp_config::MemoryLoader::default()) {
            Ok(p) => p.config,
            Err(e) => panic!("{e}"),
        };
        // At start the names do not resolve: no next-server, no fixed address.
        let mut start = model.clone();
        start.resolve_names(&mut |_: &str| Err("host unknown".to_string()));
        let engine = Arc::new(Engine::new(conf::engine_config(&start)));
        let r = Reloader::new(PathBuf::from("t.conf"), model, engine.clone());
        let (failed, changed) = r.refresh_names_with(&mut |_: &str| Err("host unknown".to_string())).expect("refresh");
        assert!(failed);
        assert_eq!(changed, None, "still unresolvable: nothing to apply");
        // Later they do (a DNS change, /etc/hosts edited).
        let mut table = |n: &str| match n {
            "boot.test" => Ok(vec![Ipv4Addr::new(198, 18, 0, 69)]),
            "printer.test" => Ok(vec![Ipv4Addr::new(198, 18, 0, 7)]),
            _ => Err("host unknown".to_string()),
        };
        let (failed, changed) = r.refresh_names_with(&mut table).expect("refresh");
        assert!(!failed);
        assert!(changed.is_some_and(|c| c.contains("hosts changed: h")));
        let cfg = engine.config();
        assert_eq!(cfg.global.next_server, Some(Ipv4Addr::new(198, 18, 0, 69)));
        assert_eq!(cfg.hosts[0].fixed_addresses, vec![Ipv4Addr::new(198, 18, 0, 7)]);
        assert_eq!(r.refresh_names_with(&mut table).expect("refresh"), (false, None));
    }
}
