//! The XDP fast path, userspace side: load the embedded program, attach it to interfaces,
//! publish the steering configuration, read the per-CPU counters.
//!
//! The decision itself lives in `dhcp_common::decide`; this module only moves configuration
//! in and counters out.

use aya::{
    Ebpf, EbpfLoader,
    maps::{Array, MapData, PerCpuArray},
    programs::{ProgramError, TestRun, TestRunOptions, Xdp, XdpMode, xdp::XdpLinkId},
};
use dhcp_common::{
    Steering,
    maps::{COUNTERS_MAP, PROGRAM_NAME, STEERING_ACTIVE_MAP, STEERING_MAP, counter},
};
use std::fmt;

/// The XDP object built by `build.rs`; empty when the eBPF toolchain was missing.
static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/dhcp-ebpf"));

/// Whether this binary carries an XDP program.
pub fn available() -> bool {
    !OBJECT.is_empty()
}

#[derive(Debug, thiserror::Error)]
pub enum XdpError {
    #[error(
        "this xdhcpd was built without its XDP program (eBPF toolchain missing at build time); run `cargo xtask setup` and rebuild, or use --xdp-mode off"
    )]
    NotBuiltIn,
    #[error("loading the XDP object: {0}")]
    Load(#[from] aya::EbpfError),
    #[error("XDP program `{0}` missing from the object")]
    MissingProgram(&'static str),
    #[error("map `{0}` missing from the object")]
    MissingMap(&'static str),
    #[error("map `{name}`: {source}")]
    Map { name: &'static str, source: aya::maps::MapError },
    #[error("verifier rejected the XDP program: {0}")]
    Verify(ProgramError),
    #[error(
        "attaching XDP to {iface} in {mode} mode: {source} (try --xdp-mode skb, or off for the userspace fallback)"
    )]
    Attach { iface: String, mode: AttachMode, source: ProgramError },
    #[error("BPF_PROG_TEST_RUN: {0}")]
    TestRun(ProgramError),
}

/// How the program is attached to an interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum AttachMode {
    /// Native (driver) mode if the driver supports it, else generic; else no XDP.
    Auto,
    /// Driver mode (XDP_FLAGS_DRV_MODE).
    Native,
    /// Generic mode (XDP_FLAGS_SKB_MODE), works on any interface.
    Skb,
    /// No XDP: the userspace fallback applies the same decision.
    Off,
}

impl fmt::Display for AttachMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AttachMode::Auto => "auto",
            AttachMode::Native => "native",
            AttachMode::Skb => "skb",
            AttachMode::Off => "off",
        })
    }
}

/// Counter values summed over CPUs, indexed by `dhcp_common::maps::counter`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters(pub [u64; counter::COUNT as usize]);

impl Counters {
    pub fn get(&self, idx: u32) -> u64 {
        self.0.get(idx as usize).copied().unwrap_or(0)
    }

    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// `{"not_dhcp": n, ...}` for logs, status and tests.
    pub fn to_json(&self) -> serde_json::Value {
        let map: serde_json::Map<String, serde_json::Value> = counter::NAMES
            .iter()
            .zip(self.0.iter())
            .map(|(name, v)| ((*name).to_string(), serde_json::Value::from(*v)))
            .collect();
        serde_json::Value::Object(map)
    }
}

/// A loaded XDP program with its maps. Dropping it detaches every attachment.
pub struct XdpProgram {
    ebpf: Ebpf,
    // Keeps the log ring buffer's fd open: dropping the logger closes the map.
    _logger: Option<aya_log::EbpfLogger<&'static dyn log::Log>>,
    steering: Array<MapData, Steering>,
    steering_active: Array<MapData, u32>,
    counters: PerCpuArray<MapData, u64>,
    active_slot: u32,
    attachments: Vec<(String, AttachMode, XdpLinkId)>,
}

impl XdpProgram {
    /// Load and verify the embedded program. `log_level` patches aya-log's level in the
    /// object (0 = off; 4 = debug).
    pub fn load(log_level: u8) -> Result<Self, XdpError> {
        if !available() {
            return Err(XdpError::NotBuiltIn);
        }
        let mut ebpf = EbpfLoader::new().override_global("AYA_LOG_LEVEL", &log_level, false).load(OBJECT)?;
        let logger = match aya_log::EbpfLogger::init(&mut ebpf) {
            Ok(l) => Some(l),
            Err(e) => {
                tracing::warn!("XDP log channel unavailable: {e}");
                None
            }
        };
        let prog: &mut Xdp = ebpf
            .program_mut(PROGRAM_NAME)
            .ok_or(XdpError::MissingProgram(PROGRAM_NAME))?
            .try_into()
            .map_err(XdpError::Verify)?;
        prog.load().map_err(XdpError::Verify)?;
        let take = |ebpf: &mut Ebpf, name: &'static str| ebpf.take_map(name).ok_or(XdpError::MissingMap(name));
        let steering = Array::try_from(take(&mut ebpf, STEERING_MAP)?)
            .map_err(|source| XdpError::Map { name: STEERING_MAP, source })?;
        let steering_active = Array::try_from(take(&mut ebpf, STEERING_ACTIVE_MAP)?)
            .map_err(|source| XdpError::Map { name: STEERING_ACTIVE_MAP, source })?;
        let counters = PerCpuArray::try_from(take(&mut ebpf, COUNTERS_MAP)?)
            .map_err(|source| XdpError::Map { name: COUNTERS_MAP, source })?;
        let mut me = XdpProgram {
            ebpf,
            _logger: logger,
            steering,
            steering_active,
            counters,
            active_slot: 0,
            attachments: Vec::new(),
        };
        me.set_steering(&Steering::STANDALONE)?;
        Ok(me)
    }

    fn prog(&mut self) -> Result<&mut Xdp, XdpError> {
        self.ebpf
            .program_mut(PROGRAM_NAME)
            .ok_or(XdpError::MissingProgram(PROGRAM_NAME))?
            .try_into()
            .map_err(XdpError::Verify)
    }

    /// Instructions the verifier processed when loading (kernel ≥ 5.16 reports it).
    pub fn verified_instructions(&mut self) -> Option<u32> {
        self.prog().ok()?.info().ok()?.verified_instruction_count()
    }

    /// Attach to `iface`. `Auto` tries native, then generic. Returns the mode in use.
    pub fn attach(&mut self, iface: &str, mode: AttachMode) -> Result<AttachMode, XdpError> {
        let tries: &[AttachMode] = match mode {
            AttachMode::Auto => &[AttachMode::Native, AttachMode::Skb],
            AttachMode::Native => &[AttachMode::Native],
            AttachMode::Skb => &[AttachMode::Skb],
            AttachMode::Off => return Ok(AttachMode::Off),
        };
        let mut last = None;
        for &m in tries {
            let flags = if m == AttachMode::Native { XdpMode::Driver } else { XdpMode::Skb };
            match self.prog()?.attach(iface, flags) {
                Ok(id) => {
                    self.attachments.push((iface.to_string(), m, id));
                    return Ok(m);
                }
                Err(e) => {
                    tracing::debug!(iface, mode = %m, "XDP attach failed: {e}");
                    last = Some((m, e));
                }
            }
        }
        match last {
            Some((m, source)) => Err(XdpError::Attach { iface: iface.to_string(), mode: m, source }),
            None => Ok(AttachMode::Off),
        }
    }

    /// Interfaces this program is attached to, with their modes.
    pub fn attachments(&self) -> impl Iterator<Item = (&str, AttachMode)> {
        self.attachments.iter().map(|(i, m, _)| (i.as_str(), *m))
    }

    /// Detach from every interface.
    pub fn detach_all(&mut self) -> Result<(), XdpError> {
        let links: Vec<_> = self.attachments.drain(..).collect();
        for (iface, _, id) in links {
            if let Err(e) = self.prog()?.detach(id) {
                tracing::warn!(iface, "XDP detach: {e}");
            }
        }
        Ok(())
    }

    /// Publish a steering configuration. Atomic for the program: the idle slot is written,
    /// then the active index flips.
    pub fn set_steering(&mut self, s: &Steering) -> Result<(), XdpError> {
        let idle = self.active_slot ^ 1;
        self.steering.set(idle, *s, 0).map_err(|source| XdpError::Map { name: STEERING_MAP, source })?;
        self.steering_active.set(0, idle, 0).map_err(|source| XdpError::Map { name: STEERING_ACTIVE_MAP, source })?;
        self.active_slot = idle;
        Ok(())
    }

    /// Counters summed over all CPUs.
    pub fn counters(&self) -> Result<Counters, XdpError> {
        let mut out = Counters::default();
        for (i, slot) in out.0.iter_mut().enumerate() {
            let per_cpu =
                self.counters.get(&(i as u32), 0).map_err(|source| XdpError::Map { name: COUNTERS_MAP, source })?;
            *slot = per_cpu.iter().sum();
        }
        Ok(out)
    }

    /// Run the program on one frame with BPF_PROG_TEST_RUN; returns the XDP action
    /// (1 = XDP_DROP, 2 = XDP_PASS) and the kernel's measured duration per run.
    pub fn test_run(&mut self, frame: &[u8], repeat: u32) -> Result<(u32, std::time::Duration), XdpError> {
        let opts = TestRunOptions { data_in: Some(frame), repeat: repeat.max(1), ..TestRunOptions::new() };
        let r = self.prog()?.test_run(opts).map_err(XdpError::TestRun)?;
        Ok((r.return_value, r.duration))
    }
}

impl Drop for XdpProgram {
    fn drop(&mut self) {
        let _ = self.detach_all();
    }
}

/// XDP action codes (linux/bpf.h).
pub const XDP_DROP: u32 = 1;
pub const XDP_PASS: u32 = 2;
