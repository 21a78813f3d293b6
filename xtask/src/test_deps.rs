//! `cargo xtask test`: installs what the test suite needs on a fresh machine, then runs it.
//!
//! The interop tests run the real Apache ZooKeeper 3.8 from Debian's packages; they fail, not skip,
//! when it is missing, so this is the one command that runs every test on a new machine.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

/// Where Debian's `zookeeper` package puts the server and client classes.
pub(crate) const APACHE_JAR: &str = "/usr/share/java/zookeeper-3.8.0.jar";

/// The C client's command-line shell, from Debian's `zookeeper-bin` (the server differential test
/// runs it).
pub(crate) const CLI_MT: &str = "/usr/lib/zookeeper/bin/cli_mt";

/// Whether `program` runs (is on PATH).
fn on_path(program: &str) -> bool {
    Command::new(program).arg("-V").output().is_ok()
}

/// Installs Debian's packages for whatever of the interop tests' tools is missing: Apache
/// ZooKeeper 3.8 (server, Java client, zkCli.sh, cli_mt) and tmux (zkcli's terminal test).
fn ensure_test_tools() -> Result<()> {
    let mut packages = Vec::new();
    if !Path::new(APACHE_JAR).exists() || !Path::new(CLI_MT).exists() {
        packages.extend(["zookeeper", "zookeeper-bin"]);
    }
    if !on_path("tmux") {
        packages.push("tmux");
    }
    if packages.is_empty() {
        return Ok(());
    }
    let list = packages.join(" ");
    println!("xtask: installing Debian's {list} for the interop tests");
    let installed = Command::new("sh")
        .args([
            "-c",
            &format!(
                "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq {list}"
            ),
        ])
        .status()
        .context("running apt-get")?;
    if !installed.success()
        || !Path::new(APACHE_JAR).exists()
        || !Path::new(CLI_MT).exists()
        || !on_path("tmux")
    {
        bail!("could not install {list}: run 'apt-get install -y {list}' as root, then try again");
    }
    Ok(())
}

pub(crate) fn run(root: &Path, extra_args: &[String]) -> Result<()> {
    ensure_test_tools()?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["test", "--workspace"])
        .args(extra_args)
        .current_dir(root)
        .status()
        .context("running cargo test")?;
    if !status.success() {
        bail!("tests failed");
    }
    Ok(())
}
