//! The dispatch ledger, `logs/dispatches.json`: read, append and update it
//! without losing a byte that another program wrote, and without losing a
//! write of modelfit's own beside writers that take no lock.
//!
//! The file is one JSON array in the orchestrator's formatting
//! (`JSON.stringify(records, null, 2)`, no trailing newline). modelfit keeps it
//! that way, and keeps whatever follows the closing `]`.
//!
//! * **Every write modelfit acknowledges goes first into its journal**
//!   (`logs/modelfit/journal.jsonl`, [`journal`]), then into the ledger.
//!   `modelfit ledger reconcile` re-applies what another program's stale
//!   rewrite undid ([`reflect`]).
//! * **Reading** waits until the ledger settles (it parses, is not empty
//!   where it held records, holds at least the records last seen) and shows
//!   the effective records: the ledger's, with journaled writes applied.
//! * **Writing** replaces the whole file by rename, from a state validated a
//!   moment before, checking the file's identity right before and after
//!   ([`write`]): the orchestrator reads it without a lock, so it must never
//!   see it half-written (an in-place append would show it a torn array,
//!   which its loader turns into `[]`).
//! * **The hook** journals (O(1) in the ledger's size) and lets the ledger be
//!   written in batches: at once when it is small, by a detached
//!   `modelfit ledger reconcile` when it is large.
//!
//! Every write happens under an exclusive lock on the sidecar
//! `logs/dispatches.json.lock`, which also remembers the ledger's identity and
//! record count as modelfit last left it. A ledger that does not parse is
//! never written.

pub mod journal;
pub mod reflect;
pub mod surrogates;
pub mod write;

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::record::Record;

pub mod scan;

pub use journal::{Entry, Journal};
use reflect::Fate;
pub use write::{Settled, Snap};

/// The dispatch ledger at one path, with modelfit's journal beside it.
#[derive(Debug, Clone)]
pub struct Ledger {
    path: PathBuf,
    lock_path: PathBuf,
    journal: Journal,
    home: Option<PathBuf>,
    lock_timeout: Duration,
    settle_budget: Duration,
}

/// Counts from a full pass over the ledger.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Census {
    /// Records in the array.
    pub records: u64,
    /// Records with a string `id`.
    pub with_id: u64,
    /// Records with an `outcome`.
    pub with_outcome: u64,
}

/// What a write did: `kept` says why the write is, for now, only in the
/// journal (acknowledged, and in every read through [`Ledger::for_each`];
/// the next reconcile puts it in the ledger).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Written {
    /// Why the ledger itself was not written yet, if it was not.
    pub kept: Option<String>,
}

/// What a reconcile found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// Journaled writes the ledger lacked, applied again now.
    pub applied: usize,
    /// Journaled writes the ledger holds.
    pub present: usize,
    /// Journaled field updates someone changed deliberately since (left alone).
    pub superseded: usize,
    /// Journaled updates whose record is no longer in the ledger.
    pub orphans: usize,
    /// Entries dropped from the journal (confirmed present long enough).
    pub compacted: usize,
    /// Entries still in the journal afterwards.
    pub pending: usize,
    /// Why the ledger could not be written now, if it could not.
    pub busy: Option<String>,
    /// Times another program wrote into the ledger modelfit was replacing,
    /// whose bytes were merged instead of lost.
    pub merged_orphans: usize,
}

/// An edit of one record decided only when the ledger is next written (the
/// hook's linked Stop): fields set as given, then a verdict applied with the
/// outcome precedence rules against the record as it is then.
#[derive(Debug, Clone, Default)]
pub struct DeferredEdit {
    /// Fields set first, whatever the record holds.
    pub set: Record,
    /// A verdict and the time it was given (ISO).
    pub verdict: Option<(crate::outcome::Verdict, String)>,
    /// The hook's evidence settle, as data (see [`crate::hook::apply_settle`]).
    pub settle: Option<Value>,
}

/// Ledgers up to this size are written at once after a deferred write (a
/// few milliseconds); larger ones by a detached `modelfit ledger reconcile`.
pub const INLINE_FLUSH_MAX: u64 = 1 << 20;

/// Above this size a ledger without pending journal entries is streamed
/// (constant memory) rather than read whole.
const STREAM_OVER: u64 = 512 << 20;

impl Ledger {
    /// The ledger of an orchestrator home.
    pub fn of(home: &crate::home::Home) -> Ledger {
        let mut l = Ledger::at(home.ledger(), home.torn_dir());
        l.journal = Journal::at(home.journal(), home.logs_dir());
        l.home = Some(home.root().to_path_buf());
        l
    }

    /// A ledger at `path`; its journal lives beside `torn_dir` (modelfit's
    /// state folder): `<torn_dir>/../journal.jsonl`.
    pub fn at(path: impl Into<PathBuf>, torn_dir: impl Into<PathBuf>) -> Ledger {
        let path = path.into();
        let torn_dir = torn_dir.into();
        let mut lock = path.clone().into_os_string();
        lock.push(".lock");
        let state = torn_dir.parent().map(Path::to_path_buf).unwrap_or_default();
        let root = state.parent().map(Path::to_path_buf).unwrap_or_default();
        Ledger {
            path,
            lock_path: PathBuf::from(lock),
            journal: Journal::at(state.join("journal.jsonl"), root),
            home: None,
            lock_timeout: crate::lockfile::default_timeout(),
            settle_budget: Duration::from_secs(3),
        }
    }

    /// Sets how long writes wait for the lock before failing.
    pub fn with_lock_timeout(mut self, timeout: Duration) -> Ledger {
        self.lock_timeout = timeout;
        self
    }

    /// Sets how long a read waits for a ledger another program is rewriting
    /// to settle (parse, and hold at least the records last seen).
    pub fn with_settle_budget(mut self, budget: Duration) -> Ledger {
        self.settle_budget = budget;
        self
    }

    /// The ledger file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The sidecar lock file.
    pub fn lock_path(&self) -> &Path {
        &self.lock_path
    }

    /// modelfit's journal of acknowledged writes.
    pub fn journal_path(&self) -> &Path {
        self.journal.path()
    }

    /// The journal's entries not yet compacted away.
    pub fn pending(&self) -> Result<Vec<Entry>> {
        self.journal.pending()
    }

    /// Streams every effective record through `f` (the ledger's records with
    /// modelfit's journaled writes applied, then journaled records the ledger
    /// lacks), deserialized as `T` (a typed view such as
    /// [`crate::record::RecordView`], or [`Record`] for the whole map). A
    /// missing or empty file has no records. A ledger another program is
    /// rewriting is read again until it settles. `f` may stop early by
    /// returning `false`.
    pub fn for_each<T, F>(&self, mut f: F) -> Result<()>
    where
        T: DeserializeOwned,
        F: FnMut(T) -> bool,
    {
        let entries = self.journal.pending()?;
        let target = write::target(&self.path)?;
        let size = std::fs::metadata(&target).map_or(0, |m| m.len());
        if size > STREAM_OVER && entries.is_empty() {
            let file = crate::safe_fs::open(&target, crate::safe_fs::Mode::Read)?;
            return stream_array(&target, file, f);
        }
        let seen = read_seen(&self.lock_path);
        let snap = match write::settle(&target, None, seen.records, self.settle_budget)? {
            Settled::Ready(s) => s,
            Settled::Busy(why) => return Err(Error::Invalid(format!("{why}; try again"))),
        };
        visit(&target, &snap, &entries, &mut f)
    }

    /// Finds the record with `id` (matching `id`, or the `dispatch_id` the
    /// orchestrator's own lookup also accepts), journaled writes included.
    pub fn find(&self, id: &str) -> Result<Option<Record>> {
        let mut found = None;
        self.for_each(|r: Record| {
            if record_has_id(&r, id) {
                found = Some(r);
                false
            } else {
                true
            }
        })?;
        Ok(found)
    }

    /// Checks that the whole ledger parses as an array (the same definition
    /// every command uses) and counts its effective records.
    pub fn check(&self) -> Result<Census> {
        let _lock = self.lock()?;
        let mut census = Census::default();
        self.for_each(|r: crate::record::RecordView| {
            census.records += 1;
            census.with_id += r.id.is_some() as u64;
            census.with_outcome += r.outcome.is_some() as u64;
            true
        })?;
        Ok(census)
    }

    /// Records whose text JavaScript reads but serde_json does not as
    /// written (lone surrogate escapes, read with U+FFFD), by id or position.
    pub fn warnings(&self) -> Result<Vec<String>> {
        let target = write::target(&self.path)?;
        let seen = read_seen(&self.lock_path);
        let snap = match write::settle(&target, None, seen.records, self.settle_budget)? {
            Settled::Ready(s) => s,
            Settled::Busy(_) => return Ok(Vec::new()),
        };
        let mut out = Vec::new();
        for (i, &(s, e)) in snap.spans.iter().enumerate() {
            let raw = &snap.bytes[s..e];
            if surrogates::has_lone(raw) {
                let id = parse_record(raw)
                    .and_then(|r| r.get("id").and_then(Value::as_str).map(str::to_string))
                    .unwrap_or_else(|| format!("#{}", i + 1));
                out.push(format!(
                    "record {id} holds a lone UTF-16 surrogate escape (e.g. \\ud83d); it is read \
                     with U+FFFD in its place and kept byte for byte unless edited"
                ));
            }
        }
        Ok(out)
    }

    /// Appends one record at the end of the array. It is in the journal
    /// (synced) when this returns, and in the ledger unless [`Written::kept`]
    /// says why not yet. A ledger that does not parse (and is not being
    /// rewritten) is refused, nothing written.
    pub fn append(&self, record: &Record) -> Result<Written> {
        let mut lock = self.lock()?;
        let first = match self.settle_locked(&lock)? {
            Settled::Ready(s) => Some(s),
            Settled::Busy(_) => None,
        };
        let mut e = Entry::new("append", record.get("id").and_then(Value::as_str));
        e.record = Some(record.clone());
        let pushed = self.journal.push(vec![e])?;
        let (rep, _) = self
            .flush_locked(&mut lock, first)
            .inspect_err(|_| self.retract(&pushed))?;
        Ok(Written { kept: rep.busy })
    }

    /// [`Ledger::append`] for the hook: the record goes to the journal at
    /// once (O(1) in the ledger's size); a small ledger is written right
    /// after, a large one by a detached `modelfit ledger reconcile`.
    pub fn append_deferred(&self, record: &Record) -> Result<Written> {
        let mut e = Entry::new("append", record.get("id").and_then(Value::as_str));
        e.record = Some(record.clone());
        self.push_deferred(e)
    }

    /// Changes the record `id` later, the same way as [`Ledger::append_deferred`]:
    /// `edit` is journaled now and applied to the record as it is when the
    /// ledger is next written. [`Ledger::for_each`] and [`Ledger::find`]
    /// show it at once. An id no record has stays in the journal, reported
    /// by `modelfit ledger reconcile` and `doctor`.
    pub fn update_deferred(&self, id: &str, edit: DeferredEdit) -> Result<Written> {
        let mut e = Entry::new("deferred", Some(id));
        e.set = Some(edit.set);
        e.verdict = edit
            .verdict
            .as_ref()
            .map(|(v, now)| reflect::verdict_value(v, now));
        e.settle = edit.settle;
        self.push_deferred(e)
    }

    fn push_deferred(&self, e: Entry) -> Result<Written> {
        // The journal's own lock only: a reconcile rewriting a large ledger
        // under the ledger's lock does not hold this up.
        self.journal.push(vec![e])?;
        let size = write::target(&self.path)
            .ok()
            .and_then(|t| std::fs::metadata(t).ok())
            .map_or(0, |m| m.len());
        if size <= INLINE_FLUSH_MAX {
            let mut lock = self.lock()?;
            let budget = self.settle_budget.min(Duration::from_millis(300));
            let (rep, _) = self.flush_with(&mut lock, None, budget)?;
            if rep.busy.is_none() {
                return Ok(Written { kept: None });
            }
            drop(lock);
            self.spawn_reconcile();
            return Ok(Written { kept: rep.busy });
        }
        // A large ledger is written by a detached `modelfit ledger reconcile`:
        // the normal path, not a problem to report.
        self.spawn_reconcile();
        Ok(Written { kept: None })
    }

    /// Starts `modelfit ledger reconcile` detached, unless one is running.
    fn spawn_reconcile(&self) {
        use std::os::unix::process::CommandExt;
        let Some(home) = &self.home else { return };
        let Ok(exe) = std::env::current_exe() else {
            return;
        };
        // Only the modelfit binary itself (never a test harness) is re-run.
        if exe.file_name().is_none_or(|n| n != "modelfit") {
            return;
        }
        let busy = self.journal.path().with_file_name("reconcile.lock");
        if crate::lockfile::is_held(&busy) {
            return;
        }
        let mut cmd = std::process::Command::new(exe);
        cmd.arg("--home")
            .arg(home)
            .args(["ledger", "reconcile", "--quiet"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        // SAFETY: setsid is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
        let _ = cmd.spawn();
    }

    /// Re-applies every journaled write the ledger lacks, compacts the
    /// journal, and says what it did.
    pub fn reconcile(&self) -> Result<Reconciled> {
        // Nothing journaled: nothing to reflect, so the ledger is not read
        // (learn and doctor reconcile first; a large ledger costs its size).
        if self.journal.pending()?.is_empty() {
            return Ok(Reconciled::default());
        }
        let busy = self.journal.path().with_file_name("reconcile.lock");
        let _running = crate::lockfile::acquire(&busy, self.lock_timeout).ok();
        let mut lock = self.lock()?;
        let (mut rep, _) = self.flush_locked(&mut lock, None)?;
        // Hook writes that arrived during a long rewrite: go again (bounded).
        for _ in 0..3 {
            let newest = self.journal.pending()?.iter().map(|e| e.seq).max();
            if rep.busy.is_some() || newest <= Some(lock.seen.flushed_seq) {
                break;
            }
            rep = self.flush_locked(&mut lock, None)?.0;
        }
        Ok(rep)
    }

    /// Changes the record with `id` through `edit`. Every other byte of the
    /// file stays as it was; the edited record keeps its fields in order and
    /// gains new ones at its end. The change goes to the journal, then into
    /// the ledger (temporary file, fsync, guarded rename).
    ///
    /// `edit` may decline by returning `Ok(None)`, in which case nothing is
    /// written. Returns what `edit` returned, or [`Error::NotFound`] when no
    /// record has the id.
    pub fn update<R>(
        &self,
        id: &str,
        mut edit: impl FnMut(&mut Record) -> Result<Option<R>>,
    ) -> Result<Option<R>> {
        let mut matched = false;
        let mut result = None;
        let needle = raw_needle(id);
        self.update_where_prefiltered(
            |raw| needle.as_deref().is_none_or(|n| contains(raw, n)),
            |r| {
                let hit = record_has_id(r, id);
                matched |= hit;
                hit
            },
            |r| {
                result = edit(r)?;
                Ok(result.is_some())
            },
            true,
        )?;
        if !matched {
            return Err(Error::NotFound {
                id: id.to_string(),
                path: self.path.clone(),
            });
        }
        Ok(result)
    }

    /// Edits every record for which `select` is true (the first only, if
    /// `first_only`), in one write. `edit` returns whether it changed the
    /// record; nothing is written if no record changed. Returns the number of
    /// records changed. Records without an `id` cannot be journaled and are
    /// never selected.
    pub fn update_where(
        &self,
        select: impl FnMut(&Record) -> bool,
        edit: impl FnMut(&mut Record) -> Result<bool>,
        first_only: bool,
    ) -> Result<usize> {
        self.update_where_prefiltered(|_| true, select, edit, first_only)
    }

    /// [`Ledger::update_where`], parsing only the records whose raw JSON
    /// text passes `prefilter` (e.g. "contains this id"): on a large ledger
    /// most of the cost is building maps of records that are not selected.
    /// `prefilter` must be true for every record `select` could accept.
    pub fn update_where_prefiltered(
        &self,
        mut prefilter: impl FnMut(&[u8]) -> bool,
        mut select: impl FnMut(&Record) -> bool,
        mut edit: impl FnMut(&mut Record) -> Result<bool>,
        first_only: bool,
    ) -> Result<usize> {
        let mut lock = self.lock()?;
        // Pending journal entries first, so edits see the effective records.
        let (rep, snap) = self.flush_locked(&mut lock, None)?;
        let snap = match snap {
            Some(s) => s,
            None => {
                return Err(Error::Invalid(format!(
                    "{}; nothing was written, try again in a moment",
                    rep.busy.unwrap_or_else(|| "the ledger is busy".into())
                )))
            }
        };
        let mut entries = Vec::new();
        let mut changed = 0;
        for &(s, e) in &snap.spans {
            let raw = &snap.bytes[s..e];
            if !prefilter(raw) {
                continue;
            }
            let Some(mut record) = parse_record(raw) else {
                continue; // not an object: never selected
            };
            if !select(&record) {
                continue;
            }
            let Some(id) = record.get("id").and_then(Value::as_str).map(str::to_string) else {
                continue;
            };
            let before = record.clone();
            if edit(&mut record)? {
                changed += 1;
                let like = Entry::new("update", Some(&id));
                let entry = reflect::diff_entry(&like, &before, &record);
                if entry.set.as_ref().is_some_and(|s| !s.is_empty()) || !entry.unset.is_empty() {
                    entries.push(entry);
                }
            }
            if first_only {
                break;
            }
        }
        if entries.is_empty() {
            return Ok(changed);
        }
        let pushed = self.journal.push(entries)?;
        let (rep, _) = self
            .flush_locked(&mut lock, Some(snap))
            .inspect_err(|_| self.retract(&pushed))?;
        if let Some(why) = rep.busy {
            // Acknowledged: in the journal, and in every read through for_each.
            let _ = why;
        }
        Ok(changed)
    }

    /// Removes the records for which `select` is true and returns their
    /// exact bytes, in order, after `keep` has stored them elsewhere (so a
    /// crash between the two leaves records in both places, never in none).
    pub fn remove_where(
        &self,
        mut select: impl FnMut(&Record) -> bool,
        keep: impl FnOnce(&[&[u8]]) -> Result<()>,
    ) -> Result<usize> {
        let mut lock = self.lock()?;
        let (rep, snap) = self.flush_locked(&mut lock, None)?;
        let Some(snap) = snap else {
            return Err(Error::Invalid(rep.busy.unwrap_or_default()));
        };
        let mut removed: Vec<&[u8]> = Vec::new();
        let mut kept: Vec<&[u8]> = Vec::new();
        let mut gone_ids: Vec<String> = Vec::new();
        for &(s, e) in &snap.spans {
            let raw = &snap.bytes[s..e];
            let rec = parse_record(raw);
            if rec.as_ref().is_some_and(&mut select) {
                if let Some(id) = rec
                    .as_ref()
                    .and_then(|r| r.get("id"))
                    .and_then(Value::as_str)
                {
                    gone_ids.push(id.to_string());
                }
                removed.push(raw);
            } else {
                kept.push(raw);
            }
        }
        if removed.is_empty() {
            return Ok(0);
        }
        keep(&removed)?;
        let target = write::target(&self.path)?;
        let out = join_array(&kept);
        match write::replace_guarded(&target, snap.state, snap.mode, &out)? {
            write::Replaced::Changed => {
                return Err(Error::Invalid(format!(
                    "{} changed while modelfit was moving records out of it; nothing was \
                     removed (the archive holds copies, a rerun skips them): run it again",
                    self.path.display()
                )))
            }
            write::Replaced::Done(st) | write::Replaced::Orphaned(_, st) => {
                lock.remember(Seen {
                    file: Some(st),
                    records: kept.len() as u64,
                    flushed_seq: lock.seen.flushed_seq,
                })?;
            }
        }
        // Journaled writes of moved records must not bring them back.
        let all = self.journal.pending()?;
        let upto = all.iter().map(|e| e.seq).max().unwrap_or(0);
        let left: Vec<Entry> = all
            .into_iter()
            .filter(|e| e.id.as_ref().is_none_or(|id| !gone_ids.contains(id)))
            .collect();
        self.journal.rewrite(&left, upto)?;
        Ok(removed.len())
    }

    /// Takes back journal entries whose write failed with an error (a full
    /// disk, a read-only ledger): the caller reports the failure, so the
    /// write must not happen later behind their back.
    fn retract(&self, pushed: &[Entry]) {
        if let Ok(all) = self.journal.pending() {
            let left: Vec<Entry> = all
                .into_iter()
                .filter(|e| !pushed.iter().any(|p| p.seq == e.seq))
                .collect();
            let upto = pushed.iter().map(|e| e.seq).max().unwrap_or(0);
            let _ = self.journal.rewrite(&left, upto);
        }
    }

    fn settle_locked(&self, lock: &LedgerLock) -> Result<Settled> {
        let target = write::target(&self.path)?;
        write::settle(&target, None, lock.seen.records, self.settle_budget)
    }

    fn flush_locked(
        &self,
        lock: &mut LedgerLock,
        first: Option<Snap>,
    ) -> Result<(Reconciled, Option<Snap>)> {
        self.flush_with(lock, first, self.settle_budget)
    }

    /// Reflects the journal in the ledger: reads it settled, applies what it
    /// lacks, replaces it guarded; compacts the journal. Returns the report
    /// and the ledger's state afterwards (`None` when it would not settle).
    fn flush_with(
        &self,
        lock: &mut LedgerLock,
        mut first: Option<Snap>,
        budget: Duration,
    ) -> Result<(Reconciled, Option<Snap>)> {
        let target = write::target(&self.path)?;
        let entries = self.journal.pending()?;
        let mut rep = Reconciled::default();
        let mut orphan_fd: Option<std::fs::File> = None;
        let mut expect: Option<Option<FileState>> = None;
        for _attempt in 0..12 {
            let snap = match first.take() {
                Some(s) => s,
                None => {
                    match write::settle(&target, orphan_fd.as_ref(), lock.seen.records, budget)? {
                        Settled::Ready(s) => s,
                        Settled::Busy(why) => {
                            rep.busy = Some(why);
                            rep.pending = entries.len();
                            return Ok((rep, None));
                        }
                    }
                }
            };
            // Nobody wrote the ledger since modelfit last did: what was
            // reflected then is still there; only newer entries need work.
            let skip_upto = if orphan_fd.is_none() && snap.state == lock.seen.file {
                lock.seen.flushed_seq
            } else {
                0
            };
            let fresh: Vec<Entry> = entries
                .iter()
                .filter(|e| e.seq > skip_upto)
                .cloned()
                .collect();
            let mut refl = reflect::reflect(&snap.bytes, &snap.spans, &fresh);
            refl.fates.extend(
                entries
                    .iter()
                    .filter(|e| e.seq <= skip_upto && e.op != "deferred")
                    .map(|e| (e.seq, Fate::Present)),
            );
            let Some(out) = refl.out.as_ref() else {
                if orphan_fd.is_none() {
                    lock.remember(Seen {
                        file: snap.state,
                        records: snap.spans.len() as u64,
                        flushed_seq: entries.iter().map(|e| e.seq).max().unwrap_or(0),
                    })?;
                    self.compact(&entries, &refl, &mut rep)?;
                    return Ok((rep, Some(snap)));
                }
                // The orphaned bytes already hold everything: put them back.
                let out = snap.bytes.clone();
                let state = expect.flatten();
                match write::replace_guarded(&target, state, snap.mode, &out)? {
                    write::Replaced::Done(_) | write::Replaced::Orphaned(..) => {}
                    write::Replaced::Changed => {}
                }
                orphan_fd = None;
                expect = None;
                continue;
            };
            let want = match expect.take() {
                Some(e) => e,
                None => snap.state,
            };
            match write::replace_guarded(&target, want, snap.mode, out)? {
                write::Replaced::Changed => {
                    orphan_fd = None;
                    continue;
                }
                write::Replaced::Orphaned(fd, st) => {
                    rep.merged_orphans += 1;
                    orphan_fd = Some(fd);
                    expect = Some(Some(st));
                    continue;
                }
                write::Replaced::Done(st) => {
                    let bytes = refl.out.clone().unwrap_or_default();
                    let spans = element_spans(&target, &bytes)?;
                    lock.remember(Seen {
                        file: Some(st),
                        records: spans.len() as u64,
                        flushed_seq: entries.iter().map(|e| e.seq).max().unwrap_or(0),
                    })?;
                    self.compact(&entries, &refl, &mut rep)?;
                    return Ok((
                        rep,
                        Some(Snap {
                            bytes,
                            spans,
                            state: Some(st),
                            mode: snap.mode,
                        }),
                    ));
                }
            }
        }
        rep.busy = Some(format!(
            "{} kept changing while modelfit tried to write it (another program is rewriting it)",
            self.path.display()
        ));
        rep.pending = entries.len();
        Ok((rep, None))
    }

    /// Counts the fates and drops what no longer needs keeping.
    fn compact(
        &self,
        entries: &[Entry],
        refl: &reflect::Reflection,
        rep: &mut Reconciled,
    ) -> Result<()> {
        let mut keep = Vec::with_capacity(entries.len());
        let mut dirty = false;
        for e in entries {
            let fate = refl
                .fates
                .iter()
                .find(|(s, _)| *s == e.seq)
                .map(|(_, f)| *f);
            let mut e = refl
                .resolved
                .iter()
                .find(|r| r.seq == e.seq)
                .cloned()
                .inspect(|_| dirty = true)
                .unwrap_or_else(|| e.clone());
            let drop_it = match fate {
                Some(Fate::Present) => {
                    rep.present += 1;
                    e.age() >= journal::GRACE
                }
                Some(Fate::Applied) => {
                    rep.applied += 1;
                    false
                }
                Some(Fate::Superseded) => {
                    rep.superseded += 1;
                    e.age() >= journal::GRACE
                }
                Some(Fate::Orphan) => {
                    rep.orphans += 1;
                    let since = *e.stuck_ms.get_or_insert_with(|| {
                        dirty = true;
                        journal::now_ms()
                    });
                    journal::now_ms().saturating_sub(since)
                        >= journal::KEEP_UNAPPLIABLE.as_millis() as u64
                }
                None => false,
            };
            if drop_it {
                rep.compacted += 1;
                dirty = true;
            } else {
                keep.push(e);
            }
        }
        rep.pending = keep.len();
        if dirty {
            let upto = entries.iter().map(|e| e.seq).max().unwrap_or(0);
            self.journal.rewrite(&keep, upto)?;
        }
        Ok(())
    }

    fn lock(&self) -> Result<LedgerLock> {
        LedgerLock::acquire(self)
    }
}

/// Opens the ledger at `path` (or a symlinked ledger's target) for reading:
/// regular files only, never blocking on a FIFO. `None` when it does not exist.
pub fn open_read(path: &Path) -> Result<Option<File>> {
    use std::os::unix::fs::OpenOptionsExt;
    let target = write::target(path)?;
    let f = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(&target)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("cannot read", &target, e)),
    };
    let m = f
        .metadata()
        .map_err(|e| Error::io("cannot stat", &target, e))?;
    if !m.is_file() {
        return Err(Error::Unsafe {
            path: target,
            why: format!(
                "it is {}; the ledger must be a regular file",
                crate::safe_fs::kind(&m)
            ),
        });
    }
    Ok(Some(f))
}

/// One sentence on what a reconcile found and did.
pub fn describe_reconcile(r: &Reconciled) -> String {
    let mut s = format!(
        "journal: {} write(s) already in the ledger, {} re-applied (another program had overwritten them)",
        r.present, r.applied
    );
    if r.superseded > 0 {
        s.push_str(&format!(
            ", {} left alone (changed deliberately by someone else since)",
            r.superseded
        ));
    }
    if r.orphans > 0 {
        s.push_str(&format!(
            ", {} whose record is no longer in the ledger",
            r.orphans
        ));
    }
    if r.merged_orphans > 0 {
        s.push_str(&format!(
            ", {} concurrent write(s) of another program merged",
            r.merged_orphans
        ));
    }
    s.push_str(&format!(
        "; {} compacted, {} kept in the journal",
        r.compacted, r.pending
    ));
    if let Some(b) = &r.busy {
        s.push_str(&format!(
            "; the ledger was not written: {b} (the writes are safe in the journal)"
        ));
    }
    s
}

/// Temporary ledger copies left by killed modelfit writes.
pub fn stale_temps(ledger: &Ledger) -> Vec<PathBuf> {
    let Ok(target) = write::target(ledger.path()) else {
        return Vec::new();
    };
    let dir = target.parent().unwrap_or(Path::new("."));
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    write::stale_temps(dir, &name)
}

/// Visits the effective records of a settled state.
fn visit<T, F>(path: &Path, snap: &Snap, entries: &[Entry], f: &mut F) -> Result<()>
where
    T: DeserializeOwned,
    F: FnMut(T) -> bool,
{
    let edits: Vec<&Entry> = entries
        .iter()
        .filter(|e| matches!(e.op.as_str(), "update" | "deferred"))
        .collect();
    let ids: std::collections::HashSet<&str> =
        entries.iter().filter_map(|e| e.id.as_deref()).collect();
    let needles: Option<Vec<Vec<u8>>> = if ids.len() <= 8 {
        ids.iter().map(|i| raw_needle(i)).collect()
    } else {
        None
    };
    let mut seen_ids: std::collections::HashSet<String> = std::collections::HashSet::new();
    let idless: Vec<&Record> = entries
        .iter()
        .filter(|e| e.op == "append" && e.id.is_none())
        .filter_map(|e| e.record.as_ref())
        .collect();
    let mut idless_seen = vec![false; idless.len()];
    let to_t = |v: Value| -> Result<T> {
        serde_json::from_value(v).map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))
    };
    for &(s, e) in &snap.spans {
        let raw = &snap.bytes[s..e];
        let touched = !ids.is_empty()
            && match &needles {
                Some(ns) => ns.iter().any(|n| contains(raw, n)),
                None => {
                    let (a, b) = reflect::ids_of(raw);
                    [a, b].iter().flatten().any(|i| ids.contains(i.as_str()))
                }
            };
        let item: T = if touched || !idless.is_empty() {
            let mut rec = match parse_record(raw) {
                Some(r) => r,
                None => {
                    if !f(parse_element(path, raw)?) {
                        return Ok(());
                    }
                    continue;
                }
            };
            for (i, r) in idless.iter().enumerate() {
                idless_seen[i] |= **r == rec;
            }
            let mine: Vec<&Entry> = edits
                .iter()
                .filter(|e| e.id.as_deref().is_some_and(|id| record_has_id(&rec, id)))
                .copied()
                .collect();
            for k in ["id", "dispatch_id"] {
                if let Some(id) = rec.get(k).and_then(Value::as_str) {
                    seen_ids.insert(id.to_string());
                }
            }
            if mine.is_empty() {
                parse_element(path, raw)?
            } else {
                reflect::effective(&mut rec, &mine);
                to_t(Value::Object(rec))?
            }
        } else {
            parse_element(path, raw)?
        };
        if !f(item) {
            return Ok(());
        }
    }
    // Journaled records the ledger lacks, with their later edits.
    let mut idless_i = 0;
    for e in entries.iter().filter(|e| e.op == "append") {
        let Some(rec) = &e.record else { continue };
        match &e.id {
            Some(id) if seen_ids.contains(id) => continue,
            Some(id) => {
                seen_ids.insert(id.clone());
            }
            None => {
                let dup = idless_seen.get(idless_i).copied().unwrap_or(false);
                idless_i += 1;
                if dup {
                    continue;
                }
            }
        }
        let mut rec = rec.clone();
        let mine: Vec<&Entry> = edits
            .iter()
            .filter(|x| x.seq > e.seq && x.id.is_some() && x.id == e.id)
            .copied()
            .collect();
        reflect::effective(&mut rec, &mine);
        if !f(to_t(Value::Object(rec))?) {
            return Ok(());
        }
    }
    Ok(())
}

/// One element as `T`, with a lone surrogate escape (which JavaScript reads
/// as a replacement character) read the same way.
fn parse_element<T: DeserializeOwned>(path: &Path, raw: &[u8]) -> Result<T> {
    let e = match serde_json::from_slice(raw) {
        Ok(v) => return Ok(v),
        Err(e) => e,
    };
    // JavaScript's reading: a lone surrogate is a character (U+FFFD here),
    // `1e400` is a number (Infinity; the largest double here).
    let once = surrogates::replace_lone(raw);
    let fixed = match surrogates::clamp_huge_numbers(once.as_deref().unwrap_or(raw)) {
        Some(f) => f,
        None => once.ok_or_else(|| Error::parse(path, &e))?,
    };
    serde_json::from_slice(&fixed).map_err(|e| Error::parse(path, &e))
}

/// A record read the way JavaScript reads it; `None` for a non-object.
pub fn parse_record(raw: &[u8]) -> Option<Record> {
    parse_element(Path::new(""), raw).ok()
}

/// Writes `bytes` to `path` atomically and durably: temporary file in the same
/// directory, fsync, rename, fsync of the directory; the file's mode is kept.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_pieces(path, &[bytes])
}

/// [`write_atomic`] of the concatenation of `pieces`, without building it in memory.
pub fn write_atomic_pieces(path: &Path, pieces: &[&[u8]]) -> Result<()> {
    let mut f = atomic_write_file::AtomicWriteFile::options()
        .open(path)
        .map_err(|e| Error::io("cannot create a temporary file beside", path, e))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, &mut f);
    for p in pieces {
        w.write_all(p)
            .map_err(|e| Error::io("cannot write", path, e))?;
    }
    w.flush().map_err(|e| Error::io("cannot write", path, e))?;
    drop(w);
    f.commit().map_err(|e| Error::io("cannot replace", path, e))
}

/// True when the environment asks modelfit to fail at `point`
/// (`MODELFIT_FAILPOINT=point`). Used by the crash tests to stop a process at
/// an exact instant that a random SIGKILL would only hit by luck. Only the
/// test build (cargo feature `testing`) reads it: in a released binary an
/// environment variable can never crash a write.
pub fn failpoint(point: &str) -> bool {
    cfg!(feature = "testing") && std::env::var_os("MODELFIT_FAILPOINT").is_some_and(|v| v == point)
}

/// The bytes a record holding the string `text` must contain, when every
/// writer spells it literally (ASCII with nothing JSON escapes); `None` when
/// an escaped spelling is possible and no prefilter is safe.
pub fn raw_needle(text: &str) -> Option<Vec<u8>> {
    let plain = text
        .bytes()
        .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\' && b != b'/');
    (plain && !text.is_empty()).then(|| text.as_bytes().to_vec())
}

/// Whether `hay` contains `needle`.
pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(hay, needle).is_some()
}

fn record_has_id(r: &Record, id: &str) -> bool {
    r.get("id").and_then(Value::as_str) == Some(id)
        || r.get("dispatch_id").and_then(Value::as_str) == Some(id)
}

/// Joins raw records into an array in the orchestrator's layout.
pub fn join_array(records: &[&[u8]]) -> Vec<u8> {
    if records.is_empty() {
        return b"[]".to_vec();
    }
    let mut out = Vec::with_capacity(records.iter().map(|r| r.len() + 4).sum::<usize>() + 4);
    out.extend_from_slice(b"[\n  ");
    for (i, r) in records.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b",\n  ");
        }
        out.extend_from_slice(r);
    }
    out.extend_from_slice(b"\n]");
    out
}

/// Byte spans `(start, end)` of each top-level element of the array in
/// `bytes`. Fails with the line and column if the whole text is not one array.
pub fn element_spans(path: &Path, bytes: &[u8]) -> Result<Vec<(usize, usize)>> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    let raws: Vec<&RawValue> = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) if e.is_data() => return Err(not_an_array(path, bytes)),
        Err(e) => return Err(Error::parse(path, &e)),
    };
    let base = bytes.as_ptr() as usize;
    Ok(raws
        .iter()
        .map(|r| {
            let s = r.get().as_ptr() as usize - base;
            (s, s + r.get().len())
        })
        .collect())
}

fn not_an_array(path: &Path, bytes: &[u8]) -> Error {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace()).copied();
    let what = match first {
        Some(b'{') => "an object (e.g. {\"dispatches\": [...]})",
        Some(b'"') => "a string",
        _ => "not an array",
    };
    Error::Shape {
        path: path.to_path_buf(),
        message: format!(
            "the top level is {what}; the orchestrator's ledger is a JSON array of records"
        ),
    }
}

/// Streams the elements of a top-level array read from `reader`.
///
/// A byte scanner finds where each element starts and ends (strings,
/// escapes and nesting tracked), and each element is then deserialized from
/// its own slice: several times faster than `serde_json`'s byte-at-a-time
/// reader, with memory bounded by one record plus the read buffer. Errors
/// carry the line and column in the whole file.
fn stream_array<T, F, R>(path: &Path, reader: R, mut f: F) -> Result<()>
where
    T: DeserializeOwned,
    F: FnMut(T) -> bool,
    R: Read,
{
    let mut sc = Scanner::new(path, reader);
    match sc.skip_ws()? {
        None => return Ok(()),
        Some(b'[') => sc.bump(),
        Some(b) => return Err(not_an_array(path, &[b])),
    }
    let mut first = true;
    let mut stopped = false;
    loop {
        let Some(b) = sc.skip_ws()? else {
            return Err(sc.error("EOF while parsing a list"));
        };
        if b == b']' {
            if !first {
                // `[1,]`: a comma was consumed and an element must follow.
                return Err(sc.error("trailing comma"));
            }
            sc.bump();
            break;
        }
        let (line, col) = sc.value_start();
        sc.scan_value()?;
        // Refills may have moved the element to the front of the buffer.
        let start = sc.hold.expect("held while scanning");
        let slice = &sc.buf[start..sc.pos];
        if stopped {
            serde_json::from_slice::<IgnoredAny>(slice)
                .map_err(|e| sc.slice_error(&e, line, col))?;
        } else {
            let item: T =
                serde_json::from_slice(slice).map_err(|e| sc.slice_error(&e, line, col))?;
            stopped = !f(item);
        }
        sc.element_done();
        first = false;
        match sc.skip_ws()? {
            Some(b',') => {
                sc.bump();
                match sc.skip_ws()? {
                    Some(b']') => return Err(sc.error("trailing comma")),
                    Some(_) => {}
                    None => return Err(sc.error("EOF while parsing a list")),
                }
                continue;
            }
            Some(b']') => {
                sc.bump();
                break;
            }
            Some(_) => return Err(sc.error("expected `,` or `]`")),
            None => return Err(sc.error("EOF while parsing a list")),
        }
    }
    match sc.skip_ws()? {
        None => Ok(()),
        Some(_) => Err(sc.error("trailing characters")),
    }
}

/// Read buffer and position tracking for [`stream_array`].
struct Scanner<'p, R> {
    path: &'p Path,
    reader: R,
    buf: Vec<u8>,
    pos: usize,
    eof: bool,
    /// Start of the element being scanned (kept in the buffer while refilling).
    hold: Option<usize>,
    /// 1-based line of `pos`, and the buffer index where that line starts
    /// (may be negative after compaction, hence i64).
    line: usize,
    line_start: i64,
}

impl<'p, R: Read> Scanner<'p, R> {
    fn new(path: &'p Path, reader: R) -> Self {
        Scanner {
            path,
            reader,
            buf: Vec::with_capacity(1 << 20),
            pos: 0,
            eof: false,
            hold: None,
            line: 1,
            line_start: 0,
        }
    }

    /// Makes `pos` readable; false at end of input.
    fn fill(&mut self) -> Result<bool> {
        if self.pos < self.buf.len() {
            return Ok(true);
        }
        if self.eof {
            return Ok(false);
        }
        // Drop what no one needs any more.
        let keep = self.hold.unwrap_or(self.pos);
        if keep > 0 {
            self.buf.drain(..keep);
            self.pos -= keep;
            self.line_start -= keep as i64;
            if let Some(h) = self.hold.as_mut() {
                *h = 0;
            }
        }
        let old = self.buf.len();
        self.buf.resize(old + (1 << 20), 0);
        let n = loop {
            match self.reader.read(&mut self.buf[old..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io("cannot read", self.path, e)),
            }
        };
        self.buf.truncate(old + n);
        if n == 0 {
            self.eof = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn bump(&mut self) {
        if self.buf[self.pos] == b'\n' {
            self.line += 1;
            self.line_start = self.pos as i64 + 1;
        }
        self.pos += 1;
    }

    fn skip_ws(&mut self) -> Result<Option<u8>> {
        loop {
            if !self.fill()? {
                return Ok(None);
            }
            let b = self.buf[self.pos];
            if matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
                self.bump();
            } else {
                return Ok(Some(b));
            }
        }
    }

    fn column(&self) -> usize {
        (self.pos as i64 - self.line_start) as usize + 1
    }

    fn value_start(&mut self) -> (usize, usize) {
        self.hold = Some(self.pos);
        (self.line, self.column())
    }

    fn element_done(&mut self) {
        self.hold = None;
    }

    /// Advances past one JSON value starting at `pos`. Only the structure is
    /// checked here; `serde_json` checks the rest on the element's slice.
    fn scan_value(&mut self) -> Result<()> {
        let mut depth = 0usize;
        let mut in_string = false;
        let mut escaped = false;
        let first = self.buf[self.pos];
        if !matches!(first, b'{' | b'[' | b'"') {
            // A scalar: up to the next delimiter.
            loop {
                if !self.fill()? {
                    return Ok(());
                }
                match self.buf[self.pos] {
                    b',' | b']' | b'}' | b' ' | b'\n' | b'\r' | b'\t' => return Ok(()),
                    _ => self.pos += 1,
                }
            }
        }
        loop {
            if !self.fill()? {
                return Err(self.error("EOF while parsing a value"));
            }
            // Work on the buffered run without refilling per byte.
            let end = self.buf.len();
            let mut i = self.pos;
            while i < end {
                let b = self.buf[i];
                if in_string {
                    if escaped {
                        escaped = false;
                    } else if b == b'\\' {
                        escaped = true;
                    } else if b == b'"' {
                        in_string = false;
                        if depth == 0 {
                            self.advance_to(i + 1);
                            return Ok(());
                        }
                    } else if b == b'\n' {
                        // A raw newline inside a string is invalid JSON; serde reports it.
                        self.line += 1;
                        self.line_start = i as i64 + 1;
                    }
                } else {
                    match b {
                        b'"' => in_string = true,
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth = depth.saturating_sub(1);
                            if depth == 0 {
                                self.advance_to(i + 1);
                                return Ok(());
                            }
                        }
                        b'\n' => {
                            self.line += 1;
                            self.line_start = i as i64 + 1;
                        }
                        _ => {}
                    }
                }
                i += 1;
            }
            self.pos = end;
        }
    }

    fn advance_to(&mut self, i: usize) {
        self.pos = i;
    }

    fn error(&self, message: &str) -> Error {
        Error::Parse {
            path: self.path.to_path_buf(),
            line: self.line,
            column: self.column(),
            message: message.to_string(),
        }
    }

    /// Maps an error inside an element's slice to the whole file's line and column.
    fn slice_error(&self, e: &serde_json::Error, line: usize, col: usize) -> Error {
        match Error::parse(self.path, e) {
            Error::Parse {
                path,
                line: l,
                column: c,
                message,
            } => Error::Parse {
                path,
                line: line + l.max(1) - 1,
                column: if l <= 1 { col + c.max(1) - 1 } else { c },
                message,
            },
            other => other,
        }
    }
}

/// What the lock file remembers between runs: the ledger as modelfit last
/// saw or left it, so a ledger that lost records meanwhile is noticed.
#[derive(Debug, Default, Clone, Copy, Serialize, Deserialize, PartialEq)]
struct Seen {
    #[serde(default)]
    file: Option<FileState>,
    #[serde(default)]
    records: u64,
    /// The last journal entry reflected in a write of the ledger.
    #[serde(default)]
    flushed_seq: u64,
}

/// Identity and version of a file, to notice writers that take no lock.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileState {
    dev: u64,
    ino: u64,
    len: u64,
    mtime_ns: i64,
    ctime_ns: i64,
}

impl FileState {
    fn of(m: &std::fs::Metadata) -> FileState {
        FileState {
            dev: m.dev(),
            ino: m.ino(),
            len: m.len(),
            mtime_ns: m.mtime().saturating_mul(1_000_000_000) + m.mtime_nsec(),
            ctime_ns: m.ctime().saturating_mul(1_000_000_000) + m.ctime_nsec(),
        }
    }

    /// Same file, same size and modification time (ctime aside: a rename or
    /// a link count change moves it without touching the content).
    fn same_content(&self, other: &FileState) -> bool {
        (self.dev, self.ino, self.len, self.mtime_ns)
            == (other.dev, other.ino, other.len, other.mtime_ns)
    }
}

/// The remembered state, read without the lock (a torn read counts as nothing remembered).
fn read_seen(lock_path: &Path) -> Seen {
    crate::safe_fs::open(lock_path, crate::safe_fs::Mode::Read)
        .ok()
        .and_then(|mut f| {
            let mut text = String::new();
            f.read_to_string(&mut text).ok()?;
            serde_json::from_str(text.trim()).ok()
        })
        .unwrap_or_default()
}

/// An exclusive lock on the ledger's sidecar file, released on drop.
struct LedgerLock {
    file: File,
    path: PathBuf,
    seen: Seen,
}

impl LedgerLock {
    fn acquire(ledger: &Ledger) -> Result<LedgerLock> {
        let file = crate::lockfile::acquire(&ledger.lock_path, ledger.lock_timeout)?;
        let mut text = String::new();
        let _ = (&file).read_to_string(&mut text);
        let seen = serde_json::from_str(text.trim()).unwrap_or_default();
        Ok(LedgerLock {
            file,
            path: ledger.lock_path.clone(),
            seen,
        })
    }

    fn remember(&mut self, seen: Seen) -> Result<()> {
        if seen == self.seen {
            return Ok(());
        }
        let text = serde_json::to_vec(&seen).expect("serializes");
        // One pwrite; a shorter text leaves no stale bytes after set_len.
        self.file
            .write_all_at(&text, 0)
            .and_then(|_| self.file.set_len(text.len() as u64))
            .map_err(|e| Error::io("cannot write the lock file", &self.path, e))?;
        self.seen = seen;
        Ok(())
    }
}

#[cfg(test)]
mod scanner_tests {
    use super::*;

    /// A reader that hands out one byte per call, to cross every buffer boundary.
    struct Trickle<'a>(&'a [u8]);
    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            if self.0.is_empty() || out.is_empty() {
                return Ok(0);
            }
            out[0] = self.0[0];
            self.0 = &self.0[1..];
            Ok(1)
        }
    }

    fn all(text: &str) -> Result<Vec<Value>> {
        let mut out = Vec::new();
        stream_array(Path::new("x.json"), text.as_bytes(), |v: Value| {
            out.push(v);
            true
        })?;
        let mut slow = Vec::new();
        stream_array(Path::new("x.json"), Trickle(text.as_bytes()), |v: Value| {
            slow.push(v);
            true
        })?;
        assert_eq!(out, slow);
        Ok(out)
    }

    fn err_at(text: &str) -> (usize, usize) {
        match all(text) {
            Err(Error::Parse { line, column, .. }) => (line, column),
            other => panic!("expected a parse error for {text:?}, got {other:?}"),
        }
    }

    #[test]
    fn elements_of_every_shape() {
        assert!(all("").unwrap().is_empty());
        assert!(all("  \n[ ]\n").unwrap().is_empty());
        let v = all(
            "[\n  {\"a\": \"x]}\\\"{[\", \"b\": [1, {\"c\": []}]},\n  2, \"s\", null, [true]\n]",
        )
        .unwrap();
        assert_eq!(v.len(), 5);
        assert_eq!(v[0]["a"], "x]}\"{[");
        assert_eq!(v[1], 2);
        assert_eq!(v[4][0], true);
    }

    #[test]
    fn errors_name_the_line_and_column_of_the_file() {
        assert_eq!(err_at("[\n  {\"a\": 1},\n  {\"a\": 1,}\n]"), (3, 11));
        assert_eq!(err_at("[\n  {\"a\": 1}\n  {\"b\": 2}\n]").0, 3);
        assert_eq!(err_at("[1,]").0, 1);
        assert_eq!(err_at("[\n  {\"a\": 1},\n  {\"a\": "), (3, 9));
        assert!(matches!(all("[1] x"), Err(Error::Parse { .. })));
        assert!(matches!(all("{\"a\": 1}"), Err(Error::Shape { .. })));
    }

    #[test]
    fn records_across_buffer_refills() {
        let rec = format!("{{\"id\": \"x\", \"pad\": \"{}\"}}", "y".repeat(300_000));
        let text = format!("[\n  {}\n]", vec![rec; 9].join(",\n  "));
        let mut n = 0;
        stream_array(Path::new("x.json"), text.as_bytes(), |v: Value| {
            assert_eq!(v["id"], "x");
            n += 1;
            true
        })
        .unwrap();
        assert_eq!(n, 9);
        let bad = text
            .replacen("\"id\": \"x\"", "\"id\" \"x\"", 1)
            .replace("[\n  {\"id\" ", "[\n  {\"id\": \"x\"}, {\"id\" ");
        assert!(matches!(all(&bad), Err(Error::Parse { line: 2, .. })));
    }

    #[test]
    fn early_stop_still_validates_the_rest() {
        let mut n = 0;
        let r = stream_array(
            Path::new("x.json"),
            "[1, 2, {\"bad\" 3}]".as_bytes(),
            |_: Value| {
                n += 1;
                false
            },
        );
        assert_eq!(n, 1);
        assert!(matches!(r, Err(Error::Parse { .. })));
    }
}

#[cfg(test)]
mod prefilter_tests {
    use super::*;

    #[test]
    fn needles_and_contains() {
        assert_eq!(
            raw_needle("dispatch-1-abc").as_deref(),
            Some(&b"dispatch-1-abc"[..])
        );
        for risky in ["", "a\"b", "a\\b", "a/b", "é", "a b", "a\tb"] {
            assert_eq!(raw_needle(risky), None, "{risky:?}");
        }
        assert!(contains(b"xx\"id\": \"d-1\"", b"d-1"));
        assert!(contains(b"abc", b"abc"));
        assert!(!contains(b"ab", b"abc"));
        assert!(!contains(b"aXbaXc", b"abc"));
        assert!(contains(b"aab", b"ab"));
    }

    #[test]
    fn update_parses_only_candidates_but_decides_by_field() {
        let dir = tempfile::tempdir().unwrap();
        let l = Ledger::at(dir.path().join("d.json"), dir.path().join("torn"));
        std::fs::write(
            l.path(),
            "[\n  {\n    \"id\": \"a\",\n    \"note\": \"retry of b\"\n  },\n  {\n    \"id\": \"b\"\n  }\n]",
        )
        .unwrap();
        l.update("b", |r| {
            r.insert("x".into(), Value::from(1));
            Ok(Some(()))
        })
        .unwrap();
        let v: Value = serde_json::from_slice(&std::fs::read(l.path()).unwrap()).unwrap();
        assert_eq!(v[0].get("x"), None);
        assert_eq!(v[1]["x"], 1);
    }
}
