//! Deterministic simulation of a failover pair: 2,000 seeds per run (see `src/sim`).
//! `SIM_SEEDS=N` runs more (or fewer), `SIM_SEED=S` runs one seed, `SIM_SECONDS=T` runs seeds
//! 0, 1, 2, ... for T seconds (as many as fit; `cargo xtask sim --seconds T`, which CI runs); a
//! failure prints the seed and the event log (`cargo xtask sim --seed S` replays it in release).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use xdhcpd_tests::sim::{self, Failure, Outcome};

/// Which seeds to run: `first..first+n`, stopping early at the deadline if there is one.
struct Seeds {
    first: u64,
    n: u64,
    deadline: Option<Instant>,
}

fn seeds_from_env() -> Seeds {
    let var = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u64>().ok());
    if let Some(s) = var("SIM_SEED") {
        return Seeds { first: s, n: 1, deadline: None };
    }
    if let Some(t) = var("SIM_SECONDS") {
        return Seeds { first: 0, n: u64::MAX, deadline: Some(Instant::now() + Duration::from_secs(t)) };
    }
    Seeds { first: 0, n: var("SIM_SEEDS").unwrap_or(2_000), deadline: None }
}

/// Runs the seeds on all cores, each thread taking the next seed until none is left or the
/// deadline has passed; returns the outcomes and the failures by seed.
fn run_many(seeds: &Seeds) -> (Vec<Outcome>, Vec<Failure>) {
    let threads = std::thread::available_parallelism().map(|p| p.get()).unwrap_or(1).min(16);
    let next = AtomicU64::new(seeds.first);
    let end = seeds.first.saturating_add(seeds.n);
    let results: Vec<Result<Outcome, Failure>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut out = Vec::new();
                    while seeds.deadline.is_none_or(|d| Instant::now() < d) {
                        let seed = next.fetch_add(1, Ordering::Relaxed);
                        if seed >= end {
                            break;
                        }
                        out.push(sim::run_seed(seed));
                    }
                    out
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
    let ran = (ok.len() + failures.len()) as u64;
    if !failures.is_empty() {
        eprintln!(
            "{} of {ran} seeds failed: {:?}",
            failures.len(),
            failures.iter().map(|f| f.seed).collect::<Vec<_>>()
        );
    }
    (ok, failures)
}

/// Seeds (of 0..2000, default fault mix) known to fail. Empty: the last of the 108 listed in
/// the first version were fixed (dueling updates, clock-skew correction, full resync for
/// conflict resolution, STOS on leaving STARTUP, PARTNER-DOWN reuse after tsfp + MCLT) or were
/// fault injections that broke an operator rule (see `src/sim/checker.rs`). Kept so a newly
/// found, understood but unfixed failure can be listed here rather than hidden.
///
/// Last fixed: 75226 and 27184 (a renewal granted for less than the client held shortened
/// what the server kept, though that ACK could be withheld) and 12477 (a partner's shorter
/// grant of the same client replaced a worker's binding whose write was still in flight):
/// see `Engine::apply_binding` and the renewal in `Engine::request`.
const KNOWN_FAILING: &[u64] = &[];

#[test]
fn sim_seeds() {
    let seeds = seeds_from_env();
    let t0 = Instant::now();
    let (ok, failures) = run_many(&seeds);
    let el = t0.elapsed();
    let ran = (ok.len() + failures.len()) as u64;
    let acks: u64 = ok.iter().map(|o| o.acks).sum();
    let crashes: u64 = ok.iter().map(|o| o.crashes).sum();
    let sim_s: u64 = ok.iter().map(|o| o.sim_ms / 1000).sum();
    let interleaved: u64 = ok.iter().map(|o| o.interleaved).sum();
    let dups: u64 = ok.iter().map(|o| o.dup_updates).sum();
    let stale: u64 = ok.iter().map(|o| o.stale_chunks).sum();
    eprintln!(
        "sim: {} of {ran} seeds passed in {:.2?} ({:.0} seeds/s): {sim_s} simulated s, {acks} ACKs, {crashes} crashes, \
         {interleaved} worker commits of a lease changed since bound, {dups} partner updates applied twice, \
         {stale} chunks of an old connection dropped",
        ok.len(),
        el,
        ran as f64 / el.as_secs_f64().max(1e-9)
    );
    assert!(ran > 0, "no seed ran");
    let (first, n) = (seeds.first, ran);
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
