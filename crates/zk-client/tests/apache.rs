//! The integration suite against the real Apache ZooKeeper 3.8 (Debian's package, via zk-testkit).
//! `tests/common/suite.rs` holds the tests; adding a launcher runs them against another server.

mod common;

use common::{Apache, suite};

macro_rules! suite_tests {
    ($launcher:ty: $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                suite::$name::<$launcher>().await;
            }
        )*
    };
}

suite_tests!(Apache:
    operations,
    watches,
    auth_and_acl,
    session_expiry,
    reconnect_keeps_session_and_watches,
    back_pressure,
    recipes,
);
