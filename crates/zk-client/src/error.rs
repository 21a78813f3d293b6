//! The one error type of the client: every keeper error code of ZooKeeper 3.8, plus what the client
//! itself detects (bad arguments before sending, a closed client, a broken reply).

use zk_jute::ErrorCode;

/// What went wrong with an operation.
///
/// Each server error code has its own variant (with the wire code available through
/// [`Error::code`]). The ones callers usually act on:
/// - [`Error::ConnectionLoss`]: the connection broke before the reply came; the operation may or may
///   not have been applied. The session lives on and the client is reconnecting.
/// - [`Error::SessionExpired`]: the session is gone (ephemerals deleted, watches lost); this client
///   is finished, make a new one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("KeeperErrorCode = SystemError")]
    SystemError,
    #[error("KeeperErrorCode = RuntimeInconsistency")]
    RuntimeInconsistency,
    #[error("KeeperErrorCode = DataInconsistency")]
    DataInconsistency,
    /// The connection was lost before the reply arrived; the client reconnects by itself.
    #[error("KeeperErrorCode = ConnectionLoss")]
    ConnectionLoss,
    #[error("KeeperErrorCode = MarshallingError")]
    MarshallingError,
    #[error("KeeperErrorCode = Unimplemented")]
    Unimplemented,
    /// No reply within the request timeout, or no session within the connect timeout.
    #[error("KeeperErrorCode = OperationTimeout")]
    OperationTimeout,
    /// The server rejected an argument.
    #[error("KeeperErrorCode = BadArguments")]
    BadArguments,
    #[error("KeeperErrorCode = Unknown error UNKNOWNSESSION")]
    UnknownSession,
    #[error("KeeperErrorCode = NewConfigNoQuorum")]
    NewConfigNoQuorum,
    #[error("KeeperErrorCode = ReconfigInProgress")]
    ReconfigInProgress,
    #[error("KeeperErrorCode = APIError")]
    ApiError,
    #[error("KeeperErrorCode = NoNode")]
    NoNode,
    #[error("KeeperErrorCode = NoAuth")]
    NoAuth,
    #[error("KeeperErrorCode = BadVersion")]
    BadVersion,
    #[error("KeeperErrorCode = NoChildrenForEphemerals")]
    NoChildrenForEphemerals,
    #[error("KeeperErrorCode = NodeExists")]
    NodeExists,
    #[error("KeeperErrorCode = Directory not empty")]
    NotEmpty,
    /// The session expired: this client is finished.
    #[error("KeeperErrorCode = Session expired")]
    SessionExpired,
    #[error("KeeperErrorCode = Invalid callback")]
    InvalidCallback,
    #[error("KeeperErrorCode = InvalidACL")]
    InvalidAcl,
    /// Authentication failed: the server closed the connection and this client is finished.
    #[error("KeeperErrorCode = AuthFailed")]
    AuthFailed,
    #[error("KeeperErrorCode = Session moved")]
    SessionMoved,
    #[error("KeeperErrorCode = Not a read-only call")]
    NotReadOnly,
    #[error("KeeperErrorCode = Ephemeral node on local session")]
    EphemeralOnLocalSession,
    #[error("KeeperErrorCode = No such watcher")]
    NoWatcher,
    #[error("KeeperErrorCode = Unknown error REQUESTTIMEOUT")]
    RequestTimeout,
    #[error("KeeperErrorCode = Reconfig is disabled")]
    ReconfigDisabled,
    #[error("KeeperErrorCode = Session closed because client failed to authenticate")]
    SessionClosedRequireSaslAuth,
    #[error("KeeperErrorCode = Quota has exceeded")]
    QuotaExceeded,
    #[error("KeeperErrorCode = Op throttled due to high load")]
    ThrottledOp,
    /// A code this client does not know (a newer server).
    #[error("unknown error code {0}")]
    Unknown(i32),
    /// Rejected by the client before sending: a path that `PathUtils.validatePath` refuses, a bad
    /// connect string, a mode that needs another call. Its wire code is BadArguments.
    #[error("bad arguments: {0}")]
    InvalidArgument(String),
    /// The client was closed (by [`crate::Client::close`] or by dropping every handle). Java's client
    /// reports this case as SessionExpired, and so does [`Error::code`].
    #[error("the client is closed")]
    Closed,
    /// A sub-operation of a multi failed; nothing of the multi was applied.
    #[error("multi op {index} failed: {source}")]
    Multi {
        /// The position of the first failing op.
        index: usize,
        /// Why it failed.
        source: Box<Error>,
    },
    /// The server sent bytes this client could not decode; the connection was dropped.
    #[error("malformed reply: {0}")]
    Protocol(String),
}

impl Error {
    /// The error for a non-zero reply code.
    pub fn from_code(code: i32) -> Error {
        match ErrorCode::try_from(code) {
            Ok(c) => Error::from(c),
            Err(other) => Error::Unknown(other),
        }
    }

    /// The keeper error code this error stands for (the wire value through `.code()` on it).
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::SystemError => ErrorCode::SystemError,
            Error::RuntimeInconsistency => ErrorCode::RuntimeInconsistency,
            Error::DataInconsistency => ErrorCode::DataInconsistency,
            Error::ConnectionLoss => ErrorCode::ConnectionLoss,
            Error::MarshallingError | Error::Protocol(_) => ErrorCode::MarshallingError,
            Error::Unimplemented => ErrorCode::Unimplemented,
            Error::OperationTimeout => ErrorCode::OperationTimeout,
            Error::BadArguments | Error::InvalidArgument(_) => ErrorCode::BadArguments,
            Error::UnknownSession => ErrorCode::UnknownSession,
            Error::NewConfigNoQuorum => ErrorCode::NewConfigNoQuorum,
            Error::ReconfigInProgress => ErrorCode::ReconfigInProgress,
            Error::ApiError => ErrorCode::ApiError,
            Error::NoNode => ErrorCode::NoNode,
            Error::NoAuth => ErrorCode::NoAuth,
            Error::BadVersion => ErrorCode::BadVersion,
            Error::NoChildrenForEphemerals => ErrorCode::NoChildrenForEphemerals,
            Error::NodeExists => ErrorCode::NodeExists,
            Error::NotEmpty => ErrorCode::NotEmpty,
            Error::SessionExpired | Error::Closed => ErrorCode::SessionExpired,
            Error::InvalidCallback => ErrorCode::InvalidCallback,
            Error::InvalidAcl => ErrorCode::InvalidAcl,
            Error::AuthFailed => ErrorCode::AuthFailed,
            Error::SessionMoved => ErrorCode::SessionMoved,
            Error::NotReadOnly => ErrorCode::NotReadOnly,
            Error::EphemeralOnLocalSession => ErrorCode::EphemeralOnLocalSession,
            Error::NoWatcher => ErrorCode::NoWatcher,
            Error::RequestTimeout => ErrorCode::RequestTimeout,
            Error::ReconfigDisabled => ErrorCode::ReconfigDisabled,
            Error::SessionClosedRequireSaslAuth => ErrorCode::SessionClosedRequireSaslAuth,
            Error::QuotaExceeded => ErrorCode::QuotaExceeded,
            Error::ThrottledOp => ErrorCode::ThrottledOp,
            Error::Unknown(_) => ErrorCode::SystemError,
            Error::Multi { source, .. } => source.code(),
        }
    }

    /// Whether the operation may be retried on this client: the connection broke, or the server
    /// timed out or throttled it. Not for an expired session, which needs a new client.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::ConnectionLoss
                | Error::OperationTimeout
                | Error::RequestTimeout
                | Error::ThrottledOp
        )
    }

    /// Whether this client is finished (expired, closed or failed authentication).
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            Error::SessionExpired | Error::Closed | Error::AuthFailed
        )
    }
}

impl From<ErrorCode> for Error {
    fn from(code: ErrorCode) -> Error {
        match code {
            // `Ok` is not an error; a caller passing it is a bug we report rather than hide.
            ErrorCode::Ok => Error::Protocol("error code 0 used as an error".into()),
            ErrorCode::SystemError => Error::SystemError,
            ErrorCode::RuntimeInconsistency => Error::RuntimeInconsistency,
            ErrorCode::DataInconsistency => Error::DataInconsistency,
            ErrorCode::ConnectionLoss => Error::ConnectionLoss,
            ErrorCode::MarshallingError => Error::MarshallingError,
            ErrorCode::Unimplemented => Error::Unimplemented,
            ErrorCode::OperationTimeout => Error::OperationTimeout,
            ErrorCode::BadArguments => Error::BadArguments,
            ErrorCode::UnknownSession => Error::UnknownSession,
            ErrorCode::NewConfigNoQuorum => Error::NewConfigNoQuorum,
            ErrorCode::ReconfigInProgress => Error::ReconfigInProgress,
            ErrorCode::ApiError => Error::ApiError,
            ErrorCode::NoNode => Error::NoNode,
            ErrorCode::NoAuth => Error::NoAuth,
            ErrorCode::BadVersion => Error::BadVersion,
            ErrorCode::NoChildrenForEphemerals => Error::NoChildrenForEphemerals,
            ErrorCode::NodeExists => Error::NodeExists,
            ErrorCode::NotEmpty => Error::NotEmpty,
            ErrorCode::SessionExpired => Error::SessionExpired,
            ErrorCode::InvalidCallback => Error::InvalidCallback,
            ErrorCode::InvalidAcl => Error::InvalidAcl,
            ErrorCode::AuthFailed => Error::AuthFailed,
            ErrorCode::SessionMoved => Error::SessionMoved,
            ErrorCode::NotReadOnly => Error::NotReadOnly,
            ErrorCode::EphemeralOnLocalSession => Error::EphemeralOnLocalSession,
            ErrorCode::NoWatcher => Error::NoWatcher,
            ErrorCode::RequestTimeout => Error::RequestTimeout,
            ErrorCode::ReconfigDisabled => Error::ReconfigDisabled,
            ErrorCode::SessionClosedRequireSaslAuth => Error::SessionClosedRequireSaslAuth,
            ErrorCode::QuotaExceeded => Error::QuotaExceeded,
            ErrorCode::ThrottledOp => Error::ThrottledOp,
        }
    }
}

impl From<zk_jute::DecodeError> for Error {
    fn from(e: zk_jute::DecodeError) -> Error {
        Error::Protocol(e.to_string())
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_maps_to_a_variant_and_back() {
        for &code in ErrorCode::ALL {
            if code == ErrorCode::Ok {
                continue;
            }
            let err = Error::from_code(code.code());
            assert_eq!(err.code(), code, "{err:?}");
            assert_eq!(err.to_string(), code.to_string());
        }
        assert_eq!(Error::from_code(-9999), Error::Unknown(-9999));
        assert_eq!(Error::Closed.code(), ErrorCode::SessionExpired);
    }
}
