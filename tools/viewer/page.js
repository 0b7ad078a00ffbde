/* tools/viewer/page.js — the script of attention.html (inlined by viz_html.c; no network, no framework).
 *
 * Reads the record from the JSON script element #attn-data and builds:
 *   head view   source/target tokens in two columns, one line per (query, key) pair of each
 *               selected head, opacity = weight, colour = head; layer select, head toggles,
 *               hovering a token keeps only its lines;
 *   model view  every layer × head of the chosen kind as a small matrix; click one to see it large;
 *   rollout     attention rollout matrix and token scores;
 *   metrics     per-head entropy, attended distance, alignment accuracy;
 *   image       for an image model: the picture with the chosen head's (or the rollout's)
 *               attention over its patches as a colour overlay, a legend, keys and hover.
 * Stable hooks for tests: line.attn-line[data-head][data-row][data-col], .hv-token[data-side]
 * [data-index], .head-toggle[data-head][aria-pressed], canvas.mv-cell[data-layer][data-head],
 * #mv-large[data-layer][data-head], tr.metrics-row, .rollout-token[data-score],
 * canvas#img-base[data-scale], canvas#img-overlay[data-layer][data-head][data-cell],
 * .img-head[data-head][aria-pressed], #img-readout[data-row][data-col]. */
'use strict';

(function () {
  const SVGNS = 'http://www.w3.org/2000/svg';
  const data = JSON.parse(document.getElementById('attn-data').textContent);
  const KIND_LABEL = {
    'encoder-self': 'encoder self-attention', 'decoder-self': 'decoder self-attention',
    'cross': 'cross-attention (decoder → encoder)', 'classifier-self': 'classifier self-attention'
  };
  /* The same colormap as the PNGs: stops at equal CIELAB lightness steps, light → dark. */
  const STOPS = [[255, 252, 235], [242, 217, 153], [229, 179, 102], [217, 138, 70], [199, 98, 62],
                 [168, 62, 74], [125, 36, 88], [76, 20, 85], [30, 10, 60]];

  function colormap(t) {
    if (!(t >= 0)) t = 0;
    if (t > 1) t = 1;
    const x = t * 8, i = Math.min(7, Math.floor(x)), f = x - i;
    return STOPS[i].map((c, k) => Math.round((1 - f) * c + f * STOPS[i + 1][k]));
  }
  function rgb(c) { return 'rgb(' + c[0] + ',' + c[1] + ',' + c[2] + ')'; }
  function headColour(h) { return 'hsl(' + ((h * 137.508 + 210) % 360).toFixed(1) + ',70%,42%)'; }
  function shown(tok) { return tok === '' ? '∅' : tok.replace(/ /g, '␣'); }
  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function svgEl(tag, attrs) {
    const e = document.createElementNS(SVGNS, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  }

  const maps = data.maps || [];
  const kinds = [];
  for (const m of maps) if (!kinds.includes(m.kind)) kinds.push(m.kind);
  function findMap(kind, layer, head) {
    return maps.find(m => m.kind === kind && m.layer === layer && m.head === head);
  }
  function countOf(kind, key) {
    let n = 0;
    for (const m of maps) if (m.kind === kind) n = Math.max(n, m[key] + 1);
    return n;
  }
  function rowTokens(kind) { return kind === 'decoder-self' || kind === 'cross' ? data.target : data.source; }
  function colTokens(kind) { return kind === 'decoder-self' ? data.target : data.source; }

  document.getElementById('title').textContent = data.title || 'attention';

  /* ---- head view ------------------------------------------------------------------------ */
  /* Cross-attention first when there is some: it is what a translation model's output rests on. */
  const state = { kind: kinds.includes('cross') ? 'cross' : kinds[0], layer: 0, heads: new Set(), hover: null };
  const kindSel = document.getElementById('kind-select');
  const layerSel = document.getElementById('layer-select');
  const toggles = document.getElementById('head-toggles');
  const svg = document.getElementById('head-svg');

  for (const k of kinds) kindSel.appendChild(el('option', { value: k }, KIND_LABEL[k] || k));

  function resetControls() {
    layerSel.textContent = '';
    for (let l = 0; l < countOf(state.kind, 'layer'); l++)
      layerSel.appendChild(el('option', { value: String(l) }, 'layer ' + l));
    state.layer = Math.min(state.layer, countOf(state.kind, 'layer') - 1);
    layerSel.value = String(state.layer);
    toggles.textContent = '';
    state.heads = new Set();
    for (let h = 0; h < countOf(state.kind, 'head'); h++) {
      state.heads.add(h);
      const b = el('button', { class: 'head-toggle', 'data-head': String(h), 'aria-pressed': 'true',
                               style: '--head-colour:' + headColour(h) }, 'head ' + h);
      b.addEventListener('click', () => {
        if (state.heads.has(h)) state.heads.delete(h); else state.heads.add(h);
        b.setAttribute('aria-pressed', String(state.heads.has(h)));
        drawHeadView();
      });
      toggles.appendChild(b);
    }
  }

  function setAllHeads(on) {
    for (const b of toggles.querySelectorAll('.head-toggle')) {
      const h = Number(b.dataset.head);
      if (on) state.heads.add(h); else state.heads.delete(h);
      b.setAttribute('aria-pressed', String(on));
    }
    drawHeadView();
  }
  document.getElementById('heads-all').addEventListener('click', () => setAllHeads(true));
  document.getElementById('heads-none').addEventListener('click', () => setAllHeads(false));

  function applyHover() {
    const hv = state.hover;
    for (const line of svg.querySelectorAll('line.attn-line')) {
      const keep = !hv || (hv.side === 'left' ? line.dataset.row === hv.index
                                              : line.dataset.col === hv.index);
      line.classList.toggle('hidden', !keep);
    }
    for (const t of svg.querySelectorAll('.hv-token'))
      t.classList.toggle('active', !!hv && t.dataset.side === hv.side && t.dataset.index === hv.index);
  }

  function drawHeadView() {
    const kind = state.kind, rows = rowTokens(kind), cols = colTokens(kind);
    const step = 20, top = 34, leftX = 170, rightX = 500, gap = 12;
    const n = Math.max(rows.length, cols.length);
    svg.textContent = '';
    svg.setAttribute('width', String(rightX + 170));
    svg.setAttribute('height', String(top + n * step + 10));
    svg.dataset.kind = kind;
    svg.dataset.layer = String(state.layer);
    const hdr = [['left', leftX, 'end', kind === 'cross' || kind === 'decoder-self' ? 'target (queries)' : 'source (queries)'],
                 ['right', rightX, 'start', kind === 'decoder-self' ? 'target (keys)' : 'source (keys)']];
    for (const [side, x, anchor, label] of hdr) {
      const t = svgEl('text', { x: String(x), y: '16', 'text-anchor': anchor, 'font-size': '12', fill: '#666', class: 'hv-header', 'data-side': side });
      t.textContent = label;
      svg.appendChild(t);
    }
    const g = svgEl('g', { id: 'hv-lines' });
    svg.appendChild(g);
    /* Every pair gets its line up to LINE_BUDGET lines; past that (long inputs) lines fainter
     * than 2% are left out, and the page says so. */
    const LINE_BUDGET = 60000;
    const threshold = rows.length * cols.length * state.heads.size > LINE_BUDGET ? 0.02 : 0;
    svg.dataset.threshold = String(threshold);
    document.getElementById('hv-note').textContent = threshold ?
      'Long input: lines with weight below ' + threshold + ' are not drawn.' : '';
    for (const h of [...state.heads].sort((a, b) => a - b)) {
      const m = findMap(kind, state.layer, h);
      if (!m) continue;
      const colour = headColour(h);
      for (let i = 0; i < m.rows; i++)
        for (let j = 0; j < m.cols; j++) {
          const w = m.weights[i][j];
          if (w < threshold) continue;
          g.appendChild(svgEl('line', {
            class: 'attn-line', 'data-head': String(h), 'data-row': String(i), 'data-col': String(j),
            'data-weight': String(w), x1: String(leftX + gap), y1: String(top + i * step - 4),
            x2: String(rightX - gap), y2: String(top + j * step - 4), stroke: colour,
            'stroke-width': '2', 'stroke-opacity': String(Math.min(1, w))
          }));
        }
    }
    const sides = [['left', rows, leftX, 'end'], ['right', cols, rightX, 'start']];
    for (const [side, toks, x, anchor] of sides)
      toks.forEach((tok, i) => {
        const t = svgEl('text', { class: 'hv-token', 'data-side': side, 'data-index': String(i),
                                  x: String(x), y: String(top + i * step), 'text-anchor': anchor });
        t.textContent = shown(tok);
        t.addEventListener('mouseenter', () => { state.hover = { side: side, index: String(i) }; applyHover(); });
        t.addEventListener('mouseleave', () => { state.hover = null; applyHover(); });
        svg.appendChild(t);
      });
    applyHover();
  }

  kindSel.addEventListener('change', () => {
    state.kind = kindSel.value;
    state.layer = 0;
    resetControls();
    drawHeadView();
    drawModelView();
  });
  layerSel.addEventListener('change', () => { state.layer = Number(layerSel.value); drawHeadView(); });

  /* ---- model view ----------------------------------------------------------------------- */
  function paintMatrix(canvas, m, cell, vmax) {
    canvas.width = m.cols * cell;
    canvas.height = m.rows * cell;
    const ctx = canvas.getContext('2d');
    for (let i = 0; i < m.rows; i++)
      for (let j = 0; j < m.cols; j++) {
        ctx.fillStyle = rgb(colormap(m.weights[i][j] / vmax));
        ctx.fillRect(j * cell, i * cell, cell, cell);
      }
  }
  function maxOf(m) {
    let v = 0;
    for (const row of m.weights) for (const x of row) v = Math.max(v, x);
    return v > 0 ? v : 1;
  }

  const grid = document.getElementById('mv-grid');
  const large = document.getElementById('mv-large');
  function drawModelView() {
    const kind = state.kind, L = countOf(kind, 'layer'), H = countOf(kind, 'head');
    grid.textContent = '';
    grid.style.gridTemplateColumns = '70px repeat(' + H + ', max-content)';
    grid.appendChild(el('div'));
    for (let h = 0; h < H; h++) grid.appendChild(el('div', { class: 'mv-label' }, 'head ' + h));
    for (let l = 0; l < L; l++) {
      grid.appendChild(el('div', { class: 'mv-label' }, 'layer ' + l));
      for (let h = 0; h < H; h++) {
        const m = findMap(kind, l, h);
        if (!m) { grid.appendChild(el('div')); continue; }
        const c = el('canvas', { class: 'mv-cell', 'data-kind': kind, 'data-layer': String(l), 'data-head': String(h),
                                 title: kind + ' layer ' + l + ' head ' + h });
        const cell = Math.max(1, Math.floor(96 / Math.max(m.rows, m.cols)));
        paintMatrix(c, m, cell, maxOf(m));
        c.style.width = (m.cols * cell) + 'px';
        c.style.height = (m.rows * cell) + 'px';
        c.addEventListener('click', () => openLarge(kind, l, h));
        grid.appendChild(c);
      }
    }
    large.hidden = true;
  }

  function openLarge(kind, l, h) {
    const m = findMap(kind, l, h);
    for (const c of grid.querySelectorAll('.mv-cell'))
      c.classList.toggle('selected', Number(c.dataset.layer) === l && Number(c.dataset.head) === h);
    large.hidden = false;
    large.dataset.kind = kind;
    large.dataset.layer = String(l);
    large.dataset.head = String(h);
    document.getElementById('mv-large-title').textContent = (KIND_LABEL[kind] || kind) + ' · layer ' + l + ' · head ' + h;
    const canvas = document.getElementById('mv-large-canvas');
    const rows = rowTokens(kind), cols = colTokens(kind);
    const cell = Math.max(6, Math.min(28, Math.floor(520 / Math.max(m.rows, m.cols))));
    const ctx0 = canvas.getContext('2d');
    ctx0.font = '12px monospace';
    let lw = 0, lh = 0;
    for (const t of rows) lw = Math.max(lw, ctx0.measureText(shown(t)).width);
    for (const t of cols) lh = Math.max(lh, ctx0.measureText(shown(t)).width);
    const x0 = Math.ceil(lw) + 10, y0 = Math.ceil(lh) + 10, vmax = maxOf(m);
    canvas.dataset.x0 = String(x0);
    canvas.dataset.y0 = String(y0);
    canvas.dataset.cell = String(cell);
    canvas.width = x0 + m.cols * cell + 70;
    canvas.height = y0 + Math.max(m.rows * cell, 100) + 10;
    const ctx = canvas.getContext('2d');
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    for (let i = 0; i < m.rows; i++)
      for (let j = 0; j < m.cols; j++) {
        ctx.fillStyle = rgb(colormap(m.weights[i][j] / vmax));
        ctx.fillRect(x0 + j * cell, y0 + i * cell, cell, cell);
      }
    if (kind === 'cross' && data.alignment) { /* gold alignment: teal frames, as in the PNGs */
      ctx.strokeStyle = 'rgb(0,158,153)';
      ctx.lineWidth = 1.5;
      data.alignment.forEach(([lo, hi], i) => {
        if (hi > lo) ctx.strokeRect(x0 + lo * cell + 0.75, y0 + i * cell + 0.75, (hi - lo) * cell - 1.5, cell - 1.5);
      });
    }
    ctx.fillStyle = '#222';
    ctx.font = Math.min(12, cell) + 'px monospace';
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    rows.forEach((t, i) => ctx.fillText(shown(t), x0 - 4, y0 + (i + 0.5) * cell));
    cols.forEach((t, j) => {
      ctx.save();
      ctx.translate(x0 + (j + 0.5) * cell, y0 - 4);
      ctx.rotate(-Math.PI / 2);
      ctx.textAlign = 'left';
      ctx.fillText(shown(t), 0, 0);
      ctx.restore();
    });
    /* colour bar */
    const bx = x0 + m.cols * cell + 14, bh = Math.max(m.rows * cell, 100);
    for (let k = 0; k < 64; k++) {
      ctx.fillStyle = rgb(colormap((k + 0.5) / 64));
      ctx.fillRect(bx, y0 + bh - (k + 1) * bh / 64, 12, bh / 64 + 0.5);
    }
    ctx.fillStyle = '#222';
    ctx.textAlign = 'left';
    ctx.font = '10px sans-serif';
    ctx.fillText(vmax.toPrecision(3), bx + 15, y0 + 4);
    ctx.fillText('0', bx + 15, y0 + bh - 4);
  }
  document.getElementById('mv-close').addEventListener('click', () => {
    large.hidden = true;
    for (const c of grid.querySelectorAll('.mv-cell')) c.classList.remove('selected');
  });

  /* ---- rollout -------------------------------------------------------------------------- */
  function drawRollout() {
    const box = document.getElementById('rollout-content');
    const ro = data.rollout || [];
    if (!ro.length) {
      box.appendChild(el('p', { class: 'note' }, 'No rollout: the record has no complete encoder or classifier self-attention.'));
      return;
    }
    for (const r of ro) {
      const div = el('div', { class: 'rollout-block', 'data-kind': r.kind });
      div.appendChild(el('h3', {}, (KIND_LABEL[r.kind] || r.kind) + ' — ' +
        (r.pool < 0 ? 'mean over positions' : 'row of position ' + r.pool)));
      const toks = el('div', { class: 'rollout-tokens' });
      const smax = Math.max(...r.scores, 1e-30);
      r.scores.forEach((s, i) => {
        const c = colormap(s / smax), lum = 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
        const span = el('span', { class: 'rollout-token', 'data-index': String(i), 'data-score': String(s),
                                  title: 'score ' + s.toFixed(4) }, shown(data.source[i]));
        span.style.background = rgb(c);
        span.style.color = lum < 115 ? '#fff' : '#111';
        toks.appendChild(span);
      });
      div.appendChild(toks);
      const n = r.matrix.length, cell = Math.max(2, Math.min(14, Math.floor(280 / n)));
      const c = el('canvas', { class: 'rollout-matrix', 'data-kind': r.kind, title: 'rollout matrix (rows: positions, columns: input tokens)' });
      const m = { rows: n, cols: n, weights: r.matrix };
      paintMatrix(c, m, cell, maxOf(m));
      div.appendChild(c);
      box.appendChild(div);
    }
  }

  /* ---- metrics -------------------------------------------------------------------------- */
  function drawMetrics() {
    const tbody = document.querySelector('#metrics-table tbody');
    const best = data.best_alignment;
    (data.metrics || []).forEach((m, idx) => {
      const tr = el('tr', { class: 'metrics-row', 'data-kind': m.kind, 'data-layer': String(m.layer), 'data-head': String(m.head) });
      if (idx === best) tr.classList.add('best');
      const f = v => (v === null || v === undefined ? '–' : v.toFixed(4));
      for (const v of [m.kind, String(m.layer), String(m.head), f(m.entropy), f(m.distance), f(m.align_acc)])
        tr.appendChild(el('td', {}, v));
      tbody.appendChild(tr);
    });
    const note = document.getElementById('best-head');
    if (best !== undefined && best >= 0 && data.metrics[best]) {
      const b = data.metrics[best];
      note.textContent = 'Best-aligned head: ' + b.kind + ' layer ' + b.layer + ' head ' + b.head +
        ' (accuracy ' + b.align_acc.toFixed(4) + ' over ' + b.n_aligned + ' aligned target tokens).';
    }
  }

  /* ---- image overlay (image models: data.image) ------------------------------------------ */
  /* Two stacked canvases: #img-base holds the picture (one gray square of `scale` pixels per
   * image pixel), #img-overlay the chosen map, one colour-mapped square per patch whose opacity
   * grows with the weight (0.1 at 0, 0.85 at the map's maximum). The opacity slider fades the
   * overlay canvas as a whole, so its pixels keep the map. */
  function drawImageView() {
    const im = data.image;
    if (!im) return;
    document.getElementById('image-view').hidden = false;
    const base = document.getElementById('img-base'), over = document.getElementById('img-overlay');
    const stage = document.getElementById('img-stage'), legend = document.getElementById('img-legend');
    const readout = document.getElementById('img-readout');
    const layerSelect = document.getElementById('img-layer-select');
    const buttons = document.getElementById('img-head-buttons');
    const scale = Math.max(1, Math.floor(336 / Math.max(im.width, im.height)));
    const cell = im.patch * scale;
    /* view.head is a head number, or 'rollout' */
    const view = { layer: 0, head: 0 };

    base.width = over.width = im.width * scale;
    base.height = over.height = im.height * scale;
    const bctx = base.getContext('2d');
    for (let y = 0; y < im.height; y++)
      for (let x = 0; x < im.width; x++) {
        const v = im.pixels[y][x];
        bctx.fillStyle = rgb([v, v, v]);
        bctx.fillRect(x * scale, y * scale, scale, scale);
      }
    base.dataset.scale = String(scale);

    for (let l = 0; l < im.layers; l++) layerSelect.appendChild(el('option', { value: String(l) }, 'layer ' + l));
    const choices = [];
    for (let h = 0; h < im.heads; h++) choices.push(h);
    choices.push('rollout');
    for (const c of choices) {
      const b = el('button', { class: 'img-head', type: 'button', 'data-head': String(c) },
                   c === 'rollout' ? 'rollout' : 'head ' + c);
      b.addEventListener('click', () => { view.head = c; paint(); });
      buttons.appendChild(b);
    }

    function currentMap() {
      if (view.head === 'rollout') return im.rollout;
      return im.attention[view.layer * im.heads + view.head].weights;
    }
    function paint() {
      const w = currentMap();
      let vmax = 0;
      for (const row of w) for (const x of row) vmax = Math.max(vmax, x);
      if (!(vmax > 0)) vmax = 1;
      const ctx = over.getContext('2d');
      ctx.clearRect(0, 0, over.width, over.height);
      for (let r = 0; r < im.rows; r++)
        for (let c = 0; c < im.cols; c++) {
          const t = w[r][c] / vmax, col = colormap(t);
          ctx.fillStyle = 'rgba(' + col[0] + ',' + col[1] + ',' + col[2] + ',' + (0.1 + 0.75 * t).toFixed(4) + ')';
          ctx.fillRect(c * cell, r * cell, cell, cell);
        }
      over.dataset.layer = String(view.layer);
      over.dataset.head = String(view.head);
      over.dataset.vmax = String(vmax);
      over.dataset.cell = String(cell);
      layerSelect.value = String(view.layer);
      layerSelect.disabled = view.head === 'rollout';
      for (const b of buttons.querySelectorAll('.img-head'))
        b.setAttribute('aria-pressed', String(b.dataset.head === String(view.head)));
      paintLegend(vmax);
      readout.textContent = view.head === 'rollout'
        ? 'Attention rollout through all ' + im.layers + ' layers.'
        : 'Layer ' + view.layer + ', head ' + view.head + '.';
    }
    function paintLegend(vmax) {
      const W = 200, H = 14;
      legend.width = W + 60;
      legend.height = H + 34;
      const ctx = legend.getContext('2d');
      ctx.fillStyle = '#fff';
      ctx.fillRect(0, 0, legend.width, legend.height);
      for (let k = 0; k < W; k++) {
        const t = (k + 0.5) / W, c = colormap(t);
        ctx.fillStyle = 'rgba(' + c[0] + ',' + c[1] + ',' + c[2] + ',' + (0.1 + 0.75 * t) + ')';
        ctx.fillRect(10 + k, 6, 1, H);
      }
      ctx.strokeStyle = '#999';
      ctx.strokeRect(9.5, 5.5, W + 1, H + 1);
      ctx.fillStyle = '#222';
      ctx.font = '11px sans-serif';
      ctx.textAlign = 'center';
      ctx.fillText('0', 10, H + 20);
      ctx.fillText(vmax.toPrecision(3), 10 + W, H + 20);
      ctx.fillText('attention to the patch', 10 + W / 2, H + 32);
      legend.dataset.vmax = String(vmax);
    }

    layerSelect.addEventListener('change', () => { view.layer = Number(layerSelect.value); paint(); });
    document.getElementById('img-opacity').addEventListener('input', e => {
      over.style.opacity = String(Number(e.target.value) / 100);
    });
    over.style.opacity = '0.8';
    /* Keyboard, with the picture focused: ←/→ step through the heads and the rollout, ↑/↓ the
     * layers, r jumps to the rollout. */
    stage.addEventListener('keydown', e => {
      const i = choices.indexOf(view.head);
      if (e.key === 'ArrowRight') view.head = choices[(i + 1) % choices.length];
      else if (e.key === 'ArrowLeft') view.head = choices[(i + choices.length - 1) % choices.length];
      else if (e.key === 'ArrowDown') view.layer = Math.min(im.layers - 1, view.layer + 1);
      else if (e.key === 'ArrowUp') view.layer = Math.max(0, view.layer - 1);
      else if (e.key === 'r') view.head = 'rollout';
      else return;
      e.preventDefault();
      paint();
    });
    /* Mouse: hovering a patch names it and gives its weight. */
    over.addEventListener('mousemove', e => {
      const box = over.getBoundingClientRect();
      const c = Math.floor((e.clientX - box.left) / cell), r = Math.floor((e.clientY - box.top) / cell);
      if (r < 0 || c < 0 || r >= im.rows || c >= im.cols) return;
      const tok = data.source[(im.pool === 'cls' ? 1 : 0) + r * im.cols + c];
      readout.textContent = 'patch ' + tok + ' (row ' + r + ', column ' + c + '): ' + currentMap()[r][c].toFixed(4);
      readout.dataset.row = String(r);
      readout.dataset.col = String(c);
    });
    paint();
  }

  if (kinds.length) {
    kindSel.value = state.kind;
    resetControls();
    drawHeadView();
    drawModelView();
  }
  drawRollout();
  drawMetrics();
  drawImageView();
  document.body.dataset.ready = '1';
})();
