//! The link between a leader and one learner: a TCP connection carrying QuorumPackets with no
//! length prefix, served by a reader and a writer thread as LearnerHandler and Learner do, so a
//! large snapshot or a slow peer never stalls the core. After a SNAP packet the learner's reader
//! loads the streamed snapshot itself and hands the core a ready tree.

use std::io::{BufWriter, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};

use bytes::BytesMut;
use tracing::{info, warn};
use zk_datatree::{DataTree, TreeConfig};
use zk_jute::Record;
use zk_jute::quorum::{PacketType, QuorumPacket};
use zk_persistence::{TreeLoader, read_learner_snapshot, write_learner_snapshot};
use zk_zab::PacketDecoder;

/// What the writer thread sends, in order.
pub(crate) enum LinkOut {
    Packet(QuorumPacket),
    /// The snapshot that follows a SNAP packet: a copy of the tree as of the packet's zxid.
    Snapshot(Box<DataTree>),
}

/// What the reader thread delivers, in order; `Closed` is the last.
#[derive(Debug)]
pub(crate) enum Inbound {
    Packet(QuorumPacket),
    /// A SNAP packet with the snapshot that followed it (learner side only).
    Snap {
        packet: QuorumPacket,
        tree: Box<DataTree>,
    },
    Closed(String),
}

/// The core's handle on a link: queue packets, close it.
#[derive(Debug, Clone)]
pub(crate) struct Link {
    out: Sender<LinkOut>,
    stream: Arc<TcpStream>,
    name: String,
}

impl Link {
    /// Starts the writer thread of a connected socket; the reader starts with `start_reader`,
    /// once the core knows the link, so no packet arrives for a link it has not seen.
    pub(crate) fn new(stream: TcpStream, name: String) -> std::io::Result<Link> {
        let _ = stream.set_nodelay(true);
        let stream = Arc::new(stream);
        let (out, rx) = channel();
        let writer = stream.clone();
        std::thread::Builder::new()
            .name(format!("{name}-write"))
            .spawn(move || write_loop(&writer, rx))?;
        Ok(Link { out, stream, name })
    }

    /// Starts the reader thread. `snapshots`: this end is a learner and reads the snapshot that
    /// follows SNAP (built with this tree config).
    pub(crate) fn start_reader(
        &self,
        snapshots: Option<TreeConfig>,
        max_packet: usize,
        deliver: impl FnMut(Inbound) + Send + 'static,
    ) -> std::io::Result<()> {
        let reader = self.stream.clone();
        std::thread::Builder::new()
            .name(format!("{}-read", self.name))
            .spawn(move || read_loop(&reader, snapshots, max_packet, deliver))?;
        Ok(())
    }

    pub(crate) fn send(&self, packet: QuorumPacket) {
        let _ = self.out.send(LinkOut::Packet(packet));
    }

    pub(crate) fn send_snapshot(&self, tree: Box<DataTree>) {
        let _ = self.out.send(LinkOut::Snapshot(tree));
    }

    /// Closes the socket; both threads end and the reader reports `Closed`.
    pub(crate) fn close(&self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}

fn read_loop(
    stream: &TcpStream,
    snapshots: Option<TreeConfig>,
    max_packet: usize,
    mut deliver: impl FnMut(Inbound),
) {
    let decoder = PacketDecoder::new(max_packet);
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let mut chunk = vec![0u8; 64 * 1024];
    let mut reader = stream;
    let why = loop {
        loop {
            let packet = match decoder.decode(&mut buf) {
                Ok(Some(p)) => p,
                Ok(None) => break,
                Err(e) => {
                    let _ = stream.shutdown(Shutdown::Both);
                    deliver(Inbound::Closed(format!("malformed packet: {e}")));
                    return;
                }
            };
            match snapshots {
                Some(config) if packet.r#type == PacketType::Snap.code() => {
                    let mut loader = TreeLoader::new(config);
                    let loaded = read_learner_snapshot(&buf, stream, &mut loader)
                        .map_err(|e| e.to_string())
                        .and_then(|(summary, leftover)| {
                            let tree = loader.finish().map_err(|e| e.to_string())?;
                            info!(nodes = summary.nodes, zxid = %packet.zxid, "received the leader's snapshot");
                            Ok((tree, leftover))
                        });
                    match loaded {
                        Ok((tree, leftover)) => {
                            buf = BytesMut::from(&leftover[..]);
                            deliver(Inbound::Snap {
                                packet,
                                tree: Box::new(tree),
                            });
                        }
                        Err(e) => {
                            let _ = stream.shutdown(Shutdown::Both);
                            deliver(Inbound::Closed(format!(
                                "bad snapshot from the leader: {e}"
                            )));
                            return;
                        }
                    }
                }
                _ => deliver(Inbound::Packet(packet)),
            }
        }
        match reader.read(&mut chunk) {
            Ok(0) => break "closed by the peer".to_owned(),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => break e.to_string(),
        }
    };
    deliver(Inbound::Closed(why));
}

fn write_loop(stream: &TcpStream, rx: Receiver<LinkOut>) {
    let mut w = BufWriter::with_capacity(64 * 1024, stream);
    let mut scratch = BytesMut::new();
    while let Ok(first) = rx.recv() {
        let mut next = Some(first);
        while let Some(item) = next {
            let written = match item {
                LinkOut::Packet(p) => {
                    scratch.clear();
                    p.write(&mut scratch);
                    w.write_all(&scratch)
                }
                LinkOut::Snapshot(mut tree) => write_learner_snapshot(&mut *tree, &mut w)
                    .map(|_| ())
                    .map_err(std::io::Error::other),
            };
            if let Err(e) = written {
                warn!(error = %e, "cannot write to the quorum peer; closing the link");
                let _ = stream.shutdown(Shutdown::Both);
                return;
            }
            next = rx.try_recv().ok();
        }
        if w.flush().is_err() {
            let _ = stream.shutdown(Shutdown::Both);
            return;
        }
    }
}
