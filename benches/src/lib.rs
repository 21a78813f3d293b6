//! Criterion benchmarks of the product crates, one file per crate under `benches/`.
//!
//! Run them with `cargo bench -p zk-benches`; numbers quoted in issues come from here or from the
//! side-by-side runs against Apache ZooKeeper that `cargo xtask bench` drives.
