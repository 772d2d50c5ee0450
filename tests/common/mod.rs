//! Shared helpers for the integration tests: temporary orchestrator homes
//! built from the fixtures in `tests/fixtures/`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use tempfile::TempDir;

/// The fixtures folder of this repository.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The orchestrator home the fixtures were recorded under.
pub const FIXTURE_HOME: &str = "/home/teruel/JARVIS";

/// A temporary orchestrator home holding the fixture config and, as its
/// ledger, `ledger` (a path relative to `tests/fixtures/jarvis/`), with the
/// fixture home prefix replaced by the temp dir as plain text (never
/// re-serialised, so the bytes keep the orchestrator's formatting).
pub struct Home {
    pub dir: TempDir,
}

impl Home {
    pub fn with_ledger(ledger: &str) -> Home {
        let dir = tempfile::tempdir().unwrap();
        let h = Home { dir };
        std::fs::create_dir_all(h.path().join("logs")).unwrap();
        std::fs::create_dir_all(h.path().join("config/orchestrator")).unwrap();
        for f in [
            "models.json",
            "pricing.json",
            "workspaces.json",
            "dispatcher.json",
        ] {
            h.copy_fixture(f, &format!("config/orchestrator/{f}"));
        }
        if !ledger.is_empty() {
            h.copy_fixture(ledger, "logs/dispatches.json");
        }
        h
    }

    /// The standard fixture ledger.
    pub fn fixture() -> Home {
        Home::with_ledger("dispatches.json")
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn ledger(&self) -> PathBuf {
        self.path().join("logs/dispatches.json")
    }

    /// Copies `tests/fixtures/jarvis/<from>` to `<home>/<to>`, substituting the home prefix.
    pub fn copy_fixture(&self, from: &str, to: &str) {
        let text = std::fs::read(fixtures().join("jarvis").join(from)).unwrap();
        let text = replace_bytes(
            &text,
            FIXTURE_HOME.as_bytes(),
            self.path().to_str().unwrap().as_bytes(),
        );
        let dest = self.path().join(to);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::write(dest, text).unwrap();
    }

    /// `modelfit --home <home>` with a clean environment (see [`modelfit`]).
    pub fn cmd(&self) -> Command {
        modelfit_at(self.path())
    }

    pub fn read_ledger(&self) -> Vec<u8> {
        std::fs::read(self.ledger()).unwrap()
    }
}

/// The variables modelfit (or a script it runs) reads that a developer's
/// shell or a CI runner may have set: every test starts without them, and a
/// test that needs one sets it after. (`HOME` and `CLAUDE_CONFIG_DIR` are
/// left alone: tests that touch Claude Code's settings set them explicitly.)
pub const CLEARED_ENV: &[&str] = &[
    "ORCHESTRATOR_HOME",
    "MODELFIT_NOW",
    "MODELFIT_FAILPOINT",
    "MODELFIT_CRASH_AT",
    "MODELFIT_LOCK_TIMEOUT_MS",
    "MODELFIT_SEED",
    "MODELFIT_MCP_LOG",
    "MODELFIT_EXPLORE",
    "MODELFIT_ESTIMATED_FILES",
    "MODELFIT_CHECKPOINT_TIMEOUT",
    "MODELFIT_CI_STRICT",
    "CLAUDE_CODE_SESSION_ID",
    "CI",
];

/// The `modelfit` binary built for these tests, as an `assert_cmd` command
/// with [`CLEARED_ENV`] removed. The one way every test binary runs it.
pub fn modelfit() -> Command {
    let mut c = Command::cargo_bin("modelfit").unwrap();
    for v in CLEARED_ENV {
        c.env_remove(v);
    }
    c
}

/// [`modelfit`] with `--home home`.
pub fn modelfit_at(home: &Path) -> Command {
    let mut c = modelfit();
    c.arg("--home").arg(home);
    c
}

/// [`modelfit`] as a `std::process::Command`, for tests that spawn it and
/// talk to it while it runs.
pub fn modelfit_std() -> std::process::Command {
    let mut c = std::process::Command::new(bin());
    for v in CLEARED_ENV {
        c.env_remove(v);
    }
    c
}

/// The path of the `modelfit` binary built for these tests.
pub fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("modelfit")
}

pub fn replace_bytes(hay: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(hay.len());
    let mut i = 0;
    while i < hay.len() {
        if hay[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(hay[i]);
            i += 1;
        }
    }
    out
}

/// The raw bytes of each top-level element of a JSON array.
pub fn elements(bytes: &[u8]) -> Vec<Vec<u8>> {
    let raws: Vec<&serde_json::value::RawValue> = serde_json::from_slice(bytes).unwrap();
    raws.iter().map(|r| r.get().as_bytes().to_vec()).collect()
}

/// Asserts that `bytes` is exactly what Node's `JSON.stringify(JSON.parse(x), null, 2)`
/// writes for it: the orchestrator's own formatting, checked by the orchestrator's runtime.
pub fn assert_js_formatted(path: &Path) {
    let out = std::process::Command::new("node")
        .arg("-e")
        .arg("const fs=require('fs');const t=fs.readFileSync(process.argv[1],'utf8');process.stdout.write(JSON.stringify(JSON.parse(t),null,2))")
        .arg(path)
        .output()
        .expect("node (Node.js 20) is needed to check the orchestrator's formatting");
    assert!(
        out.status.success(),
        "node failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ours = std::fs::read(path).unwrap();
    assert!(
        out.stdout == ours,
        "{} is not formatted as JSON.stringify(…, null, 2) would write it",
        path.display()
    );
}

/// Makes `h` a home for a simulated world: `logs/`, and a `models.json`
/// routing each level to the family `rules` names
/// (`modelfit::learn::simulate::models_json`).
pub fn simulated_home(h: &Path, rules: [usize; 3]) {
    std::fs::create_dir_all(h.join("logs")).unwrap();
    std::fs::create_dir_all(h.join("config/orchestrator")).unwrap();
    std::fs::write(
        h.join("config/orchestrator/models.json"),
        modelfit::learn::simulate::models_json(rules),
    )
    .unwrap();
}

/// [`simulated_home`] with the ledger of draw `seed` of `world`, ending at `now`.
pub fn simulated_draw(h: &Path, world: &modelfit::learn::simulate::World, seed: u64, now: &str) {
    simulated_home(h, world.rules);
    let now = modelfit::clock::parse(now).unwrap();
    modelfit::learn::simulate::write_ledger(world, seed, now, &h.join("logs/dispatches.json"))
        .unwrap();
}
