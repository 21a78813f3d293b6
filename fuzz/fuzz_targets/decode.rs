//! Feeds arbitrary bytes to every decoder that reads input from a peer or a file: the frame
//! splitter, then each frame as client requests, replies, txns, quorum packets and election
//! messages. A decoder may reject the input; it must never panic, hang or over-allocate, and what it
//! accepts must re-encode to something that decodes to the same value.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use zk_jute::multi::{MultiRequest, MultiResponse};
use zk_jute::proto::{
    ConnectRequest, ConnectResponse, CreateRequest, GetDataResponse, ReplyHeader, RequestHeader,
    SetWatches2, WatcherEvent,
};
use zk_jute::quorum::{InitialMessage, Notification, QuorumPacket};
use zk_jute::txn::{TxnBody, TxnEntry};
use zk_jute::{FrameDecoder, Record};

fn stable<R: Record + PartialEq + std::fmt::Debug>(bytes: &[u8]) {
    if let Ok(value) = R::from_bytes(bytes) {
        let again = R::from_bytes(&value.to_bytes()).expect("re-encoding of a decoded value decodes");
        assert_eq!(again, value);
    }
}

fn frame(payload: &[u8]) {
    stable::<RequestHeader>(payload);
    stable::<ReplyHeader>(payload);
    stable::<CreateRequest>(payload);
    stable::<GetDataResponse>(payload);
    stable::<SetWatches2>(payload);
    stable::<WatcherEvent>(payload);
    stable::<ConnectResponse>(payload);
    stable::<MultiRequest>(payload);
    stable::<MultiResponse>(payload);
    stable::<QuorumPacket>(payload);
    let _ = ConnectRequest::read_with_flag(&mut &payload[..]);
    if let Ok(entry) = TxnEntry::read(&mut &payload[..]) {
        if let TxnBody::Multi(multi) = &entry.body {
            for txn in &multi.txns {
                let _ = TxnBody::read_sub(txn);
            }
        }
    }
    if let Ok(n) = Notification::decode(payload) {
        let _ = Notification::decode(&n.to_bytes()).expect("re-encoded notification decodes");
    }
    let _ = InitialMessage::read(&mut &payload[..]);
}

fuzz_target!(|data: &[u8]| {
    // Whole input as one payload, then as a framed stream with a small maximum.
    frame(data);
    let decoder = FrameDecoder::new(4096);
    let mut stream = BytesMut::from(data);
    while let Ok(Some(payload)) = decoder.decode(&mut stream) {
        frame(&payload);
    }
});
