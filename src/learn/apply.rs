//! `learn apply` and `learn reject`.
//!
//! INTERFACE STUB: bodies are being written.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::home::Home;

/// What `apply` did.
#[derive(Debug, Clone, Serialize)]
pub struct Applied {
    /// The suggestion id.
    pub id: String,
    /// One line describing the change made to models.json.
    pub description: String,
    /// Where the previous bytes of models.json were saved.
    pub backup: std::path::PathBuf,
}

/// What `reject` did.
#[derive(Debug, Clone, Serialize)]
pub struct Rejected {
    /// The suggestion id.
    pub id: String,
    /// The reason given, if any.
    pub reason: Option<String>,
}

/// Applies suggestion `id` to models.json (backup, change log, status).
pub fn apply(home: &Home, id: &str, force: bool) -> Result<Applied> {
    let _ = (home, id, force);
    Err(Error::Invalid("learn apply: not built yet".into()))
}

/// Rejects suggestion `id`; it is never suggested again.
pub fn reject(home: &Home, id: &str, reason: Option<&str>) -> Result<Rejected> {
    let _ = (home, id, reason);
    Err(Error::Invalid("learn reject: not built yet".into()))
}
