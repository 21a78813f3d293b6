//! Four-letter words against Apache's: `mntr` lines are `zk_<key>\t<value>` with 3.8's key names,
//! and the counts an operator watches agree with Apache's for the same fresh state.

mod common;

use std::collections::BTreeMap;

use common::OurServer;
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
