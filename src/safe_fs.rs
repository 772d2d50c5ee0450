//! Opening modelfit's own files without following links an attacker (or an
//! unlucky user) planted: lock files, the journal, the error log and the
//! hook's state. Every such file is opened with `O_NOFOLLOW` and must be a
//! regular file; every state folder must be a real folder (not a symbolic
//! link) inside the home. A link is refused with an error naming it, never
//! written through.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Component, Path};

use crate::error::{Error, Result};

/// Mode of every file modelfit creates (the umask may remove bits).
pub const NEW_FILE_MODE: u32 = 0o644;

/// How a file is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Read only; the file must exist.
    Read,
    /// Read and write, created if missing, never truncated.
    ReadWrite,
    /// Append only (`O_APPEND`), created if missing.
    Append,
}

/// Opens `path` without following a symbolic link at its last component
/// (`O_NOFOLLOW`), without blocking on a FIFO (`O_NONBLOCK`, then cleared),
/// and only if it is a regular file.
pub fn open(path: &Path, mode: Mode) -> Result<File> {
    let mut o = OpenOptions::new();
    match mode {
        Mode::Read => {
            o.read(true);
        }
        Mode::ReadWrite => {
            o.read(true).write(true).create(true).truncate(false);
        }
        Mode::Append => {
            o.append(true).create(true);
        }
    }
    o.mode(NEW_FILE_MODE)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC);
    let file = o.open(path).map_err(|e| {
        if e.raw_os_error() == Some(libc::ELOOP) {
            Error::Unsafe {
                path: path.to_path_buf(),
                why:
                    "it is a symbolic link; modelfit never writes through a link for its own files"
                        .into(),
            }
        } else {
            Error::io("cannot open", path, e)
        }
    })?;
    let meta = file
        .metadata()
        .map_err(|e| Error::io("cannot stat", path, e))?;
    if !meta.is_file() {
        return Err(Error::Unsafe {
            path: path.to_path_buf(),
            why: format!("it is not a regular file ({})", kind(&meta)),
        });
    }
    clear_nonblock(&file);
    Ok(file)
}

/// Clears `O_NONBLOCK` again (it only guarded the open against a FIFO).
fn clear_nonblock(file: &File) {
    use std::os::fd::AsRawFd;
    let fd = file.as_raw_fd();
    // SAFETY: fcntl on a file descriptor this process owns.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags >= 0 {
            libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK);
        }
    }
}

/// What kind of file `meta` describes, for messages.
pub fn kind(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_symlink() {
        "a symbolic link"
    } else {
        "a regular file"
    }
}

/// Makes sure `dir` exists as a real folder: every component below `root`
/// is created if missing and must not be a symbolic link (so state files
/// cannot be redirected outside the home). `dir` must lie under `root`.
pub fn ensure_dir(root: &Path, dir: &Path) -> Result<()> {
    let rel = dir.strip_prefix(root).map_err(|_| Error::Unsafe {
        path: dir.to_path_buf(),
        why: format!("it is not inside the home {}", root.display()),
    })?;
    // The starting folder itself is not modelfit's to judge (it may be a link).
    std::fs::create_dir_all(root).map_err(|e| Error::io("cannot create directory", root, e))?;
    let mut at = root.to_path_buf();
    for c in rel.components() {
        let Component::Normal(name) = c else {
            return Err(Error::Unsafe {
                path: dir.to_path_buf(),
                why: "its path climbs out of the home".into(),
            });
        };
        at.push(name);
        match std::fs::symlink_metadata(&at) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(Error::Unsafe {
                    path: at,
                    why: "it is a symbolic link; modelfit's state folders must be real \
                          folders inside the home (remove the link)"
                        .into(),
                })
            }
            Ok(m) if !m.is_dir() => {
                return Err(Error::Unsafe {
                    path: at,
                    why: format!("it is {}, not a folder", kind(&m)),
                })
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                match std::fs::create_dir(&at) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        // Created meanwhile: check it again on the next pass.
                        return ensure_dir(root, dir);
                    }
                    Err(e) => return Err(Error::io("cannot create directory", &at, e)),
                }
            }
            Err(e) => return Err(Error::io("cannot stat", &at, e)),
        }
    }
    Ok(())
}

/// Makes sure the folder holding `file` is real (see [`ensure_dir`]) when it
/// lies under `root`; outside the home only its existence is ensured.
pub fn ensure_parent(root: &Path, file: &Path) -> Result<()> {
    let Some(dir) = file.parent() else {
        return Ok(());
    };
    if dir.starts_with(root) {
        ensure_dir(root, dir)
    } else {
        std::fs::create_dir_all(dir).map_err(|e| Error::io("cannot create directory", dir, e))
    }
}

/// Identity of a file: device and inode.
pub fn identity(meta: &std::fs::Metadata) -> (u64, u64) {
    (meta.dev(), meta.ino())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_fifos_and_climbing_paths_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let outside = d.path().join("outside");
        std::fs::write(&outside, "keep").unwrap();
        let home = d.path().join("home");
        std::fs::create_dir(&home).unwrap();
        let link = home.join("x.lock");
        std::os::unix::fs::symlink(&outside, &link).unwrap();
        assert!(matches!(
            open(&link, Mode::ReadWrite),
            Err(Error::Unsafe { .. })
        ));
        assert_eq!(std::fs::read_to_string(&outside).unwrap(), "keep");

        let fifo = home.join("f");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        assert!(matches!(open(&fifo, Mode::Read), Err(Error::Unsafe { .. })));

        std::os::unix::fs::symlink(d.path(), home.join("state")).unwrap();
        assert!(ensure_dir(&home, &home.join("state/sessions")).is_err());
        ensure_dir(&home, &home.join("a/b")).unwrap();
        assert!(home.join("a/b").is_dir());
        assert!(ensure_dir(&home, &home.join("../x")).is_err());
    }
}
