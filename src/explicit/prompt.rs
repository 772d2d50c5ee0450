//! The checkpoint question, asked on the controlling terminal.
//!
//! The question goes to `/dev/tty`, never to stdin or stdout: the command may
//! run with its output piped or its input redirected, and a person still sits
//! at the terminal. Where there is no person to ask (CI, no controlling
//! terminal, stdin closed, or the process is in the background) nothing is
//! asked and the caller returns at once.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use super::rate::parse_verdict;
use crate::outcome::Outcome;

/// The question, as the issue words it.
pub const QUESTION: &str = "Did this task complete successfully? (y/n/p)";

/// What came of asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// A verdict.
    Verdict(Outcome),
    /// Enter on an empty line, or end of input (Ctrl-D): the person declined.
    Skipped,
    /// No answer before the deadline.
    TimedOut,
}

/// The terminal a person can answer on.
#[derive(Debug)]
pub struct Tty {
    file: File,
}

/// Opens the controlling terminal, or says why there is no one to ask.
pub fn terminal() -> Result<Tty, String> {
    if let Some(v) = std::env::var_os("CI") {
        let v = v.to_string_lossy().to_ascii_lowercase();
        if !matches!(v.as_str(), "" | "0" | "false" | "no") {
            return Err("CI is set".into());
        }
    }
    if stdin_closed() {
        return Err("stdin is closed".into());
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(|_| "there is no controlling terminal".to_string())?;
    let fd = file.as_raw_fd();
    // SAFETY: plain queries on a descriptor we own.
    let (fg, me) = unsafe { (libc::tcgetpgrp(fd), libc::getpgrp()) };
    if fg != me {
        // Reading would stop the process (SIGTTIN); a background job asks no one.
        return Err("the process runs in the background of its terminal".into());
    }
    Ok(Tty { file })
}

/// Stdin closed, or `/dev/null`: the Rust runtime reopens a closed stdin on
/// `/dev/null` before `main`, so both mean the caller gave no input.
fn stdin_closed() -> bool {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    // SAFETY: fstat on fd 0 into a zeroed struct we own.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(0, &mut st) } == -1 {
        return true;
    }
    match std::fs::metadata("/dev/null") {
        Ok(null) => {
            null.file_type().is_char_device()
                && (st.st_mode & libc::S_IFMT) == libc::S_IFCHR
                && st.st_rdev == null.rdev()
        }
        Err(_) => false,
    }
}

impl Tty {
    /// Shows `header` (what is being rated), asks [`QUESTION`] and waits up to
    /// `timeout` in total for y/yes/n/no/p/partial (any case). Enter or
    /// Ctrl-D skips; anything else asks again. Keys typed before the question
    /// (while the task ran) are discarded, so they cannot answer it.
    pub fn ask(&mut self, header: &str, timeout: Duration) -> std::io::Result<Answer> {
        let fd = self.file.as_raw_fd();
        // SAFETY: discards pending input on our own terminal descriptor.
        unsafe { libc::tcflush(fd, libc::TCIFLUSH) };
        let deadline = Instant::now() + timeout;
        write!(
            self.file,
            "{header}\n{QUESTION} [Enter skips, {}s] ",
            timeout.as_secs()
        )?;
        self.file.flush()?;
        loop {
            let line = match self.read_line(deadline)? {
                None => {
                    writeln!(
                        self.file,
                        "\nNo answer after {}s; the task is left unrated.",
                        timeout.as_secs()
                    )?;
                    return Ok(Answer::TimedOut);
                }
                Some(l) => l,
            };
            let Some(line) = line else {
                writeln!(self.file)?;
                return Ok(Answer::Skipped);
            };
            if line.trim().is_empty() {
                return Ok(Answer::Skipped);
            }
            if let Some(o) = parse_verdict(&line) {
                return Ok(Answer::Verdict(o));
            }
            write!(self.file, "Please answer y, n or p (Enter skips): ")?;
            self.file.flush()?;
        }
    }

    /// Writes a line on the terminal.
    pub fn say(&mut self, text: &str) -> std::io::Result<()> {
        writeln!(self.file, "{text}")
    }

    /// One line, `Some(None)` at end of input, `None` at the deadline.
    fn read_line(&mut self, deadline: Instant) -> std::io::Result<Option<Option<String>>> {
        let fd = self.file.as_raw_fd();
        let mut bytes = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            let mut pfd = libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            };
            let ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
            // SAFETY: one valid pollfd.
            let n = unsafe { libc::poll(&mut pfd, 1, ms) };
            if n < 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue; // e.g. SIGWINCH
                }
                return Err(e);
            }
            if n == 0 {
                continue; // re-check the deadline
            }
            if pfd.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0
                && pfd.revents & libc::POLLIN == 0
            {
                return Ok(Some(None)); // terminal gone
            }
            let mut buf = [0u8; 256];
            let got = match self.file.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if got == 0 {
                return Ok(Some(None));
            }
            bytes.extend_from_slice(&buf[..got]);
            if bytes.len() > 4096 {
                bytes.drain(..bytes.len() - 4096); // a pasted novel is still garbage
            }
            if bytes.contains(&b'\n') {
                let text = String::from_utf8_lossy(&bytes);
                let line = text.split('\n').next().unwrap_or("").to_string();
                return Ok(Some(Some(line)));
            }
        }
    }
}
