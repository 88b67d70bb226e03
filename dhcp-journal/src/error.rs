//! Errors of the file layer. The reader itself never fails: it reports
//! [`Warning`](crate::Warning)s instead.

use std::io;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// An IO operation on the lease file (or its directory / temporary file) failed.
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl JournalError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::Io { op, path: path.into(), source }
    }

    /// The underlying IO error.
    pub fn io_error(&self) -> &io::Error {
        match self {
            Self::Io { source, .. } => source,
        }
    }
}

impl From<JournalError> for io::Error {
    fn from(e: JournalError) -> Self {
        match e {
            JournalError::Io { op, path, source } => {
                io::Error::new(source.kind(), format!("{op} {}: {source}", path.display()))
            }
        }
    }
}
