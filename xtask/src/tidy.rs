//! `cargo xtask tidy`: the rules of ARCHITECTURE.md that the compiler does not enforce by itself.
//!
//! - Pure crates (jute, datatree, election, zab, sim) depend on no async runtime and no other than
//!   pure workspace crates, and their sources touch no sockets, files, threads or clocks.
//! - zk-persistence is synchronous: no async runtime.
//! - zk-client never depends, even indirectly, on the server side of the workspace.
//! - xtask links no product crate.
//! - Every library opens with a `//!` paragraph and every crate appears in ARCHITECTURE.md.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::Value;

const PURE: &[&str] = &["zk-jute", "zk-datatree", "zk-election", "zk-zab", "zk-sim"];
const SYNC: &[&str] = &["zk-persistence"];
const ASYNC_RUNTIME: &[&str] = &[
    "tokio",
    "tokio-util",
    "tokio-stream",
    "mio",
    "socket2",
    "async-std",
];
const SERVER_SIDE: &[&str] = &[
    "zk-server",
    "zk-datatree",
    "zk-persistence",
    "zk-quorum",
    "zk-election",
    "zk-zab",
    "zk-sim",
];
/// Source text a pure crate must not contain: I/O, threads, wall clocks, global randomness.
const IMPURE_SOURCE: &[&str] = &[
    "std::net",
    "std::fs",
    "std::thread",
    "std::process",
    "SystemTime::now",
    "Instant::now",
    "thread_rng",
    "tokio::",
];

/// One workspace package as tidy sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Package {
    pub(crate) name: String,
    pub(crate) dir: PathBuf,
    /// Normal (not dev, not build), non-optional dependencies.
    pub(crate) deps: BTreeSet<String>,
}

pub(crate) fn run(root: &Path) -> Result<()> {
    let packages = load_packages(root)?;
    let mut problems = check_dependencies(&packages);
    problems.extend(check_sources(&packages)?);
    problems.extend(check_architecture_doc(root, &packages)?);
    if problems.is_empty() {
        println!(
            "tidy: {} crates follow the rules of ARCHITECTURE.md",
            packages.len()
        );
        return Ok(());
    }
    for problem in &problems {
        eprintln!("tidy: {problem}");
    }
    bail!(
        "{} tidy problem(s): fix them or change the rule in ARCHITECTURE.md",
        problems.len()
    )
}

fn load_packages(root: &Path) -> Result<Vec<Package>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(root)
        .output()
        .context("running cargo metadata")?;
    if !output.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let metadata: Value =
        serde_json::from_slice(&output.stdout).context("parsing cargo metadata")?;
    parse_packages(&metadata)
}

pub(crate) fn parse_packages(metadata: &Value) -> Result<Vec<Package>> {
    let packages = metadata["packages"]
        .as_array()
        .context("cargo metadata has no packages")?;
    packages
        .iter()
        .map(|p| {
            let name = p["name"]
                .as_str()
                .context("package without a name")?
                .to_owned();
            let manifest = p["manifest_path"]
                .as_str()
                .context("package without a manifest")?;
            let dir = Path::new(manifest)
                .parent()
                .context("manifest without a directory")?
                .to_path_buf();
            let deps = p["dependencies"]
                .as_array()
                .map(|deps| {
                    deps.iter()
                        .filter(|d| {
                            d["kind"].is_null() && !d["optional"].as_bool().unwrap_or(false)
                        })
                        .filter_map(|d| d["name"].as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            Ok(Package { name, dir, deps })
        })
        .collect()
}

/// The workspace crates `name` depends on, directly or not.
fn workspace_closure<'a>(by_name: &BTreeMap<&str, &'a Package>, name: &str) -> BTreeSet<&'a str> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![name.to_owned()];
    while let Some(current) = stack.pop() {
        let Some(package) = by_name.get(current.as_str()) else {
            continue;
        };
        for dep in &package.deps {
            if let Some(dep_package) = by_name.get(dep.as_str()) {
                if seen.insert(dep_package.name.as_str()) {
                    stack.push(dep.clone());
                }
            }
        }
    }
    seen
}

pub(crate) fn check_dependencies(packages: &[Package]) -> Vec<String> {
    let by_name: BTreeMap<&str, &Package> = packages.iter().map(|p| (p.name.as_str(), p)).collect();
    let mut problems = Vec::new();
    for package in packages {
        let name = package.name.as_str();
        let closure = workspace_closure(&by_name, name);
        if PURE.contains(&name) || SYNC.contains(&name) {
            for dep in &package.deps {
                if ASYNC_RUNTIME.contains(&dep.as_str()) {
                    problems.push(format!(
                        "{name} must not depend on {dep}: keep the runtime out of it"
                    ));
                }
            }
        }
        if PURE.contains(&name) {
            for dep in &closure {
                if !PURE.contains(dep) {
                    problems.push(format!(
                        "pure crate {name} depends on {dep}, which is not pure"
                    ));
                }
            }
        }
        if name == "zk-client" {
            for dep in closure.iter().filter(|d| SERVER_SIDE.contains(d)) {
                problems.push(format!(
                    "zk-client depends on {dep}: the client must stand alone"
                ));
            }
        }
        if name == "xtask" {
            for dep in &closure {
                problems.push(format!("xtask links {dep}: spawn binaries instead"));
            }
        }
    }
    problems
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            rust_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

pub(crate) fn impure_lines(source: &str) -> Vec<(usize, &'static str)> {
    source
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim_start().starts_with("//"))
        .flat_map(|(n, line)| {
            IMPURE_SOURCE
                .iter()
                .filter(move |pattern| line.contains(*pattern))
                .map(move |pattern| (n + 1, *pattern))
        })
        .collect()
}

fn check_sources(packages: &[Package]) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    for package in packages {
        let src = package.dir.join("src");
        let lib = src.join("lib.rs");
        if lib.exists() {
            let text = std::fs::read_to_string(&lib)?;
            if !text.starts_with("//!") {
                problems.push(format!("{} must open with a //! paragraph", lib.display()));
            }
        }
        if !PURE.contains(&package.name.as_str()) {
            continue;
        }
        let mut files = Vec::new();
        rust_files(&src, &mut files)?;
        for file in files {
            let text = std::fs::read_to_string(&file)?;
            for (line, pattern) in impure_lines(&text) {
                problems.push(format!(
                    "{}:{line}: pure crate {} uses {pattern}",
                    file.display(),
                    package.name
                ));
            }
        }
    }
    Ok(problems)
}

fn check_architecture_doc(root: &Path, packages: &[Package]) -> Result<Vec<String>> {
    let doc =
        std::fs::read_to_string(root.join("ARCHITECTURE.md")).context("reading ARCHITECTURE.md")?;
    Ok(packages
        .iter()
        .filter(|p| !doc.contains(&format!("`{}`", p.name)))
        .map(|p| {
            format!(
                "ARCHITECTURE.md does not describe `{}` in its code map",
                p.name
            )
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package(name: &str, deps: &[&str]) -> Package {
        Package {
            name: name.into(),
            dir: PathBuf::from(name),
            deps: deps.iter().map(|d| d.to_string()).collect(),
        }
    }

    #[test]
    fn this_workspace_is_tidy() {
        run(&crate::workspace_root()).expect("the workspace breaks a tidy rule");
    }

    #[test]
    fn a_pure_crate_on_tokio_is_reported() {
        let problems = check_dependencies(&[
            package("zk-election", &["zk-jute", "tokio"]),
            package("zk-jute", &[]),
        ]);
        assert_eq!(
            problems,
            ["zk-election must not depend on tokio: keep the runtime out of it"]
        );
    }

    #[test]
    fn a_pure_crate_reaching_an_impure_one_is_reported() {
        let problems = check_dependencies(&[
            package("zk-zab", &["zk-quorum"]),
            package("zk-quorum", &["zk-jute", "tokio"]),
            package("zk-jute", &[]),
        ]);
        assert_eq!(
            problems,
            ["pure crate zk-zab depends on zk-quorum, which is not pure"]
        );
    }

    #[test]
    fn the_client_reaching_the_datatree_indirectly_is_reported() {
        let problems = check_dependencies(&[
            package("zk-client", &["helper"]),
            package("helper", &["zk-datatree"]),
            package("zk-datatree", &["zk-jute"]),
            package("zk-jute", &[]),
        ]);
        assert_eq!(
            problems,
            ["zk-client depends on zk-datatree: the client must stand alone"]
        );
    }

    #[test]
    fn impure_source_lines_are_found_and_comments_ignored() {
        let source =
            "use std::fs::File;\n// std::net is fine in a comment\nlet t = Instant::now();\n";
        assert_eq!(impure_lines(source), [(1, "std::fs"), (3, "Instant::now")]);
    }

    #[test]
    fn parse_packages_keeps_only_normal_required_dependencies() {
        let metadata = serde_json::json!({"packages": [{
            "name": "zk-jute",
            "manifest_path": "crates/zk-jute/Cargo.toml",
            "dependencies": [
                {"name": "bytes", "kind": null, "optional": false},
                {"name": "tokio-util", "kind": null, "optional": true},
                {"name": "proptest", "kind": "dev", "optional": false}
            ]
        }]});
        let packages = parse_packages(&metadata).unwrap();
        assert_eq!(packages[0].deps, BTreeSet::from(["bytes".to_string()]));
        assert_eq!(packages[0].dir, PathBuf::from("crates/zk-jute"));
    }
}
