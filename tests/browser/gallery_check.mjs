// Opens served gallery pages in headless Chromium (Playwright) and prints what it saw as one JSON line.
// Usage: node gallery_check.mjs '<json config>'; tests/test_gallery.py builds the config and checks the result.
// config: {prefix: npm prefix holding playwright-core, chromium: path, shots: folder for element screenshots,
//          pages: [{name, url, screenshot?, cdn?: {url, file, tamper}}]}
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const cfg = JSON.parse(process.argv[2]);
const { chromium } = createRequire(join(cfg.prefix, 'package.json'))('playwright-core');

const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync',
  // WebGL without a GPU: SwiftShader through ANGLE, so the models really render.
  '--use-angle=swiftshader', '--enable-unsafe-swiftshader'];

// Runs in the page before its own scripts: records load/error of every element (capture phase, since
// model-viewer's `load` and media events don't bubble) and CSP violations.
function recorder() {
  window.__events = [];
  for (const type of ['load', 'error', 'loadedmetadata', 'model-visibility']) {
    document.addEventListener(type, (e) => {
      if (e.target instanceof Element) {
        window.__events.push({ type, tag: e.target.localName, src: e.target.getAttribute('src'),
          visible: e.detail && e.detail.visible });
      }
    }, true);
  }
  document.addEventListener('securitypolicyviolation',
    (e) => window.__events.push({ type: 'csp', tag: e.violatedDirective, src: e.blockedURI }));
}

async function check(browser, p) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 });
  const requests = [];
  context.on('request', (r) => requests.push(r.url()));
  if (p.cdn) {
    // Stand in for the CDN with the npm file (tampered on request), so the integrity check really runs.
    const body = Buffer.concat([readFileSync(p.cdn.file), Buffer.from(p.cdn.tamper ? '\n//x' : '')]);
    await context.route(p.cdn.url, (route) => route.fulfill({
      body, contentType: 'text/javascript', headers: { 'access-control-allow-origin': '*' } }));
  }
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e}`));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
  await page.addInitScript(recorder);
  await page.goto(p.url, { waitUntil: 'load' });

  const settled = (want) => page.waitForFunction(want, null, { timeout: 30000 }).then(() => true, () => false);
  let rendered = true;
  if (p.cdn && p.cdn.tamper) {
    await settled(() => window.__events.some((e) => e.tag === 'script' && e.type === 'error'));
  } else if (p.url.startsWith('file:')) {
    await page.waitForTimeout(500); // nothing to wait for: the 3D cards say how to serve the page
  } else {
    await settled(() => customElements.get('model-viewer') && [...document.querySelectorAll('model-viewer')]
      .every((m) => window.__events.some((e) => e.tag === 'model-viewer' && e.src === m.getAttribute('src')
        && (e.type === 'load' || e.type === 'error'))));
    rendered = await settled(() => [...document.querySelectorAll('model-viewer')].every((m) => m.modelIsVisible));
    await settled(() => [...document.querySelectorAll('audio')].every((a) => a.readyState >= 1));
    await page.waitForTimeout(300); // a few more frames of auto-rotate before the screenshots
  }
  const state = await page.evaluate(() => ({
    defined: Boolean(customElements.get('model-viewer')),
    models: [...document.querySelectorAll('model-viewer')].map((m) => ({ src: m.getAttribute('src'),
      loaded: m.loaded, visible: m.modelIsVisible })),
    images: [...document.images].map((i) => ({ src: i.getAttribute('src'), width: i.naturalWidth })),
    audio: [...document.querySelectorAll('audio')].map((a) => ({ src: a.getAttribute('src'), duration: a.duration })),
    cards: [...document.querySelectorAll('main figure.card')].map((c) => (c.querySelector('.title') || {}).textContent),
    hints: [...document.querySelectorAll('.disk-hint')].filter((h) => h.offsetHeight > 0).length,
    timeline: document.querySelectorAll('svg.timeline g.call').length,
    events: window.__events,
  }));
  state.model_shots = [];
  if (!p.cdn && !p.url.startsWith('file:')) {
    const viewers = page.locator('model-viewer');
    for (let i = 0; i < state.models.length; i++) {
      const path = join(cfg.shots, `${p.name}-model-${i}.png`);
      await viewers.nth(i).screenshot({ path });
      state.model_shots.push(path);
    }
  }
  if (p.screenshot) await page.screenshot({ path: p.screenshot, fullPage: true });
  await context.close();
  return { name: p.name, rendered, requests, errors, ...state };
}

const browser = await chromium.launch({ executablePath: cfg.chromium, headless: true, args: ARGS });
try {
  const results = [];
  for (const p of cfg.pages) results.push(await check(browser, p));
  console.log(JSON.stringify(results));
} finally {
  await browser.close();
}
