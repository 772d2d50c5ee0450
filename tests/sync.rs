//! `modelfit sync` and `modelfit learn --database` against a real PostgreSQL
//! (a throwaway cluster per test, see tests/pgcluster). Needs Debian's
//! `postgresql` package; fails with the install hint when it is missing.
#![cfg(feature = "postgres")]

mod pgcluster;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;
use modelfit::learn::simulate::{self, World};
use pgcluster::Cluster;
use serde_json::{json, Value};

const NOW: &str = "2026-06-01T00:00:00Z";
const MACHINES: usize = 6;

fn modelfit(home: &Path) -> Command {
    let mut c = Command::cargo_bin("modelfit").unwrap();
    c.env("MODELFIT_NOW", NOW)
        .env_remove("MODELFIT_DATABASE_URL")
        .env_remove("PGPASSWORD")
        .arg("--home")
        .arg(home)
        .timeout(Duration::from_secs(120));
    c
}

fn new_home(root: &Path, name: &str, rules: [usize; 3]) -> PathBuf {
    let h = root.join(name);
    std::fs::create_dir_all(h.join("logs")).unwrap();
    std::fs::create_dir_all(h.join("config/orchestrator")).unwrap();
    std::fs::write(
        h.join("config/orchestrator/models.json"),
        simulate::models_json(rules),
    )
    .unwrap();
    h
}

fn write_ledger(home: &Path, records: &[Value]) {
    std::fs::write(
        home.join("logs/dispatches.json"),
        serde_json::to_string_pretty(&Value::Array(records.to_vec())).unwrap(),
    )
    .unwrap();
}

fn read_ledger(home: &Path) -> Vec<Value> {
    serde_json::from_slice(&std::fs::read(home.join("logs/dispatches.json")).unwrap()).unwrap()
}

fn fnv(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// A seeded world split over six machines (one workspace each; a task's
/// retries stay on its machine). Every machine numbers its dispatches from 1,
/// so the same ids occur on several machines. Returns the six ledgers and the
/// one ledger holding every record (ids made unique by machine).
fn split_world(world: &World, seed: u64, scratch: &Path) -> (Vec<Vec<Value>>, Vec<Value>) {
    let now = modelfit::clock::parse(NOW).unwrap();
    let path = scratch.join(format!("world-{seed}.json"));
    simulate::write_ledger(world, seed, now, &path).unwrap();
    let all: Vec<Value> = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let mut machine_of: BTreeMap<String, usize> = BTreeMap::new();
    let mut local_id: BTreeMap<String, String> = BTreeMap::new();
    let mut homes: Vec<Vec<Value>> = vec![Vec::new(); MACHINES];
    let mut combined = Vec::new();
    for rec in all {
        let id = rec["id"].as_str().unwrap().to_string();
        let prev = rec["previous_dispatch_id"].as_str().map(str::to_string);
        let m = match &prev {
            Some(p) => machine_of[p],
            None => (fnv(&format!("{seed}/{id}")) % MACHINES as u64) as usize,
        };
        machine_of.insert(id.clone(), m);
        let local = format!("dispatch-{}", homes[m].len() + 1);
        local_id.insert(id.clone(), local.clone());
        let mut here = rec.clone();
        here["id"] = json!(local);
        here["workspace"] = json!(format!("ws-{m}"));
        if let Some(p) = &prev {
            here["previous_dispatch_id"] = json!(local_id[p]);
        }
        let mut one = here.clone();
        one["id"] = json!(format!("m{m}-{local}"));
        if let Some(p) = &prev {
            one["previous_dispatch_id"] = json!(format!("m{m}-{}", local_id[p]));
        }
        homes[m].push(here);
        combined.push(one);
    }
    (homes, combined)
}

fn learning(home: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(home.join("logs/model-learning.json")).unwrap()).unwrap()
}

/// (cell, model family) → (sample size, successes, attempts). Successes are
/// soft (a sum of posteriors): compared to 6 decimals.
fn cells(doc: &Value) -> BTreeMap<String, (u64, String, u64)> {
    doc["patterns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                format!("{}|{}", p["cell"].as_str().unwrap(), p["model_family"]),
                (
                    p["sample_size"].as_u64().unwrap(),
                    format!("{:.6}", p["successes"].as_f64().unwrap()),
                    p["attempts"].as_u64().unwrap(),
                ),
            )
        })
        .collect()
}

fn open_suggestions(doc: &Value) -> Vec<(String, f64)> {
    let mut v: Vec<(String, f64)> = doc["suggestions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == "open")
        .map(|s| {
            (
                s["id"].as_str().unwrap().to_string(),
                s["confidence"].as_f64().unwrap(),
            )
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn stdout(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&a.get_output().stdout).into_owned()
}

fn stderr(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&a.get_output().stderr).into_owned()
}

#[test]
fn six_machines_pooled_learn_like_one_home_holding_every_record() {
    let pg = Cluster::start();
    let tmp = tempfile::tempdir().unwrap();
    let world = simulate::World::scenarios()
        .into_iter()
        .find(|w| w.name == "over_provisioned")
        .unwrap();
    let mut changes_seen = 0;
    for seed in [11u64, 12, 13] {
        let url = pg.create_db(&format!("pool{seed}"));
        let root = tmp.path().join(format!("seed{seed}"));
        let (homes, combined) = split_world(&world, seed, tmp.path());
        let mut dirs = Vec::new();
        for (m, recs) in homes.iter().enumerate() {
            let h = new_home(&root, &format!("machine{m}"), world.rules);
            write_ledger(&h, recs);
            dirs.push(h);
        }
        // Twice: the second sync adds nothing.
        for round in 0..2 {
            for h in &dirs {
                let a = modelfit(h)
                    .args(["sync", "--database", &url])
                    .assert()
                    .success();
                let out = stdout(&a);
                if round == 1 {
                    assert!(out.contains(": 0 new, 0 updated"), "{out}");
                }
            }
        }
        assert_eq!(
            pg.count(
                &format!("pool{seed}"),
                "SELECT count(*) FROM modelfit.tasks"
            ) as usize,
            combined.len()
        );
        assert_eq!(
            pg.count(
                &format!("pool{seed}"),
                "SELECT count(DISTINCT machine_id) FROM modelfit.tasks"
            ),
            MACHINES as i64
        );
        // Equal dispatch ids from several machines did not collide.
        assert!(
            pg.count(
                &format!("pool{seed}"),
                "SELECT count(*) FROM (SELECT record_key FROM modelfit.tasks GROUP BY 1 HAVING count(*) > 1) d"
            ) > 0
        );

        let one = new_home(&root, "one", world.rules);
        write_ledger(&one, &combined);
        modelfit(&one).arg("learn").assert().success();
        let a = modelfit(&dirs[0])
            .args(["learn", "--database", &url])
            .assert()
            .success();
        let out = stdout(&a);
        assert!(
            out.contains(&format!(
                "pooled {} records from 6 machines",
                combined.len()
            )),
            "{out}"
        );
        let (want, got) = (learning(&one), learning(&dirs[0]));
        assert_eq!(got["total_dispatches"], want["total_dispatches"]);
        assert_eq!(cells(&got), cells(&want), "seed {seed}");
        let (ws, gs) = (open_suggestions(&want), open_suggestions(&got));
        assert_eq!(
            gs.iter().map(|s| &s.0).collect::<Vec<_>>(),
            ws.iter().map(|s| &s.0).collect::<Vec<_>>(),
            "seed {seed}"
        );
        for (g, w) in gs.iter().zip(&ws) {
            assert!((g.1 - w.1).abs() < 1e-6, "{g:?} vs {w:?}");
        }
        changes_seen += ws.len();
    }
    // The world is over-provisioned: pooling must find the change somewhere,
    // or the comparison above compared nothing.
    assert!(changes_seen > 0, "no seed produced a confident change");
}

fn small_home(root: &Path, name: &str, n: usize) -> PathBuf {
    let h = new_home(root, name, [0, 1, 2]);
    let recs: Vec<Value> = (0..n)
        .map(|i| {
            let level = ["simple", "medium", "complex"][i % 3];
            let model = ["claude-haiku-4-5", "claude-sonnet-4-5", "claude-opus-4-1"][i % 3];
            json!({
                "id": format!("d-{i}"),
                "task": format!("fix the flaky test number {i} (mail me at jo.doe@example.com)"),
                "complexity": level,
                "model": model,
                "status": "complete",
                "outcome": if i % 4 == 0 { "failure" } else { "success" },
                "outcome_source": "hook",
                "p_success": 0.5,
                "tokens_used": 1000 + i,
                "created_at": format!("2026-05-{:02}T10:00:00.000Z", 1 + i % 28),
            })
        })
        .collect();
    write_ledger(&h, &recs);
    h
}

#[test]
fn sync_is_idempotent_updates_changed_records_and_redacts() {
    let pg = Cluster::start();
    let url = pg.create_db("idem");
    let tmp = tempfile::tempdir().unwrap();
    let h = small_home(tmp.path(), "h", 30);
    let out = stdout(
        &modelfit(&h)
            .args(["sync", "--database", &url])
            .assert()
            .success(),
    );
    assert!(out.contains("30 new, 0 updated"), "{out}");
    let id1 = std::fs::read_to_string(h.join("logs/modelfit/machine-id")).unwrap();
    let out = stdout(
        &modelfit(&h)
            .args(["sync", "--database", &url])
            .assert()
            .success(),
    );
    assert!(
        out.contains("0 new, 0 updated, 0 already there, 30 unchanged"),
        "{out}"
    );
    // The machine id is stable.
    assert_eq!(
        std::fs::read_to_string(h.join("logs/modelfit/machine-id")).unwrap(),
        id1
    );
    // An outcome set later updates the row.
    modelfit(&h)
        .args(["outcome", "d-4", "success"])
        .assert()
        .success();
    let out = stdout(
        &modelfit(&h)
            .args(["sync", "--database", &url])
            .assert()
            .success(),
    );
    assert!(out.contains("0 new, 1 updated"), "{out}");
    assert_eq!(
        pg.count(
            "idem",
            "SELECT count(*) FROM modelfit.tasks WHERE record_key = 'd-4' AND outcome = 'success'"
        ),
        1
    );
    // The local state lost: everything is sent again, nothing is added.
    std::fs::remove_file(h.join("logs/modelfit/sync-state.json")).unwrap();
    let out = stdout(
        &modelfit(&h)
            .args(["sync", "--database", &url])
            .assert()
            .success(),
    );
    assert!(out.contains("0 new, 0 updated, 30 already there"), "{out}");
    assert_eq!(pg.count("idem", "SELECT count(*) FROM modelfit.tasks"), 30);
    // Redacted as in the ledger; columns filled for learn.
    assert_eq!(
        pg.count(
            "idem",
            "SELECT count(*) FROM modelfit.tasks WHERE record->>'task' LIKE '%example.com%'"
        ),
        0
    );
    assert_eq!(
        pg.count(
            "idem",
            "SELECT count(*) FROM modelfit.tasks WHERE p_success = 0.5 AND tokens_used >= 1000 \
             AND created_at IS NOT NULL AND complexity IS NOT NULL AND model IS NOT NULL"
        ),
        30
    );
    // The configured database and the env var work like --database.
    modelfit(&h)
        .args(["config", "database", &url])
        .assert()
        .success()
        .stdout(predicates::str::contains("admin:***@"))
        .stdout(predicates::str::contains(pgcluster::PASSWORD).not());
    let out = stdout(&modelfit(&h).arg("sync").assert().success());
    assert!(out.contains("30 unchanged"), "{out}");
    let doctor = stdout(&modelfit(&h).arg("doctor").assert());
    assert!(doctor.contains("all 30 records synced"), "{doctor}");
}

use predicates::prelude::PredicateBooleanExt;

#[test]
fn bad_urls_and_passwords_say_what_to_do_and_lose_nothing() {
    let pg = Cluster::start();
    pg.create_db("bad");
    let tmp = tempfile::tempdir().unwrap();
    let h = small_home(tmp.path(), "h", 5);
    let ledger_before = std::fs::read(h.join("logs/dispatches.json")).unwrap();
    let wrong_pw = format!("postgresql://admin:nope@127.0.0.1:{}/bad", pg.port);
    let e = stderr(
        &modelfit(&h)
            .args(["sync", "--database", &wrong_pw])
            .assert()
            .failure(),
    );
    assert!(e.contains("refused the password"), "{e}");
    assert!(!e.contains("nope"), "the password leaked: {e}");
    let e = stderr(
        &modelfit(&h)
            .args([
                "sync",
                "--database",
                "postgresql://admin@127.0.0.1:notaport/x",
            ])
            .assert()
            .failure(),
    );
    assert!(e.contains("is not valid"), "{e}");
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let e = stderr(
        &modelfit(&h)
            .args([
                "sync",
                "--database",
                &format!("postgresql://admin:x@127.0.0.1:{closed}/bad"),
            ])
            .assert()
            .failure(),
    );
    assert!(
        e.contains("connection refused") && e.contains("nothing is lost"),
        "{e}"
    );
    let e = stderr(
        &modelfit(&h)
            .args(["sync", "--database", &pg.url("nosuchdb")])
            .assert()
            .failure(),
    );
    assert!(e.contains("nosuchdb") && e.contains("createdb"), "{e}");
    // Nothing local changed; doctor says what waits and why.
    assert_eq!(
        std::fs::read(h.join("logs/dispatches.json")).unwrap(),
        ledger_before
    );
    modelfit(&h)
        .args(["config", "database", &pg.url("nosuchdb")])
        .assert()
        .success();
    let d = stdout(&modelfit(&h).arg("doctor").assert());
    assert!(d.contains("5 of 5 records wait to be synced"), "{d}");
    assert!(d.contains("the oldest changed 2026-05-01"), "{d}");
    // The right URL delivers everything.
    let out = stdout(
        &modelfit(&h)
            .args(["sync", "--database", &pg.url("bad")])
            .assert()
            .success(),
    );
    assert!(out.contains("5 new"), "{out}");
}

#[test]
fn database_down_mid_sync_then_the_next_sync_resumes() {
    let pg = Cluster::start();
    let url = pg.create_db("down");
    let tmp = tempfile::tempdir().unwrap();
    let h = small_home(tmp.path(), "h", 3500); // four batches
    let marker = h.join("logs/modelfit/sync-paused");
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("modelfit"))
        .env("MODELFIT_FAILPOINT", "sync-pause")
        .env_remove("MODELFIT_DATABASE_URL")
        .arg("--home")
        .arg(&h)
        .args(["sync", "--database", &url])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !marker.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the sync never paused"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    pg.down();
    std::fs::remove_file(&marker).unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("check that the database is up") || err.contains("connection"),
        "{err}"
    );
    let state: Value =
        serde_json::from_slice(&std::fs::read(h.join("logs/modelfit/sync-state.json")).unwrap())
            .unwrap();
    assert_eq!(state["acked"].as_object().unwrap().len(), 1000);
    let d = stdout(
        &modelfit(&h)
            .args(["doctor"])
            .env("MODELFIT_DATABASE_URL", &url)
            .assert(),
    );
    assert!(d.contains("2500 of 3500 records wait"), "{d}");
    pg.up();
    let out = stdout(
        &modelfit(&h)
            .args(["sync", "--database", &url])
            .assert()
            .success(),
    );
    assert!(
        out.contains("2500 new") && out.contains("1000 unchanged since"),
        "{out}"
    );
    assert_eq!(
        pg.count("down", "SELECT count(*) FROM modelfit.tasks"),
        3500
    );
}

#[test]
fn altered_tables_newer_schemas_and_refused_records() {
    let pg = Cluster::start();
    let url = pg.create_db("alt");
    let tmp = tempfile::tempdir().unwrap();
    let h = small_home(tmp.path(), "h", 12);
    // Two records the database refuses: p_success outside 0..1, and a NUL.
    let mut recs = read_ledger(&h);
    recs[3]["p_success"] = json!(1.7);
    recs[7]["task"] = json!("a NUL \u{0} in the text");
    write_ledger(&h, &recs);
    let a = modelfit(&h)
        .args(["sync", "--database", &url])
        .assert()
        .failure();
    let (out, err) = (stdout(&a), stderr(&a));
    assert!(out.contains("10 new"), "{out}");
    assert!(
        err.contains("record d-3") && err.contains("p_success"),
        "{err}"
    );
    assert!(err.contains("record d-7") && err.contains("NUL"), "{err}");
    assert_eq!(pg.count("alt", "SELECT count(*) FROM modelfit.tasks"), 10);
    // Corrected locally: the next sync delivers just those.
    recs[3]["p_success"] = json!(0.7);
    recs[7]["task"] = json!("no NUL any more");
    write_ledger(&h, &recs);
    let out = stdout(
        &modelfit(&h)
            .args(["sync", "--database", &url])
            .assert()
            .success(),
    );
    assert!(
        out.contains("2 new") && out.contains("10 unchanged since"),
        "{out}"
    );

    // A table altered by hand is named.
    pg.sql("alt", "ALTER TABLE modelfit.tasks DROP COLUMN p_success");
    let e = stderr(
        &modelfit(&h)
            .args(["sync", "--database", &url])
            .assert()
            .failure(),
    );
    assert!(
        e.contains("no column p_success") && e.contains("altered by hand"),
        "{e}"
    );
    let e = stderr(
        &modelfit(&h)
            .args(["learn", "--database", &url])
            .assert()
            .failure(),
    );
    assert!(e.contains("no column p_success"), "{e}");
    pg.sql(
        "alt",
        "ALTER TABLE modelfit.tasks ADD COLUMN p_success double precision",
    );
    modelfit(&h)
        .args(["sync", "--database", &url])
        .assert()
        .success();
    pg.sql(
        "alt",
        "ALTER TABLE modelfit.tasks ALTER COLUMN tokens_used TYPE text",
    );
    let e = stderr(
        &modelfit(&h)
            .args(["sync", "--database", &url])
            .assert()
            .failure(),
    );
    assert!(e.contains("tokens_used") && e.contains("type text"), "{e}");
    pg.sql(
        "alt",
        "ALTER TABLE modelfit.tasks ALTER COLUMN tokens_used TYPE double precision USING tokens_used::float8",
    );
    // A newer schema is refused by this older binary, with nothing written.
    pg.sql(
        "alt",
        "INSERT INTO modelfit.schema_version (version, applied_by) VALUES (99, 'modelfit 9.0.0')",
    );
    let e = stderr(
        &modelfit(&h)
            .args(["sync", "--database", &url])
            .assert()
            .failure(),
    );
    assert!(
        e.contains("schema version 99") && e.contains("upgrade modelfit") && e.contains("9.0.0"),
        "{e}"
    );
}

#[test]
fn the_hook_never_connects_and_its_records_wait_for_the_next_sync() {
    let pg = Cluster::start();
    let url = pg.create_db("hook");
    pg.down(); // the database is down while the hook runs
    let tmp = tempfile::tempdir().unwrap();
    let h = small_home(tmp.path(), "h", 2);
    modelfit(&h)
        .args(["config", "database", &url])
        .assert()
        .success();
    let ws = tmp.path().join("ws");
    std::fs::create_dir_all(&ws).unwrap();
    let base = json!({"session_id": "s-1", "transcript_path": tmp.path().join("t.jsonl"),
                      "cwd": ws, "permission_mode": "default"});
    std::fs::write(tmp.path().join("t.jsonl"), "").unwrap();
    let mut ups = base.clone();
    ups["hook_event_name"] = json!("UserPromptSubmit");
    ups["prompt"] = json!("add a retry to the uploader");
    let mut stop = base.clone();
    stop["hook_event_name"] = json!("Stop");
    for p in [&ups, &stop] {
        let a = modelfit(&h)
            .arg("hook")
            .write_stdin(p.to_string())
            .timeout(Duration::from_secs(10))
            .assert()
            .success();
        assert!(a.get_output().stdout.is_empty());
    }
    assert_eq!(read_ledger(&h).len(), 3);
    // The background sync the hook started fails quietly (logged); wait for it.
    let lock = h.join("logs/modelfit/sync.lock");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let log = std::fs::read_to_string(h.join("logs/modelfit/modelfit.log")).unwrap_or_default();
        if log.contains("sync:") && !modelfit::lockfile::is_held(&lock) {
            assert!(log.contains("connection refused"), "{log}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no background sync ran: {log}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let d = stdout(&modelfit(&h).arg("doctor").assert());
    assert!(d.contains("3 of 3 records wait to be synced"), "{d}");
    pg.up();
    let out = stdout(&modelfit(&h).arg("sync").assert().success());
    assert!(out.contains("3 new"), "{out}");
}
