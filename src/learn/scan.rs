//! Reading a large ledger on every core: the file is cut into segments at
//! record boundaries, each segment is parsed on a worker thread, and the
//! results come back in file order.
//!
//! Boundaries are found where the orchestrator's pretty-printed array starts
//! a top-level element (`"\n  {"`: a raw newline never occurs inside a JSON
//! string, and nested elements are indented further). Each worker parses its
//! segment as an array of whole elements (see `parse_segment`), which also
//! checks that it starts and ends between two top-level elements; when a
//! file is not laid out that way (compact JSON, other indentation) the
//! caller falls back to the sequential [`crate::store::Ledger::for_each`].

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use serde::de::DeserializeOwned;

/// Files below this size are read sequentially (threads would not pay).
pub const MIN_PARALLEL_BYTES: u64 = 8 << 20;
/// Target segment size: small enough that two in flight stay a few MiB.
const SEGMENT_BYTES: u64 = 2 << 20;

/// Why the parallel reader gave up.
#[derive(Debug, PartialEq, Eq)]
pub enum Fallback {
    /// Before anything was applied: read sequentially instead (which also
    /// reports any parse error with its line and column).
    Sequential,
    /// After some records were applied (a record that does not parse, or a
    /// boundary that was not one): the caller's state is incomplete.
    Broken,
}

/// Byte offsets where segments start (the first is the first element's `{`).
fn boundaries(file: &File, len: u64) -> Option<Vec<u64>> {
    let mut head = vec![0u8; 4096.min(len as usize)];
    file.read_exact_at(&mut head, 0).ok()?;
    let first = head.iter().position(|b| !b.is_ascii_whitespace())?;
    if head[first] != b'[' {
        return None;
    }
    let start = first as u64
        + 1
        + head[first + 1..]
            .iter()
            .position(|b| !b.is_ascii_whitespace())? as u64;
    let mut out = vec![start];
    let finder = memchr::memmem::Finder::new(b"\n  {");
    let mut probe = vec![0u8; 64 << 10];
    let mut at = start + SEGMENT_BYTES;
    while at + (1 << 20) < len {
        let n = probe.len().min((len - at) as usize);
        file.read_exact_at(&mut probe[..n], at).ok()?;
        let Some(i) = finder.find(&probe[..n]) else {
            // No boundary near here: not the layout this reader expects.
            return None;
        };
        let b = at + i as u64 + 3;
        out.push(b);
        at = b + SEGMENT_BYTES;
    }
    out.push(len);
    Some(out)
}

/// Parses `buf`, a segment behind a `[` (its first byte), as an array of
/// `T` mapped by `prepare`. A segment other than the last ends with the
/// comma before the next element, which becomes the closing `]`; the last
/// one ends with the file's `]`. `None` unless the segment is exactly a run
/// of whole elements: one that starts or ends inside a record leaves its
/// brackets unbalanced or a stray value, which serde rejects (so the layout
/// is checked by the one parse of the records, not a scan of its own).
fn parse_segment<T, P, F>(buf: &mut Vec<u8>, last: bool, prepare: &F) -> Option<Vec<P>>
where
    T: DeserializeOwned,
    F: Fn(T) -> P,
{
    if !last {
        let end = buf.iter().rposition(|c| !c.is_ascii_whitespace())?;
        if end == 0 || buf[end] != b',' {
            return None;
        }
        buf[end] = b']';
        buf.truncate(end + 1);
    }
    struct Elements<'a, T, F> {
        prepare: &'a F,
        _t: std::marker::PhantomData<fn() -> T>,
    }
    impl<'de, T, P, F> serde::de::Visitor<'de> for Elements<'_, T, F>
    where
        T: DeserializeOwned,
        F: Fn(T) -> P,
    {
        type Value = Vec<P>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("records")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<P>, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
            while let Some(t) = seq.next_element::<T>()? {
                out.push((self.prepare)(t));
            }
            Ok(out)
        }
    }
    fn whole<'de, R, V>(mut de: serde_json::Deserializer<R>, v: V) -> Option<V::Value>
    where
        R: serde_json::de::Read<'de>,
        V: serde::de::Visitor<'de>,
    {
        let out = serde::Deserializer::deserialize_seq(&mut de, v).ok()?;
        de.end().ok()?;
        Some(out)
    }
    let elements = Elements {
        prepare,
        _t: std::marker::PhantomData,
    };
    // One UTF-8 check of the whole segment (a fast pass over long ASCII
    // runs) instead of one per string as the slice reader does: ~10 % of
    // learn's time on 1 M records. Invalid UTF-8 in a field nobody reads is
    // still accepted, as the sequential reader accepts it, by the slice reader.
    match std::str::from_utf8(buf) {
        Ok(text) => whole(serde_json::Deserializer::from_str(text), elements),
        Err(_) => whole(serde_json::Deserializer::from_slice(buf), elements),
    }
}

/// Parses every record of the ledger at `path` as `T` on `threads` workers,
/// maps it with `prepare` on the worker, and hands the results to `apply` on
/// the calling thread in file order. See [`Fallback`] for the errors.
pub fn for_each_parallel<T, P, F, G>(
    path: Option<&Path>,
    threads: usize,
    prepare: F,
    mut apply: G,
) -> Result<(), Fallback>
where
    T: DeserializeOwned,
    P: Send,
    F: Fn(T) -> P + Sync,
    G: FnMut(P),
{
    let path = path.ok_or(Fallback::Sequential)?;
    let file = File::open(path).map_err(|_| Fallback::Sequential)?;
    let len = file.metadata().map_err(|_| Fallback::Sequential)?.len();
    if len < MIN_PARALLEL_BYTES || threads < 2 {
        return Err(Fallback::Sequential);
    }
    let bounds = boundaries(&file, len).ok_or(Fallback::Sequential)?;
    let segments = bounds.len() - 1;
    // The workers check each segment's layout as they parse it; a failure
    // stops everything (results are applied in order, a failed segment sends
    // `None`).
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::sync_channel::<(usize, Option<Vec<P>>)>(threads);
    let mut failed = false;
    let mut applied = false;
    std::thread::scope(|s| {
        for _ in 0..threads {
            let tx = tx.clone();
            let (file, bounds, next, prepare) = (&file, &bounds, &next, &prepare);
            s.spawn(move || {
                let mut buf = Vec::new();
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    if k >= segments {
                        return;
                    }
                    let (a, b) = (bounds[k], bounds[k + 1]);
                    buf.resize((b - a) as usize + 1, 0);
                    buf[0] = b'[';
                    let res = file
                        .read_exact_at(&mut buf[1..], a)
                        .ok()
                        .and_then(|_| parse_segment(&mut buf, k + 1 == segments, prepare));
                    let stop = res.is_none();
                    if tx.send((k, res)).is_err() || stop {
                        return;
                    }
                }
            });
        }
        drop(tx);
        // Reorder: apply segment k only after every segment before it.
        let mut pending: std::collections::BTreeMap<usize, Vec<P>> = Default::default();
        let mut want = 0;
        for (k, res) in rx.iter() {
            match res {
                Some(v) => {
                    pending.insert(k, v);
                }
                None => {
                    failed = true;
                    next.store(segments, Ordering::Relaxed);
                    break;
                }
            }
            while let Some(v) = pending.remove(&want) {
                applied = true;
                for p in v {
                    apply(p);
                }
                want += 1;
            }
        }
        // Drain so blocked workers can finish.
        for _ in rx.iter() {}
    });
    if failed {
        return Err(if applied {
            Fallback::Broken
        } else {
            Fallback::Sequential
        });
    }
    Ok(())
}

/// One pass over the records: on every core when the source is a file laid
/// out for splitting, else as one stream (which also names the position of
/// any parse error); a file that changed under the parallel read is an error.
pub(crate) fn read_pass<T, P, L, F, G>(
    ledger: &L,
    threads: usize,
    prepare: F,
    apply: &mut G,
) -> crate::error::Result<()>
where
    T: serde::de::DeserializeOwned,
    P: Send,
    L: super::pooled::Records + ?Sized,
    F: Fn(T) -> P + Sync,
    G: FnMut(P),
{
    match for_each_parallel(ledger.parallel_path(), threads, &prepare, &mut *apply) {
        Ok(()) => Ok(()),
        Err(Fallback::Sequential) => ledger.for_each(|r: T| {
            apply(prepare(r));
            true
        }),
        Err(Fallback::Broken) => {
            // Surface the record that does not parse, with its position.
            ledger.for_each(|_: T| true)?;
            Err(unreadable(ledger))
        }
    }
}

/// The error when a parallel pass stopped half-way without a parse error.
fn unreadable<L: super::pooled::Records + ?Sized>(ledger: &L) -> crate::error::Error {
    crate::error::Error::Invalid(format!(
        "{} could not be read consistently (was it rewritten by a program that does not lock it?); run `modelfit learn` again",
        ledger.describe()
    ))
}

/// Worker threads for a pass: every core, at most 4 (more would only add
/// segments in flight, hence memory).
pub(crate) fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_segment_is_whole_elements() {
        #[derive(serde::Deserialize, Debug, PartialEq)]
        struct R {
            #[serde(default)]
            a: Option<String>,
            #[serde(default)]
            d: Option<String>,
        }
        let seg = |text: &str| {
            let mut v = b"[".to_vec();
            v.extend_from_slice(text.as_bytes());
            v
        };
        let text = "{\"a\": \"x}\\\"\", \"b\": [{\"c\": 1}]},\n  {\"d\": \"\\n\"},\n  ";
        let got = parse_segment(&mut seg(text), false, &|r: R| r).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].a.as_deref(), Some("x}\""));
        assert_eq!(got[1].d.as_deref(), Some("\n"));
        // Invalid UTF-8 in a field nobody reads: read, as the sequential
        // reader reads it; in a field that is read: not a segment.
        let mut bad = seg("{\"a\": \"1\", \"z\": \"");
        bad.extend_from_slice(&[0xff, 0xfe]);
        bad.extend_from_slice(b"\"},\n  ");
        let got = parse_segment(&mut bad, false, &|r: R| r).unwrap();
        assert_eq!(got[0].a.as_deref(), Some("1"));
        let mut bad = seg("{\"a\": \"");
        bad.extend_from_slice(&[0xff]);
        bad.extend_from_slice(b"\"},\n  ");
        assert!(parse_segment(&mut bad, false, &|r: R| r).is_none());
        // Ends inside a record, or starts inside one: not a boundary.
        assert!(parse_segment(&mut seg("{\"a\": \"1\"}, {\"d\": "), false, &|r: R| r).is_none());
        assert!(parse_segment(
            &mut seg("{\"a\": \"1\"}]}, {\"d\": \"2\"},"),
            false,
            &|r: R| r
        )
        .is_none());
        assert!(parse_segment(&mut seg("{\"a\": \"1\"}\n  "), false, &|r: R| r).is_none());
        assert!(parse_segment(&mut seg("{\"a\": \"1\", "), false, &|r: R| r).is_none());
        // The last segment ends with the array.
        assert_eq!(
            parse_segment(&mut seg("{\"a\": \"1\"}\n]\n"), true, &|r: R| r)
                .unwrap()
                .len(),
            1
        );
        assert!(parse_segment(&mut seg("{\"a\": \"1\"}\n"), true, &|r: R| r).is_none());
        assert!(parse_segment(&mut seg("{\"a\": \"1\"}\n] x"), true, &|r: R| r).is_none());
    }

    #[test]
    fn a_big_pretty_ledger_reads_in_order_on_two_threads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.json");
        let mut text = String::from("[");
        let mut i = 0;
        while text.len() < (MIN_PARALLEL_BYTES as usize) * 3 {
            if i > 0 {
                text.push(',');
            }
            text.push_str(&format!(
                "\n  {{\n    \"id\": \"r{i}\",\n    \"task\": \"brace {{ and \\\" quote\\n  {{\",\n    \"h\": [\n      {{\"s\": 1}}\n    ]\n  }}"
            ));
            i += 1;
        }
        text.push_str("\n]");
        std::fs::write(&path, &text).unwrap();
        #[derive(serde::Deserialize)]
        struct R {
            id: String,
        }
        let mut seen = Vec::new();
        for_each_parallel(Some(&path), 2, |r: R| r.id, |id| seen.push(id)).unwrap();
        assert_eq!(seen.len(), i);
        assert!(seen
            .iter()
            .enumerate()
            .all(|(k, id)| *id == format!("r{k}")));
        // Compact JSON: no boundaries, the caller reads sequentially.
        std::fs::write(&path, text.replace("\n", "")).unwrap();
        assert!(for_each_parallel(Some(&path), 2, |r: R| r.id, |_| {}).is_err());
    }
}
