//! The integration suite against this project's server (the `zk-server` binary).
//! `tests/common/suite.rs` holds the tests; adding a launcher runs them against another server.

mod common;

use common::{Ours, suite};

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

suite_tests!(Ours:
    operations,
    watches,
    auth_and_acl,
    session_expiry,
    reconnect_keeps_session_and_watches,
    back_pressure,
    recipes,
);
