//! `cargo xtask sim [--seeds N | --seed S | --seconds T]`: the deterministic failover-pair
//! simulation (`tests/src/sim`, driven by `tests/sim.rs`) built in release and run on all
//! cores: seeds 0..N, one seed with its whole event log, or as many seeds as fit in T seconds
//! (what CI runs). It prints seeds/s and, on a failure, the seed, the violated invariant and
//! the event log, and exits non-zero.

use crate::util::cargo_with_env;
use anyhow::Result;

pub fn run(seeds: u64, seed: Option<u64>, seconds: Option<u64>) -> Result<()> {
    let (key, value) = match (seed, seconds) {
        (Some(s), _) => ("SIM_SEED", s),
        (None, Some(t)) => ("SIM_SECONDS", t),
        (None, None) => ("SIM_SEEDS", seeds),
    };
    let value = value.to_string();
    cargo_with_env(
        &["test", "--release", "-p", "xdhcpd-tests", "--test", "sim", "--", "sim_seeds", "--exact", "--nocapture"],
        &[(key, value.as_str()), ("SIM_SUMMARY", "1")],
    )
}
