//! Retention: moving old records out of the ledger into monthly archives,
//! `logs/archive/dispatches-YYYY-MM.json`. Nothing is deleted.
//!
//! Order of writes: the archives first, then the ledger. A crash in between
//! leaves the moved records in both files; the next run finds them already
//! archived (byte-identical) and only removes them from the ledger. So after a
//! crash at any point every record is in at least one of the two files, and a
//! rerun completes the move.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::home::Home;
use crate::record::Record;
use crate::store::{element_spans, join_array, write_atomic, Ledger};

/// What a rotation moved (or, in a dry run, would move), per archive file.
#[derive(Debug, Default)]
pub struct Rotation {
    /// Archive path → number of records.
    pub moved: BTreeMap<PathBuf, usize>,
    /// Records kept because they carry no usable date.
    pub undated: usize,
}

/// Parses `90d`, `12w`, `36h` (or a bare number of days).
pub fn parse_age(text: &str) -> Result<Duration> {
    let t = text.trim();
    let (num, unit) = match t.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => (&t[..i], &t[i..]),
        None => (t, "d"),
    };
    let n: i64 = num.parse().map_err(|_| {
        Error::Invalid(format!(
            "cannot read the age {text:?}: use e.g. 90d, 12w or 36h"
        ))
    })?;
    match unit {
        "d" => Ok(Duration::days(n)),
        "w" => Ok(Duration::weeks(n)),
        "h" => Ok(Duration::hours(n)),
        _ => Err(Error::Invalid(format!(
            "unknown unit in {text:?}: use e.g. 90d (days), 12w (weeks) or 36h (hours)"
        ))),
    }
}

/// The time that dates a record: `created_at`, else `started_at`, else `completed_at`.
pub fn record_date(r: &Record) -> Option<DateTime<Utc>> {
    ["created_at", "started_at", "completed_at"]
        .iter()
        .filter_map(|k| r.get(*k).and_then(Value::as_str))
        .find_map(crate::clock::parse)
}

/// Moves records dated before `now - older_than` into monthly archives.
pub fn rotate(home: &Home, older_than: Duration, dry_run: bool) -> Result<Rotation> {
    let ledger = Ledger::of(home);
    let cutoff = crate::clock::now() - older_than;
    let archive_of = |r: &Record| -> Option<PathBuf> {
        let d = record_date(r)?;
        (d < cutoff).then(|| {
            home.archive_dir()
                .join(format!("dispatches-{}.json", d.format("%Y-%m")))
        })
    };
    let mut rotation = Rotation::default();

    if dry_run {
        ledger.for_each(|r: Record| {
            match archive_of(&r) {
                Some(p) => *rotation.moved.entry(p).or_default() += 1,
                None if record_date(&r).is_none() => rotation.undated += 1,
                None => {}
            }
            true
        })?;
        return Ok(rotation);
    }

    let mut undated = 0;
    let mut groups: BTreeMap<PathBuf, Vec<Vec<u8>>> = BTreeMap::new();
    ledger.remove_where(
        |r| {
            if record_date(r).is_none() {
                undated += 1;
            }
            archive_of(r).is_some()
        },
        |removed| {
            for raw in removed {
                let r: Record = serde_json::from_slice(raw).expect("selected records parsed");
                let p = archive_of(&r).expect("selected records have an archive");
                groups.entry(p).or_default().push(raw.to_vec());
            }
            std::fs::create_dir_all(home.archive_dir())
                .map_err(|e| Error::io("cannot create directory", home.archive_dir(), e))?;
            for (path, records) in &groups {
                append_archive(path, records)?;
            }
            if crate::store::failpoint("rotate-archived") {
                std::process::abort();
            }
            Ok(())
        },
    )?;
    rotation.undated = undated;
    rotation.moved = groups.into_iter().map(|(p, v)| (p, v.len())).collect();
    Ok(rotation)
}

/// Adds `records` to the archive at `path`, skipping any already there
/// byte-for-byte (a rerun after a crash).
fn append_archive(path: &Path, records: &[Vec<u8>]) -> Result<()> {
    let existing = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(Error::io("cannot read", path, e)),
    };
    let spans = element_spans(path, &existing)?;
    let have: std::collections::HashSet<&[u8]> =
        spans.iter().map(|(s, e)| &existing[*s..*e]).collect();
    let mut all: Vec<&[u8]> = spans.iter().map(|(s, e)| &existing[*s..*e]).collect();
    let before = all.len();
    all.extend(
        records
            .iter()
            .map(Vec::as_slice)
            .filter(|r| !have.contains(r)),
    );
    if all.len() == before {
        return Ok(());
    }
    write_atomic(path, &join_array(&all))
}
