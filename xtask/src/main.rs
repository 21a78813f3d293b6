//! Project automation, run as `cargo xtask <command>`.
//!
//! Spawns cargo and binaries; links no product crate.

use std::path::PathBuf;
use std::process::ExitCode;

mod tidy;

const USAGE: &str = "usage: cargo xtask <command>

commands:
  tidy    check the dependency direction and crate conventions of ARCHITECTURE.md";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
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
