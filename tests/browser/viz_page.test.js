// viz_page.test.js — open attention.html (written by `attn viz`) from disk in Debian's chromium
// and check the head view, the model view, the rollout and the metrics table behave.
//   node tests/browser/viz_page.test.js DIR/attention.html SCREENSHOT.png [smoke]
//   node tests/browser/viz_page.test.js DIR/attention.html SCREENSHOT.png image IDXFILE INDEX
// (the last: the page of `attn viz --image IDXFILE[INDEX]`, checked against the IDX image itself)
// Prints one line per check and ends with "N passed, N failed"; exit status 1 on any failure.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const zlib = require('zlib');
const { chromium } = require('playwright-core');

const htmlPath = path.resolve(process.argv[2] || 'out/viz-test/attention.html');
const shotPath = path.resolve(process.argv[3] || 'out/viz-test/screenshot.png');
let passed = 0;
let failed = 0;
function check(name, ok, detail) {
  if (ok) passed++; else failed++;
  console.log((ok ? 'ok   ' : 'FAIL ') + name + (detail !== undefined ? ' (' + detail + ')' : ''));
}

// Image INDEX of an IDX file of 8-bit images (gzip or plain): { height, width, pixels }.
function idxImage(file, index) {
  let raw = fs.readFileSync(file);
  if (raw[0] === 0x1f && raw[1] === 0x8b) raw = zlib.gunzipSync(raw);
  if (raw.readUInt16BE(0) !== 0 || raw[2] !== 0x08 || raw[3] !== 3) throw new Error(file + ': not an IDX file of uint8 images');
  const n = raw.readUInt32BE(4), height = raw.readUInt32BE(8), width = raw.readUInt32BE(12);
  if (index >= n) throw new Error(file + ': no image ' + index);
  const at = 16 + index * height * width;
  return { height, width, pixels: raw.subarray(at, at + height * width) };
}

// The overlay view of an image model's page (attn viz --image IDXFILE[INDEX]).
async function imageChecks(page, data, idxFile, index) {
  const im = data.image;
  check('image: the record has an image and the view is shown', !!im && await page.isVisible('#image-view'));
  if (!im) return;
  const want = idxImage(idxFile, index);
  check('image: size and patch grid of the model (28×28, rows·patch = height)',
        im.width === want.width && im.height === want.height && im.rows * im.patch === im.height &&
        im.cols * im.patch === im.width, `${im.width}×${im.height}, ${im.rows}×${im.cols} patches of ${im.patch}`);

  // The base canvas shows the input image: every pixel's centre has the IDX file's gray value.
  const scale = Number(await page.getAttribute('#img-base', 'data-scale'));
  const shown = await page.evaluate(([w, h, s]) => {
    const d = document.getElementById('img-base').getContext('2d').getImageData(0, 0, w * s, h * s).data;
    const out = [];
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        const k = 4 * ((y * s + (s >> 1)) * w * s + x * s + (s >> 1));
        out.push(d[k] === d[k + 1] && d[k] === d[k + 2] && d[k + 3] === 255 ? d[k] : -1);
      }
    return out;
  }, [im.width, im.height, scale]);
  let bad = 0, firstBad = '';
  for (let k = 0; k < shown.length; k++)
    if (shown[k] !== want.pixels[k]) { if (!bad) firstBad = `pixel ${k}: ${shown[k]} vs ${want.pixels[k]}`; bad++; }
  const nonzero = want.pixels.filter(v => v > 0).length;
  check('image: canvas pixels are the input image\'s gray values (all ' + shown.length + ')', bad === 0 && nonzero > 50,
        bad ? bad + ' differ, ' + firstBad : nonzero + ' non-black pixels');

  // The JSON's class-token rows: each sums to 1 over the patches and is the class token's row
  // of the recorded classifier-self map with the class token's own share taken out.
  const P = im.rows * im.cols, flat = w => [].concat(...w);
  let worstSum = 0, worstRow = 0;
  for (const a of im.attention.concat([{ weights: im.rollout }]))
    worstSum = Math.max(worstSum, Math.abs(flat(a.weights).reduce((x, y) => x + y, 0) - 1));
  for (const a of im.attention) {
    const m = data.maps.find(x => x.kind === 'classifier-self' && x.layer === a.layer && x.head === a.head);
    const row = m.weights[0], rest = 1 - row[0];
    flat(a.weights).forEach((v, j) => { worstRow = Math.max(worstRow, Math.abs(v - row[1 + j] / rest)); });
  }
  check('image: every class-token row and the rollout sum to 1 over the patches', worstSum < 1e-5 &&
        im.attention.length === im.layers * im.heads && im.pool === 'cls', 'max |sum - 1| ' + worstSum.toExponential(2));
  check('image: each row is the recorded map\'s class-token row without its own share', worstRow < 1e-5,
        'max error ' + worstRow.toExponential(2));

  // The overlay: per patch, opacity grows with the weight and peaks on the largest one.
  const overlayAlpha = () => page.evaluate(([rows, cols]) => {
    const c = document.getElementById('img-overlay'), cell = Number(c.dataset.cell);
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data, out = [];
    for (let r = 0; r < rows; r++)
      for (let q = 0; q < cols; q++) out.push(d[4 * (Math.floor((r + 0.5) * cell) * c.width + Math.floor((q + 0.5) * cell)) + 3]);
    return out;
  }, [im.rows, im.cols]);
  const argmax = a => a.reduce((b, v, i) => (v > a[b] ? i : b), 0);
  function overlayFollows(alpha, w, label) {
    const vmax = Math.max(...w), top = argmax(w);
    let disorder = 0, off = 0;
    for (let i = 0; i < P; i++) {
      off = Math.max(off, Math.abs(alpha[i] - 255 * (0.1 + 0.75 * w[i] / vmax)));
      for (let j = 0; j < P; j++) if (w[i] - w[j] > 0.02 * vmax && !(alpha[i] > alpha[j])) disorder++;
    }
    check(label + ': overlay most opaque on the patch of the largest weight', alpha[top] === Math.max(...alpha) &&
          alpha[top] > alpha[argmax(w.map((v, i) => (i === top ? -1 : v)))] - 1, 'patch ' + top + ' alpha ' + alpha[top]);
    check(label + ': overlay opacity follows the weights (0.1 + 0.75·w/max)', disorder === 0 && off <= 1.5,
          disorder + ' pairs out of order, max opacity error ' + off.toFixed(2) + '/255');
  }
  const head0 = flat(im.attention[0].weights);
  check('image: starts on layer 0 head 0', await page.getAttribute('#img-overlay', 'data-head') === '0' &&
        await page.getAttribute('#img-overlay', 'data-layer') === '0');
  const a0 = await overlayAlpha();
  overlayFollows(a0, head0, 'layer 0 head 0');
  check('legend: its scale tops at the map\'s maximum',
        Math.abs(Number(await page.getAttribute('#img-legend', 'data-vmax')) - Math.max(...head0)) < 1e-6);

  // Switching head (mouse) draws that head's map.
  await page.click('.img-head[data-head="1"]');
  const head1 = flat(im.attention[1].weights), a1 = await overlayAlpha();
  check('switching head: overlay changes and the button shows it', a1.join() !== a0.join() &&
        await page.getAttribute('#img-overlay', 'data-head') === '1' &&
        await page.getAttribute('.img-head[data-head="1"]', 'aria-pressed') === 'true');
  overlayFollows(a1, head1, 'layer 0 head 1');

  // Keyboard: ↓ next layer, → next head (after the last head: the rollout).
  await page.focus('#img-stage');
  await page.keyboard.press('ArrowDown');
  const lastLayer = Math.min(1, im.layers - 1);
  overlayFollows(await overlayAlpha(), flat(im.attention[lastLayer * im.heads + 1].weights), `keys: layer ${lastLayer} head 1`);
  for (let h = 1; h < im.heads; h++) await page.keyboard.press('ArrowRight');
  check('keys: → past the last head shows the rollout', await page.getAttribute('#img-overlay', 'data-head') === 'rollout');
  overlayFollows(await overlayAlpha(), flat(im.rollout), 'rollout');

  // Hover: the patch under the mouse and its weight.
  const top = argmax(flat(im.rollout)), cell = Number(await page.getAttribute('#img-overlay', 'data-cell'));
  const box = await page.locator('#img-overlay').boundingBox();
  await page.mouse.move(box.x + ((top % im.cols) + 0.5) * cell, box.y + (Math.floor(top / im.cols) + 0.5) * cell);
  const text = await page.textContent('#img-readout');
  check('hover: names the patch and its rollout weight', text.includes(flat(im.rollout)[top].toFixed(4)) &&
        await page.getAttribute('#img-readout', 'data-row') === String(Math.floor(top / im.cols)) &&
        await page.getAttribute('#img-readout', 'data-col') === String(top % im.cols), text);
  await page.click('.img-head[data-head="0"]');
}

async function main() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'attn-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 900 },
  });
  const errors = [];
  const requests = [];
  try {
    const page = context.pages()[0] || await context.newPage();
    page.on('console', m => { if (m.type() === 'error') errors.push(m.text()); });
    page.on('pageerror', e => errors.push(String(e)));
    page.on('request', r => { if (!r.url().startsWith('file:')) requests.push(r.url()); });
    await page.goto('file://' + htmlPath);
    await page.waitForSelector('body[data-ready="1"]', { timeout: 10000 });
    const data = await page.evaluate(() => JSON.parse(document.getElementById('attn-data').textContent));
    const kindsOf = k => data.maps.filter(m => m.kind === k);
    const count = (k, key) => Math.max(...kindsOf(k).map(m => m[key])) + 1;
    const rowsOf = k => (k === 'cross' || k === 'decoder-self' ? data.target : data.source).length;
    const colsOf = k => (k === 'decoder-self' ? data.target : data.source).length;
    const lines = sel => page.locator('#head-svg line.attn-line' + (sel || '')).count();
    const visible = () => page.locator('#head-svg line.attn-line:not(.hidden)').count();

    if (process.argv[4] === 'image') { // an image model's page: the overlay view
      await imageChecks(page, data, process.argv[5], Number(process.argv[6]));
      fs.mkdirSync(path.dirname(shotPath), { recursive: true });
      await page.locator('#image-view').screenshot({ path: shotPath });
      check('image view screenshot written', fs.statSync(shotPath).size > 5000, shotPath);
      check('no console errors', errors.length === 0, errors.join(' | '));
      check('no network requests', requests.length === 0, requests.join(' '));
      return;
    }
    // Head view, default: first kind, layer 0, every head on.
    if (process.argv[4] === 'smoke') { // any record: it loads, draws every pair, no errors
      const k = await page.getAttribute('#head-svg', 'data-kind');
      const want = rowsOf(k) * colsOf(k) * count(k, 'head');
      check('smoke: head view draws every pair of ' + k, await lines() === want, (await lines()) + ' vs ' + want);
      check('smoke: model view panels', await page.locator('canvas.mv-cell').count() === data.maps.filter(m => m.kind === k).length);
      check('smoke: no console errors', errors.length === 0, errors.join(' | '));
      return;
    }
    const kind0 = await page.getAttribute('#head-svg', 'data-kind');
    check('head view starts on cross-attention when there is some',
          kind0 === (data.maps.some(m => m.kind === 'cross') ? 'cross' : data.maps[0].kind), kind0);
    const H = count(kind0, 'head'), R = rowsOf(kind0), C = colsOf(kind0);
    check('head view draws every pair (no threshold at this size)',
          await page.getAttribute('#head-svg', 'data-threshold') === '0');
    check('head view: one line per token pair per head', await lines() === R * C * H,
          (await lines()) + ' lines, want ' + R * C * H);
    let perHead = true;
    for (let h = 0; h < H; h++) perHead = perHead && await lines('[data-head="' + h + '"]') === R * C;
    check('head view: every head draws rows × cols lines', perHead);
    const opac = await page.evaluate(() => [...document.querySelectorAll('#head-svg line.attn-line')]
      .map(l => [Number(l.dataset.head), Number(l.dataset.row), Number(l.dataset.col), Number(l.getAttribute('stroke-opacity'))]));
    const map0 = h => data.maps.find(m => m.kind === kind0 && m.layer === 0 && m.head === h);
    const maxErr = Math.max(...opac.map(([h, i, j, o]) => Math.abs(o - Math.min(1, map0(h).weights[i][j]))));
    check('head view: line opacity is the weight', maxErr < 1e-6, 'max error ' + maxErr);
    const colours = await page.evaluate(() => new Set([...document.querySelectorAll('#head-svg line.attn-line')].map(l => l.getAttribute('stroke'))).size);
    check('head view: one colour per head', colours === H, colours + ' colours');

    // Head toggles.
    await page.click('.head-toggle[data-head="0"]');
    check('toggle head 0 off removes its lines', await lines() === R * C * (H - 1) && await lines('[data-head="0"]') === 0);
    check('toggle shows pressed state', await page.getAttribute('.head-toggle[data-head="0"]', 'aria-pressed') === 'false');
    await page.click('#heads-none');
    check('no heads: no lines', await lines() === 0);
    await page.click('.head-toggle[data-head="1"]');
    check('only head 1: its lines alone', await lines() === R * C && await lines('[data-head="1"]') === R * C);

    // Layer switch changes what is drawn.
    const sig = () => page.evaluate(() => [...document.querySelectorAll('#head-svg line.attn-line')].map(l => l.getAttribute('stroke-opacity')).join(','));
    const before = await sig();
    if (count(kind0, 'layer') > 1) {
      await page.selectOption('#layer-select', '1');
      const after = await sig();
      const want = data.maps.find(m => m.kind === kind0 && m.layer === 1 && m.head === 1);
      const got = await page.evaluate(() => [...document.querySelectorAll('#head-svg line.attn-line')].map(l => [Number(l.dataset.row), Number(l.dataset.col), Number(l.getAttribute('stroke-opacity'))]));
      const err = Math.max(...got.map(([i, j, o]) => Math.abs(o - Math.min(1, want.weights[i][j]))));
      check('layer switch redraws with that layer\'s weights', after !== before && err < 1e-6 &&
            await page.getAttribute('#head-svg', 'data-layer') === '1', 'max error ' + err);
    } else {
      check('layer switch (record has one layer)', false, 'the test record needs two layers');
    }

    // Kind switch: every head of the new kind, its rows × cols (decoder: target × target).
    const other = [...new Set(data.maps.map(m => m.kind))].find(k => k !== kind0);
    if (other) {
      await page.selectOption('#kind-select', other);
      const want = rowsOf(other) * colsOf(other) * count(other, 'head');
      check('kind switch to ' + other + ': rows × cols lines for every head', await lines() === want &&
            await page.getAttribute('#head-svg', 'data-kind') === other, (await lines()) + ' vs ' + want);
    } else {
      check('kind switch (record has one kind)', false, 'the test record needs two kinds');
    }
    const kind = await page.getAttribute('#head-svg', 'data-kind');
    const Hk = count(kind, 'head'), Rk = rowsOf(kind), Ck = colsOf(kind);

    // Hover isolates a token's lines.
    await page.hover('.hv-token[data-side="left"][data-index="2"]');
    const rowsShown = await page.evaluate(() => [...new Set([...document.querySelectorAll('#head-svg line.attn-line:not(.hidden)')].map(l => l.dataset.row))]);
    check('hover on a query token keeps only its lines', await visible() === Ck * Hk &&
          rowsShown.length === 1 && rowsShown[0] === '2', (await visible()) + ' visible');
    await page.hover('.hv-token[data-side="right"][data-index="1"]');
    const colsShown = await page.evaluate(() => [...new Set([...document.querySelectorAll('#head-svg line.attn-line:not(.hidden)')].map(l => l.dataset.col))]);
    check('hover on a key token keeps only its lines', await visible() === Rk * Hk &&
          colsShown.length === 1 && colsShown[0] === '1');
    await page.mouse.move(5, 5);
    check('leaving the token shows every line again', await visible() === Rk * Ck * Hk);

    // Model view: layers × heads panels; click opens one large.
    const L = count(kind, 'layer');
    check('model view: one panel per layer × head', await page.locator('canvas.mv-cell').count() === L * Hk,
          (await page.locator('canvas.mv-cell').count()) + ' panels, want ' + L * Hk);
    check('model view: large view hidden at first', await page.isHidden('#mv-large'));
    const small = await page.locator(`canvas.mv-cell[data-layer="${L - 1}"][data-head="${Hk - 1}"]`).boundingBox();
    await page.click(`canvas.mv-cell[data-layer="${L - 1}"][data-head="${Hk - 1}"]`);
    const big = await page.locator('#mv-large-canvas').boundingBox();
    check('model view: click opens that head large', await page.isVisible('#mv-large') &&
          await page.getAttribute('#mv-large', 'data-layer') === String(L - 1) &&
          await page.getAttribute('#mv-large', 'data-head') === String(Hk - 1) &&
          big && small && big.width > 2 * small.width, big && small ? `${small.width}px → ${big.width}px` : 'no box');
    // The large picture's darkest cell is where the weight is largest (sample cell centres).
    const m = data.maps.find(x => x.kind === kind && x.layer === L - 1 && x.head === Hk - 1);
    let arg = [0, 0];
    m.weights.forEach((row, i) => row.forEach((w, j) => { if (w > m.weights[arg[0]][arg[1]]) arg = [i, j]; }));
    const darkest = await page.evaluate(([rows, cols]) => {
      const c = document.getElementById('mv-large-canvas');
      const x0 = Number(c.dataset.x0), y0 = Number(c.dataset.y0), cell = Number(c.dataset.cell);
      const ctx = c.getContext('2d');
      let best = null, bestLum = Infinity;
      for (let i = 0; i < rows; i++)
        for (let j = 0; j < cols; j++) {
          const d = ctx.getImageData(Math.floor(x0 + (j + 0.5) * cell), Math.floor(y0 + (i + 0.5) * cell), 1, 1).data;
          const lum = 0.2126 * d[0] + 0.7152 * d[1] + 0.0722 * d[2];
          if (lum < bestLum) { bestLum = lum; best = [i, j]; }
        }
      return best;
    }, [m.rows, m.cols]);
    check('model view: large panel darkest at the largest weight', darkest && darkest[0] === arg[0] && darkest[1] === arg[1],
          JSON.stringify(darkest) + ' vs ' + JSON.stringify(arg));
    await page.click('#mv-close');
    check('model view: close hides the large view', await page.isHidden('#mv-large'));

    // Rollout and metrics.
    const nRoll = (data.rollout || []).length;
    check('rollout: one shaded token per source token', nRoll > 0 &&
          await page.locator('.rollout-token').count() === nRoll * data.source.length);
    check('metrics: one row per head', await page.locator('#metrics-table tr.metrics-row').count() === data.maps.length);
    if (data.best_alignment >= 0) {
      const b = data.metrics[data.best_alignment];
      const row = page.locator(`#metrics-table tr.metrics-row.best[data-kind="${b.kind}"][data-layer="${b.layer}"][data-head="${b.head}"]`);
      check('metrics: best-aligned head highlighted', await row.count() === 1);
    }

    fs.mkdirSync(path.dirname(shotPath), { recursive: true });
    await page.selectOption('#kind-select', kind0);
    await page.click(`canvas.mv-cell[data-layer="0"][data-head="0"]`);
    await page.hover('.hv-token[data-side="left"][data-index="1"]');
    await page.screenshot({ path: shotPath, fullPage: true });
    check('screenshot written', fs.statSync(shotPath).size > 10000, shotPath);
    check('no console errors', errors.length === 0, errors.join(' | '));
    check('no network requests', requests.length === 0, requests.join(' '));
  } finally {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

main().catch(e => {
  failed++;
  console.log('FAIL browser test crashed: ' + (e && e.stack || e));
}).finally(() => {
  console.log(passed + ' passed, ' + failed + ' failed');
  process.exitCode = failed ? 1 : 0;
});
