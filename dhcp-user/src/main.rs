//! `xdhcpd`: the command line. Thin: parse flags, set up logging, hand over to the library.

use anyhow::{Context, Result, bail};
use clap::Parser;
use dhcp_user::xdp::{self, AttachMode, XdpProgram};
use std::time::Duration;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// xdhcpd: a DHCPv4 failover server accelerated with XDP.
#[derive(Parser, Debug)]
#[command(name = "xdhcpd", version, about, long_about = None, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Sub>,

    /// Interfaces to serve (and attach XDP to). Default: every broadcast-capable IPv4 interface.
    ifaces: Vec<String>,

    /// Configuration file (ISC dhcpd.conf syntax).
    #[arg(short = 'c', long = "config", default_value = "/etc/xdhcpd/dhcpd.conf")]
    config: std::path::PathBuf,

    /// Lease file (dhcpd.leases format; created if missing).
    #[arg(short = 'l', long = "lease-file", default_value = "/var/lib/xdhcpd/dhcpd.leases")]
    lease_file: std::path::PathBuf,

    /// Check the configuration and exit (like `dhcpd -t`): 0 if valid, 1 with every error.
    #[arg(long, short = 't')]
    check: bool,

    /// Worker threads handling requests (default: number of cores).
    #[arg(long)]
    workers: Option<usize>,

    /// UDP port to serve (67; tests may use another, clients are then answered on port+1).
    #[arg(long, default_value_t = 67)]
    port: u16,

    /// Receive coalescing in microseconds: after a wakeup, wait this long and serve every
    /// queued request in one go (fewer context switches; adds at most this much latency).
    #[arg(long, default_value_t = 1000)]
    coalesce_us: u64,

    /// Control socket (for `xdhcpd status` and `xdhcpd partner-down`).
    #[arg(long, default_value = "/run/xdhcpd/control.sock", global = true)]
    control_socket: std::path::PathBuf,

    /// Serve Prometheus metrics at http://ADDR/metrics (off by default; e.g. 127.0.0.1:9167).
    #[arg(long, value_name = "ADDR")]
    metrics: Option<std::net::SocketAddr>,

    /// Seconds between expiry sweeps.
    #[arg(long, default_value_t = 5)]
    expiry_interval: u64,

    /// XDP attach mode: auto tries native then generic (skb); off runs the userspace fallback.
    #[arg(long, value_enum, default_value_t = AttachMode::Auto)]
    xdp_mode: AttachMode,

    /// bpffs directory where the XDP program stays pinned (per interface) across restarts:
    /// a restart adopts it without a gap. Mounted at /sys/fs/bpf if needed.
    #[arg(long, default_value = dhcp_user::xdp::pin::DEFAULT_PIN_ROOT)]
    xdp_pin_dir: std::path::PathBuf,

    /// Do not pin: the XDP program is detached when xdhcpd exits.
    #[arg(long)]
    xdp_no_pin: bool,

    /// Remove the XDP program pinned for the named interfaces (all if none) and exit. Run it
    /// with xdhcpd stopped: a running xdhcpd holds its program until it exits.
    #[arg(long)]
    detach_xdp: bool,

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

/// Commands to a running server (over the control socket).
#[derive(clap::Subcommand, Debug)]
enum Sub {
    /// Failover relationships, pools and counters. Exit code 1 unless every relationship is
    /// NORMAL (fits a monitoring check).
    Status {
        /// Print the raw JSON.
        #[arg(long)]
        json: bool,
    },
    /// Re-read the configuration file (as SIGHUP does) and print the outcome: what is in force
    /// now, or why the file was refused (the running configuration is then kept; exit 1).
    Reload,
    /// List leases (like dhcp-lease-list), from the running server or, with --file, offline
    /// from a lease file. Filters combine: all given must match.
    Leases {
        /// Read this dhcpd.leases instead of asking the server (read-only; safe on a running
        /// server's file).
        #[arg(long, value_name = "LEASE_FILE")]
        file: Option<std::path::PathBuf>,
        /// With --file: the configuration that numbers the pools (as `xdhcpd status` does).
        #[arg(long, value_name = "DHCPD_CONF")]
        config: Option<std::path::PathBuf>,
        /// Binding state: active, free, backup, expired, released, abandoned, reset.
        #[arg(long)]
        state: Option<String>,
        /// An address or a network (A.B.C.D/N).
        #[arg(long)]
        ip: Option<String>,
        /// Hardware address (aa:bb:cc:dd:ee:ff).
        #[arg(long)]
        mac: Option<String>,
        /// Client identifier, hex (01:aa:bb:...).
        #[arg(long)]
        client_id: Option<String>,
        /// Pool number, as `xdhcpd status` lists pools.
        #[arg(long)]
        pool: Option<u32>,
        /// Part of the client's hostname (case-insensitive).
        #[arg(long)]
        hostname: Option<String>,
        /// One JSON array instead of the table.
        #[arg(long)]
        json: bool,
    },
    /// Put a relationship (all if no name) into PARTNER-DOWN: the partner is known to be down.
    PartnerDown { name: Option<String> },
    /// Move a relationship (all if no name) to SHUTDOWN.
    Shutdown { name: Option<String> },
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    if cli.check {
        return check_config(&cli.config);
    }
    if let Some(sub) = &cli.cmd {
        return control_command(&cli.control_socket, sub);
    }
    if cli.detach_xdp {
        let removed = xdp::pin::detach_pinned(&cli.xdp_pin_dir, &cli.ifaces)?;
        tracing::info!(pins = %cli.xdp_pin_dir.display(), ?removed, "XDP programs detached and unpinned");
        println!("{}", serde_json::json!({"event": "xdp_detached", "ifaces": removed}));
        return Ok(());
    }
    if !cli.xdp_only {
        let workers = cli.workers.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
        return dhcp_user::runtime::run(dhcp_user::runtime::RunOptions {
            config: cli.config.clone(),
            lease_file: cli.lease_file.clone(),
            ifaces: cli.ifaces.clone(),
            workers,
            xdp_mode: cli.xdp_mode,
            port: cli.port,
            expiry_interval: Duration::from_secs(cli.expiry_interval.max(1)),
            coalesce: Duration::from_micros(cli.coalesce_us),
            control_socket: cli.control_socket.clone(),
            metrics: cli.metrics,
            xdp_pin_dir: (!cli.xdp_no_pin).then(|| cli.xdp_pin_dir.clone()),
        });
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move { run_xdp_only(&cli).await })
}

fn control_command(socket: &std::path::Path, sub: &Sub) -> Result<()> {
    use dhcp_user::runtime::control::request;
    match sub {
        Sub::Status { json } => {
            let v = request(socket, "status")?;
            let rels = v["relationships"].as_array().cloned().unwrap_or_default();
            let all_normal = rels.iter().all(|r| r["my_state"] == "normal" && r["partner_state"] == "normal");
            if *json {
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                for r in &rels {
                    println!(
                        "failover peer {}: {} ({}), my state {}, partner state {}, mclt {}, link {}",
                        r["name"].as_str().unwrap_or("?"),
                        r["role"].as_str().unwrap_or("?"),
                        r["mode"].as_str().unwrap_or("?"),
                        r["my_state"].as_str().unwrap_or("?"),
                        r["partner_state"].as_str().unwrap_or("?"),
                        r["mclt"],
                        if r["link_up"].as_bool().unwrap_or(false) { "up" } else { "down" }
                    );
                    let lag = &r["replication_lag"];
                    if let (Some(n), Some(sum)) = (lag["count"].as_u64(), lag["sum"].as_f64())
                        && n > 0
                    {
                        println!(
                            "  unacked updates {}, replication lag mean {:.1} ms over {n} updates",
                            r["unacked_updates"],
                            sum / n as f64 * 1e3
                        );
                    }
                    let drift: Vec<&str> = r["config_drift"]
                        .as_array()
                        .map(|d| d.iter().filter_map(|s| s.as_str()).collect())
                        .unwrap_or_default();
                    if !drift.is_empty() {
                        println!("  configuration differs from the partner's: {}", drift.join("; "));
                    }
                    if let Some(e) = r["link_security"]["last_error"].as_str() {
                        println!(
                            "  link refused {} time(s), last: {e}",
                            r["link_security"]["refused_connections"].as_u64().unwrap_or(0)
                        );
                    }
                }
                for p in v["pools"].as_array().cloned().unwrap_or_default() {
                    let c = &p["counts"];
                    println!(
                        "pool {} ({}): total {} free {} backup {} active {} abandoned {}",
                        p["pool"],
                        p["network"].as_str().unwrap_or("?"),
                        c["total"],
                        c["free"],
                        c["backup"],
                        c["active"],
                        c["abandoned"]
                    );
                }
                let d = &v["stats"]["ddns"];
                let n = |k: &str| d[k].as_u64().unwrap_or(0);
                if ["sent", "failed", "queued", "dropped"].iter().any(|k| n(k) > 0) {
                    println!(
                        "dynamic DNS: sent {} succeeded {} failed {} retried {} queued {} conflicts {} dropped {}",
                        n("sent"),
                        n("succeeded"),
                        n("failed"),
                        n("retried"),
                        n("queued"),
                        n("conflicts"),
                        n("dropped")
                    );
                    if let Some(e) = d["last_error"].as_str() {
                        println!("  last DNS update error: {e}");
                    }
                }
            }
            if !all_normal {
                std::process::exit(1);
            }
            Ok(())
        }
        Sub::Leases { file, config, state, ip, mac, client_id, pool, hostname, json } => {
            let filter = dhcp_user::leases::Filter {
                state: state.clone(),
                ip: ip.clone(),
                mac: mac.clone(),
                client_id: client_id.clone(),
                pool: *pool,
                hostname: hostname.clone(),
            };
            filter.validate()?;
            let rows = match file {
                Some(path) => {
                    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
                    let cfg = match config {
                        Some(c) => Some(dhcp_user::conf::engine_config(
                            &dhcp_config::parse_file(c).map_err(|e| anyhow::anyhow!("{e}"))?.config,
                        )),
                        None => None,
                    };
                    dhcp_user::leases::from_lease_file(&bytes, cfg.as_ref(), &filter)
                }
                None => {
                    let v = request(socket, &format!("leases {}", serde_json::to_string(&filter)?))?;
                    if v["ok"].as_bool() != Some(true) {
                        bail!("the server refused: {}", v["error"].as_str().unwrap_or("unknown error"));
                    }
                    serde_json::from_value(v["leases"].clone()).context("the server's lease list")?
                }
            };
            if *json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                print!("{}", dhcp_user::leases::table(&rows));
            }
            Ok(())
        }
        Sub::Reload => {
            let v = request(socket, "reload")?;
            if v["ok"].as_bool() == Some(true) {
                println!("reloaded: {}", v["applied"].as_str().unwrap_or("?"));
                Ok(())
            } else {
                eprintln!(
                    "reload refused, the running configuration is kept:\n{}",
                    v["error"].as_str().unwrap_or("unknown error")
                );
                std::process::exit(1);
            }
        }
        Sub::PartnerDown { name } | Sub::Shutdown { name } => {
            let verb = if matches!(sub, Sub::PartnerDown { .. }) { "partner-down" } else { "shutdown" };
            let v = request(socket, &format!("{verb} {}", name.clone().unwrap_or_default()))?;
            println!("{v}");
            if v["ok"].as_bool() != Some(true) {
                std::process::exit(1);
            }
            Ok(())
        }
    }
}

/// `--check`: report every error with file:line:column, exit 1 if any.
fn check_config(path: &std::path::Path) -> Result<()> {
    match dhcp_config::parse_file(path) {
        Ok(parsed) => {
            for w in &parsed.warnings {
                // The warning's text says "warning:" after its position.
                eprintln!("{w}");
            }
            let c = &parsed.config;
            // dhcpd -t accepts a name that does not resolve (it looks names up when it
            // answers); say which ones do not resolve now.
            let mut resolved = c.clone();
            let mut lookup =
                dhcp_user::runtime::resolve::system_lookup_all(c, dhcp_user::runtime::resolve::LOOKUP_BOUND);
            let mut failures = resolved.resolve_names(&mut lookup);
            failures.extend(resolved.resolve_host_lookups(&mut lookup));
            for f in failures {
                eprintln!(
                    "warning: host name {} does not resolve now ({}); it adds no address while it does not (as in dhcpd)",
                    f.name, f.reason
                );
            }
            // The TLS files are read at startup; a bad one is a configuration error too.
            let mut tls_errors = 0;
            for p in &c.failover_peers {
                if let Some(tls) = &p.tls
                    && let Err(e) = dhcp_user::runtime::peer_link::load_tls(tls, &p.peer_address)
                {
                    eprintln!("failover peer \"{}\": {e:#}", p.name);
                    tls_errors += 1;
                }
            }
            if tls_errors > 0 {
                std::process::exit(1);
            }
            println!(
                "{}: OK ({} shared networks, {} pools, {} hosts, {} failover peers, {} classes)",
                path.display(),
                c.shared_networks.len(),
                c.shared_networks.iter().map(|n| n.pools.len()).sum::<usize>(),
                c.hosts.len(),
                c.failover_peers.len(),
                c.classes.len()
            );
            Ok(())
        }
        Err(errors) => {
            eprintln!("{errors}");
            std::process::exit(1);
        }
    }
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
    // Both handlers before the "attached" line, which promises that a signal detaches cleanly.
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    let period =
        if cli.counters_interval == 0 { Duration::from_secs(3600) } else { Duration::from_secs(cli.counters_interval) };
    let mut tick = tokio::time::interval(period);
    tick.tick().await;
    // Readiness line for scripts and tests.
    println!("{}", serde_json::json!({"event": "attached", "verified_instructions": insns}));
    loop {
        tokio::select! {
            _ = tick.tick() => {
                println!("{}", serde_json::json!({"event": "counters", "counters": prog.counters()?}));
            }
            _ = int.recv() => break,
            _ = term.recv() => break,
        }
    }
    let counters = prog.counters()?;
    prog.detach_all()?;
    tracing::info!("XDP detached");
    println!("{}", serde_json::json!({"event": "detached", "counters": counters}));
    Ok(())
}
