// Loads HTML pages in headless Chromium (Playwright, Debian's chromium) and
// prints, per page, the median time from navigation to the page being drawn
// (body[data-ready="1"]) over RUNS loads, in ms. Usage: node report_load.mjs RUNS PAGE...
import { chromium } from "playwright-core";
import path from "node:path";

const [runs, ...pages] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
for (const p of pages) {
  const times = [];
  for (let i = 0; i < Number(runs); i++) {
    const context = await browser.newContext({ viewport: { width: 1500, height: 1000 } });
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    const t = performance.now();
    await page.goto("file://" + path.resolve(p));
    await page.waitForSelector("body[data-ready='1']", { state: "attached", timeout: 60000 });
    times.push(performance.now() - t);
    await context.close();
    if (errors.length) { console.error(p + ": " + errors.join(" | ")); process.exit(1); }
  }
  times.sort((a, b) => a - b);
  console.log(p + "\t" + times[Math.floor(times.length / 2)].toFixed(0));
}
await browser.close();
