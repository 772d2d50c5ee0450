//! Reading files that other programs write (transcripts, the ledger during a
//! scan) without ever blocking: regular files only, opened non-blocking, and
//! an optional byte budget per process run so that a hostile or absurd file
//! (a FIFO, `/proc/kmsg`, a 50 GB sparse transcript) costs bounded time.
//!
//! The budget is per thread and off unless set: `modelfit usage` may read a
//! multi-GB session on purpose, while the hook sets [`set_budget`] once per
//! run and every transcript read draws from it.

use std::cell::Cell;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

thread_local! {
    static BUDGET: Cell<Option<u64>> = const { Cell::new(None) };
}

/// Opens `path` for reading without blocking on a FIFO or device and without
/// taking a controlling terminal; anything but a regular file is refused.
pub fn open_regular(path: &Path) -> io::Result<File> {
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    if !f.metadata()?.is_file() {
        return Err(io::Error::other(format!(
            "{} is not a regular file",
            path.display()
        )));
    }
    Ok(f)
}

/// Sets (or with `None` lifts) the number of bytes this thread may still read
/// through [`allow`].
pub fn set_budget(bytes: Option<u64>) {
    BUDGET.with(|b| b.set(bytes));
}

/// Bytes left in this thread's budget (`None`: unlimited).
pub fn remaining() -> Option<u64> {
    BUDGET.with(Cell::get)
}

/// How many of `wanted` bytes may be read now; the amount is taken from the
/// budget. 0 means the budget is spent: stop reading.
pub fn allow(wanted: usize) -> usize {
    BUDGET.with(|b| match b.get() {
        None => wanted,
        Some(left) => {
            let n = (wanted as u64).min(left);
            b.set(Some(left - n));
            n as usize
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifos_are_refused_without_blocking() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("fifo");
        let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo on a valid C string path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        assert!(open_regular(&p).is_err());
        assert!(open_regular(t.path()).is_err());
        std::fs::write(t.path().join("f"), b"x").unwrap();
        assert!(open_regular(&t.path().join("f")).is_ok());
    }

    #[test]
    fn the_budget_is_drawn_down() {
        set_budget(Some(10));
        assert_eq!(allow(4), 4);
        assert_eq!(allow(100), 6);
        assert_eq!(allow(1), 0);
        set_budget(None);
        assert_eq!(allow(1 << 30), 1 << 30);
    }
}
