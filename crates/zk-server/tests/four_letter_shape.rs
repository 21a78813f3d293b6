//! Four-letter words against Apache's: `mntr` lines are `zk_<key>\t<value>` with 3.8's key names,
//! and the counts an operator watches agree with Apache's for the same fresh state; after the
//! same client actions, every other word prints the same lines, field names and order as 3.8's
//! once values that legitimately differ (times, ports, ids, sizes, latencies, paths) are masked.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::OurServer;
use zk_client::{Acl, Client, CreateMode};
use zk_testkit::ApacheServer;

fn mntr(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(|l| {
            let (k, v) = l
                .split_once('\t')
                .unwrap_or_else(|| panic!("not key<TAB>value: {l:?}"));
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

#[test]
fn mntr_speaks_apaches_key_names_and_counts() {
    let apache = ApacheServer::start();
    let ours = OurServer::start(None, &[]);
    let a = mntr(&apache.four_letter_word("mntr"));
    let o = mntr(&ours.four_letter_word("mntr"));
    let unknown: Vec<&String> = o.keys().filter(|k| !a.contains_key(*k)).collect();
    assert!(unknown.is_empty(), "keys 3.8 does not print: {unknown:?}");
    for key in [
        "zk_server_state",
        "zk_znode_count",
        "zk_watch_count",
        "zk_ephemerals_count",
        "zk_outstanding_requests",
    ] {
        assert!(a.contains_key(key), "Apache prints {key}");
        assert_eq!(o.get(key), a.get(key), "{key}");
    }
}

/// Two sessions, an ephemeral, a data watch, a child watch and an exists watch.
async fn same_actions(address: &str) -> Vec<Client> {
    let a = Client::connect(address, Duration::from_secs(10))
        .await
        .unwrap();
    let b = Client::connect(address, Duration::from_secs(10))
        .await
        .unwrap();
    let open = Acl::open_unsafe();
    a.create("/p", b"x", &open, CreateMode::Persistent)
        .await
        .unwrap();
    a.create("/p/e", b"", &open, CreateMode::Ephemeral)
        .await
        .unwrap();
    let _ = a.get_data_watch("/p").await.unwrap();
    let _ = b.get_children_watch("/p").await.unwrap();
    let _ = b.exists_watch("/p/e").await.unwrap();
    vec![a, b]
}

/// Masks session ids and then every digit run; drops the version text after its label.
fn mask(line: &str) -> String {
    if line.starts_with("Zookeeper version: ") || line.starts_with("zookeeper.version=") {
        return line.split([':', '=']).next().unwrap_or("").to_owned();
    }
    let mut out = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '0' && chars.peek() == Some(&'x') {
            chars.next();
            let mut hex = String::new();
            while let Some(h) = chars.peek().copied().filter(char::is_ascii_hexdigit) {
                hex.push(h);
                chars.next();
            }
            // Session ids are long; zxids and cxids of a fresh server are short.
            out.push_str(if hex.len() > 8 { "0xSID" } else { "0xN" });
        } else if c.is_ascii_digit() {
            while chars.peek().is_some_and(char::is_ascii_digit) {
                chars.next();
            }
            out.push('N');
        } else {
            out.push(c);
        }
    }
    out
}

/// The masked lines of a word's answer. Lists 3.8 keeps in hash sets (clients, connections,
/// watches) come in no set order, so runs of indented lines are sorted; connection expiry
/// buckets depend on when each clock started, so their `expire at` lines are dropped.
fn shape(word: &str, text: &str) -> Vec<String> {
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| {
            !(word == "dump" && l.contains(" expire at ") && l.starts_with(char::is_numeric))
        })
        .map(|l| match word {
            "conf" | "envi" => l.split('=').next().unwrap_or("").to_owned(),
            _ => mask(l),
        })
        .collect();
    if word == "wchc" || word == "wchp" {
        lines.sort();
        return lines;
    }
    let mut i = 0;
    while i < lines.len() {
        let run = lines[i..]
            .iter()
            .take_while(|l| l.starts_with([' ', '\t']))
            .count();
        lines[i..i + run].sort();
        i += run.max(1);
    }
    lines
}

fn value<'a>(text: &'a str, key: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .unwrap_or_else(|| panic!("no {key:?} in {text:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_word_has_apaches_shape_after_the_same_actions() {
    let apache = ApacheServer::start();
    let ours = OurServer::start(None, &[]);
    let _apache_clients = same_actions(&apache.address()).await;
    let _our_clients = same_actions(&ours.address()).await;
    let words = [
        "stat", "srvr", "cons", "conf", "envi", "dump", "wchs", "wchc", "wchp", "dirs", "isro",
        "hash",
    ];
    for word in words {
        let a = apache.four_letter_word(word);
        let o = ours.four_letter_word(word);
        assert_eq!(
            shape(word, &o),
            shape(word, &a),
            "{word}: ours\n{o}\nApache's\n{a}"
        );
        match word {
            // The asking connection is listed and counted, as in 3.8.
            "stat" | "srvr" => assert_eq!(
                value(&o, "Connections: "),
                value(&a, "Connections: "),
                "{word}"
            ),
            "cons" => assert_eq!(o.lines().count(), a.lines().count(), "cons\n{o}\n{a}"),
            "dump" => assert_eq!(
                value(&o, "Connections Sets ").split_once('/').map(|x| x.1),
                value(&a, "Connections Sets ").split_once('/').map(|x| x.1),
                "dump\n{o}\n{a}"
            ),
            // Same machine, same user, same working directory: the same values.
            "envi" => {
                for key in [
                    "host.name=",
                    "os.name=",
                    "os.arch=",
                    "os.version=",
                    "user.name=",
                    "user.home=",
                    "user.dir=",
                    "java.io.tmpdir=",
                ] {
                    assert_eq!(value(&o, key), value(&a, key), "envi {key}");
                }
            }
            "wchs" | "isro" | "hash" => {
                assert_eq!(mask(&o), mask(&a), "{word}")
            }
            _ => {}
        }
    }
    let a = mntr(&apache.four_letter_word("mntr"));
    let o = mntr(&ours.four_letter_word("mntr"));
    // The asker counts as alive; the tree's size and digest checks agree with 3.8's.
    for key in [
        "zk_num_alive_connections",
        "zk_approximate_data_size",
        "zk_digest_mismatches_count",
        "zk_znode_count",
        "zk_ephemerals_count",
        "zk_watch_count",
    ] {
        assert!(a.contains_key(key), "Apache prints {key}");
        assert_eq!(o.get(key), a.get(key), "{key}");
    }
}
