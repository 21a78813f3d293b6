//! `cargo xtask compat kazoo`: runs kazoo's own test suite against our standalone server.
//!
//! kazoo's harness starts servers with `java ... QuorumPeerMain W/zoo.cfg` found on PATH, so a
//! `java` shim early on PATH runs `zk-server start-foreground W/zoo.cfg` instead, with the JVM's
//! `-D` flags passed as `SERVER_JVMFLAGS` (see ../shared/compat/kazoo.md). The result is compared
//! with the tests that fail against Apache ZooKeeper 3.8 standalone too, plus the gaps this
//! server still has, each listed below with its reason.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

/// Tests that fail against Apache ZooKeeper 3.8.0 standalone as well (topology-bound).
const FAIL_ON_APACHE_TOO: &[&str] = &["test_update_host_list", "TestReconfig::", "test_read_only"];

/// Tests that fail against us today, with why. Shrink this list; never grow it silently.
const KNOWN_GAPS: &[(&str, &str)] = &[];

const SHIM: &str = r#"#!/usr/bin/env bash
# kazoo's harness runs `java <flags> org.apache.zookeeper.server.quorum.QuorumPeerMain W/zoo.cfg`;
# run zk-server instead and pass the -D flags on as zkServer.sh would. Anything else goes to java.
main=0; cfg=""; flags=()
for a in "$@"; do
  case "$a" in
    org.apache.zookeeper.server.quorum.QuorumPeerMain) main=1 ;;
    -D*) flags+=("$a") ;;
    *) if [ "$main" = 1 ]; then cfg="$a"; fi ;;
  esac
done
if [ "$main" = 0 ]; then exec "$REAL_JAVA" "$@"; fi
W="$(dirname "$cfg")"
# zk-server reads PEM, not Java KeyStores: export kazoo's JKS key store (password apassword) as
# one PEM file, key and certificate chain, the way 3.8 reads ssl.keyStore.type=PEM.
if [ -f "$W/keystore.jks" ]; then
  "$VENV_PYTHON" - "$W/keystore.jks" "$W/keystore.pem" <<'PY' >>"$W/zookeeper.log" 2>&1
import base64, sys, textwrap
import jks
def pem(kind, der):
    body = "\n".join(textwrap.wrap(base64.b64encode(der).decode(), 64))
    return "-----BEGIN %s-----\n%s\n-----END %s-----\n" % (kind, body, kind)
ks = jks.KeyStore.load(sys.argv[1], "apassword")
out = []
for pk in ks.private_keys.values():
    out.append(pem("PRIVATE KEY", pk.pkey_pkcs8))
    out.extend(pem("CERTIFICATE", der) for _, der in pk.cert_chain)
open(sys.argv[2], "w").write("".join(out))
PY
  flags+=("-Dzookeeper.ssl.keyStore.location=$W/keystore.pem" "-Dzookeeper.ssl.keyStore.type=PEM")
fi
export SERVER_JVMFLAGS="${flags[*]}"
exec "$ZK_SERVER_BIN" start-foreground "$cfg" >>"$W/zookeeper.log" 2>&1 </dev/null
"#;

fn run_ok(cmd: &mut Command, what: &str) -> Result<()> {
    let status = cmd.status().with_context(|| format!("running {what}"))?;
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(())
}

pub(crate) fn kazoo(root: &Path, pytest_args: &[String]) -> Result<()> {
    let work = root.join("target/kazoo");
    std::fs::create_dir_all(&work)?;
    let venv = work.join("venv");
    if !venv.join("bin/python").exists() {
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status();
        if !made.is_ok_and(|s| s.success()) {
            println!("xtask: installing python3-venv");
            run_ok(
                Command::new("sh").args([
                    "-c",
                    "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv python3-pip",
                ]),
                "apt-get install python3-venv",
            )?;
            run_ok(
                Command::new("python3").args(["-m", "venv"]).arg(&venv),
                "python3 -m venv",
            )?;
        }
    }
    let pip = venv.join("bin/pip");
    run_ok(
        Command::new(&pip).args([
            "install",
            "-q",
            "kazoo==2.11.0",
            "pytest",
            "pytest-timeout",
            "pyOpenSSL<26.2",
            "pyjks",
            "pure-sasl",
            "objgraph",
            "gevent",
            "eventlet",
        ]),
        "pip install kazoo and its test dependencies",
    )?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    run_ok(
        Command::new(&cargo)
            .args([
                "build",
                "--release",
                "-p",
                "zk-server",
                "--bin",
                "zk-server",
            ])
            .current_dir(root),
        "cargo build zk-server",
    )?;
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| root.join("target"));
    let server_bin = target.join("release/zk-server");
    let shim_dir = work.join("shim");
    std::fs::create_dir_all(&shim_dir)?;
    let shim = shim_dir.join("java");
    std::fs::write(&shim, SHIM)?;
    run_ok(Command::new("chmod").arg("+x").arg(&shim), "chmod")?;
    let real_java = which("java").unwrap_or_else(|| "/usr/bin/java".into());
    let tmp = work.join("tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp)?;
    let path = format!(
        "{}:{}:{}",
        shim_dir.display(),
        venv.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let report = work.join("report.txt");
    let output = Command::new(venv.join("bin/python"))
        .args([
            "-m",
            "pytest",
            "--pyargs",
            "kazoo.tests",
            "-rA",
            "-q",
            "-p",
            "no:cacheprovider",
            "--timeout=180",
        ])
        .args(pytest_args)
        .env("PATH", path)
        .env("REAL_JAVA", real_java)
        .env("VENV_PYTHON", venv.join("bin/python"))
        .env("ZK_SERVER_BIN", &server_bin)
        .env("ZOOKEEPER_VERSION", "3.8.0")
        .env("ZOOKEEPER_CLASSPATH", "/usr/share/java/zookeeper.jar")
        .env("ZOOKEEPER_CLUSTER_SIZE", "1")
        .env("CI", "true")
        .env("TMPDIR", &tmp)
        .current_dir(&work)
        .output()
        .context("running pytest")?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    std::fs::write(&report, &text)?;
    let mut passed = 0usize;
    let mut failed = BTreeSet::new();
    for line in text.lines() {
        if line.starts_with("PASSED ") {
            passed += 1;
        } else if let Some(rest) = line
            .strip_prefix("FAILED ")
            .or_else(|| line.strip_prefix("ERROR "))
            && rest.contains("::")
            && !rest.starts_with(' ')
        {
            // Test ids only; captured log lines also start with "ERROR ".
            failed.insert(rest.split(" - ").next().unwrap_or(rest).to_owned());
        }
    }
    println!("kazoo: {passed} passed, {} failed or errored", failed.len());
    let mut unexpected = Vec::new();
    for f in &failed {
        if FAIL_ON_APACHE_TOO.iter().any(|p| f.contains(p)) {
            println!("  expected (fails on Apache standalone too): {f}");
        } else if let Some((_, why)) = KNOWN_GAPS.iter().find(|(p, _)| f.contains(p)) {
            println!("  known gap ({why}): {f}");
        } else {
            unexpected.push(f.clone());
        }
    }
    if passed == 0 {
        bail!(
            "no kazoo test passed: see {} and target/kazoo/tmp/*/zookeeper.log",
            report.display()
        );
    }
    if !unexpected.is_empty() {
        for f in &unexpected {
            println!("  UNEXPECTED FAILURE: {f}");
        }
        bail!(
            "{} kazoo tests failed that pass against Apache ZooKeeper 3.8: see {}",
            unexpected.len(),
            report.display()
        );
    }
    Ok(())
}

fn which(name: &str) -> Option<String> {
    let path = std::env::var("PATH").ok()?;
    path.split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
        .map(|p| p.display().to_string())
}
