//! One data directory, three servers in turn: Apache writes it, ours serves it (every node reads
//! back identically: data, the whole stat, ACL), ours writes more, then Apache serves it again and
//! reads everything back. Reads go through zkCli.sh, so "identical" means byte-identical output.

mod common;

use common::OurServer;
use zk_testkit::{ApacheOptions, ApacheServer};

const APACHE_WRITES: &[&str] = &[
    "create /app appdata",
    "create /app/child1 one",
    "create -s /app/seq- s",
    "create -s /app/seq- s",
    "set /app appdata2",
    "set /app appdata3",
    "create /app/tmp",
    "delete /app/tmp",
    "create /empty",
    "addauth digest user:pass",
    "create /app/secret s auth::cdrwa",
    "setAcl /app/child1 world:anyone:cdr",
    "create -c /cont",
    "create /cont/kid k",
    "setquota -n 10 /app",
    "create /gone",
    "create /gone/a",
    "deleteall /gone",
    "quit",
];

const OUR_WRITES: &[&str] = &[
    "addauth digest user:pass",
    "create /app/ours o",
    "create /app/ours/deep d",
    "set /app/secret s2",
    "delete /app/child1",
    "create -s /app/seq- s3",
    "setAcl /app world:anyone:cdrwa",
    "create /ours-acl x digest:other:1pAyGNDYZwnj7ZTbkZ9aHhDnhOE=:r",
    "set /empty now-full",
    "quit",
];

/// Every node of the tree (as `ls -R /` lists it, read with the digest identity), then each node's
/// data, stat and ACL; the output with the port normalised.
fn read_everything(address: &str) -> String {
    let (listing, err) = common::zkcli(address, &["addauth digest user:pass", "ls -R /", "quit"]);
    let paths: Vec<String> = listing
        .lines()
        .filter(|l| l.starts_with('/'))
        .map(str::to_owned)
        .collect();
    assert!(
        paths.iter().any(|p| p == "/app"),
        "no /app in the listing:\n{listing}\n{err}"
    );
    let mut script = vec!["addauth digest user:pass".to_owned()];
    for p in &paths {
        script.push(format!("get -s {p}"));
        script.push(format!("getAcl {p}"));
    }
    script.push("listquota /app".into());
    script.push("quit".into());
    let script: Vec<&str> = script.iter().map(String::as_str).collect();
    let (out, err) = common::zkcli(address, &script);
    let port = address.rsplit(':').next().expect("port");
    // zkCli prints its connection events from another thread, so where they land among the
    // command output varies from run to run; they say nothing about the data.
    let events = |text: &str| {
        text.lines()
            .filter(|l| !l.is_empty() && *l != "WATCHER::" && !l.starts_with("WatchedEvent "))
            .map(|l| format!("{l}\n"))
            .collect::<String>()
    };
    format!(
        "{}{}--- stderr ---\n{}",
        events(&listing),
        events(&out),
        events(&err)
    )
    .replace(port, "<port>")
}

fn assert_same(expected: &str, actual: &str, what: &str) {
    if expected != actual {
        let e: Vec<&str> = expected.lines().collect();
        let a: Vec<&str> = actual.lines().collect();
        let first = e
            .iter()
            .zip(&a)
            .position(|(x, y)| x != y)
            .unwrap_or(e.len().min(a.len()));
        panic!(
            "{what} differs at line {first}:\n--- expected ---\n{}\n--- actual ---\n{}",
            e[first.saturating_sub(5)..].join("\n"),
            a[first.saturating_sub(5)..].join("\n")
        );
    }
}

#[test]
fn apache_and_our_server_share_a_data_directory() {
    common::require_zkcli();
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let apache_options = ApacheOptions {
        data_dir: Some(data.clone()),
        ..ApacheOptions::default()
    };

    let apache = ApacheServer::start_with(apache_options.clone());
    let (_, err) = common::zkcli(&apache.address(), APACHE_WRITES);
    assert!(
        err.contains("Created /cont/kid"),
        "Apache's writes failed:\n{err}"
    );
    let written_by_apache = read_everything(&apache.address());
    drop(apache);

    let ours = OurServer::start(Some(&data), &[]);
    assert_same(
        &written_by_apache,
        &read_everything(&ours.address()),
        "our server reading Apache's data dir",
    );
    let (_, err) = common::zkcli(&ours.address(), OUR_WRITES);
    assert!(
        err.contains("Created /ours-acl"),
        "our writes failed:\n{err}\n{}",
        ours.log()
    );
    let written_by_us = read_everything(&ours.address());
    assert!(written_by_us.contains("now-full"), "{written_by_us}");
    if let Ok(file) = std::env::var("DATADIR_INTEROP_DUMP") {
        std::fs::write(file, &written_by_us).expect("write dump");
    }
    drop(ours);

    let apache = ApacheServer::start_with(apache_options);
    assert_same(
        &written_by_us,
        &read_everything(&apache.address()),
        "Apache reading the data dir our server wrote",
    );
}
