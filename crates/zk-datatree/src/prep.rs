//! `prep`: the deterministic part of `PrepRequestProcessor`. It validates a write against the
//! tree plus the changes already prepared but not yet applied, decides its error code in the order
//! ZooKeeper checks, and builds the txn to log: the real txn, an ErrorTxn, or for a multi a
//! MultiTxn that keeps the successful prefix (the failed-multi encoding).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// The outstanding changes are few and short-lived; foldhash keeps hashing their paths cheap.
type Hasher = foldhash::fast::FixedState;

use bytes::Bytes;
use zk_jute::multi::{MultiOp, MultiRequest};
use zk_jute::proto::{
    CheckVersionRequest, CreateRequest, CreateTtlRequest, DeleteRequest, SetAclRequest,
    SetDataRequest,
};
use zk_jute::txn::{
    CheckVersionTxn, CloseSessionTxn, CreateContainerTxn, CreateSessionTxn, CreateTtlTxn,
    CreateTxn, DeleteTxn, ErrorTxn, MultiTxn, SetAclTxn, SetDataTxn, Txn, TxnBody, TxnDigest,
    TxnEntry, TxnHeader,
};
use zk_jute::{Acl, CreateMode, ErrorCode, Id, OpCode, Perms, SessionId, StatPersisted, Zxid};

use crate::acl::{check_acl, fixup_acl};
use crate::digest::{DIGEST_VERSION, node_digest};
use crate::kind::{CONTAINER_EPHEMERAL_OWNER, NodeKind, ttl_owner};
use crate::node::NodeData;
use crate::path::{split_parent, validate_path};
use crate::quota::{self, QuotaExceeded};
use crate::tree::DataTree;

/// Server settings that change what prep decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrepConfig {
    /// `zookeeper.extendedTypesEnabled`: TTL creates allowed (else UNIMPLEMENTED).
    pub extended_types_enabled: bool,
    /// `zookeeper.enforceQuota`: passing a hard limit fails with QUOTAEXCEEDED.
    pub enforce_quota: bool,
    /// `zookeeper.skipACL`.
    pub skip_acl: bool,
    /// `zookeeper.digest.enabled`: attach a TxnDigest to every successful txn.
    pub digest_enabled: bool,
    /// `zookeeper.closeSessionTxn.enabled`: closeSession txns list the ephemerals to delete.
    pub close_session_txn_enabled: bool,
    /// An `authProvider.N` names `SASLAuthenticationProvider`: `sasl` ACLs are accepted.
    pub sasl_enabled: bool,
}

impl Default for PrepConfig {
    fn default() -> Self {
        PrepConfig {
            extended_types_enabled: false,
            enforce_quota: false,
            skip_acl: false,
            digest_enabled: true,
            close_session_txn_enabled: true,
            sasl_enabled: false,
        }
    }
}

/// What the session tracker said about the requesting session, decided by the server:
/// `checkSession` (SESSIONEXPIRED, SESSIONMOVED, ...) and `checkGlobalSession`, which ephemeral
/// creates need (EPHEMERALONLOCALSESSION for a local session).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionCheck {
    pub session: Result<(), ErrorCode>,
    pub global: Result<(), ErrorCode>,
}

impl SessionCheck {
    /// A live global session owned by this server.
    pub const VALID: SessionCheck = SessionCheck {
        session: Ok(()),
        global: Ok(()),
    };
}

/// Who asks, and the zxid and time the txn gets.
#[derive(Debug, Clone, Copy)]
pub struct RequestContext<'a> {
    pub session_id: SessionId,
    pub cxid: i32,
    pub zxid: Zxid,
    /// Leader wall clock in ms, the `time` of the TxnHeader.
    pub time_ms: i64,
    /// The connection's auth ids (ip, digest, super, ...).
    pub auth: &'a [Id],
    pub session: SessionCheck,
}

/// A request that becomes a txn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteRequest {
    /// create (1), create2 (15) or createContainer (19).
    Create {
        op: OpCode,
        request: CreateRequest,
    },
    CreateTtl(CreateTtlRequest),
    Delete(DeleteRequest),
    /// Issued by the container manager; no session or ACL checks.
    DeleteContainer {
        path: String,
    },
    SetData(SetDataRequest),
    SetAcl(SetAclRequest),
    /// A bare check outside a multi: rejected with UNIMPLEMENTED (3.8.0 would log a txn type
    /// that it cannot read back).
    Check(CheckVersionRequest),
    Multi(MultiRequest),
    CreateSession {
        timeout_ms: i32,
    },
    CloseSession,
}

/// What prep decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    /// The txn to log, propose and then apply.
    pub entry: TxnEntry,
    /// The error the request failed with; for a multi the reply is still built from the applied
    /// results (err 0 with error results), this only says which op failed with what.
    pub error: Option<ErrorCode>,
    /// Quota limits the change passes without failing (soft limits, or hard ones when quotas are
    /// not enforced); the server logs them.
    pub quota_warnings: Vec<QuotaExceeded>,
}

/// `ChangeRecord`: the state of a path as the prepared-but-unapplied txns leave it.
#[derive(Debug, Clone)]
struct ChangeRecord {
    zxid: Zxid,
    /// Shared with the path index of [`PendingChanges`].
    path: Arc<str>,
    /// `None`: deleted.
    stat: Option<StatPersisted>,
    child_count: i32,
    acl: Arc<[Acl]>,
    data: Option<RecordData>,
    node_digest: i64,
    /// The tree digest once this change is applied.
    tree_digest: i64,
}

/// A record's data: the tree's own, or that of a request not applied yet; neither is copied.
#[derive(Debug, Clone)]
enum RecordData {
    Tree(NodeData),
    Request(Bytes),
}

impl std::ops::Deref for RecordData {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            RecordData::Tree(d) => d,
            RecordData::Request(d) => d,
        }
    }
}

/// The outstanding changes of `ZooKeeperServer` (`outstandingChanges` and
/// `outstandingChangesForPath`): one per leader, fed by `prep`, drained by
/// [`PendingChanges::applied`] after each txn is applied.
#[derive(Debug, Clone, Default)]
pub struct PendingChanges {
    queue: VecDeque<u64>,
    records: HashMap<u64, ChangeRecord, Hasher>,
    by_path: HashMap<Arc<str>, u64, Hasher>,
    next_seq: u64,
}

impl PendingChanges {
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets the changes of txns up to `zxid`, which the tree now has (`FinalRequestProcessor`).
    pub fn applied(&mut self, zxid: Zxid) {
        while let Some(&seq) = self.queue.front() {
            let Some(record) = self.records.get(&seq) else {
                self.queue.pop_front();
                continue;
            };
            if record.zxid > zxid {
                break;
            }
            self.queue.pop_front();
            let record = self.records.remove(&seq).expect("queued record");
            if self.by_path.get(&record.path) == Some(&seq) {
                self.by_path.remove(&record.path);
            }
        }
    }

    /// Drops everything (a new leader starts from the tree).
    pub fn clear(&mut self) {
        self.queue.clear();
        self.records.clear();
        self.by_path.clear();
    }

    pub fn len(&self) -> usize {
        self.queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    fn add(&mut self, record: ChangeRecord) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.by_path.insert(record.path.clone(), seq);
        self.records.insert(seq, record);
        self.queue.push_back(seq);
    }

    fn outstanding(&self, path: &str) -> Option<(u64, &ChangeRecord)> {
        let seq = *self.by_path.get(path)?;
        self.records.get(&seq).map(|r| (seq, r))
    }

    /// `rollbackPendingChanges`: drops the records of `zxid` from the tail and puts back the
    /// records the multi replaced.
    fn rollback(&mut self, zxid: Zxid, saved: &[(Arc<str>, u64)]) {
        while let Some(&seq) = self.queue.back() {
            match self.records.get(&seq) {
                Some(r) if r.zxid == zxid => {
                    let r = self.records.remove(&seq).expect("record");
                    self.queue.pop_back();
                    self.by_path.remove(&r.path);
                }
                _ => break,
            }
        }
        let Some(first) = self.queue.front().and_then(|s| self.records.get(s)) else {
            return;
        };
        let first_zxid = first.zxid;
        for (path, seq) in saved {
            if let Some(record) = self.records.get(seq) {
                if record.zxid >= first_zxid {
                    self.by_path.insert(path.clone(), *seq);
                }
            }
        }
    }
}

/// The view prep works on: the tree with the pending changes over it.
struct Prep<'a> {
    tree: &'a DataTree,
    pending: &'a mut PendingChanges,
    config: &'a PrepConfig,
    ctx: &'a RequestContext<'a>,
    warnings: Vec<QuotaExceeded>,
    /// The digest the txn carries, once an op set it.
    txn_digest: Option<i64>,
}

enum DigestOp {
    Add,
    Remove,
    Update,
}

impl Prep<'_> {
    fn record_for_path(&self, path: &str) -> Result<ChangeRecord, ErrorCode> {
        let record = match self.pending.outstanding(path) {
            Some((_, r)) => r.clone(),
            None => {
                let node = self.tree.node_view(path).ok_or(ErrorCode::NoNode)?;
                ChangeRecord {
                    zxid: Zxid(-1),
                    path: Arc::from(path),
                    node_digest: node_digest(path, node.data.as_deref(), &node.stat),
                    child_count: node.num_children,
                    acl: node.acl,
                    stat: Some(node.stat),
                    data: node.data.map(RecordData::Tree),
                    tree_digest: 0,
                }
            }
        };
        if record.stat.is_none() {
            return Err(ErrorCode::NoNode);
        }
        Ok(record)
    }

    fn current_tree_digest(&self) -> i64 {
        self.pending
            .queue
            .back()
            .and_then(|s| self.pending.records.get(s))
            .map_or_else(|| self.tree.digest(), |r| r.tree_digest)
    }

    /// Whether `path` exists once the pending changes are applied.
    fn exists(&self, path: &str) -> bool {
        match self.pending.outstanding(path) {
            Some((_, r)) => r.stat.is_some(),
            None => self.tree.contains(path),
        }
    }

    /// The digest of `path` as the pending changes leave it, without copying its record.
    fn digest_for_path(&self, path: &str) -> Result<i64, ErrorCode> {
        match self.pending.outstanding(path) {
            Some((_, r)) if r.stat.is_none() => Err(ErrorCode::NoNode),
            Some((_, r)) => Ok(r.node_digest),
            None => self.tree.node_digest_of(path).ok_or(ErrorCode::NoNode),
        }
    }

    /// `precalculateDigest` and `addChangeRecord`: stores the record with the node's new digest
    /// and the tree digest after the change. An updated record comes from `record_for_path`, so
    /// its `node_digest` is still the one before the change.
    fn add_record(
        &mut self,
        op: DigestOp,
        mut record: ChangeRecord,
        sets_txn_digest: bool,
    ) -> Result<(), ErrorCode> {
        let prev = match op {
            DigestOp::Add => 0,
            DigestOp::Remove => self.digest_for_path(&record.path)?,
            DigestOp::Update => record.node_digest,
        };
        let new = match op {
            DigestOp::Remove => 0,
            DigestOp::Add | DigestOp::Update => {
                let stat = record
                    .stat
                    .as_ref()
                    .expect("an added or updated record has a stat");
                node_digest(&record.path, record.data.as_deref(), stat)
            }
        };
        let tree = self
            .current_tree_digest()
            .wrapping_sub(prev)
            .wrapping_add(new);
        record.node_digest = new;
        record.tree_digest = tree;
        if sets_txn_digest {
            self.txn_digest = Some(tree);
        }
        self.pending.add(record);
        Ok(())
    }

    fn check_acl(&self, acl: &[Acl], perm: Perms) -> Result<(), ErrorCode> {
        if self.config.skip_acl {
            return Ok(());
        }
        check_acl(acl, perm, self.ctx.auth)
    }

    fn check_session(&self) -> Result<(), ErrorCode> {
        self.ctx.session.session
    }

    fn check_quota(
        &mut self,
        path: &str,
        last_data: Option<&[u8]>,
        data: Option<&[u8]>,
        is_create: bool,
    ) -> Result<(), ErrorCode> {
        let Some(prefix) = self.tree.max_prefix_with_quota(path) else {
            return Ok(());
        };
        let Some((limits, current)) = self.tree.quota_stats(&prefix) else {
            return Ok(());
        };
        let bytes = data.map_or(0, <[u8]>::len) as i64;
        let (bytes_diff, count_diff) = if is_create {
            (bytes, 1)
        } else {
            (bytes - last_data.map_or(0, <[u8]>::len) as i64, 0)
        };
        let exceeded = quota::check(&prefix, &limits, &current, bytes_diff, count_diff);
        let hard = exceeded.iter().any(|e| e.hard);
        self.warnings.extend(exceeded);
        if hard && self.config.enforce_quota {
            return Err(ErrorCode::QuotaExceeded);
        }
        Ok(())
    }

    fn parent_and_validate(&self, path: &str) -> Result<String, ErrorCode> {
        match split_parent(path) {
            Some((parent, _)) if !path.contains('\0') && !DataTree::is_special_path(path) => {
                Ok(parent.to_owned())
            }
            _ => Err(ErrorCode::BadArguments),
        }
    }

    fn kind(&self, owner: i64) -> NodeKind {
        NodeKind::of(owner, self.config.extended_types_enabled)
    }

    /// `pRequest2Txn` for one op; returns the txn type and body.
    fn op_to_txn(&mut self, request: &WriteRequest) -> Result<(i32, TxnBody), ErrorCode> {
        let zxid = self.ctx.zxid;
        match request {
            WriteRequest::Create { op, request } => {
                let r = request;
                self.create(*op, &r.path, r.data.as_ref(), &r.acl, r.flags, -1)
            }
            WriteRequest::CreateTtl(r) => self.create(
                OpCode::CreateTtl,
                &r.path,
                r.data.as_ref(),
                &r.acl,
                r.flags,
                r.ttl,
            ),
            WriteRequest::DeleteContainer { path } => {
                let parent = self.parent_and_validate(path)?;
                let node = self.record_for_path(path)?;
                if node.child_count > 0 {
                    return Err(ErrorCode::NotEmpty);
                }
                let owner = node.stat.as_ref().map_or(0, |s| s.ephemeral_owner);
                if matches!(self.kind(owner), NodeKind::Ephemeral(_)) {
                    return Err(ErrorCode::BadVersion);
                }
                self.delete_records(&parent, path)?;
                Ok((
                    OpCode::DeleteContainer.code(),
                    TxnBody::Delete(DeleteTxn { path: path.clone() }),
                ))
            }
            WriteRequest::Delete(r) => {
                self.check_session()?;
                let path = &r.path;
                let parent_path = self.parent_and_validate(path)?;
                let parent = self.record_for_path(&parent_path)?;
                self.check_acl(&parent.acl, Perms::DELETE)?;
                let node = self.record_for_path(path)?;
                let version = node.stat.as_ref().map_or(0, |s| s.version);
                check_and_inc_version(version, r.version)?;
                if node.child_count > 0 {
                    return Err(ErrorCode::NotEmpty);
                }
                self.delete_records(&parent_path, path)?;
                Ok((
                    OpCode::Delete.code(),
                    TxnBody::Delete(DeleteTxn { path: path.clone() }),
                ))
            }
            WriteRequest::SetData(r) => {
                self.check_session()?;
                let path = &r.path;
                validate_path(path).map_err(|_| ErrorCode::BadArguments)?;
                let mut node = self.record_for_path(path)?;
                self.check_acl(&node.acl, Perms::WRITE)?;
                let last = node.data.clone();
                self.check_quota(path, last.as_deref(), r.data.as_deref(), false)?;
                let stat = node.stat.as_mut().expect("live record");
                let new_version = check_and_inc_version(stat.version, r.version)?;
                stat.version = new_version;
                stat.mtime = self.ctx.time_ms;
                stat.mzxid = zxid;
                node.zxid = zxid;
                node.data = r.data.clone().map(RecordData::Request);
                self.add_record(DigestOp::Update, node, true)?;
                Ok((
                    OpCode::SetData.code(),
                    TxnBody::SetData(SetDataTxn {
                        path: path.clone(),
                        data: r.data.clone(),
                        version: new_version,
                    }),
                ))
            }
            WriteRequest::SetAcl(r) => {
                self.check_session()?;
                let path = &r.path;
                validate_path(path).map_err(|_| ErrorCode::BadArguments)?;
                let acl = fixup_acl(self.ctx.auth, &r.acl, self.config.sasl_enabled)?;
                let mut node = self.record_for_path(path)?;
                self.check_acl(&node.acl, Perms::ADMIN)?;
                let stat = node.stat.as_mut().expect("live record");
                let new_version = check_and_inc_version(stat.aversion, r.version)?;
                stat.aversion = new_version;
                node.zxid = zxid;
                // As Java, the record keeps the old ACL for later requests in the pipeline.
                self.add_record(DigestOp::Update, node, true)?;
                Ok((
                    OpCode::SetAcl.code(),
                    TxnBody::SetAcl(SetAclTxn {
                        path: path.clone(),
                        acl,
                        version: new_version,
                    }),
                ))
            }
            WriteRequest::Check(r) => {
                self.check_session()?;
                let path = &r.path;
                validate_path(path).map_err(|_| ErrorCode::BadArguments)?;
                let node = self.record_for_path(path)?;
                self.check_acl(&node.acl, Perms::READ)?;
                let version = node.stat.as_ref().map_or(0, |s| s.version);
                let new_version = check_and_inc_version(version, r.version)?;
                Ok((
                    OpCode::Check.code(),
                    TxnBody::Check(CheckVersionTxn {
                        path: path.clone(),
                        version: new_version,
                    }),
                ))
            }
            WriteRequest::CreateSession { timeout_ms } => Ok((
                OpCode::CreateSession.code(),
                TxnBody::CreateSession(CreateSessionTxn {
                    time_out: *timeout_ms,
                }),
            )),
            WriteRequest::CloseSession => self.close_session(),
            WriteRequest::Multi(_) => Err(ErrorCode::MarshallingError),
        }
    }

    /// The parent and node records of a delete.
    fn delete_records(&mut self, parent_path: &str, path: &str) -> Result<(), ErrorCode> {
        let zxid = self.ctx.zxid;
        let mut parent = self.record_for_path(parent_path)?;
        parent.zxid = zxid;
        parent.child_count -= 1;
        if let Some(s) = parent.stat.as_mut() {
            s.pzxid = zxid;
        }
        self.add_record(DigestOp::Update, parent, false)?;
        let node = ChangeRecord {
            zxid,
            path: Arc::from(path),
            stat: None,
            child_count: -1,
            acl: Arc::new([]),
            data: None,
            node_digest: 0,
            tree_digest: 0,
        };
        self.add_record(DigestOp::Remove, node, true)
    }

    /// `pRequest2TxnCreate`.
    fn create(
        &mut self,
        op: OpCode,
        path: &str,
        data: Option<&Bytes>,
        acl: &[Acl],
        flags: i32,
        ttl: i64,
    ) -> Result<(i32, TxnBody), ErrorCode> {
        let zxid = self.ctx.zxid;
        let mode = CreateMode::try_from(flags).map_err(|_| ErrorCode::BadArguments)?;
        // validateCreateRequest
        if mode.is_ttl() && !self.config.extended_types_enabled {
            return Err(ErrorCode::Unimplemented);
        }
        let ttl_valid = if mode.is_ttl() {
            ttl_owner(ttl).is_some()
        } else {
            // Java rejects ttl >= 0 here; a createTTL with a non-TTL mode and a negative ttl
            // would make Java's apply throw, so it is rejected too.
            ttl < 0 && op != OpCode::CreateTtl
        };
        if !ttl_valid {
            return Err(ErrorCode::BadArguments);
        }
        if mode.is_ephemeral() {
            self.ctx.session.global?;
        } else {
            self.check_session()?;
        }
        // validatePathForCreate
        let Some((parent_path, _)) = split_parent(path).filter(|_| !path.contains('\0')) else {
            return Err(ErrorCode::BadArguments);
        };
        let acl = fixup_acl(self.ctx.auth, acl, self.config.sasl_enabled)?;
        let mut parent = self.record_for_path(parent_path)?;
        self.check_acl(&parent.acl, Perms::CREATE)?;
        let parent_stat = parent.stat.clone().expect("live record");
        let path = if mode.is_sequential() {
            format!("{path}{:010}", parent_stat.cversion)
        } else {
            path.to_owned()
        };
        validate_path(&path).map_err(|_| ErrorCode::BadArguments)?;
        if self.exists(&path) {
            return Err(ErrorCode::NodeExists);
        }
        if matches!(
            self.kind(parent_stat.ephemeral_owner),
            NodeKind::Ephemeral(_)
        ) {
            return Err(ErrorCode::NoChildrenForEphemerals);
        }
        let new_cversion = parent_stat.cversion.wrapping_add(1);
        self.check_quota(&path, None, data.map(|d| &d[..]), true)?;
        let body = match op {
            OpCode::CreateContainer => TxnBody::CreateContainer(CreateContainerTxn {
                path: path.clone(),
                data: data.cloned(),
                acl: acl.clone(),
                parent_c_version: new_cversion,
            }),
            OpCode::CreateTtl => TxnBody::CreateTtl(CreateTtlTxn {
                path: path.clone(),
                data: data.cloned(),
                acl: acl.clone(),
                parent_c_version: new_cversion,
                ttl,
            }),
            _ => TxnBody::Create(CreateTxn {
                path: path.clone(),
                data: data.cloned(),
                acl: acl.clone(),
                ephemeral: mode.is_ephemeral(),
                parent_c_version: new_cversion,
            }),
        };
        let owner = if mode.is_container() {
            CONTAINER_EPHEMERAL_OWNER
        } else if mode.is_ttl() {
            ttl_owner(ttl).unwrap_or(0)
        } else if mode.is_ephemeral() {
            self.ctx.session_id.0
        } else {
            0
        };
        parent.zxid = zxid;
        parent.child_count += 1;
        if let Some(s) = parent.stat.as_mut() {
            s.cversion = new_cversion;
            s.pzxid = zxid;
        }
        self.add_record(DigestOp::Update, parent, false)?;
        let node = ChangeRecord {
            zxid,
            path: Arc::from(path),
            stat: Some(StatPersisted {
                czxid: zxid,
                mzxid: zxid,
                ctime: self.ctx.time_ms,
                mtime: self.ctx.time_ms,
                version: 0,
                cversion: 0,
                aversion: 0,
                ephemeral_owner: owner,
                pzxid: zxid,
            }),
            child_count: 0,
            acl: Arc::from(acl),
            data: data.cloned().map(RecordData::Request),
            node_digest: 0,
            tree_digest: 0,
        };
        self.add_record(DigestOp::Add, node, true)?;
        Ok((op.code(), body))
    }

    fn close_session(&mut self) -> Result<(i32, TxnBody), ErrorCode> {
        let session = self.ctx.session_id;
        let mut paths: Vec<String> = self.tree.ephemerals(session);
        for seq in &self.pending.queue {
            let Some(c) = self.pending.records.get(seq) else {
                continue;
            };
            match &c.stat {
                None => paths.retain(|p| **p != *c.path),
                Some(s) if s.ephemeral_owner == session.0 => {
                    if !paths.iter().any(|p| **p == *c.path) {
                        paths.push(c.path.to_string());
                    }
                }
                Some(_) => {}
            }
        }
        paths.sort();
        let zxid = self.ctx.zxid;
        for path in &paths {
            if self.config.digest_enabled {
                let parent_path = self.parent_and_validate(path)?;
                let mut parent = self.record_for_path(&parent_path)?;
                parent.zxid = zxid;
                if let Some(s) = parent.stat.as_mut() {
                    s.pzxid = zxid;
                }
                self.add_record(DigestOp::Update, parent, false)?;
            }
            let node = ChangeRecord {
                zxid,
                path: Arc::from(path.as_str()),
                stat: None,
                child_count: 0,
                acl: Arc::new([]),
                data: None,
                node_digest: 0,
                tree_digest: 0,
            };
            self.add_record(DigestOp::Remove, node, false)?;
        }
        let body = self
            .config
            .close_session_txn_enabled
            .then_some(CloseSessionTxn {
                paths2_delete: paths,
            });
        Ok((OpCode::CloseSession.code(), TxnBody::CloseSession(body)))
    }

    fn multi(&mut self, multi: &MultiRequest) -> (TxnBody, Option<ErrorCode>) {
        let zxid = self.ctx.zxid;
        // getPendingChanges: what to restore if an op fails.
        let mut saved: Vec<(Arc<str>, u64)> = Vec::new();
        for op in &multi.ops {
            let path = op.path();
            if let Some((seq, r)) = self.pending.outstanding(path) {
                saved.push((r.path.clone(), seq));
            }
            if path.contains('\0') {
                continue;
            }
            if let Some((parent, _)) = split_parent(path) {
                if let Some((seq, r)) = self.pending.outstanding(parent) {
                    saved.push((r.path.clone(), seq));
                }
            }
        }
        let mut failure: Option<ErrorCode> = None;
        let mut txns = Vec::with_capacity(multi.ops.len());
        for op in &multi.ops {
            let (ty, body) = if failure.is_some() {
                error_txn(ErrorCode::RuntimeInconsistency)
            } else {
                match self.op_to_txn(&sub_request(op)) {
                    Ok(txn) => txn,
                    Err(code) => {
                        failure = Some(code);
                        self.pending.rollback(zxid, &saved);
                        error_txn(code)
                    }
                }
            };
            txns.push(Txn::new(ty, &body));
        }
        (TxnBody::Multi(MultiTxn { txns }), failure)
    }
}

fn error_txn(code: ErrorCode) -> (i32, TxnBody) {
    (
        OpCode::Error.code(),
        TxnBody::Error(ErrorTxn { err: code.code() }),
    )
}

fn sub_request(op: &MultiOp) -> WriteRequest {
    match op {
        MultiOp::Create { op, request } => WriteRequest::Create {
            op: *op,
            request: request.clone(),
        },
        MultiOp::CreateTtl(r) => WriteRequest::CreateTtl(r.clone()),
        MultiOp::Delete(r) => WriteRequest::Delete(r.clone()),
        MultiOp::SetData(r) => WriteRequest::SetData(r.clone()),
        MultiOp::Check(r) => WriteRequest::Check(r.clone()),
        // Reads never reach a multi (zk-jute rejects the mix); treat one as malformed.
        MultiOp::GetChildren(_) | MultiOp::GetData(_) => {
            WriteRequest::Multi(MultiRequest::default())
        }
    }
}

fn check_and_inc_version(current: i32, expected: i32) -> Result<i32, ErrorCode> {
    if expected != -1 && expected != current {
        return Err(ErrorCode::BadVersion);
    }
    Ok(current.wrapping_add(1))
}

/// Turns a write into the txn to log (`PrepRequestProcessor.pRequest`), recording its changes
/// in `pending` so later requests see them before they are applied. A failed single write
/// becomes an ErrorTxn (type -1, no digest); a failed multi stays a multi whose sub-txns keep
/// the successful prefix, then the error, then RUNTIMEINCONSISTENCY for the rest.
pub fn prep(
    tree: &DataTree,
    pending: &mut PendingChanges,
    config: &PrepConfig,
    ctx: &RequestContext<'_>,
    request: &WriteRequest,
) -> Prepared {
    let mut p = Prep {
        tree,
        pending,
        config,
        ctx,
        warnings: Vec::new(),
        txn_digest: None,
    };
    let op = match request {
        WriteRequest::Create { op, .. } => *op,
        WriteRequest::CreateTtl(_) => OpCode::CreateTtl,
        WriteRequest::Delete(_) => OpCode::Delete,
        WriteRequest::DeleteContainer { .. } => OpCode::DeleteContainer,
        WriteRequest::SetData(_) => OpCode::SetData,
        WriteRequest::SetAcl(_) => OpCode::SetAcl,
        WriteRequest::Check(_) => OpCode::Check,
        WriteRequest::Multi(_) => OpCode::Multi,
        WriteRequest::CreateSession { .. } => OpCode::CreateSession,
        WriteRequest::CloseSession => OpCode::CloseSession,
    };
    let mut header = TxnHeader {
        client_id: ctx.session_id,
        cxid: ctx.cxid,
        zxid: ctx.zxid,
        time: ctx.time_ms,
        r#type: op.code(),
    };
    let (body, error) = match request {
        WriteRequest::Multi(multi) => {
            let (body, failure) = p.multi(multi);
            // The multi carries the digest of the tree as its surviving changes leave it.
            p.txn_digest = Some(p.current_tree_digest());
            (body, failure)
        }
        WriteRequest::Check(_) => (
            error_txn(ErrorCode::Unimplemented).1,
            Some(ErrorCode::Unimplemented),
        ),
        other => match p.op_to_txn(other) {
            Ok((_, body)) => (body, None),
            Err(code) => (error_txn(code).1, Some(code)),
        },
    };
    let failed_single = error.is_some() && op != OpCode::Multi;
    if failed_single {
        header.r#type = OpCode::Error.code();
    }
    let digest = if !config.digest_enabled || failed_single {
        None
    } else {
        Some(TxnDigest {
            version: DIGEST_VERSION,
            tree_digest: p.txn_digest.unwrap_or_else(|| p.current_tree_digest()),
        })
    };
    Prepared {
        entry: TxnEntry {
            header,
            body,
            digest,
        },
        error,
        quota_warnings: p.warnings,
    }
}
