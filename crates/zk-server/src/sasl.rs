//! SASL on the client port (opcode 102). DIGEST-MD5 with a users file is the mechanism kazoo's
//! suite uses; until it lands, every SASL exchange fails with AUTHFAILED, as a 3.8 server without
//! a SASL login configured answers.

use std::collections::HashMap;

use bytes::Bytes;

/// The server side of one connection's SASL exchange.
#[derive(Debug)]
pub(crate) struct SaslServer {
    users: HashMap<String, String>,
}

impl SaslServer {
    pub(crate) fn new(users: HashMap<String, String>) -> Self {
        SaslServer { users }
    }

    /// One step: the response token, and the authenticated user once done.
    pub(crate) fn step(&mut self, _token: &[u8]) -> Result<(Bytes, Option<String>), String> {
        if self.users.is_empty() {
            return Err("no SASL users are configured (sasl.usersFile)".into());
        }
        Err("the DIGEST-MD5 mechanism is not available on this server".into())
    }
}
