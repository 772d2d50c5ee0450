//! modelfit's own append-only journal of every ledger write it acknowledges,
//! `logs/modelfit/journal.jsonl`.
//!
//! The orchestrator's writers take no lock and rewrite the whole ledger from
//! whatever they read a moment before, so a record modelfit wrote can vanish
//! under a stale rewrite. Every write therefore goes first into this file
//! (one JSON line, `O_APPEND`, fsync) and only then into the ledger; a later
//! reconcile re-applies every entry the ledger lacks. Entries carry a
//! sequence number that never repeats, so a database sync can use the
//! journal as its outbox.
//!
//! Kinds of entries (`op`):
//! * `append`: a whole new record (`record`), identified by its `id`, or by
//!   its exact value when it has none;
//! * `update`: fields of the record `id` set (`set`) or removed (`unset`),
//!   with their values `before`, so a later deliberate change by someone else
//!   is told apart from a stale rewrite that undid modelfit's;
//! * `deferred`: an edit computed only when the ledger is next written (the
//!   hook's linked Stop: `set` then a `verdict`), turned into an `update`
//!   once applied;
//! * `base`: the first line after a compaction, carrying the last sequence number.
//!
//! Compaction (under the ledger lock) drops entries confirmed present in the
//! ledger at least [`GRACE`] after they were written, so the file stays small.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::record::Record;
use crate::safe_fs;

/// How long after its write an entry must still be seen present before it is
/// dropped: a stale rewrite by another program lands within this window.
pub const GRACE: Duration = Duration::from_secs(30);

/// Entries that can no longer apply (their record is gone, or someone changed
/// the fields since) are kept this long for `reconcile` and `doctor` to report.
pub const KEEP_UNAPPLIABLE: Duration = Duration::from_secs(7 * 24 * 3600);

/// One journaled write.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Entry {
    /// Sequence number, increasing, never reused.
    pub seq: u64,
    /// Wall-clock time of the write, milliseconds since the epoch (never the
    /// test clock: compaction measures real time).
    pub at_ms: u64,
    /// `append`, `update`, `deferred` or `base`.
    pub op: String,
    /// The record's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `append`: the whole record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<Record>,
    /// `update` / `deferred`: fields set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set: Option<Record>,
    /// `update`: values of the `set`/`unset` fields before (absent key: the field was absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Record>,
    /// `update`: fields removed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unset: Vec<String>,
    /// `deferred`: a verdict applied with the outcome precedence rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Value>,
    /// `deferred`: the hook's evidence settle (see [`crate::hook::apply_settle`]),
    /// applied after `set` and `verdict`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settle: Option<Value>,
    /// When the entry was first seen unappliable (ms), for [`KEEP_UNAPPLIABLE`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stuck_ms: Option<u64>,
}

impl Entry {
    /// A new entry of kind `op` (sequence number assigned by [`Journal::push`]).
    pub fn new(op: &str, id: Option<&str>) -> Entry {
        Entry {
            seq: 0,
            at_ms: now_ms(),
            op: op.to_string(),
            id: id.map(str::to_string),
            record: None,
            set: None,
            before: None,
            unset: Vec::new(),
            verdict: None,
            settle: None,
            stuck_ms: None,
        }
    }

    /// Milliseconds since the entry was written.
    pub fn age(&self) -> Duration {
        Duration::from_millis(now_ms().saturating_sub(self.at_ms))
    }
}

/// Real time in milliseconds since the epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The journal file. Writes happen under the ledger's lock.
#[derive(Debug, Clone)]
pub struct Journal {
    path: PathBuf,
    root: PathBuf,
}

impl Journal {
    /// The journal at `path`; its folder must be a real folder under `root`.
    pub fn at(path: PathBuf, root: PathBuf) -> Journal {
        Journal { path, root }
    }

    /// The journal file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every entry, in order (a `base` line included). A line that does not
    /// parse (a write cut by a crash or a full disk) is skipped.
    pub fn read(&self) -> Result<Vec<Entry>> {
        let bytes = match safe_fs::open(&self.path, safe_fs::Mode::Read) {
            Ok(mut f) => {
                let mut b = Vec::new();
                std::io::Read::read_to_end(&mut f, &mut b)
                    .map_err(|e| Error::io("cannot read", &self.path, e))?;
                b
            }
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Vec::new())
            }
            Err(e) => return Err(e),
        };
        Ok(bytes
            .split(|b| *b == b'\n')
            .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
            .filter_map(|l| serde_json::from_slice::<Entry>(l).ok())
            .collect())
    }

    /// The entries still to be reflected or confirmed (no `base` lines).
    pub fn pending(&self) -> Result<Vec<Entry>> {
        Ok(self
            .read()?
            .into_iter()
            .filter(|e| e.op != "base")
            .collect())
    }

    /// The journal's own lock (`journal.lock` beside it): held only for an
    /// append or a rewrite, never while the ledger is written, so the hook's
    /// append does not wait for a long reconcile of a large ledger.
    fn lock(&self) -> Result<std::fs::File> {
        safe_fs::ensure_parent(&self.root, &self.path)?;
        crate::lockfile::acquire(
            &self.path.with_file_name("journal.lock"),
            crate::lockfile::default_timeout(),
        )
    }

    /// Appends `entries` (numbering them after the last one) and syncs the
    /// file: when this returns they survive a crash. Returns them numbered.
    pub fn push(&self, mut entries: Vec<Entry>) -> Result<Vec<Entry>> {
        let _lock = self.lock()?;
        let existing = self.read()?;
        let mut seq = existing.iter().map(|e| e.seq).max().unwrap_or(0);
        let mut text = Vec::new();
        for e in &mut entries {
            seq += 1;
            e.seq = seq;
            text.extend_from_slice(&serde_json::to_vec(e).expect("entries serialize"));
            text.push(b'\n');
        }
        let mut f = safe_fs::open(&self.path, safe_fs::Mode::Append)?;
        // A line cut by a crash or a full disk must not swallow this one.
        let len = f
            .metadata()
            .map_err(|e| Error::io("cannot stat", &self.path, e))?
            .len();
        if len > 0 && !ends_with_newline(&self.path, len) {
            text.insert(0, b'\n');
        }
        if crate::store::failpoint("journal-enospc") {
            let _ = f.write_all(&text[..text.len() / 2]);
            return Err(Error::io(
                "cannot append to",
                &self.path,
                std::io::Error::from_raw_os_error(libc::ENOSPC),
            ));
        }
        f.write_all(&text)
            .and_then(|_| f.sync_data())
            .map_err(|e| Error::io("cannot append to", &self.path, e))?;
        Ok(entries)
    }

    /// Replaces the entries numbered up to `upto` by `entries` (compaction),
    /// behind a `base` line carrying the last sequence number, atomically;
    /// entries appended after `upto` meanwhile are kept as they are.
    pub fn rewrite(&self, entries: &[Entry], upto: u64) -> Result<()> {
        let _lock = self.lock()?;
        let now = self.read()?;
        let last = now
            .iter()
            .map(|e| e.seq)
            .chain(entries.iter().map(|e| e.seq))
            .max()
            .unwrap_or(0);
        let newer: Vec<Entry> = now
            .into_iter()
            .filter(|e| e.seq > upto && e.op != "base")
            .collect();
        let entries: Vec<&Entry> = entries.iter().chain(newer.iter()).collect();
        let mut base = Entry::new("base", None);
        base.seq = last;
        let mut text = serde_json::to_vec(&base).expect("serializes");
        text.push(b'\n');
        for e in &entries {
            text.extend_from_slice(&serde_json::to_vec(e).expect("serializes"));
            text.push(b'\n');
        }
        crate::store::write_atomic(&self.path, &text)
    }
}

fn ends_with_newline(path: &Path, len: u64) -> bool {
    use std::os::unix::fs::FileExt;
    let Ok(f) = safe_fs::open(path, safe_fs::Mode::Read) else {
        return true;
    };
    let mut b = [0u8; 1];
    f.read_exact_at(&mut b, len - 1).is_ok() && b[0] == b'\n'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_survive_compaction_and_torn_lines_are_skipped() {
        let d = tempfile::tempdir().unwrap();
        let j = Journal::at(d.path().join("s/journal.jsonl"), d.path().to_path_buf());
        let a = j
            .push(vec![
                Entry::new("append", Some("a")),
                Entry::new("append", Some("b")),
            ])
            .unwrap();
        assert_eq!((a[0].seq, a[1].seq), (1, 2));
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(j.path())
            .unwrap();
        f.write_all(b"{\"seq\": 9, \"at").unwrap();
        let c = j.push(vec![Entry::new("update", Some("a"))]).unwrap();
        assert_eq!(c[0].seq, 3);
        assert_eq!(j.pending().unwrap().len(), 3);
        j.rewrite(&[], 3).unwrap();
        assert!(j.pending().unwrap().is_empty());
        assert_eq!(j.push(vec![Entry::new("append", None)]).unwrap()[0].seq, 4);
    }
}
