//! Reading the ledger only once it has settled, and replacing it only from a
//! state validated a moment before.
//!
//! The orchestrator's writers rewrite the ledger in place (truncate, then
//! write) or by rename, without a lock. So modelfit never decides from a
//! ledger that does not parse, that is empty where it held records, or that
//! holds fewer records than modelfit last saw: it waits and reads again
//! (bounded). A state that stays the same for [`STABLE`] is taken as what it
//! is (a real corruption is refused; a deliberate shrink accepted).
//!
//! A replacement is written to a temporary file beside the ledger (its mode
//! kept, a symlinked ledger's target updated), synced, then renamed over the
//! ledger only if the ledger's identity (device, inode, size, times) is still
//! the one validated. After the rename the old inode is checked again: a
//! writer that opened it in between (its bytes now orphaned) is noticed and
//! its content becomes the base of the next attempt.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::FileState;
use crate::error::{Error, Result};

/// A suspicious state unchanged for this long is what it is, not a writer mid-write.
pub const STABLE: Duration = Duration::from_millis(1000);

/// Temporary files of killed processes older than this are removed.
pub const STALE_TEMP: Duration = Duration::from_secs(600);

/// One validated state of the ledger.
#[derive(Debug)]
pub struct Snap {
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// Each record's byte span.
    pub spans: Vec<(usize, usize)>,
    /// Its identity when read; `None` when the file does not exist.
    pub state: Option<FileState>,
    /// Its permission bits.
    pub mode: Option<u32>,
}

/// What a settled read found.
#[derive(Debug)]
pub enum Settled {
    /// A state to decide from.
    Ready(Snap),
    /// Another program kept it unparseable, empty or shrunk for the whole budget.
    Busy(String),
}

/// The file to read and replace: the ledger, or the target of a symlinked ledger.
pub fn target(path: &Path) -> Result<PathBuf> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            let link =
                std::fs::read_link(path).map_err(|e| Error::io("cannot read the link", path, e))?;
            let to = if link.is_absolute() {
                link
            } else {
                path.parent().unwrap_or(Path::new(".")).join(link)
            };
            // A chain of links: follow it to the end (bounded).
            match std::fs::canonicalize(&to) {
                Ok(t) => Ok(t),
                Err(_) => Ok(to),
            }
        }
        _ => Ok(path.to_path_buf()),
    }
}

/// Reads `target` (or, when given, the already open `fd`) once, with the
/// identity before and after the read equal.
fn read_once(target: &Path, fd: Option<&File>) -> Result<Option<(Vec<u8>, std::fs::Metadata)>> {
    let owned;
    let f = match fd {
        Some(f) => f,
        None => {
            owned = match OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
                .open(target)
            {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(Error::io("cannot read", target, e)),
            };
            &owned
        }
    };
    for _ in 0..50 {
        let before = f
            .metadata()
            .map_err(|e| Error::io("cannot stat", target, e))?;
        if !before.is_file() {
            return Err(Error::Unsafe {
                path: target.to_path_buf(),
                why: format!(
                    "it is {}; the ledger must be a regular file",
                    crate::safe_fs::kind(&before)
                ),
            });
        }
        let mut bytes = Vec::with_capacity(before.len() as usize + 1);
        let mut r = f;
        std::io::Seek::seek(&mut r, std::io::SeekFrom::Start(0))
            .map_err(|e| Error::io("cannot read", target, e))?;
        r.read_to_end(&mut bytes)
            .map_err(|e| Error::io("cannot read", target, e))?;
        let after = f
            .metadata()
            .map_err(|e| Error::io("cannot stat", target, e))?;
        if FileState::of(&before) == FileState::of(&after) && bytes.len() as u64 == after.len() {
            return Ok(Some((bytes, after)));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    Err(Error::Invalid(format!(
        "{} kept changing while modelfit read it",
        target.display()
    )))
}

/// What is wrong with a state, if anything.
enum Bad {
    Parse(Error),
    Empty,
    Shrunk(usize),
}

/// Reads the ledger until it settles (see the module doc), within `budget`.
/// `seen_records` is how many records modelfit last saw. `fd` reads an
/// already open inode instead of the path.
pub fn settle(
    target: &Path,
    fd: Option<&File>,
    seen_records: u64,
    budget: Duration,
) -> Result<Settled> {
    let started = Instant::now();
    let mut first_bad: Option<(Option<FileState>, Instant)> = None;
    let mut pause = Duration::from_millis(3);
    loop {
        let (bytes, meta) = match read_once(target, fd)? {
            Some(x) => x,
            None => {
                return Ok(Settled::Ready(Snap {
                    bytes: Vec::new(),
                    spans: Vec::new(),
                    state: None,
                    mode: None,
                }))
            }
        };
        let state = FileState::of(&meta);
        let blank = bytes.iter().all(u8::is_ascii_whitespace);
        let verdict = if blank {
            if seen_records > 0 {
                Err(Bad::Empty)
            } else {
                Ok(Vec::new())
            }
        } else {
            match super::element_spans(target, &bytes) {
                Ok(spans) if (spans.len() as u64) < seen_records => Err(Bad::Shrunk(spans.len())),
                Ok(spans) => Ok(spans),
                Err(e @ Error::Shape { .. }) => return Err(e),
                Err(e) => Err(Bad::Parse(e)),
            }
        };
        let bad = match verdict {
            Ok(spans) => {
                return Ok(Settled::Ready(Snap {
                    bytes,
                    spans,
                    state: Some(state),
                    mode: Some(meta.permissions().mode()),
                }))
            }
            Err(b) => b,
        };
        let stable = match &first_bad {
            Some((s, since)) if *s == Some(state) => since.elapsed() >= STABLE,
            _ => {
                first_bad = Some((Some(state), Instant::now()));
                false
            }
        };
        if stable {
            match bad {
                // Not a writer mid-write: a real corruption, refused as always.
                Bad::Parse(e) => return Err(e),
                // Emptied or shrunk on purpose (by a person, a rotation): take it.
                Bad::Empty | Bad::Shrunk(_) => {
                    let spans = if blank {
                        Vec::new()
                    } else {
                        super::element_spans(target, &bytes)?
                    };
                    return Ok(Settled::Ready(Snap {
                        bytes,
                        spans,
                        state: Some(state),
                        mode: Some(meta.permissions().mode()),
                    }));
                }
            }
        }
        if started.elapsed() >= budget {
            let why = match bad {
                Bad::Parse(e) => format!("it does not parse right now ({e})"),
                Bad::Empty => "it is empty where it held records".to_string(),
                Bad::Shrunk(n) => {
                    format!("it holds {n} records where modelfit last saw {seen_records}")
                }
            };
            return Ok(Settled::Busy(format!(
                "{} is being rewritten by another program: {why}",
                target.display()
            )));
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

/// How a guarded replacement went.
pub enum Replaced {
    /// The ledger changed after it was validated: nothing written, read again.
    Changed,
    /// Written; the new file's identity.
    Done(FileState),
    /// Written, but a writer wrote into the old file after it was validated:
    /// its bytes are in `File` (the orphaned inode), to be merged.
    Orphaned(File, FileState),
}

/// Replaces `target` by `bytes` if its identity is still `expect` (`None`:
/// it must not exist), keeping its mode (new files [`crate::safe_fs::NEW_FILE_MODE`]).
pub fn replace_guarded(
    target: &Path,
    expect: Option<FileState>,
    mode: Option<u32>,
    bytes: &[u8],
) -> Result<Replaced> {
    let dir = target.parent().unwrap_or(Path::new("."));
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    clean_stale_temps(dir, &name);
    // Held open to notice, after the rename, a writer that wrote into it meanwhile.
    let old = match expect {
        Some(_) => OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(target)
            .ok(),
        None => None,
    };
    if let Some(o) = &old {
        let m = o
            .metadata()
            .map_err(|e| Error::io("cannot stat", target, e))?;
        if Some(FileState::of(&m)) != expect {
            return Ok(Replaced::Changed);
        }
        refuse_read_only(target, &m)?;
    } else if expect.is_some() {
        return Ok(Replaced::Changed);
    }
    let tmp = dir.join(format!(
        ".{name}.modelfit-{}-{}.tmp",
        std::process::id(),
        super::journal::now_ms()
    ));
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(crate::safe_fs::NEW_FILE_MODE)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&tmp)
        .map_err(|e| Error::io("cannot create a temporary file in", dir, e))?;
    let res = (|| -> Result<()> {
        let perm = mode.map_or(crate::safe_fs::NEW_FILE_MODE, |m| m & 0o7777);
        f.set_permissions(std::fs::Permissions::from_mode(perm))
            .map_err(|e| Error::io("cannot set the mode of", &tmp, e))?;
        if super::failpoint("ledger-enospc") {
            let _ = f.write_all(&bytes[..bytes.len() / 2]);
            return Err(Error::io(
                "cannot write",
                target,
                std::io::Error::from_raw_os_error(libc::ENOSPC),
            ));
        }
        f.write_all(bytes)
            .and_then(|_| f.sync_all())
            .map_err(|e| Error::io("cannot write", target, e))?;
        if super::failpoint("ledger-before-rename") {
            std::process::abort();
        }
        Ok(())
    })();
    if let Err(e) = res {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    // The identity, right before the rename.
    let now = std::fs::metadata(target).ok().map(|m| FileState::of(&m));
    if now != expect {
        let _ = std::fs::remove_file(&tmp);
        return Ok(Replaced::Changed);
    }
    if let Err(e) = std::fs::rename(&tmp, target) {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io("cannot replace", target, e));
    }
    // No fsync of the folder: were the rename lost in a power cut, the old
    // ledger stays whole and the (synced) journal brings the write back.
    let new_state = f
        .metadata()
        .map(|m| FileState::of(&m))
        .map_err(|e| Error::io("cannot stat", target, e))?;
    // And after it: did anyone write into the file we replaced? (Its ctime
    // moved with the rename itself; size and mtime move only with a write.)
    if let Some(o) = old {
        let m = o
            .metadata()
            .map_err(|e| Error::io("cannot stat", target, e))?;
        if expect.is_some_and(|e| !FileState::of(&m).same_content(&e)) {
            return Ok(Replaced::Orphaned(o, new_state));
        }
    }
    Ok(Replaced::Done(new_state))
}

/// A ledger without any write permission bit, or one this user may not
/// write, is never replaced behind its owner's back.
fn refuse_read_only(target: &Path, m: &std::fs::Metadata) -> Result<()> {
    let mode = m.permissions().mode();
    let denied = {
        use std::os::unix::ffi::OsStrExt;
        let c = std::ffi::CString::new(target.as_os_str().as_bytes()).ok();
        // SAFETY: access(2) on a NUL-terminated path.
        c.is_some_and(|c| unsafe { libc::access(c.as_ptr(), libc::W_OK) } != 0)
    };
    if mode & 0o222 == 0 || denied {
        return Err(Error::ReadOnly {
            path: target.to_path_buf(),
            mode: mode & 0o7777,
        });
    }
    Ok(())
}

/// Temporary files beside the ledger (`.<name>.modelfit-<pid>-<ms>.tmp`)
/// whose process is gone or which are older than [`STALE_TEMP`].
pub fn stale_temps(dir: &Path, name: &str) -> Vec<PathBuf> {
    let prefix = format!(".{name}.modelfit-");
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            let rest = n.strip_prefix(&prefix)?.strip_suffix(".tmp")?;
            let pid: i32 = rest.split('-').next()?.parse().ok()?;
            // SAFETY: kill with signal 0 only checks that the process exists.
            let gone = unsafe { libc::kill(pid, 0) } != 0
                && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
            let old = e
                .metadata()
                .ok()
                .and_then(|m| m.modified().ok())
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|a| a > STALE_TEMP);
            let mine = pid as u32 == std::process::id();
            ((gone || old) && !mine).then(|| e.path())
        })
        .collect()
}

fn clean_stale_temps(dir: &Path, name: &str) {
    for p in stale_temps(dir, name) {
        let _ = std::fs::remove_file(p);
    }
}

/// Mode bits of a file, for tests and doctor.
pub fn mode_of(path: &Path) -> Option<u32> {
    std::fs::metadata(path).ok().map(|m| m.mode() & 0o7777)
}
