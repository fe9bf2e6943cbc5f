// Opens spantap's HTML report in headless Chromium (Playwright, Debian's
// chromium) and checks it against the recording with SQL (sqlite3): charts
// drawn with the SQL counts, a brushed latency band selecting exactly the
// requests SQL finds in that band, an axis filter, a trace's waterfall, the
// flame graph's weight, the dual space; no console error, no network request.
// Writes a screenshot of each view into OUTDIR.
//
// Usage: node report_html.test.mjs REPORT.html DB OUTDIR [COMPARE_REPORT.html] [NOSPANS_REPORT.html]
import { chromium } from "playwright-core";
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import path from "node:path";

const [report, db, outdir, compareReport, nospansReport] = process.argv.slice(2);
if (!report || !db || !outdir) {
  console.error("usage: report_html.test.mjs REPORT.html DB OUTDIR [COMPARE.html] [NOSPANS.html]");
  process.exit(2);
}
mkdirSync(outdir, { recursive: true });
let failures = 0;
function check(ok, what) {
  console.log((ok ? "ok   " : "FAIL ") + what);
  if (!ok) failures++;
}
const sql = (q) =>
  execFileSync("sqlite3", ["-readonly", "-separator", "\t", db, q], { encoding: "utf8" })
    .trim().split("\n").filter((l) => l.length).map((l) => l.split("\t"));
const sqlOne = (q) => Number(sql(q)[0][0]);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});

// A page that fails on any request that is not the report file itself (or a data: URL).
async function open(file) {
  const context = await browser.newContext({ viewport: { width: 1500, height: 1000 } });
  const page = await context.newPage();
  const errors = [], requests = [];
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith("file:") || url.startsWith("data:")) return route.continue();
    requests.push(url);
    return route.abort();
  });
  page.on("request", (r) => { const u = r.url(); if (!u.startsWith("file:") && !u.startsWith("data:")) requests.push(u); });
  const t = Date.now();
  await page.goto("file://" + path.resolve(file));
  await page.waitForSelector("body[data-ready='1']", { timeout: 30000 });
  console.log(`# ${path.basename(file)} ready in ${Date.now() - t} ms`);
  return { context, page, errors, requests };
}
async function shot(page, sel, name) {
  const f = path.join(outdir, name);
  await page.locator(sel).screenshot({ path: f });
  console.log("# screenshot " + f);
}

// ---- the demo's report ----
{
  const { context, page, errors, requests } = await open(report);
  const q = (s) => page.locator(s);

  // health
  check(await q("#health-list li").count() >= 3, "health items drawn");
  const lost = sqlOne("SELECT coalesce((SELECT num_value FROM recording WHERE key = 'events_lost'), 0)");
  check((await q("#health-list li[data-key='events_lost']").textContent()).startsWith(lost + " events lost"),
    `health shows ${lost} events lost`);
  const unsym = sqlOne("SELECT count(*) FROM frames WHERE function IS NULL");
  check((await q("#health-list li[data-key='frames_unsymbolized']").textContent()).startsWith(unsym + " of "),
    `health shows ${unsym} unsymbolized frames`);

  // one histogram per service, its requests = its server spans
  const svcs = sql("SELECT service, sum(kind = 'server'), count(*) FROM spans GROUP BY 1");
  check(await q("svg.hist").count() === svcs.length, `${svcs.length} histograms (one per service)`);
  for (const [svc, server, all] of svcs) {
    const n = Number(server) > 0 ? Number(server) : Number(all);
    const h = q(`svg.hist[data-service='${svc}']`);
    const counts = await h.locator("rect.bar").evaluateAll((els) => els.map((e) => Number(e.getAttribute("data-count"))));
    check(Number(await h.getAttribute("data-requests")) === n && counts.reduce((a, b) => a + b, 0) === n,
      `histogram of ${svc}: bars hold ${counts.reduce((a, b) => a + b, 0)} requests, SQL ${n}`);
  }
  const focus = await q("#pcoords").getAttribute("data-service");
  const focusReq = sqlOne(`SELECT count(*) FROM spans WHERE service = '${focus}' AND kind = 'server'`);
  check(Number(await q("#pcoords").getAttribute("data-lines")) === focusReq,
    `parallel coordinates of ${focus}: ${focusReq} lines, as SQL`);
  check(await q("#pcoords g.pc-axis").count() === 9, "9 axes (latency, net, file, mem, off-CPU, syscalls, bytes in/out, page faults)");
  await shot(page, "#health", "report-health.png");

  // brush a latency band on the focused service's histogram
  const hist = q(`svg.hist[data-service='${focus}'] g.brush .overlay`);
  const box = await hist.boundingBox();
  await page.mouse.move(box.x + box.width * 0.35, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2, { steps: 8 });
  await page.mouse.up();
  const lo = await q("#selection").getAttribute("data-lo"), hi = await q("#selection").getAttribute("data-hi");
  const sqlIds = sql(`SELECT id FROM spans WHERE service = '${focus}' AND kind = 'server' AND dur_ns BETWEEN ${lo} AND ${hi} ORDER BY id`).map((r) => Number(r[0]));
  const pageIds = (await page.evaluate(() => window.spantapReport.selectedIds())).sort((a, b) => a - b);
  check(sqlIds.length > 0 && JSON.stringify(sqlIds) === JSON.stringify(pageIds),
    `latency band ${lo}..${hi} ns selects the ${pageIds.length} requests SQL finds (${sqlIds.length})`);
  check(Number(await q("#pcoords").getAttribute("data-coloured")) === sqlIds.length, "the band's requests are coloured in the breakdown");
  check((await q("#compare-table tr.row").count()) === 10, "selection compared with the rest on 10 resources");
  const flameSel = Number(await q("#flame").getAttribute("data-total-ns"));
  const flameSelSql = sqlOne(`SELECT coalesce(sum(dur_ns), 0) FROM syscalls WHERE span_id IN (SELECT id FROM spans WHERE id IN (${sqlIds.join(",")})
     OR (kind = 'client' AND parent_id IN (${sqlIds.join(",")}) AND service = '${focus}'
         AND pid = (SELECT p.pid FROM spans p WHERE p.id = spans.parent_id)))`);
  check(flameSel === flameSelSql, `flame graph follows the selection: ${flameSel} ns, SQL ${flameSelSql}`);
  await shot(page, "#explorer", "report-explorer.png");
  await shot(page, "#code", "report-code.png");

  // brush an axis: the histogram shows what passes
  await page.click("#clear");
  const axis = q("#pcoords g.pc-axis[data-key='syscalls'] g.brush .overlay");
  const ab = await axis.boundingBox();
  await page.mouse.move(ab.x + ab.width / 2, ab.y + 2);
  await page.mouse.down();
  await page.mouse.move(ab.x + ab.width / 2, ab.y + ab.height * 0.85, { steps: 8 });
  await page.mouse.up();
  const [flo, fhi] = await page.evaluate(() => window.spantapReport.state.filters.get("syscalls"));
  const passing = sqlOne(`SELECT count(*) FROM spans WHERE service = '${focus}' AND kind = 'server' AND syscalls >= ${flo} AND syscalls <= ${fhi}`);
  const overlay = await q(`svg.hist[data-service='${focus}'] rect.bar.filtered`).evaluateAll((els) => els.reduce((a, e) => a + Number(e.getAttribute("data-count")), 0));
  check(overlay === passing && Number(await q("#selection").getAttribute("data-count")) === passing,
    `axis filter syscalls ${flo.toFixed(2)}..${fhi.toFixed(2)}: histogram shows ${overlay} requests, SQL ${passing}`);
  await shot(page, "#explorer", "report-explorer-axis.png");
  await page.click("#clear");
  const flameAll = Number(await q("#flame").getAttribute("data-total-ns"));
  const flameAllSql = sqlOne(`SELECT coalesce(sum(dur_ns), 0) FROM syscalls WHERE span_id IN (SELECT c.id FROM spans c WHERE c.service = '${focus}'
     AND (c.kind = 'server' OR EXISTS (SELECT 1 FROM spans p WHERE p.id = c.parent_id AND p.kind = 'server' AND p.service = c.service AND p.pid = c.pid)))`);
  check(flameAll === flameAllSql && (await q("#flame g.node").count()) > 1, `flame graph of ${focus}: ${flameAll} ns, SQL ${flameAllSql}`);

  // traces: the slowest first; a click draws the trace's spans
  const ntr = sqlOne("SELECT count(*) FROM traces");
  check(await q("#trace-list tr.trace").count() === Math.min(ntr, 100), `${Math.min(ntr, 100)} traces listed`);
  const slowest = sqlOne("SELECT id FROM traces ORDER BY dur_ns DESC, id LIMIT 1");
  check(Number(await q("#trace-list tr.trace").first().getAttribute("data-trace")) === slowest, `slowest trace ${slowest} first`);
  const row = q("#trace-list tr.trace").nth(2);
  const tid = Number(await row.getAttribute("data-trace"));
  await row.click();
  const nspans = sqlOne(`SELECT count(*) FROM spans WHERE trace_id = ${tid}`);
  check(Number(await q("#waterfall").getAttribute("data-trace")) === tid && await q("#waterfall rect.span").count() === nspans,
    `trace ${tid}: waterfall draws its ${nspans} spans`);
  const ncrit = sqlOne(`SELECT count(*) FROM spans WHERE trace_id = ${tid} AND critical = 1`);
  check(await q("#waterfall rect.span.critical").count() === ncrit, `${ncrit} spans marked on the critical path`);
  const firstSpan = q("#waterfall rect.span").first();
  await firstSpan.hover();
  const tip = await q("#tooltip").textContent();
  const sid = Number(await firstSpan.getAttribute("data-span"));
  const names = sql(`SELECT DISTINCT name FROM syscalls WHERE span_id = ${sid}`).map((r) => r[0]);
  check(await q("#tooltip").isVisible() && names.every((n) => tip.includes(n)) && tip.includes("took the request at"),
    `hovering span ${sid} shows its syscalls (${names.join(", ")}) and call sites`);
  await shot(page, "#traces", "report-traces.png");
  await page.mouse.move(0, 0);

  // dual space
  const cells = Number(await q("svg.dual").getAttribute("data-cells"));
  const truncated = (await q("svg.dual").getAttribute("data-truncated")) === "1";
  const dualRows = sqlOne("SELECT count(*) FROM dual_space");
  check(cells === (await q("svg.dual rect.cell").count()) && (truncated ? cells < dualRows : cells === dualRows),
    `dual space: ${cells} cells, SQL ${dualRows} rows${truncated ? " (the heaviest shown)" : ""}`);
  await shot(page, "#dual", "report-dual.png");
  await page.screenshot({ path: path.join(outdir, "report-page.png"), fullPage: true });

  check(errors.length === 0, "no console error" + (errors.length ? ": " + errors.join(" | ") : ""));
  check(requests.length === 0, "no network request" + (requests.length ? ": " + requests.join(" ") : ""));
  await context.close();
}

// ---- a report with --compare: the cells unique to one recording stand out ----
if (compareReport) {
  const { context, page, errors, requests } = await open(compareReport);
  check((await page.locator("svg.dual").getAttribute("data-compare")) === "1", "compare report: dual space compares");
  const standOut = await page.locator("svg.dual rect.cell.only-a, svg.dual rect.cell.only-b, svg.dual rect.cell.heavier-a, svg.dual rect.cell.heavier-b").count();
  check(standOut > 0, `compare report: ${standOut} cells stand out`);
  await page.locator("#dual").screenshot({ path: path.join(outdir, "report-dual-compare.png") });
  check(errors.length === 0 && requests.length === 0, "compare report: no console error, no network request" + errors.join(" | ") + requests.join(" "));
  await context.close();
}

// ---- a recording without spans: the page says what is missing ----
if (nospansReport) {
  const { context, page, errors, requests } = await open(nospansReport);
  check(await page.locator("#health-list li[data-key='missing']").count() === 1, "no spans: health says what is missing");
  check(await page.locator("#explorer .missing").count() === 1 && await page.locator("#traces .missing").count() === 1 &&
    await page.locator("#code .missing").count() === 1 && await page.locator("svg.hist").count() === 0,
    "no spans: explorer, traces and code say so instead of drawing empty charts");
  await page.screenshot({ path: path.join(outdir, "report-nospans.png"), fullPage: true });
  check(errors.length === 0 && requests.length === 0, "no spans: no console error, no network request" + errors.join(" | ") + requests.join(" "));
  await context.close();
}

await browser.close();
console.log(failures ? `${failures} check(s) failed` : "all checks passed");
process.exit(failures ? 1 : 0);
