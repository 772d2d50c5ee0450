//! Signals drawn from a task: its keywords, whether it retries an earlier
//! task, the outcome implied by how it ended, and redaction of secrets before
//! anything is written.

pub mod keywords;

pub use keywords::keywords;
pub mod redact;

pub use redact::redact;

/// A stable fingerprint of a task text (FNV-1a 64 over the trimmed text, as
/// 16 hex digits), used to join `select`'s log of choices to the ledger
/// records the dispatcher writes for the same task, without storing the text.
pub fn task_fingerprint(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.trim().bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}
pub mod retry;
