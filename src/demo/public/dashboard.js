// The dashboard page: live state over the /dashboard Socket.IO namespace, and test clients the
// visitor opens from here to every service of the demo. Plain browser JavaScript, no build step.
// Where the demo runs without socket.io, the state is read from /api/state and the services that
// need a package it lacks are shown as skipped, with the command that adds them.
/* global io */

const $ = (id) => document.getElementById(id);
const wsBase = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}`;
const identity = () => ({ user: $('user').value.trim() || 'guest', tenant: $('tenant').value.trim() || 'public' });
const query = () => new URLSearchParams(identity()).toString();

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === 'class') node.className = value;
    else if (name.startsWith('data-')) node.setAttribute(name, value);
    else node[name] = value;
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

function clock(iso) {
  return new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

// What arrived where: every message a test client receives, tagged with its service.
function arrived(service, text) {
  const list = $('arrivals');
  list.querySelector('.empty')?.remove();
  list.prepend(
    el(
      'li',
      { 'data-service': service },
      el('span', { class: 'time' }, clock(new Date().toISOString())),
      el('span', { class: 'tag' }, service),
      el('span', {}, text),
    ),
  );
  while (list.children.length > 60) list.lastChild.remove();
}

/** A message in a line: its text when it has one (chat, notifications, WhatsApp), else its JSON. */
function describe(payload) {
  if (payload && typeof payload === 'object') {
    if (typeof payload.text === 'string') return payload.from ? `${payload.from}: ${payload.text}` : payload.text;
    return JSON.stringify(payload);
  }
  return String(payload);
}

// ---- test clients, one per service -------------------------------------------------------

function plainWebSocket(path, protocol) {
  return {
    open(onMessage, onState) {
      const ws = new WebSocket(`${wsBase}${path}${path.includes('?') ? '&' : '?'}${query()}`, protocol);
      ws.onopen = () => onState('open');
      ws.onclose = (event) => onState('closed', event.code);
      ws.onmessage = (event) => {
        let message = event.data;
        try {
          const parsed = JSON.parse(event.data);
          if (parsed && typeof parsed.event === 'string') message = `${parsed.event}: ${describe(parsed.data)}`;
        } catch {
          // not JSON: shown as it came
        }
        onMessage(message);
      };
      return { send: (data) => ws.readyState === 1 && ws.send(data), close: () => ws.close(1000) };
    },
  };
}

function socketIO(namespace, options = {}) {
  return {
    open(onMessage, onState) {
      const socket = io(namespace, { forceNew: true, reconnection: false, query: identity(), ...options });
      socket.on('connect', () => onState('open'));
      socket.on('disconnect', () => onState('closed'));
      socket.on('connect_error', (error) => onState('closed', error.message));
      socket.onAny((event, payload) => onMessage(`${event}: ${describe(payload)}`));
      return { send: (event, payload) => socket.emit(event, payload), close: () => socket.close() };
    },
  };
}

// graphql-ws spoken directly (graphql-transport-ws): init, then one subscription.
function graphqlSubscription() {
  return {
    open(onMessage, onState) {
      const ws = new WebSocket(`${wsBase}/graphql`, 'graphql-transport-ws');
      ws.onopen = () => ws.send(JSON.stringify({ type: 'connection_init' }));
      ws.onclose = (event) => onState('closed', event.code);
      ws.onmessage = (event) => {
        const message = JSON.parse(event.data);
        if (message.type === 'connection_ack') {
          onState('open');
          ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: 'subscription { chat { from text } }' } }));
        } else if (message.type === 'next') {
          const chat = message.payload.data?.chat;
          onMessage(chat ? `chat: ${chat.from}: ${chat.text}` : JSON.stringify(message.payload.data));
        }
      };
      return { send() {}, close: () => ws.close(1000) };
    },
  };
}

const services = [
  { id: 'chat', name: 'Chat', path: '/chat', needs: [], client: plainWebSocket('/chat') },
  {
    id: 'notifications',
    name: 'Notifications',
    path: '/notifications/ws',
    needs: [],
    client: plainWebSocket('/notifications/ws'),
  },
  { id: 'shop', name: 'Storefront', path: '/socket.io  namespace /', needs: ['socket.io'], client: socketIO('/') },
  { id: 'admin', name: 'Admin', path: '/socket.io  namespace /admin', needs: ['socket.io'], client: socketIO('/admin') },
  { id: 'seller', name: 'Seller', path: '/socket.io  namespace /seller', needs: ['socket.io'], client: socketIO('/seller') },
  {
    id: 'whatsapp',
    name: 'WhatsApp bridge',
    path: '/whatsapp/socket.io',
    needs: ['socket.io'],
    client: socketIO('/', { path: '/whatsapp/socket.io' }),
  },
  {
    id: 'graphql',
    name: 'GraphQL subscription',
    path: '/graphql  graphql-transport-ws',
    needs: ['graphql', 'graphql-ws'],
    client: graphqlSubscription(),
  },
];

const open = new Map();

/** The services with their buttons; those needing a package in `missing` are shown as skipped. */
function renderServices(missing) {
  const list = $('services');
  for (const service of services) {
    const lacking = service.needs.filter((name) => missing.includes(name));
    const dot = el('span', { class: lacking.length ? 'dot skipped' : 'dot', 'data-status': service.id });
    const button = el(
      'button',
      { class: 'secondary', type: 'button', 'data-action': `toggle-${service.id}`, disabled: lacking.length > 0 },
      lacking.length ? 'Skipped' : 'Connect',
    );
    button.addEventListener('click', () => toggle(service, dot, button));
    const path = el('span', { class: 'path mono' }, service.path);
    const detail = lacking.length ? el('span', { class: 'path' }, `needs ${lacking.join(', ')}`) : path;
    list.append(
      el('li', { 'data-service': service.id }, dot, el('div', {}, el('span', { class: 'name' }, service.name), detail), button),
    );
  }
  const all = el('button', { type: 'button', 'data-action': 'connect-all' }, 'Connect all');
  all.addEventListener('click', () => {
    for (const button of list.querySelectorAll('button[data-action^="toggle-"]'))
      if (button.textContent === 'Connect') button.click();
  });
  list.append(
    el(
      'li',
      { class: 'all' },
      el('span'),
      el('span', { class: 'hint' }, 'One HTTP server, one port, all of these at once.'),
      all,
    ),
  );
}

function toggle(service, dot, button) {
  const current = open.get(service.id);
  if (current) {
    current.close();
    return;
  }
  dot.className = 'dot connecting';
  dot.dataset.state = 'connecting';
  button.textContent = 'Disconnect';
  const connection = service.client.open(
    (message) => arrived(service.id, message),
    (state, detail) => {
      dot.className = `dot ${state}`;
      dot.dataset.state = state;
      if (state === 'closed') {
        open.delete(service.id);
        button.textContent = 'Connect';
        if (detail !== undefined && detail !== 1000 && detail !== 1005) arrived(service.id, `closed (${detail})`);
      }
    },
  );
  open.set(service.id, connection);
}

$('chat-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const text = $('chat-text').value.trim();
  const chat = open.get('chat');
  if (!text) return;
  if (!chat) {
    arrived('chat', 'connect the chat service first');
    return;
  }
  chat.send(text);
  $('chat-text').value = '';
});

// ---- the dashboard's own connection --------------------------------------------------------

function live(text, state) {
  $('live-dot').className = `dot ${state}`;
  $('live-text').textContent = text;
}

/** Over the /dashboard namespace: state pushed as it changes, actions as events. */
function socketBoard() {
  const board = io('/dashboard', { query: { user: 'dashboard', tenant: 'operations' } });
  board.on('connect', () => live('live', 'open'));
  board.on('disconnect', () => live('reconnecting…', 'connecting'));
  board.on('state', render);
  return {
    notify: (request) => board.emitWithAck('notify', request),
    whatsapp: (request) => board.emit('whatsapp', request),
  };
}

/** Without socket.io: the same state read from /api/state once a second, actions posted. */
function pollingBoard() {
  const poll = async () => {
    try {
      render(await (await fetch('/api/state')).json());
      live('live (polling)', 'open');
    } catch {
      live('reconnecting…', 'connecting');
    }
  };
  setInterval(poll, 1_000);
  return {
    notify: async (request) =>
      (
        await fetch('/api/notify', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(request),
        })
      ).json(),
    whatsapp() {},
  };
}

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const script = el('script', { src });
    script.onload = resolve;
    script.onerror = () => reject(new Error(`cannot load ${src}`));
    document.head.append(script);
  });
}

function renderSkipped(state) {
  const notice = $('skipped');
  if (!state.skipped.length) return;
  notice.hidden = false;
  notice.replaceChildren(
    el('strong', {}, 'Skipped: '),
    state.skipped.map((each) => `${each.service} (${each.packages.join(', ')} not installed)`).join('; '),
    el('br'),
    'To add them: ',
    el('code', {}, state.install),
  );
  if (state.missing.includes('socket.io')) $('whatsapp-form').hidden = true;
}

async function start() {
  const state = await (await fetch('/api/state')).json();
  renderServices(state.missing);
  renderSkipped(state);
  render(state);
  let board;
  if (state.missing.includes('socket.io')) board = pollingBoard();
  else {
    await loadScript('/socket.io/socket.io.js');
    board = socketBoard();
  }

  $('notify-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const target = $('notify-target').value.trim();
    const request = { text: $('notify-text').value, [$('notify-kind').value === 'user' ? 'userId' : 'tenantId']: target };
    const reached = await board.notify(request);
    const sockets = state.missing.includes('socket.io') ? '' : ', and every Socket.IO socket in the room';
    $('notify-result').textContent = `Sent through hub.toUser / toTenant: ${reached.ws} ws connection(s)${sockets}.`;
  });

  $('whatsapp-form').addEventListener('submit', (event) => {
    event.preventDefault();
    board.whatsapp({ tenantId: $('whatsapp-tenant').value.trim() || 'acme', text: 'Hello from a customer on WhatsApp' });
  });
}

const previous = new Map();

function render(state) {
  $('total-connections').textContent = state.stats.connections;
  $('total-accepted').textContent = state.stats.accepted;
  $('total-rejected').textContent = Object.values(state.stats.rejected).reduce((sum, n) => sum + n, 0);

  const rows = state.routes.map((route) => {
    const key = `${route.pattern} ${route.protocol ?? ''}`;
    const changed = previous.has(key) && previous.get(key) !== route.connections;
    previous.set(key, route.connections);
    return el(
      'tr',
      { class: changed ? 'flash' : '', 'data-pattern': route.pattern },
      el('td', { class: 'mono' }, route.pattern + (route.protocol ? `  (${route.protocol})` : '')),
      el('td', {}, el('span', { class: `kind ${route.kind.replace('.', '-')}` }, route.kind)),
      el('td', { class: 'owner mono' }, route.owner ?? '—'),
      el('td', { class: 'num', 'data-connections': route.pattern }, route.connections),
    );
  });
  $('routes').replaceChildren(...rows);

  $('namespaces').replaceChildren(
    ...state.namespaces.map((nsp) =>
      el(
        'li',
        { 'data-namespace': `${nsp.server} ${nsp.name}` },
        `${nsp.server === '/socket.io' ? '' : `${nsp.server} `}${nsp.name}`,
        el('b', {}, nsp.sockets),
      ),
    ),
  );
  const tenants = Object.entries(state.tenants);
  $('tenants').replaceChildren(
    ...(tenants.length
      ? tenants.map(([tenant, count]) => el('li', { 'data-tenant': tenant }, tenant, el('b', {}, count)))
      : [el('li', { class: 'muted' }, 'nobody yet')]),
  );
  const online = [
    ...state.online.services.map(({ service, users }) => ({ key: `service ${service}`, label: service, users })),
    ...state.online.tenants.map(({ tenant, users }) => ({ key: `tenant ${tenant}`, label: `tenant ${tenant}`, users })),
  ];
  $('online').replaceChildren(
    ...(online.length
      ? online.map(({ key, label, users }) =>
          el('li', { 'data-online': key }, el('span', { class: 'mono' }, label), ` ${users.join(', ')}`),
        )
      : [el('li', { class: 'muted' }, 'nobody yet')]),
  );
  const rejected = Object.entries(state.stats.rejected);
  $('rejected').replaceChildren(
    ...(rejected.length
      ? rejected.map(([status, count]) => el('li', { class: 'bad' }, status, el('b', {}, count)))
      : [el('li', { class: 'muted' }, 'none yet')]),
  );

  const conflicts = state.doctor.findings.filter((finding) => finding.severity === 'conflict');
  const verdict = $('doctor-verdict');
  verdict.className = `doctor-verdict ${conflicts.length ? 'bad' : 'ok'}`;
  verdict.textContent = conflicts.length
    ? `${conflicts.length} conflict(s)`
    : `No conflicts: ${state.doctor.routes.length} routes, each path owned by exactly one service.`;
  $('findings').replaceChildren(
    ...state.doctor.findings.map((finding) => el('li', {}, `${finding.severity}: ${finding.message}`)),
  );

  $('feed').replaceChildren(
    ...state.feed.map((entry) =>
      el(
        'li',
        {},
        el('span', { class: 'time' }, clock(entry.at)),
        el('span', { class: `tag ${entry.kind}` }, entry.kind),
        el('span', {}, entry.text),
      ),
    ),
  );
}

start();
