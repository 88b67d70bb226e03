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
        *model = parsed.config;
        Ok(summary)
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
