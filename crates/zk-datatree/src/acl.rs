//! ACLs: the reference-counted table that de-duplicates ACL lists (as snapshots store it), the
//! `digest` and `ip` authentication schemes, and the permission check of `ZooKeeperServer.checkACL`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

use zk_jute::{Acl, ErrorCode, Id, Perms};

/// The reserved ACL index of `OPEN_ACL_UNSAFE` (world:anyone, all permissions); never in the map.
pub const OPEN_ACL_INDEX: i64 = -1;

/// `ReferenceCountedACLCache`: every distinct ACL list the tree uses, under an index allocated
/// from 1 in the order lists are first seen, with the number of nodes that use it. An entry goes
/// away when its last user does. Lists are shared, so request prep holds a node's ACL without
/// copying it.
#[derive(Debug, Clone, Default)]
pub struct AclCache {
    by_index: BTreeMap<i64, Arc<[Acl]>>,
    by_list: HashMap<Arc<[Acl]>, i64>,
    references: HashMap<i64, u64>,
    last_index: i64,
}

impl AclCache {
    /// The index of `acls`, allocating one on first sight, and counts one more user of it.
    pub(crate) fn convert_acls(&mut self, acls: &[Acl]) -> i64 {
        let index = match self.by_list.get(acls) {
            Some(&index) => index,
            None => {
                self.last_index += 1;
                let index = self.last_index;
                let list: Arc<[Acl]> = Arc::from(acls);
                self.by_index.insert(index, list.clone());
                self.by_list.insert(list, index);
                index
            }
        };
        self.add_usage(index);
        index
    }

    /// The list behind `index`; the open ACL for -1, and none for an unknown index.
    pub fn acls(&self, index: i64) -> Option<&[Acl]> {
        if index == OPEN_ACL_INDEX {
            return Some(open_acl());
        }
        self.by_index.get(&index).map(|l| &**l)
    }

    /// The list behind `index` as [`AclCache::acls`] gives it, shared rather than borrowed.
    pub(crate) fn shared(&self, index: i64) -> Option<Arc<[Acl]>> {
        if index == OPEN_ACL_INDEX {
            static OPEN: OnceLock<Arc<[Acl]>> = OnceLock::new();
            return Some(OPEN.get_or_init(|| Arc::from(open_acl())).clone());
        }
        self.by_index.get(&index).cloned()
    }

    pub(crate) fn add_usage(&mut self, index: i64) {
        if index == OPEN_ACL_INDEX || !self.by_index.contains_key(&index) {
            return;
        }
        *self.references.entry(index).or_insert(0) += 1;
    }

    pub(crate) fn remove_usage(&mut self, index: i64) {
        if index == OPEN_ACL_INDEX || !self.by_index.contains_key(&index) {
            return;
        }
        let count = self.references.entry(index).or_insert(0);
        *count = count.saturating_sub(1);
        if *count == 0 {
            self.references.remove(&index);
            self.remove_entry(index);
        }
    }

    fn remove_entry(&mut self, index: i64) {
        if let Some(list) = self.by_index.remove(&index) {
            self.by_list.remove(&list);
        }
    }

    /// Adds an entry read from a snapshot, with no users yet.
    pub(crate) fn insert_loaded(&mut self, index: i64, acls: Vec<Acl>) {
        self.last_index = self.last_index.max(index);
        let list: Arc<[Acl]> = Arc::from(acls);
        self.by_list.insert(list.clone(), index);
        self.by_index.insert(index, list);
        self.references.insert(index, 0);
    }

    /// Drops entries no node uses (after loading a snapshot).
    pub(crate) fn purge_unused(&mut self) {
        let unused: Vec<i64> = self
            .by_index
            .keys()
            .copied()
            .filter(|i| self.references.get(i).copied().unwrap_or(0) == 0)
            .collect();
        for index in unused {
            self.references.remove(&index);
            self.remove_entry(index);
        }
    }

    /// The entries in index order, as a snapshot writes them.
    pub fn iter(&self) -> impl Iterator<Item = (i64, &[Acl])> {
        self.by_index.iter().map(|(i, l)| (*i, &**l))
    }

    /// How many nodes use `index` (0 for unknown indices and for -1, which is not counted).
    pub fn references(&self, index: i64) -> u64 {
        self.references.get(&index).copied().unwrap_or(0)
    }

    pub fn len(&self) -> usize {
        self.by_index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_index.is_empty()
    }
}

fn open_acl() -> &'static [Acl] {
    static OPEN: OnceLock<Vec<Acl>> = OnceLock::new();
    OPEN.get_or_init(Acl::open_unsafe)
}

/// The schemes this server can authenticate and check. `super` is not a scheme of ACL entries:
/// an auth id with scheme `super` passes every check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Digest,
    Ip,
    /// `SASLAuthenticationProvider`: ids are authenticated principals.
    Sasl,
}

fn provider(scheme: &str) -> Option<Scheme> {
    match scheme {
        "digest" => Some(Scheme::Digest),
        "ip" => Some(Scheme::Ip),
        "sasl" => Some(Scheme::Sasl),
        _ => None,
    }
}

/// Whether `name` parses as a Kerberos principal (`primary[/instance][@REALM]`), which is what
/// `SASLAuthenticationProvider.isValid` asks of a `sasl` ACL id.
fn kerberos_name_is_valid(name: &str) -> bool {
    let (principal, realm) = match name.split_once('@') {
        Some((principal, realm)) => (principal, Some(realm)),
        None => (name, None),
    };
    let (primary, instance) = match principal.split_once('/') {
        Some((primary, instance)) => (primary, Some(instance)),
        None => (principal, None),
    };
    let clean = |part: &str| !part.contains('/') && !part.contains('@');
    clean(primary) && instance.is_none_or(clean) && realm.is_none_or(clean)
}

/// Java's `String.split(sep)` for a one-character separator: trailing empty strings dropped.
fn java_split(s: &str, sep: char) -> Vec<&str> {
    let mut parts: Vec<&str> = s.split(sep).collect();
    while parts.last() == Some(&"") {
        parts.pop();
    }
    if parts.is_empty() && s.is_empty() {
        parts.push("");
    }
    parts
}

impl Scheme {
    fn is_valid(self, id: &str) -> bool {
        match self {
            Scheme::Digest => java_split(id, ':').len() == 2,
            Scheme::Ip => ip_is_valid(id),
            Scheme::Sasl => kerberos_name_is_valid(id),
        }
    }

    /// Whether an authenticated id of this scheme may stand for the `auth` pseudo-scheme.
    fn is_authenticated(self) -> bool {
        matches!(self, Scheme::Digest | Scheme::Sasl)
    }

    fn matches(self, id: &str, acl_expr: &str) -> bool {
        match self {
            Scheme::Digest => id == acl_expr,
            Scheme::Ip => ip_matches(id, acl_expr),
            Scheme::Sasl => id == "super" || id == acl_expr,
        }
    }
}

/// `Integer.parseInt` for the ASCII forms: an optional sign and decimal digits.
fn parse_java_int(s: &str) -> Option<i32> {
    s.parse::<i32>().ok()
}

fn v4_bytes(addr: &str) -> Option<[u8; 4]> {
    let parts: Vec<&str> = addr.split('.').collect();
    if parts.len() != 4 {
        return None;
    }
    let mut out = [0u8; 4];
    for (slot, part) in out.iter_mut().zip(parts) {
        let v = parse_java_int(part)?;
        *slot = u8::try_from(v).ok()?;
    }
    Some(out)
}

fn mask(bytes: &mut [u8; 4], bits: u32) {
    let start = (bits / 8) as usize;
    let mut start_mask: u8 = !(((1u16 << (8 - bits % 8)) - 1) as u8);
    for b in bytes.iter_mut().skip(start) {
        *b &= start_mask;
        start_mask = 0;
    }
}

fn cidr_bits(expr: Option<&str>) -> Option<u32> {
    match expr {
        None => Some(32),
        Some(bits) => {
            let bits = parse_java_int(bits)?;
            (0..=32).contains(&bits).then_some(bits as u32)
        }
    }
}

fn ip_is_valid(id: &str) -> bool {
    let mut parts = id.splitn(2, '/');
    let addr = parts.next().unwrap_or_default();
    v4_bytes(addr).is_some() && cidr_bits(parts.next()).is_some()
}

/// `IPAuthenticationProvider.matches`: IPv4 only, with an optional `/bits` prefix length.
fn ip_matches(id: &str, acl_expr: &str) -> bool {
    let mut parts = acl_expr.splitn(2, '/');
    let Some(mut acl_addr) = v4_bytes(parts.next().unwrap_or_default()) else {
        return false;
    };
    let Some(bits) = cidr_bits(parts.next()) else {
        return false;
    };
    mask(&mut acl_addr, bits);
    let Some(mut remote) = v4_bytes(id) else {
        return false;
    };
    mask(&mut remote, bits);
    remote == acl_addr
}

/// `ZooKeeperServer.checkACL`: passes when the node has no ACL, the caller has a `super` id, or
/// an entry granting any bit of `perm` matches one of the caller's ids (world:anyone matches all).
pub fn check_acl(acl: &[Acl], perm: Perms, auth: &[Id]) -> Result<(), ErrorCode> {
    if acl.is_empty() || auth.iter().any(|id| id.scheme == "super") {
        return Ok(());
    }
    for entry in acl {
        if entry.perms & perm.0 == 0 {
            continue;
        }
        if entry.id.scheme == "world" && entry.id.id == "anyone" {
            return Ok(());
        }
        if let Some(scheme) = provider(&entry.id.scheme) {
            if auth
                .iter()
                .any(|a| a.scheme == entry.id.scheme && scheme.matches(&a.id, &entry.id.id))
            {
                return Ok(());
            }
        }
    }
    Err(ErrorCode::NoAuth)
}

/// `PrepRequestProcessor.fixupACL`: removes duplicates, rejects an empty list and entries of
/// unknown schemes or malformed ids, and expands `auth` to the caller's authenticated ids. The
/// `sasl` scheme is known only when `sasl_enabled` (an `authProvider.N` names the SASL provider).
pub fn fixup_acl(auth: &[Id], acls: &[Acl], sasl_enabled: bool) -> Result<Vec<Acl>, ErrorCode> {
    let mut unique: Vec<&Acl> = Vec::with_capacity(acls.len());
    for acl in acls {
        if !unique.contains(&acl) {
            unique.push(acl);
        }
    }
    if unique.is_empty() {
        return Err(ErrorCode::InvalidAcl);
    }
    let mut out = Vec::with_capacity(unique.len());
    for acl in unique {
        let id = &acl.id;
        if id.scheme == "world" && id.id == "anyone" {
            out.push(acl.clone());
        } else if id.scheme == "auth" {
            let mut any = false;
            for caller in auth {
                if provider(&caller.scheme).is_some_and(Scheme::is_authenticated) {
                    any = true;
                    out.push(Acl {
                        perms: acl.perms,
                        id: caller.clone(),
                    });
                }
            }
            if !any {
                return Err(ErrorCode::InvalidAcl);
            }
        } else {
            match provider(&id.scheme) {
                Some(Scheme::Sasl) if !sasl_enabled => return Err(ErrorCode::InvalidAcl),
                Some(scheme) if scheme.is_valid(&id.id) => out.push(acl.clone()),
                _ => return Err(ErrorCode::InvalidAcl),
            }
        }
    }
    Ok(out)
}

/// The ACL getACL shows a caller without ADMIN: `digest` ids cut to `user:x`.
pub(crate) fn mask_digests(acls: &[Acl]) -> Vec<Acl> {
    acls.iter()
        .map(|a| {
            if a.id.scheme == "digest" {
                let masked = match a.id.id.find(':') {
                    Some(colon) => format!("{}:x", &a.id.id[..colon]),
                    None => a.id.id.clone(),
                };
                Acl {
                    perms: a.perms,
                    id: Id::new("digest", masked),
                }
            } else {
                a.clone()
            }
        })
        .collect()
}

/// `DigestAuthenticationProvider.generateDigest`: `user:` + base64(SHA1(`user:password`)).
pub fn generate_digest(id_password: &str) -> String {
    let user = id_password.split(':').next().unwrap_or_default();
    let digest = sha1_smol::Sha1::from(id_password.as_bytes())
        .digest()
        .bytes();
    format!("{user}:{}", base64(&digest))
}

/// The ids a connection gains from an auth packet of scheme `digest` with `user:password`:
/// the digest id, preceded by `super:""` when it equals the configured super digest.
pub fn digest_auth_ids(auth_data: &[u8], super_digest: Option<&str>) -> Vec<Id> {
    let digest = generate_digest(&String::from_utf8_lossy(auth_data));
    let mut ids = Vec::with_capacity(2);
    if super_digest == Some(digest.as_str()) {
        ids.push(Id::new("super", ""));
    }
    ids.push(Id::new("digest", digest));
    ids
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let v = (u32::from(chunk[0]) << 16)
            | (u32::from(chunk.get(1).copied().unwrap_or(0)) << 8)
            | u32::from(chunk.get(2).copied().unwrap_or(0));
        out.push(ALPHABET[(v >> 18) as usize & 63] as char);
        out.push(ALPHABET[(v >> 12) as usize & 63] as char);
        out.push(if chunk.len() > 1 {
            ALPHABET[(v >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if chunk.len() > 2 {
            ALPHABET[v as usize & 63] as char
        } else {
            '='
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acl(perms: Perms, scheme: &str, id: &str) -> Acl {
        Acl::new(perms, Id::new(scheme, id))
    }

    #[test]
    fn digest_matches_zookeeper() {
        // SHA1 + base64 as `DigestAuthenticationProvider.generateDigest` computes it.
        assert_eq!(
            generate_digest("super:secret"),
            "super:lK75jTNcA+U9vtVEw5vB51mj/w4="
        );
        assert_eq!(
            generate_digest("alice:pw"),
            "alice:V55/p2T0OpjQ+low3NVAH4aLvm0="
        );
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"abc"), "YWJj");
    }

    #[test]
    fn super_digest_adds_super_id() {
        let ids = digest_auth_ids(b"super:secret", Some("super:lK75jTNcA+U9vtVEw5vB51mj/w4="));
        assert_eq!(ids[0], Id::new("super", ""));
        assert_eq!(ids.len(), 2);
        assert_eq!(digest_auth_ids(b"bob:x", Some("super:nope")).len(), 1);
    }

    #[test]
    fn ip_cidr() {
        assert!(ip_matches("10.1.2.3", "10.1.0.0/16"));
        assert!(!ip_matches("10.2.2.3", "10.1.0.0/16"));
        assert!(ip_matches("10.1.2.3", "10.1.2.3"));
        assert!(ip_matches("192.168.1.77", "192.168.1.64/26"));
        assert!(!ip_matches("192.168.1.63", "192.168.1.64/26"));
        assert!(ip_matches("1.2.3.4", "0.0.0.0/0"));
        assert!(!ip_matches("1.2.3.4", "1.2.3.4/33"));
        assert!(ip_is_valid("127.0.0.1/8"));
        assert!(!ip_is_valid("127.0.0.1/x"));
        assert!(!ip_is_valid("::1"));
        assert!(!ip_is_valid("256.0.0.1"));
    }

    #[test]
    fn check_acl_rules() {
        let node = vec![
            acl(Perms::READ, "digest", "u:h"),
            acl(Perms::WRITE, "ip", "10.0.0.0/8"),
        ];
        let digest = [Id::new("digest", "u:h")];
        let ip = [Id::new("ip", "10.9.9.9")];
        assert_eq!(check_acl(&node, Perms::READ, &digest), Ok(()));
        assert_eq!(
            check_acl(&node, Perms::WRITE, &digest),
            Err(ErrorCode::NoAuth)
        );
        assert_eq!(check_acl(&node, Perms::WRITE, &ip), Ok(()));
        assert_eq!(
            check_acl(&node, Perms::READ | Perms::ADMIN, &digest),
            Ok(())
        );
        assert_eq!(
            check_acl(&node, Perms::DELETE, &[Id::new("super", "")]),
            Ok(())
        );
        assert_eq!(check_acl(&[], Perms::DELETE, &[]), Ok(()));
        assert_eq!(check_acl(&Acl::read_unsafe(), Perms::READ, &[]), Ok(()));
        assert_eq!(
            check_acl(&Acl::read_unsafe(), Perms::WRITE, &[]),
            Err(ErrorCode::NoAuth)
        );
    }

    #[test]
    fn fixup_expands_auth_and_validates() {
        let auth = [Id::new("ip", "127.0.0.1"), Id::new("digest", "u:h")];
        let fixed = fixup_acl(&auth, &Acl::creator_all(), false).unwrap();
        assert_eq!(fixed, vec![acl(Perms::ALL, "digest", "u:h")]);
        assert_eq!(
            fixup_acl(&auth[..1], &Acl::creator_all(), false),
            Err(ErrorCode::InvalidAcl)
        );
        assert_eq!(fixup_acl(&auth, &[], false), Err(ErrorCode::InvalidAcl));
        assert_eq!(
            fixup_acl(&auth, &[acl(Perms::ALL, "digest", "nocolon")], false),
            Err(ErrorCode::InvalidAcl)
        );
        assert_eq!(
            fixup_acl(&auth, &[acl(Perms::ALL, "sasl", "x")], false),
            Err(ErrorCode::InvalidAcl),
            "sasl is unknown unless its provider is configured"
        );
        let dup = [Acl::open_unsafe(), Acl::open_unsafe()].concat();
        assert_eq!(fixup_acl(&[], &dup, false).unwrap(), Acl::open_unsafe());
    }

    #[test]
    fn sasl_ids_when_the_provider_is_configured() {
        let sasl = [acl(Perms::ALL, "sasl", "jaasuser")];
        assert_eq!(fixup_acl(&[], &sasl, true).unwrap(), sasl.to_vec());
        for principal in ["zk/host.example.com@EXAMPLE.COM", "user@REALM", "plain"] {
            assert!(
                fixup_acl(&[], &[acl(Perms::ALL, "sasl", principal)], true).is_ok(),
                "{principal}"
            );
        }
        assert_eq!(
            fixup_acl(&[], &[acl(Perms::ALL, "sasl", "a@b@c")], true),
            Err(ErrorCode::InvalidAcl)
        );
        // A SASL-authenticated caller stands for `auth`, and matches its own id (or is super).
        let caller = [Id::new("sasl", "jaasuser")];
        assert_eq!(
            fixup_acl(&caller, &Acl::creator_all(), true).unwrap(),
            sasl.to_vec()
        );
        assert_eq!(check_acl(&sasl, Perms::READ, &caller), Ok(()));
        assert_eq!(
            check_acl(&sasl, Perms::READ, &[Id::new("sasl", "other")]),
            Err(ErrorCode::NoAuth)
        );
        assert_eq!(
            check_acl(&sasl, Perms::READ, &[Id::new("sasl", "super")]),
            Ok(())
        );
    }

    #[test]
    fn cache_counts_and_frees() {
        let mut cache = AclCache::default();
        let a = cache.convert_acls(&Acl::read_unsafe());
        let b = cache.convert_acls(&Acl::open_unsafe());
        assert_eq!((a, b), (1, 2));
        assert_eq!(cache.convert_acls(&Acl::read_unsafe()), 1);
        assert_eq!(cache.references(1), 2);
        cache.remove_usage(2);
        assert!(cache.acls(2).is_none());
        assert_eq!(cache.convert_acls(&Acl::open_unsafe()), 3);
        assert_eq!(cache.acls(-1).unwrap(), Acl::open_unsafe().as_slice());
    }

    #[test]
    fn masks_digest_ids() {
        let masked = mask_digests(&[
            acl(Perms::ALL, "digest", "u:abc:d"),
            acl(Perms::READ, "ip", "1.2.3.4"),
        ]);
        assert_eq!(masked[0].id.id, "u:x");
        assert_eq!(masked[1].id.id, "1.2.3.4");
    }
}
