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

fn ensure_apache_zookeeper() -> Result<()> {
    if Path::new(APACHE_JAR).exists() && Path::new(CLI_MT).exists() {
        return Ok(());
    }
    println!("xtask: installing Debian's zookeeper packages for the interop tests");
    let installed = Command::new("sh")
        .args([
            "-c",
            "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq zookeeper zookeeper-bin",
        ])
        .status()
        .context("running apt-get")?;
    if !installed.success() || !Path::new(APACHE_JAR).exists() || !Path::new(CLI_MT).exists() {
        bail!(
            "could not install Apache ZooKeeper 3.8: run 'apt-get install -y zookeeper zookeeper-bin' as root, then try again"
        );
    }
    Ok(())
}

pub(crate) fn run(root: &Path, extra_args: &[String]) -> Result<()> {
    ensure_apache_zookeeper()?;
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
