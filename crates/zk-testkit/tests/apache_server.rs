//! The launcher really starts Apache ZooKeeper 3.8 and stops it.

use zk_testkit::ApacheServer;

#[test]
fn an_apache_server_starts_answers_and_stops() {
    let server = ApacheServer::start();
    let srvr = server.four_letter_word("srvr");
    assert!(srvr.starts_with("Zookeeper version: 3.8"), "{srvr}");
    assert!(srvr.contains("Mode: standalone"), "{srvr}");
    let address = server.address();
    drop(server);
    assert_eq!(zk_testkit::four_letter_word(&address, "ruok"), "");
}
