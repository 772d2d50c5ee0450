//! Finding and reading a session's files: subagent and compaction
//! transcripts, legacy agent files, and complete lines from a byte offset.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::lines::LStr;
use super::{is_canonical, Since, MAX_LINE};

pub(super) struct SubFile {
    pub(super) path: PathBuf,
    pub(super) agent_id: Option<String>,
    pub(super) legacy_session: Option<String>,
    pub(super) modified: Option<DateTime<Utc>>,
}

/// The session's subagent and compaction transcripts: everything under
/// `<dir>/<session>/subagents/` (recursively, for nested agents and
/// workflows), then legacy `<dir>/agent-*.jsonl`.
pub(super) fn find_subagent_files(main: &Path) -> Vec<SubFile> {
    let mut out = Vec::new();
    let (Some(dir), Some(stem)) = (main.parent(), main.file_stem().and_then(|s| s.to_str())) else {
        return out;
    };
    let mut stack = vec![dir.join(stem).join("subagents")];
    let mut found = Vec::new();
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "jsonl") {
                found.push(p);
            }
        }
    }
    found.sort();
    for p in found {
        out.push(sub_file(p, None));
    }
    // Legacy layout (before 2.1.2): agent files beside the session files of
    // the whole project, told apart by the `sessionId` of their lines.
    let main_name = main.file_name().and_then(|s| s.to_str()).unwrap_or("");
    if !main_name.starts_with("agent-") {
        if let Ok(rd) = std::fs::read_dir(dir) {
            let mut legacy: Vec<PathBuf> = rd
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.extension().is_some_and(|x| x == "jsonl")
                        && p.file_name()
                            .and_then(|n| n.to_str())
                            .is_some_and(|n| n.starts_with("agent-"))
                        && p.is_file()
                })
                .collect();
            legacy.sort();
            for p in legacy {
                out.push(sub_file(p, Some(stem.to_string())));
            }
        }
    }
    out
}

pub(super) fn sub_file(path: PathBuf, legacy_session: Option<String>) -> SubFile {
    let agent_id = path
        .file_stem()
        .and_then(|s| s.to_str())
        .and_then(|s| s.strip_prefix("agent-"))
        .filter(|s| !s.starts_with("acompact-"))
        .map(str::to_string);
    let modified = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .ok()
        .map(DateTime::<Utc>::from);
    SubFile {
        path,
        agent_id,
        legacy_session,
        modified,
    }
}

/// Does the first line that names a session name `sid`? (Cheap test so the
/// legacy agent files of other sessions are not read through.)
pub(super) fn first_line_session_matches(path: &Path, sid: &str) -> bool {
    #[derive(Deserialize)]
    struct Head<'a> {
        #[serde(rename = "sessionId", borrow, default)]
        session_id: LStr<'a>,
    }
    let Ok(mut f) = crate::readfile::open_regular(path) else {
        return false;
    };
    // Up to 1 MiB, in 64 KiB steps, stopping at the first line that names a session.
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 << 10];
    let mut parsed = 0;
    while buf.len() < (1 << 20) {
        let n = match f.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        let Some(end) = memchr::memrchr(b'\n', &buf) else {
            continue;
        };
        for line in buf[parsed..end].split(|&c| c == b'\n') {
            if let Ok(h) = serde_json::from_slice::<Head>(line) {
                if let Some(s) = h.session_id.0 {
                    return s == sid;
                }
            }
        }
        parsed = end + 1;
    }
    // No session named in the first MiB: let the per-line filter decide.
    true
}

/// Files smaller than this are read whole even with a `since`.
pub(super) const SEEK_MIN: u64 = 4 << 20;

/// How far before `since` the search for a starting line aims: lines are
/// appended in time order only give or take a few seconds.
pub(super) const SEEK_MARGIN_SECS: i64 = 600;

/// For a long file read with a `since`: the offset of a line that is older
/// than `since` minus a margin, found by bisection on the timestamps of the
/// lines at probe points (so the read costs the recent bytes, not the file).
/// 0 when the file is short or a probe finds no timestamp. Lines after the
/// offset are still filtered one by one.
pub(super) fn seek_since(path: &Path, since: &Since) -> u64 {
    let Ok(mut file) = crate::readfile::open_regular(path) else {
        return 0;
    };
    let Ok(len) = file.metadata().map(|m| m.len()) else {
        return 0;
    };
    if len < SEEK_MIN {
        return 0;
    }
    let target = crate::clock::iso(since.at - chrono::Duration::seconds(SEEK_MARGIN_SECS));
    let (mut lo, mut hi) = (0u64, len);
    let mut window = vec![0u8; 64 << 10];
    while hi - lo > (256 << 10) {
        let mid = lo + (hi - lo) / 2;
        match probe_timestamp(&mut file, mid, &mut window) {
            Some((start, ts)) if ts.as_str() < target.as_str() && start < hi => lo = start,
            Some(_) => hi = mid,
            None => break,
        }
    }
    lo
}

/// The start and timestamp of the first line beginning after `pos`, if both
/// are within a 64 KiB window and the timestamp is canonical.
pub(super) fn probe_timestamp(
    file: &mut File,
    pos: u64,
    window: &mut [u8],
) -> Option<(u64, String)> {
    file.seek(SeekFrom::Start(pos)).ok()?;
    let mut n = 0;
    while n < window.len() {
        match file.read(&mut window[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(_) => return None,
        }
    }
    let w = &window[..n];
    let nl = memchr::memchr(b'\n', w)?;
    let line = &w[nl + 1..];
    let line = &line[..memchr::memchr(b'\n', line).unwrap_or(line.len())];
    let key = b"\"timestamp\":\"";
    let at = memchr::memmem::find(line, key)? + key.len();
    let ts = line.get(at..at + 24)?;
    let ts = std::str::from_utf8(ts).ok()?;
    is_canonical(ts).then(|| (pos + nl as u64 + 1, ts.to_string()))
}

/// Calls `f` on every complete line of `path` from byte `offset` (`None` for
/// a line over [`MAX_LINE`], which is skipped unread); returns the offset
/// just past the last complete line. A trailing line without `\n` is still
/// being written and is left for the next read.
pub(super) fn read_lines(
    path: &Path,
    offset: u64,
    f: impl FnMut(Option<&[u8]>),
) -> std::io::Result<u64> {
    read_lines_max(path, offset, MAX_LINE, f)
}

pub(super) fn read_lines_max(
    path: &Path,
    offset: u64,
    max_line: usize,
    mut f: impl FnMut(Option<&[u8]>),
) -> std::io::Result<u64> {
    // Regular files only, never blocking (a FIFO or /proc/kmsg as a path).
    let mut file = crate::readfile::open_regular(path)?;
    let len = file.metadata()?.len();
    if offset >= len {
        // Nothing new; a file shorter than the offset was truncated or
        // replaced: resume at its end rather than in the middle of a line.
        return Ok(offset.min(len));
    }
    // An offset inside a line (a size taken while Claude Code was writing):
    // that line began before the offset and belongs to the earlier stretch.
    let mut skipping = false; // inside a line not to be handed to `f`
    if offset > 0 {
        file.seek(SeekFrom::Start(offset - 1))?;
        let mut before = [0u8; 1];
        file.read_exact(&mut before)?;
        skipping = before[0] != b'\n';
    }
    file.seek(SeekFrom::Start(offset))?;
    let mut buf: Vec<u8> = vec![0; (1 << 20).min(max_line)];
    let mut filled = 0usize; // bytes in buf
    let mut consumed = offset; // file offset of buf[0]
    loop {
        if filled == buf.len() {
            if buf.len() < max_line {
                let n = (buf.len() * 2).min(max_line);
                buf.resize(n, 0);
            } else {
                // Too long to hold: drop it and skip to its end.
                if !skipping {
                    f(None);
                }
                skipping = true;
                consumed += filled as u64;
                filled = 0;
            }
        }
        // The hook's per-run byte budget (a 50 GB sparse file ends here).
        let room = crate::readfile::allow(buf.len() - filled);
        let n = if room == 0 {
            0
        } else {
            file.read(&mut buf[filled..filled + room])?
        };
        if n == 0 {
            break;
        }
        let scan_from = filled;
        filled += n;
        let Some(last_nl) = memchr::memrchr(b'\n', &buf[scan_from..filled]).map(|i| i + scan_from)
        else {
            continue;
        };
        let mut pos = 0;
        for nl in memchr::memchr_iter(b'\n', &buf[..=last_nl]) {
            if skipping {
                skipping = false;
            } else {
                let line = &buf[pos..nl];
                f(Some(line.strip_suffix(b"\r").unwrap_or(line)));
            }
            pos = nl + 1;
        }
        buf.copy_within(pos..filled, 0);
        consumed += pos as u64;
        filled -= pos;
    }
    Ok(consumed)
}

/// The agents of `missing` whose file is not under another session of the
/// same project folder (`<dir>/<other>/subagents/agent-<id>.jsonl`).
pub(super) fn agents_elsewhere(main: &Path, mut missing: BTreeSet<String>) -> BTreeSet<String> {
    let Some(dir) = main.parent() else {
        return missing;
    };
    let Ok(rd) = std::fs::read_dir(dir) else {
        return missing;
    };
    for e in rd.flatten() {
        if missing.is_empty() {
            break;
        }
        let subs = e.path().join("subagents");
        if subs.is_dir() {
            missing.retain(|a| !subs.join(format!("agent-{a}.jsonl")).is_file());
        }
    }
    missing
}
