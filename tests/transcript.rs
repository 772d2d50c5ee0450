//! Transcript accounting against an independent count of the real fixture
//! transcripts (tests/fixtures/claude-code/transcripts, Claude Code 2.1.38/39).

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use modelfit::transcript::{read_session, summarize, summarize_resume, Tokens};
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/claude-code/transcripts")
}

/// The 2.1.39 session laid out as Claude Code does: `<session>.jsonl` beside
/// `<session>/subagents/`. (The fixture names its main file `.excerpt.jsonl`.)
fn session_with_subagents(dir: &Path) -> PathBuf {
    let src = fixtures().join("spotter-v2.1.39-session-with-subagents");
    let id = "4d5611e5-241a-462a-8d15-5122611a9569";
    let main = dir.join(format!("{id}.jsonl"));
    std::fs::copy(src.join(format!("{id}.excerpt.jsonl")), &main).unwrap();
    let subs = dir.join(id).join("subagents");
    std::fs::create_dir_all(&subs).unwrap();
    for f in ["agent-a2898e3.jsonl", "agent-acompact-e1f845.jsonl"] {
        std::fs::copy(src.join(id).join("subagents").join(f), subs.join(f)).unwrap();
    }
    main
}

/// An independent count, written from the rule alone: assistant lines with
/// usage, not `<synthetic>`, grouped by message.id + requestId, each kind the
/// maximum over its group, groups summed. Optionally only bytes from `from`.
fn independent(files: &[&Path], from: u64) -> (u64, Tokens) {
    let mut groups: HashMap<String, [u64; 4]> = HashMap::new();
    for (i, f) in files.iter().enumerate() {
        let bytes = std::fs::read(f).unwrap();
        let start = if i == 0 { from as usize } else { 0 };
        for line in String::from_utf8_lossy(&bytes[start..]).lines() {
            let Ok(v) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            if v["type"] != "assistant" || v["message"]["model"] == "<synthetic>" {
                continue;
            }
            let u = &v["message"]["usage"];
            if !u.is_object() {
                continue;
            }
            let key = format!(
                "{}|{}",
                v["message"]["id"].as_str().unwrap_or(""),
                v["requestId"].as_str().unwrap_or("")
            );
            let n = |k: &str| u[k].as_u64().unwrap_or(0);
            let g = groups.entry(key).or_default();
            for (slot, k) in g.iter_mut().zip([
                "input_tokens",
                "output_tokens",
                "cache_creation_input_tokens",
                "cache_read_input_tokens",
            ]) {
                *slot = (*slot).max(n(k));
            }
        }
    }
    let mut t = Tokens::default();
    for g in groups.values() {
        t.input += g[0];
        t.output += g[1];
        t.cache_creation += g[2];
        t.cache_read += g[3];
    }
    (groups.len() as u64, t)
}

fn four(t: Tokens) -> [u64; 4] {
    [t.input, t.output, t.cache_creation, t.cache_read]
}

#[test]
fn single_file_sessions_match_the_independent_count() {
    // Also checked by hand, e.g. for tool-heavy:
    // jq -s '[.[]|select(.type=="assistant")] | group_by(.message.id+.requestId)
    //   | map(map(.message.usage.output_tokens)|max) | add'  → 212
    let cases = [
        (
            "spotter-v2.1.38-short/55604662-cf2a-4331-851a-ec234028f8ca.jsonl",
            [3, 13, 13835, 11515],
        ),
        (
            "spotter-v2.1.38-tool-heavy/d6e0bada-1959-4eec-a9d2-0bfade768d8f.jsonl",
            [54, 212, 17696, 88231],
        ),
        (
            "spotter-v2.1.38-task-subagent/491e126e-1e71-469c-ade2-fcc8af567c74.jsonl",
            [1576, 1586, 25842, 427286],
        ),
    ];
    for (rel, by_hand) in cases {
        let p = fixtures().join(rel);
        let s = summarize(&p, 0, None).unwrap();
        let (n, t) = independent(&[&p], 0);
        assert_eq!(four(s.total()), four(t), "{rel}");
        assert_eq!(
            four(t),
            by_hand,
            "{rel}: independent count drifted from the jq figures"
        );
        assert_eq!(s.responses, n, "{rel}");
        assert_eq!(s.end_offset, std::fs::metadata(&p).unwrap().len());
    }
}

#[test]
fn subagent_and_compaction_files_count_with_the_task_result_correction() {
    let d = tempfile::tempdir().unwrap();
    let main = session_with_subagents(d.path());
    let subs = main.with_extension("").join("subagents");
    let a = subs.join("agent-a2898e3.jsonl");
    let c = subs.join("agent-acompact-e1f845.jsonl");
    let s = summarize(&main, 0, None).unwrap();
    let (n, mut t) = independent(&[&main, &a, &c], 0);
    // The subagent's last response (msg_019oZyzpKzxrUVHy3CXqkJyN) says
    // output_tokens 1; the parent's Task result for agent a2898e3 says 5108
    // for the same request (cache_read 70782, cache_creation 475).
    t.output += 5108 - 1;
    assert_eq!(four(s.total()), four(t));
    assert_eq!(four(t), [66, 5361, 185443, 1057566]);
    assert_eq!(s.responses, n);
    assert_eq!(s.subagent_output_correction, 5107);
    assert_eq!(s.subagent_files.len(), 2);
    assert!(s.missing_subagents.is_empty());
    assert_eq!(
        s.by_model.keys().map(String::as_str).collect::<Vec<_>>(),
        vec!["claude-opus-4-6", "claude-sonnet-4-5-20250929"]
    );
    assert!(s.output_lower_bound);
}

#[test]
fn a_missing_subagent_file_is_reported_not_guessed_from_progress_lines() {
    // The task-subagent fixture has agent_progress lines embedding the
    // subagent's usage but no subagent file.
    let p =
        fixtures().join("spotter-v2.1.38-task-subagent/491e126e-1e71-469c-ade2-fcc8af567c74.jsonl");
    let s = summarize(&p, 0, None).unwrap();
    assert_eq!(
        s.missing_subagents.iter().collect::<Vec<_>>(),
        vec!["afb92ff"]
    );
    assert!(!s.by_model.contains_key("claude-haiku-4-5-20251001"));
}

#[test]
fn stop_hook_read_from_the_last_prompt_counts_only_that_turn() {
    let d = tempfile::tempdir().unwrap();
    let main = session_with_subagents(d.path());
    let text = std::fs::read_to_string(&main).unwrap();
    // The prompt line "continue" (upstream line 280) starts the second turn.
    let at = text.find("\"content\":\"continue\"").unwrap();
    let offset = text[..at].rfind('\n').unwrap() as u64 + 1;
    let since = "2026-02-12T20:19:00.807Z";
    let s = summarize(&main, offset, Some(since)).unwrap();
    let subs = main.with_extension("").join("subagents");
    // Only the compaction file has lines after `since`.
    let (n, t) = independent(&[&main, &subs.join("agent-acompact-e1f845.jsonl")], offset);
    assert_eq!(four(s.total()), four(t));
    assert_eq!(s.responses, n);
    // And it equals that turn of the per-turn reading.
    let sess = read_session(&main).unwrap();
    let last = sess.turns.last().unwrap();
    assert_eq!(last.prompt.as_deref(), Some("continue"));
    assert_eq!(last.summary.total(), s.total());
}

#[test]
fn per_turn_figures_add_up_to_the_session() {
    let p =
        fixtures().join("spotter-v2.1.38-tool-heavy/d6e0bada-1959-4eec-a9d2-0bfade768d8f.jsonl");
    let sess = read_session(&p).unwrap();
    // Turn 1 "start phoenix in background": msg_0167kg… (27) + msg_01NUXW… (1);
    // turn 2 "scrolling back…": msg_01Lbyj… (11) + msg_019BN3… (25 → 173).
    let outs: Vec<u64> = sess
        .turns
        .iter()
        .map(|t| t.summary.total().output)
        .collect();
    assert_eq!(outs, vec![28, 184]);
    let ins: Vec<u64> = sess.turns.iter().map(|t| t.summary.total().input).collect();
    assert_eq!(ins, vec![4, 50]);
    let mut sum = Tokens::default();
    for t in &sess.turns {
        sum.add(&t.summary.total());
    }
    assert_eq!(sum, sess.total.total());
    assert_eq!(sess.total.interruptions, 2);
}

/// A writer appends lines in odd-sized pieces while a reader keeps resuming
/// from where it stopped: every read ends on a line boundary and the reads
/// add up to one full read of the finished file.
#[test]
fn concurrent_writer_and_incremental_reader_agree_with_a_full_read() {
    let src =
        fixtures().join("spotter-v2.1.38-task-subagent/491e126e-1e71-469c-ade2-fcc8af567c74.jsonl");
    let bytes = std::fs::read(&src).unwrap();
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("live.jsonl");
    std::fs::write(&p, b"").unwrap();
    let writer = {
        let p = p.clone();
        let bytes = bytes.clone();
        std::thread::spawn(move || {
            let mut f = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
            for chunk in bytes.chunks(997) {
                f.write_all(chunk).unwrap();
                f.flush().unwrap();
                std::thread::sleep(std::time::Duration::from_micros(200));
            }
        })
    };
    let mut offset = 0;
    let mut open = Vec::new();
    let mut acc: Option<modelfit::transcript::Summary> = None;
    loop {
        let done = writer.is_finished();
        let s = summarize_resume(&p, offset, None, &open).unwrap();
        assert!(s.end_offset == 0 || bytes[s.end_offset as usize - 1] == b'\n');
        offset = s.end_offset;
        open = s.open_groups.clone();
        match &mut acc {
            None => acc = Some(s),
            Some(a) => a.merge(&s),
        }
        if done {
            break;
        }
    }
    writer.join().unwrap();
    let acc = acc.unwrap();
    let full = summarize(&p, 0, None).unwrap();
    assert_eq!(offset, bytes.len() as u64);
    assert_eq!(acc.by_model, full.by_model);
    assert_eq!(acc.responses, full.responses);
    assert_eq!(acc.skipped_lines, 0);
}
