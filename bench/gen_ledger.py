#!/usr/bin/env python3
"""Writes a ledger of about SIZE bytes in the orchestrator's format
(JSON.stringify(records, null, 2), no trailing newline), from records shaped
like the fixture's K1 dispatches (about 2 KB each).

usage: gen_ledger.py OUT SIZE   (SIZE like 1K, 10M, 100M, 1G)
"""
import json, sys

def parse_size(s):
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(float(s[:-1]) * mult[s[-1].upper()]) if s[-1].upper() in mult else int(s)

def record(i):
    ms = 1772452800000 + i * 60000
    return {
        "id": f"dispatch-{ms}-{i % 46656:06d}"[:30],
        "workspace": "strokmatic.diemaster.services.status",
        "workspace_path": "/home/teruel/JARVIS/workspaces/strokmatic/diemaster/services/status",
        "task": "Add a /healthz endpoint in src/api.py; it must contain \"def healthz\" in src/api.py. " * 6,
        "original_task": "Add a /healthz endpoint in src/api.py",
        "complexity": ["simple", "medium", "complex"][i % 3],
        "priority": "high",
        "model": ["claude-haiku-4-5-20251001", "claude-sonnet-4-5-20250929", "claude-opus-4-5-20251101"][i % 3],
        "has_context": False,
        "task_keywords": ["api"],
        "status": "complete",
        "created_at": "2026-03-02T12:00:00.000Z",
        "updated_at": "2026-03-02T12:15:09.644Z",
        "started_at": "2026-03-02T12:00:04.512Z",
        "completed_at": "2026-03-02T12:15:09.644Z",
        "status_history": [
            {"status": "pending", "timestamp": "2026-03-02T12:00:00.000Z", "note": "Task dispatched"},
            {"status": "running", "timestamp": "2026-03-02T12:00:04.512Z", "note": "Session started execution"},
            {"status": "complete", "timestamp": "2026-03-02T12:15:09.644Z", "note": "All criteria passed"},
        ],
        "error_message": None,
        "acceptance_criteria": [{"type": "file_exists", "path": "src/api.py", "source": "extracted"}],
        "universal_criteria": True,
        "outcome": ["success", "failure", "partial"][i % 7 % 3],
        "execution_time_seconds": 905,
        "tokens_used": 48213,
    }

def indent(text):
    return text.replace("\n", "\n  ")

def main():
    out, size = sys.argv[1], parse_size(sys.argv[2])
    written = 0
    with open(out, "w", encoding="utf-8") as f:
        f.write("[")
        i = 0
        while written < size or i == 0:
            text = ("\n  " if i == 0 else ",\n  ") + indent(json.dumps(record(i), indent=2, ensure_ascii=False))
            f.write(text)
            written += len(text)
            i += 1
        f.write("\n]")
    print(f"{out}: {i} records, {written + 3} bytes", file=sys.stderr)

main()
