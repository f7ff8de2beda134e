// webml's Firefox driver: a sidecar that drives one headless Firefox over
// WebDriver BiDi with puppeteer-core, for webapp/drivers/firefox.py.
//
// It reads one JSON command a line on stdin ({"id", "cmd", ...}) and writes
// one JSON line a reply ({"id", "ok"} or {"id", "error", "name"}) or an event
// ({"event", "page", ...}) on stdout. Requests of a page whose requests are
// routed wait for Python's "route" command (continue or abort), so Python
// sees and decides every request, as Playwright's route does.
//
// argv[2]: the folder holding node_modules/puppeteer-core (found by Python).
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import path from 'node:path';

const require = createRequire(path.join(process.argv[2], 'node_modules', 'index.js'));
const puppeteer = require('puppeteer-core');

// What an evaluate throws when a navigation replaced the page's realm under it.
const NAVIGATED = /context|realm|navigat|Discarded|no such frame/i;
const send = (message) => process.stdout.write(`${JSON.stringify(message)}\n`);
let browser = null;
const contexts = new Map();
const pages = new Map();
const waiting = new Map(); // request id -> puppeteer HTTPRequest held for Python's answer
let counter = 0;
const nextId = () => String(++counter);

function wire(id, page) {
  page.on('console', (message) => send({ event: 'console', page: id, type: message.type(), text: message.text() }));
  page.on('pageerror', (error) => send({ event: 'pageerror', page: id, text: String(error?.message ?? error) }));
  page.on('popup', (popup) => send({ event: 'popup', page: id, url: popup ? popup.url() : '' }));
  page.on('request', (request) => {
    // In-page content, not a request: Playwright's Chromium reports none for data: URLs.
    if (request.url().startsWith('data:')) {
      if (page.webmlRouted) request.continue().catch(() => {});
      return;
    }
    const event = { event: 'request', page: id, url: request.url(), method: request.method() };
    if (page.webmlRouted) {
      const rid = nextId();
      waiting.set(rid, request);
      send({ ...event, route: rid });
    } else {
      send(event);
    }
  });
  page.on('requestfinished', (request) => {
    if (request.url().startsWith('data:')) return;
    const length = request.response()?.headers()['content-length'];
    send({ event: 'requestfinished', page: id, url: request.url(), method: request.method(),
           size: length === undefined ? null : Number(length) });
  });
}

const commands = {
  async launch({ executable, prefs }) {
    browser = await puppeteer.launch({
      browser: 'firefox', protocol: 'webDriverBiDi', executablePath: executable,
      headless: true, extraPrefsFirefox: prefs, args: [],
    });
    return { version: await browser.version() };
  },
  async newContext() {
    const id = nextId();
    contexts.set(id, await browser.createBrowserContext());
    return id;
  },
  async newPage({ context }) {
    const page = await contexts.get(context).newPage();
    const id = nextId();
    pages.set(id, page);
    wire(id, page);
    return id;
  },
  async route({ page }) {
    pages.get(page).webmlRouted = true;
    await pages.get(page).setRequestInterception(true);
  },
  async decide({ route, allow }) {
    const request = waiting.get(route);
    waiting.delete(route);
    if (allow) await request.continue();
    else await request.abort('blockedbyclient');
  },
  async initScript({ page, source }) {
    await pages.get(page).evaluateOnNewDocument(source);
  },
  async goto({ page, url, timeout }) {
    await pages.get(page).goto(url, { waitUntil: 'load', timeout });
  },
  async reload({ page, timeout }) {
    await pages.get(page).reload({ waitUntil: 'load', timeout });
  },
  async evaluate({ page, expression }) {
    return await pages.get(page).evaluate(expression);
  },
  // Polled from here, one evaluate a poll, not with puppeteer's in-page poller
  // (waitForFunction): on a loaded 2-core machine, waits for a page with a
  // service worker ran out in CI and in 2 of about 20 runs here, and polling by
  // evaluate never did (0 of 20). A navigation mid-poll is polled again.
  async waitFor({ page, expression, polling, timeout }) {
    const deadline = Date.now() + timeout;
    const every = typeof polling === 'number' ? polling : 50;
    const late = () => Object.assign(new Error(`Waiting failed: ${timeout}ms exceeded`), { name: 'TimeoutError' });
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) throw late();
      let timer;
      const expired = new Promise((resolve) => { timer = setTimeout(() => resolve('expired'), left); });
      const answer = pages.get(page).evaluate(expression).then(
        (value) => ({ value }),
        (error) => { if (NAVIGATED.test(String(error?.message))) return { value: false }; throw error; });
      const outcome = await Promise.race([answer, expired]).finally(() => clearTimeout(timer));
      if (outcome === 'expired') throw late();
      if (outcome.value) return;
      await new Promise((resolve) => setTimeout(resolve, Math.min(every, Math.max(0, deadline - Date.now()))));
    }
  },
  async click({ page, selector, timeout }) {
    await pages.get(page).locator(selector).setTimeout(timeout).click();
  },
  async type({ page, selector, text, delay }) {
    await pages.get(page).type(selector, text, { delay });
  },
  async setFiles({ page, selector, files }) {
    const element = await pages.get(page).$(selector);
    if (!element) throw new Error(`no element matches ${selector}`);
    await element.uploadFile(...files);
  },
  async mouse({ page, action, x, y, steps }) {
    const mouse = pages.get(page).mouse;
    if (action === 'move') await mouse.move(x, y, { steps });
    else if (action === 'down') await mouse.down();
    else await mouse.up();
  },
  async closePage({ page }) {
    await pages.get(page)?.close();
    pages.delete(page);
  },
  async closeContext({ context }) {
    await contexts.get(context)?.close();
    contexts.delete(context);
  },
  async close() {
    await browser?.close();
    browser = null;
  },
};

const input = createInterface({ input: process.stdin });
input.on('line', async (line) => {
  const message = JSON.parse(line);
  try {
    const ok = await commands[message.cmd](message);
    if (message.id !== undefined) send({ id: message.id, ok: ok ?? null });
  } catch (error) {
    if (message.id !== undefined) {
      send({ id: message.id, error: String(error?.message ?? error), name: error?.name ?? 'Error' });
    }
  }
});
input.on('close', async () => {
  await browser?.close().catch(() => {});
  process.exit(0);
});
