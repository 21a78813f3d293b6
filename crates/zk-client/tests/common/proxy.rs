//! A TCP proxy in front of a server that a test can cut (close every connection) and block
//! (refuse new ones), to force disconnections and session expiry without touching the server.

use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

#[derive(Debug)]
struct State {
    blocked: bool,
    connections: CancellationToken,
}

/// A running proxy; stops when dropped.
#[derive(Debug)]
pub struct Proxy {
    address: String,
    state: Arc<Mutex<State>>,
    stop: CancellationToken,
}

impl Proxy {
    pub async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let address = listener.local_addr().expect("proxy address").to_string();
        let state = Arc::new(Mutex::new(State {
            blocked: false,
            connections: CancellationToken::new(),
        }));
        let stop = CancellationToken::new();
        let (st, sp) = (state.clone(), stop.clone());
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    a = listener.accept() => a,
                    _ = sp.cancelled() => return,
                };
                let Ok((client, _)) = accepted else { continue };
                let (blocked, token) = {
                    let s = st.lock().unwrap();
                    (s.blocked, s.connections.clone())
                };
                if blocked {
                    drop(client);
                    continue;
                }
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let (mut cr, mut cw) = client.into_split();
                    let (mut sr, mut sw) = server.into_split();
                    tokio::select! {
                        _ = tokio::io::copy(&mut cr, &mut sw) => {}
                        _ = tokio::io::copy(&mut sr, &mut cw) => {}
                        _ = token.cancelled() => {}
                    }
                });
            }
        });
        Proxy {
            address,
            state,
            stop,
        }
    }

    pub fn address(&self) -> &str {
        &self.address
    }

    pub fn port(&self) -> u16 {
        self.address.rsplit(':').next().unwrap().parse().unwrap()
    }

    /// Closes every open connection.
    pub fn cut(&self) {
        let mut s = self.state.lock().unwrap();
        s.connections.cancel();
        s.connections = CancellationToken::new();
    }

    /// Refuses (accepts and closes) new connections while `blocked`.
    pub fn set_blocked(&self, blocked: bool) {
        self.state.lock().unwrap().blocked = blocked;
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.cancel();
        self.cut();
    }
}
