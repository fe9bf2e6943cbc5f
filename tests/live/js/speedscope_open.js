// Opens a profile in speedscope (npm `speedscope`) in headless Chromium driven
// by playwright-core, the way a user would, and prints JSON: the profile name
// speedscope shows (its window title), whether it drew the flame chart, and
// every error dialog, page error and console error. Exits 1 when speedscope
// reported an error or showed no profile.
// Usage: node speedscope_open.js PROFILE_FILE
'use strict';
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const {chromium} = require('playwright-core');

const file = process.argv[2];
if (!file) {
  console.error('usage: speedscope_open.js PROFILE_FILE');
  process.exit(2);
}
const release = path.join(path.dirname(require.resolve('speedscope/package.json')), 'dist', 'release');
const types = {'.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css',
  '.wasm': 'application/wasm', '.woff2': 'font/woff2', '.png': 'image/png', '.ico': 'image/x-icon'};

// speedscope and the profile from one loopback server (profileURL must be fetchable)
const server = http.createServer((req, res) => {
  const url = decodeURIComponent(req.url.split('?')[0].split('#')[0]);
  const target = url === '/profile/' + path.basename(file) ? file
    : path.join(release, path.normalize(url === '/' ? '/index.html' : url));
  if (!target.startsWith(release) && target !== file) { res.writeHead(403); res.end(); return; }
  fs.readFile(target, (err, data) => {
    if (err) { res.writeHead(404); res.end(); return; }
    res.writeHead(200, {'Content-Type': types[path.extname(target)] || 'application/octet-stream'});
    res.end(data);
  });
});

async function main() {
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = server.address().port;
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const errors = [];
  let title = '', drawn = false;
  try {
    const page = await browser.newPage();
    page.on('dialog', async (d) => { errors.push('dialog: ' + d.message()); await d.dismiss(); });
    page.on('pageerror', (e) => errors.push('page error: ' + e.message));
    page.on('console', (m) => { if (m.type() === 'error') errors.push('console: ' + m.text()); });
    const profileURL = `http://127.0.0.1:${port}/profile/${encodeURIComponent(path.basename(file))}`;
    await page.goto(`http://127.0.0.1:${port}/index.html#profileURL=${encodeURIComponent(profileURL)}`);
    // speedscope titles the window "NAME - speedscope" once a profile is shown
    await page.waitForFunction(() => / - speedscope$/.test(document.title), null, {timeout: 30000})
      .catch((e) => errors.push('no profile shown: ' + e.message.split('\n')[0]));
    title = await page.title();
    drawn = await page.evaluate(() => [...document.querySelectorAll('canvas')]
      .some((c) => c.width > 0 && c.height > 0));
  } finally {
    await browser.close();
    server.close();
  }
  const name = title.replace(/ - speedscope$/, '');
  console.log(JSON.stringify({name, title, drawn, errors}));
  process.exit(errors.length === 0 && drawn ? 0 : 1);
}
main().catch((e) => { console.error(e); process.exit(1); });
