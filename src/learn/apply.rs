//! `learn apply` and `learn reject`.
//!
//! `apply` writes a suggestion's exact change into `models.json` by editing
//! the file's text in place (only the bytes of the changed value move; the
//! hand formatting, unknown keys and the trailing newline stay), after saving
//! the previous bytes to `models.json.bak.<epoch-ms>`. Under the lock
//! `logs/model-learning.json.lock`, in this order, each write atomic:
//!
//! 1. the backup (a new file);
//! 2. the intent, `logs/modelfit/apply-intent.json`: the suggestion, its
//!    change, the backup path, fingerprints of models.json before and after
//!    (kept outside model-learning.json, which `learn suggest` rewrites);
//! 3. `models.json`;
//! 4. one line appended to `logs/model-config-changes.log`, unless a line for
//!    this id and backup is already there;
//! 5. `logs/model-learning.json`: status `applied`, `applied_at`, `backup`,
//!    a `status_history` entry;
//! 6. the intent is removed.
//!
//! A crash before step 2 leaves at most a stray backup. After it, the next
//! `apply` or `reject` (of any id) first finishes the interrupted apply: it
//! writes models.json if it still has the "before" bytes, skips that if it
//! has the "after" bytes, and otherwise (someone edited the file meanwhile)
//! stops and says so; only `apply ID --force` of that id then applies the
//! change to the file as it is.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::home::Home;
use crate::learn::Change;
use crate::rules::{self, Models, Rule};

/// Suggestions below this confidence are never applied (the seed's rule).
pub const MIN_APPLY_CONFIDENCE: f64 = 0.70;

/// What `apply` did.
#[derive(Debug, Clone, Serialize)]
pub struct Applied {
    /// The suggestion id.
    pub id: String,
    /// One line describing the change made to models.json.
    pub description: String,
    /// Where the previous bytes of models.json were saved.
    pub backup: std::path::PathBuf,
    /// What a person should know: where the change takes effect, forced
    /// conflicts, recovery of an interrupted apply.
    pub notes: Vec<String>,
    /// True when this run completed an apply that an earlier run left half done.
    pub resumed: bool,
}

/// What `reject` did.
#[derive(Debug, Clone, Serialize)]
pub struct Rejected {
    /// The suggestion id.
    pub id: String,
    /// The reason given, if any.
    pub reason: Option<String>,
    /// True when the suggestion had already been rejected (nothing changed).
    pub already: bool,
}

/// The learning file with its suggestions, as apply and reject act on it.
struct LearningFile(super::file::Learning);

impl LearningFile {
    /// Reads it; a missing file is an error here: there is nothing to act on.
    fn read(home: &Home) -> Result<LearningFile> {
        let mut lf = super::file::Learning::read(&home.learning())?;
        if !lf.existed() {
            return Err(Error::Invalid(format!(
                "{} does not exist, so there is no suggestion to act on; run `modelfit learn` first",
                lf.path.display()
            )));
        }
        // modelfit's own decisions win over whatever another tool wrote here.
        super::decisions::merge(home, &mut lf.doc)?;
        Ok(LearningFile(lf))
    }

    fn suggestion(&mut self, id: &str) -> Result<&mut Map<String, Value>> {
        let path = self.0.path.clone();
        let list = self
            .0
            .doc
            .get_mut("suggestions")
            .and_then(Value::as_array_mut)
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "{} has no suggestions; run `modelfit learn` first",
                    path.display()
                ))
            })?;
        let ids: Vec<String> = list
            .iter()
            .filter_map(|s| s.get("id").and_then(Value::as_str).map(str::to_string))
            .collect();
        if !ids.iter().any(|s| s == id) {
            let near = ids
                .iter()
                .filter(|s| s.starts_with(id) || strsim::levenshtein(s, id) <= 2)
                .take(3)
                .cloned()
                .collect::<Vec<_>>();
            let hint = if near.is_empty() {
                "`modelfit learn report` lists the open suggestions".to_string()
            } else {
                format!("did you mean {}?", near.join(", "))
            };
            return Err(Error::Invalid(format!(
                "no suggestion with id {id:?} in {}; {hint}",
                path.display()
            )));
        }
        list.iter_mut()
            .find(|s| s.get("id").and_then(Value::as_str) == Some(id))
            .and_then(Value::as_object_mut)
            .ok_or_else(|| Error::Shape {
                path,
                message: format!("suggestion {id:?} is not an object"),
            })
    }

    fn write(&self) -> Result<()> {
        self.0.write()
    }
}

fn status_of(s: &Map<String, Value>) -> String {
    s.get("status")
        .and_then(Value::as_str)
        .unwrap_or("open")
        .to_string()
}

fn push_history(s: &mut Map<String, Value>, status: &str, at: &str, note: &str) {
    let entry = serde_json::json!({"status": status, "timestamp": at, "note": note});
    match s.get_mut("status_history") {
        Some(Value::Array(h)) => h.push(entry),
        _ => {
            s.insert("status_history".into(), Value::Array(vec![entry]));
        }
    }
}

/// Test hook: abort the process at a named step, to prove crash recovery.
fn crash_point(name: &str) {
    // Compiled in only for the test build (feature `testing`).
    if cfg!(feature = "testing") && std::env::var("MODELFIT_CRASH_AT").is_ok_and(|v| v == name) {
        std::process::abort();
    }
}

/// FNV-1a 64 over the bytes, with their length.
fn fingerprint(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{}:{h:016x}", bytes.len())
}

/// Applies suggestion `id` to models.json (backup, change log, status).
pub fn apply(home: &Home, id: &str, force: bool) -> Result<Applied> {
    let _lock = super::file::lock(home)?;
    let mut notes = Vec::new();
    if let Some(done) = recover(home, Some(id), force, &mut notes)? {
        return Ok(done);
    }
    let mut lf = LearningFile::read(home)?;
    let learning_path = lf.0.path.clone();
    let sug = lf.suggestion(id)?;
    let status = status_of(sug);
    match status.as_str() {
        "applied" => {
            return Err(Error::Invalid(format!(
                "suggestion {id} was already applied at {}{}; nothing to do",
                sug.get("applied_at")
                    .and_then(Value::as_str)
                    .unwrap_or("an unknown time"),
                sug.get("backup")
                    .and_then(Value::as_str)
                    .map(|b| format!(" (backup: {b})"))
                    .unwrap_or_default()
            )))
        }
        "rejected" if !force => {
            return Err(Error::Invalid(format!(
                "suggestion {id} was rejected at {}{}; pass --force to apply it anyway",
                sug.get("rejected_at")
                    .and_then(Value::as_str)
                    .unwrap_or("an unknown time"),
                sug.get("rejection_reason")
                    .and_then(Value::as_str)
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            )))
        }
        _ => {}
    }
    let snapshot = Value::Object(sug.clone());
    let from_analyzer =
        super::decisions::origin(&snapshot) == super::decisions::ORCHESTRATOR_ANALYZER;
    if from_analyzer {
        notes.push(format!(
            "suggestion {id} came from the orchestrator's model-learning-analyzer ({}{}), not from modelfit",
            sug.get("description").and_then(Value::as_str).unwrap_or("no description"),
            sug.get("suggested_action")
                .and_then(Value::as_str)
                .map(|a| format!("; its action: {a}"))
                .unwrap_or_default()
        ));
    }
    let change_value = match sug.get("change").cloned() {
        Some(c) => c,
        None => match analyzer_change(&snapshot) {
            Some(c) => serde_json::to_value(&c).expect("a change serializes"),
            None => {
                return Err(Error::Invalid(format!(
                    "suggestion {id} in {} came from the orchestrator's model-learning-analyzer \
                     ({}), not from modelfit, and has no exact change: it only describes a \
                     direction. Run `modelfit learn` for suggestions that can be applied, or \
                     edit models.json by hand",
                    learning_path.display(),
                    sug.get("description")
                        .and_then(Value::as_str)
                        .unwrap_or("no description")
                )));
            }
        },
    };
    let change: Change = serde_json::from_value(change_value).map_err(|e| Error::Shape {
        path: learning_path.clone(),
        message: format!("suggestion {id} has a \"change\" modelfit cannot read ({e})"),
    })?;
    let confidence = sug
        .get("confidence")
        .and_then(Value::as_f64)
        .ok_or_else(|| Error::Shape {
            path: learning_path.clone(),
            message: format!("suggestion {id} has no numeric \"confidence\""),
        })?;
    if confidence < MIN_APPLY_CONFIDENCE {
        return Err(Error::Invalid(format!(
            "suggestion {id} has confidence {:.0}%, below the {:.0}% needed to apply a change; \
             gather more outcomes and run `modelfit learn` again",
            confidence * 100.0,
            MIN_APPLY_CONFIDENCE * 100.0
        )));
    }

    let models_path = home.models();
    let original = read_models(&models_path)?;
    let edit = edit_models(home, &original, &change, force)?;
    notes.extend(edit.notes);
    let backup = backup_path(&models_path)?;
    crate::store::write_atomic(&backup, &original)?;
    crash_point("after-backup");
    let intent = Intent {
        id: id.to_string(),
        suggestion: snapshot,
        change,
        confidence,
        force,
        backup,
        started_at: crate::clock::now_iso(),
        before: fingerprint(&original),
        after: fingerprint(&edit.bytes),
        description: edit.description,
    };
    intent.save(home)?;
    crash_point("after-intent");
    if let Err(e) = write_models(home, &models_path, &original, &edit.bytes) {
        // Nothing of this apply may stay behind: another writer owns the file now.
        let _ = std::fs::remove_file(&intent.backup);
        remove_intent(home)?;
        return Err(e);
    }
    crash_point("after-models");
    finish(home, &intent)?;
    Ok(Applied {
        id: id.to_string(),
        description: intent.description,
        backup: intent.backup,
        notes,
        resumed: false,
    })
}

/// Where an apply in progress records its intent (`logs/modelfit/apply-intent.json`).
/// It lives outside model-learning.json, which `learn suggest` rewrites.
pub fn intent_path(home: &Home) -> PathBuf {
    home.state_dir().join("apply-intent.json")
}

/// An apply in progress: everything needed to finish it after a crash.
#[derive(Debug, Serialize, serde::Deserialize)]
struct Intent {
    id: String,
    suggestion: Value,
    change: Change,
    confidence: f64,
    force: bool,
    backup: PathBuf,
    started_at: String,
    /// Fingerprint of models.json before the change.
    before: String,
    /// Fingerprint of models.json after the change.
    after: String,
    description: String,
}

impl Intent {
    fn save(&self, home: &Home) -> Result<()> {
        let path = intent_path(home);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::io("cannot create directory", dir, e))?;
        }
        let text = serde_json::to_string_pretty(self).expect("intent serializes");
        crate::store::write_atomic(&path, text.as_bytes())
    }

    fn load(home: &Home) -> Result<Option<Intent>> {
        let path = intent_path(home);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("cannot read", &path, e)),
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::Shape {
                path: path.clone(),
                message: format!(
                    "the record of an interrupted apply cannot be read ({e}); compare models.json \
                 with its newest backup, then delete {}",
                    path.display()
                ),
            })
    }
}

/// Finishes an apply that a crash interrupted, if there is one. Returns the
/// result when it was the apply of `for_id` (so the caller is done).
fn recover(
    home: &Home,
    for_id: Option<&str>,
    force: bool,
    notes: &mut Vec<String>,
) -> Result<Option<Applied>> {
    let Some(intent) = Intent::load(home)? else {
        return Ok(None);
    };
    let models_path = home.models();
    let current = read_models(&models_path)?;
    let now_fp = fingerprint(&current);
    let same = for_id == Some(intent.id.as_str());
    if now_fp == intent.before {
        let edit = edit_models(home, &current, &intent.change, true)?;
        if fingerprint(&edit.bytes) != intent.after {
            return Err(Error::Invalid(format!(
                "an interrupted apply of suggestion {} cannot be redone identically; \
                 delete {} and apply it again",
                intent.id,
                intent_path(home).display()
            )));
        }
        if !intent.backup.exists() {
            crate::store::write_atomic(&intent.backup, &current)?;
        }
        write_models(home, &models_path, &current, &edit.bytes)?;
        crash_point("after-models");
    } else if now_fp != intent.after {
        if same && force {
            notes.push(format!(
                "discarded an interrupted apply (backup {}) because models.json changed since; applied anew",
                intent.backup.display()
            ));
            remove_intent(home)?;
            return Ok(None);
        }
        return Err(Error::Invalid(format!(
            "an interrupted apply of suggestion {} (started {}, backup {}) was found, but {} has \
             changed since, so modelfit cannot tell whether to finish it. Inspect the file, then \
             run `modelfit learn apply {} --force` to apply the change to it as it is now, or \
             delete {} to abandon it",
            intent.id,
            intent.started_at,
            intent.backup.display(),
            models_path.display(),
            intent.id,
            intent_path(home).display()
        )));
    }
    finish(home, &intent)?;
    notes.push(format!(
        "completed the apply of suggestion {} that an earlier run left half done",
        intent.id
    ));
    Ok(same.then(|| Applied {
        id: intent.id.clone(),
        description: intent.description.clone(),
        backup: intent.backup.clone(),
        notes: notes.clone(),
        resumed: true,
    }))
}

/// The steps after models.json is written: change-log line (once), status
/// `applied` in model-learning.json, then the intent is removed.
fn finish(home: &Home, intent: &Intent) -> Result<()> {
    let now = crate::clock::now_iso();
    let line = format!(
        "[{now}] APPLIED {}: {} (confidence: {:.0}%, backup: {})\n",
        intent.id,
        intent.description,
        intent.confidence * 100.0,
        intent.backup.display()
    );
    append_change_line(home, &line, &intent.id, &intent.backup)?;
    crash_point("after-log");

    let mut learning = super::file::Learning::read(&home.learning())?;
    super::decisions::merge(home, &mut learning.doc)?;
    let mut lf = LearningFile(learning);
    let obj = &mut lf.0.doc;
    if !obj.get("suggestions").is_some_and(Value::is_array) {
        obj.insert("suggestions".into(), Value::Array(Vec::new()));
    }
    if lf.suggestion(&intent.id).is_err() {
        // `learn suggest` dropped it meanwhile: keep the decision on record.
        if let Some(Value::Array(list)) = lf.0.doc.get_mut("suggestions") {
            list.push(intent.suggestion.clone());
        }
    }
    let sug = lf.suggestion(&intent.id)?;
    if status_of(sug) != "applied" {
        let mut decided = sug.clone();
        decided.insert("status".into(), Value::String("applied".into()));
        decided.insert("applied_at".into(), Value::String(now.clone()));
        decided.insert(
            "backup".into(),
            Value::String(intent.backup.display().to_string()),
        );
        super::decisions::record(home, "applied", &Value::Object(decided), None)?;
        sug.insert("status".into(), Value::String("applied".into()));
        sug.insert("applied_at".into(), Value::String(now.clone()));
        sug.insert(
            "backup".into(),
            Value::String(intent.backup.display().to_string()),
        );
        let mut note = intent.description.clone();
        if intent.force {
            note.push_str(" (forced)");
        }
        push_history(sug, "applied", &now, &note);
        lf.write()?;
    }
    crash_point("after-learning");
    remove_intent(home)
}

fn remove_intent(home: &Home) -> Result<()> {
    let path = intent_path(home);
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("cannot remove", &path, e)),
    }
}

/// Replaces models.json with `new`, if it still holds `expected`: the file is
/// re-read and compared right before the rename (and the rename done
/// through the symlink's target, so a symlinked models.json stays a symlink
/// and its target keeps its mode). Refuses with nothing written when another
/// writer changed it since it was read.
fn write_models(home: &Home, path: &Path, expected: &[u8], new: &[u8]) -> Result<()> {
    let target = std::fs::canonicalize(path).map_err(|e| Error::io("cannot resolve", path, e))?;
    let mut f = atomic_write_file::AtomicWriteFile::options()
        .open(&target)
        .map_err(|e| Error::io("cannot create a temporary file beside", &target, e))?;
    f.write_all(new)
        .map_err(|e| Error::io("cannot write", &target, e))?;
    if crate::store::failpoint("apply-before-models-rename") {
        // Test hook: announce the pause, wait (≤ 10 s) until the test lets go.
        let marker = home.state_dir().join("apply-paused");
        let _ = std::fs::write(&marker, b"");
        let start = std::time::Instant::now();
        while marker.exists() && start.elapsed() < std::time::Duration::from_secs(10) {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
    let now = std::fs::read(&target).map_err(|e| Error::io("cannot read", &target, e))?;
    if now != expected {
        drop(f); // the temporary file is removed, models.json untouched
        return Err(Error::Invalid(format!(
            "{} changed while `learn apply` was preparing its edit (another program or person \
             wrote it); nothing was written. Check the file, then run the apply again",
            path.display()
        )));
    }
    f.commit()
        .map_err(|e| Error::io("cannot replace", &target, e))
}

fn read_models(path: &Path) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::Invalid(format!(
                "{} does not exist; modelfit applies changes to an existing models.json only",
                path.display()
            ))
        } else {
            Error::io("cannot read", path, e)
        }
    })?;
    serde_json::from_slice::<Value>(&bytes).map_err(|e| Error::parse(path, &e))?;
    Ok(bytes)
}

/// `models.json.bak.<epoch-ms>`, absolute, not yet existing.
fn backup_path(models: &Path) -> Result<PathBuf> {
    let models = std::path::absolute(models).map_err(|e| Error::io("cannot resolve", models, e))?;
    let mut ms = crate::clock::now().timestamp_millis();
    loop {
        let mut name = models.clone().into_os_string();
        name.push(format!(".bak.{ms}"));
        let p = PathBuf::from(name);
        if !p.exists() {
            return Ok(p);
        }
        ms += 1;
    }
}

/// Appends `line` to the change log (O_APPEND, so a `copytruncate` rotation
/// is harmless), unless a line for this id and backup is already there.
fn append_change_line(home: &Home, line: &str, id: &str, backup: &Path) -> Result<()> {
    let path = home.changes_log();
    if let Ok(text) = std::fs::read_to_string(&path) {
        let needle_id = format!(" APPLIED {id}: ");
        let needle_backup = format!("backup: {})", backup.display());
        if text
            .lines()
            .any(|l| l.contains(&needle_id) && l.contains(&needle_backup))
        {
            return Ok(());
        }
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io("cannot create directory", dir, e))?;
    }
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| Error::io("cannot open", &path, e))?;
    f.write_all(line.as_bytes())
        .map_err(|e| Error::io("cannot append to", &path, e))?;
    f.sync_data()
        .map_err(|e| Error::io("cannot sync", &path, e))
}

/// Rejects suggestion `id`; it is never suggested again.
pub fn reject(home: &Home, id: &str, reason: Option<&str>) -> Result<Rejected> {
    let _lock = super::file::lock(home)?;
    recover(home, None, false, &mut Vec::new())?;
    let mut lf = LearningFile::read(home)?;
    let sug = lf.suggestion(id)?;
    let reason = reason
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(crate::signals::redact);
    match status_of(sug).as_str() {
        "applied" => {
            return Err(Error::Invalid(format!(
                "suggestion {id} was applied at {}; to undo it, restore the backup {} \
                 (or apply the opposite change)",
                sug.get("applied_at")
                    .and_then(Value::as_str)
                    .unwrap_or("an unknown time"),
                sug.get("backup")
                    .and_then(Value::as_str)
                    .unwrap_or("listed in logs/model-config-changes.log")
            )))
        }
        "rejected" => {
            return Ok(Rejected {
                id: id.to_string(),
                reason: sug
                    .get("rejection_reason")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                already: true,
            })
        }
        _ => {}
    }
    let now = crate::clock::now_iso();
    sug.insert("status".into(), Value::String("rejected".into()));
    sug.insert("rejected_at".into(), Value::String(now.clone()));
    if let Some(r) = &reason {
        sug.insert("rejection_reason".into(), Value::String(r.clone()));
    }
    push_history(sug, "rejected", &now, reason.as_deref().unwrap_or(""));
    // First in modelfit's own decisions file, which outlives any rewrite of
    // the learning file by another tool.
    super::decisions::record(
        home,
        "rejected",
        &Value::Object(sug.clone()),
        reason.as_deref(),
    )?;
    lf.write()?;
    Ok(Rejected {
        id: id.to_string(),
        reason,
        already: false,
    })
}

// ---------------------------------------------------------------------------
// Editing models.json in place

struct Edit {
    bytes: Vec<u8>,
    description: String,
    notes: Vec<String>,
}

type Fields<'a> = BTreeMap<String, &'a RawValue>;

fn span(buf: &str, raw: &RawValue) -> (usize, usize) {
    let s = raw.get();
    let start = s.as_ptr() as usize - buf.as_ptr() as usize;
    (start, start + s.len())
}

fn fields<'a>(path: &Path, raw: &'a str, what: &str) -> Result<Fields<'a>> {
    serde_json::from_str(raw).map_err(|_| Error::Shape {
        path: path.to_path_buf(),
        message: format!("{what} is not an object"),
    })
}

/// Leading whitespace of the line that holds byte `pos`.
fn line_indent(buf: &str, pos: usize) -> &str {
    let start = buf[..pos].rfind('\n').map_or(0, |i| i + 1);
    let line = &buf[start..];
    &line[..line.len() - line.trim_start_matches([' ', '\t']).len()]
}

fn check_model(home: &Home, model: &str) -> Result<()> {
    if rules::is_known_model(home, model) {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "model {model:?} is neither in {} nor a known Claude model id or alias; \
             modelfit will not write it into models.json",
            home.pricing().display()
        )))
    }
}

fn conflict(force: bool, notes: &mut Vec<String>, msg: String) -> Result<()> {
    if force {
        notes.push(format!("forced past a conflict: {msg}"));
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "{msg}. This conflicts with models.json as it is; a person must decide: \
             rerun with --force to apply it anyway"
        )))
    }
}

fn rule_json(rule: &Rule, one_line: bool, spaced: bool, inner: &str, outer: &str) -> String {
    let c = serde_json::to_string(&rule.condition).expect("string");
    let u = serde_json::to_string(&rule.model).expect("string");
    if one_line {
        if spaced {
            format!("{{ \"if\": {c}, \"use\": {u} }}")
        } else {
            format!("{{\"if\": {c}, \"use\": {u}}}")
        }
    } else {
        format!("{{\n{inner}\"if\": {c},\n{inner}\"use\": {u}\n{outer}}}")
    }
}

fn rule_notes(rule: &Rule) -> Vec<String> {
    let mut notes = vec![
        "rules take effect where the model is chosen by `modelfit select` (hooks/model-selector.sh); \
         the orchestrator's own routing reads only task_complexity.<level>.model"
            .to_string(),
    ];
    let c = rule.condition.to_lowercase();
    if c.contains("architecture") || c.contains("design") {
        notes.push(
            "the orchestrator's hard-coded routing sees 'architecture'/'design' in this rule's text \
             and sends matching tasks to task_complexity.complex.model, whatever its \"use\" says"
                .into(),
        );
    }
    if c.contains("documentation") || c.contains("readme") {
        notes.push(
            "the orchestrator's hard-coded routing sees 'documentation'/'readme' in this rule's text \
             and sends matching tasks to task_complexity.simple.model, whatever its \"use\" says"
                .into(),
        );
    }
    notes
}

/// Computes the new bytes of models.json for `change`, checking conflicts.
fn edit_models(home: &Home, original: &[u8], change: &Change, force: bool) -> Result<Edit> {
    let path = home.models();
    let buf = std::str::from_utf8(original).map_err(|_| Error::Shape {
        path: path.clone(),
        message: "the file is not UTF-8".into(),
    })?;
    let doc: Value = serde_json::from_str(buf).map_err(|e| Error::parse(&path, &e))?;
    let top = fields(&path, buf, "the top level")?;
    let mut notes = Vec::new();
    let pricing = rules::pricing_ids(&home.pricing());
    let models = Models::from_value(&doc, &path);
    let mut expected = doc.clone();

    let (bytes, description) = match change {
        Change::TaskComplexity { level, from, to } => {
            check_model(home, to)?;
            let missing = || {
                Error::Invalid(format!(
                    "{} has no task_complexity.{level}.model string to change; add the level by hand",
                    path.display()
                ))
            };
            let tc = top.get("task_complexity").ok_or_else(missing)?;
            let tc = fields(&path, tc.get(), "task_complexity")?;
            let lvl = tc.get(level.as_str()).ok_or_else(missing)?;
            let lvl = fields(&path, lvl.get(), &format!("task_complexity.{level}"))?;
            let raw = lvl.get("model").ok_or_else(missing)?;
            let current: String = serde_json::from_str(raw.get()).map_err(|_| missing())?;
            if current == *to {
                return Err(Error::Invalid(format!(
                    "task_complexity.{level}.model is already {to}; nothing to change"
                )));
            }
            if current != *from {
                conflict(
                    force,
                    &mut notes,
                    format!(
                        "task_complexity.{level}.model is {current}, not {from} as the suggestion expects \
                         (models.json changed since the analysis)"
                    ),
                )?;
            }
            let (s, e) = span(buf, raw);
            let mut out = String::with_capacity(buf.len() + to.len());
            out.push_str(&buf[..s]);
            out.push_str(&serde_json::to_string(to).expect("string"));
            out.push_str(&buf[e..]);
            expected["task_complexity"][level.as_str()]["model"] = Value::String(to.clone());
            let verb = match (
                rules::family(&current).and_then(tier_of),
                rules::family(to).and_then(tier_of),
            ) {
                (Some(a), Some(b)) if b > a => "Upgraded",
                (Some(a), Some(b)) if b < a => "Downgraded",
                _ => "Changed",
            };
            (
                out,
                format!("{verb} model for complexity={level} from {current} to {to}"),
            )
        }
        Change::AddRule { rule } => {
            rules::parse(&rule.condition).map_err(|e| {
                Error::Invalid(format!(
                    "the suggested rule's condition {:?} does not parse ({e}); not applied",
                    rule.condition
                ))
            })?;
            check_model(home, &rule.model)?;
            let new_model = models.resolve(&rule.model, &pricing);
            let new_expr = rules::parse(&rule.condition).ok();
            let new_needles = new_expr.as_ref().map(|e| e.needles()).unwrap_or_default();
            let new_level = new_expr
                .as_ref()
                .and_then(|e| e.required_complexity().map(str::to_string));
            for (i, r) in models.rules.iter().enumerate() {
                let Ok(r) = r else { continue };
                if r.condition.trim() == rule.condition.trim()
                    && models.resolve(&r.model, &pricing) == new_model
                {
                    {
                        return Err(Error::Invalid(format!(
                            "rules[{i}] is already {{\"if\": {:?}, \"use\": {:?}}}; nothing to add",
                            r.condition, r.model
                        )));
                    }
                }
                let Ok(expr) = rules::parse(&r.condition) else {
                    continue;
                };
                if let (Some(a), Some(b)) = (new_level.as_deref(), expr.required_complexity()) {
                    if a != b {
                        continue; // Scoped to different levels: no task meets both.
                    }
                }
                let shared: Vec<String> = expr
                    .needles()
                    .into_iter()
                    .filter(|n| new_needles.contains(n))
                    .collect();
                if shared.is_empty() {
                    continue;
                }
                let existing = models.resolve(&r.model, &pricing);
                let msg = if existing == new_model {
                    format!(
                        "rules[{i}] ({:?}) already routes '{}' to {}",
                        r.condition,
                        shared.join("', '"),
                        r.model
                    )
                } else {
                    format!(
                        "rules[{i}] ({:?}) routes '{}' to {}; the new rule comes after it \
                         (first match wins), so it would not fire for those tasks",
                        r.condition,
                        shared.join("', '"),
                        r.model
                    )
                };
                conflict(force, &mut notes, msg)?;
            }
            notes.extend(rule_notes(rule));
            let out = insert_rule(&path, buf, &top, rule)?;
            match expected.get_mut("rules") {
                Some(Value::Array(a)) => a.push(serde_json::to_value(rule).expect("rule")),
                _ => {
                    expected["rules"] =
                        Value::Array(vec![serde_json::to_value(rule).expect("rule")]);
                }
            }
            (
                out,
                format!(
                    "Added rule {{\"if\": {:?}, \"use\": {:?}}} (takes effect through modelfit select)",
                    rule.condition, rule.model
                ),
            )
        }
        Change::ModifyRule { index, old, rule } => {
            rules::parse(&rule.condition).map_err(|e| {
                Error::Invalid(format!(
                    "the suggested rule's condition {:?} does not parse ({e}); not applied",
                    rule.condition
                ))
            })?;
            check_model(home, &rule.model)?;
            let no_rule = || {
                Error::Invalid(format!(
                    "{} has no rules[{index}] {{\"if\", \"use\"}} entry to modify",
                    path.display()
                ))
            };
            let raw = top.get("rules").ok_or_else(no_rule)?;
            let elems: Vec<&RawValue> = serde_json::from_str(raw.get()).map_err(|_| no_rule())?;
            let elem = elems.get(*index).ok_or_else(no_rule)?;
            let f = fields(&path, elem.get(), &format!("rules[{index}]"))?;
            let (Some(ri), Some(ru)) = (f.get("if"), f.get("use")) else {
                return Err(no_rule());
            };
            let cur_if: Option<String> = serde_json::from_str(ri.get()).ok();
            let cur_use: Option<String> = serde_json::from_str(ru.get()).ok();
            if cur_if.as_deref() != Some(&old.condition) || cur_use.as_deref() != Some(&old.model) {
                conflict(
                    force,
                    &mut notes,
                    format!(
                        "rules[{index}] is now {}, not {{\"if\": {:?}, \"use\": {:?}}} as the suggestion expects",
                        compact_raw(elem.get()),
                        old.condition,
                        old.model
                    ),
                )?;
            }
            notes.extend(rule_notes(rule));
            let mut spans = [
                (
                    span(buf, ri),
                    serde_json::to_string(&rule.condition).expect("string"),
                ),
                (
                    span(buf, ru),
                    serde_json::to_string(&rule.model).expect("string"),
                ),
            ];
            spans.sort_by_key(|((s, _), _)| std::cmp::Reverse(*s));
            let mut out = buf.to_string();
            for ((s, e), text) in spans {
                out.replace_range(s..e, &text);
            }
            if let Some(Value::Object(o)) = expected["rules"].get_mut(*index) {
                o.insert("if".into(), Value::String(rule.condition.clone()));
                o.insert("use".into(), Value::String(rule.model.clone()));
            }
            (
                out,
                format!(
                    "Changed rules[{index}] from {{\"if\": {:?}, \"use\": {:?}}} to {{\"if\": {:?}, \"use\": {:?}}} \
                     (takes effect through modelfit select)",
                    cur_if.unwrap_or_default(),
                    cur_use.unwrap_or_default(),
                    rule.condition,
                    rule.model
                ),
            )
        }
    };
    // The text edit must mean exactly the intended change, nothing else.
    let check: Value = serde_json::from_str(&bytes).map_err(|e| {
        Error::Invalid(format!(
            "internal error: the edited models.json would not parse ({e}); nothing was written"
        ))
    })?;
    if check != expected {
        return Err(Error::Invalid(
            "internal error: the edited models.json differs from the intended change; nothing was written"
                .into(),
        ));
    }
    Ok(Edit {
        bytes: bytes.into_bytes(),
        description,
        notes,
    })
}

fn tier_of(fam: &str) -> Option<usize> {
    ["haiku", "sonnet", "opus"].iter().position(|f| *f == fam)
}

fn compact_raw(text: &str) -> String {
    serde_json::from_str::<Value>(text)
        .map(|v| v.to_string())
        .unwrap_or_else(|_| text.to_string())
}

/// Appends `rule` to the `rules` array in the style of its existing entries
/// (or creates the array at the end of the top-level object).
fn insert_rule(path: &Path, buf: &str, top: &Fields<'_>, rule: &Rule) -> Result<String> {
    let mut out = String::with_capacity(buf.len() + 128);
    // Inserted line breaks follow the file's own (CRLF files stay CRLF).
    let crlf = buf.contains("\r\n");
    let nl = |s: String| if crlf { s.replace('\n', "\r\n") } else { s };
    match top.get("rules") {
        None => {
            // Close of the top-level object: the last `}` of the text.
            let close = buf.rfind('}').ok_or_else(|| Error::Shape {
                path: path.to_path_buf(),
                message: "the top level is not an object".into(),
            })?;
            let last = buf[..close].trim_end();
            let empty = last.ends_with('{');
            let unit = detect_unit(buf);
            let body = rule_json(rule, false, false, &unit.repeat(3), &unit.repeat(2));
            out.push_str(last);
            if !empty {
                out.push(',');
            }
            out.push_str(&nl(format!(
                "\n{unit}\"rules\": [\n{}{body}\n{unit}]\n",
                unit.repeat(2)
            )));
            out.push_str(&buf[close..]);
        }
        Some(raw) => {
            let elems: Vec<&RawValue> = serde_json::from_str(raw.get()).map_err(|_| {
                Error::Invalid(format!(
                    "\"rules\" in {} is not an array ({}); fix it by hand before adding rules",
                    path.display(),
                    compact_raw(raw.get())
                ))
            })?;
            let (rs, re) = span(buf, raw);
            match (elems.first(), elems.last()) {
                (Some(first), Some(last)) => {
                    let (fs, _) = span(buf, first);
                    let (_, le) = span(buf, last);
                    let multiline_array = buf[rs..fs].contains('\n');
                    let elem_indent = line_indent(buf, fs).to_string();
                    let ftext = first.get();
                    let one_line = !ftext.contains('\n');
                    let inner = ftext
                        .split('\n')
                        .nth(1)
                        .map(|l| l[..l.len() - l.trim_start().len()].to_string())
                        .unwrap_or_else(|| format!("{elem_indent}  "));
                    let body = rule_json(
                        rule,
                        one_line,
                        ftext.starts_with("{ "),
                        &inner,
                        &elem_indent,
                    );
                    out.push_str(&buf[..le]);
                    if multiline_array {
                        out.push_str(&nl(format!(",\n{elem_indent}{body}")));
                    } else {
                        out.push_str(&nl(format!(", {body}")));
                    }
                    out.push_str(&buf[le..]);
                }
                _ => {
                    let indent = line_indent(buf, rs).to_string();
                    let unit = detect_unit(buf);
                    let body = rule_json(
                        rule,
                        false,
                        false,
                        &format!("{indent}{unit}{unit}"),
                        &format!("{indent}{unit}"),
                    );
                    out.push_str(&buf[..rs]);
                    out.push_str(&nl(format!("[\n{indent}{unit}{body}\n{indent}]")));
                    out.push_str(&buf[re..]);
                }
            }
        }
    }
    Ok(out)
}

/// The file's indentation unit: the leading whitespace of its first indented line.
fn detect_unit(buf: &str) -> String {
    buf.lines()
        .map(|l| &l[..l.len() - l.trim_start_matches([' ', '\t']).len()])
        .find(|w| !w.is_empty())
        .unwrap_or("  ")
        .to_string()
}

/// The exact level change of an analyzer suggestion that names both models
/// and the level (`downgrade_model`: `complexity`, `current_model`,
/// `suggested_model`); `None` for one that only gives a direction.
pub(crate) fn analyzer_change(s: &Value) -> Option<Change> {
    let level = s.get("complexity").and_then(Value::as_str).or_else(|| {
        s.get("group_label")
            .and_then(Value::as_str)
            .and_then(|g| g.strip_prefix("complexity="))
    })?;
    let from = s.get("current_model").and_then(Value::as_str)?;
    let to = s.get("suggested_model").and_then(Value::as_str)?;
    if !crate::learn::models::LEVELS.contains(&level) || from == to {
        return None;
    }
    Some(Change::TaskComplexity {
        level: level.into(),
        from: from.into(),
        to: to.into(),
    })
}
