//! The ledger store through the real binary: reading every record kind,
//! edge-case files, lossless append and update, concurrency, crashes, corrupt
//! ledgers, locks, and `outcome` / `rotate`.

mod common;

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use common::{assert_js_formatted, elements, Home};
use predicates::prelude::*;
use serde_json::{json, Value};

const K1: &str = "dispatch-1772452800000-9656bj"; // fixture index 7

fn ledger_values(h: &Home) -> Vec<Value> {
    serde_json::from_slice(&h.read_ledger()).unwrap()
}

#[test]
fn check_reads_every_record_kind_of_the_fixture() {
    let h = Home::fixture();
    h.cmd()
        .args(["ledger", "check"])
        .assert()
        .success()
        .stdout(predicate::str::contains("29 records, parses"));
    // Pipeline records without id and batch records are readable by id where they have one.
    h.cmd()
        .args(["ledger", "get", "batch-1772791200000-3y3vwh"])
        .assert()
        .success()
        .stdout(predicate::str::contains("\"type\": \"batch\""));
}

#[test]
fn empty_file_and_empty_array_are_empty_ledgers_that_accept_appends() {
    for fixture in [
        "edge-cases/dispatches.empty-file.json",
        "edge-cases/dispatches.empty-array.json",
    ] {
        let h = Home::with_ledger(fixture);
        h.cmd()
            .args(["ledger", "check"])
            .assert()
            .success()
            .stdout(predicate::str::contains(": 0 records"));
        h.cmd()
            .args(["ledger", "append"])
            .write_stdin(r#"{"id":"dispatch-1-aaaaaa","task":"t","status":"complete"}"#)
            .assert()
            .success();
        let v = ledger_values(&h);
        assert_eq!(v.len(), 1, "{fixture}");
        assert_js_formatted(&h.ledger());
    }
}

#[test]
fn missing_ledger_is_created_on_first_append() {
    let h = Home::with_ledger("");
    h.cmd().args(["ledger", "check"]).assert().success();
    h.cmd()
        .args(["ledger", "append"])
        .write_stdin(r#"{"id":"x","created_at":"2026-01-01T00:00:00.000Z"}"#)
        .assert()
        .success();
    assert_eq!(ledger_values(&h).len(), 1);
    assert_js_formatted(&h.ledger());
}

#[test]
fn truncated_and_wrapped_ledgers_are_refused_with_position_and_left_untouched() {
    let cases = [
        ("edge-cases/dispatches.truncated.json", "line 38, column"),
        (
            "edge-cases/dispatches.wrapped-object.json",
            "top level is an object",
        ),
    ];
    for (fixture, message) in cases {
        let h = Home::with_ledger(fixture);
        let before = h.read_ledger();
        h.cmd()
            .args(["ledger", "check"])
            .assert()
            .failure()
            .stderr(predicate::str::contains(message));
        h.cmd()
            .args(["ledger", "append"])
            .write_stdin(r#"{"id":"new"}"#)
            .assert()
            .failure()
            .stderr(predicate::str::contains("left it untouched"));
        h.cmd()
            .args(["outcome", K1, "success"])
            .assert()
            .failure()
            .stderr(predicate::str::contains(message));
        assert_eq!(h.read_ledger(), before, "{fixture} changed");
    }
}

#[test]
fn corrupt_middle_is_refused_by_append_and_outcome_naming_line_and_column() {
    let h = Home::fixture();
    // Break a record in the middle while keeping a well-formed tail.
    let text = String::from_utf8(h.read_ledger()).unwrap();
    let broken = text.replacen("\"priority\": \"high\",", "\"priority\": \"high\" oops,", 1);
    std::fs::write(h.ledger(), &broken).unwrap();
    let line = broken[..broken.find("oops").unwrap()].matches('\n').count() + 1;
    for args in [vec!["ledger", "append"], vec!["outcome", K1, "failure"]] {
        h.cmd()
            .args(&args)
            .write_stdin(r#"{"id":"new"}"#)
            .assert()
            .failure()
            .code(1)
            .stderr(predicate::str::contains(format!("line {line}, column")));
        assert_eq!(h.read_ledger(), broken.as_bytes());
    }
}

#[test]
fn append_and_update_keep_every_other_record_byte_for_byte() {
    let h = Home::fixture();
    let before = elements(&h.read_ledger());

    h.cmd()
        .args(["ledger", "append"])
        .write_stdin(
            r#"{"id":"dispatch-1800000000000-zzzzzz","task":"naïve — ünïcode","n":[],"o":{}}"#,
        )
        .assert()
        .success();
    h.cmd()
        .args([
            "outcome",
            K1,
            "partial",
            "--time",
            "61",
            "--tokens",
            "1234",
            "--notes",
            "half done",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("outcome: success -> partial"))
        .stdout(predicate::str::contains("tokens_used: 48213 -> 1234"));

    let after = elements(&h.read_ledger());
    assert_eq!(after.len(), before.len() + 1);
    for (i, (a, b)) in before.iter().zip(&after).enumerate() {
        if i == 7 {
            continue;
        }
        assert_eq!(a, b, "record {i} changed");
    }
    // The updated record keeps its fields in order; new ones come at its end.
    let old: serde_json::Map<String, Value> = serde_json::from_slice(&before[7]).unwrap();
    let new: serde_json::Map<String, Value> = serde_json::from_slice(&after[7]).unwrap();
    let old_keys: Vec<_> = old.keys().collect();
    let new_keys: Vec<_> = new.keys().collect();
    assert_eq!(&new_keys[..old_keys.len()], &old_keys[..]);
    assert_eq!(
        new_keys[old_keys.len()..],
        ["outcome_source", "outcome_sources"]
    );
    assert_eq!(new["status"], old["status"]);
    assert_eq!(new["started_at"], old["started_at"]);
    assert_eq!(new["completed_at"], old["completed_at"]);
    assert_eq!(new["outcome_notes"], "half done");
    assert_eq!(new["execution_time_seconds"], 61);
    // And the whole file is still exactly what JSON.stringify(…, null, 2) writes.
    assert_js_formatted(&h.ledger());
}

#[test]
fn outcome_fills_keywords_from_the_original_task_and_never_touches_status() {
    let h = Home::fixture();
    let id = "dispatch-1772791200000-vib0ui"; // running batch member, no outcome yet
    let before: Value = ledger_values(&h)
        .into_iter()
        .find(|r| r["id"] == id)
        .unwrap();
    h.cmd()
        .env("MODELFIT_NOW", "2026-03-06T11:00:00Z")
        .args([
            "outcome",
            id,
            "success",
            "--notes",
            "contact ops@example.com, token=abcd1234efgh5678",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("outcome: success"));
    let after = ledger_values(&h)
        .into_iter()
        .find(|r| r["id"] == id)
        .unwrap();
    assert_eq!(after["status"], before["status"]);
    assert_eq!(after["outcome_source"], "manual");
    assert_eq!(after["outcome_updated_at"], "2026-03-06T11:00:00.000Z");
    let notes = after["outcome_notes"].as_str().unwrap();
    assert!(!notes.contains("ops@example.com"), "{notes}");
    if before.get("task_keywords").is_none() {
        assert!(after["task_keywords"].is_array());
    }
}

#[test]
fn outcome_rejects_unknown_ids_and_outcomes_without_writing() {
    let h = Home::fixture();
    let before = h.read_ledger();
    h.cmd()
        .args(["outcome", "dispatch-0-nope", "success"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "no record with id \"dispatch-0-nope\"",
        ));
    h.cmd()
        .args(["outcome", K1, "great"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("use success, failure or partial"));
    h.cmd()
        .args(["outcome", K1, "success", "--time", "-3"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("--time"));
    assert_eq!(h.read_ledger(), before);
}

#[test]
fn hostile_strings_round_trip_exactly() {
    let h = Home::fixture();
    let nasty = "quote \" backslash \\ nul \u{0} bell \u{7} esc \u{1b}[31m line\nsep \u{2028} emoji 🦀 ../../etc/passwd";
    let rec = json!({"id": "dispatch-1-hostile", "task": nasty});
    h.cmd()
        .args(["ledger", "append"])
        .write_stdin(rec.to_string())
        .assert()
        .success();
    let v = ledger_values(&h);
    assert_eq!(v.last().unwrap()["task"], nasty);
    assert_js_formatted(&h.ledger());
}

#[test]
fn lock_held_by_another_process_times_out_with_a_clear_error() {
    let h = Home::fixture();
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(h.path().join("logs/dispatches.json.lock"))
        .unwrap();
    lock.lock().unwrap();
    let before = h.read_ledger();
    let started = Instant::now();
    h.cmd()
        .env("MODELFIT_LOCK_TIMEOUT_MS", "300")
        .args(["ledger", "append"])
        .write_stdin(r#"{"id":"x"}"#)
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("timed out")
                .and(predicate::str::contains("dispatches.json.lock")),
        );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(h.read_ledger(), before);
    lock.unlock().unwrap();
    h.cmd()
        .args(["ledger", "append"])
        .write_stdin(r#"{"id":"x"}"#)
        .assert()
        .success();
}

#[test]
fn eight_processes_appending_100_records_each_lose_nothing() {
    let h = Home::fixture();
    let bin = common::bin();
    let workers: Vec<_> = (0..8)
        .map(|w| {
            StdCommand::new(&bin)
                .arg("--home")
                .arg(h.path())
                .args(["ledger", "append", "--repeat", "100"])
                .env("MODELFIT_LOCK_TIMEOUT_MS", "600000")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .map(|mut c| {
                    let rec =
                        json!({"id": format!("w{w}"), "task": "concurrent", "status": "complete"});
                    c.stdin
                        .take()
                        .unwrap()
                        .write_all(rec.to_string().as_bytes())
                        .unwrap();
                    c
                })
                .unwrap()
        })
        .collect();
    for c in workers {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.stdout.iter().filter(|b| **b == b'\n').count(), 100);
    }
    let v = ledger_values(&h);
    assert_eq!(v.len(), 29 + 800);
    let ids: HashSet<&str> = v[29..].iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 800, "duplicates among the new records");
    for w in 0..8 {
        for i in 0..100 {
            assert!(ids.contains(format!("w{w}-{i}").as_str()));
        }
    }
    assert_js_formatted(&h.ledger());
}

/// Kills appending processes at random instants; after each kill the ledger
/// (once the next modelfit run has recovered it) parses and holds every record
/// acknowledged before the kill.
#[test]
fn sigkill_at_random_moments_loses_no_acknowledged_record() {
    let h = Home::fixture();
    let bin = common::bin();
    // Big records widen the window in which a kill lands mid-write.
    let big = "x".repeat(64 * 1024);
    let mut acked: Vec<String> = Vec::new();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for round in 0..20 {
        let mut child = StdCommand::new(&bin)
            .arg("--home")
            .arg(h.path())
            .args(["ledger", "append", "--repeat", "100000"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let rec = json!({"id": format!("r{round}"), "blob": big});
        child
            .stdin
            .take()
            .unwrap()
            .write_all(rec.to_string().as_bytes())
            .unwrap();
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        // Even rounds kill while appending after the first acknowledgement (so
        // kills land mid-stream even on a loaded machine); odd rounds at any
        // instant from start-up on.
        if round % 2 == 0 {
            acked.push(
                rx.recv_timeout(Duration::from_secs(60))
                    .expect("no first append"),
            );
            std::thread::sleep(Duration::from_millis(seed % 40));
        } else {
            std::thread::sleep(Duration::from_millis(seed % 150));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        reader.join().unwrap();
        acked.extend(rx.try_iter());

        h.cmd().args(["ledger", "check"]).assert().success();
        let v = ledger_values(&h);
        let ids: HashSet<&str> = v.iter().filter_map(|r| r["id"].as_str()).collect();
        for id in &acked {
            assert!(
                ids.contains(id.as_str()),
                "round {round}: acknowledged {id} lost"
            );
        }
    }
    assert!(
        !acked.is_empty(),
        "no append was ever acknowledged: the test proved nothing"
    );
}

#[test]
fn a_crash_before_the_rename_leaves_the_ledger_whole_and_the_journal_brings_the_write_back() {
    let h = Home::fixture();
    let before = h.read_ledger();
    h.cmd()
        .env("MODELFIT_FAILPOINT", "ledger-before-rename")
        .args(["ledger", "append"])
        .write_stdin(r#"{"id":"crashed","task":"journaled, never renamed"}"#)
        .assert()
        .failure();
    // The ledger is untouched; the write is in the journal (and in every read).
    assert_eq!(h.read_ledger(), before);
    h.cmd()
        .args(["ledger", "get", "crashed"])
        .assert()
        .success();
    h.cmd()
        .args(["ledger", "reconcile"])
        .assert()
        .success()
        .stdout(predicate::str::contains("1 re-applied"));
    let v = ledger_values(&h);
    assert_eq!(v.len(), 30);
    assert_eq!(v[29]["id"], "crashed");
    // The killed process's temporary copy is cleaned by the next write.
    h.cmd().args(["outcome", K1, "failure"]).assert().success();
    let temps: Vec<_> = std::fs::read_dir(h.path().join("logs"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(temps.is_empty(), "{temps:?}");
    assert_js_formatted(&h.ledger());
}

#[test]
fn a_ledger_rewritten_by_another_program_is_revalidated_before_append() {
    let h = Home::fixture();
    h.cmd()
        .args(["ledger", "append"])
        .write_stdin(r#"{"id":"a"}"#)
        .assert()
        .success();
    // The orchestrator truncates and rewrites without a lock; here it leaves garbage.
    std::fs::write(h.ledger(), b"[\n  {\"id\": \"a\"},\n  {oops}\n]").unwrap();
    h.cmd()
        .args(["ledger", "append"])
        .write_stdin(r#"{"id":"b"}"#)
        .assert()
        .failure()
        .stderr(predicate::str::contains("line 3, column 4"));
}

fn rotation_home() -> Home {
    let h = Home::with_ledger("edge-cases/dispatches.empty-array.json");
    for (id, created) in [
        ("old-1", "2026-01-05T10:00:00.000Z"),
        ("old-2", "2026-01-20T10:00:00.000Z"),
        ("old-3", "2026-02-10T10:00:00.000Z"),
        ("new-1", "2026-05-30T10:00:00.000Z"),
    ] {
        h.cmd()
            .args(["ledger", "append"])
            .write_stdin(json!({"id": id, "created_at": created, "task": id}).to_string())
            .assert()
            .success();
    }
    h.cmd()
        .args(["ledger", "append"])
        .write_stdin(r#"{"type":"pr-review","task":"undated"}"#)
        .assert()
        .success();
    h
}

fn archive(h: &Home, month: &str) -> Vec<Value> {
    let p = h
        .path()
        .join(format!("logs/archive/dispatches-{month}.json"));
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

#[test]
fn rotate_moves_old_records_into_monthly_archives() {
    let h = rotation_home();
    let before = h.read_ledger();
    h.cmd()
        .env("MODELFIT_NOW", "2026-06-01T00:00:00Z")
        .args(["rotate", "--older-than", "90d", "--dry-run"])
        .assert()
        .success()
        .stdout(predicate::str::contains("would move 2 record(s)"))
        .stdout(predicate::str::contains("dispatches-2026-01.json"));
    assert_eq!(h.read_ledger(), before);

    h.cmd()
        .env("MODELFIT_NOW", "2026-06-01T00:00:00Z")
        .args(["rotate", "--older-than", "90d"])
        .assert()
        .success()
        .stdout(predicate::str::contains("moved 1 record(s)"));
    let ids: Vec<_> = ledger_values(&h).iter().map(|r| r["id"].clone()).collect();
    assert_eq!(ids, [json!("new-1"), Value::Null]);
    assert_eq!(archive(&h, "2026-01").len(), 2);
    assert_eq!(archive(&h, "2026-02")[0]["id"], "old-3");
    assert_js_formatted(&h.ledger());
    assert_js_formatted(&h.path().join("logs/archive/dispatches-2026-01.json"));
}

#[test]
fn rotate_after_a_crash_between_archive_and_ledger_completes_without_duplicates() {
    let h = rotation_home();
    h.cmd()
        .env("MODELFIT_NOW", "2026-06-01T00:00:00Z")
        .env("MODELFIT_FAILPOINT", "rotate-archived")
        .args(["rotate"])
        .assert()
        .failure();
    // Crashed after writing the archives: the records are in both files, lost from neither.
    assert_eq!(ledger_values(&h).len(), 5);
    assert_eq!(archive(&h, "2026-01").len(), 2);
    h.cmd()
        .env("MODELFIT_NOW", "2026-06-01T00:00:00Z")
        .args(["rotate"])
        .assert()
        .success();
    assert_eq!(ledger_values(&h).len(), 2);
    assert_eq!(archive(&h, "2026-01").len(), 2, "archived twice");
    assert_eq!(archive(&h, "2026-02").len(), 1);
}

#[test]
fn rotate_rejects_a_bad_age() {
    let h = rotation_home();
    h.cmd()
        .args(["rotate", "--older-than", "90 parsecs"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("90d"));
}
