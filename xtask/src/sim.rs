//! `cargo xtask sim --seeds N [--seed S]`: the deterministic failover-pair simulation
//! (`tests/src/sim`) in release, many seeds on all cores, with a summary. A failure prints
//! the seed, the violated invariant and the event log.

use anyhow::{Result, bail};
use std::time::Instant;
use xdhcpd_tests::sim;

/// Runs seeds `0..seeds`, or only `seed` (printing its whole event log on failure).
pub fn run(seeds: u64, seed: Option<u64>) -> Result<()> {
    let (first, n) = match seed {
        Some(s) => (s, 1),
        None => (0, seeds),
    };
    let threads = std::thread::available_parallelism().map(|p| p.get()).unwrap_or(1) as u64;
    let t0 = Instant::now();
    let results: Vec<Result<sim::Outcome, sim::Failure>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || (first..first + n).filter(|x| x % threads == t).map(sim::run_seed).collect::<Vec<_>>())
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    });
    let el = t0.elapsed();
    let mut failures: Vec<sim::Failure> = results.iter().filter_map(|r| r.as_ref().err().cloned()).collect();
    failures.sort_by_key(|f| f.seed);
    let ok: Vec<&sim::Outcome> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    let sim_s: u64 = ok.iter().map(|o| o.sim_ms / 1000).sum();
    let acks: u64 = ok.iter().map(|o| o.acks).sum();
    let crashes: u64 = ok.iter().map(|o| o.crashes).sum();
    let steps: u64 = ok.iter().map(|o| o.steps).sum();
    println!(
        "sim: {n} seeds from {first} in {el:.2?} ({:.2} ms/seed, {threads} threads): {} passed, {} failed; \
         {sim_s} simulated s, {steps} steps, {acks} ACKs, {crashes} crashes",
        el.as_secs_f64() * 1000.0 / n.max(1) as f64,
        ok.len(),
        failures.len()
    );
    if let (Some(o), Some(_)) = (ok.first(), seed) {
        println!("seed {}: passed, event log hash {:016x}, {} lines", o.seed, o.hash, o.lines);
    }
    for f in &failures {
        println!("FAILED seed {}: {}", f.seed, f.message.lines().next().unwrap_or(""));
    }
    if let Some(f) = failures.first() {
        if seed.is_some() {
            println!("{f}");
        } else {
            println!("replay one with: cargo xtask sim --seed {}", f.seed);
        }
        bail!("{} of {n} seeds failed", failures.len());
    }
    Ok(())
}
