//! What one failover relationship reports, as one typed record: `xdhcpd status` (serialized
//! to JSON at the control socket, field names unchanged), OMAPI's failover-state object and
//! the Prometheus metrics all read it, so a renamed field is a compile error rather than a
//! silent zero.

use crate::stats::HistogramSnapshot;
use dhcp_failover::{Role, State};
use serde::{Serialize, Serializer};

#[derive(Clone, Debug, Serialize)]
pub struct RelationshipStatus {
    /// The `failover peer` name.
    pub name: String,
    #[serde(serialize_with = "role_name")]
    pub role: Role,
    pub mode: Mode,
    #[serde(serialize_with = "state_name")]
    pub my_state: State,
    #[serde(serialize_with = "state_code")]
    pub my_state_code: State,
    #[serde(serialize_with = "state_code")]
    pub partner_state_code: State,
    #[serde(serialize_with = "state_name")]
    pub partner_state: State,
    pub my_stos: u32,
    pub partner_stos: u32,
    /// Unix time of the last state change (ours or the partner's).
    pub last_change: u32,
    pub mclt: u32,
    /// Partner clock minus ours, seconds (None before any message).
    pub clock_skew_secs: Option<i64>,
    /// Partner-owned DISCOVERs past `load balance max seconds` seen at the NIC lately.
    pub partner_late_discovers_recent: u64,
    pub link_up: bool,
    pub communicating: bool,
    /// What the engine acts on (none while the state is not durable).
    pub service: String,
    pub state_written: bool,
    pub unacked_updates: usize,
    pub queued_updates: usize,
    pub acks_owed: usize,
    pub replication_lag: HistogramSnapshot,
    pub pools: Vec<PoolStatus>,
    pub link_security: LinkSecurity,
    /// Sections of the configuration that differ from the partner's (None: never compared,
    /// e.g. the partner is not xdhcpd).
    pub config_drift: Option<Vec<String>>,
    /// Both NORMAL and cooperating.
    pub normal: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    LoadBalance,
    HotStandby,
}

/// One pool of the relationship.
#[derive(Clone, Debug, Serialize)]
pub struct PoolStatus {
    pub pool: u32,
    pub total: i64,
    /// Free leases of this server's own free state (FREE on a primary, BACKUP on a
    /// secondary), EXPIRED and RELEASED counted with FREE.
    pub free: i64,
    pub backup: i64,
    pub active: u64,
    pub abandoned: u64,
    pub in_use_percent: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct LinkSecurity {
    /// The `auth-key` name in use, if any.
    pub auth_key: Option<String>,
    pub tls: bool,
    pub refused_connections: u64,
    pub last_error: Option<String>,
}

fn role_name<S: Serializer>(r: &Role, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(r.name())
}

fn state_name<S: Serializer>(st: &State, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(st)
}

fn state_code<S: Serializer>(st: &State, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u8(st.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The JSON the control socket gives keeps the names and shapes scripts and the CLI read.
    #[test]
    fn serializes_to_the_status_json_operators_read() {
        let st = RelationshipStatus {
            name: "lab".into(),
            role: Role::Secondary,
            mode: Mode::HotStandby,
            my_state: State::NORMAL,
            my_state_code: State::NORMAL,
            partner_state_code: State::RECOVER_WAIT,
            partner_state: State::RECOVER_WAIT,
            my_stos: 1,
            partner_stos: 2,
            last_change: 3,
            mclt: 3600,
            clock_skew_secs: None,
            partner_late_discovers_recent: 0,
            link_up: true,
            communicating: true,
            service: "Cooperating".into(),
            state_written: true,
            unacked_updates: 0,
            queued_updates: 0,
            acks_owed: 0,
            replication_lag: HistogramSnapshot::default(),
            pools: vec![PoolStatus {
                pool: 0,
                total: 4,
                free: 1,
                backup: 2,
                active: 1,
                abandoned: 0,
                in_use_percent: 25.0,
            }],
            link_security: LinkSecurity { auth_key: None, tls: false, refused_connections: 0, last_error: None },
            config_drift: None,
            normal: true,
        };
        let v = serde_json::to_value(&st).expect("serializes");
        assert_eq!(v["role"], "secondary");
        assert_eq!(v["mode"], "hot-standby");
        assert_eq!(v["my_state"], "normal");
        assert_eq!(v["my_state_code"], 2);
        assert_eq!(v["partner_state"], "recover-wait");
        assert_eq!(v["partner_state_code"], 254);
        assert_eq!(v["pools"][0]["backup"], 2);
        assert_eq!(v["link_security"]["tls"], false);
        assert!(v["replication_lag"]["buckets"].is_array());
    }
}
