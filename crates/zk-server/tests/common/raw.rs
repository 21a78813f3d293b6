//! The client protocol by hand over a blocking socket, for tests that look at exact frames.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use zk_jute::proto::{ConnectRequest, ConnectResponse};
use zk_jute::{SessionId, Zxid};

/// A length-prefixed frame around `body`.
pub(crate) fn frame(body: &[u8]) -> Vec<u8> {
    let mut v = (body.len() as i32).to_be_bytes().to_vec();
    v.extend_from_slice(body);
    v
}

/// The next frame's body.
pub(crate) fn read_frame(s: &mut TcpStream) -> std::io::Result<Bytes> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len)?;
    let mut body = vec![0u8; i32::from_be_bytes(len) as usize];
    s.read_exact(&mut body)?;
    Ok(Bytes::from(body))
}

/// Connects and opens a new 30 s session, as the Java client does (with the read-only byte).
pub(crate) fn open_session(addr: SocketAddr) -> (TcpStream, ConnectResponse) {
    let mut s = TcpStream::connect(addr).unwrap();
    send_connect(&mut s, 30_000);
    let response = read_connect_response(&mut s).unwrap();
    (s, response)
}

/// Asks for a new session of `time_out` ms (with the read-only byte); sets a 10 s read timeout.
pub(crate) fn send_connect(s: &mut TcpStream, time_out: i32) {
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut b = BytesMut::new();
    ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: Zxid(0),
        time_out,
        session_id: SessionId(0),
        passwd: Bytes::from_static(&[0; 16]),
    }
    .write_with_flag(false, &mut b);
    s.write_all(&frame(&b)).unwrap();
}

/// The server's answer to [`send_connect`]; an error when it closed the connection instead.
pub(crate) fn read_connect_response(s: &mut TcpStream) -> std::io::Result<ConnectResponse> {
    let mut resp = read_frame(s)?;
    let (response, _) = ConnectResponse::read_with_flag(&mut resp)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))?;
    Ok(response)
}
