//! The commit and branch a task left, read from `.git` directly (never by
//! running git, which would cost milliseconds and could run hooks).

use std::fs;
use std::path::Path;

/// The commit and branch checked out in the repository containing `dir`,
/// read from `.git` directly (HEAD → ref → loose ref or `packed-refs`;
/// worktrees and `gitdir:` files; a detached HEAD has no branch).
pub fn git_head(dir: &Path) -> Option<(String, Option<String>)> {
    let mut cur = Some(dir);
    let mut depth = 0;
    while let Some(d) = cur {
        let dotgit = d.join(".git");
        if let Ok(meta) = fs::metadata(&dotgit) {
            let gitdir = if meta.is_dir() {
                dotgit
            } else {
                let text = read_git_file(&dotgit).ok()?;
                let target = text.lines().find_map(|l| l.strip_prefix("gitdir:"))?.trim();
                let p = Path::new(target);
                if p.is_absolute() {
                    p.to_path_buf()
                } else {
                    d.join(p)
                }
            };
            return read_head(&gitdir);
        }
        depth += 1;
        if depth > 64 {
            return None;
        }
        cur = d.parent();
    }
    None
}

/// Reads a file of a git directory: regular files only (a FIFO planted in a
/// hostile checkout would block the hook), at most 64 MB.
fn read_git_file(path: &Path) -> std::io::Result<String> {
    let meta = fs::metadata(path)?;
    if !meta.is_file() || meta.len() > 64 << 20 {
        return Err(std::io::Error::other("not a small regular file"));
    }
    fs::read_to_string(path)
}

fn read_head(gitdir: &Path) -> Option<(String, Option<String>)> {
    let common = read_git_file(&gitdir.join("commondir"))
        .ok()
        .map(|c| {
            let p = Path::new(c.trim());
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                gitdir.join(p)
            }
        })
        .unwrap_or_else(|| gitdir.to_path_buf());
    let head = read_git_file(&gitdir.join("HEAD")).ok()?;
    let mut head = head.trim().to_string();
    let mut branch = None;
    for _ in 0..5 {
        match head.strip_prefix("ref:") {
            Some(r) => {
                let r = r.trim().to_string();
                if !r.starts_with("refs/") || r.contains("..") {
                    return None;
                }
                if branch.is_none() {
                    branch = Some(r.strip_prefix("refs/heads/").unwrap_or(&r).to_string());
                }
                head = resolve_ref(gitdir, &common, &r)?;
            }
            None => break,
        }
    }
    let is_sha =
        (head.len() == 40 || head.len() == 64) && head.bytes().all(|b| b.is_ascii_hexdigit());
    is_sha.then_some((head, branch))
}

fn resolve_ref(gitdir: &Path, common: &Path, r: &str) -> Option<String> {
    for base in [gitdir, common] {
        if let Ok(text) = read_git_file(&base.join(r)) {
            return Some(text.trim().to_string());
        }
    }
    let packed = read_git_file(&common.join("packed-refs")).ok()?;
    packed
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with('^'))
        .find_map(|l| {
            let (sha, name) = l.split_once(' ')?;
            (name.trim() == r).then(|| sha.to_string())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_head_reads_loose_packed_detached_and_worktrees() {
        let t = tempfile::tempdir().unwrap();
        let repo = t.path().join("r");
        let g = repo.join(".git");
        fs::create_dir_all(g.join("refs/heads")).unwrap();
        let sha = "0123456789abcdef0123456789abcdef01234567";
        fs::write(g.join("HEAD"), "ref: refs/heads/main\n").unwrap();
        fs::write(g.join("refs/heads/main"), format!("{sha}\n")).unwrap();
        fs::create_dir_all(repo.join("src/deep")).unwrap();
        assert_eq!(
            git_head(&repo.join("src/deep")),
            Some((sha.to_string(), Some("main".to_string())))
        );
        // packed
        fs::remove_file(g.join("refs/heads/main")).unwrap();
        fs::write(
            g.join("packed-refs"),
            format!("# pack-refs with: peeled\n{sha} refs/heads/main\n^ffff\n"),
        )
        .unwrap();
        assert_eq!(git_head(&repo).unwrap().0, sha);
        // worktree via gitdir: file + commondir
        let wt_admin = g.join("worktrees/w1");
        fs::create_dir_all(&wt_admin).unwrap();
        fs::write(wt_admin.join("HEAD"), "ref: refs/heads/main\n").unwrap();
        fs::write(wt_admin.join("commondir"), "../..\n").unwrap();
        let wt = t.path().join("wt");
        fs::create_dir_all(&wt).unwrap();
        fs::write(wt.join(".git"), format!("gitdir: {}\n", wt_admin.display())).unwrap();
        assert_eq!(
            git_head(&wt),
            Some((sha.to_string(), Some("main".to_string())))
        );
        // detached
        fs::write(g.join("HEAD"), format!("{sha}\n")).unwrap();
        assert_eq!(git_head(&repo), Some((sha.to_string(), None)));
        // A FIFO planted as HEAD is not opened (it would block forever).
        fs::remove_file(g.join("HEAD")).unwrap();
        let c = std::ffi::CString::new(g.join("HEAD").to_str().unwrap()).unwrap();
        // SAFETY: mkfifo on a valid C string path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        assert_eq!(git_head(&repo), None);
    }
}
