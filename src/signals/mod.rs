//! Signals drawn from a task: its keywords, whether it retries an earlier
//! task, the outcome implied by how it ended, and redaction of secrets before
//! anything is written.

pub mod keywords;

pub use keywords::keywords;
pub mod redact;

pub use redact::redact;
