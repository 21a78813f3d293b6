//! Coordination recipes on top of [`crate::Client`], using the node layouts of Apache Curator and
//! kazoo where those are fixed, so processes using either library and this one can share them.
