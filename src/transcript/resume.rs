//! Resumed sessions: `claude --resume` starts a new transcript that begins
//! with a copy of the resumed session's messages (same `message.id` and
//! `requestId`). Counted in both files, that prefix would be paid twice; it
//! belongs to the session it came from.
//!
//! The session a transcript resumed is found beside it: a session named by
//! its lines' `sessionId` whose file exists, else a sibling transcript that
//! holds the transcript's first response and is older (earlier first
//! timestamp, then earlier last timestamp: the copy keeps the original's
//! lines but the resumed session goes on after it).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use memchr::memmem::Finder;

use super::files::read_lines;
use super::{key_scan, KeyScan};
use crate::error::Result;

/// Keys of the responses `main` copied from earlier sessions (key → index of
/// the origin in the returned session ids). Empty when it resumed nothing.
/// Keys of copied responses → index of the session they came from, and those sessions' ids.
pub(super) type CopiedKeys = (HashMap<Box<str>, usize>, Vec<String>);

pub(super) fn copied_keys(main: &Path) -> Result<CopiedKeys> {
    let mut exclude = HashMap::new();
    let mut origins = Vec::new();
    let Some(dir) = main.parent() else {
        return Ok((exclude, origins));
    };
    let own = key_scan(main)?;
    if own.keys.is_empty() {
        return Ok((exclude, origins));
    }
    let mut candidates: Vec<(String, PathBuf, bool)> = own
        .foreign_sessions
        .iter()
        .map(|sid| (sid.clone(), dir.join(format!("{sid}.jsonl")), true))
        .filter(|(_, p, _)| p.is_file() && p != main)
        .collect();
    if candidates.is_empty() {
        if let Some(first) = &own.first_key {
            candidates = siblings_holding(main, dir, first, own.first_timestamp.as_deref());
        }
    }
    for (sid, path, named) in candidates {
        let Ok(other) = key_scan(&path) else { continue };
        if !named && !older(&other, &path, &own, main) {
            continue;
        }
        let idx = origins.len();
        let mut any = false;
        for k in other.keys {
            if own.keys.contains(&k) {
                exclude.entry(k).or_insert(idx);
                any = true;
            }
        }
        if any {
            origins.push(sid);
        }
    }
    Ok((exclude, origins))
}

/// Is `a` (at `pa`) the older of two sessions sharing responses?
pub(crate) fn older(a: &KeyScan, pa: &Path, b: &KeyScan, pb: &Path) -> bool {
    rank(
        a.first_timestamp.as_deref(),
        a.last_timestamp.as_deref(),
        pa,
    ) < rank(
        b.first_timestamp.as_deref(),
        b.last_timestamp.as_deref(),
        pb,
    )
}

/// Ordering of sessions that share responses: the one that started first,
/// then the one that ended first (the original; the copy goes on), then path.
pub(crate) fn rank<'a>(
    first: Option<&'a str>,
    last: Option<&'a str>,
    path: &'a Path,
) -> (&'a str, &'a str, &'a Path) {
    // A session without timestamps sorts last: it is never the origin.
    (first.unwrap_or("~"), last.unwrap_or("~"), path)
}

/// Session transcripts beside `main` whose text holds the `message.id` of
/// `main`'s first response (a cheap substring scan; the keys are checked after).
/// Only siblings that started no later than `main` are scanned: the session
/// it resumed is older.
fn siblings_holding(
    main: &Path,
    dir: &Path,
    first_key: &str,
    own_first: Option<&str>,
) -> Vec<(String, PathBuf, bool)> {
    let msg = first_key.split('\0').next().unwrap_or("");
    if msg.is_empty() {
        return Vec::new();
    }
    let needle = format!("\"{msg}\"");
    let finder = Finder::new(needle.as_bytes());
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut paths: Vec<PathBuf> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p != main
                && p.extension().is_some_and(|x| x == "jsonl")
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| !n.starts_with("agent-"))
                && p.is_file()
        })
        .collect();
    paths.sort();
    for p in paths {
        if let (Some(own), Some(theirs)) = (own_first, first_timestamp(&p)) {
            if theirs.as_str() > own {
                continue;
            }
        }
        let mut found = false;
        let _ = read_lines(&p, 0, |line| {
            if !found {
                found = line.is_some_and(|l| finder.find(l).is_some());
            }
        });
        if found {
            let sid = p
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("")
                .to_string();
            out.push((sid, p, false));
        }
    }
    out
}

/// The first canonical timestamp in the first 64 KiB of `path` (cheap: the
/// start of a session).
fn first_timestamp(path: &Path) -> Option<String> {
    use std::io::Read;
    let mut buf = vec![0u8; 64 << 10];
    let mut f = std::fs::File::open(path).ok()?;
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    let key = b"\"timestamp\":\"";
    let mut from = 0;
    while let Some(i) = memchr::memmem::find(&buf[from..n], key) {
        let at = from + i + key.len();
        if let Some(ts) = buf
            .get(at..at + 24)
            .and_then(|b| std::str::from_utf8(b).ok())
        {
            if super::is_canonical(ts) {
                return Some(ts.to_string());
            }
        }
        from = at;
    }
    None
}
