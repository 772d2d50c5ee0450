//! Incremental reading of a Claude Code session transcript (JSONL): tokens
//! per API response, models, tool and API errors, interruptions, and the
//! files a task edited.
//!
//! INTERFACE STUB: the bodies are being written (issue 3); the types and
//! signatures below are the contract the hook and `usage` build on.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Serialize;

use crate::error::Result;

/// Token counts of the four kinds the API reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tokens {
    /// Uncached input tokens.
    pub input: u64,
    /// Output tokens (max over a response's streamed lines).
    pub output: u64,
    /// Tokens written to the prompt cache.
    pub cache_creation: u64,
    /// Tokens read from the prompt cache.
    pub cache_read: u64,
}

impl Tokens {
    /// All four kinds added up (the ledger's `tokens_used`).
    pub fn total(&self) -> u64 {
        self.input + self.output + self.cache_creation + self.cache_read
    }
}

/// What a stretch of transcript shows.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// Tokens per model id (as in `message.model`; `<synthetic>` excluded).
    pub by_model: BTreeMap<String, Tokens>,
    /// Distinct API responses counted.
    pub responses: u64,
    /// `tool_result` blocks with `is_error: true`.
    pub tool_errors: u64,
    /// API error lines (`isApiErrorMessage`, `system`/`api_error`).
    pub api_errors: u64,
    /// `[Request interrupted by user…]` markers.
    pub interrupted: bool,
    /// Paths given to Edit / Write / MultiEdit / NotebookEdit tool calls.
    pub files_touched: BTreeSet<String>,
    /// Byte offset just past the last complete line read (where the next read starts).
    pub end_offset: u64,
    /// Timestamp of the first and last line read (ISO), if any.
    pub first_timestamp: Option<String>,
    /// See `first_timestamp`.
    pub last_timestamp: Option<String>,
}

impl Summary {
    /// Tokens over all models.
    pub fn total(&self) -> Tokens {
        let mut t = Tokens::default();
        for v in self.by_model.values() {
            t.input += v.input;
            t.output += v.output;
            t.cache_creation += v.cache_creation;
            t.cache_read += v.cache_read;
        }
        t
    }
}

/// Reads `path` from byte `offset` to its last complete line, plus the
/// session's subagent files (`<session>/subagents/*.jsonl`) for lines
/// timestamped at or after `since` (ISO; all of them when `None`).
pub fn summarize(path: &Path, offset: u64, since: Option<&str>) -> Result<Summary> {
    let _ = (path, offset, since);
    Ok(Summary::default())
}
