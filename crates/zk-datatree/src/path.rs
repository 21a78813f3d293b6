//! Path rules of `PathUtils.validatePath` and the string helpers the tree uses on paths.

/// Why a path is not a valid znode path; the message is the one Java's `IllegalArgumentException`
/// carries, so logs read the same. The server answers BADARGUMENTS for any of them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct InvalidPath {
    pub message: String,
}

/// Checks `path` exactly as `PathUtils.validatePath` does. Positions in messages count UTF-16 code
/// units, as Java's `charAt` does, and any character outside the Basic Multilingual Plane is
/// rejected because its surrogates fall in the forbidden range U+D800..U+F8FF.
pub fn validate_path(path: &str) -> Result<(), InvalidPath> {
    const SLASH: u16 = b'/' as u16;
    const DOT: u16 = b'.' as u16;
    let fail = |message: String| Err(InvalidPath { message });
    if path.is_empty() {
        return fail("Path length must be > 0".into());
    }
    if !path.starts_with('/') {
        return fail("Path must start with / character".into());
    }
    if path == "/" {
        return Ok(());
    }
    if path.ends_with('/') {
        return fail("Path must not end with / character".into());
    }
    // Java's loop looks one unit ahead and up to two behind; walking the units with that window
    // checks every request's path without collecting it.
    let mut units = path.encode_utf16().enumerate().skip(1).peekable();
    let (mut before_last, mut lastc) = (0u16, SLASH);
    let mut reason = None;
    while let Some((i, c)) = units.next() {
        let ends_name = units.peek().is_none_or(|&(_, next)| next == SLASH);
        if c == 0 {
            reason = Some(format!("null character not allowed @{i}"));
            break;
        } else if c == SLASH && lastc == SLASH {
            reason = Some(format!("empty node name specified @{i}"));
            break;
        } else if c == DOT && lastc == DOT {
            if before_last == SLASH && ends_name {
                reason = Some(format!("relative paths not allowed @{i}"));
                break;
            }
        } else if c == DOT {
            if lastc == SLASH && ends_name {
                reason = Some(format!("relative paths not allowed @{i}"));
                break;
            }
        } else if (c > 0 && c <= 0x1f)
            || (0x7f..=0x9f).contains(&c)
            || (0xd800..=0xf8ff).contains(&c)
            || c >= 0xfff0
        {
            reason = Some(format!("invalid character @{i}"));
            break;
        }
        before_last = lastc;
        lastc = c;
    }
    match reason {
        Some(reason) => fail(format!("Invalid path string \"{path}\" caused by {reason}")),
        None => Ok(()),
    }
}

/// Splits at the last `/`: `("/a", "b")` for `/a/b`, `("", "a")` for `/a`. `None` without a `/`.
pub(crate) fn split_parent(path: &str) -> Option<(&str, &str)> {
    let last = path.rfind('/')?;
    Some((&path[..last], &path[last + 1..]))
}

/// The key the tree stores a path under: the root is `""`, as in snapshots; `/` is its alias.
pub(crate) fn node_key(path: &str) -> &str {
    if path == "/" { "" } else { path }
}

/// The path watches and events use for a node key: the root is `/`.
pub(crate) fn watch_path(key: &str) -> &str {
    if key.is_empty() { "/" } else { key }
}

/// `PathUtils.getTopNamespace`-style check used by the digest: everything strictly under
/// `/zookeeper/` is left out of the tree digest.
pub(crate) fn is_digest_excluded(path: &str) -> bool {
    path.starts_with("/zookeeper/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_paths() {
        for p in [
            "/",
            "/a",
            "/a/b",
            "/a.b",
            "/..a",
            "/a..",
            "/.a.",
            "/zookeeper/quota",
            "/é",
            "/a/...",
            "/x/.../y",
        ] {
            assert_eq!(validate_path(p), Ok(()), "{p}");
        }
    }

    #[test]
    fn invalid_paths_with_java_messages() {
        let cases = [
            ("", "Path length must be > 0"),
            ("a", "Path must start with / character"),
            ("/a/", "Path must not end with / character"),
            (
                "/a//b",
                "Invalid path string \"/a//b\" caused by empty node name specified @3",
            ),
            (
                "/a/./b",
                "Invalid path string \"/a/./b\" caused by relative paths not allowed @3",
            ),
            (
                "/a/..",
                "Invalid path string \"/a/..\" caused by relative paths not allowed @4",
            ),
            (
                "/.",
                "Invalid path string \"/.\" caused by relative paths not allowed @1",
            ),
            (
                "/a\0b",
                "Invalid path string \"/a\0b\" caused by null character not allowed @2",
            ),
            (
                "/a\u{1}",
                "Invalid path string \"/a\u{1}\" caused by invalid character @2",
            ),
            (
                "/a\u{85}",
                "Invalid path string \"/a\u{85}\" caused by invalid character @2",
            ),
            (
                "/\u{e000}",
                "Invalid path string \"/\u{e000}\" caused by invalid character @1",
            ),
            (
                "/\u{fff0}",
                "Invalid path string \"/\u{fff0}\" caused by invalid character @1",
            ),
            // Outside the BMP: the high surrogate is rejected at its UTF-16 position.
            (
                "/ab\u{1F600}",
                "Invalid path string \"/ab\u{1F600}\" caused by invalid character @3",
            ),
        ];
        for (path, message) in cases {
            assert_eq!(
                validate_path(path).unwrap_err().message,
                message,
                "{path:?}"
            );
        }
    }

    #[test]
    fn split_and_keys() {
        assert_eq!(split_parent("/a/b"), Some(("/a", "b")));
        assert_eq!(split_parent("/a"), Some(("", "a")));
        assert_eq!(split_parent("a"), None);
        assert_eq!(node_key("/"), "");
        assert_eq!(watch_path(""), "/");
        assert!(is_digest_excluded("/zookeeper/quota"));
        assert!(!is_digest_excluded("/zookeeper"));
    }
}
