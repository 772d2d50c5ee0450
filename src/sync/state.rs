//! What `modelfit sync` remembers locally: this machine's id, and which
//! version of each record the database has acknowledged (the outbox).
//!
//! The outbox is not a second copy of the records: it is the ledger itself
//! plus `logs/modelfit/sync-state.json`, which maps each record's key to the
//! hash of the text the database last confirmed. A record whose text hash
//! differs (new, or changed since: an outcome set later, a Stop that refreshed
//! it) waits. Acknowledgements are written only after the database committed,
//! so a crash or a lost connection at worst re-sends records the database
//! already has (the upsert then changes nothing).

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::error::{Error, Result};
use crate::home::Home;
use crate::store::Ledger;

/// `logs/modelfit/machine-id`: 32 hex digits, generated once.
pub fn machine_id_path(home: &Home) -> PathBuf {
    home.state_dir().join("machine-id")
}

/// `logs/modelfit/sync-state.json`: the acknowledged hashes.
pub fn state_path(home: &Home) -> PathBuf {
    home.state_dir().join("sync-state.json")
}

/// `logs/modelfit/sync.lock`: held while a sync runs (one at a time).
pub fn lock_path(home: &Home) -> PathBuf {
    home.state_dir().join("sync.lock")
}

/// `logs/modelfit/sync-backoff`: exists (its mtime: when) after a failed sync.
pub fn backoff_path(home: &Home) -> PathBuf {
    home.state_dir().join("sync-backoff")
}

/// This machine's stable id, created on first use. Two machines never share
/// one (128 random bits), so equal dispatch ids from two machines stay apart.
pub fn machine_id(home: &Home) -> Result<String> {
    let path = machine_id_path(home);
    if let Ok(text) = std::fs::read_to_string(&path) {
        let id = text.trim();
        if valid_machine_id(id) {
            return Ok(id.to_string());
        }
        return Err(Error::Shape {
            path,
            message: format!(
                "{id:?} is not a machine id (32 hex digits); restore the file from a backup, \
                 or delete it to start a new identity (this machine's records would then be \
                 pooled a second time under the new id)"
            ),
        });
    }
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| Error::io("cannot read", "/dev/urandom", e))?;
    let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let dir = home.state_dir();
    std::fs::create_dir_all(&dir).map_err(|e| Error::io("cannot create directory", &dir, e))?;
    // create_new: when two first syncs race, one id wins and both use it.
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
    {
        Ok(mut f) => {
            use std::io::Write;
            f.write_all(format!("{id}\n").as_bytes())
                .and_then(|_| f.sync_all())
                .map_err(|e| Error::io("cannot write", &path, e))?;
            Ok(id)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => machine_id(home),
        Err(e) => Err(Error::io("cannot create", &path, e)),
    }
}

/// Whether `id` has the shape of a machine id.
pub fn valid_machine_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The local sync state.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct SyncState {
    /// Which database the acknowledgements are from (host, port, database;
    /// no password). Another database starts from nothing.
    pub database: String,
    /// When the last sync finished without error.
    pub last_ok_at: Option<String>,
    /// When the last sync was attempted.
    pub last_attempt_at: Option<String>,
    /// What went wrong last time, if it did.
    pub last_error: Option<String>,
    /// Record key → hash of the text the database acknowledged.
    pub acked: HashMap<String, String>,
}

impl SyncState {
    /// Reads the state; a missing file is an empty state, a broken one is
    /// treated as empty too (everything is re-sent; the upsert makes that harmless).
    pub fn load(home: &Home) -> SyncState {
        std::fs::read(state_path(home))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// Writes the state atomically.
    pub fn save(&self, home: &Home) -> Result<()> {
        let dir = home.state_dir();
        std::fs::create_dir_all(&dir).map_err(|e| Error::io("cannot create directory", &dir, e))?;
        let bytes = serde_json::to_vec(self).expect("state serializes");
        crate::store::write_atomic(&state_path(home), &bytes)
    }
}

/// FNV-1a 64 of `bytes`, as 16 hex digits: tells a changed record from an unchanged one.
pub fn content_hash(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// Gives each record of one ledger pass its key: its `id` (or `dispatch_id`),
/// `id#2`, `id#3` … for repeats of an id, and `noid:HASH` for a record
/// without one (such a record, once changed, is pooled as a new one).
#[derive(Debug, Default)]
pub struct Keys {
    seen: HashSet<String>,
}

/// The id fields of a record, read without building the rest.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Ids {
    #[serde(deserialize_with = "crate::record::lenient_string")]
    id: Option<String>,
    #[serde(deserialize_with = "crate::record::lenient_string")]
    dispatch_id: Option<String>,
}

impl Keys {
    /// Whether `key` was given out in this pass.
    pub fn contains(&self, key: &str) -> bool {
        self.seen.contains(key)
    }

    /// The key of `raw`, whose text hashes to `hash`.
    pub fn key(&mut self, raw: &RawValue, hash: &str) -> String {
        let ids: Ids = serde_json::from_str(raw.get()).unwrap_or_default();
        let base = match ids.id.or(ids.dispatch_id).filter(|s| !s.is_empty()) {
            Some(id) => id,
            None => format!("noid:{hash}"),
        };
        if self.seen.insert(base.clone()) {
            return base;
        }
        let mut n = 2;
        loop {
            let k = format!("{base}#{n}");
            if self.seen.insert(k.clone()) {
                return k;
            }
            n += 1;
        }
    }
}

/// What waits to be synced.
#[derive(Debug, Clone, Default)]
pub struct Pending {
    /// Records in the ledger.
    pub records: u64,
    /// Records the database has not acknowledged in their current version.
    pub waiting: u64,
    /// The oldest change time among the waiting records (`updated_at`, else
    /// `completed_at`, else `created_at`).
    pub oldest: Option<DateTime<Utc>>,
    /// The state's record of the last sync.
    pub last_ok_at: Option<String>,
    /// The last sync's error, if it failed.
    pub last_error: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Times {
    #[serde(deserialize_with = "crate::record::lenient_string")]
    updated_at: Option<String>,
    #[serde(deserialize_with = "crate::record::lenient_string")]
    completed_at: Option<String>,
    #[serde(deserialize_with = "crate::record::lenient_string")]
    created_at: Option<String>,
}

/// Counts the records waiting for the database `database` (as described by
/// [`super::describe_target`]), streaming the ledger once.
pub fn pending(home: &Home, database: &str) -> Result<Pending> {
    let state = SyncState::load(home);
    let fresh = state.database != database;
    let mut keys = Keys::default();
    let mut out = Pending {
        last_ok_at: if fresh {
            None
        } else {
            state.last_ok_at.clone()
        },
        last_error: state.last_error.clone(),
        ..Pending::default()
    };
    Ledger::of(home).for_each(|raw: Box<RawValue>| {
        out.records += 1;
        let hash = content_hash(raw.get().as_bytes());
        let key = keys.key(&raw, &hash);
        if !fresh && state.acked.get(&key) == Some(&hash) {
            return true;
        }
        out.waiting += 1;
        let t: Times = serde_json::from_str(raw.get()).unwrap_or_default();
        let at = t
            .updated_at
            .or(t.completed_at)
            .or(t.created_at)
            .and_then(|s| crate::clock::parse(&s));
        if let Some(at) = at {
            if out.oldest.is_none_or(|o| at < o) {
                out.oldest = Some(at);
            }
        }
        true
    })?;
    Ok(out)
}
