//! `modelfit hooks install|uninstall` against Claude Code settings files that
//! already hold other hooks and settings, and `modelfit doctor`.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;
use tempfile::TempDir;

/// A settings file as Claude Code writes it (2-space JSON, trailing newline),
/// with other hooks, other settings and an unusual key order.
const EXISTING: &str = r#"{
  "model": "opus",
  "permissions": {
    "allow": [
      "Bash(npm test:*)"
    ],
    "deny": []
  },
  "hooks": {
    "Stop": [
      {
        "hooks": [
          {
            "type": "command",
            "command": "/usr/local/bin/notify-done",
            "timeout": 5
          }
        ]
      }
    ],
    "PreToolUse": [
      {
        "matcher": "Bash",
        "hooks": [
          {
            "type": "command",
            "command": "~/.claude/hooks/guard.sh"
          }
        ]
      }
    ]
  },
  "statusLine": {
    "type": "command",
    "command": "~/.claude/statusline.sh"
  },
  "alwaysThinkingEnabled": true
}
"#;

fn run(cfg: &Path, args: &[&str]) -> std::process::Output {
    common::modelfit()
        .args(args)
        .env("CLAUDE_CONFIG_DIR", cfg)
        .env("HOME", cfg.join("nohome"))
        .env("ORCHESTRATOR_HOME", cfg.join("home"))
        .output()
        .unwrap()
}

fn setup(content: Option<&str>) -> (TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let cfg = t.path().join("claude");
    fs::create_dir_all(&cfg).unwrap();
    if let Some(c) = content {
        fs::write(cfg.join("settings.json"), c).unwrap();
    }
    (t, cfg)
}

fn modelfit_commands(v: &Value, event: &str) -> Vec<String> {
    v["hooks"][event]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|g| g["hooks"].as_array().cloned().unwrap_or_default())
        .filter_map(|h| h["command"].as_str().map(str::to_string))
        .filter(|c| c.ends_with("modelfit hook"))
        .collect()
}

#[test]
fn install_merges_is_idempotent_and_uninstall_restores_the_bytes() {
    let (_t, cfg) = setup(Some(EXISTING));
    let settings = cfg.join("settings.json");

    let out = run(&cfg, &["hooks", "install"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let first = fs::read(&settings).unwrap();
    let v: Value = serde_json::from_slice(&first).unwrap();
    // Other settings and hooks kept, in their order.
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "model",
            "permissions",
            "hooks",
            "statusLine",
            "alwaysThinkingEnabled"
        ]
    );
    assert_eq!(
        v["hooks"]["Stop"][0]["hooks"][0]["command"],
        "/usr/local/bin/notify-done"
    );
    assert_eq!(v["hooks"]["PreToolUse"][0]["matcher"], "Bash");
    for ev in [
        "SessionStart",
        "UserPromptSubmit",
        "Stop",
        "StopFailure",
        "SubagentStop",
        "SessionEnd",
    ] {
        let cmds = modelfit_commands(&v, ev);
        assert_eq!(cmds.len(), 1, "{ev}: {cmds:?}");
        let prog = cmds[0].trim_end_matches(" hook");
        assert!(
            Path::new(prog).is_absolute() && Path::new(prog).is_file(),
            "{prog}"
        );
    }
    // The previous bytes were backed up.
    let backups: Vec<PathBuf> = fs::read_dir(&cfg)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().contains("settings.json.bak.modelfit."))
        .collect();
    assert_eq!(backups.len(), 1);
    assert_eq!(fs::read_to_string(&backups[0]).unwrap(), EXISTING);

    // Second run: not a byte changes, no new backup.
    let out = run(&cfg, &["hooks", "install"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing changed"));
    assert_eq!(fs::read(&settings).unwrap(), first);
    let n_backups = fs::read_dir(&cfg).unwrap().count();

    // Uninstall: back to the original content exactly.
    let out = run(&cfg, &["hooks", "uninstall"]);
    assert!(out.status.success());
    assert_eq!(fs::read_to_string(&settings).unwrap(), EXISTING);
    assert_eq!(fs::read_dir(&cfg).unwrap().count(), n_backups + 1);
    // And again: nothing to remove.
    let out = run(&cfg, &["hooks", "uninstall"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing changed"));
    assert_eq!(fs::read_to_string(&settings).unwrap(), EXISTING);
}

#[test]
fn install_into_a_missing_file_and_uninstall_leaves_an_empty_object() {
    let (_t, cfg) = setup(None);
    let out = run(&cfg, &["hooks", "install"]);
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&fs::read(cfg.join("settings.json")).unwrap()).unwrap();
    assert_eq!(modelfit_commands(&v, "Stop").len(), 1);
    run(&cfg, &["hooks", "uninstall"]);
    let v: Value = serde_json::from_slice(&fs::read(cfg.join("settings.json")).unwrap()).unwrap();
    assert_eq!(v, serde_json::json!({}));
}

#[test]
fn install_writes_through_a_symlink() {
    let (t, cfg) = setup(None);
    let real = t.path().join("dotfiles/claude-settings.json");
    fs::create_dir_all(real.parent().unwrap()).unwrap();
    fs::write(&real, EXISTING).unwrap();
    std::os::unix::fs::symlink(&real, cfg.join("settings.json")).unwrap();
    assert!(run(&cfg, &["hooks", "install"]).status.success());
    assert!(fs::symlink_metadata(cfg.join("settings.json"))
        .unwrap()
        .file_type()
        .is_symlink());
    let v: Value = serde_json::from_slice(&fs::read(&real).unwrap()).unwrap();
    assert_eq!(modelfit_commands(&v, "SessionEnd").len(), 1);
    run(&cfg, &["hooks", "uninstall"]);
    assert_eq!(fs::read_to_string(&real).unwrap(), EXISTING);
}

#[test]
fn a_settings_file_that_does_not_parse_is_never_written() {
    let bad = "{\n  \"model\": \"opus\",\n  \"hooks\": {\n";
    let (_t, cfg) = setup(Some(bad));
    let out = run(&cfg, &["hooks", "install"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("settings.json") && err.contains("not valid JSON"),
        "{err}"
    );
    assert_eq!(fs::read_to_string(cfg.join("settings.json")).unwrap(), bad);
    assert_eq!(
        fs::read_dir(&cfg).unwrap().count(),
        1,
        "no backup, no temp file"
    );

    let (_t2, cfg2) = setup(Some(r#"{"hooks": []}"#));
    let out = run(&cfg2, &["hooks", "install"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("\"hooks\" is not an object"));
}

#[test]
fn doctor_reports_missing_hooks_and_passes_once_installed() {
    let (_t, cfg) = setup(Some(EXISTING));
    let home = cfg.join("home");
    fs::create_dir_all(home.join("logs")).unwrap();
    fs::write(
        home.join("logs/dispatches.json"),
        "[\n  {\n    \"id\": \"dispatch-1-aaaaaa\",\n    \"status\": \"complete\"\n  }\n]",
    )
    .unwrap();

    let out = run(&cfg, &["doctor"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("modelfit hooks install"), "{text}");
    assert!(
        text.contains("1 finished task(s) are unrated") && text.contains("dispatch-1-aaaaaa"),
        "{text}"
    );

    run(&cfg, &["hooks", "install"]);
    let out = run(&cfg, &["doctor"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("the ledger parses (1 records)"), "{text}");

    // A ledger that does not parse and an error in the log: both need fixing.
    fs::write(home.join("logs/dispatches.json"), "[ {").unwrap();
    fs::create_dir_all(home.join("logs/modelfit")).unwrap();
    let now = modelfit::clock::now_iso();
    fs::write(
        home.join("logs/modelfit/modelfit.log"),
        format!("[{now}] hook: something broke\n"),
    )
    .unwrap();
    let out = run(&cfg, &["doctor"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1));
    assert!(text.contains("the ledger does not parse"), "{text}");
    assert!(text.contains("something broke"), "{text}");
}
