//! Error types shared by the library. Every message names the file involved
//! and, where there is one, the thing the user can do about it.

use std::path::PathBuf;
use std::time::Duration;

/// Result alias used across the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in modelfit, phrased for the person who has to act on it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read, written, created or synced.
    #[error("{action} {path}: {source}")]
    Io {
        /// What modelfit was doing ("cannot read", "cannot write", ...).
        action: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// A JSON file does not parse. modelfit never writes such a file.
    #[error(
        "{path} is not valid JSON (line {line}, column {column}: {message}); \
         modelfit left it untouched. Repair or restore it (e.g. from a backup), \
         then run the command again"
    )]
    Parse {
        /// The file that does not parse.
        path: PathBuf,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// serde_json's description of the problem.
        message: String,
    },

    /// A JSON file parses but has the wrong shape (e.g. an object where an array belongs).
    #[error("{path}: {message}; modelfit left it untouched")]
    Shape {
        /// The offending file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },

    /// Another process held the lock for longer than modelfit is willing to wait.
    #[error(
        "timed out after {waited:?} waiting for the lock {path}; another modelfit \
         process is writing (or hung). Retry, or find the holder with `fuser {path}`"
    )]
    LockTimeout {
        /// The lock file.
        path: PathBuf,
        /// How long modelfit waited.
        waited: Duration,
    },

    /// No record in the ledger has this id.
    #[error("no record with id {id:?} in {path}; check the id (the record's \"id\" field)")]
    NotFound {
        /// The id looked for.
        id: String,
        /// The ledger searched.
        path: PathBuf,
    },

    /// A value given on the command line or through MCP is not acceptable.
    #[error("{0}")]
    Invalid(String),

    /// The PostgreSQL database of `modelfit sync` / `learn --database` could
    /// not be reached or refused something; the message says what to do.
    /// Nothing local is lost: unsynced records keep waiting.
    #[error("{0}")]
    Database(String),
    /// A path modelfit would write is not what it must be (a symbolic link
    /// where modelfit keeps its own state, a FIFO or device where a regular
    /// file belongs, a folder outside the home).
    #[error("{path}: {why}; modelfit wrote nothing there")]
    Unsafe {
        /// The offending path.
        path: PathBuf,
        /// What is wrong with it and what to do.
        why: String,
    },

    /// The disk (or quota) is full.
    #[error(
        "the disk is full: {action} {path} failed (no space left on device); \
         nothing was lost (the file is as it was before). Free some space and run the command again"
    )]
    DiskFull {
        /// What modelfit was doing.
        action: &'static str,
        /// The file involved.
        path: PathBuf,
    },

    /// The ledger is read-only for modelfit: it is never replaced behind its owner's back.
    #[error(
        "{path} is read-only (mode {mode:o}); modelfit wrote nothing. Make it writable \
         (e.g. `chmod u+w`) or run modelfit as its owner"
    )]
    ReadOnly {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
}

impl Error {
    /// Wraps an I/O error with the path and the action that failed.
    /// A full disk (`ENOSPC`, `EDQUOT`) becomes [`Error::DiskFull`].
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        if matches!(
            source.raw_os_error(),
            Some(libc::ENOSPC) | Some(libc::EDQUOT)
        ) {
            return Error::DiskFull {
                action,
                path: path.into(),
            };
        }
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }

    /// Converts a serde_json error about `path` into a [`Error::Parse`] that
    /// carries the line and column.
    pub fn parse(path: impl Into<PathBuf>, err: &serde_json::Error) -> Error {
        let text = err.to_string();
        // serde_json appends " at line L column C"; the fields carry it already.
        let message = match text.rfind(" at line ") {
            Some(i) => text[..i].to_string(),
            None => text,
        };
        Error::Parse {
            path: path.into(),
            line: err.line(),
            column: err.column(),
            message,
        }
    }
}
