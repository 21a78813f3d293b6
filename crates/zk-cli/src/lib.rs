//! zkCli for this project: the command set, syntax and output text of Apache ZooKeeper 3.8's
//! `zkCli.sh`, on top of `zk-client`, so scripts and habits carry over.
