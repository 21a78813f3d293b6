//! SASL on the client port (opcode 102): the server side of DIGEST-MD5 (RFC 2831, `qop=auth`) as
//! Java's `DigestMD5Server` runs it for ZooKeeper: realm and server name `zk-sasl-md5`, service
//! `zookeeper`, `algorithm=md5-sess`, `charset=utf-8`. Users come from the JAAS file's `Server`
//! section (`org.apache.zookeeper.server.auth.DigestLoginModule`, `user_<name>="<password>"`, the
//! file named by `-Djava.security.auth.login.config`) or from `sasl.usersFile` (`user=password`
//! lines). A failed step answers AUTHFAILED and the connection is closed, as 3.8 does.

use std::collections::HashMap;
use std::fmt::Write as _;

use bytes::Bytes;
use md5::{Digest, Md5};

/// The realm and host part of the digest-uri ZooKeeper's clients and server hard-code.
const REALM: &str = "zk-sasl-md5";
/// The service part of the digest-uri.
const SERVICE: &str = "zookeeper";

#[derive(Debug)]
enum State {
    /// Nothing sent yet: the next step answers the challenge.
    Start,
    /// The challenge went out with this nonce.
    Challenged { nonce: String },
    /// rspauth went out; the exchange is over.
    Done,
}

/// The server side of one connection's SASL exchange.
#[derive(Debug)]
pub(crate) struct SaslServer {
    users: HashMap<String, String>,
    state: State,
}

impl SaslServer {
    pub(crate) fn new(users: HashMap<String, String>) -> Self {
        SaslServer {
            users,
            state: State::Start,
        }
    }

    /// One step: the response token, and the authenticated (authorization) id once done.
    pub(crate) fn step(&mut self, token: &[u8]) -> Result<(Bytes, Option<String>), String> {
        if self.users.is_empty() {
            return Err(
                "no SASL users are configured (JAAS Server section or sasl.usersFile)".into(),
            );
        }
        match std::mem::replace(&mut self.state, State::Done) {
            State::Start => {
                let nonce = new_nonce()?;
                let challenge = format!(
                    "realm=\"{REALM}\",nonce=\"{nonce}\",qop=\"auth\",charset=utf-8,algorithm=md5-sess"
                );
                self.state = State::Challenged { nonce };
                Ok((Bytes::from(challenge), None))
            }
            State::Challenged { nonce } => {
                let (rspauth, id) = self.verify(token, &nonce)?;
                Ok((Bytes::from(format!("rspauth={rspauth}")), Some(id)))
            }
            State::Done => Err("the DIGEST-MD5 exchange is already complete".into()),
        }
    }

    /// Checks the client's digest-response; returns rspauth and the authorization id.
    fn verify(&self, token: &[u8], nonce: &str) -> Result<(String, String), String> {
        let text = std::str::from_utf8(token)
            .map_err(|_| "the digest-response is not UTF-8".to_owned())?;
        let d = parse_directives(text)?;
        let get = |k: &str| d.get(k).map(String::as_str);
        let username = get("username").ok_or("the digest-response has no username")?;
        if let Some(realm) = get("realm")
            && realm != REALM
        {
            return Err(format!("realm {realm:?} is not {REALM:?}"));
        }
        let realm = get("realm").unwrap_or("");
        if get("nonce") != Some(nonce) {
            return Err("the nonce does not match the challenge".into());
        }
        let cnonce = get("cnonce").ok_or("the digest-response has no cnonce")?;
        let nc = get("nc").ok_or("the digest-response has no nc")?;
        if u32::from_str_radix(nc, 16) != Ok(1) {
            return Err(format!("nonce count {nc} is not 00000001"));
        }
        let qop = get("qop").unwrap_or("auth");
        if qop != "auth" {
            return Err(format!("qop {qop:?} is not offered (only auth)"));
        }
        let uri = get("digest-uri").ok_or("the digest-response has no digest-uri")?;
        match uri.split_once('/') {
            Some((serv, host))
                if serv.eq_ignore_ascii_case(SERVICE) && host.eq_ignore_ascii_case(REALM) => {}
            _ => return Err(format!("digest-uri {uri:?} is not {SERVICE}/{REALM}")),
        }
        let response = get("response").ok_or("the digest-response has no response")?;
        let authzid = get("authzid");
        let password = self
            .users
            .get(username)
            .ok_or_else(|| format!("unknown user {username:?}"))?;
        let mut key = Md5::new();
        key.update(format!("{username}:{realm}:{password}").as_bytes());
        let mut a1 = key.finalize().to_vec();
        a1.extend_from_slice(format!(":{nonce}:{cnonce}").as_bytes());
        if let Some(z) = authzid {
            a1.extend_from_slice(format!(":{z}").as_bytes());
        }
        let ha1 = hex_md5(&a1);
        let kd = |a2: &str| {
            hex_md5(
                format!(
                    "{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{}",
                    hex_md5(a2.as_bytes())
                )
                .as_bytes(),
            )
        };
        if !kd(&format!("AUTHENTICATE:{uri}")).eq_ignore_ascii_case(response) {
            return Err(format!("wrong password for {username:?}"));
        }
        let id = match authzid {
            Some(z) if z != username => {
                return Err(format!("{username:?} may not act as {z:?}"));
            }
            _ => username.to_owned(),
        };
        Ok((kd(&format!(":{uri}")), id))
    }
}

fn hex_md5(data: &[u8]) -> String {
    let mut out = String::with_capacity(32);
    for b in Md5::digest(data) {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// 30 random bytes in base64, as Java's DigestMD5Server makes its nonce.
fn new_nonce() -> Result<String, String> {
    use std::io::Read;
    let mut raw = [0u8; 30];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut raw))
        .map_err(|e| format!("cannot read /dev/urandom for a nonce: {e}"))?;
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(40);
    for c in raw.chunks(3) {
        let n = (u32::from(c[0]) << 16) | (u32::from(c[1]) << 8) | u32::from(c[2]);
        for i in (0..4).rev() {
            s.push(B64[((n >> (6 * i)) & 63) as usize] as char);
        }
    }
    Ok(s)
}

/// `key=value` or `key="quoted \" value"` directives separated by commas (RFC 2831 §7.1).
fn parse_directives(text: &str) -> Result<HashMap<String, String>, String> {
    let mut out = HashMap::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        if chars.peek().is_none() {
            return Ok(out);
        }
        let mut key = String::new();
        for c in chars.by_ref() {
            if c == '=' {
                break;
            }
            key.push(c);
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            let mut closed = false;
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => {
                        closed = true;
                        break;
                    }
                    c => value.push(c),
                }
            }
            if !closed {
                return Err(format!("unterminated quoted value of {key:?}"));
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        let key = key.trim().to_ascii_lowercase();
        if out.insert(key.clone(), value.trim().to_owned()).is_some() {
            return Err(format!("directive {key:?} appears twice"));
        }
    }
}

/// The users of the `Server` section of a JAAS file using ZooKeeper's DigestLoginModule
/// (`user_<name>="<password>"` options); other sections and modules are ignored.
pub(crate) fn jaas_digest_users(text: &str) -> HashMap<String, String> {
    let mut users = HashMap::new();
    let mut rest = strip_comments(text);
    while let Some(open) = rest.find('{') {
        let name = rest[..open]
            .trim()
            .rsplit(|c: char| c.is_whitespace() || c == ';')
            .next()
            .unwrap_or("");
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        let body = &rest[open + 1..open + close];
        if name == "Server" && body.contains("DigestLoginModule") {
            // Options: key="value" or key=value, up to the module entry's ';'.
            let mut s = body;
            while let Some(eq) = s.find('=') {
                let key = s[..eq]
                    .rsplit(|c: char| c.is_whitespace())
                    .next()
                    .unwrap_or("")
                    .to_owned();
                let after = s[eq + 1..].trim_start();
                let (value, tail) = if let Some(q) = after.strip_prefix('"') {
                    match q.find('"') {
                        Some(end) => (&q[..end], &q[end + 1..]),
                        None => (q, ""),
                    }
                } else {
                    let end = after
                        .find(|c: char| c.is_whitespace() || c == ';')
                        .unwrap_or(after.len());
                    (&after[..end], &after[end..])
                };
                if let Some(user) = key.strip_prefix("user_") {
                    users.insert(user.to_owned(), value.to_owned());
                }
                s = tail;
            }
        }
        rest = rest[open + close + 1..].to_owned();
    }
    users
}

fn strip_comments(text: &str) -> String {
    text.lines()
        .map(|l| {
            let t = l.trim_start();
            if t.starts_with("//") || t.starts_with('#') {
                ""
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users() -> HashMap<String, String> {
        HashMap::from([("jaasuser".to_owned(), "jaas_password".to_owned())])
    }

    /// The client side of RFC 2831, written independently of `verify`.
    fn client_response(challenge: &str, user: &str, password: &str, cnonce: &str) -> String {
        let d = parse_directives(challenge).unwrap();
        let nonce = &d["nonce"];
        let uri = "zookeeper/zk-sasl-md5";
        let mut a1 = Md5::digest(format!("{user}:{REALM}:{password}").as_bytes()).to_vec();
        a1.extend_from_slice(format!(":{nonce}:{cnonce}").as_bytes());
        let ha2 = hex_md5(format!("AUTHENTICATE:{uri}").as_bytes());
        let resp =
            hex_md5(format!("{}:{nonce}:00000001:{cnonce}:auth:{ha2}", hex_md5(&a1)).as_bytes());
        format!(
            "charset=utf-8,username=\"{user}\",realm=\"{REALM}\",nonce=\"{nonce}\",nc=00000001,cnonce=\"{cnonce}\",digest-uri=\"{uri}\",maxbuf=65536,response={resp},qop=auth"
        )
    }

    #[test]
    fn digest_md5_exchange_accepts_the_right_password() {
        let mut s = SaslServer::new(users());
        let (challenge, done) = s.step(b"").unwrap();
        assert!(done.is_none());
        let challenge = std::str::from_utf8(&challenge).unwrap().to_owned();
        assert!(challenge.starts_with("realm=\"zk-sasl-md5\",nonce=\""));
        assert!(challenge.ends_with(",qop=\"auth\",charset=utf-8,algorithm=md5-sess"));
        let resp = client_response(&challenge, "jaasuser", "jaas_password", "OA6MHXh6VqTrRk");
        let (rspauth, done) = s.step(resp.as_bytes()).unwrap();
        assert_eq!(done.as_deref(), Some("jaasuser"));
        assert!(rspauth.starts_with(b"rspauth="));
        assert_eq!(rspauth.len(), "rspauth=".len() + 32);
        assert!(s.step(b"").is_err());
    }

    #[test]
    fn digest_md5_rejects_wrong_password_and_unknown_user() {
        for (user, pw) in [("jaasuser", "nope"), ("baduser", "badpassword")] {
            let mut s = SaslServer::new(users());
            let (challenge, _) = s.step(b"").unwrap();
            let resp = client_response(std::str::from_utf8(&challenge).unwrap(), user, pw, "c");
            assert!(s.step(resp.as_bytes()).is_err(), "{user}");
        }
    }

    #[test]
    fn rfc2831_example_response_value() {
        // RFC 2831 §4's example (IMAP, no md5-sess key reuse issues): response and rspauth.
        let nonce = "OA6MG9tEQGm2hh";
        let cnonce = "OA6MHXh6VqTrRk";
        let mut a1 = Md5::digest(b"chris:elwood.innosoft.com:secret").to_vec();
        a1.extend_from_slice(format!(":{nonce}:{cnonce}").as_bytes());
        let ha1 = hex_md5(&a1);
        let kd = |a2: &str| {
            hex_md5(
                format!(
                    "{ha1}:{nonce}:00000001:{cnonce}:auth:{}",
                    hex_md5(a2.as_bytes())
                )
                .as_bytes(),
            )
        };
        assert_eq!(
            kd("AUTHENTICATE:imap/elwood.innosoft.com"),
            "d388dad90d4bbd760a152321f2143af7"
        );
        assert_eq!(
            kd(":imap/elwood.innosoft.com"),
            "ea40f60335c427b5527b84dbabcdfffd"
        );
    }

    #[test]
    fn jaas_server_section_users() {
        let text = "\nClient {\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n  username=\"bob\" password=\"x\";\n};\n// comment\nServer {\n    org.apache.zookeeper.server.auth.DigestLoginModule required\n    user_super=\"super_secret\"\n    user_jaasuser=\"jaas_password\";\n};";
        let u = jaas_digest_users(text);
        assert_eq!(u.len(), 2);
        assert_eq!(u["super"], "super_secret");
        assert_eq!(u["jaasuser"], "jaas_password");
    }

    #[test]
    fn directives_with_quotes_and_escapes() {
        let d = parse_directives("a=\"x,\\\"y\",b=2 , c=\"\"").unwrap();
        assert_eq!(d["a"], "x,\"y");
        assert_eq!(d["b"], "2");
        assert_eq!(d["c"], "");
        assert!(parse_directives("a=1,a=2").is_err());
    }
}
