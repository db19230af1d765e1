// The renderer of the --trace=html page, embedded at its end by runtime/trace_html.c, which
// describes the packed events it decodes. It draws on one canvas, and only what is in view:
// per row, a step or wait wider than a pixel is drawn on its own, narrower ones are merged
// into one density mark per pixel column (found by binary search and prefix sums, so a frame
// costs the pixels in view, not the events). This file must never contain a closing script
// tag nor an html comment opener (the Makefile checks).
(function () {
  'use strict';
  const scriptStart = performance.now();

  // What a span is drawn as. A new kind: one entry here, and for a wait the what= prefix of
  // `on` (the part before ':') in WAITS. Steps are solid bars, waits tinted ones.
  const KINDS = [
    {key: 'running', colour: '#2f6fd0', label: 'running'},
    {key: 'done', colour: '#2e9e5b', label: 'last step'},
    {key: 'fail', colour: '#d62d2d', label: 'failed'},
    {key: 'cancelled', colour: '#7d7d7d', label: 'cancelled'},
    {key: 'sleep', colour: '#d9a400', label: 'sleep', wait: true},
    {key: 'io', colour: '#1598a8', label: 'I/O', wait: true},
    {key: 'task', colour: '#9b6dd6', label: 'task', wait: true},
    {key: 'sync', colour: '#ee7d1f', label: 'lock/queue/event', wait: true},
    {key: 'process', colour: '#6e9e1e', label: 'process', wait: true},
    {key: 'other', colour: '#9a9a9a', label: 'other wait', wait: true},
    {key: 'pending', colour: '#c0c0c0', label: 'not started', wait: true},
  ];
  const WAITS = {
    sleep: 'sleep', read: 'io', write: 'io', accept: 'io', connect: 'io', resolve: 'io',
    task: 'task', tasks: 'task', queue: 'sync', event: 'sync', lock: 'sync',
    semaphore: 'sync', condition: 'sync', process: 'process',
  };
  const K = {};
  KINDS.forEach((k, i) => { K[k.key] = i; });
  const OUTCOME = {done: K.done, fail: K.fail, cancelled: K.cancelled};

  const RH = 20, AX = 28, GUTTER = 220, PAD = 10; // px: row, axis, names column, right margin
  const $ = id => document.getElementById(id);

  // ---- decoding: packed rows -> per task columns ------------------------------------
  // The packed integers of the rows (see trace_html.c), the end marked with -1.
  const DIGIT = new Int8Array(128).fill(-1);
  '0123456789ABCDEFGHIJKLMNOPQRSTUV'.split('').forEach((c, i) => { DIGIT[c.charCodeAt(0)] = i; });
  'WXYZabcdefghijklmnopqrstuvwxyz-_'.split('').forEach((c, i) => { DIGIT[c.charCodeAt(0)] = 32 + i; });
  function numbers(text) {
    const out = new Float64Array(text.length + 1);
    let n = 0, v = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i), d = c < 128 ? DIGIT[c] : -1;
      if (d >= 32) {
        v = v * 32 + d - 32;
      } else if (d >= 0) {
        v = v * 32 + d;
        out[n++] = v % 2 ? -(v + 1) / 2 : v / 2;
        v = 0;
      } else if (c === 46) { // '.': the end
        break;
      }
    }
    out[n] = -1;
    return out.subarray(0, n + 1);
  }
  const ev = numbers($('events').textContent);
  const tables = JSON.parse($('tables').textContent);
  $('events').remove(); // the DOM need not keep megabytes of text
  $('tables').remove();
  const S = tables.strings;
  const EVENTS = {spawn: 1, resume: 2, suspend: 3, done: 4, fail: 4, cancelled: 4, cancel: 5};
  const shapes = tables.shapes.map(s => {
    const parts = s.split(' '), at = {};
    parts.slice(1).forEach((p, i) => { at[p.slice(0, p.lastIndexOf(':'))] = i; });
    const f = key => (key in at ? at[key] : -1);
    const own = (o, key) => (Object.hasOwn(o, key) ? o[key] : undefined);
    return {event: parts[0], code: own(EVENTS, parts[0]) || 0, outcome: own(OUTCOME, parts[0]) ?? -1,
      n: parts.length - 1, task: f('task'), name: f('name'), on: f('on'), at: f('at'),
      parent: f('parent'), error: f('error'), by: f('by')};
  });
  // the kind of a wait by the string index of its on=
  const waitKinds = new Int8Array(S.length).fill(-1);
  function waitKind(on) {
    if (waitKinds[on] < 0) waitKinds[on] = K[WAITS[S[on].split(':')[0]] || 'other'];
    return waitKinds[on];
  }

  // A first pass counts the events and finds the largest task id: a span is pushed per
  // resume, suspend or end, plus one per task at the end of the trace.
  let nev = 0, maxId = 0;
  for (let i = 0; ev[i] >= 0 && i < ev.length; nev++) {
    const sh = shapes[ev[i]];
    if (sh.task >= 0 && ev[i + 2 + sh.task] > maxId) maxId = ev[i + 2 + sh.task];
    i += 2 + sh.n;
  }
  const cap = nev + maxId + 1;
  // the spans in the order they ended, then sorted by task (stable, so by time in a task)
  let TK = new Int32Array(cap), ST = new Float64Array(cap), EN = new Float64Array(cap),
    KD = new Uint8Array(cap), ON = new Int32Array(cap), WH = new Int32Array(cap), ns = 0;
  const byId = new Array(maxId + 1);
  function task(id, t) {
    let k = byId[id];
    if (!k) k = byId[id] = {id, name: -1, parent: 0, at: -1, spawn: t, end: -1, outcome: -1,
      error: -1, by: -1, run: -1, open: K.pending, openAt: t, openOn: -1, openWhere: -1};
    return k;
  }
  function push(k, a, b, kind, on, where) {
    TK[ns] = k.id; ST[ns] = a; EN[ns] = b; KD[ns] = kind; ON[ns] = on; WH[ns] = where; ns++;
  }
  // the wait (or not-yet-started span) that is open ends at t
  function closeWait(k, t) {
    if (k.open >= 0) push(k, k.openAt, t, k.open, k.openOn, k.openWhere);
    k.open = -1;
  }
  let t = 0, tmax = 0;
  for (let i = 0; ev[i] >= 0 && i < ev.length;) {
    const sh = shapes[ev[i]], f = i + 2;
    t += ev[i + 1];
    i = f + sh.n;
    if (t > tmax) tmax = t;
    if (sh.task < 0) continue;
    const k = task(ev[f + sh.task], t);
    if (sh.name >= 0) k.name = ev[f + sh.name];
    switch (sh.code) {
      case 1: // spawn
        k.spawn = t; k.openAt = t;
        if (sh.parent >= 0) k.parent = ev[f + sh.parent];
        if (sh.at >= 0) k.at = ev[f + sh.at];
        break;
      case 2: // resume
        closeWait(k, t);
        k.run = t;
        break;
      case 3: { // suspend
        const where = sh.at >= 0 ? ev[f + sh.at] : -1, on = sh.on >= 0 ? ev[f + sh.on] : -1;
        push(k, k.run >= 0 ? k.run : t, t, K.running, on, where);
        k.run = -1;
        k.open = on >= 0 ? waitKind(on) : K.other; k.openAt = t; k.openOn = on;
        k.openWhere = where;
        break;
      }
      case 4: // done, fail, cancelled
        if (k.run >= 0) push(k, k.run, t, sh.outcome, -1, -1);
        else closeWait(k, t);
        k.run = -1; k.open = -1; k.end = t; k.outcome = sh.outcome;
        if (sh.error >= 0) k.error = ev[f + sh.error];
        break;
      case 5: // cancel
        if (sh.by >= 0) k.by = ev[f + sh.by];
        break;
    }
  }
  const tasks = byId.filter(Boolean);
  for (const k of tasks) {
    if (k.run >= 0) push(k, k.run, tmax, K.running, -1, -1); // still running at the end
    else closeWait(k, tmax);
  }
  { // counting sort by task: task k's spans are o..o+n-1
    const off = new Int32Array(maxId + 2);
    for (let j = 0; j < ns; j++) off[TK[j] + 1]++;
    for (let id = 1; id <= maxId + 1; id++) off[id] += off[id - 1];
    for (const k of tasks) { k.o = off[k.id]; k.n = off[k.id + 1] - k.o; }
    const st = new Float64Array(ns), en = new Float64Array(ns), kd = new Uint8Array(ns),
      on = new Int32Array(ns), wh = new Int32Array(ns);
    for (let j = 0; j < ns; j++) {
      const d = off[TK[j]]++;
      st[d] = ST[j]; en[d] = EN[j]; kd[d] = KD[j]; on[d] = ON[j]; wh[d] = WH[j];
    }
    ST = st; EN = en; KD = kd; ON = on; WH = wh; TK = null;
  }
  // prefix sums per task of the running time and of the steps: for task k (the x-th) and a
  // span i of it, CUM[i + x] is the running time of its spans before i
  const RUNS = new Uint8Array(KINDS.length);
  [K.running, K.done, K.fail, K.cancelled].forEach(k => { RUNS[k] = 1; });
  const CUM = new Float64Array(ns + tasks.length), CNT = new Uint32Array(ns + tasks.length);
  tasks.forEach((k, x) => {
    k.x = x;
    for (let j = k.o, p = k.o + x; j < k.o + k.n; j++, p++) {
      const r = RUNS[KD[j]];
      CUM[p + 1] = CUM[p] + (r ? EN[j] - ST[j] : 0);
      CNT[p + 1] = CNT[p] + r;
    }
    k.started = CNT[k.o + x + k.n] > 0;
    k.label = k.id + ' ' + (k.name >= 0 ? S[k.name] : '') + (k.started ? '' : ' (never ran)');
    k.lname = (k.name >= 0 ? S[k.name] : '').toLowerCase();
  });
  const full = Math.max(tmax, 1);

  // first index in a[lo..hi) (sorted) with a[i] >= x, or hi
  function lower(a, x, lo, hi) {
    while (lo < hi) {
      const m = (lo + hi) >>> 1;
      if (a[m] < x) lo = m + 1; else hi = m;
    }
    return lo;
  }

  // the same, for an x likely near lo: doubling steps from lo, then a binary search
  function gallop(a, x, lo, hi) {
    let step = 1, from = lo;
    while (lo + step < hi && a[lo + step] < x) { from = lo + step; step *= 2; }
    return lower(a, x, from, Math.min(lo + step + 1, hi));
  }

  // ---- formatting ----------------------------------------------------------------------
  function dur(us) {
    if (us >= 1e6) return (us / 1e6).toFixed(3) + ' s';
    if (us >= 1e3) return (us / 1e3).toFixed(3) + ' ms';
    return us.toFixed(0) + ' µs';
  }
  const str = i => (i >= 0 ? S[i] : '');

  // ---- the page ----------------------------------------------------------------------
  const view = $('view'), canvas = $('canvas'), ctx = canvas.getContext('2d'), tip = $('tip');
  const spacer = document.createElement('div');
  view.appendChild(spacer);
  const failed = tasks.filter(k => k.outcome === K.fail).length;
  const cancelled = tasks.filter(k => k.outcome === K.cancelled).length;
  $('summary').textContent = tasks.length + ' tasks, ' + dur(tmax) + ', ' + failed +
    ' failed, ' + cancelled + ' cancelled, ' + nev + ' events' +
    (tables.lost ? ' (trace cut short: out of memory)' : '');
  for (const k of KINDS) {
    const s = document.createElement('span'), i = document.createElement('i');
    i.style.background = k.colour;
    if (k.wait) i.style.opacity = 0.55;
    s.append(i, k.label);
    $('legend').appendChild(s);
  }

  let v0 = 0, v1 = full;          // the window, in microseconds
  let W = 0, H = 0, PW = 1, dpr = 1;
  let rows = [];                  // what each row shows: a task, or a run of collapsed ones
  let filter = [], collapse = false;
  let mouse = null;               // {x, y} over the canvas
  let pinned = null;              // the span whose details stay shown

  function resize() {
    dpr = window.devicePixelRatio || 1;
    W = view.clientWidth; H = Math.max(view.clientHeight, AX + RH);
    PW = Math.max(W - GUTTER - PAD, 10);
    canvas.width = Math.round(W * dpr); canvas.height = Math.round(H * dpr);
    canvas.style.width = W + 'px'; canvas.style.height = H + 'px';
    canvas.style.marginBottom = -H + 'px';
  }

  function matches(k) {
    if (!filter.length) return true;
    return filter.some(q => String(k.id) === q || k.lname.includes(q));
  }
  // rows of the tasks that match the filter; with collapse, runs of tasks that finished
  // before the window become one row
  function layout() {
    rows = [];
    for (const k of tasks) {
      if (!matches(k)) continue;
      if (collapse && k.end >= 0 && k.end < v0) {
        const last = rows[rows.length - 1];
        if (last && last.group) { last.group.push(k); continue; }
        rows.push({group: [k]});
      } else {
        rows.push({task: k});
      }
    }
    spacer.style.height = Math.max(0, AX + rows.length * RH + 4) + 'px';
  }

  // ---- drawing -------------------------------------------------------------------------
  // Rectangles are batched by style (a colour and an opacity, numbered once here), so that a
  // frame sets each style once, in the order of the styles: tints under solid bars.
  const styles = [];
  function style(colour, alpha) {
    styles.push({colour, alpha, r: []});
    return styles.length - 1;
  }
  const GRID = style('#000', 0.08);
  const TINT = KINDS.map(k => style(k.colour, 0.28));
  const SOLID = KINDS.map(k => style(k.colour, 1));
  const DENSITY = [0.5, 0.75, 1].map(a => style(KINDS[K.running].colour, a));
  function rect(st, x, y, w, h) {
    styles[st].r.push(x, y, w, h);
  }
  function flush() {
    for (const b of styles) {
      const r = b.r;
      if (!r.length) continue;
      ctx.fillStyle = b.colour; ctx.globalAlpha = b.alpha;
      for (let i = 0; i < r.length; i += 4) ctx.fillRect(r[i], r[i + 1], r[i + 2], r[i + 3]);
      r.length = 0;
    }
    ctx.globalAlpha = 1;
  }

  function niceStep(raw) {
    const p = Math.pow(10, Math.floor(Math.log10(raw))), m = raw / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
  }
  function tickLabel(us, step) {
    const [unit, name] = step >= 1e6 ? [1e6, 's'] : step >= 1e3 ? [1e3, 'ms'] : [1, 'µs'];
    const dec = Math.max(0, Math.ceil(-Math.log10(step / unit) - 1e-9));
    return (us / unit).toFixed(dec) + ' ' + name;
  }

  function spanLabel(k, i) {
    const kind = KD[i];
    if (KINDS[kind].wait) return kind === K.pending ? 'not started' : str(ON[i]);
    if (kind === K.running) return str(WH[i]);
    if (kind === K.fail) return 'failed' + (k.error >= 0 ? ': ' + S[k.error] : '');
    return KINDS[kind].label;
  }

  let drawn;                      // what the last frame drew, for tests (#drawn)
  function drawSpan(k, i, x0, x1, y, labels) {
    const kind = KD[i];
    const a = Math.max(x0, GUTTER), b = Math.min(x1, GUTTER + PW);
    if (KINDS[kind].wait) {
      rect(TINT[kind], a, y + 3, b - a, RH - 6);
      rect(SOLID[kind], a, y + RH - 5, b - a, 2);
    } else {
      rect(SOLID[kind], a, y + 3, b - a, RH - 6);
    }
    const label = spanLabel(k, i);
    if (b - a > 36 && label) labels.push(label, a + 3, y + RH / 2, b - a - 6, KINDS[kind].wait);
    if (drawn.spans.length < 500)
      drawn.spans.push({task: k.id, kind: KINDS[kind].key, t0: ST[i] / 1e6, t1: EN[i] / 1e6,
        x0: Math.round(a), x1: Math.round(b), label});
    drawn.wide++;
  }

  function drawTask(k, y, s, labels) {
    const end = k.o + k.n, p = k.x;
    let i = lower(EN, v0, k.o, end);
    while (i < end) {
      const a = ST[i];
      if (a > v1) break;
      const x0 = GUTTER + (a - v0) * s, x1 = GUTTER + (EN[i] - v0) * s;
      if (x1 - x0 >= 1) {
        drawSpan(k, i, x0, x1, y, labels);
        i++;
        continue;
      }
      // the pixel column of x0: every span starting in it, but a wide last one
      const col = Math.floor(x0), tEnd = v0 + (col + 1 - GUTTER) / s;
      let j = gallop(ST, tEnd, i + 1, end);
      if (j - 1 > i && (EN[j - 1] - ST[j - 1]) * s >= 1) j--;
      if (col >= GUTTER && col < GUTTER + PW) {
        const steps = CNT[j + p] - CNT[i + p];
        let wait = -1;
        for (let m = i; m < j && m < i + 4; m++) if (KINDS[KD[m]].wait) { wait = KD[m]; break; }
        if (wait >= 0) rect(TINT[wait], col, y + 3, 1, RH - 6);
        if (steps) {
          const frac = Math.min(1, (CUM[j + p] - CUM[i + p]) * s);
          rect(DENSITY[frac > 0.5 ? 2 : frac > 0.1 ? 1 : 0], col, y + 3, 1, RH - 6);
        }
        drawn.density++;
      }
      i = j;
    }
    // the end: always marked, however narrow the last step
    if (k.outcome >= 0 && k.end >= v0 && k.end <= v1) {
      const x = GUTTER + (k.end - v0) * s;
      rect(SOLID[k.outcome], Math.min(x, GUTTER + PW - 2), y + 1, 2, RH - 2);
      drawn.ends.push({task: k.id, outcome: KINDS[k.outcome].key, x: Math.round(x)});
    }
  }

  function draw() {
    const t0 = performance.now();
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, W, H);
    ctx.font = '11px monospace';
    ctx.textBaseline = 'middle';
    const s = PW / (v1 - v0), top = view.scrollTop;
    drawn = {window: [v0 / 1e6, v1 / 1e6], rows: [], spans: [], ends: [], wide: 0, density: 0};
    const first = Math.max(0, Math.floor(top / RH)), last = Math.min(rows.length, Math.ceil((top + H - AX) / RH));
    const labels = [];
    for (let r = first; r < last; r++) {
      const y = AX + r * RH - top, row = rows[r];
      if (r % 2) { ctx.fillStyle = '#f4f6f9'; ctx.fillRect(0, y, W, RH); } // under the batches
      if (row.task) drawTask(row.task, y, s, labels);
    }
    // the grid and the axis
    const step = niceStep((v1 - v0) * 110 / PW);
    for (let g = Math.ceil(v0 / step) * step; g <= v1; g += step)
      rect(GRID, Math.round(GUTTER + (g - v0) * s), AX, 1, H - AX);
    flush();
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, W, AX);
    ctx.fillStyle = '#ccc';
    ctx.fillRect(0, AX - 1, W, 1);
    ctx.fillStyle = '#555';
    ctx.textAlign = 'center';
    for (let g = Math.ceil(v0 / step) * step; g <= v1; g += step) {
      const x = GUTTER + (g - v0) * s;
      if (x > GUTTER + 30 && x < GUTTER + PW - 30) ctx.fillText(tickLabel(g, step), x, AX / 2);
      ctx.fillRect(Math.round(x), AX - 6, 1, 5);
    }
    ctx.textAlign = 'left';
    ctx.fillStyle = '#222';
    ctx.fillText((v0 / 1e6).toFixed(6) + ' s  +' + dur(v1 - v0), 6, AX / 2);
    // the labels of the spans, cut to their room
    for (let i = 0; i < labels.length; i += 5) {
      const room = Math.floor(labels[i + 3] / 6.7);
      if (room < 3) continue;
      const text = labels[i].length > room ? labels[i].slice(0, room - 1) + '…' : labels[i];
      ctx.fillStyle = labels[i + 4] ? '#333' : '#fff';
      ctx.fillText(text, labels[i + 1], labels[i + 2]);
    }
    // the gutter with the rows' names
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, AX, GUTTER - 4, H - AX);
    for (let r = first; r < last; r++) {
      const y = AX + r * RH - top, row = rows[r];
      let label, colour = '#222';
      if (row.task) {
        const k = row.task;
        label = k.label;
        if (k.outcome === K.fail) colour = KINDS[K.fail].colour;
        else if (!k.started) colour = '#888';
        drawn.rows.push({task: k.id, label});
      } else {
        const g = row.group;
        label = '▸ ' + g.length + ' finished (' + g[0].id + '…' + g[g.length - 1].id + ')';
        colour = '#888';
        drawn.rows.push({group: g.length, first: g[0].id, last: g[g.length - 1].id, label});
      }
      if (r % 2) { ctx.fillStyle = '#f4f6f9'; ctx.fillRect(0, y, GUTTER - 4, RH); }
      ctx.fillStyle = colour;
      const room = Math.floor((GUTTER - 12) / 6.7);
      ctx.fillText(label.length > room ? label.slice(0, room - 1) + '…' : label, 6, y + RH / 2);
    }
    ctx.fillStyle = '#ddd';
    ctx.fillRect(GUTTER - 4, AX, 1, H - AX);
    const ms = performance.now() - t0;
    drawn.frameMs = +ms.toFixed(1);
    $('drawn').textContent = JSON.stringify(drawn);
    document.body.dataset.window = (v0 / 1e6).toFixed(6) + '-' + (v1 / 1e6).toFixed(6);
    return ms;
  }

  let queued = false;
  function redraw() {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; if (collapse) layout(); draw(); showTip(); });
  }

  // ---- the window: zoom, pan, #t=A-B ---------------------------------------------------
  const MIN = 2; // µs: the trace's resolution is one
  function setWindow(a, b) {
    // at most a bit more than the run, and its middle within the run
    const w = Math.min(Math.max(b - a, MIN), full * 1.2);
    a = Math.min(Math.max(a, -w / 2), full - w / 2);
    v0 = a; v1 = a + w;
    saveHash();
    redraw();
  }
  function zoom(f, x) { // f < 1 zooms in, keeping the time under x where it is
    const at = x === undefined ? (v0 + v1) / 2 : v0 + (x - GUTTER) * (v1 - v0) / PW;
    setWindow(at - (at - v0) * f, at + (v1 - at) * f);
  }
  function pan(px) {
    const d = px * (v1 - v0) / PW;
    setWindow(v0 + d, v1 + d);
  }
  function reset() { setWindow(0, full * 1.02); }

  // The URL keeps the view: #t=A-B (seconds, the text trace's t=), &filter=..., &collapse.
  let hashTimer = 0, ownHash = '';
  function saveHash() {
    clearTimeout(hashTimer);
    hashTimer = setTimeout(() => {
      const f = us => String(+(us / 1e6).toFixed(7));
      ownHash = '#t=' + f(v0) + '-' + f(v1) +
        (filter.length ? '&filter=' + encodeURIComponent($('filter').value) : '') +
        (collapse ? '&collapse' : '');
      if (location.hash !== ownHash) history.replaceState(null, '', ownHash);
    }, 250);
  }
  function setFilter(text) {
    filter = text.toLowerCase().split(/[\s,]+/).filter(Boolean);
  }
  function readHash() {
    const h = location.hash, m = /(?:^#|&)t=(-?[0-9.]+(?:e-?[0-9]+)?)-([0-9.]+(?:e-?[0-9]+)?)/.exec(h);
    const fm = /(?:^#|&)filter=([^&]*)/.exec(h);
    if (fm) {
      try { $('filter').value = decodeURIComponent(fm[1]); } catch (e) { $('filter').value = fm[1]; }
      setFilter($('filter').value);
    }
    collapse = $('collapse').checked = /(?:^#|&)collapse(?:&|$)/.test(h);
    if (!m) return false;
    const a = parseFloat(m[1]) * 1e6, b = parseFloat(m[2]) * 1e6;
    if (!(b > a)) return false;
    v0 = a; v1 = Math.max(b, a + MIN);
    return true;
  }
  window.addEventListener('hashchange', () => {
    if (location.hash === ownHash) return;
    readHash();
    layout();
    redraw();
  });

  const plotX = e => e.clientX - canvas.getBoundingClientRect().left;
  view.addEventListener('wheel', e => {
    const x = plotX(e);
    if (x < GUTTER && !e.ctrlKey) return; // over the names: scroll the rows
    const dy = e.deltaMode === 1 ? e.deltaY * 33 : e.deltaY;
    const dx = e.deltaMode === 1 ? e.deltaX * 33 : e.deltaX;
    if (e.shiftKey && !e.ctrlKey) return;
    e.preventDefault();
    if (e.ctrlKey) zoom(Math.exp(dy * 0.01), x); // a trackpad pinch
    else if (Math.abs(dx) > Math.abs(dy)) pan(dx);
    else zoom(Math.exp(dy * 0.002), x);
  }, {passive: false});

  let drag = null;
  const pointer = e => {
    const r = canvas.getBoundingClientRect();
    mouse = {x: e.clientX - r.left, y: e.clientY - r.top};
  };
  canvas.addEventListener('mousedown', e => {
    if (e.button !== 0) return;
    pointer(e);
    drag = {x: e.clientX, y: e.clientY, v0, v1, top: view.scrollTop, moved: false};
    canvas.classList.add('drag');
    e.preventDefault();
    view.focus();
  });
  window.addEventListener('mousemove', e => {
    pointer(e);
    if (drag) {
      const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
      if (drag.moved) {
        const d = -dx * (drag.v1 - drag.v0) / PW;
        view.scrollTop = drag.top - dy;
        setWindow(drag.v0 + d, drag.v1 + d);
      }
      return;
    }
    showTip();
  });
  window.addEventListener('mouseup', e => {
    if (!drag) return;
    const click = !drag.moved;
    drag = null;
    canvas.classList.remove('drag');
    if (click && e.target === canvas) {
      pinned = hit(mouse.x, mouse.y);
      tip.classList.toggle('pinned', !!pinned);
      showTip();
    }
  });
  canvas.addEventListener('mouseleave', () => { mouse = null; showTip(); });
  view.addEventListener('scroll', () => redraw());
  window.addEventListener('resize', () => { resize(); redraw(); });

  window.addEventListener('keydown', e => {
    if (e.target === $('filter') || e.ctrlKey || e.metaKey || e.altKey) return;
    const x = mouse && mouse.x > GUTTER ? mouse.x : undefined;
    switch (e.key) {
      case 'w': case 'W': case '+': case '=': zoom(0.8, x); break;
      case 's': case 'S': case '-': case '_': zoom(1.25, x); break;
      case 'a': case 'A': pan(-PW * 0.15); break;
      case 'd': case 'D': pan(PW * 0.15); break;
      case '0': reset(); break;
      case 'Escape': pinned = null; tip.classList.remove('pinned'); showTip(); break;
      default: return;
    }
    e.preventDefault();
  });
  $('reset').addEventListener('click', reset);
  $('filter').addEventListener('input', e => { setFilter(e.target.value); layout(); saveHash(); redraw(); });
  $('collapse').addEventListener('change', e => {
    collapse = e.target.checked; layout(); saveHash(); redraw();
  });

  // ---- details of a span -----------------------------------------------------------------
  // The span under (x, y): the one that contains the time there, but a step within 4 px
  // wins over the wait around it (steps can be far narrower than a pixel).
  function hit(x, y) {
    if (x === undefined || x < GUTTER || y < AX) return null;
    const row = rows[Math.floor((y - AX + view.scrollTop) / RH)];
    if (!row || !row.task) return null;
    const k = row.task, s = PW / (v1 - v0), t = v0 + (x - GUTTER) / s, tol = 4 / s;
    let best = -1, bestD = Infinity;
    for (let i = lower(EN, t - tol, k.o, k.o + k.n), m = 0; i < k.o + k.n && ST[i] <= t + tol && m < 64; i++, m++) {
      const d = t < ST[i] ? ST[i] - t : t > EN[i] ? t - EN[i] : 0;
      const score = d - (KINDS[KD[i]].wait ? 0 : tol); // steps first
      if (score < bestD) { bestD = score; best = i; }
    }
    return best >= 0 ? {k, i: best} : null;
  }
  function showTip() {
    const h = pinned || (mouse && hit(mouse.x, mouse.y));
    if (!h) { tip.style.display = 'none'; return; }
    const {k, i} = h, kind = KD[i], K1 = KINDS[kind];
    const lines = ['task ' + k.id + ' ' + str(k.name) +
      (k.parent ? '  (spawned by ' + k.parent + (k.at >= 0 ? ' at ' + S[k.at] : '') + ')' : '')];
    const span = 't=' + (ST[i] / 1e6).toFixed(6) + ' s for ' + dur(EN[i] - ST[i]);
    if (K1.wait && kind !== K.pending) {
      lines.push('waiting on ' + str(ON[i]) + ' (' + K1.label + ')', span);
      if (WH[i] >= 0) lines.push('at ' + S[WH[i]]);
    } else if (kind === K.pending) {
      lines.push('spawned, not started yet', span);
    } else {
      lines.push(kind === K.running ? 'step' : kind === K.done ? 'last step, done' :
        kind === K.fail ? 'last step, failed' : 'last step, cancelled', span);
      if (ON[i] >= 0) lines.push('then waited on ' + S[ON[i]]);
      if (WH[i] >= 0) lines.push('at ' + S[WH[i]]);
      if (kind === K.fail && k.error >= 0) lines.push('error: ' + S[k.error]);
      if (kind === K.cancelled && k.by >= 0) lines.push('cancelled by ' + S[k.by]);
    }
    tip.textContent = lines.join('\n');
    tip.style.display = 'block';
    const r = canvas.getBoundingClientRect();
    const px = r.left + (pinned ? GUTTER + ((ST[i] + EN[i]) / 2 - v0) * PW / (v1 - v0) : mouse.x);
    const py = r.top + (pinned ? AX + rows.findIndex(row => row.task === k) * RH - view.scrollTop : mouse.y);
    tip.style.left = Math.max(0, Math.min(px + 12, innerWidth - tip.offsetWidth - 4)) + 'px';
    tip.style.top = Math.max(0, Math.min(py + 16, innerHeight - tip.offsetHeight - 4)) + 'px';
  }

  // ---- the first view ------------------------------------------------------------------
  resize();
  if (!readHash()) { v0 = 0; v1 = full * 1.02; }
  layout();
  draw();
  const firstView = performance.now();
  // when the first view was drawn, since the page was opened, and the part of it this
  // script took (bench/html_trace.sh and tests/browser/check.sh report them)
  document.body.dataset.firstViewMs = firstView.toFixed(0);
  document.body.dataset.scriptMs = (firstView - scriptStart).toFixed(0);
  // #bench: zoom in and out and pan as a person would, each frame drawn at once; the
  // slowest and the mean frame go into data-frame-ms (bench/html_trace.sh reads them)
  if (/(?:^#|&)bench\b/.test(location.hash)) {
    const times = [];
    for (let f = 0; f < 40; f++) {
      if (f < 15) zoom(0.7, GUTTER + PW * 0.3); else if (f < 25) pan(PW * 0.2); else zoom(1.3, GUTTER + PW * 0.5);
      layout();
      times.push(draw());
    }
    document.body.dataset.frameMs = Math.max(...times).toFixed(1) + ' max, ' +
      (times.reduce((a, b) => a + b, 0) / times.length).toFixed(1) + ' mean';
  }
})();
