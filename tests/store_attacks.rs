//! Issue 12, the store's rows: each attack through the binary on a fresh
//! home, each command bounded by a timeout that fails the test.

mod common;

use std::os::unix::fs::{symlink, PermissionsExt};
use std::time::Duration;

use common::Home;
use predicates::prelude::*;
use serde_json::Value;

const K1: &str = "dispatch-1772452800000-9656bj";
const LIMIT: Duration = Duration::from_secs(20);

fn cmd(h: &Home) -> assert_cmd::Command {
    let mut c = h.cmd();
    c.timeout(LIMIT);
    c
}

fn parses(h: &Home) -> Vec<Value> {
    serde_json::from_slice(&std::fs::read(h.ledger()).unwrap()).expect("the ledger parses")
}

#[test]
fn row4_a_lock_that_is_a_symlink_is_never_written_through() {
    let h = Home::fixture();
    let outside = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(outside.path(), "precious").unwrap();
    symlink(outside.path(), h.path().join("logs/dispatches.json.lock")).unwrap();
    cmd(&h).args(["outcome", K1, "success"]).assert().success();
    assert_eq!(std::fs::read_to_string(outside.path()).unwrap(), "precious");
    let m = std::fs::symlink_metadata(h.path().join("logs/dispatches.json.lock")).unwrap();
    assert!(
        m.is_file(),
        "the link was replaced by a lock file of modelfit's own"
    );
}

#[test]
fn row5_and_6_state_folder_and_log_links_are_refused() {
    let h = Home::fixture();
    let outside = tempfile::tempdir().unwrap();
    symlink(outside.path(), h.path().join("logs/modelfit")).unwrap();
    cmd(&h)
        .args(["ledger", "append"])
        .write_stdin(r#"{"id":"x"}"#)
        .assert()
        .failure()
        .stderr(predicate::str::contains("symbolic link"));
    // The hook never fails, and never writes there either.
    cmd(&h)
        .arg("hook")
        .write_stdin(r#"{"session_id":"s1","hook_event_name":"SessionStart","cwd":"/tmp"}"#)
        .assert()
        .success()
        .stdout("");
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);

    let h = Home::fixture();
    std::fs::create_dir_all(h.path().join("logs/modelfit")).unwrap();
    let log = tempfile::NamedTempFile::new().unwrap();
    symlink(log.path(), h.path().join("logs/modelfit/modelfit.log")).unwrap();
    cmd(&h)
        .arg("hook")
        .write_stdin("not json")
        .assert()
        .success()
        .stdout("");
    assert_eq!(std::fs::read(log.path()).unwrap(), b"");
}

#[test]
fn row7_a_symlinked_ledger_stays_a_link_its_target_updated_its_mode_kept() {
    let h = Home::fixture();
    let real = h.path().join("elsewhere.json");
    std::fs::rename(h.ledger(), &real).unwrap();
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).unwrap();
    symlink(&real, h.ledger()).unwrap();
    cmd(&h).args(["outcome", K1, "partial"]).assert().success();
    cmd(&h)
        .args(["ledger", "append"])
        .write_stdin(r#"{"id":"via-link"}"#)
        .assert()
        .success();
    assert!(std::fs::symlink_metadata(h.ledger())
        .unwrap()
        .file_type()
        .is_symlink());
    let m = std::fs::metadata(&real).unwrap();
    assert_eq!(m.permissions().mode() & 0o7777, 0o640);
    let v = parses(&h);
    assert_eq!(v.len(), 30);
    assert!(v.iter().any(|r| r["id"] == K1 && r["outcome"] == "partial"));
}

#[test]
fn row8_a_read_only_ledger_is_refused_and_left_alone() {
    let h = Home::fixture();
    std::fs::set_permissions(h.ledger(), std::fs::Permissions::from_mode(0o444)).unwrap();
    let before = h.read_ledger();
    cmd(&h)
        .args(["outcome", K1, "success"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("read-only"));
    assert!(h.read_ledger() == before, "the read-only ledger changed");
    let m = std::fs::metadata(h.ledger()).unwrap();
    assert_eq!(m.permissions().mode() & 0o7777, 0o444);
}

#[test]
fn row9_a_full_disk_leaves_a_parsing_ledger_and_says_so() {
    let h = Home::fixture();
    let before = h.read_ledger();
    for point in ["ledger-enospc", "journal-enospc"] {
        cmd(&h)
            .env("MODELFIT_FAILPOINT", point)
            .args(["outcome", K1, "success"])
            .assert()
            .failure()
            .stderr(predicate::str::contains("disk is full"));
        assert!(h.read_ledger() == before, "{point}: the ledger changed");
    }
    // The cut journal line is skipped; the next write works.
    cmd(&h).args(["outcome", K1, "success"]).assert().success();
    assert_eq!(parses(&h).len(), 29);
}

/// The same on a real 1 MB tmpfs (CI runs as root). Where mounting is not
/// allowed this fails with a hint: set MODELFIT_NO_TMPFS=1 to rely on the
/// failpoint test above, never a silent pass.
#[test]
fn row9_a_full_tmpfs_leaves_a_parsing_ledger_and_says_so() {
    if std::env::var_os("MODELFIT_NO_TMPFS").is_some() {
        eprintln!("MODELFIT_NO_TMPFS set: the ENOSPC case is covered by the failpoint test only");
        return;
    }
    let h = Home::fixture();
    let mnt = h.path().join("small");
    std::fs::create_dir(&mnt).unwrap();
    let ok = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=256k", "tmpfs"])
        .arg(&mnt)
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "cannot mount a tmpfs (needs root, as in CI); run as root or set MODELFIT_NO_TMPFS=1"
    );
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _guard = Unmount(mnt.clone());
    let home = mnt.join("home");
    std::fs::create_dir_all(home.join("logs")).unwrap();
    std::fs::copy(h.ledger(), home.join("logs/dispatches.json")).unwrap();
    let blob = "x".repeat(40_000);
    let mut full = false;
    for i in 0..20 {
        let out = assert_cmd::Command::cargo_bin("modelfit")
            .unwrap()
            .arg("--home")
            .arg(&home)
            .args(["ledger", "append"])
            .write_stdin(format!(r#"{{"id":"big-{i}","blob":"{blob}"}}"#))
            .timeout(LIMIT)
            .output()
            .unwrap();
        let bytes = std::fs::read(home.join("logs/dispatches.json")).unwrap();
        serde_json::from_slice::<Vec<Value>>(&bytes).expect("parses after every write");
        if !out.status.success() {
            assert!(
                String::from_utf8_lossy(&out.stderr).contains("disk is full"),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            full = true;
            break;
        }
    }
    assert!(full, "the tmpfs never filled up");
}

#[test]
fn row10_a_fifo_or_dev_zero_ledger_is_refused_in_bounded_time() {
    let h = Home::fixture();
    std::fs::remove_file(h.ledger()).unwrap();
    let c = std::ffi::CString::new(h.ledger().to_str().unwrap()).unwrap();
    // SAFETY: mkfifo on a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    cmd(&h)
        .args(["ledger", "check"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("regular file"));
    cmd(&h)
        .arg("hook")
        .write_stdin(
            r#"{"session_id":"s","hook_event_name":"UserPromptSubmit","cwd":"/tmp","prompt":"x"}"#,
        )
        .assert()
        .success()
        .stdout("");
    std::fs::remove_file(h.ledger()).unwrap();
    symlink("/dev/zero", h.ledger()).unwrap();
    cmd(&h)
        .args(["outcome", K1, "success"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("regular file"));
}

#[test]
fn row11_a_lone_surrogate_is_read_as_javascript_does_and_kept_byte_for_byte() {
    let h = Home::fixture();
    let text = String::from_utf8(h.read_ledger()).unwrap();
    let bad = "  {\n    \"id\": \"lone\",\n    \"task\": \"emoji \\ud83d cut\"\n  },\n";
    let text = text.replacen("[\n", &format!("[\n{bad}"), 1);
    std::fs::write(h.ledger(), &text).unwrap();
    cmd(&h)
        .args(["ledger", "check"])
        .assert()
        .success()
        .stdout(predicate::str::contains("30 records"))
        .stderr(predicate::str::contains("lone"));
    cmd(&h)
        .args(["ledger", "get", "lone"])
        .assert()
        .success()
        .stdout(predicate::str::contains("emoji \u{fffd} cut"));
    cmd(&h).args(["outcome", K1, "success"]).assert().success();
    let after = String::from_utf8(h.read_ledger()).unwrap();
    assert!(after.contains(bad), "the untouched record kept its bytes");
    cmd(&h)
        .arg("doctor")
        .assert()
        .stdout(predicate::str::contains("the ledger parses (30 records)"));
}

#[test]
fn row12_numbers_javascript_accepts_are_valid_and_kept_as_written() {
    let h = Home::fixture();
    let text = String::from_utf8(h.read_ledger()).unwrap();
    let odd = "  {\n    \"id\": \"nums\",\n    \"big\": 1e400,\n    \"dup\": 1,\n    \"dup\": 2,\n    \"huge\": 123456789012345678901234567890,\n    \"e\": 1E5\n  },\n";
    std::fs::write(h.ledger(), text.replacen("[\n", &format!("[\n{odd}"), 1)).unwrap();
    for args in [&["ledger", "check"][..], &["learn", "analyze"][..]] {
        cmd(&h).args(args).assert().success();
    }
    cmd(&h).args(["outcome", K1, "success"]).assert().success();
    assert!(String::from_utf8(h.read_ledger()).unwrap().contains(odd));
    cmd(&h)
        .args(["outcome", "nums", "success"])
        .assert()
        .success();
    // The edited record keeps its numbers as written; only new fields are serialized.
    let after = String::from_utf8(h.read_ledger()).unwrap();
    for kept in [
        "\"big\": 1e400,",
        "\"huge\": 123456789012345678901234567890,",
        "\"e\": 1E5",
        "\"dup\": 2,",
    ] {
        assert!(after.contains(kept), "{kept} lost in:\n{after}");
    }
    assert!(!after.contains("100000.0") && !after.contains("1.7976931348623157e308"));
    cmd(&h)
        .args(["ledger", "get", "nums"])
        .assert()
        .success()
        .stdout(predicate::str::contains("\"outcome\": \"success\""));
    cmd(&h).args(["ledger", "check"]).assert().success();
}

#[test]
fn row13_temp_copies_of_killed_writes_are_reported_and_cleaned() {
    let h = Home::fixture();
    let tmp = h.path().join("logs/.dispatches.json.modelfit-999999-1.tmp");
    std::fs::write(&tmp, "partial").unwrap();
    cmd(&h)
        .arg("doctor")
        .assert()
        .stdout(predicate::str::contains("temporary ledger copy"));
    cmd(&h).args(["outcome", K1, "success"]).assert().success();
    assert!(!tmp.exists());
}

#[test]
fn trailing_newline_after_the_bracket_is_kept_by_appends() {
    let h = Home::fixture();
    let mut text = h.read_ledger();
    text.extend_from_slice(b"\n  \n");
    std::fs::write(h.ledger(), &text).unwrap();
    cmd(&h)
        .args(["ledger", "append"])
        .write_stdin(r#"{"id":"tail"}"#)
        .assert()
        .success();
    let after = h.read_ledger();
    assert!(
        after.ends_with(b"\n]\n  \n"),
        "{:?}",
        String::from_utf8_lossy(&after[after.len() - 20..])
    );
    assert_eq!(parses(&h).len(), 30);
}
