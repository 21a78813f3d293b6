//! Four-letter words: the shape of our answers (keys, line layout, field names) against Apache's
//! for the same client actions; values that legitimately differ are normalised away.

mod common;

use common::OurServer;
use zk_testkit::ApacheServer;

/// Keys of `mntr` in order.
fn mntr_keys(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.split_once('\t').map(|(k, _)| k.to_owned()))
        .collect()
}

#[test]
fn mntr_prints_every_key_apache_prints() {
    let apache = ApacheServer::start();
    let ours = OurServer::start(None, &[]);
    let a = mntr_keys(&apache.four_letter_word("mntr"));
    let o = mntr_keys(&ours.four_letter_word("mntr"));
    if let Ok(dir) = std::env::var("FLW_DUMP_DIR") {
        for w in [
            "mntr", "stat", "srvr", "cons", "conf", "envi", "dump", "wchs", "wchc", "wchp", "dirs",
            "isro", "hash",
        ] {
            std::fs::write(format!("{dir}/apache.{w}"), apache.four_letter_word(w)).unwrap();
            std::fs::write(format!("{dir}/ours.{w}"), ours.four_letter_word(w)).unwrap();
        }
    }
    let missing: Vec<&String> = a.iter().filter(|k| !o.contains(k)).collect();
    let extra: Vec<&String> = o.iter().filter(|k| !a.contains(k)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "mntr keys missing from ours: {missing:?}\nkeys only we print: {extra:?}"
    );
}
