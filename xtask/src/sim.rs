//! `cargo xtask sim [--seeds A..B] [--jobs N]`: runs zk-sim seeds in parallel processes (each the
//! `sim` example of zk-sim on a sub-range, release build) and reports the failing seeds.
//! `ZK_SIM_SEED=<n> cargo xtask sim` replays one seed with its report.

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

fn parse_range(text: &str) -> Result<(u64, u64)> {
    let (a, b) = text
        .split_once("..")
        .with_context(|| format!("--seeds takes A..B, got {text}"))?;
    let from: u64 = a.parse().with_context(|| format!("bad seed {a}"))?;
    let to: u64 = match b.strip_prefix('=') {
        Some(b) => b.parse::<u64>().with_context(|| format!("bad seed {b}"))? + 1,
        None => b.parse().with_context(|| format!("bad seed {b}"))?,
    };
    if to <= from {
        bail!("empty seed range {text}");
    }
    Ok((from, to))
}

fn sim_command(root: &Path) -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(root).args([
        "run",
        "-q",
        "--release",
        "-p",
        "zk-sim",
        "--example",
        "sim",
        "--",
    ]);
    cmd
}

pub(crate) fn run(root: &Path, args: &[String]) -> Result<()> {
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let build = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(root)
        .args([
            "build",
            "-q",
            "--release",
            "-p",
            "zk-sim",
            "--example",
            "sim",
        ])
        .status()
        .context("running cargo build")?;
    if !build.success() {
        bail!("building the zk-sim runner failed");
    }
    if std::env::var("ZK_SIM_SEED").is_ok() {
        let status = sim_command(root).status().context("running the sim")?;
        return if status.success() {
            Ok(())
        } else {
            bail!("the seed failed")
        };
    }
    let (from, to) = parse_range(&value("--seeds").unwrap_or_else(|| "1..1001".into()))?;
    let jobs: u64 = match value("--jobs") {
        Some(j) => j.parse().context("--jobs takes a number")?,
        None => std::thread::available_parallelism().map_or(2, |n| n.get() as u64),
    };
    let jobs = jobs.clamp(1, to - from);
    let chunk = (to - from).div_ceil(jobs);
    let mut children = Vec::new();
    let mut start = from;
    while start < to {
        let end = (start + chunk).min(to);
        let child = sim_command(root)
            .args(["--seeds", &format!("{start}..{end}")])
            .stdout(Stdio::piped())
            .spawn()
            .context("spawning the sim")?;
        children.push((start, end, child));
        start = end;
    }
    let mut failed = Vec::new();
    let mut broken = Vec::new();
    for (start, end, child) in children {
        let out = child.wait_with_output().context("waiting for the sim")?;
        let text = String::from_utf8_lossy(&out.stdout);
        print!("{text}");
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("FAILED (seed ") {
                if let Some(seed) = rest.split(';').next() {
                    failed.push(seed.to_string());
                }
            }
        }
        if !out.status.success() && !text.contains("FAILED") {
            broken.push(format!("{start}..{end}"));
        }
    }
    if !broken.is_empty() {
        bail!(
            "the sim process crashed on seed ranges {}",
            broken.join(", ")
        );
    }
    if !failed.is_empty() {
        bail!(
            "{} of {} seeds failed: {} (replay one with ZK_SIM_SEED=<seed> cargo xtask sim)",
            failed.len(),
            to - from,
            failed.join(", ")
        );
    }
    println!("all {} seeds in {from}..{to} passed", to - from);
    Ok(())
}
