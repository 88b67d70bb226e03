//! `cargo xtask`: everything around the code: toolchain setup, builds, the CI test suite,
//! the namespace lab and the benchmarks. Each step says what it does and how to fix failures.

mod bench;
mod bench_bigpool;
mod bench_ddns;
mod bench_failover;
mod bench_operator;
mod bench_restore;
mod ddns_load;
mod fuzz;
mod lab;
mod migrate;
mod package;
mod setup;
mod sim;
mod util;

use anyhow::Result;
use clap::{Parser, Subcommand};
use setup::Needs;
use util::{cargo, root, step};

#[derive(Parser)]
#[command(about = "xdhcpd build and lab driver")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Install what a fresh machine lacks: nightly rust-src, bpf-linker (built against the
    /// nightly's LLVM into .tools/), Debian packages the tests use. Idempotent.
    Setup {
        /// Skip the Debian packages (toolchain only).
        #[arg(long)]
        no_apt: bool,
    },
    /// Build the XDP program and xdhcpd (release).
    Build,
    /// Everything CI runs: setup, fmt check, clippy -D warnings, the Debian package, unit and
    /// integration tests (one installs and purges the package).
    Test,
    /// Build the Debian package (release build, XDP program embedded):
    /// target/debian/xdhcpd_<version>_<arch>.deb, built with dpkg-deb.
    Package,
    /// Build (release) and run xdhcpd with the given arguments.
    Run {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// The main job, live: a failover pair serving real clients in namespaces, a crash of the
    /// primary, partner-down, recovery; torn down at the end. Installs what it uses (the
    /// toolchain, iproute2, udhcpc); every step checks its outcome and the first that fails
    /// ends the lab with a non-zero exit naming it.
    Lab {
        /// The live migration instead: a real ISC dhcpd failover pair serving renewing
        /// clients is replaced by xdhcpd one server at a time (same dhcpd.conf and
        /// dhcpd.leases); no client may be NAKed or lose its address. Installs
        /// isc-dhcp-server too.
        #[arg(long)]
        migrate: bool,
    },
    /// Deterministic simulation of a failover pair (release build), from seeds.
    Sim {
        /// Number of seeds (0..N).
        #[arg(long, default_value_t = 2000)]
        seeds: u64,
        /// Replay one seed with its full event log.
        #[arg(long)]
        seed: Option<u64>,
        /// Run seeds 0, 1, 2, ... for this many seconds instead (as many as fit).
        #[arg(long)]
        seconds: Option<u64>,
    },
    /// The differential harness of issue 11: every file of tests/corpus/dhcpd.conf through
    /// `dhcpd -t` and `xdhcpd --check` (verdicts), then, as root, each accepted file served by
    /// the real dhcpd and by xdhcpd in namespaces and a battery of client packets compared
    /// field by field (answers), and each failover pair of the corpus run with xdhcpd and a
    /// real dhcpd partner in both roles. Prints the tables; known differences are listed in
    /// tests/corpus/dhcpd.conf/DIFFERENCES.
    Compat {
        /// Only these corpus files (comma-separated prefixes, e.g. `001,025`).
        #[arg(long)]
        files: Option<String>,
    },
    /// Run every fuzz target (cargo-fuzz, nightly) for a bounded time each.
    Fuzz {
        /// Seconds per target.
        #[arg(long, default_value_t = 20)]
        secs: u64,
        /// Only this target.
        target: Option<String>,
    },
    /// Benchmarks: `xdp` (BPF_PROG_TEST_RUN cost per packet vs native), `engine`
    /// (criterion, no sockets), `server` (perfdhcp against xdhcpd, Kea and ISC dhcpd, then
    /// xdhcpd and dhcpd with DNS updates to BIND 9 on and off; `server ddns`: that part alone;
    /// `server ddns rate [--before BIN]`: BIND's own update rate, then xdhcpd's against it),
    /// `takeover`, `flood` (partner-owned DISCOVER flood, XDP vs userspace fallback),
    /// `steer` (SO_REUSEPORT delivery of broadcast/relayed/unicast requests).
    Bench {
        #[arg(value_enum)]
        what: BenchWhat,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum BenchWhat {
    Xdp,
    Engine,
    Server,
    Takeover,
    /// Failover pairs side by side: xdhcpd, Kea HA, ISC dhcpd (rate, CPU, start-up, resync).
    /// Optional argument: only `xdhcpd`, `kea` or `dhcpd`.
    Failover,
    /// What an operator asks: start to serving with 100,000 and 1,000,000 leases (xdhcpd and
    /// dhcpd), crash detection with the defaults.
    Operator,
    /// DISCOVER flood of partner-owned clients: absorbed rate and xdhcpd CPU, XDP vs fallback.
    Flood,
    /// SO_REUSEPORT delivery of broadcast, relayed and unicast requests over worker sockets.
    Steer,
    /// Power restoration: an avalanche of N clients (`--clients 10000,100000`) into xdhcpd
    /// (alone, pair with XDP off and on), Kea (alone, HA) and ISC dhcpd (alone, pair).
    /// Optional arguments: only `xdhcpd`, `kea` or `dhcpd`.
    Restore,
    /// Redraw the chart of the last `bench server` run.
    Chart,
    /// Pool size and subnet count (issue 14): 1,000,000 / 65,000 / 2,000 addresses and 2,000
    /// relayed subnets at a fixed rate, xdhcpd beside Kea: start-up, RSS, CPU, ACK p50/p99/max.
    /// Options: --secs N, --rate R, --baseline PATH (an older xdhcpd), --only xdhcpd, --layout L.
    Bigpool,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Setup { no_apt } => setup::setup(if no_apt { Needs::Toolchain } else { Needs::Tests }),
        Cmd::Build => build_release(),
        Cmd::Test => test(),
        Cmd::Package => {
            build_release()?;
            package::package().map(|_| ())
        }
        Cmd::Run { args } => {
            build_release()?;
            let bin = crate::util::target_dir().join("release/xdhcpd");
            step(&format!("running {} {}", bin.display(), args.join(" ")));
            let status = std::process::Command::new(bin).args(&args).status()?;
            std::process::exit(status.code().unwrap_or(1));
        }
        Cmd::Lab { migrate: false } => {
            setup::setup(Needs::Lab)?;
            build_release()?;
            lab::run()
        }
        Cmd::Lab { migrate: true } => {
            setup::setup(Needs::Migrate)?;
            build_release()?;
            migrate::run()
        }
        Cmd::Sim { seeds, seed, seconds } => sim::run(seeds, seed, seconds),
        Cmd::Compat { files } => compat(files),
        Cmd::Fuzz { secs, target } => {
            setup::setup(Needs::Toolchain)?;
            fuzz::run(secs, target.as_deref())
        }
        Cmd::Bench { what, args } => {
            setup::setup(Needs::Tests)?;
            match what {
                BenchWhat::Xdp => {
                    step("XDP program cost per packet (BPF_PROG_TEST_RUN) vs the same code natively");
                    cargo(&["build", "--release", "-p", "xdhcpd-benches", "--bin", "xdp_bench"])?;
                    util::run(&crate::util::target_dir().join("release/xdp_bench"), &args)
                }
                BenchWhat::Engine => {
                    step("engine alone: allocations/s, memory per lease, 1M-lease file load");
                    cargo(&["build", "--release", "-p", "xdhcpd-benches", "--bin", "engine_bench"])?;
                    util::run(&crate::util::target_dir().join("release/engine_bench"), &[])?;
                    step("criterion: classification and decision");
                    let mut a = vec!["bench", "-p", "xdhcpd-benches"];
                    if !args.is_empty() {
                        a.push("--");
                        a.extend(args.iter().map(String::as_str));
                    }
                    cargo(&a)
                }
                BenchWhat::Server => {
                    build_release()?;
                    bench::server(&args)
                }
                BenchWhat::Chart => {
                    let dir = root().join("target/bench/server");
                    bench::chart(&dir.join("results.json"), &dir.join("results.png"))
                }
                BenchWhat::Takeover => {
                    build_release()?;
                    bench::takeover(&args)
                }
                BenchWhat::Failover => {
                    build_release()?;
                    bench_failover::failover(&args)
                }
                BenchWhat::Operator => {
                    build_release()?;
                    bench_operator::operator(&args)
                }
                BenchWhat::Bigpool => {
                    build_release()?;
                    cargo(&["build", "--release", "-p", "xdhcpd-benches", "--bin", "relay_load"])?;
                    bench_bigpool::bigpool(&args)
                }
                BenchWhat::Flood => {
                    build_release()?;
                    bench::flood(&args)
                }
                BenchWhat::Restore => {
                    build_release()?;
                    bench_restore::restore(&args)
                }
                BenchWhat::Steer => {
                    step("steering: how SO_REUSEPORT spreads DHCP requests over worker sockets");
                    cargo(&["build", "--release", "-p", "xdhcpd-benches", "--bin", "steer_bench"])?;
                    util::run(&crate::util::target_dir().join("release/steer_bench"), &args)
                }
            }
        }
    }
}

fn build_release() -> Result<()> {
    setup::setup(Needs::Toolchain)?;
    step("building the XDP program and xdhcpd (release)");
    cargo(&["build", "--release", "-p", "dhcp-user"])?;
    let obj = util::ebpf_object(true);
    match obj.and_then(|p| std::fs::metadata(&p).ok().map(|m| (p, m.len()))) {
        Some((p, n)) if n > 0 => println!("    eBPF object: {} ({n} bytes)", p.display()),
        _ => println!("    WARNING: built without the XDP program (see warnings above)"),
    }
    Ok(())
}

fn compat(files: Option<String>) -> Result<()> {
    setup::setup(Needs::Tests)?;
    step("building xdhcpd (debug)");
    cargo(&["build", "-p", "dhcp-user"])?;
    let bin = util::target_dir().join("debug/xdhcpd");
    // SAFETY: single-threaded at this point.
    unsafe {
        std::env::set_var("XDHCPD_BIN", &bin);
        if let Some(f) = &files {
            std::env::set_var("COMPAT_FILES", f);
        }
    }
    step("verdicts and answers against dhcpd");
    cargo(&["test", "-p", "xdhcpd-tests", "--test", "compat_corpus", "--", "--nocapture", "--test-threads", "1"])?;
    step("failover pairs of the corpus with a dhcpd partner");
    cargo(&["test", "-p", "xdhcpd-tests", "--test", "compat_pair", "--", "--nocapture"])
}

fn test() -> Result<()> {
    setup::setup(Needs::Tests)?;
    step("cargo fmt --check");
    cargo(&["fmt", "--all", "--", "--check"]).map_err(|e| e.context("formatting differs: run `cargo fmt --all`"))?;
    step("cargo clippy -D warnings");
    cargo(&["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"])?;
    step("the Debian package (release build), installed and purged by tests/package.rs");
    build_release()?;
    let deb = package::package()?;
    step("building xdhcpd (debug) for the integration tests");
    cargo(&["build", "-p", "dhcp-user"])?;
    step("unit, property and integration tests");
    let bin = util::target_dir().join("debug/xdhcpd");
    // SAFETY: single-threaded at this point.
    unsafe {
        std::env::set_var("XDHCPD_BIN", &bin);
        std::env::set_var("XDHCPD_DEB", &deb);
    }
    cargo(&["test", "--workspace", "--", "--test-threads", "2"])?;
    step("simulation: as many seeds as fit in 120 s (release)");
    sim::run(0, None, Some(120))?;
    step("fuzzing each target for 15 s");
    fuzz::run(15, None)?;
    step("all tests passed");
    Ok(())
}
