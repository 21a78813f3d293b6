//! The session core: xids, the queue of requests awaiting replies, the watch registry, the session
//! identity and the timing rules of the Java client's `ClientCnxn`. No sockets and no clock: the
//! connection task feeds it frames and instants, so the logic is tested without a network.

use std::collections::VecDeque;
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio::sync::{OwnedSemaphorePermit, oneshot};
use zk_jute::proto::{ReplyHeader, RequestHeader, SetWatches, SetWatches2, WatcherEvent};
use zk_jute::{EventType, KeeperState, OpCode, Record, SessionId, Xid, Zxid, encode_frame};

use crate::error::{Error, Result};
use crate::path::Chroot;
use crate::watch::{WatchAction, WatchPaths, WatchRegistry, WatchedEvent};

/// The Java client's batch limit for setWatches: path characters per frame.
pub(crate) const SET_WATCHES_MAX_LENGTH: usize = 128 * 1024;
/// Pings go out after at most this much send idleness, whatever the timeout.
pub(crate) const MAX_SEND_PING_INTERVAL: Duration = Duration::from_secs(10);

/// A successful round trip's reply: the header's zxid and error, and the body (empty on error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    pub(crate) zxid: Zxid,
    pub(crate) err: i32,
    pub(crate) body: Bytes,
}

impl Reply {
    /// The body, or the error the header carries.
    pub(crate) fn ok(self) -> Result<Bytes> {
        if self.err == 0 {
            Ok(self.body)
        } else {
            Err(Error::from_code(self.err))
        }
    }
}

pub(crate) type ReplyTx = oneshot::Sender<Result<Reply>>;

/// One request on its way: built by the caller, given an xid by the connection task.
#[derive(Debug)]
pub(crate) struct Request {
    pub(crate) op: OpCode,
    pub(crate) body: Bytes,
    pub(crate) watch: WatchAction,
    pub(crate) reply: Option<ReplyTx>,
    /// Held until the reply arrives: the cap on outstanding requests.
    pub(crate) permit: Option<OwnedSemaphorePermit>,
}

/// A request written to the server and awaiting its reply.
#[derive(Debug)]
struct Pending {
    xid: i32,
    watch: WatchAction,
    reply: Option<ReplyTx>,
    _permit: Option<OwnedSemaphorePermit>,
}

/// What an incoming frame was.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Incoming {
    Ping,
    /// A reply to an auth packet; a non-zero code means the server is closing the connection.
    Auth(i32),
    Notification,
    Reply,
}

/// The identity of a session, kept across connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SessionIdentity {
    pub(crate) id: SessionId,
    pub(crate) passwd: Bytes,
    pub(crate) timeout_ms: i32,
}

impl Default for SessionIdentity {
    fn default() -> Self {
        SessionIdentity {
            id: SessionId(0),
            passwd: Bytes::from_static(&[0; 16]),
            timeout_ms: 0,
        }
    }
}

#[derive(Debug)]
pub(crate) struct SessionCore {
    last_xid: i32,
    pending: VecDeque<Pending>,
    auth_waiters: VecDeque<oneshot::Sender<Result<()>>>,
    pub(crate) watches: WatchRegistry,
    pub(crate) chroot: Chroot,
    pub(crate) last_zxid: Zxid,
    pub(crate) identity: SessionIdentity,
}

impl SessionCore {
    pub(crate) fn new(chroot: Chroot) -> SessionCore {
        SessionCore {
            last_xid: 0,
            pending: VecDeque::new(),
            auth_waiters: VecDeque::new(),
            watches: WatchRegistry::default(),
            chroot,
            last_zxid: Zxid(0),
            identity: SessionIdentity::default(),
        }
    }

    /// The next xid: 1, 2, ... wrapping from `i32::MAX` back to 1, never negative.
    pub(crate) fn next_xid(&mut self) -> i32 {
        self.last_xid = if self.last_xid == i32::MAX {
            1
        } else {
            self.last_xid + 1
        };
        self.last_xid
    }

    #[cfg(test)]
    pub(crate) fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// Gives the request an xid, frames it into `out` and queues it for its reply.
    pub(crate) fn send(&mut self, request: Request, out: &mut BytesMut) {
        let xid = self.next_xid();
        write_request(out, Xid(xid), request.op, &request.body);
        self.pending.push_back(Pending {
            xid,
            watch: request.watch,
            reply: request.reply,
            _permit: request.permit,
        });
    }

    /// Frames an auth packet (xid -4, not queued in order: its reply may come at any time).
    pub(crate) fn send_auth(
        &mut self,
        body: &Bytes,
        waiter: Option<oneshot::Sender<Result<()>>>,
        out: &mut BytesMut,
    ) {
        write_request(out, Xid::AUTH, OpCode::Auth, body);
        if let Some(w) = waiter {
            self.auth_waiters.push_back(w);
        }
    }

    /// Frames a ping (xid -2).
    pub(crate) fn send_ping(out: &mut BytesMut) {
        write_request(out, Xid::PING, OpCode::Ping, &[]);
    }

    /// Handles one frame from the server. An error means the connection must be dropped.
    pub(crate) fn handle_frame(&mut self, mut frame: Bytes) -> Result<Incoming> {
        let header = ReplyHeader::read(&mut frame)?;
        match header.xid {
            Xid::PING => Ok(Incoming::Ping),
            Xid::AUTH => {
                let result = if header.err == 0 {
                    Ok(())
                } else {
                    Err(Error::from_code(header.err))
                };
                if let Some(w) = self.auth_waiters.pop_front() {
                    let _ = w.send(result);
                }
                Ok(Incoming::Auth(header.err))
            }
            Xid::NOTIFICATION => {
                let event = WatcherEvent::read(&mut frame)?;
                let event_type = EventType::try_from(event.r#type)
                    .map_err(|t| Error::Protocol(format!("unknown event type {t}")))?;
                let state =
                    KeeperState::try_from(event.state).unwrap_or(KeeperState::SyncConnected);
                let event = WatchedEvent {
                    event_type,
                    state,
                    path: Some(self.chroot.to_client(&event.path)),
                };
                self.watches.trigger(&event);
                Ok(Incoming::Notification)
            }
            xid => {
                let Some(pending) = self.pending.pop_front() else {
                    return Err(Error::Protocol(format!(
                        "nothing in the queue, but got xid {xid}"
                    )));
                };
                if pending.xid != xid.0 {
                    if let Some(reply) = pending.reply {
                        let _ = reply.send(Err(Error::ConnectionLoss));
                    }
                    return Err(Error::Protocol(format!(
                        "xid out of order: got {xid}, expected {}",
                        pending.xid
                    )));
                }
                if header.zxid.0 > 0 {
                    self.last_zxid = header.zxid;
                }
                // Watches are set before the caller sees the reply, so no event can be missed.
                self.watches.register(pending.watch, header.err);
                if let Some(reply) = pending.reply {
                    let _ = reply.send(Ok(Reply {
                        zxid: header.zxid,
                        err: header.err,
                        body: if header.err == 0 { frame } else { Bytes::new() },
                    }));
                }
                Ok(Incoming::Reply)
            }
        }
    }

    /// Fails every request awaiting a reply (the connection is gone).
    pub(crate) fn fail_pending(&mut self, err: &Error) {
        for p in self.pending.drain(..) {
            if let Some(reply) = p.reply {
                let _ = reply.send(Err(err.clone()));
            }
        }
        for w in self.auth_waiters.drain(..) {
            let _ = w.send(Err(err.clone()));
        }
    }

    /// The setWatches frames for a new connection of the session, split as the Java client does.
    pub(crate) fn set_watches_requests(&mut self) -> Vec<Request> {
        let paths = self.watches.paths();
        set_watches_requests(&paths, &self.chroot, self.last_zxid)
    }
}

/// Splits the watches into setWatches (101) or setWatches2 (105) requests of about
/// [`SET_WATCHES_MAX_LENGTH`] path characters each.
pub(crate) fn set_watches_requests(
    paths: &WatchPaths,
    chroot: &Chroot,
    zxid: Zxid,
) -> Vec<Request> {
    let mut lists: [std::vec::IntoIter<String>; 5] = [
        paths.data.clone().into_iter(),
        paths.exist.clone().into_iter(),
        paths.child.clone().into_iter(),
        paths.persistent.clone().into_iter(),
        paths.recursive.clone().into_iter(),
    ];
    let mut requests = Vec::new();
    loop {
        let mut batch: [Vec<String>; 5] = Default::default();
        let mut length = 0;
        'fill: while length < SET_WATCHES_MAX_LENGTH {
            for (i, list) in lists.iter_mut().enumerate() {
                if let Some(p) = list.next() {
                    let p = chroot.to_server(&p);
                    length += p.len();
                    batch[i].push(p);
                    continue 'fill;
                }
            }
            break;
        }
        if batch.iter().all(Vec::is_empty) {
            return requests;
        }
        let [data, exist, child, persistent, recursive] = batch;
        let (op, body) = if persistent.is_empty() && recursive.is_empty() {
            let r = SetWatches {
                relative_zxid: zxid,
                data_watches: data,
                exist_watches: exist,
                child_watches: child,
            };
            (OpCode::SetWatches, r.to_bytes())
        } else {
            let r = SetWatches2 {
                relative_zxid: zxid,
                data_watches: data,
                exist_watches: exist,
                child_watches: child,
                persistent_watches: persistent,
                persistent_recursive_watches: recursive,
            };
            (OpCode::SetWatches2, r.to_bytes())
        };
        requests.push(Request {
            op,
            body,
            watch: WatchAction::None,
            reply: None,
            permit: None,
        });
    }
}

fn write_request(out: &mut BytesMut, xid: Xid, op: OpCode, body: &[u8]) {
    encode_frame(out, |b| {
        RequestHeader {
            xid,
            r#type: op.code(),
        }
        .write(b);
        b.put_slice(body);
    });
}

/// The Java client's timeouts for a negotiated session timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timeouts {
    /// Drop the connection when nothing was heard for this long: 2/3 of the session timeout.
    pub(crate) read: Duration,
}

impl Timeouts {
    pub(crate) fn for_session(timeout_ms: i32) -> Timeouts {
        let ms = u64::try_from(timeout_ms.max(0)).unwrap_or(0);
        Timeouts {
            read: Duration::from_millis(ms * 2 / 3),
        }
    }

    /// How long after the last send the next ping is due (`SendThread.run`: readTimeout/2 of send
    /// idleness, a second earlier once idle for more than a second, and at most 10 s).
    pub(crate) fn ping_after(&self) -> Duration {
        let half = self.read / 2;
        let one_sec = Duration::from_secs(1);
        let due = if half > one_sec + one_sec {
            half - one_sec
        } else if half > one_sec {
            // Within (1 s, 2 s]: due once idle past one second.
            one_sec + Duration::from_millis(1)
        } else {
            half
        };
        due.min(MAX_SEND_PING_INTERVAL + Duration::from_millis(1))
    }
}

/// The connect timeout per host: the session timeout divided by the number of hosts.
pub(crate) fn connect_timeout(session_timeout_ms: i32, hosts: usize) -> Duration {
    let ms = u64::try_from(session_timeout_ms.max(1)).unwrap_or(1);
    Duration::from_millis(ms / hosts.max(1) as u64)
}

/// Reads the 4-byte ErrorResponse some replies carry (addWatch) and ignores it.
pub(crate) fn skip_error_response(mut body: Bytes) {
    if body.remaining() >= 4 {
        body.advance(4);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zk_jute::proto::GetDataRequest;

    fn reply_frame(xid: i32, zxid: i64, err: i32, body: &[u8]) -> Bytes {
        let mut b = BytesMut::new();
        ReplyHeader {
            xid: Xid(xid),
            zxid: Zxid(zxid),
            err,
        }
        .write(&mut b);
        b.put_slice(body);
        b.freeze()
    }

    fn request(reply: Option<ReplyTx>, watch: WatchAction) -> Request {
        Request {
            op: OpCode::GetData,
            body: GetDataRequest {
                path: "/a".into(),
                watch: false,
            }
            .to_bytes(),
            watch,
            reply,
            permit: None,
        }
    }

    #[test]
    fn xids_start_at_one_and_wrap_to_one() {
        let mut core = SessionCore::new(Chroot::default());
        assert_eq!(core.next_xid(), 1);
        assert_eq!(core.next_xid(), 2);
        core.last_xid = i32::MAX - 1;
        assert_eq!(core.next_xid(), i32::MAX);
        assert_eq!(core.next_xid(), 1);
    }

    #[test]
    fn replies_complete_requests_in_order_and_track_the_zxid() {
        let mut core = SessionCore::new(Chroot::default());
        let mut out = BytesMut::new();
        let (tx1, mut rx1) = oneshot::channel();
        let (tx2, mut rx2) = oneshot::channel();
        core.send(request(Some(tx1), WatchAction::None), &mut out);
        core.send(request(Some(tx2), WatchAction::None), &mut out);
        // Frame: length, xid 1, opcode 4, path, watch.
        assert_eq!(&out[..12], &[0, 0, 0, 15, 0, 0, 0, 1, 0, 0, 0, 4]);
        assert_eq!(core.pending_len(), 2);
        assert_eq!(
            core.handle_frame(reply_frame(-2, 5, 0, &[])).unwrap(),
            Incoming::Ping
        );
        assert_eq!(
            core.handle_frame(reply_frame(1, 7, 0, b"body")).unwrap(),
            Incoming::Reply
        );
        let r1 = rx1.try_recv().unwrap().unwrap();
        assert_eq!(r1.body, Bytes::from_static(b"body"));
        assert_eq!(core.last_zxid, Zxid(7));
        core.handle_frame(reply_frame(2, 8, -101, b"")).unwrap();
        assert_eq!(rx2.try_recv().unwrap().unwrap().ok(), Err(Error::NoNode));
        assert_eq!(core.pending_len(), 0);
    }

    #[test]
    fn an_out_of_order_reply_breaks_the_connection() {
        let mut core = SessionCore::new(Chroot::default());
        let mut out = BytesMut::new();
        let (tx1, mut rx1) = oneshot::channel();
        let (tx2, mut rx2) = oneshot::channel();
        core.send(request(Some(tx1), WatchAction::None), &mut out);
        core.send(request(Some(tx2), WatchAction::None), &mut out);
        assert!(matches!(
            core.handle_frame(reply_frame(2, 1, 0, b"")),
            Err(Error::Protocol(_))
        ));
        assert_eq!(rx1.try_recv().unwrap(), Err(Error::ConnectionLoss));
        core.fail_pending(&Error::ConnectionLoss);
        assert_eq!(rx2.try_recv().unwrap(), Err(Error::ConnectionLoss));
        assert!(core.handle_frame(reply_frame(3, 1, 0, b"")).is_err());
    }

    #[test]
    fn notifications_strip_the_chroot_and_fire_watches_before_the_reply() {
        let mut core = SessionCore::new(Chroot::new(Some("/app")).unwrap());
        let mut out = BytesMut::new();
        let (w, mut watcher) = crate::watch::OneshotWatcher::new();
        let (tx, mut rx) = oneshot::channel();
        core.send(
            request(Some(tx), WatchAction::Data("/a".into(), w)),
            &mut out,
        );
        core.handle_frame(reply_frame(1, 3, 0, b"")).unwrap();
        assert!(rx.try_recv().is_ok());
        let mut event = BytesMut::new();
        WatcherEvent {
            r#type: 3,
            state: 3,
            path: "/app/a".into(),
        }
        .write(&mut event);
        core.handle_frame(reply_frame(-1, -1, 0, &event)).unwrap();
        let e = watcher.try_event().unwrap();
        assert_eq!(e.path.as_deref(), Some("/a"));
        assert_eq!(e.event_type, EventType::NodeDataChanged);
    }

    #[test]
    fn set_watches_are_split_under_the_limit_and_use_opcode_105_only_when_needed() {
        let chroot = Chroot::new(Some("/r")).unwrap();
        let long = "x".repeat(1000);
        let paths = WatchPaths {
            data: (0..300).map(|i| format!("/{long}{i}")).collect(),
            exist: vec!["/e".into()],
            ..Default::default()
        };
        let reqs = set_watches_requests(&paths, &chroot, Zxid(9));
        assert_eq!(reqs.len(), 3);
        let mut total = 0;
        for r in &reqs {
            assert_eq!(r.op, OpCode::SetWatches);
            let sw = SetWatches::from_bytes(&r.body).unwrap();
            assert_eq!(sw.relative_zxid, Zxid(9));
            let chars: usize = sw.data_watches.iter().map(String::len).sum();
            assert!(chars < SET_WATCHES_MAX_LENGTH + 1100);
            assert!(sw.data_watches.iter().all(|p| p.starts_with("/r/")));
            total += sw.data_watches.len() + sw.exist_watches.len();
        }
        assert_eq!(total, 301);
        let paths = WatchPaths {
            recursive: vec!["/".into()],
            ..Default::default()
        };
        let reqs = set_watches_requests(&paths, &chroot, Zxid(1));
        assert_eq!(reqs.len(), 1);
        assert_eq!(reqs[0].op, OpCode::SetWatches2);
        let sw = SetWatches2::from_bytes(&reqs[0].body).unwrap();
        assert_eq!(sw.persistent_recursive_watches, ["/r"]);
        assert!(set_watches_requests(&WatchPaths::default(), &chroot, Zxid(1)).is_empty());
    }

    #[test]
    fn timeouts_follow_the_java_client() {
        let t = Timeouts::for_session(30_000);
        assert_eq!(t.read, Duration::from_millis(20_000));
        assert_eq!(t.ping_after(), Duration::from_millis(9_000));
        let t = Timeouts::for_session(4_000);
        assert_eq!(t.read, Duration::from_millis(2_666));
        assert_eq!(t.ping_after(), Duration::from_millis(1_001));
        let t = Timeouts::for_session(1_200);
        assert_eq!(t.ping_after(), Duration::from_millis(400));
        let t = Timeouts::for_session(60_000);
        assert_eq!(t.ping_after(), Duration::from_millis(10_001));
        assert_eq!(connect_timeout(30_000, 3), Duration::from_millis(10_000));
    }
}
