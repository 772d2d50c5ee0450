//! The dispatch ledger, `logs/dispatches.json`: read, append and update it
//! without losing a byte that another program wrote.
//!
//! The file is one JSON array in the orchestrator's formatting
//! (`JSON.stringify(records, null, 2)`, no trailing newline). modelfit keeps it
//! that way:
//!
//! * **Reading** streams the array one record at a time, so memory does not
//!   grow with the ledger.
//! * **Appending** overwrites the closing `\n]` in place with
//!   `,\n  {record}\n]`: one `write` of the new bytes, one `fdatasync`, no
//!   rewrite, so its cost does not depend on the ledger's size.
//! * **Updating** splices the new text of one record between the untouched
//!   bytes before and after it, into a temporary file that is synced and
//!   renamed over the ledger (then the directory is synced).
//!
//! Every write happens under an exclusive lock on the sidecar
//! `logs/dispatches.json.lock`, reading under that lock. The lock file doubles
//! as a small journal: before an in-place append it records where the append
//! starts and the bytes it overwrites, so a process killed half-way leaves a
//! tail the next modelfit run rolls back (keeping the torn bytes in
//! `logs/modelfit/torn/`). After each write it records the ledger's size and
//! times, so the next append can skip re-validating a file nobody else touched.
//!
//! A ledger that does not parse is never written.

use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::record::{to_js_pretty, Record};

pub mod scan;

/// How far from the end an append looks for the closing bracket.
const TAIL_WINDOW: u64 = 64 * 1024;

/// The dispatch ledger at one path.
#[derive(Debug, Clone)]
pub struct Ledger {
    path: PathBuf,
    lock_path: PathBuf,
    torn_dir: PathBuf,
    lock_timeout: Duration,
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

/// What an append or update did, for messages and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    /// The journal was clean.
    None,
    /// An interrupted append was rolled back before this operation.
    RolledBack,
    /// An interrupted append had in fact finished; the journal was cleared.
    Completed,
}

impl Ledger {
    /// The ledger of an orchestrator home.
    pub fn of(home: &crate::home::Home) -> Ledger {
        Ledger::at(home.ledger(), home.torn_dir())
    }

    /// A ledger at `path`, saving torn tails under `torn_dir`.
    pub fn at(path: impl Into<PathBuf>, torn_dir: impl Into<PathBuf>) -> Ledger {
        let path = path.into();
        let mut lock = path.clone().into_os_string();
        lock.push(".lock");
        Ledger {
            path,
            lock_path: PathBuf::from(lock),
            torn_dir: torn_dir.into(),
            lock_timeout: crate::lockfile::default_timeout(),
        }
    }

    /// Sets how long writes wait for the lock before failing.
    pub fn with_lock_timeout(mut self, timeout: Duration) -> Ledger {
        self.lock_timeout = timeout;
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

    /// Streams every record through `f`, deserialized as `T` (a typed view
    /// such as [`crate::record::RecordView`], or [`Record`] for the whole map).
    /// Memory stays constant whatever the ledger's size. A missing or empty
    /// file has no records. `f` may stop the pass early by returning `false`.
    pub fn for_each<T, F>(&self, f: F) -> Result<()>
    where
        T: DeserializeOwned,
        F: FnMut(T) -> bool,
    {
        let file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io("cannot read", &self.path, e)),
        };
        // The scanner reads in 1 MiB blocks itself: no BufReader copy.
        stream_array(&self.path, file, f)
    }

    /// Finds the record with `id` (matching `id`, or the `dispatch_id` the
    /// orchestrator's own lookup also accepts).
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

    /// Checks that the whole ledger parses as an array, after finishing any
    /// interrupted append, by streaming every record through the typed view.
    pub fn check(&self) -> Result<(Census, Recovery)> {
        let lock = self.lock()?;
        let mut census = Census::default();
        self.for_each(|r: crate::record::RecordView| {
            census.records += 1;
            census.with_id += r.id.is_some() as u64;
            census.with_outcome += r.outcome.is_some() as u64;
            true
        })?;
        Ok((census, lock.recovery))
    }

    /// Appends one record at the end of the array. The record is on disk
    /// (fdatasync) when this returns. Cost: a tail read, one write and one
    /// sync, plus a full validating read only when another program changed
    /// the file since modelfit last wrote it.
    pub fn append(&self, record: &Record) -> Result<Recovery> {
        let mut lock = self.lock()?;
        let text = to_js_pretty(&Value::Object(record.clone()), 1);

        let mut file = match OpenOptions::new().read(true).write(true).open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.create_with(&format!("[\n  {text}\n]"))?;
                lock.remember(&self.path)?;
                return Ok(lock.recovery);
            }
            Err(e) => return Err(Error::io("cannot open", &self.path, e)),
        };
        let meta = file
            .metadata()
            .map_err(|e| Error::io("cannot stat", &self.path, e))?;
        if !lock.is_unchanged(&meta) {
            // Someone else wrote since our last look: prove it parses before touching it.
            count_records(&self.path, BufReader::with_capacity(1 << 16, &file))?;
        }
        let len = meta.len();
        let start = len.saturating_sub(TAIL_WINDOW);
        let mut tail = Vec::with_capacity((len - start) as usize);
        file.seek(SeekFrom::Start(start))
            .and_then(|_| (&file).take(len - start).read_to_end(&mut tail))
            .map_err(|e| Error::io("cannot read", &self.path, e))?;

        let Some(close) = tail.iter().rposition(|b| !b.is_ascii_whitespace()) else {
            // Empty or whitespace-only file: an empty ledger.
            if len > TAIL_WINDOW {
                return Err(self.shape("a long run of whitespace where records belong"));
            }
            self.create_with(&format!("[\n  {text}\n]"))?;
            lock.remember(&self.path)?;
            return Ok(lock.recovery);
        };
        if tail[close] != b']' {
            return Err(self.shape(
                "it does not end with `]` (a top-level JSON array); modelfit only appends to an array",
            ));
        }
        let before = tail[..close]
            .iter()
            .rposition(|b| !b.is_ascii_whitespace())
            .map(|i| tail[i]);
        let (at, new_bytes) = match before {
            Some(b'[') => {
                // `[]` or `[\n]`: the first record.
                let open = tail[..close].iter().rposition(|b| *b == b'[').unwrap();
                (start + open as u64 + 1, format!("\n  {text}\n]"))
            }
            Some(_) => {
                let last = tail[..close]
                    .iter()
                    .rposition(|b| !b.is_ascii_whitespace())
                    .unwrap();
                (start + last as u64 + 1, format!(",\n  {text}\n]"))
            }
            None => {
                return Err(self.shape("a `]` with no array before it in the last 64 KiB"));
            }
        };

        let old_tail = tail[(at - start) as usize..].to_vec();
        lock.journal_append(&meta, at, &old_tail, at + new_bytes.len() as u64)?;
        if failpoint("append-torn") {
            // Test aid: die half-way through the write, as a SIGKILL could.
            let half = &new_bytes.as_bytes()[..new_bytes.len() / 2];
            let _ = file.write_all_at(half, at);
            std::process::abort();
        }
        file.write_all_at(new_bytes.as_bytes(), at)
            .and_then(|_| {
                let end = at + new_bytes.len() as u64;
                if end < len {
                    file.set_len(end)?;
                }
                file.sync_data()
            })
            .map_err(|e| Error::io("cannot append to", &self.path, e))?;
        lock.remember(&self.path)?;
        Ok(lock.recovery)
    }

    /// Changes the record with `id` through `edit`. Every other byte of the
    /// file stays as it was; the edited record keeps its fields in order and
    /// gains new ones at its end. The file is replaced atomically (temporary
    /// file, fsync, rename, fsync of the directory).
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
    /// `first_only`), in one rewrite. `edit` returns whether it changed the
    /// record; nothing is written if no record changed. Returns the number of
    /// records changed.
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
        for _attempt in 0..5 {
            let (bytes, meta) = match read_with_meta(&self.path) {
                Ok(x) => x,
                Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                    return Ok(0)
                }
                Err(e) => return Err(e),
            };
            let spans = element_spans(&self.path, &bytes)?;
            // (span, new text) of each edited record; the rest is copied as is.
            let mut edits: Vec<((usize, usize), String)> = Vec::new();
            for (s, e) in spans {
                let raw = &bytes[s..e];
                if !prefilter(raw) {
                    continue;
                }
                let mut record: Record = match serde_json::from_slice(raw) {
                    Ok(r) => r,
                    Err(_) => continue, // not an object: never selected
                };
                if !select(&record) {
                    continue;
                }
                if edit(&mut record)? {
                    edits.push(((s, e), to_js_pretty(&Value::Object(record), 1)));
                }
                if first_only {
                    break;
                }
            }
            if edits.is_empty() {
                return Ok(0);
            }
            // Writers that take no lock may have replaced the file meanwhile:
            // re-read rather than overwrite their change.
            if !same_file_state(&self.path, &meta) {
                continue;
            }
            let mut pieces: Vec<&[u8]> = Vec::with_capacity(edits.len() * 2 + 1);
            let mut copied = 0;
            for ((s, e), text) in &edits {
                pieces.push(&bytes[copied..*s]);
                pieces.push(text.as_bytes());
                copied = *e;
            }
            pieces.push(&bytes[copied..]);
            write_atomic_pieces(&self.path, &pieces)?;
            lock.remember(&self.path)?;
            return Ok(edits.len());
        }
        Err(Error::Invalid(format!(
            "{} kept changing while modelfit tried to update it (another program is \
             rewriting it); try again",
            self.path.display()
        )))
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
        let (bytes, _meta) = match read_with_meta(&self.path) {
            Ok(x) => x,
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                return Ok(0)
            }
            Err(e) => return Err(e),
        };
        let spans = element_spans(&self.path, &bytes)?;
        let mut removed: Vec<&[u8]> = Vec::new();
        let mut kept: Vec<&[u8]> = Vec::new();
        for (s, e) in spans {
            let raw = &bytes[s..e];
            let chosen = serde_json::from_slice::<Record>(raw)
                .map(|r| select(&r))
                .unwrap_or(false);
            if chosen {
                removed.push(raw);
            } else {
                kept.push(raw);
            }
        }
        if removed.is_empty() {
            return Ok(0);
        }
        keep(&removed)?;
        self.replace_with(&join_array(&kept))?;
        lock.remember(&self.path)?;
        Ok(removed.len())
    }

    fn shape(&self, message: &str) -> Error {
        Error::Shape {
            path: self.path.clone(),
            message: message.to_string(),
        }
    }

    fn create_with(&self, text: &str) -> Result<()> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::io("cannot create directory", dir, e))?;
        }
        self.replace_with(text.as_bytes())
    }

    fn replace_with(&self, bytes: &[u8]) -> Result<()> {
        write_atomic(&self.path, bytes)
    }

    fn lock(&self) -> Result<LedgerLock> {
        LedgerLock::acquire(self)
    }
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

/// True when the environment asks modelfit to crash at `point`
/// (`MODELFIT_FAILPOINT=point`). Used by the crash tests to stop a process at
/// an exact instant that a random SIGKILL would only hit by luck.
pub fn failpoint(point: &str) -> bool {
    std::env::var_os("MODELFIT_FAILPOINT").is_some_and(|v| v == point)
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

fn read_with_meta(path: &Path) -> Result<(Vec<u8>, std::fs::Metadata)> {
    let mut f = File::open(path).map_err(|e| Error::io("cannot read", path, e))?;
    let meta = f
        .metadata()
        .map_err(|e| Error::io("cannot stat", path, e))?;
    let mut bytes = Vec::with_capacity(meta.len() as usize + 1);
    f.read_to_end(&mut bytes)
        .map_err(|e| Error::io("cannot read", path, e))?;
    Ok((bytes, meta))
}

fn same_file_state(path: &Path, before: &std::fs::Metadata) -> bool {
    match std::fs::metadata(path) {
        Ok(now) => FileState::of(&now) == FileState::of(before),
        Err(_) => false,
    }
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

fn count_records(path: &Path, reader: impl Read) -> Result<usize> {
    let mut n = 0;
    stream_array(path, reader, |_: IgnoredAny| {
        n += 1;
        true
    })?;
    Ok(n)
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

/// What the lock file remembers between runs.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(tag = "state", rename_all = "snake_case")]
enum Journal {
    /// Nothing written, or an unknown format.
    #[default]
    Unknown,
    /// The ledger as modelfit last left it.
    Clean { file: FileState },
    /// An in-place append in progress.
    Appending {
        file: FileState,
        offset: u64,
        old_tail: String,
        new_len: u64,
    },
}

/// Identity and version of a file, to notice writers that take no lock.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
struct FileState {
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
}

/// An exclusive lock on the ledger's sidecar file, released on drop.
struct LedgerLock {
    file: File,
    path: PathBuf,
    journal: Journal,
    recovery: Recovery,
}

impl LedgerLock {
    fn acquire(ledger: &Ledger) -> Result<LedgerLock> {
        let file = crate::lockfile::acquire(&ledger.lock_path, ledger.lock_timeout)?;
        let mut text = String::new();
        let _ = (&file).read_to_string(&mut text);
        let journal = serde_json::from_str(text.trim()).unwrap_or_default();
        let mut lock = LedgerLock {
            file,
            path: ledger.lock_path.clone(),
            journal,
            recovery: Recovery::None,
        };
        lock.recover(ledger)?;
        Ok(lock)
    }

    /// Finishes or rolls back an append that a killed process left behind.
    fn recover(&mut self, ledger: &Ledger) -> Result<()> {
        let Journal::Appending {
            file: before,
            offset,
            old_tail,
            new_len,
        } = &self.journal
        else {
            return Ok(());
        };
        let meta = match std::fs::metadata(&ledger.path) {
            Ok(m) => m,
            Err(_) => {
                self.write_journal(&Journal::Unknown)?;
                return Ok(());
            }
        };
        // Replaced by another writer since (rename): the journal no longer applies.
        if meta.ino() != before.ino || meta.dev() != before.dev || meta.len() < *offset {
            self.write_journal(&Journal::Unknown)?;
            return Ok(());
        }
        let mut f = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&ledger.path)
            .map_err(|e| Error::io("cannot open", &ledger.path, e))?;
        let mut written = Vec::new();
        f.seek(SeekFrom::Start(*offset))
            .and_then(|_| f.read_to_end(&mut written))
            .map_err(|e| Error::io("cannot read", &ledger.path, e))?;
        let finished = meta.len() == *new_len && written.ends_with(b"]");
        if finished {
            self.recovery = Recovery::Completed;
        } else {
            std::fs::create_dir_all(&ledger.torn_dir)
                .map_err(|e| Error::io("cannot create directory", &ledger.torn_dir, e))?;
            let keep = ledger.torn_dir.join(format!(
                "dispatches.{}.torn",
                crate::clock::now().format("%Y%m%dT%H%M%S%.3fZ")
            ));
            std::fs::write(&keep, &written)
                .map_err(|e| Error::io("cannot save the torn tail to", &keep, e))?;
            f.write_all_at(old_tail.as_bytes(), *offset)
                .and_then(|_| f.set_len(offset + old_tail.len() as u64))
                .and_then(|_| f.sync_data())
                .map_err(|e| Error::io("cannot repair", &ledger.path, e))?;
            self.recovery = Recovery::RolledBack;
        }
        self.remember(&ledger.path)
    }

    fn is_unchanged(&self, meta: &std::fs::Metadata) -> bool {
        matches!(&self.journal, Journal::Clean { file } if *file == FileState::of(meta))
    }

    fn journal_append(
        &mut self,
        meta: &std::fs::Metadata,
        offset: u64,
        old_tail: &[u8],
        new_len: u64,
    ) -> Result<()> {
        let journal = Journal::Appending {
            file: FileState::of(meta),
            offset,
            // The tail is whitespace and `]`, always ASCII.
            old_tail: String::from_utf8_lossy(old_tail).into_owned(),
            new_len,
        };
        self.write_journal(&journal)?;
        self.journal = journal;
        Ok(())
    }

    fn remember(&mut self, path: &Path) -> Result<()> {
        let journal = match std::fs::metadata(path) {
            Ok(m) => Journal::Clean {
                file: FileState::of(&m),
            },
            Err(_) => Journal::Unknown,
        };
        self.write_journal(&journal)?;
        self.journal = journal;
        Ok(())
    }

    fn write_journal(&self, journal: &Journal) -> Result<()> {
        let text = serde_json::to_vec(journal).expect("journal serializes");
        // One pwrite; a shorter text leaves no stale bytes after set_len.
        self.file
            .write_all_at(&text, 0)
            .and_then(|_| self.file.set_len(text.len() as u64))
            .map_err(|e| Error::io("cannot write the lock journal", &self.path, e))
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
mod tests {
    use super::*;

    #[test]
    fn journal_round_trips() {
        let file = FileState {
            dev: 1,
            ino: 2,
            len: 3,
            mtime_ns: 1_796_178_258_517_366_208,
            ctime_ns: 5,
        };
        for j in [
            Journal::Clean { file },
            Journal::Appending {
                file,
                offset: 10,
                old_tail: "\n]".into(),
                new_len: 99,
            },
        ] {
            let text = serde_json::to_string(&j).unwrap();
            assert_eq!(serde_json::from_str::<Journal>(&text).unwrap(), j);
        }
    }

    #[test]
    fn spans_point_at_each_record() {
        let bytes = b"[\n  {\"a\": 1},\n  [2],\n  \"x\"\n]";
        let spans = element_spans(Path::new("t"), bytes).unwrap();
        let parts: Vec<&[u8]> = spans.iter().map(|(s, e)| &bytes[*s..*e]).collect();
        assert_eq!(parts, [&b"{\"a\": 1}"[..], b"[2]", b"\"x\""]);
        assert!(element_spans(Path::new("t"), b"  ").unwrap().is_empty());
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
