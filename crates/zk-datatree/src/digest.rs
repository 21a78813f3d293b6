//! The 3.6+ tree digest (`DigestCalculator`, digest version 2): a CRC-32 per node over its path,
//! data and a 60-byte blob of stat fields, summed with wrapping 64-bit arithmetic over the tree.

use zk_jute::StatPersisted;

use crate::path::is_digest_excluded;

/// The digest version written in TxnDigest and snapshots.
pub const DIGEST_VERSION: i32 = 2;

/// The digest of one node; 0 for nodes strictly under `/zookeeper/`. `/` counts as the root `""`.
pub fn node_digest(path: &str, data: Option<&[u8]>, stat: &StatPersisted) -> i64 {
    if is_digest_excluded(path) {
        return 0;
    }
    let path = if path == "/" { "" } else { path };
    let mut blob = [0u8; 60];
    let fields: [i64; 5] = [
        stat.czxid.0,
        stat.mzxid.0,
        stat.pzxid.0,
        stat.ctime,
        stat.mtime,
    ];
    for (i, f) in fields.iter().enumerate() {
        blob[i * 8..i * 8 + 8].copy_from_slice(&f.to_be_bytes());
    }
    blob[40..44].copy_from_slice(&stat.version.to_be_bytes());
    blob[44..48].copy_from_slice(&stat.cversion.to_be_bytes());
    blob[48..52].copy_from_slice(&stat.aversion.to_be_bytes());
    blob[52..60].copy_from_slice(&stat.ephemeral_owner.to_be_bytes());
    let mut crc = crc32fast::Hasher::new();
    crc.update(path.as_bytes());
    if let Some(data) = data {
        crc.update(data);
    }
    crc.update(&blob);
    i64::from(crc.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_tree_digest_parts() {
        let zero = StatPersisted::default();
        let sum = node_digest("", None, &zero).wrapping_add(node_digest("/zookeeper", None, &zero));
        assert_eq!(sum, 1_371_985_504);
        assert_eq!(node_digest("/zookeeper/quota", None, &zero), 0);
        assert_eq!(
            node_digest("/", None, &zero),
            node_digest("", Some(b""), &zero)
        );
    }
}
