//! Exclusive advisory locks on sidecar lock files (`flock` through std's
//! `File::lock`), with a bounded wait. Every shared file modelfit writes is
//! guarded this way; the lock lives on a separate, stable file because a
//! lock taken on a file that is then replaced by rename stays with the old inode.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::safe_fs;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// How long a write waits for a lock unless told otherwise: 10 s, or
/// `MODELFIT_LOCK_TIMEOUT_MS`.
pub fn default_timeout() -> Duration {
    std::env::var("MODELFIT_LOCK_TIMEOUT_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map(Duration::from_millis)
        .unwrap_or(Duration::from_secs(10))
}

/// Opens (creating it and its directory if needed) and exclusively locks
/// `path`, polling with a short backoff until `timeout`, then failing with
/// [`Error::LockTimeout`]. The lock is released when the file is dropped.
pub fn acquire(path: &Path, timeout: Duration) -> Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io("cannot create directory", dir, e))?;
    }
    let file = match safe_fs::open(path, safe_fs::Mode::ReadWrite) {
        Ok(f) => f,
        // A symbolic link (or another odd file) planted where the lock belongs:
        // the link is replaced by a fresh lock file, its target never touched.
        Err(Error::Unsafe { .. })
            if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) =>
        {
            std::fs::remove_file(path).map_err(|e| Error::io("cannot remove the link", path, e))?;
            safe_fs::open(path, safe_fs::Mode::ReadWrite)?
        }
        Err(e) => return Err(e),
    };
    let started = Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) => {
                if started.elapsed() >= timeout {
                    return Err(Error::LockTimeout {
                        path: path.to_path_buf(),
                        waited: timeout,
                    });
                }
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(Error::io("cannot lock", path, e)),
        }
    }
}

/// Whether another process holds the lock on `path` right now (taking and
/// releasing it at once if it is free).
pub fn is_held(path: &Path) -> bool {
    let Ok(f) = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
    else {
        return false;
    };
    matches!(f.try_lock(), Err(std::fs::TryLockError::WouldBlock))
}
