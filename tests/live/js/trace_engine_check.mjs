// Reads a Trace Event Format file with the trace engine of Chromium's DevTools
// (@paulirish/trace_engine) and prints what it found as JSON: the processes
// and threads it named and the complete events and flows it kept per thread.
// Usage: node trace_engine_check.mjs TRACE.json
import {analyzeTrace} from '@paulirish/trace_engine/analyze-trace.mjs';

const file = process.argv[2];
if (!file) {
  console.error('usage: trace_engine_check.mjs TRACE.json');
  process.exit(2);
}
const {parsedTrace} = await analyzeTrace(file);
const processes = {};
for (const [pid, ev] of parsedTrace.data.Meta.processNames) processes[pid] = ev.args.name;
const threads = {};
for (const [pid, byTid] of parsedTrace.data.Meta.threadsInProcess)
  for (const [tid, ev] of byTid) threads[`${pid}/${tid}`] = ev.args.name;
let entries = 0;
const threadEntries = {};
for (const [pid, proc] of parsedTrace.data.Renderer.processes) {
  for (const [tid, thread] of proc.threads) {
    threadEntries[`${pid}/${tid}`] = thread.entries.length;
    entries += thread.entries.length;
  }
}
const flows = parsedTrace.data.Flows ? parsedTrace.data.Flows.flows.length : -1;
console.log(JSON.stringify({processes, threads, entries, threadEntries, flows}));
