// Renders the timeline from the JSON the extension embeds (#timeline-data). No remote resources;
// positions are set through the CSSOM (allowed by the CSP, unlike style attributes).
(function () {
  'use strict';
  const vscode = acquireVsCodeApi();
  const data = JSON.parse(document.getElementById('timeline-data').textContent);
  const root = document.getElementById('timeline');
  const span = data.to - data.from;
  const pct = (t) => `${(((t - data.from) / span) * 100).toFixed(4)}%`;
  const width = (a, b) => `${Math.max(((b - a) / span) * 100, 0.15).toFixed(4)}%`;

  function utc(ms) {
    return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, '') + ' UTC';
  }

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function place(e, from, to) {
    e.style.left = pct(from);
    e.style.width = width(from, to);
  }

  document.getElementById('title').textContent = `Timeline of ${data.title}`;
  const files = data.files || { head: [], wal: [] };
  const missing = (marks) => marks.filter((m) => m.kind === 'missing').length;
  const damaged = (marks) => marks.filter((m) => m.kind === 'file' && m.severity === 'error').length;
  document.getElementById('summary').textContent =
    `${data.blocks.length} blocks, ${data.overlaps.length} overlap(s), ${data.gaps.length} gap(s) in time · ` +
    `head chunk files: ${files.head.filter((m) => m.kind === 'file').length}, ${missing(files.head)} missing, ${damaged(files.head)} with errors · ` +
    `WAL segments: ${files.wal.filter((m) => m.kind === 'file').length}, ${missing(files.wal)} missing, ${damaged(files.wal)} with errors · ` +
    `${utc(data.from)} → ${utc(data.to)}`;

  // Axis with about 6 ticks.
  const axis = el('div', 'axis');
  axis.setAttribute('aria-hidden', 'true');
  for (let i = 0; i <= 6; i++) {
    const t = data.from + (span * i) / 6;
    const tick = el('span', 'tick', new Date(t).toISOString().slice(5, 16).replace('T', ' '));
    tick.style.left = pct(t);
    axis.appendChild(tick);
  }

  function row(label, height) {
    const r = el('div', 'row');
    r.appendChild(el('div', 'row-label', label));
    const track = el('div', 'track');
    if (height) track.style.height = `${height}px`;
    r.appendChild(track);
    root.appendChild(r);
    return track;
  }

  const LANE = 26;
  const blocksTrack = row('Blocks', data.lanes * LANE + 4);
  for (const b of data.blocks) {
    const e = el('div', `block level-${Math.min(b.level, 4)}${b.overlap ? ' overlap' : ''}${b.severity ? ` sev-${b.severity}` : ''}`, b.ulid.slice(-6));
    place(e, b.from, b.to);
    e.style.top = `${b.lane * LANE + 2}px`;
    e.tabIndex = 0;
    e.setAttribute('role', 'button');
    e.dataset.ulid = b.ulid;
    if (b.overlap) e.dataset.overlap = 'true';
    e.setAttribute('aria-label', `Block ${b.label}${b.overlap ? ', overlaps another block' : ''}. Press Enter to reveal it in the Dump Files view.`);
    e.title = `${b.label}${b.overlap ? '\noverlaps another block' : ''}`;
    const reveal = () => vscode.postMessage({ type: 'reveal', ulid: b.ulid });
    e.addEventListener('click', reveal);
    e.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' || ev.key === ' ') {
        ev.preventDefault();
        reveal();
      }
    });
    blocksTrack.appendChild(e);
  }
  for (const o of data.overlaps) {
    const band = el('div', 'overlap-band');
    band.dataset.kind = 'overlap';
    band.dataset.blocks = o.blocks.join(' ');
    band.title = `Overlap ${utc(o.from)} → ${utc(o.to)} of ${o.blocks.join(' and ')}`;
    band.setAttribute('role', 'note');
    band.setAttribute('aria-label', band.title);
    place(band, o.from, o.to);
    blocksTrack.appendChild(band);
  }

  for (const [name, range] of [['Head', data.head], ['WAL', data.wal]]) {
    const track = row(name);
    if (!range) {
      track.appendChild(el('span', 'empty', 'none'));
      continue;
    }
    const marks = name === 'Head' ? files.head : files.wal;
    const bad = marks.some((m) => m.severity === 'error');
    const e = el('div', `range ${name.toLowerCase()}${bad ? ' sev-error' : ''}`, name);
    place(e, range.from, range.to);
    e.title = `${name}: ${utc(range.from)} → ${utc(range.to)}`;
    e.tabIndex = 0;
    e.setAttribute('aria-label', e.title);
    track.appendChild(e);
  }

  // Each head chunk file and WAL segment on its own, in number order, missing numbers included; a
  // mark with a diagnostic opens it (the analysis's `files`: which numbers are missing is its rule).
  for (const [name, marks] of [['Head files', files.head], ['WAL segments', files.wal]]) {
    const r = el('div', 'row');
    r.appendChild(el('div', 'row-label', name));
    const strip = el('div', 'strip');
    strip.setAttribute('role', 'list');
    strip.setAttribute('aria-label', name);
    for (const m of marks) {
      const label = m.path.split('/').pop();
      const e = el('div', `file-mark ${m.kind}${m.severity ? ` sev-${m.severity}` : ''}`, label);
      e.setAttribute('role', 'listitem');
      e.dataset.path = m.path;
      e.dataset.kind = m.kind;
      if (m.severity) e.dataset.severity = m.severity;
      const range = m.minTime !== undefined && m.maxTime !== undefined ? ` · ${utc(m.minTime)} → ${utc(m.maxTime)}` : '';
      const what = m.kind === 'missing' ? `${m.path} is missing` : `${m.path}${range}`;
      e.title = `${what}${m.code ? ` · ${m.code} (${m.severity})` : ''}`;
      e.tabIndex = 0;
      if (m.diagnosticPath) {
        e.setAttribute('aria-label', `${e.title}. Press Enter to open the diagnostic.`);
        const open = () => vscode.postMessage({ type: 'diagnostic', path: m.diagnosticPath });
        e.addEventListener('click', open);
        e.addEventListener('keydown', (ev) => {
          if (ev.key === 'Enter' || ev.key === ' ') {
            ev.preventDefault();
            open();
          }
        });
      } else e.setAttribute('aria-label', e.title);
      strip.appendChild(e);
    }
    if (!marks.length) strip.appendChild(el('span', 'empty', 'none'));
    r.appendChild(strip);
    root.appendChild(r);
  }

  const gapsTrack = row('Gaps');
  for (const g of data.gaps) {
    const e = el('div', 'gap');
    e.dataset.kind = 'gap';
    place(e, g.from, g.to);
    e.title = `No data ${utc(g.from)} → ${utc(g.to)}`;
    e.tabIndex = 0;
    e.setAttribute('aria-label', e.title);
    gapsTrack.appendChild(e);
  }
  if (!data.gaps.length) gapsTrack.appendChild(el('span', 'empty', 'none'));
  root.appendChild(axis);

  const legend = document.getElementById('legend');
  for (const [cls, text] of [['block', 'block (by level)'], ['overlap', 'overlapping block / range'], ['gap', 'gap in coverage'], ['head', 'head chunks'], ['wal', 'WAL'], ['file-mark missing', 'missing file number'], ['file-mark sev-error', 'file with an error']]) {
    const li = el('li');
    li.appendChild(el('span', `swatch ${cls}`));
    li.appendChild(document.createTextNode(text));
    legend.appendChild(li);
  }
  document.body.dataset.ready = 'true';
})();
