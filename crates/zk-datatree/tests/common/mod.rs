//! A small server stand-in for tests: prep then apply, with zxids and times handed out in order.

#![allow(dead_code, unreachable_pub)]

use bytes::Bytes;
use zk_datatree::{
    Applied, DataTree, PendingChanges, PrepConfig, Prepared, RequestContext, SessionCheck,
    TreeConfig, WriteRequest, prep,
};
use zk_jute::proto::{CreateRequest, DeleteRequest, SetDataRequest};
use zk_jute::{Acl, Id, OpCode, SessionId, Zxid};

pub struct Harness {
    pub tree: DataTree,
    pub pending: PendingChanges,
    pub config: PrepConfig,
    pub zxid: i64,
    pub time: i64,
}

pub struct Outcome {
    pub prepared: Prepared,
    pub applied: Applied,
}

impl Harness {
    pub fn new() -> Self {
        Harness {
            tree: DataTree::new(TreeConfig::default()),
            pending: PendingChanges::new(),
            config: PrepConfig::default(),
            zxid: 0,
            time: 1_000,
        }
    }

    /// Preps and applies `request` from `session` with `auth`, at the next zxid and time.
    pub fn write(&mut self, session: i64, auth: &[Id], request: WriteRequest) -> Outcome {
        self.zxid += 1;
        self.time += 1;
        let ctx = RequestContext {
            session_id: SessionId(session),
            cxid: self.zxid as i32,
            zxid: Zxid(self.zxid),
            time_ms: self.time,
            auth,
            session: SessionCheck::VALID,
        };
        let prepared = prep(&self.tree, &mut self.pending, &self.config, &ctx, &request);
        let applied = self
            .tree
            .apply(&prepared.entry.header, &prepared.entry.body);
        self.pending.applied(Zxid(self.zxid));
        if let Some(d) = &prepared.entry.digest {
            assert_eq!(
                d.tree_digest,
                self.tree.digest(),
                "precalculated digest of {request:?}"
            );
        }
        Outcome { prepared, applied }
    }

    pub fn create(&mut self, session: i64, path: &str, data: Option<&[u8]>, flags: i32) -> Outcome {
        self.write(
            session,
            &[],
            WriteRequest::Create {
                op: OpCode::Create2,
                request: CreateRequest {
                    path: path.into(),
                    data: data.map(Bytes::copy_from_slice),
                    acl: Acl::open_unsafe(),
                    flags,
                },
            },
        )
    }

    pub fn delete(&mut self, session: i64, path: &str, version: i32) -> Outcome {
        self.write(
            session,
            &[],
            WriteRequest::Delete(DeleteRequest {
                path: path.into(),
                version,
            }),
        )
    }

    pub fn set_data(&mut self, session: i64, path: &str, data: &[u8], version: i32) -> Outcome {
        self.write(
            session,
            &[],
            WriteRequest::SetData(SetDataRequest {
                path: path.into(),
                data: Some(Bytes::copy_from_slice(data)),
                version,
            }),
        )
    }
}
