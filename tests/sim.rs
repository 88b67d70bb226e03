//! Deterministic simulation of a failover pair: 2,000 seeds per run (see `src/sim`).
//! `SIM_SEEDS=N` runs more (or fewer), `SIM_SEED=S` runs one seed; a failure prints the seed
//! and the event log (`cargo xtask sim --seed S` replays it in release).

use std::time::Instant;
use xdhcpd_tests::sim::{self, Failure, Outcome};

fn seeds_from_env() -> (u64, u64) {
    if let Some(s) = std::env::var("SIM_SEED").ok().and_then(|v| v.parse().ok()) {
        return (s, 1);
    }
    let n = std::env::var("SIM_SEEDS").ok().and_then(|v| v.parse().ok()).unwrap_or(2_000);
    (0, n)
}

/// Runs `first..first+n` on all cores; returns the outcomes and the failures by seed.
fn run_many(first: u64, n: u64) -> (Vec<Outcome>, Vec<Failure>) {
    let threads = std::thread::available_parallelism().map(|p| p.get()).unwrap_or(1).min(16) as u64;
    let results: Vec<Result<Outcome, Failure>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    (first..first + n).filter(|seed| seed % threads == t).map(sim::run_seed).collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    });
    let mut ok = Vec::new();
    let mut failures = Vec::new();
    for r in results {
        match r {
            Ok(o) => ok.push(o),
            Err(f) => failures.push(f),
        }
    }
    failures.sort_by_key(|f| f.seed);
    if std::env::var_os("SIM_SUMMARY").is_some() {
        for f in &failures {
            eprintln!("FAIL {}: {}", f.seed, f.message.lines().take(2).collect::<Vec<_>>().join(" / "));
        }
    }
    if !failures.is_empty() {
        eprintln!("{} of {n} seeds failed: {:?}", failures.len(), failures.iter().map(|f| f.seed).collect::<Vec<_>>());
    }
    (ok, failures)
}

/// Seeds (of 0..2000, default fault mix) known to fail. Empty: the last of the 108 listed in
/// the first version were fixed (dueling updates, clock-skew correction, full resync for
/// conflict resolution, STOS on leaving STARTUP, PARTNER-DOWN reuse after tsfp + MCLT) or were
/// fault injections that broke an operator rule (see `src/sim/checker.rs`). Kept so a newly
/// found, understood but unfixed failure can be listed here rather than hidden.
const KNOWN_FAILING: &[u64] = &[];

#[test]
fn sim_seeds() {
    let (first, n) = seeds_from_env();
    let t0 = Instant::now();
    let (ok, failures) = run_many(first, n);
    let el = t0.elapsed();
    let acks: u64 = ok.iter().map(|o| o.acks).sum();
    let crashes: u64 = ok.iter().map(|o| o.crashes).sum();
    let sim_s: u64 = ok.iter().map(|o| o.sim_ms / 1000).sum();
    eprintln!(
        "sim: {} seeds passed in {:.2?} ({:.2} ms/seed): {sim_s} simulated s, {acks} ACKs, {crashes} crashes",
        ok.len(),
        el,
        el.as_secs_f64() * 1000.0 / n.max(1) as f64
    );
    // A replay of one seed (SIM_SEED) fails on any violation, known or not.
    let single = n == 1;
    let fixed: Vec<u64> = KNOWN_FAILING
        .iter()
        .copied()
        .filter(|s| (first..first + n).contains(s) && !failures.iter().any(|f| f.seed == *s))
        .collect();
    if !fixed.is_empty() {
        eprintln!("seeds in KNOWN_FAILING that now pass (remove them): {fixed:?}");
    }
    if let Some(f) = failures.into_iter().find(|f| single || !KNOWN_FAILING.contains(&f.seed)) {
        // Keep the output readable: the tail of the log is where the violation is.
        let keep = if single { usize::MAX } else { 400 };
        let tail = f.log.len().saturating_sub(keep);
        let short = Failure { log: f.log[tail..].to_vec(), ..f.clone() };
        panic!("{short}");
    }
}

#[test]
fn sim_is_reproducible() {
    for seed in [7u64, 1234, 99_999] {
        let a = sim::run_seed(seed);
        let b = sim::run_seed(seed);
        match (a, b) {
            (Ok(a), Ok(b)) => {
                assert_eq!(a.hash, b.hash, "seed {seed}: same seed, different event logs");
                assert_eq!((a.steps, a.sim_ms), (b.steps, b.sim_ms), "seed {seed}");
            }
            (Err(a), Err(b)) => assert_eq!(a.log, b.log, "seed {seed}: same seed, different failing logs"),
            _ => panic!("seed {seed}: one run passed and the other failed"),
        }
    }
}
