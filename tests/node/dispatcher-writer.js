// Stand-in for the orchestrator's task-dispatcher (mcp-servers/task-dispatcher/index.js,
// loadDispatches/saveDispatches): read, JSON.parse (any error counts as []),
// push one record, fs.writeFileSync (truncate, then write), no lock.
// Usage: node dispatcher-writer.js LEDGER PREFIX EVERY_MS DURATION_MS
// Prints {"written": N, "ids": [...]} when done: every id it wrote (acknowledged).
const fs = require("fs");
const [file, prefix, every, duration] = process.argv.slice(2);
const end = Date.now() + Number(duration);
const ids = [];
let resets = 0;
function load() {
  try {
    const data = JSON.parse(fs.readFileSync(file, "utf8"));
    return Array.isArray(data) ? data : [];
  } catch (e) {
    if (e.code !== "ENOENT") resets++;
    return [];
  }
}
function tick() {
  if (Date.now() >= end) {
    process.stdout.write(JSON.stringify({ written: ids.length, resets, ids }) + "\n");
    return;
  }
  const all = load();
  const id = `${prefix}-${Date.now()}-${ids.length}`;
  const now = new Date().toISOString();
  all.push({
    id, workspace: "strokmatic.race", task: "race " + ids.length, complexity: "medium",
    model: "claude-sonnet-4-5-20250929", status: "pending", created_at: now, updated_at: now,
    started_at: null, completed_at: null,
    status_history: [{ status: "pending", timestamp: now, note: "Task dispatched" }],
  });
  fs.writeFileSync(file, JSON.stringify(all, null, 2));
  ids.push(id);
  setTimeout(tick, Number(every));
}
tick();
