//! Runs simulation seeds: `cargo run -p zk-sim --example sim -- --seeds 1..100`, or one seed with
//! `ZK_SIM_SEED=<n>` (which also prints the run's report). Exits non-zero if any seed fails;
//! every failure prints its seed. `cargo xtask sim` runs several of these in parallel.

use std::process::ExitCode;

use zk_sim::{SimConfig, run};

fn parse_range(text: &str) -> Option<(u64, u64)> {
    let (a, b) = text.split_once("..")?;
    let end = match b.strip_prefix('=') {
        Some(b) => b.parse::<u64>().ok()? + 1,
        None => b.parse().ok()?,
    };
    Some((a.parse().ok()?, end))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let verbose = args.iter().any(|a| a == "--verbose");
    let (from, to) = if let Ok(seed) = std::env::var("ZK_SIM_SEED") {
        let Ok(seed) = seed.trim().parse::<u64>() else {
            eprintln!("ZK_SIM_SEED must be a number, got {seed:?}");
            return ExitCode::FAILURE;
        };
        (seed, seed + 1)
    } else {
        let range = args
            .iter()
            .position(|a| a == "--seeds")
            .and_then(|i| args.get(i + 1))
            .map(String::as_str)
            .unwrap_or("1..101");
        match parse_range(range) {
            Some(r) => r,
            None => {
                eprintln!("usage: sim [--seeds A..B] [--verbose]  (or ZK_SIM_SEED=n)");
                return ExitCode::FAILURE;
            }
        }
    };
    let one = to == from + 1;
    let mut failed = Vec::new();
    let mut totals = (0u64, 0u64, 0u64, 0u64, 0u64, 0u64);
    for seed in from..to {
        let report = run(SimConfig::new(seed));
        totals.0 += 1;
        totals.1 += report.faults.crashes;
        totals.2 += report.faults.partitions_symmetric + report.faults.partitions_one_way;
        totals.3 += report.net.lost + report.net.partitioned;
        totals.4 += report.net.duplicated;
        totals.5 += report.committed as u64;
        if verbose || one || !report.passed() {
            println!("{report}");
        }
        if !report.passed() {
            failed.push(seed);
        }
    }
    println!(
        "sim seeds {from}..{to}: {} runs, {} failed {:?}; {} crashes, {} partitions, {} messages \
         lost or cut, {} duplicated, {} txns committed",
        totals.0,
        failed.len(),
        failed,
        totals.1,
        totals.2,
        totals.3,
        totals.4,
        totals.5
    );
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
