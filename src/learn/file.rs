//! `logs/model-learning.json`: read, lock and replace it without losing what
//! other writers (the JS analyzer, `learn apply`) put there.
//!
//! The file is one JSON object. modelfit owns `last_updated`,
//! `total_dispatches`, `patterns`, `suggestions` and the keys it adds
//! (`window`, `weekly`, `anomalies`, `health`, `evidence_needed`, …); every
//! other top-level key is kept as written. A file that does not parse is an
//! error naming its line and column, and is never overwritten.

use std::fs::File;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::home::Home;
use crate::record::to_js_pretty;

/// An exclusive lock on `model-learning.json.lock`, released on drop.
#[derive(Debug)]
pub struct LearningLock {
    _file: File,
}

/// The sidecar lock path of the learning file.
pub fn lock_path(home: &Home) -> PathBuf {
    let mut p = home.learning().into_os_string();
    p.push(".lock");
    PathBuf::from(p)
}

/// Takes the learning file's lock, waiting for other writers (bounded by
/// `MODELFIT_LOCK_TIMEOUT_MS`, default 10 s).
pub fn lock(home: &Home) -> Result<LearningLock> {
    let file = crate::lockfile::acquire(&lock_path(home), crate::lockfile::default_timeout())?;
    Ok(LearningLock { _file: file })
}

/// The learning file as read: its object, and whether it existed and ended
/// with a newline (kept when it is written back, so another tool's file is
/// not rewritten for a byte it did not ask for).
#[derive(Debug, Clone)]
pub struct Learning {
    /// Where it lives.
    pub path: PathBuf,
    /// The top-level object (`{}` for a missing or empty file).
    pub doc: Map<String, Value>,
    existed: bool,
    trailing_newline: bool,
}

impl Learning {
    /// Reads the file at `path`; a missing or empty file is `{}`. A file
    /// that does not parse, or whose top level is not an object, is an
    /// error and is never overwritten.
    pub fn read(path: &Path) -> Result<Learning> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Learning::empty(path, false))
            }
            Err(e) => return Err(Error::io("cannot read", path, e)),
        };
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Learning::empty(path, true));
        }
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(doc)) => Ok(Learning {
                path: path.to_path_buf(),
                doc,
                existed: true,
                trailing_newline: bytes.ends_with(b"\n"),
            }),
            Ok(_) => Err(Error::Shape {
                path: path.to_path_buf(),
                message: "the top level is not a JSON object; move the file aside and run \
                          `modelfit learn` again"
                    .into(),
            }),
            Err(e) => Err(Error::parse(path, &e)),
        }
    }

    fn empty(path: &Path, existed: bool) -> Learning {
        Learning {
            path: path.to_path_buf(),
            doc: Map::new(),
            existed,
            trailing_newline: true,
        }
    }

    /// Whether the file existed when read.
    pub fn existed(&self) -> bool {
        self.existed
    }

    /// Replaces the file atomically (2-space JSON; a trailing newline
    /// unless the file read had none).
    pub fn write(&self) -> Result<()> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::io("cannot create directory", dir, e))?;
        }
        let mut text = to_js_pretty(&Value::Object(self.doc.clone()), 0);
        if self.trailing_newline {
            text.push('\n');
        }
        crate::store::write_atomic(&self.path, text.as_bytes())
    }
}

/// Reads the learning file as an object; a missing or empty file is `{}`.
pub fn load(path: &Path) -> Result<Map<String, Value>> {
    Ok(Learning::read(path)?.doc)
}

/// Replaces the learning file atomically (2-space JSON, trailing newline).
pub fn save(path: &Path, doc: &Map<String, Value>) -> Result<()> {
    Learning {
        doc: doc.clone(),
        ..Learning::empty(path, true)
    }
    .write()
}
