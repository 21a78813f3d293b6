//! Project automation, run as `cargo xtask <command>`.
//!
//! Spawns cargo and binaries; links no product crate.

use std::path::PathBuf;
use std::process::ExitCode;

mod bench;
mod cluster;
mod compat;
mod sim;
mod test_deps;
mod tidy;

const USAGE: &str = "usage: cargo xtask <command>

commands:
  test [ARGS]   install what the tests need (Apache ZooKeeper 3.8 from Debian), then run
                cargo test --workspace [ARGS]
  bench compare [--servers 1|3] [--quick] [--workloads a,b] [--rounds N]
                ours vs Apache ZooKeeper 3.8, report in target/bench-report (bench --help)
  cluster up|status|logs|kill|restart|down|failover [...]
                a local ensemble of real servers under target/cluster; failover times leader
                kills (cargo xtask cluster --help for the commands, options and port layout)
  compat kazoo [PYTEST ARGS]
                run kazoo's own test suite against our standalone server (needs python3,
                pip and java; compares with the tests that pass against Apache ZooKeeper 3.8);
                extra arguments go to pytest, e.g. -k sasl
  sim [--seeds A..B] [--jobs N]
                run zk-sim seeds in parallel, report failing seeds (ZK_SIM_SEED=n replays one)
  tidy          check the dependency direction and crate conventions of ARCHITECTURE.md";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test_deps::run(&workspace_root(), &args[1..]),
        Some("bench") => bench::run(&workspace_root(), &args[1..]),
        Some("cluster") => cluster::run(&workspace_root(), &args[1..]),
        Some("compat") => match args.get(1).map(String::as_str) {
            Some("kazoo") => compat::kazoo(&workspace_root(), &args[2..]),
            _ => Err(anyhow::anyhow!("usage: cargo xtask compat kazoo")),
        },
        Some("sim") => sim::run(&workspace_root(), &args[1..]),
        Some("tidy") => tidy::run(&workspace_root()),
        Some("-h" | "--help") | None => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some(other) => Err(anyhow::anyhow!(
            "unknown command '{other}': run 'cargo xtask --help' for the list"
        )),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root: the parent of this crate's manifest directory.
pub(crate) fn workspace_root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}
