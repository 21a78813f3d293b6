//! An async ZooKeeper client for tokio, modelled on the Java client's ClientCnxn: a send task
//! (outgoing and pending queues, pings, reconnects) and an event task delivering watch and state
//! events in order.
//!
//! Depends only on `zk-jute`, never on the server or the data tree, so downstream projects can use it
//! alone against any ZooKeeper 3.8 compatible server.
