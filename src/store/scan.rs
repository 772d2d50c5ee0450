//! Byte-level scanning of the ledger for callers that must stay fast whatever
//! its size (the prompt hook linking a dispatch): find a needle's offsets in
//! a chunked read, then cut out only the top-level records around them.
//!
//! Both functions tolerate the file changing underneath them (another
//! writer replacing, growing or shrinking it): they answer `None` ("cannot
//! tell, parse it all") rather than panic or read out of bounds.

use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// At most this many hits are returned; beyond it the caller parses the
/// whole ledger instead.
pub const MAX_HITS: usize = 10_000;

/// Byte offsets of `needle` in the file at `path`, read in 1 MB chunks
/// (memory stays flat whatever the ledger's size). A missing file has none;
/// `None` when the file cannot be read (let the full scan decide).
pub fn match_offsets(path: &Path, needle: &[u8]) -> Option<Vec<u64>> {
    if needle.is_empty() {
        return None;
    }
    let finder = memchr::memmem::Finder::new(needle);
    let mut f = match crate::readfile::open_regular(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Some(Vec::new()),
        Err(_) => return None,
    };
    let keep = needle.len() - 1;
    let mut buf = vec![0u8; (1 << 20) + keep];
    let mut filled = 0usize;
    let mut base = 0u64; // file offset of buf[0]
    let mut hits = Vec::new();
    loop {
        let n = match f.read(&mut buf[filled..]) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return None,
        };
        filled += n;
        if n == 0 || filled == buf.len() {
            // A match cannot fit in the kept tail alone, so none is seen twice.
            hits.extend(finder.find_iter(&buf[..filled]).map(|i| base + i as u64));
            if hits.len() > MAX_HITS {
                return None;
            }
            if n == 0 {
                return Some(hits);
            }
            buf.copy_within(filled - keep..filled, 0);
            base += (filled - keep) as u64;
            filled = keep;
        }
    }
}

/// The top-level records around `hits`, relying on the orchestrator's layout
/// (`JSON.stringify(…, null, 2)`: each record opens with `\n  {` and closes
/// with `\n  }`, deeper objects are indented further). `None` when a hit's
/// record cannot be delimited that way within 1 MB either side, or when the
/// file no longer holds the offsets (it shrank or was replaced since).
pub fn records_around(path: &Path, hits: &[u64]) -> Option<Vec<Vec<u8>>> {
    const SPAN: u64 = 1 << 20;
    let f = crate::readfile::open_regular(path).ok()?;
    let len = f.metadata().ok()?.len();
    let mut out = Vec::new();
    let mut covered_to = 0u64;
    for &hit in hits {
        if hit < covered_to {
            continue; // inside the record already taken
        }
        if hit >= len {
            return None; // the file shrank since the offsets were taken
        }
        let from = hit.saturating_sub(SPAN);
        let to = hit.saturating_add(SPAN).min(len);
        let mut window = vec![0u8; (to - from) as usize];
        read_full_at(&f, &mut window, from)?;
        let at = (hit - from) as usize;
        let start = window[..at]
            .windows(4)
            .rposition(|w| w == b"\n  {")
            .map(|i| i + 3)?;
        let end = window[at..]
            .windows(4)
            .position(|w| w == b"\n  }")
            .map(|i| at + i + 4)?;
        out.push(window[start..end].to_vec());
        covered_to = from + end as u64;
    }
    Some(out)
}

/// Fills `buf` from `offset`; `None` when the file ends first (it shrank).
fn read_full_at(f: &std::fs::File, buf: &mut [u8], offset: u64) -> Option<()> {
    let mut done = 0;
    while done < buf.len() {
        match f.read_at(&mut buf[done..], offset + done as u64) {
            Ok(0) => return None,
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_needles_across_chunks_and_delimits_records() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("l.json");
        let pad = "x".repeat((1 << 20) - 40);
        let text = format!(
            "[\n  {{\n    \"pad\": \"{pad}\",\n    \"w\": \"/a/ws\"\n  }},\n  {{\n    \"w\": \"/b/ws\"\n  }}\n]"
        );
        std::fs::write(&p, &text).unwrap();
        let hits = match_offsets(&p, b"/ws\"").unwrap();
        assert_eq!(hits.len(), 2);
        let recs = records_around(&p, &hits).unwrap();
        assert_eq!(recs.len(), 2);
        for r in &recs {
            serde_json::from_slice::<serde_json::Value>(r).unwrap();
        }
        assert_eq!(match_offsets(&t.path().join("none"), b"x"), Some(vec![]));
    }

    #[test]
    fn a_shrunken_file_gives_none_not_a_panic() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("l.json");
        std::fs::write(
            &p,
            format!("[\n  {{\n    \"w\": \"/a/ws\"\n  }}\n]{}", " ".repeat(5000)),
        )
        .unwrap();
        let hits = match_offsets(&p, b"/ws\"").unwrap();
        std::fs::write(&p, "[]").unwrap();
        assert_eq!(records_around(&p, &hits), None);
        assert_eq!(records_around(&p, &[1 << 40]), None);
    }
}
