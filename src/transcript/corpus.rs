//! Totals over a folder of sessions: one project folder
//! (`~/.claude/projects/<project>/`) or the whole `projects/` tree, per
//! session, per day and per model, in one process.
//!
//! Every session is read as `usage` reads one (main transcript, subagent and
//! compaction files, responses grouped and `/btw` replays dropped), files in
//! parallel. Then a response found in several sessions (a resumed session's
//! copied prefix) is counted once, in the session it came from: the one that
//! started first (then ended first; see `resume`), and the others report it
//! in [`Summary::copied_from`].

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use super::resume::rank;
use super::{read_responses, Copied, Response, Summary};
use crate::error::{Error, Result};

/// One session's totals in a corpus.
#[derive(Debug, Clone)]
pub struct SessionTotal {
    /// Session id (the main transcript's file stem).
    pub id: String,
    /// Project folder name (`-home-me-proj`).
    pub project: String,
    /// The main transcript.
    pub path: PathBuf,
    /// What the session shows; `by_model`, `long_context` and `responses`
    /// hold only the responses it owns (not those copied from another session).
    pub summary: Summary,
}

/// What a folder of sessions shows.
#[derive(Debug, Clone, Default)]
pub struct Corpus {
    /// Sessions, oldest first.
    pub sessions: Vec<SessionTotal>,
    /// Per UTC day (`YYYY-MM-DD`, or `unknown`): responses, `by_model`, `long_context`.
    pub days: BTreeMap<String, Summary>,
    /// Everything: responses, `by_model`, `long_context`.
    pub total: Summary,
    /// Session transcripts that could not be read, with the reason.
    pub unreadable: Vec<(PathBuf, String)>,
}

/// The session transcripts under `root`: `*.jsonl` files that are not
/// subagent files (`subagents/` folders, legacy `agent-*.jsonl`). A folder
/// holding `projects/` (a Claude config folder) is read from there.
pub fn session_files(root: &Path) -> Vec<PathBuf> {
    let projects = root.join("projects");
    let root = if projects.is_dir() {
        projects
    } else {
        root.to_path_buf()
    };
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let Ok(ft) = e.file_type() else { continue };
            let name = e.file_name();
            let name = name.to_string_lossy();
            if ft.is_dir() {
                if name != "subagents" {
                    stack.push(p);
                }
            } else if ft.is_file() && name.ends_with(".jsonl") && !name.starts_with("agent-") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Reads every session under `root` with up to `threads` threads (0: as many
/// as the machine has) and totals them. Errors only when `root` is not a folder.
pub fn read_folder(root: &Path, threads: usize) -> Result<Corpus> {
    if !root.is_dir() {
        return Err(Error::Invalid(format!(
            "{}: not a folder (give a project folder or ~/.claude/projects)",
            root.display()
        )));
    }
    let files = session_files(root);
    let read = read_all(&files, threads);
    Ok(total(read))
}

type Read = (
    PathBuf,
    std::result::Result<(Summary, Vec<Response>), String>,
);

/// Reads the sessions in parallel, biggest first so the threads end together.
/// Each thread keeps only the compact per-response figures, so memory grows
/// with the number of responses, not with the bytes read.
fn read_all(files: &[PathBuf], threads: usize) -> Vec<Read> {
    let mut order: Vec<(u64, usize)> = files
        .iter()
        .enumerate()
        .map(|(i, p)| (std::fs::metadata(p).map_or(0, |m| m.len()), i))
        .collect();
    order.sort_by(|a, b| b.cmp(a));
    let threads = match threads {
        0 => std::thread::available_parallelism().map_or(1, usize::from),
        n => n,
    }
    .clamp(1, files.len().max(1));
    let next = AtomicUsize::new(0);
    let slots: Mutex<Vec<Option<Read>>> = Mutex::new((0..files.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let Some(&(_, i)) = order.get(n) else { break };
                let r = read_responses(&files[i]).map_err(|e| e.to_string());
                slots.lock().unwrap_or_else(|e| e.into_inner())[i] = Some((files[i].clone(), r));
            });
        }
    });
    slots
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .flatten()
        .collect()
}

fn total(read: Vec<Read>) -> Corpus {
    let mut corpus = Corpus::default();
    let mut sessions: Vec<(SessionTotal, Vec<Response>)> = Vec::new();
    for (path, r) in read {
        match r {
            Ok((summary, responses)) => {
                let id = path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let project = path
                    .parent()
                    .and_then(|p| p.file_name())
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                sessions.push((
                    SessionTotal {
                        id,
                        project,
                        path,
                        summary,
                    },
                    responses,
                ));
            }
            Err(e) => corpus.unreadable.push((path, e)),
        }
    }
    // Oldest first: the order that decides who owns a shared response.
    sessions.sort_by(|(a, _), (b, _)| {
        rank(
            a.summary.first_timestamp.as_deref(),
            a.summary.last_timestamp.as_deref(),
            &a.path,
        )
        .cmp(&rank(
            b.summary.first_timestamp.as_deref(),
            b.summary.last_timestamp.as_deref(),
            &b.path,
        ))
    });
    let mut owner: HashMap<u64, usize> = HashMap::new();
    for (i, (_, responses)) in sessions.iter().enumerate() {
        for k in responses.iter().filter_map(|r| r.key) {
            owner.entry(k).or_insert(i);
        }
    }
    let ids: Vec<String> = sessions.iter().map(|(s, _)| s.id.clone()).collect();
    for (i, (session, responses)) in sessions.iter_mut().enumerate() {
        let s = &mut session.summary;
        s.by_model.clear();
        s.long_context.clear();
        s.responses = 0;
        for r in responses.drain(..) {
            match r.key.and_then(|k| owner.get(&k)).copied() {
                Some(o) if o != i => {
                    let c = s
                        .copied_from
                        .entry(ids[o].clone())
                        .or_insert(Copied::default());
                    c.responses += 1;
                    c.tokens.add(&r.tokens);
                }
                _ => {
                    count(s, &r);
                    count(&mut corpus.total, &r);
                    let day = r
                        .day
                        .and_then(|d| String::from_utf8(d.to_vec()).ok())
                        .unwrap_or_else(|| "unknown".into());
                    count(corpus.days.entry(day).or_default(), &r);
                }
            }
        }
    }
    corpus.sessions = sessions.into_iter().map(|(s, _)| s).collect();
    corpus
}

fn count(s: &mut Summary, r: &Response) {
    s.responses += 1;
    s.by_model
        .entry(r.model.to_string())
        .or_default()
        .add(&r.tokens);
    if r.long_context() {
        s.long_context
            .entry(r.model.to_string())
            .or_default()
            .add(&r.tokens);
    }
}
