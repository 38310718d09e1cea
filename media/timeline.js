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
  document.getElementById('summary').textContent =
    `${data.blocks.length} blocks, ${data.overlaps.length} overlap(s), ${data.gaps.length} gap(s) · ${utc(data.from)} → ${utc(data.to)}`;

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
    const e = el('div', `range ${name.toLowerCase()}`, name);
    place(e, range.from, range.to);
    e.title = `${name}: ${utc(range.from)} → ${utc(range.to)}`;
    e.tabIndex = 0;
    e.setAttribute('aria-label', e.title);
    track.appendChild(e);
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
  for (const [cls, text] of [['block', 'block (by level)'], ['overlap', 'overlapping block / range'], ['gap', 'gap in coverage'], ['head', 'head chunks'], ['wal', 'WAL']]) {
    const li = el('li');
    li.appendChild(el('span', `swatch ${cls}`));
    li.appendChild(document.createTextNode(text));
    legend.appendChild(li);
  }
  document.body.dataset.ready = 'true';
})();
