// Stand-in for scripts/execute-batch.mjs: read (a parse error throws, as
// its readJSON does), update a record's status, write to the shared temp
// name `<file>.tmp.<pid>`, rename. One update at a time: two in flight at
// once tear the shared temp file by themselves (the runner's own bug, which
// leaves an empty or half ledger whatever modelfit does).
// Usage: node batch-writer.js LEDGER EVERY_MS DURATION_MS
const fs = require("fs");
const fsp = require("fs/promises");
const [file, every, duration] = process.argv.slice(2);
const end = Date.now() + Number(duration);
let done = 0, failed = 0;
async function update(i) {
  const all = JSON.parse(await fsp.readFile(file, "utf8"));
  const r = all[i % all.length];
  if (r && typeof r === "object") {
    r.updated_at = new Date().toISOString();
  }
  const tmp = `${file}.tmp.${process.pid}`;
  await fsp.writeFile(tmp, JSON.stringify(all, null, 2));
  await fsp.rename(tmp, file);
}
async function main() {
  let i = 0;
  while (Date.now() < end) {
    const r = await Promise.allSettled([update(i++)]);
    for (const x of r) x.status === "fulfilled" ? done++ : failed++;
    await new Promise((res) => setTimeout(res, Number(every)));
  }
  process.stdout.write(JSON.stringify({ done, failed }) + "\n");
}
main();
