#!/usr/bin/env python3
"""Drive `modelfit mcp` with the official MCP Python SDK (PyPI `mcp`, 2.x).

Usage: python3 tests/mcp_client.py MODELFIT_BINARY HOME

HOME is an orchestrator home with logs/dispatches.json and
config/orchestrator/models.json (tests/mcp.rs builds one from the fixtures).
Checks initialize, tools/list (the seed's input schemas, exactly), and one
call of every tool, with its effect on the home's files. Exits non-zero with
a message on the first failure; prints "all 7 tools called" at the end.
"""

import asyncio
import json
import os
import sys

try:
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client
except ImportError:  # pragma: no cover - the message is the point
    sys.exit(
        "the MCP Python SDK is missing: python3 -m venv .venv && "
        ".venv/bin/pip install mcp==2.3.0"
    )

SEED_SCHEMAS = {
    "update_task_outcome": {
        "type": "object",
        "properties": {
            "task_id": {"type": "string", "description": "Task ID from dispatch"},
            "outcome": {
                "type": "string",
                "enum": ["success", "failure", "partial"],
                "description": "Task outcome",
            },
            "execution_time_seconds": {"type": "number"},
            "tokens_used": {"type": "number"},
            "notes": {"type": "string"},
        },
        "required": ["task_id", "outcome"],
    },
    "analyze_model_performance": {
        "type": "object",
        "properties": {
            "min_sample_size": {"type": "number", "default": 5},
            "since_date": {
                "type": "string",
                "description": "ISO date, analyze only recent dispatches",
            },
        },
    },
    "suggest_model_rules": {
        "type": "object",
        "properties": {"min_confidence": {"type": "number", "default": 0.70}},
    },
    "apply_model_suggestion": {
        "type": "object",
        "properties": {"suggestion_id": {"type": "string"}},
        "required": ["suggestion_id"],
    },
    "reject_model_suggestion": {
        "type": "object",
        "properties": {
            "suggestion_id": {"type": "string"},
            "reason": {"type": "string"},
        },
        "required": ["suggestion_id"],
    },
}

ALL_TOOLS = [
    "update_task_outcome",
    "analyze_model_performance",
    "suggest_model_rules",
    "apply_model_suggestion",
    "reject_model_suggestion",
    "select_model",
    "rate_task",
]


def attr(obj, snake, camel):
    """SDK 2.x uses snake_case attributes, 1.x camelCase."""
    return getattr(obj, snake) if hasattr(obj, snake) else getattr(obj, camel)


def check(cond, message):
    if not cond:
        raise AssertionError(message)


def text_of(result):
    return "".join(c.text for c in result.content if getattr(c, "type", "") == "text")


class Client:
    def __init__(self, session):
        self.session = session
        self.called = set()

    async def ok(self, name, arguments):
        result = await self.session.call_tool(name, arguments)
        self.called.add(name)
        text = text_of(result)
        check(not attr(result, "is_error", "isError"), f"{name} {arguments} failed: {text}")
        return text

    async def error(self, name, arguments):
        result = await self.session.call_tool(name, arguments)
        text = text_of(result)
        check(attr(result, "is_error", "isError"), f"{name} {arguments} should fail: {text}")
        return text


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


async def main(binary, home):
    ledger_path = os.path.join(home, "logs", "dispatches.json")
    learning_path = os.path.join(home, "logs", "model-learning.json")
    models_path = os.path.join(home, "config", "orchestrator", "models.json")
    ids = [r["id"] for r in load(ledger_path) if "id" in r]

    params = StdioServerParameters(command=binary, args=["--home", home, "mcp"], env=dict(os.environ))
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            info = attr(init, "server_info", "serverInfo")
            check(info.name == "modelfit", f"serverInfo.name is {info.name!r}")
            print(f"initialized: {info.name} {info.version}, protocol "
                  f"{attr(init, 'protocol_version', 'protocolVersion')}")

            listed = await session.list_tools()
            names = [t.name for t in listed.tools]
            check(names == ALL_TOOLS, f"tools/list gave {names}")
            for tool in listed.tools:
                schema = attr(tool, "input_schema", "inputSchema")
                if tool.name in SEED_SCHEMAS:
                    check(schema == SEED_SCHEMAS[tool.name],
                          f"{tool.name} schema differs from the seed: {json.dumps(schema)}")
            print("tools/list: names and seed schemas match")

            c = Client(session)

            text = await c.ok("update_task_outcome", {
                "task_id": ids[0], "outcome": "success",
                "execution_time_seconds": 95, "tokens_used": 12000,
                "notes": "checked by the python client"})
            rec = next(r for r in load(ledger_path) if r.get("id") == ids[0])
            check(rec["outcome"] == "success" and rec["outcome_source"] == "manual"
                  and rec["tokens_used"] == 12000, f"record after update_task_outcome: {rec}")
            check(text.startswith(ids[0]), text)

            await c.ok("rate_task", {"task_id": ids[1], "outcome": "partial", "notes": "half"})
            rec = next(r for r in load(ledger_path) if r.get("id") == ids[1])
            check(rec["outcome"] == "partial" and rec["outcome_source"] == "human"
                  and "rated_at" in rec, f"record after rate_task: {rec}")

            model = (await c.ok("select_model", {
                "complexity": "simple", "task": "document the architecture"})).splitlines()[0]
            check(model == "claude-opus-4-5-20251101", f"select_model chose {model}")

            text = await c.ok("analyze_model_performance", {"min_sample_size": 5})
            check(text.startswith("Analyzed "), text)
            check(os.path.isfile(learning_path), "analyze wrote no model-learning.json")

            report = await c.ok("suggest_model_rules", {"min_confidence": 0.7})
            check(report.lstrip().startswith("#"), f"not a Markdown report: {report[:200]}")

            suggestions = [s for s in load(learning_path).get("suggestions", [])
                           if s.get("status") == "open"]
            check(len(suggestions) >= 2, f"expected two open suggestions, got {suggestions}")
            suggestions.sort(key=lambda s: s["confidence"], reverse=True)
            best, other = suggestions[0], suggestions[1]
            check(best["id"] in report and other["id"] in report, "report lacks the suggestion ids")
            before = open(models_path, encoding="utf-8").read()
            text = await c.ok("apply_model_suggestion", {"suggestion_id": best["id"]})
            check(open(models_path, encoding="utf-8").read() != before,
                  "apply_model_suggestion left models.json unchanged")
            print(f"apply_model_suggestion: {text.splitlines()[0]}")

            text = await c.ok("reject_model_suggestion",
                              {"suggestion_id": other["id"], "reason": "not convinced"})
            status = {s["id"]: s["status"] for s in load(learning_path)["suggestions"]}
            check(status[other["id"]] == "rejected", f"status after reject: {status}")

            # A bad argument is a tool error the client can show, not a crash.
            msg = await c.error("update_task_outcome", {"task_id": ids[0], "outcome": "meh"})
            check("success, failure or partial" in msg, msg)
            msg = await c.error("apply_model_suggestion", {"suggestion_id": "no-such-id"})
            check("no-such-id" in msg, msg)

            missing = sorted(set(ALL_TOOLS) - c.called)
            check(not missing, f"tools never called: {missing}")
            print(f"all {len(ALL_TOOLS)} tools called")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    try:
        asyncio.run(main(sys.argv[1], sys.argv[2]))
    except AssertionError as e:
        sys.exit(f"mcp_client.py: {e}")
