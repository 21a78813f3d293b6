//! Path rules (`PathUtils.validatePath`) and the chroot mapping between client and server paths.

use crate::error::{Error, Result};

/// Checks a path as ZooKeeper's `PathUtils.validatePath` does; `sequential` allows a trailing `/`
/// (the server appends the sequence number).
pub fn validate_path(path: &str, sequential: bool) -> Result<()> {
    let bad = |reason: &str| {
        Err(Error::InvalidArgument(format!(
            "invalid path string \"{path}\": {reason}"
        )))
    };
    if path.is_empty() {
        return bad("path length must be > 0");
    }
    if !path.starts_with('/') {
        return bad("path must start with / character");
    }
    if path.len() == 1 {
        return Ok(());
    }
    if path.ends_with('/') && !sequential {
        return bad("path must not end with / character");
    }
    let checked = if sequential && path.ends_with('/') {
        &path[..path.len() - 1]
    } else {
        path
    };
    for component in checked[1..].split('/') {
        match component {
            "" => return bad("empty node name specified"),
            "." | ".." => return bad("relative paths not allowed"),
            _ => {}
        }
    }
    for c in path.chars() {
        let u = c as u32;
        if u == 0 {
            return bad("null character not allowed");
        }
        if (0x01..=0x1f).contains(&u)
            || (0x7f..=0x9f).contains(&u)
            || (0xd800..=0xf8ff).contains(&u)
            || (0xfff0..=0xffff).contains(&u)
        {
            return bad("invalid character");
        }
    }
    Ok(())
}

/// A client's chroot: the prefix added to every path it sends and removed from every path it gets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Chroot(Option<String>);

impl Chroot {
    /// `None` or `"/"` mean no chroot; anything else must be a valid path.
    pub(crate) fn new(root: Option<&str>) -> Result<Chroot> {
        match root {
            None | Some("/") | Some("") => Ok(Chroot(None)),
            Some(r) => {
                validate_path(r, false)?;
                Ok(Chroot(Some(r.to_owned())))
            }
        }
    }

    pub(crate) fn as_str(&self) -> Option<&str> {
        self.0.as_deref()
    }

    /// The server path of a client path (`/` maps to the chroot itself).
    pub(crate) fn to_server(&self, client_path: &str) -> String {
        match &self.0 {
            None => client_path.to_owned(),
            Some(root) if client_path == "/" => root.clone(),
            Some(root) => format!("{root}{client_path}"),
        }
    }

    /// The client path of a server path, as the Java client strips it: the chroot itself becomes
    /// `/`, a longer path loses the prefix, a shorter one is left alone.
    pub(crate) fn to_client(&self, server_path: &str) -> String {
        match &self.0 {
            None => server_path.to_owned(),
            Some(root) if server_path == root => "/".to_owned(),
            Some(root)
                if server_path.starts_with(root.as_str())
                    && server_path[root.len()..].starts_with('/') =>
            {
                server_path[root.len()..].to_owned()
            }
            Some(_) => server_path.to_owned(),
        }
    }
}

/// The parent of a path (`/` for a top-level node), or `None` for `/`.
pub fn parent(path: &str) -> Option<&str> {
    if path == "/" {
        return None;
    }
    match path.rfind('/') {
        Some(0) => Some("/"),
        Some(i) => Some(&path[..i]),
        None => None,
    }
}

/// Joins a parent path and a child name.
pub fn join(parent: &str, child: &str) -> String {
    if parent == "/" {
        format!("/{child}")
    } else {
        format!("{parent}/{child}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_rules_follow_path_utils() {
        for ok in [
            "/",
            "/a",
            "/a/b",
            "/a.b",
            "/..a",
            "/zookeeper/quota",
            "/\u{e9}t\u{e9}",
        ] {
            validate_path(ok, false).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in [
            "",
            "a",
            "/a/",
            "//",
            "/a//b",
            "/a/./b",
            "/a/..",
            "/.",
            "/a\0b",
            "/a\u{1}",
            "/\u{7f}",
            "/\u{9f}",
            "/\u{e000}",
            "/\u{fff0}",
        ] {
            assert!(
                matches!(validate_path(bad, false), Err(Error::InvalidArgument(_))),
                "{bad:?}"
            );
        }
        validate_path("/a/", true).unwrap();
        validate_path("/a/lock-", true).unwrap();
        assert!(validate_path("/a//", true).is_err());
    }

    #[test]
    fn chroot_maps_both_ways() {
        let c = Chroot::new(Some("/app")).unwrap();
        assert_eq!(c.to_server("/"), "/app");
        assert_eq!(c.to_server("/x/y"), "/app/x/y");
        assert_eq!(c.to_client("/app"), "/");
        assert_eq!(c.to_client("/app/x"), "/x");
        assert_eq!(c.to_client("/other"), "/other");
        assert_eq!(c.to_client("/application"), "/application");
        let none = Chroot::new(Some("/")).unwrap();
        assert_eq!(none.to_server("/x"), "/x");
        assert_eq!(none.to_client("/x"), "/x");
        assert!(Chroot::new(Some("/bad/")).is_err());
    }

    #[test]
    fn parent_and_join() {
        assert_eq!(parent("/"), None);
        assert_eq!(parent("/a"), Some("/"));
        assert_eq!(parent("/a/b/c"), Some("/a/b"));
        assert_eq!(join("/", "a"), "/a");
        assert_eq!(join("/a", "b"), "/a/b");
    }
}
