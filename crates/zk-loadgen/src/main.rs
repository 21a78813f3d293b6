//! `zk-loadgen`: drives a ZooKeeper-protocol server (ours or Apache's) with the third-party
//! `zookeeper-client` crate, so both are measured with the same client code, and prints one JSON
//! line per run: throughput, HDR latency percentiles, errors, and the server's CPU time per
//! operation and RSS read from `/proc/<pid>`. `cargo xtask bench compare` runs it; see `--help`.

use std::process::ExitCode;

mod args;
mod load;
mod stats;

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.is_empty() || argv.iter().any(|a| a == "-h" || a == "--help") {
        println!("{}", args::USAGE);
        return ExitCode::SUCCESS;
    }
    let options = match args::parse(&argv) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("zk-loadgen: {e:#}");
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(options.threads)
        .enable_all()
        .build()
        .expect("tokio runtime");
    match runtime.block_on(load::run(&options)) {
        Ok(report) => {
            eprintln!("{}", load::summary(&report));
            println!("{report}");
            // Sessions still open (their background tasks) must not delay the exit.
            runtime.shutdown_background();
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("zk-loadgen {}: {e:#}", options.workload.name());
            runtime.shutdown_background();
            ExitCode::FAILURE
        }
    }
}
