// The overlay map: polls /api/map and draws each overlay this node is on.
// Every string from the network goes into the page with textContent or
// setAttribute only (never innerHTML), so a JID such as
// "<img src=x onerror=...>" shows as text and runs nothing; the page's
// Content-Security-Policy allows no inline script either.
'use strict';

const SVGNS = 'http://www.w3.org/2000/svg';
const POLL_MS = 2000;

function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
  if (text !== undefined) e.textContent = text;
  return e;
}

function sv(tag, attrs, text) {
  const e = document.createElementNS(SVGNS, tag);
  for (const k in attrs || {}) e.setAttribute(k, String(attrs[k]));
  if (text !== undefined) e.textContent = text;
  return e;
}

function rate(bytes) {
  const bits = bytes * 8;
  if (bits >= 1e6) return (bits / 1e6).toFixed(1) + ' Mbit/s';
  if (bits >= 1e3) return (bits / 1e3).toFixed(1) + ' kbit/s';
  return bits.toFixed(0) + ' bit/s';
}

// Bytes per second (tx + rx) over the link's last stats interval, or null.
function throughput(node) {
  return node.link && node.link.state === 'up' ? node.link.bytes_per_s : null;
}

function linkClass(node) {
  if (!node.link) return 'nolink';
  if (node.link.state !== 'up') return 'down';
  return ['host', 'srflx', 'prflx', 'relay'].includes(node.link.pair_type) ?
    node.link.pair_type : 'down';
}

function label(node) {
  return node.name || node.jid || node.id.slice(0, 8);
}

function drawOverlay(data, ov) {
  const sec = el('section', { 'class': 'overlay', 'data-overlay': ov.id });
  const title = ov.kind === 'room' ? 'group ' + ov.group : ov.kind + ' overlay';
  sec.appendChild(el('h2', {}, title + ' ' + ov.id + ' (' + ov.subnet + ', ' + ov.tap +
                     (ov.ready ? '' : ', not created yet') + ')'));
  const n = ov.nodes.length, W = 720, H = 480, cx = W / 2, cy = H / 2;
  const R = Math.min(W, H) / 2 - 70;
  const svg = sv('svg', { 'class': 'map', width: W, height: H, viewBox: '0 0 ' + W + ' ' + H,
                          role: 'img' });
  const pos = ov.nodes.map((node, i) => {
    const a = 2 * Math.PI * i / Math.max(n, 1) - Math.PI / 2;
    return [cx + R * Math.cos(a), cy + R * Math.sin(a)];
  });
  ov.nodes.forEach((node, i) => {
    const cls = linkClass(node);
    svg.appendChild(sv('line', { x1: cx, y1: cy, x2: pos[i][0], y2: pos[i][1], 'class': cls,
                                 'data-peer': node.id }));
    if (node.link) {
      const bps = throughput(node);
      const t = node.link.state === 'up' ?
        node.link.pair_type + ' ' + node.link.rtt_ms.toFixed(1) + ' ms' +
          (bps === null ? '' : ' ' + rate(bps)) :
        node.link.state;
      svg.appendChild(sv('text', { x: (cx + pos[i][0]) / 2 + 6, y: (cy + pos[i][1]) / 2 - 6,
                                   'class': 'linklabel' }, t));
    }
  });
  svg.appendChild(sv('circle', { cx: cx, cy: cy, r: 14, 'class': 'self' }));
  svg.appendChild(sv('text', { x: cx + 18, y: cy - 4, 'class': 'label' },
                     (data.self.jid || data.self.id.slice(0, 8)) + ' (this node)'));
  svg.appendChild(sv('text', { x: cx + 18, y: cy + 12, 'class': 'addr' }, ov.address));
  ov.nodes.forEach((node, i) => {
    const [x, y] = pos[i];
    svg.appendChild(sv('circle', { cx: x, cy: y, r: 11,
                                   'class': 'peer' + (node.online ? '' : ' offline') }));
    const right = x >= cx;
    const anchor = right ? 'start' : 'end', dx = right ? 15 : -15;
    svg.appendChild(sv('text', { x: x + dx, y: y - 3, 'text-anchor': anchor, 'class': 'label' },
                       label(node)));
    svg.appendChild(sv('text', { x: x + dx, y: y + 12, 'text-anchor': anchor, 'class': 'addr' },
                       (node.address || '') + (node.online ? '' : ' offline')));
  });
  sec.appendChild(svg);

  const table = el('table', { 'class': 'nodes' });
  const head = el('tr');
  for (const h of ['node', 'JID', 'address', 'online', 'link', 'pair', 'RTT', 'throughput',
                   'far end'])
    head.appendChild(el('th', {}, h));
  table.appendChild(head);
  ov.nodes.forEach(node => {
    const l = node.link;
    const tr = el('tr', { 'class': 'node', 'data-node-id': node.id,
                          'data-link-state': l ? l.state : 'none',
                          'data-pair-type': l ? l.pair_type : 'none' });
    const bps = throughput(node);
    const cells = [node.name || node.id.slice(0, 8), node.full_jid || node.jid,
                   node.address || '', node.online ? 'yes' : 'no', l ? l.state : 'none',
                   l ? l.pair_type : '', l && l.state === 'up' ? l.rtt_ms.toFixed(1) + ' ms' : '',
                   bps === null ? '' : rate(bps), l ? l.remote_addr : ''];
    cells.forEach((c, k) => tr.appendChild(el('td', k === 4 && l ? { 'class': l.state } : {},
                                              c)));
    table.appendChild(tr);
  });
  sec.appendChild(table);
  return sec;
}

function draw(data) {
  document.getElementById('self').textContent =
    'node ' + data.self.id + (data.self.jid ? ' — ' + data.self.jid : '') +
    ' — XMPP ' + data.self.xmpp + ' — ipop ' + data.self.version;
  const main = document.getElementById('overlays');
  const secs = data.overlays.map(ov => drawOverlay(data, ov));
  main.replaceChildren(...secs);
  if (!data.overlays.length)
    main.appendChild(el('p', {}, 'No overlay yet.'));
}

async function poll() {
  const status = document.getElementById('status');
  try {
    const r = await fetch('/api/map', { cache: 'no-store' });
    if (!r.ok) throw new Error('HTTP ' + r.status);
    draw(await r.json());
    status.textContent = '';
    document.body.setAttribute('data-loaded', 'true');
  } catch (e) {
    status.textContent = 'cannot reach the node: ' + e.message + ' (retrying)';
  }
  setTimeout(poll, POLL_MS);
}

poll();
