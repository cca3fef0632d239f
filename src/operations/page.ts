/**
 * The operations page: one HTML document with its style and script inline, no external asset and
 * no build step, so that it works on an air-gapped server. It reads the state pushed over
 * `<pattern>/live` and renders it; it polls nothing.
 */
export function dashboardPage(pattern: string): string {
  const base = JSON.stringify(pattern);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Switchboard — operations</title>
<link rel="icon" href="data:,">
<style>
  :root { color-scheme: light dark; --muted: #888; --bad: #c0392b; --good: #2e8b57; font: 14px/1.4 system-ui, sans-serif; }
  body { margin: 0 auto; max-width: 1100px; padding: 1rem 1.5rem; }
  h1 { font-size: 1.3rem; margin: 0 0 .3rem; } h2 { font-size: 1.05rem; margin: 1.4rem 0 .4rem; }
  .live { font-size: .85rem; color: var(--muted); } .live.up::before { content: "● "; color: var(--good); }
  .live.down::before { content: "● "; color: var(--bad); }
  .totals { display: flex; gap: 1.5rem; flex-wrap: wrap; margin: .8rem 0; }
  .totals div { min-width: 7rem; } .totals b { display: block; font-size: 1.4rem; }
  table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: .25rem .5rem; border-bottom: 1px solid #8884; }
  th { font-weight: 600; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
  .down { color: var(--bad); } .muted { color: var(--muted); } code { font-size: .9em; }
  form { display: flex; gap: .5rem; align-items: center; }
  #chart { border: 1px solid #8884; } .ok-key { color: var(--good); } .bad-key { color: var(--bad); }
</style>
</head>
<body>
<h1>Switchboard operations</h1>
<div id="live" class="live down">connecting…</div>
<div class="totals" id="totals"></div>
<h2>Handshakes over time <span class="muted">(per second, all nodes: <span class="ok-key">accepted</span>, <span class="bad-key">refused</span>)</span></h2>
<svg id="chart" viewBox="0 0 600 120" preserveAspectRatio="none" width="100%" height="120" role="img" aria-label="handshakes per second"></svg>
<h2>Nodes</h2>
<table><thead><tr><th>node</th><th>host</th><th>pid</th><th>uptime</th><th>broker</th>
<th class="num">connections</th><th class="num">handshakes</th><th class="num">accepted</th><th>refused by status</th>
<th class="num">published</th><th class="num">slow consumers</th></tr></thead>
<tbody id="nodes"></tbody></table>
<h2>Routes</h2>
<table><thead><tr><th>route</th><th>kind</th><th>owner</th><th class="num">connections (all nodes)</th></tr></thead>
<tbody id="routes"></tbody></table>
<h2>Socket.IO namespaces</h2>
<table><thead><tr><th>server path</th><th>namespace</th><th class="num">sockets (all nodes)</th></tr></thead>
<tbody id="namespaces"></tbody></table>
<h2>Tenants</h2>
<table><thead><tr><th>tenant</th><th class="num">connections (all nodes)</th><th class="num">users online</th></tr></thead>
<tbody id="tenants"></tbody></table>
<h2>Who is in a room</h2>
<form id="presence"><label>Room <input name="room" required placeholder="tenant:acme, user:42, lobby"></label><button>Show</button><span id="present" class="muted"></span></form>
<table id="presence-table" hidden><thead><tr><th>user</th><th>tenant</th><th class="num">connections (all nodes)</th></tr></thead>
<tbody id="presence-members"></tbody></table>
<h2>Conflicts</h2>
<ul id="conflicts"></ul>
<h2>A user's connections</h2>
<form id="lookup"><label>User id <input name="userId" required></label><button>Find</button><span id="found" class="muted"></span></form>
<table id="user-table" hidden><thead><tr><th>connection</th><th>node</th><th>route</th><th>kind</th><th>tenant</th><th>address</th><th>open since</th><th></th></tr></thead>
<tbody id="user-connections"></tbody></table>
<div id="actions" hidden>
<h2>Actions</h2>
<form id="disconnect"><label>Disconnect user <input name="userId" required></label><button>Disconnect</button><span id="done" class="muted"></span></form>
</div>
<script>
(() => {
  const base = ${base};
  const $ = (id) => document.getElementById(id);
  const text = (value) => String(value).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
  const refused = (rejected) => Object.entries(rejected).map(([s, n]) => s + ': ' + n).join(', ') || '—';
  const uptime = (s) => s < 120 ? s + ' s' : s < 7200 ? Math.round(s / 60) + ' min' : Math.round(s / 3600) + ' h';
  // The last five minutes of the totals, as the pushes arrive: the rates between them are the chart.
  const samples = [];
  function chart(totals) {
    const now = Date.now();
    const refusedTotal = Object.values(totals.rejected).reduce((a, b) => a + b, 0);
    samples.push({ t: now, accepted: totals.accepted, refused: refusedTotal });
    while (samples.length > 2 && now - samples[0].t > 300000) samples.shift();
    const rates = [];
    for (let i = 1; i < samples.length; i++) {
      const dt = Math.max((samples[i].t - samples[i - 1].t) / 1000, 0.001);
      rates.push({ t: samples[i].t, accepted: Math.max(0, samples[i].accepted - samples[i - 1].accepted) / dt,
        refused: Math.max(0, samples[i].refused - samples[i - 1].refused) / dt });
    }
    const top = Math.max(1, ...rates.map((r) => Math.max(r.accepted, r.refused)));
    const x = (t) => (600 * (t - (now - 300000))) / 300000;
    const line = (key, colour) => '<polyline fill="none" stroke="' + colour + '" stroke-width="2" points="' +
      rates.map((r) => x(r.t).toFixed(1) + ',' + (115 - (110 * r[key]) / top).toFixed(1)).join(' ') + '"/>';
    $('chart').innerHTML = line('accepted', '#2e8b57') + line('refused', '#c0392b') +
      '<text x="4" y="12" font-size="10" fill="currentColor">' + top.toFixed(1) + '/s</text>';
  }
  function render(state) {
    const t = state.totals;
    chart(t);
    $('totals').innerHTML = [['nodes', t.nodes], ['connections', t.connections], ['handshakes', t.upgrades],
      ['accepted', t.accepted], ['refused', Object.values(t.rejected).reduce((a, b) => a + b, 0)]]
      .map(([k, v]) => '<div><b data-total="' + k + '">' + v + '</b>' + k + '</div>').join('');
    $('nodes').innerHTML = state.nodes.map((n) => '<tr data-node="' + text(n.id) + '"><td><code>' + text(n.id) + '</code></td><td>' +
      text(n.host) + '</td><td>' + n.pid + '</td><td>' + uptime(n.uptimeSeconds) + '</td><td class="' + (n.brokerUp ? '' : 'down') + '">' +
      (n.brokerUp ? 'up' : 'down') + '</td><td class="num" data-connections>' + n.stats.connections + '</td><td class="num">' + n.stats.upgrades +
      '</td><td class="num">' + n.stats.accepted + '</td><td>' + text(refused(n.stats.rejected)) + '</td><td class="num">' +
      n.activity.published + '</td><td class="num">' + (n.activity.slowConsumers.skipped + n.activity.slowConsumers.closed) + '</td></tr>').join('');
    const sum = (rows, key, count) => {
      const out = new Map();
      for (const row of rows) out.set(key(row), (out.get(key(row)) || 0) + count(row));
      return [...out];
    };
    const nsps = sum(state.nodes.flatMap((n) => n.activity.namespaces), (x) => JSON.stringify([x.path, x.namespace]), (x) => x.sockets);
    $('namespaces').innerHTML = nsps.length ? nsps.map(([k, v]) => { const [p, ns] = JSON.parse(k);
      return '<tr data-namespace="' + text(ns) + '"><td><code>' + text(p) + '</code></td><td><code>' + text(ns) + '</code></td><td class="num">' + v + '</td></tr>'; }).join('')
      : '<tr><td class="muted" colspan="3">none</td></tr>';
    const tenants = sum(state.nodes.flatMap((n) => Object.entries(n.activity.tenants)), (x) => x[0], (x) => x[1]);
    const online = (state.presence && state.presence.tenants) || {};
    $('tenants').innerHTML = tenants.length ? tenants.map(([t, v]) => '<tr data-tenant="' + text(t) + '"><td>' + text(t) + '</td><td class="num">' + v +
      '</td><td class="num" data-online>' + (t in online ? online[t] : '—') + '</td></tr>').join('')
      : '<tr><td class="muted" colspan="3">none</td></tr>';
    const routes = new Map();
    for (const n of state.nodes) for (const r of n.routes) {
      const key = r.pattern + ' ' + (r.host || '') + ' ' + (r.protocol || '');
      const seen = routes.get(key) || { ...r, connections: 0 };
      seen.connections += r.connections;
      routes.set(key, seen);
    }
    $('routes').innerHTML = [...routes.values()].map((r) => '<tr><td><code>' + text(r.pattern) + '</code>' +
      (r.host ? ' on ' + text(r.host) : '') + '</td><td>' + text(r.kind) + '</td><td class="muted">' + text(r.owner || '') +
      '</td><td class="num">' + r.connections + '</td></tr>').join('');
    $('conflicts').innerHTML = state.conflicts.length ? state.conflicts.map((c) => '<li><b>' + text(c.summary) + '</b>: ' + text(c.message) + '</li>').join('')
      : '<li class="muted">none</li>';
    $('actions').hidden = state.readonly;
    readonly = state.readonly;
  }
  let delay = 500;
  function connect() {
    const ws = new WebSocket(location.origin.replace(/^http/, 'ws') + base + '/live');
    ws.onopen = () => { delay = 500; $('live').className = 'live up'; $('live').textContent = 'live'; };
    ws.onmessage = (event) => render(JSON.parse(event.data));
    ws.onclose = () => {
      $('live').className = 'live down';
      $('live').textContent = 'reconnecting…';
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 10000);
    };
  }
  let readonly = true;
  let shownUser;
  const post = (body) => fetch(base + '/actions', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  async function showUser(userId) {
    shownUser = userId;
    const response = await fetch(base + '/users/' + encodeURIComponent(userId));
    if (!response.ok) { $('found').textContent = 'refused: ' + response.status; return; }
    const { connections } = await response.json();
    $('found').textContent = connections.length + ' connection' + (connections.length === 1 ? '' : 's') + ' of ' + userId;
    $('user-table').hidden = connections.length === 0;
    $('user-connections').innerHTML = connections.map((c) => '<tr data-connection="' + text(c.id) + '"><td><code>' + text(c.id) +
      '</code></td><td><code>' + text(c.node) + '</code></td><td><code>' + text(c.route) + '</code></td><td>' + text(c.kind) + '</td><td>' +
      text(c.tenantId || '') + '</td><td>' + text(c.address || '') + '</td><td>' + new Date(c.openedAt).toLocaleTimeString() + '</td><td>' +
      (readonly ? '' : '<button data-close="' + text(c.id) + '">Close</button>') + '</td></tr>').join('');
  }
  $('presence').onsubmit = async (event) => {
    event.preventDefault();
    const room = String(new FormData(event.target).get('room'));
    const response = await fetch(base + '/presence/' + encodeURIComponent(room));
    if (!response.ok) { $('present').textContent = 'refused: ' + response.status; return; }
    const found = await response.json();
    $('present').textContent = found.count + ' user' + (found.count === 1 ? '' : 's') + ' in ' + room;
    $('presence-table').hidden = found.members.length === 0;
    $('presence-members').innerHTML = found.members.map((m) => '<tr data-present="' + text(m.userId) + '"><td>' + text(m.userId) +
      '</td><td>' + text(m.tenantId || '') + '</td><td class="num">' + m.connections + '</td></tr>').join('');
  };
  $('lookup').onsubmit = (event) => {
    event.preventDefault();
    showUser(String(new FormData(event.target).get('userId')));
  };
  $('user-connections').onclick = async (event) => {
    const id = event.target.getAttribute && event.target.getAttribute('data-close');
    if (!id) return;
    const response = await post({ action: 'close-connection', connectionId: id });
    $('found').textContent = response.ok ? 'closed ' + id : 'refused: ' + response.status;
    setTimeout(() => showUser(shownUser), 500);
  };
  $('disconnect').onsubmit = async (event) => {
    event.preventDefault();
    const userId = new FormData(event.target).get('userId');
    const response = await post({ action: 'disconnect-user', userId });
    $('done').textContent = response.ok ? 'disconnected ' + userId : 'refused: ' + response.status;
  };
  connect();
})();
</script>
</body>
</html>
`;
}
