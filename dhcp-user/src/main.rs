//! `xdhcpd`: the command line. Thin: parse flags, set up logging, hand over to the library.

use anyhow::{Context, Result, bail};
use clap::Parser;
use dhcp_user::xdp::{self, AttachMode, XdpProgram};
use std::time::Duration;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// xdhcpd: a DHCPv4 failover server accelerated with XDP.
#[derive(Parser, Debug)]
#[command(version, about, long_about = None)]
struct Cli {
    /// Interfaces to serve (and attach XDP to).
    ifaces: Vec<String>,

    /// XDP attach mode: auto tries native then generic (skb); off runs the userspace fallback.
    #[arg(long, value_enum, default_value_t = AttachMode::Auto)]
    xdp_mode: AttachMode,

    /// Attach the XDP program and report its counters, without serving DHCP (diagnostics).
    #[arg(long)]
    xdp_only: bool,

    /// With --xdp-only: print counters as one JSON line every N seconds (0: only at exit).
    #[arg(long, default_value_t = 0)]
    counters_interval: u64,

    /// Log level of the XDP program's own log channel (0 off .. 5 trace).
    #[arg(long, default_value_t = 2)]
    xdp_log_level: u8,

    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        if cli.xdp_only {
            run_xdp_only(&cli).await
        } else {
            bail!("DHCP service is not implemented yet; use --xdp-only to attach and watch the XDP program")
        }
    })
}

/// Attach XDP to the named interfaces, print counters, detach on SIGINT/SIGTERM.
async fn run_xdp_only(cli: &Cli) -> Result<()> {
    if cli.ifaces.is_empty() {
        bail!("--xdp-only needs at least one interface");
    }
    if cli.xdp_mode == AttachMode::Off {
        bail!("--xdp-only with --xdp-mode off has nothing to do");
    }
    if !xdp::available() {
        bail!(xdp::XdpError::NotBuiltIn);
    }
    let mut prog = XdpProgram::load(cli.xdp_log_level).context("loading the XDP program")?;
    let insns = prog.verified_instructions();
    tracing::info!(verified_instructions = ?insns, "XDP program loaded");
    for iface in &cli.ifaces {
        let mode = prog.attach(iface, cli.xdp_mode)?;
        tracing::info!(iface, %mode, "XDP attached");
    }
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let period = if cli.counters_interval == 0 {
        Duration::from_secs(3600)
    } else {
        Duration::from_secs(cli.counters_interval)
    };
    let mut tick = tokio::time::interval(period);
    tick.tick().await;
    // Readiness line for scripts and tests.
    println!(
        "{}",
        serde_json::json!({"event": "attached", "verified_instructions": insns})
    );
    loop {
        tokio::select! {
            _ = tick.tick() => {
                println!("{}", serde_json::json!({"event": "counters", "counters": prog.counters()?.to_json()}));
            }
            _ = tokio::signal::ctrl_c() => break,
            _ = term.recv() => break,
        }
    }
    let counters = prog.counters()?;
    prog.detach_all()?;
    tracing::info!("XDP detached");
    println!(
        "{}",
        serde_json::json!({"event": "detached", "counters": counters.to_json()})
    );
    Ok(())
}
