// Ledgerline console: a single-page client of the JSON API under /v1.
// Everything it shows comes from the API with the operator token the user
// typed in (kept in sessionStorage, sent as a Bearer token). The API decides
// what a role may read; the console only hides what the role may not use.
// Data is always inserted as text (never as HTML), so nothing the API
// returns can run as code here.
'use strict';

(() => {
  const TOKEN_KEY = 'ledgerline.token';
  const DAY = 86400e3;
  const AMBER_DAYS = 7;
  const state = { me: null };

  // ---------- what each role may use (mirrors the API's role table) ----------
  const CAN = {
    queue: ['admin', 'compliance', 'auditor'], // GET /v1/privacy/requests
    act: ['admin', 'compliance'], // erasure, holds, acknowledge, record requests
    accounts: ['admin', 'compliance', 'auditor'], // GET /v1/accounts
    audit: ['admin', 'compliance', 'auditor'], // /v1/audit/*
    usage: ['admin', 'compliance', 'auditor', 'customer'], // usage, transactions, consents
    balance: ['admin', 'compliance', 'auditor', 'gateway', 'customer'],
    export: ['admin', 'compliance', 'customer'],
    personal: ['admin', 'compliance'], // staff reads with a reason
  };
  const can = (what) => !!state.me && CAN[what].includes(state.me.role);
  const staff = () => can('personal');

  // ---------- DOM helpers ----------
  function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    setAttrs(el, attrs);
    append(el, kids);
    return el;
  }
  const SVGNS = 'http://www.w3.org/2000/svg';
  function s(tag, attrs, ...kids) {
    const el = document.createElementNS(SVGNS, tag);
    setAttrs(el, attrs);
    append(el, kids);
    return el;
  }
  function setAttrs(el, attrs) {
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k.startsWith('data-') && typeof v === 'boolean') { el.setAttribute(k, String(v)); continue; }
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (k === 'text') el.textContent = v;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  function append(el, kids) {
    for (const k of kids.flat(Infinity)) {
      if (k === undefined || k === null || k === false) continue;
      el.append(k instanceof Node ? k : document.createTextNode(String(k)));
    }
  }
  const $main = () => document.getElementById('main');
  function render(...kids) {
    const m = $main();
    m.replaceChildren();
    append(m, kids);
  }
  function flash(msg, isError) {
    const f = document.getElementById('flash');
    f.textContent = msg;
    f.className = 'flash' + (isError ? ' error' : '');
    f.hidden = !msg;
    clearTimeout(flash.t);
    if (msg && !isError) flash.t = setTimeout(() => { f.hidden = true; }, 6000);
  }

  // ---------- API ----------
  class APIError extends Error {
    constructor(status, problem) {
      const fields = (problem.errors || []).map((e) => `${e.field}: ${e.message}`).join('; ');
      super([problem.title || `HTTP ${status}`, problem.detail, fields].filter(Boolean).join(' — '));
      this.status = status;
      this.problem = problem;
    }
    field(name) { return (this.problem.errors || []).some((e) => e.field === name); }
  }
  async function request(method, path, { body, text, token } = {}) {
    const headers = { Accept: text ? '*/*' : 'application/json' };
    const tok = token || sessionStorage.getItem(TOKEN_KEY);
    if (tok) headers.Authorization = 'Bearer ' + tok;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
    const raw = await res.text();
    if (!res.ok) {
      let problem = {};
      try { problem = JSON.parse(raw); } catch (_) { /* not problem+json */ }
      if (res.status === 401 && !token) { logout('Your token is no longer valid: sign in again.'); }
      throw new APIError(res.status, problem);
    }
    if (text) return raw;
    return raw ? JSON.parse(raw) : {};
  }
  const get = (path, opts) => request('GET', path, opts);
  const post = (path, body) => request('POST', path, { body });
  const q = (params) => {
    const u = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') u.set(k, v);
    const str = u.toString();
    return str ? '?' + str : '';
  };
  // pages follows a paged listing (items + next cursor) up to max pages.
  async function pages(path, params, key, cursorName, max = 20) {
    const out = [];
    let cursor;
    for (let i = 0; i < max; i++) {
      const p = await get(path + q({ ...params, [cursorName]: cursor }));
      out.push(...(p[key] || []));
      if (!p.next) break;
      cursor = p.next;
    }
    return out;
  }

  // ---------- formatting ----------
  const pad = (n) => String(n).padStart(2, '0');
  function fmtTime(iso) {
    if (!iso) return '—';
    const d = new Date(iso);
    return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())} UTC`;
  }
  const isoDay = (d) => d.toISOString().slice(0, 10);
  const fmtDay = (iso) => (iso ? isoDay(new Date(iso)) : '—');
  function fmtMoney(micros, currency) {
    const v = (micros || 0) / 1e6;
    const small = Math.abs(v) > 0 && Math.abs(v) < 1;
    return new Intl.NumberFormat('en-US', { style: 'currency', currency: currency || 'USD', minimumFractionDigits: 2, maximumFractionDigits: small ? 4 : 2 }).format(v);
  }
  const fmtInt = (n) => new Intl.NumberFormat('en-US').format(n || 0);
  // UUIDv7 ids made close together share their first digits (a timestamp):
  // show both ends.
  const short = (id) => (id ? String(id).slice(0, 4) + '…' + String(id).slice(-6) : '—');
  function relDays(due, now) {
    const days = Math.round((new Date(due) - now) / DAY);
    if (days === 0) return 'due today';
    return days > 0 ? `in ${days} day${days === 1 ? '' : 's'}` : `${-days} day${days === -1 ? '' : 's'} overdue`;
  }

  // ---------- deadlines: the traffic light ----------
  const isOpen = (r) => r.status !== 'completed' && r.status !== 'rejected';
  // nextDeadline is the earlier of the answer deadline and, while the request
  // is not acknowledged, the acknowledgement deadline.
  function nextDeadline(r) {
    let at = new Date(r.due_at);
    let what = 'answer';
    if (r.ack_due_at && !r.acknowledged_at && new Date(r.ack_due_at) < at) {
      at = new Date(r.ack_due_at);
      what = 'acknowledgement';
    }
    return { at, what };
  }
  // light: grey when closed, red when a deadline passed (or the API says
  // overdue), amber within 7 days, green otherwise.
  function light(r, now = new Date()) {
    if (!isOpen(r)) return 'grey';
    const d = nextDeadline(r);
    if (r.overdue || d.at < now) return 'red';
    if (d.at - now <= AMBER_DAYS * DAY) return 'amber';
    return 'green';
  }
  const LIGHT_TEXT = { red: 'overdue', amber: 'due within 7 days', green: 'on track', grey: 'closed' };
  const lightEl = (r) => {
    const l = light(r);
    return h('span', { class: 'light ' + l, title: LIGHT_TEXT[l], 'data-light': l });
  };
  function statusBadge(st) {
    const cls = { completed: 'green', rejected: '', deferred: 'amber', received: 'blue', acknowledged: 'blue', extended: 'amber' }[st] || '';
    return h('span', { class: 'badge ' + cls }, st);
  }

  // ---------- charts (inline SVG) ----------
  function niceMax(max, ticks) {
    if (!(max > 0)) return { top: 1, step: 1 / ticks };
    const raw = max / ticks;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((st) => st >= raw);
    return { top: step * Math.ceil(max / step), step };
  }
  function emptyChart(msg) { return h('div', { class: 'empty' }, msg || 'No data in this range.'); }
  // barChart draws vertical bars: items [{label, value, title}].
  function barChart(items, { fmt = fmtInt, height = 230, label = '' } = {}) {
    if (!items.length) return emptyChart();
    const W = 760, H = height, L = 64, R = 12, T = 14, B = 38;
    const { top, step } = niceMax(Math.max(...items.map((i) => i.value)), 4);
    const y = (v) => T + (H - T - B) * (1 - v / top);
    const bw = (W - L - R) / items.length;
    const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': label });
    for (let v = 0; v <= top + step / 2; v += step) {
      svg.append(s('line', { class: 'grid', x1: L, x2: W - R, y1: y(v), y2: y(v) }));
      svg.append(s('text', { x: L - 6, y: y(v) + 4, 'text-anchor': 'end' }, fmt(v)));
    }
    const every = Math.ceil(items.length / 12);
    items.forEach((it, i) => {
      const x = L + i * bw;
      const bh = Math.max(0, y(0) - y(it.value));
      svg.append(s('rect', { class: 'bar', x: x + bw * 0.15, width: Math.max(1, bw * 0.7), y: y(0) - bh, height: bh, 'data-label': it.label, 'data-value': it.value },
        s('title', {}, `${it.title || it.label}: ${fmt(it.value)}`)));
      if (i % every === 0) svg.append(s('text', { x: x + bw / 2, y: H - B + 16, 'text-anchor': 'middle' }, it.label));
    });
    svg.append(s('line', { class: 'axis', x1: L, x2: W - R, y1: y(0), y2: y(0) }));
    return h('div', { class: 'chart', 'data-chart': label }, svg);
  }
  // hbarChart draws horizontal bars, largest first.
  function hbarChart(items, { fmt = fmtInt, label = '', width = 420 } = {}) {
    if (!items.length) return emptyChart();
    items = [...items].sort((a, b) => b.value - a.value);
    const W = width, rowH = 30, L = 120, R = 74, T = 6;
    const H = T * 2 + rowH * items.length;
    const max = Math.max(...items.map((i) => i.value)) || 1;
    const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': label });
    items.forEach((it, i) => {
      const yy = T + i * rowH;
      const w = (W - L - R) * (it.value / max);
      svg.append(s('text', { x: L - 8, y: yy + rowH / 2 + 4, 'text-anchor': 'end' }, it.label));
      svg.append(s('rect', { class: i === 0 ? 'bar' : 'bar bar2', x: L, y: yy + 5, width: Math.max(1, w), height: rowH - 10, rx: 3, 'data-label': it.label, 'data-value': it.value },
        s('title', {}, `${it.label}: ${fmt(it.value)}`)));
      svg.append(s('text', { x: L + w + 6, y: yy + rowH / 2 + 4 }, fmt(it.value)));
    });
    return h('div', { class: 'chart', 'data-chart': label }, svg);
  }
  // stepChart draws a running total over time: points [{at: Date, value}].
  function stepChart(points, { fmt = fmtInt, height = 240, label = '' } = {}) {
    if (!points.length) return emptyChart();
    const W = 760, H = height, L = 78, R = 14, T = 14, B = 34;
    const vals = points.map((p) => p.value);
    const lo = Math.min(0, ...vals), hi = Math.max(0, ...vals);
    const { top, step } = niceMax(hi - lo || 1, 4);
    const base = lo < 0 ? -niceMax(-lo, 2).top : 0;
    const span = Math.max(top, hi - base);
    const t0 = points[0].at.getTime(), t1 = Math.max(points[points.length - 1].at.getTime(), t0 + DAY);
    const x = (t) => L + (W - L - R) * ((t - t0) / (t1 - t0));
    const y = (v) => T + (H - T - B) * (1 - (v - base) / span);
    const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': label });
    for (let v = base; v <= base + span + step / 2; v += step) {
      svg.append(s('line', { class: 'grid', x1: L, x2: W - R, y1: y(v), y2: y(v) }));
      svg.append(s('text', { x: L - 6, y: y(v) + 4, 'text-anchor': 'end' }, fmt(v)));
    }
    let d = `M${x(points[0].at)},${y(points[0].value)}`;
    for (let i = 1; i < points.length; i++) d += `H${x(points[i].at)}V${y(points[i].value)}`;
    const area = d + `V${y(Math.max(base, 0))}H${x(points[0].at)}Z`;
    svg.append(s('path', { class: 'area', d: area }));
    svg.append(s('path', { class: 'line', d }));
    if (base < 0) svg.append(s('line', { class: 'zero', x1: L, x2: W - R, y1: y(0), y2: y(0) }));
    points.forEach((p) => svg.append(s('circle', { class: 'pt', cx: x(p.at), cy: y(p.value), r: 3 },
      s('title', {}, `${fmtTime(p.at.toISOString())}: ${fmt(p.value)}${p.note ? ' (' + p.note + ')' : ''}`))));
    const days = (t1 - t0) / DAY;
    const ticks = Math.min(6, Math.max(1, Math.round(days)));
    for (let i = 0; i <= ticks; i++) {
      const t = t0 + ((t1 - t0) * i) / ticks;
      svg.append(s('text', { x: x(t), y: H - 12, 'text-anchor': i === 0 ? 'start' : i === ticks ? 'end' : 'middle' }, isoDay(new Date(t))));
    }
    svg.append(s('line', { class: 'axis', x1: L, x2: W - R, y1: H - B, y2: H - B }));
    return h('div', { class: 'chart', 'data-chart': label }, svg);
  }

  // ---------- session ----------
  function logout(msg) {
    sessionStorage.removeItem(TOKEN_KEY);
    state.me = null;
    drawHeader();
    if (location.hash !== '#/login') location.hash = '#/login';
    else route();
    if (msg) flash(msg, true);
  }
  async function loadMe() {
    if (state.me || !sessionStorage.getItem(TOKEN_KEY)) return state.me;
    try {
      state.me = await get('/v1/me');
    } catch (e) {
      if (e.status !== 401) throw e;
    }
    return state.me;
  }
  function drawHeader() {
    const nav = document.getElementById('nav');
    const who = document.getElementById('who');
    nav.replaceChildren();
    who.replaceChildren();
    if (!state.me) return;
    const links = [];
    if (can('queue')) links.push(['#/requests', 'Privacy requests']);
    if (can('accounts')) links.push(['#/accounts', 'Accounts']);
    if (can('audit')) links.push(['#/chain', 'Audit log']);
    if (state.me.role === 'customer' && state.me.account_id) {
      links.push([`#/accounts/${state.me.account_id}`, 'My account'], [`#/accounts/${state.me.account_id}/usage`, 'Usage & balance']);
    }
    if (state.me.role === 'gateway') links.push(['#/balance', 'Balance lookup']);
    const here = location.hash;
    for (const [href, text] of links) nav.append(h('a', { href, class: here.startsWith(href) ? 'active' : '' }, text));
    who.append(h('span', { class: 'role', 'data-role': state.me.role }, state.me.role),
      h('span', { class: 'mono', title: 'token id' }, 'token ' + short(state.me.token_id)),
      h('button', { type: 'button', id: 'logout', onclick: () => logout() }, 'Sign out'));
  }

  function loginPage() {
    const input = h('input', { type: 'password', id: 'token', autocomplete: 'off', placeholder: 'llt_…', required: true });
    const err = h('p', { class: 'muted', id: 'login-error' });
    const form = h('form', {
      class: 'panel login', id: 'login-form',
      onsubmit: async (ev) => {
        ev.preventDefault();
        const tok = input.value.trim();
        try {
          const me = await get('/v1/me', { token: tok });
          sessionStorage.setItem(TOKEN_KEY, tok);
          state.me = me;
          drawHeader();
          location.hash = '#/';
        } catch (e) {
          err.textContent = e.status === 401 ? 'This token is not valid (unknown, revoked or expired).' : e.message;
          err.className = 'flash error';
        }
      },
    },
    h('h1', {}, 'Sign in'),
    h('p', { class: 'sub' }, 'Paste an operator token. It stays in this browser tab only (session storage) and is sent as a Bearer token to the API.'),
    h('div', { class: 'row' }, input),
    h('div', { class: 'row' }, h('button', { class: 'primary', type: 'submit', id: 'login-submit' }, 'Sign in')),
    err);
    render(form);
    input.focus();
  }

  // ---------- privacy request queue ----------
  async function requestsPage() {
    const params = new URLSearchParams(location.hash.split('?')[1] || '');
    const open = params.get('open') !== 'false';
    const overdue = params.get('overdue') === 'true';
    const kind = params.get('kind') || '';
    const list = (await get('/v1/privacy/requests' + q({ open: open ? 'true' : '', overdue: overdue ? 'true' : '', kind }))).requests || [];
    const now = new Date();
    const counts = { red: 0, amber: 0, green: 0, grey: 0 };
    list.forEach((r) => counts[light(r, now)]++);
    const setFilter = (k, v) => {
      params.set(k, v);
      location.hash = '#/requests?' + params.toString();
    };
    const rows = list.map((r) => {
      const d = nextDeadline(r);
      return h('tr', { class: 'click', 'data-request': r.request_id, 'data-light': light(r, now), onclick: () => { location.hash = '#/requests/' + r.request_id; } },
        h('td', {}, lightEl(r), h('span', { class: 'muted' }, LIGHT_TEXT[light(r, now)])),
        h('td', {}, r.kind),
        h('td', {}, h('a', { href: '#/accounts/' + r.subject_id, class: 'mono', onclick: (e) => e.stopPropagation() }, short(r.subject_id))),
        h('td', {}, r.law, ' · ', r.channel),
        h('td', {}, fmtDay(r.received_at)),
        h('td', { class: 'due' }, fmtDay(r.due_at), h('div', { class: 'muted' }, isOpen(r) ? `${d.what} ${relDays(d.at, now)}` : '')),
        h('td', {}, statusBadge(r.status)));
    });
    render(
      h('h1', {}, 'Privacy requests'),
      h('p', { class: 'sub' }, 'Data-subject requests by due date. Green: on track · amber: a deadline within 7 days · red: overdue.'),
      h('div', { class: 'grid3' },
        stat(counts.red, 'overdue', 'red'), stat(counts.amber, 'due within 7 days', 'amber'), stat(counts.green, 'on track', 'green')),
      h('div', { class: 'panel' },
        h('div', { class: 'row' },
          h('label', {}, h('input', { type: 'checkbox', id: 'f-open', checked: open, onchange: (e) => setFilter('open', e.target.checked) }), ' open only'),
          h('label', {}, h('input', { type: 'checkbox', id: 'f-overdue', checked: overdue, onchange: (e) => setFilter('overdue', e.target.checked) }), ' overdue only'),
          h('label', {}, 'kind ', select(['', 'access', 'rectification', 'erasure'], kind, (v) => setFilter('kind', v), 'f-kind')),
          h('span', { class: 'spacer' }),
          h('span', { class: 'muted' }, `${list.length} request${list.length === 1 ? '' : 's'}`)),
        list.length
          ? h('table', { id: 'queue' }, h('thead', {}, h('tr', {}, ['Deadline', 'Kind', 'Subject', 'Law · channel', 'Received', 'Due', 'Status'].map((t) => h('th', {}, t)))), h('tbody', {}, rows))
          : h('div', { class: 'empty' }, 'No requests match.')),
      can('act') ? recordRequestForm() : null);
  }
  function stat(n, text, color) {
    return h('div', { class: 'panel' }, h('div', { class: 'stat' }, h('span', { class: 'light ' + color }), fmtInt(n), h('small', {}, text)));
  }
  function select(options, value, onchange, id) {
    return h('select', { id, onchange: (e) => onchange(e.target.value) },
      options.map((o) => {
        const [v, t] = Array.isArray(o) ? o : [o, o || 'any'];
        return h('option', { value: v, selected: v === value }, t);
      }));
  }
  function recordRequestForm() {
    const subject = h('input', { type: 'text', id: 'new-subject', placeholder: 'account id (UUID)', required: true });
    const kind = select(['erasure', 'access', 'rectification'], 'erasure', () => {}, 'new-kind');
    const channel = select(['email', 'web_form', 'api', 'support'], 'email', () => {}, 'new-channel');
    const law = select([['', 'by jurisdiction'], 'GDPR', 'CCPA'], '', () => {}, 'new-law');
    return h('form', {
      class: 'panel', id: 'new-request',
      onsubmit: async (ev) => {
        ev.preventDefault();
        try {
          const res = await post('/v1/privacy/requests', { subject_id: subject.value.trim(), kind: kind.value, channel: channel.value, law: law.value || undefined });
          flash('Request recorded.');
          location.hash = '#/requests/' + res.request_id;
        } catch (e) { flash(e.message, true); }
      },
    }, h('h2', {}, 'Record a request received by email, form or support'),
    h('div', { class: 'row' }, subject, kind, channel, law, h('button', { class: 'primary', type: 'submit' }, 'Record request')));
  }

  // ---------- one request: progress, actions, certificate ----------
  async function loadRequest(id) {
    try {
      return await get('/v1/privacy/requests/' + id);
    } catch (e) {
      // Staff must give a reason when a request carries the requester's own
      // words; the queue entry (without them) needs none.
      if (e.status === 422 && e.field('reason') && can('queue')) {
        const all = (await get('/v1/privacy/requests')).requests || [];
        const r = all.find((x) => x.request_id === id);
        if (r) return { ...r, details_withheld: true };
      }
      throw e;
    }
  }
  async function requestPage(id) {
    const r = await loadRequest(id);
    const now = new Date();
    const d = nextDeadline(r);
    const kv = [
      ['Request', h('span', { class: 'mono' }, r.request_id)],
      ['Subject', h('a', { class: 'mono', href: '#/accounts/' + r.subject_id }, r.subject_id)],
      ['Kind · law · channel', `${r.kind} · ${r.law} · ${r.channel}`],
      ['Received', fmtTime(r.received_at)],
      ['Due', h('span', {}, lightEl(r), fmtTime(r.due_at), isOpen(r) ? h('span', { class: 'muted' }, ` (${d.what} ${relDays(d.at, now)})`) : '')],
      r.ack_due_at ? ['Acknowledge by', fmtTime(r.ack_due_at)] : null,
      ['Acknowledged', fmtTime(r.acknowledged_at)],
      r.extended_at ? ['Extended', `${fmtTime(r.extended_at)} (${r.extension_reason})`] : null,
      r.deferred_by && r.deferred_by.length ? ['Deferred by holds', r.deferred_by.map(short).join(', ')] : null,
      r.key_shredded_at ? ['Key shredded', fmtTime(r.key_shredded_at)] : null,
      r.closed_at ? ['Closed', fmtTime(r.closed_at)] : null,
      r.reject_reason ? ['Rejected because', r.reject_reason] : null,
      r.details ? ['Details', r.details] : null,
      r.details_erased ? ['Details', 'erased'] : null,
    ].filter(Boolean);
    const parts = [
      h('p', { class: 'sub' }, h('a', { href: '#/requests' }, '← Privacy requests')),
      h('h1', {}, `${cap(r.kind)} request `, statusBadge(r.status)),
      h('div', { class: 'panel' }, h('dl', { class: 'kv', id: 'request-facts' }, kv.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
        r.details_withheld && staff() ? revealForm('Show the requester\'s own words', async (reason) => {
          const full = await get(`/v1/privacy/requests/${id}` + q({ reason }));
          flash('Read recorded in the audit log.');
          return h('p', {}, full.details || '(no details)');
        }) : null),
    ];
    if (can('act') && isOpen(r)) parts.push(requestActions(r));
    if (r.kind === 'erasure') parts.push(h('div', { class: 'panel', id: 'progress-panel' }, h('h2', {}, 'Erasure progress'), h('div', { id: 'progress' }, 'Checking…')));
    if (r.kind === 'access' && can('export')) parts.push(exportPanel(r.subject_id, `access request ${r.request_id}`));
    const certID = r.certificate_id || (r.erasure && r.erasure.certificate_id);
    if (certID) parts.push(h('div', { id: 'certificate' }));
    render(parts);
    if (r.kind === 'erasure') await drawProgress(r);
    if (certID) await drawCertificate(certID, document.getElementById('certificate'));
  }
  const cap = (str) => str.charAt(0).toUpperCase() + str.slice(1);
  function revealForm(label, load) {
    const reason = h('input', { type: 'text', class: 'reason', placeholder: 'reason, e.g. ticket reference (recorded)', minlength: 3, maxlength: 200, required: true });
    const out = h('div');
    return h('form', {
      class: 'reveal',
      onsubmit: async (ev) => {
        ev.preventDefault();
        try { out.replaceChildren(await load(reason.value.trim())); } catch (e) { flash(e.message, true); }
      },
    }, h('div', { class: 'row' }, reason, h('button', { type: 'submit' }, label)), out);
  }
  function requestActions(r) {
    const act = async (what, path, body) => {
      try {
        const res = await post(path, body);
        flash(`${what}: ${res.status || 'done'}.`);
        route();
      } catch (e) { flash(e.message, true); }
    };
    const btns = [];
    if (!r.acknowledged_at) btns.push(h('button', { type: 'button', id: 'ack', onclick: () => act('Acknowledged', `/v1/privacy/requests/${r.request_id}/acknowledge`) }, 'Acknowledge'));
    if (r.kind === 'erasure') {
      btns.push(h('button', { type: 'button', class: 'danger', id: 'run-erasure',
        onclick: (ev) => {
          ev.target.disabled = true;
          act('Erasure', `/v1/privacy/requests/${r.request_id}/erase`);
        } }, r.status === 'deferred' ? 'Run erasure again' : 'Run erasure (shred the key)'));
    }
    const extReason = select(['complexity', 'number_of_requests'], 'complexity', () => {}, 'extend-reason');
    if (!r.extended_at) {
      btns.push(h('span', { class: 'row' }, extReason, h('button', { type: 'button', id: 'extend',
        onclick: () => act('Extended', `/v1/privacy/requests/${r.request_id}/extend`, { reason: extReason.value, notice_sent_at: new Date().toISOString() }) }, 'Extend deadline (notice sent now)')));
    }
    const rejReason = select(['identity_not_verified', 'manifestly_unfounded', 'excessive', 'not_applicable'], 'identity_not_verified', () => {}, 'reject-reason');
    btns.push(h('span', { class: 'row' }, rejReason, h('button', { type: 'button', id: 'reject',
      onclick: () => act('Rejected', `/v1/privacy/requests/${r.request_id}/reject`, { reason: rejReason.value }) }, 'Reject')));
    return h('div', { class: 'panel' }, h('h2', {}, 'Actions'), h('div', { class: 'row' }, btns));
  }

  // drawProgress shows shredded → read models caught up → verified →
  // certificate. It uses the API's progress report (the request's "erasure"
  // member); against a server without one it checks what it can itself: the
  // account read model answers "erased", the certificate's checks passed.
  async function drawProgress(r) {
    const el = document.getElementById('progress');
    if (!el) return;
    const e = r.erasure || null;
    const shreddedAt = (e && e.key_shredded_at) || r.key_shredded_at;
    const certID = (e && e.certificate_id) || r.certificate_id;
    let caughtUp, caughtNote, verified, verifiedAt, failed = false, failNote;
    if (e) {
      caughtUp = e.read_models_caught_up;
      caughtNote = e.shred_position ? `shred at log position ${e.shred_position}` : null;
      verified = e.verified;
      verifiedAt = e.verified_at;
      failed = e.stage === 'verification_failed';
      if (failed) failNote = 'failed: ' + (e.last_failure || []).map((c) => c.name).join(', ');
    } else {
      if (shreddedAt) {
        try {
          caughtUp = (await get('/v1/accounts/' + r.subject_id)).erased;
          caughtNote = caughtUp ? 'account read model answers "erased"' : null;
        } catch (_) { caughtUp = false; }
      }
      if (certID) verified = !!(await certificateChecks(certID));
    }
    const deferred = (e && e.stage === 'deferred') || r.status === 'deferred';
    const steps = [
      { name: 'Received', done: true, at: r.received_at },
      { name: 'Key shredded', done: !!shreddedAt, at: shreddedAt, wait: deferred ? `deferred by ${(r.deferred_by || []).length} legal hold(s)` : null },
      { name: 'Read models caught up', done: !!caughtUp, note: caughtNote },
      { name: 'Verified', done: !!verified, at: verifiedAt, fail: failed, note: failNote },
      { name: 'Certificate', done: !!certID, note: certID ? short(certID) : null },
    ];
    let reached = true;
    el.replaceChildren(h('div', { class: 'steps', id: 'steps', 'data-stage': e ? e.stage : '' }, steps.map((st) => {
      const cls = st.fail ? 'fail' : st.done && reached ? 'done' : reached && st.wait ? 'wait' : '';
      if (!st.done) reached = false;
      return h('div', { class: 'step ' + cls, 'data-step': st.name, 'data-done': !!st.done },
        h('span', { class: 'dot' }), st.name,
        h('small', {}, st.note || (st.at ? fmtTime(st.at) : st.wait || (st.done ? 'done' : 'pending'))));
    })));
    // verification and the certificate follow the shred; look again for a while
    const recent = shreddedAt && Date.now() - new Date(shreddedAt) < 120e3;
    if (recent && !certID && !failed && !drawProgress.polled) {
      drawProgress.polled = true;
      setTimeout(() => { drawProgress.polled = false; if (location.hash.endsWith(r.request_id)) route(); }, 1000);
    }
  }
  const certCache = new Map();
  async function fetchCertificate(id) {
    if (certCache.has(id)) return certCache.get(id);
    const raw = await get('/v1/certificates/' + id, { text: true });
    let parsed = null;
    try { parsed = JSON.parse(raw); } catch (_) { /* handled by the caller */ }
    const out = { raw, parsed, cert: parsed && (parsed.certificate || parsed) };
    certCache.set(id, out);
    return out;
  }
  // certificateChecks: true when every verification in the certificate passed.
  async function certificateChecks(id) {
    try {
      const { cert } = await fetchCertificate(id);
      const checks = (cert && cert.verification) || [];
      return checks.length > 0 && checks.every((c) => c.result === 'passed');
    } catch (_) { return null; }
  }
  function b64bytes(b64) {
    const bin = atob(b64.trim());
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  }
  // verifySignature checks the Ed25519 signature over the exact certificate
  // bytes, as `ledgerline certificate verify` does offline.
  async function verifySignature(raw, publicKeyText) {
    const head = '{"certificate":', mid = ',"signature":"';
    const body = raw.replace(/\n$/, '');
    const i = body.lastIndexOf(mid);
    if (!body.startsWith(head) || i < 0 || !body.endsWith('"}')) return { state: 'unknown', why: 'the API did not return the signed file bytes' };
    if (!window.crypto || !crypto.subtle) return { state: 'unknown', why: 'this page is not a secure context (use HTTPS or localhost) — run `ledgerline certificate verify` offline' };
    const content = body.slice(head.length, i);
    const sig = body.slice(i + mid.length, -2);
    const prefix = 'ledgerline-ed25519:';
    const pk = publicKeyText.trim();
    if (!pk.startsWith(prefix)) return { state: 'unknown', why: 'no public key in the expected form' };
    try {
      const key = await crypto.subtle.importKey('raw', b64bytes(pk.slice(prefix.length)), { name: 'Ed25519' }, false, ['verify']);
      const ok = await crypto.subtle.verify({ name: 'Ed25519' }, key, b64bytes(sig), new TextEncoder().encode(content));
      return ok ? { state: 'ok' } : { state: 'bad', why: 'the signature does not match the content' };
    } catch (e) {
      return { state: 'unknown', why: 'this browser cannot check Ed25519 signatures (' + e.name + ') — run `ledgerline certificate verify` offline' };
    }
  }
  async function publicKey() {
    const raw = await get('/v1/certificates/public-key', { text: true });
    const t = raw.trim();
    if (!t.startsWith('{')) return t;
    const j = JSON.parse(t);
    const found = Object.values(j).find((v) => typeof v === 'string' && v.startsWith('ledgerline-ed25519:'));
    return found || '';
  }
  async function drawCertificate(id, el) {
    if (!el) return;
    let c;
    try {
      c = await fetchCertificate(id);
    } catch (e) {
      el.replaceChildren(h('div', { class: 'panel' }, h('h2', {}, 'Certificate of deletion'),
        h('p', { class: 'muted' }, e.status === 404 ? 'This server does not serve certificates yet (GET /v1/certificates/{id}).' : e.message)));
      return;
    }
    const cert = c.cert || {};
    const checks = cert.verification || [];
    let sig = { state: 'unknown', why: 'public key unavailable' };
    try { sig = await verifySignature(c.raw, await publicKey()); } catch (e) { sig = { state: 'unknown', why: e.message }; }
    const allPassed = checks.length > 0 && checks.every((x) => x.result === 'passed');
    const overall = sig.state === 'bad' || !allPassed ? 'bad' : sig.state === 'ok' ? 'ok' : 'unknown';
    const headline = {
      ok: 'Verified: the signature matches the issuer\'s public key and every check passed.',
      bad: 'NOT verified: ' + (sig.state === 'bad' ? sig.why : 'a verification check did not pass.'),
      unknown: 'Checks passed; signature not checked here: ' + sig.why,
    }[overall];
    const frame = h('iframe', { class: 'certframe', sandbox: '', title: 'certificate (HTML rendering)', id: 'cert-frame' });
    const download = h('button', { type: 'button', id: 'cert-download', 'data-certificate': id, onclick: () => saveFile(`deletion-certificate-${id}.json`, c.raw) }, 'Download certificate (JSON)');
    el.replaceChildren(h('div', { class: 'panel' },
      h('div', { class: 'row' }, h('h2', {}, 'Certificate of deletion'), h('span', { class: 'spacer' }), download),
      h('div', { class: 'verify ' + overall, id: 'cert-verdict', 'data-verdict': overall }, h('strong', {}, headline),
        h('ul', {}, checks.map((x) => h('li', {}, `${x.name}: ${x.result}${x.detail ? ' — ' + x.detail : ''}`)),
          h('li', {}, `signature (${(cert.signer && cert.signer.algorithm) || 'Ed25519'}): ${sig.state === 'ok' ? 'valid' : sig.state === 'bad' ? 'INVALID' : 'not checked'}`))),
      h('dl', { class: 'kv' },
        h('dt', {}, 'Certificate'), h('dd', { class: 'mono' }, cert.certificate_id || id),
        h('dt', {}, 'Key destroyed'), h('dd', {}, cert.key_destruction ? fmtTime(cert.key_destruction.destroyed_at) : '—'),
        h('dt', {}, 'Residual copies unreadable'), h('dd', {}, cert.key_destruction ? fmtTime(cert.key_destruction.kek_retired_at) + (cert.key_destruction.kek_retirement_scheduled ? ' (scheduled)' : '') : '—'),
        h('dt', {}, 'Chain head'), h('dd', { class: 'mono' }, cert.chain_head ? `#${cert.chain_head.position} ${String(cert.chain_head.hash).slice(0, 16)}…` : '—')),
      h('h2', { style: 'margin-top:16px' }, 'As issued (HTML rendering)'), frame));
    try {
      frame.srcdoc = await get(`/v1/certificates/${id}?format=html`, { text: true });
    } catch (e) {
      frame.replaceWith(h('p', { class: 'muted' }, 'HTML rendering unavailable: ' + e.message));
    }
  }
  function saveFile(name, text) {
    const url = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
    const a = h('a', { href: url, download: name, hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 30000);
  }

  // ---------- accounts ----------
  async function accountsPage() {
    const params = new URLSearchParams(location.hash.split('?')[1] || '');
    const status = params.get('status') || '';
    const cursor = params.get('cursor') || '';
    const page = await get('/v1/accounts' + q({ status, cursor, limit: 50 }));
    const go = h('input', { type: 'text', id: 'goto-account', placeholder: 'account id (UUID)' });
    render(h('h1', {}, 'Accounts'),
      h('p', { class: 'sub' }, 'Public fields only. Personal data is shown to staff on an account page, with a recorded reason.'),
      h('div', { class: 'panel' },
        h('form', { class: 'row', onsubmit: (ev) => { ev.preventDefault(); if (go.value.trim()) location.hash = '#/accounts/' + go.value.trim(); } },
          go, h('button', { type: 'submit' }, 'Open'), h('span', { class: 'spacer' }),
          h('label', {}, 'status ', select(['', 'active', 'suspended', 'closed', 'erased'], status, (v) => { location.hash = '#/accounts?status=' + v; }, 'f-status'))),
        page.items.length ? h('table', { id: 'accounts' },
          h('thead', {}, h('tr', {}, ['Account', 'Status', 'Region', 'Jurisdiction', 'Registered'].map((t) => h('th', {}, t)))),
          h('tbody', {}, page.items.map((a) => h('tr', { class: 'click', 'data-account': a.id, onclick: () => { location.hash = '#/accounts/' + a.id; } },
            h('td', { class: 'mono' }, a.id), h('td', {}, statusBadge(a.status)), h('td', {}, a.region), h('td', {}, a.jurisdiction), h('td', {}, fmtTime(a.created_at))))))
          : h('div', { class: 'empty' }, 'No accounts.'),
        page.next ? h('div', { class: 'row' }, h('a', { class: 'button', href: `#/accounts?status=${status}&cursor=${page.next}` }, 'Next page →')) : null));
  }
  // loadAccount returns the public profile. Staff without a reason get it
  // from the accounts listing, which carries no personal data to record.
  async function loadAccount(id) {
    try {
      return await get('/v1/accounts/' + id);
    } catch (e) {
      if (!(e.status === 422 && e.field('reason'))) throw e;
      let cursor;
      for (let i = 0; i < 50; i++) {
        const page = await get('/v1/accounts' + q({ limit: 1000, cursor }));
        const a = page.items.find((x) => x.id === id);
        if (a) return a;
        if (!page.next) break;
        cursor = page.next;
      }
      throw e;
    }
  }
  function accountTabs(id, active) {
    const tabs = [['', 'Overview', true], ['/timeline', 'Timeline', can('audit')], ['/asof', 'As of a date', can('usage')], ['/usage', 'Usage & balance', can('usage')]];
    return h('div', { class: 'tabs' }, tabs.filter((t) => t[2]).map(([suffix, text]) =>
      h('a', { href: `#/accounts/${id}${suffix}`, class: suffix === active ? 'active' : '' }, text)));
  }
  async function accountPage(id) {
    const [a, bal] = await Promise.all([loadAccount(id), can('balance') ? get(`/v1/accounts/${id}/balance`).catch(() => null) : null]);
    const parts = [h('h1', {}, 'Account ', h('span', { class: 'mono' }, short(id)), ' ', statusBadge(a.status), a.erased ? h('span', { class: 'badge red' }, 'personal data erased') : null),
      accountTabs(id, '')];
    const facts = h('dl', { class: 'kv', id: 'account-facts' },
      h('dt', {}, 'Account id'), h('dd', { class: 'mono' }, a.id),
      h('dt', {}, 'Region · jurisdiction'), h('dd', {}, `${a.region} · ${a.jurisdiction}`),
      h('dt', {}, 'Registered'), h('dd', {}, fmtTime(a.created_at)),
      h('dt', {}, 'Last change'), h('dd', {}, fmtTime(a.updated_at)),
      h('dt', {}, 'Email hash (fraud)'), h('dd', { class: 'mono', title: a.email_hash }, a.email_hash ? a.email_hash.slice(0, 24) + '…' : '—'),
      a.email ? [h('dt', {}, 'Email'), h('dd', {}, a.email), h('dt', {}, 'Name'), h('dd', {}, a.name)] : null);
    parts.push(h('div', { class: 'grid2' },
      h('div', { class: 'panel' }, h('h2', {}, 'Profile (public fields)'), facts,
        staff() && !a.erased && !a.email ? h('div', { style: 'margin-top:12px' }, revealForm('Show email and name', async (reason) => {
          const full = await get(`/v1/accounts/${id}` + q({ reason }));
          flash('Read recorded in the audit log (stream dataaccess-…).');
          return h('dl', { class: 'kv' }, h('dt', {}, 'Email'), h('dd', {}, full.email || '—'), h('dt', {}, 'Name'), h('dd', {}, full.name || '—'));
        })) : null),
      bal ? h('div', { class: 'panel' }, h('h2', {}, 'Balance'), balanceFacts(bal)) : h('div')));
    if (can('queue')) parts.push(h('div', { id: 'subject-requests' }));
    if (can('audit')) parts.push(h('div', { id: 'holds' }));
    if (can('export')) parts.push(exportPanel(id, ''));
    render(parts);
    if (can('queue')) await drawSubjectRequests(id);
    if (can('audit')) await drawHolds(id);
  }
  function balanceFacts(b) {
    return h('div', {},
      h('div', { class: 'stat', id: 'balance' }, fmtMoney(b.balance_micros), h('small', {}, 'current balance')),
      h('dl', { class: 'kv', style: 'margin-top:10px' },
        h('dt', {}, 'Credits'), h('dd', {}, fmtMoney(b.credits_micros)),
        h('dt', {}, 'Payments'), h('dd', {}, fmtMoney(b.payments_micros)),
        h('dt', {}, 'Refunds'), h('dd', {}, fmtMoney(b.refunds_micros)),
        h('dt', {}, 'Usage'), h('dd', {}, fmtMoney(b.usage_cost_micros)),
        h('dt', {}, 'Disputes lost · open'), h('dd', {}, `${fmtMoney(b.disputes_lost_micros)} · ${fmtMoney(b.open_disputes_micros)}`)));
  }
  async function drawSubjectRequests(id) {
    const el = document.getElementById('subject-requests');
    const list = (await get('/v1/privacy/requests' + q({ subject_id: id }))).requests || [];
    el.replaceChildren(h('div', { class: 'panel' }, h('h2', {}, 'Privacy requests about this account'),
      list.length ? h('table', {}, h('tbody', {}, list.map((r) => h('tr', { class: 'click', onclick: () => { location.hash = '#/requests/' + r.request_id; } },
        h('td', {}, lightEl(r), r.kind), h('td', {}, 'due ' + fmtDay(r.due_at)), h('td', {}, statusBadge(r.status)),
        h('td', { class: 'mono' }, r.certificate_id ? 'certificate ' + short(r.certificate_id) : '')))))
        : h('div', { class: 'empty' }, 'None.')));
  }
  async function drawHolds(id) {
    const el = document.getElementById('holds');
    const holds = (await get(`/v1/accounts/${id}/holds`)).holds || [];
    const release = async (hid) => {
      try { await post(`/v1/privacy/holds/${hid}/release`); flash('Hold released (a deferred erasure now runs).'); route(); } catch (e) { flash(e.message, true); }
    };
    el.replaceChildren(h('div', { class: 'panel' }, h('h2', {}, 'Legal holds'),
      holds.length ? h('table', { id: 'holds-table' },
        h('thead', {}, h('tr', {}, ['Categories', 'Basis', 'Reference', 'Review', 'Placed', 'State', ''].map((t) => h('th', {}, t)))),
        h('tbody', {}, holds.map((x) => h('tr', {},
          h('td', {}, x.categories.join(', ')), h('td', {}, x.basis), h('td', {}, x.reference || '—'), h('td', {}, fmtDay(x.review_at)), h('td', {}, fmtDay(x.placed_at)),
          h('td', {}, x.active ? h('span', { class: 'badge amber' }, 'active') : h('span', { class: 'badge' }, 'released ' + fmtDay(x.released_at))),
          h('td', {}, x.active && can('act') ? h('button', { type: 'button', onclick: () => release(x.hold_id) }, 'Release') : null)))))
        : h('div', { class: 'empty' }, 'No legal holds.'),
      can('act') ? holdForm(id) : null));
  }
  function holdForm(id) {
    const cats = ['payments', 'tax_records', 'usage', 'profile'].map((c) => h('label', {}, h('input', { type: 'checkbox', value: c, checked: c === 'payments' }), ' ' + c));
    const basis = select(['dispute', 'tax_retention', 'litigation', 'regulator_request'], 'tax_retention', () => {}, 'hold-basis');
    const ref = h('input', { type: 'text', placeholder: 'reference (dispute id, case…)', maxlength: 255 });
    const review = h('input', { type: 'date', value: isoDay(new Date(Date.now() + 365 * DAY)) });
    return h('form', {
      style: 'margin-top:14px',
      onsubmit: async (ev) => {
        ev.preventDefault();
        const categories = cats.map((l) => l.firstChild).filter((c) => c.checked).map((c) => c.value);
        try {
          await post('/v1/privacy/holds', { subject_id: id, categories, basis: basis.value, reference: ref.value || undefined, review_at: new Date(review.value + 'T00:00:00Z').toISOString() });
          flash('Legal hold placed.');
          route();
        } catch (e) { flash(e.message, true); }
      },
    }, h('div', { class: 'row' }, h('strong', {}, 'Place a hold:'), cats), h('div', { class: 'row' }, basis, ref, h('label', {}, 'review ', review), h('button', { type: 'submit' }, 'Place hold')));
  }
  function exportPanel(accountId, defaultReason) {
    const reason = h('input', { type: 'text', id: 'export-reason', placeholder: 'reason (recorded), e.g. ticket reference', value: defaultReason, minlength: 3, maxlength: 200 });
    const needsReason = state.me.role !== 'customer';
    return h('form', {
      class: 'panel', id: 'export-form',
      onsubmit: async (ev) => {
        ev.preventDefault();
        try {
          const text = await request('POST', `/v1/accounts/${accountId}/export` + q({ reason: needsReason ? reason.value.trim() : '' }), { text: true });
          saveFile(`ledgerline-access-export-${accountId}.json`, text);
          flash('Access export downloaded' + (needsReason ? '; the read is recorded in the audit log.' : '.'));
        } catch (e) { flash(e.message, true); }
      },
    }, h('h2', {}, 'Access export'),
    h('p', { class: 'muted' }, 'Everything about the person in one machine-readable JSON file (format ledgerline.access-export/v1), personal parts decrypted or marked erased.'),
    h('div', { class: 'row' }, needsReason ? reason : null, h('button', { class: 'primary', type: 'submit', id: 'export' }, 'Download access export')));
  }

  // ---------- auditors: timeline, chain, as-of ----------
  async function verifyPanel() {
    const v = await get('/v1/audit/verify');
    return h('div', { class: 'verify ' + (v.ok ? 'ok' : 'bad'), id: 'chain-status', 'data-ok': v.ok },
      h('strong', {}, v.ok ? `Hash chain intact: ${fmtInt(v.events)} events verified` : `Hash chain BROKEN at position ${v.broken_at}: ${v.reason}`),
      h('div', { class: 'mono' }, `head #${v.head.position} ${String(v.head.hash).slice(0, 32)}… · ${v.took_ms} ms · checked ${fmtTime(new Date().toISOString())}`));
  }
  async function streamEvents(stream) {
    const out = [];
    let from = 1;
    for (let i = 0; i < 20; i++) {
      const p = await get(`/v1/audit/streams/${encodeURIComponent(stream)}` + q({ from, limit: 1000 }));
      out.push(...p.events);
      if (!p.next) break;
      from = p.next;
    }
    return out;
  }
  const CATEGORY = (stream) => stream.split('-')[0];
  const CATEGORY_NAME = { account: 'account', consent: 'consent', ledger: 'billing', apikey: 'keys', usage: 'usage', privacy: 'privacy', hold: 'privacy', holds: 'privacy', dataaccess: 'staff reads' };
  async function timelinePage(id) {
    const [account, keys, reqs, holds, days] = await Promise.all([
      loadAccount(id),
      get(`/v1/accounts/${id}/keys`).then((x) => x.keys || []).catch(() => []),
      get('/v1/privacy/requests' + q({ subject_id: id })).then((x) => x.requests || []).catch(() => []),
      get(`/v1/accounts/${id}/holds`).then((x) => x.holds || []).catch(() => []),
      get(`/v1/accounts/${id}/usage?group_by=day`).then((x) => x.buckets || []).catch(() => []),
    ]);
    const streams = [`account-${id}`, `consent-${id}`, `ledger-${id}`, `holds-${id}`, `dataaccess-${id}`,
      ...keys.map((k) => `apikey-${k.key_id}`), ...reqs.map((r) => `privacy-${r.request_id}`), ...holds.map((x) => `hold-${x.hold_id}`),
      ...days.filter((b) => b.day).map((b) => `usage-${id}-${b.day.slice(0, 10).replaceAll('-', '')}`)];
    const all = (await Promise.all(streams.map(streamEvents))).flat().sort((x, y) => x.position - y.position);
    const erased = new Set(account.erased ? [id] : []);
    const params = new URLSearchParams(location.hash.split('?')[1] || '');
    const hideUsage = params.get('usage') !== 'show';
    const shown = all.filter((e) => !(hideUsage && CATEGORY(e.stream) === 'usage'));
    const personal = (e) => {
      if (!e.sealed) return h('span', { class: 'muted' }, '—');
      return erased.has(e.subject) ? h('span', { class: 'badge red', 'data-personal': 'erased' }, 'erased') : h('span', { class: 'badge blue', 'data-personal': 'sealed' }, 'sealed');
    };
    const usageCount = all.length - all.filter((e) => CATEGORY(e.stream) !== 'usage').length;
    render(h('h1', {}, 'Account ', h('span', { class: 'mono' }, short(id)), ' — timeline'), accountTabs(id, '/timeline'),
      await verifyPanel(),
      h('div', { class: 'panel' },
        h('div', { class: 'row' },
          h('span', {}, `${fmtInt(all.length)} events in ${streams.length} streams`),
          h('span', { class: 'spacer' }),
          h('label', {}, h('input', { type: 'checkbox', id: 'show-usage', checked: !hideUsage,
            onchange: (ev) => { location.hash = `#/accounts/${id}/timeline?usage=${ev.target.checked ? 'show' : 'hide'}`; } }), ` show ${fmtInt(usageCount)} usage events`)),
        h('p', { class: 'muted' }, 'Public fields of every event, in log order. Personal parts are never decrypted here: "sealed" while the person\'s key exists, "erased" once it was destroyed.'),
        h('table', { class: 'timeline', id: 'timeline' },
          h('thead', {}, h('tr', {}, ['#', 'Recorded', 'Type', 'Public data', 'Personal', 'By', 'Hash'].map((t) => h('th', {}, t)))),
          h('tbody', {}, shown.map((e) => h('tr', { class: 'type-' + e.type.split('.')[0], 'data-type': e.type },
            h('td', { class: 'num' }, e.position),
            h('td', { class: 'when' }, fmtTime(e.recorded_at),
              Math.abs(new Date(occurred(e)) - new Date(e.recorded_at)) > 60e3 ? h('div', { class: 'muted', title: 'when it happened, by the event' }, 'occurred ' + fmtTime(occurred(e))) : null,
              h('div', { class: 'muted' }, CATEGORY_NAME[CATEGORY(e.stream)] || CATEGORY(e.stream), ' v', e.version)),
            h('td', {}, e.type),
            h('td', { class: 'data' }, summarise(e.data)),
            h('td', {}, personal(e)),
            h('td', {}, e.meta && e.meta.actor_role ? e.meta.actor_role : h('span', { class: 'muted' }, 'system')),
            h('td', { class: 'mono', title: e.hash }, String(e.hash).slice(0, 10))))))));
  }
  // occurred is when the fact happened according to the event (its own
  // *_at field), which can precede the time the store recorded it.
  function occurred(e) {
    const d = e.data || {};
    if (typeof d.at === 'string') return d.at;
    const k = Object.keys(d).find((x) => x.endsWith('_at') && !/^(due|previous_due|ack_due|expires|review|notice_sent|effective)_at$/.test(x) && typeof d[x] === 'string');
    return k ? d[k] : e.recorded_at;
  }
  function summarise(data) {
    if (!data || typeof data !== 'object') return '';
    return Object.entries(data).filter(([, v]) => v !== null && v !== '' && !(Array.isArray(v) && !v.length))
      .map(([k, v]) => {
        const str = typeof v === 'object' ? JSON.stringify(v) : String(v);
        // embedded documents (a signed certificate) are shown by size only
        return `${k}=${str.length > 120 ? str.slice(0, 32) + `… (${str.length} characters)` : str}`;
      }).join('  ');
  }
  async function chainPage() {
    const head = await get('/v1/audit/head');
    const from = Math.max(1, head.position - 24);
    const page = await get('/v1/audit/events' + q({ from, limit: 25 }));
    render(h('h1', {}, 'Audit log'), h('p', { class: 'sub' }, 'Every event in order, hash-chained over the ciphertext, so the chain still verifies after erasures.'),
      await verifyPanel(),
      h('div', { class: 'panel' }, h('h2', {}, 'Latest events'),
        h('table', { class: 'timeline' }, h('thead', {}, h('tr', {}, ['#', 'Recorded', 'Stream', 'Type', 'Personal', 'Hash'].map((t) => h('th', {}, t)))),
          h('tbody', {}, page.events.reverse().map((e) => h('tr', {},
            h('td', { class: 'num' }, e.position), h('td', {}, fmtTime(e.recorded_at)), h('td', { class: 'mono' }, e.stream.length > 30 ? e.stream.slice(0, 30) + '…' : e.stream),
            h('td', {}, e.type), h('td', {}, e.sealed ? h('span', { class: 'badge blue' }, 'sealed') : '—'), h('td', { class: 'mono', title: e.hash }, String(e.hash).slice(0, 10))))))));
  }
  function endOfDay(day) { return new Date(day + 'T23:59:59.999Z'); }
  async function asofPage(id) {
    const params = new URLSearchParams(location.hash.split('?')[1] || '');
    const day = params.get('date') || isoDay(new Date());
    const at = endOfDay(day);
    const [consent, txs, usage, account] = await Promise.all([
      get(`/v1/accounts/${id}/consents` + q({ as_of: at.toISOString() })),
      pages(`/v1/accounts/${id}/transactions`, { limit: 1000 }, 'items', 'cursor'),
      get(`/v1/accounts/${id}/usage` + q({ to: day })),
      can('audit') ? streamEvents(`account-${id}`) : Promise.resolve(null),
    ]);
    const before = txs.filter((t) => new Date(t.at) <= at);
    const txSum = before.reduce((acc, t) => acc + t.amount_micros, 0);
    const balance = txSum - (usage.totals.cost_micros || 0);
    let status = null;
    if (account) {
      const evs = account.filter((e) => new Date(occurred(e)) <= at);
      status = evs.length ? evs[evs.length - 1].type.replace('account.', '') : 'not yet registered';
    }
    const input = h('input', { type: 'date', id: 'asof-date', value: day, max: isoDay(new Date()) });
    render(h('h1', {}, 'Account ', h('span', { class: 'mono' }, short(id)), ' — as of ', day), accountTabs(id, '/asof'),
      h('form', { class: 'panel row', onsubmit: (ev) => { ev.preventDefault(); location.hash = `#/accounts/${id}/asof?date=${input.value}`; } },
        h('label', {}, 'State at the end of (UTC) '), input, h('button', { type: 'submit', class: 'primary', id: 'asof-go' }, 'Show'),
        h('span', { class: 'muted' }, 'Consent from the receipts at or before that moment; balance from transactions and usage up to that day.')),
      h('div', { class: 'grid2' },
        h('div', { class: 'panel' }, h('h2', {}, 'Consent'),
          consent.purposes && consent.purposes.length ? h('table', { id: 'asof-consent' },
            h('thead', {}, h('tr', {}, ['Purpose', 'State', 'Since', 'How', 'Policy'].map((t) => h('th', {}, t)))),
            h('tbody', {}, consent.purposes.map((p) => h('tr', { 'data-purpose': p.purpose, 'data-granted': p.granted },
              h('td', {}, p.purpose), h('td', {}, h('span', { class: 'badge ' + (p.granted ? 'green' : '') }, p.granted ? 'granted' : 'not granted')),
              h('td', {}, fmtDay(p.at)), h('td', {}, p.method), h('td', {}, p.policy_version)))))
            : h('div', { class: 'empty' }, 'No consent recorded by then.'),
          consent.accepted_policy ? h('p', { class: 'muted' }, `Accepted policy ${consent.accepted_policy} on ${fmtDay(consent.policy_accepted_at)}`) : null),
        h('div', { class: 'panel' }, h('h2', {}, 'Balance'),
          h('div', { class: 'stat', id: 'asof-balance', 'data-micros': balance }, fmtMoney(balance), h('small', {}, `${before.length} transaction(s), usage ${fmtMoney(usage.totals.cost_micros)} in ${fmtInt(usage.totals.requests)} request(s)`)),
          status ? h('p', {}, 'Account: last event by then ', h('span', { class: 'badge blue', id: 'asof-status' }, status)) : null)));
  }

  // ---------- usage and balance charts ----------
  const METRICS = {
    cost: { label: 'Cost', of: (b) => b.cost_micros, fmt: (v) => fmtMoney(v) },
    requests: { label: 'Requests', of: (b) => b.requests, fmt: fmtInt },
    tokens: { label: 'Tokens (in + out)', of: (b) => b.input_tokens + b.output_tokens, fmt: fmtInt },
  };
  async function usagePage(id) {
    const params = new URLSearchParams(location.hash.split('?')[1] || '');
    const today = new Date();
    const to = params.get('to') || isoDay(today);
    const from = params.get('from') || isoDay(new Date(today - 29 * DAY));
    const metric = METRICS[params.get('metric')] ? params.get('metric') : 'cost';
    const m = METRICS[metric];
    const base = `/v1/accounts/${id}/usage`;
    const [byDay, byModel, byProvider, txs, allDays] = await Promise.all([
      get(base + q({ from, to, group_by: 'day' })), get(base + q({ from, to, group_by: 'model' })), get(base + q({ from, to, group_by: 'provider' })),
      pages(`/v1/accounts/${id}/transactions`, { limit: 1000 }, 'items', 'cursor'), get(base + q({ group_by: 'day' })),
    ]);
    // every day of the range, zeros included
    const dayVals = new Map((byDay.buckets || []).map((b) => [b.day.slice(0, 10), b]));
    const days = [];
    for (let t = new Date(from + 'T00:00:00Z'); isoDay(t) <= to; t = new Date(t.getTime() + DAY)) {
      const b = dayVals.get(isoDay(t));
      days.push({ label: isoDay(t).slice(5), title: isoDay(t), value: b ? m.of(b) : 0 });
    }
    const set = (k, v) => { params.set(k, v); location.hash = `#/accounts/${id}/usage?` + params.toString(); };
    const fromIn = h('input', { type: 'date', id: 'usage-from', value: from });
    const toIn = h('input', { type: 'date', id: 'usage-to', value: to });
    const tot = byDay.totals || {};
    render(h('h1', {}, 'Account ', h('span', { class: 'mono' }, short(id)), ' — usage & balance'), accountTabs(id, '/usage'),
      h('form', { class: 'panel row', onsubmit: (ev) => { ev.preventDefault(); params.set('from', fromIn.value); set('to', toIn.value); } },
        h('label', {}, 'from '), fromIn, h('label', {}, 'to '), toIn, h('button', { type: 'submit' }, 'Apply'), h('span', { class: 'spacer' }),
        h('label', {}, 'measure '), select(Object.entries(METRICS).map(([k, v]) => [k, v.label]), metric, (v) => set('metric', v), 'usage-metric')),
      h('div', { class: 'grid3' },
        h('div', { class: 'panel' }, h('div', { class: 'stat', id: 'usage-requests' }, fmtInt(tot.requests), h('small', {}, `requests (${fmtInt(tot.errors)} errors)`))),
        h('div', { class: 'panel' }, h('div', { class: 'stat' }, fmtInt((tot.input_tokens || 0) + (tot.output_tokens || 0)), h('small', {}, `tokens: ${fmtInt(tot.input_tokens)} in, ${fmtInt(tot.output_tokens)} out`))),
        h('div', { class: 'panel' }, h('div', { class: 'stat', id: 'usage-cost' }, fmtMoney(tot.cost_micros), h('small', {}, 'cost in this range')))),
      h('div', { class: 'panel' }, h('h2', {}, `${m.label} by day`), barChart(days, { fmt: m.fmt, label: 'usage by day' })),
      h('div', { class: 'grid2' },
        h('div', { class: 'panel' }, h('h2', {}, `${m.label} by model`), hbarChart((byModel.buckets || []).map((b) => ({ label: b.model, value: m.of(b) })), { fmt: m.fmt, label: 'usage by model' })),
        h('div', { class: 'panel' }, h('h2', {}, `${m.label} by provider`), hbarChart((byProvider.buckets || []).map((b) => ({ label: b.provider, value: m.of(b) })), { fmt: m.fmt, label: 'usage by provider' }))),
      h('div', { class: 'panel' }, h('h2', {}, 'Balance history'),
        h('p', { class: 'muted' }, 'Running balance: credits, payments, refunds and disputes as they happened, usage cost at the end of each day.'),
        stepChart(balanceHistory(txs, allDays.buckets || []), { fmt: (v) => fmtMoney(v), label: 'balance history' })),
      h('div', { class: 'panel' }, h('h2', {}, 'Transactions'),
        txs.length ? h('table', { id: 'transactions' }, h('thead', {}, h('tr', {}, ['When', 'Kind', 'Amount', 'Processor', 'Reference'].map((t, i) => h('th', { class: i === 2 ? 'num' : '' }, t)))),
          h('tbody', {}, [...txs].reverse().slice(0, 50).map((t) => h('tr', {}, h('td', {}, fmtTime(t.at)), h('td', {}, t.kind + (t.reason ? ` (${t.reason})` : '')),
            h('td', { class: 'num' }, fmtMoney(t.amount_micros, t.currency)), h('td', {}, t.processor || '—'), h('td', { class: 'mono' }, t.reference || '—')))))
          : h('div', { class: 'empty' }, 'No transactions.')));
  }
  // balanceHistory merges transactions (at their time) and daily usage cost
  // (at the end of its day) into a running balance.
  function balanceHistory(txs, dayBuckets) {
    const moves = txs.map((t) => ({ at: new Date(t.at), delta: t.amount_micros, note: t.kind }))
      .concat(dayBuckets.filter((b) => b.day && b.cost_micros).map((b) => ({ at: endOfDay(b.day.slice(0, 10)), delta: -b.cost_micros, note: 'usage' })));
    moves.sort((a, b) => a.at - b.at);
    let run = 0;
    const pts = moves.map((mv) => ({ at: mv.at, value: (run += mv.delta), note: mv.note }));
    if (pts.length) pts.push({ at: new Date(Math.max(Date.now(), pts[pts.length - 1].at.getTime())), value: run, note: 'now' });
    return pts;
  }

  // ---------- gateway ----------
  function balanceLookupPage() {
    const id = h('input', { type: 'text', id: 'balance-account', placeholder: 'account id (UUID)' });
    const out = h('div');
    render(h('h1', {}, 'Balance lookup'), h('form', {
      class: 'panel',
      onsubmit: async (ev) => {
        ev.preventDefault();
        try { out.replaceChildren(balanceFacts(await get(`/v1/accounts/${id.value.trim()}/balance`))); } catch (e) { flash(e.message, true); }
      },
    }, h('div', { class: 'row' }, id, h('button', { type: 'submit', class: 'primary' }, 'Look up')), out));
  }

  // ---------- router ----------
  const ROUTES = [
    [/^#\/login$/, null, loginPage],
    [/^#\/requests$/, 'queue', requestsPage],
    [/^#\/requests\/([0-9a-f-]{36})$/, null, requestPage],
    [/^#\/accounts$/, 'accounts', accountsPage],
    [/^#\/accounts\/([0-9a-f-]{36})$/, null, accountPage],
    [/^#\/accounts\/([0-9a-f-]{36})\/timeline$/, 'audit', timelinePage],
    [/^#\/accounts\/([0-9a-f-]{36})\/asof$/, 'usage', asofPage],
    [/^#\/accounts\/([0-9a-f-]{36})\/usage$/, 'usage', usagePage],
    [/^#\/chain$/, 'audit', chainPage],
    [/^#\/balance$/, 'balance', balanceLookupPage],
  ];
  function home() {
    if (can('queue')) return '#/requests';
    if (state.me.role === 'customer' && state.me.account_id) return `#/accounts/${state.me.account_id}/usage`;
    return '#/balance';
  }
  let seq = 0;
  async function route() {
    const my = ++seq;
    const hash = location.hash || '#/';
    const path = hash.split('?')[0];
    try {
      await loadMe();
    } catch (e) {
      flash(e.message, true);
    }
    drawHeader();
    if (!state.me) {
      if (path !== '#/login') { location.hash = '#/login'; return; }
      loginPage();
      return;
    }
    if (path === '#/' || path === '#/login') { location.hash = home(); return; }
    for (const [re, need, page] of ROUTES) {
      const m = path.match(re);
      if (!m) continue;
      if (need && !can(need)) {
        render(h('div', { class: 'panel' }, h('h1', {}, 'Not available for your role'), h('p', { class: 'muted' }, `A ${state.me.role} token cannot use this page.`)));
        return;
      }
      document.body.dataset.page = 'loading';
      try {
        await page(...m.slice(1));
        if (my === seq) document.body.dataset.page = path.replace(/[0-9a-f-]{36}/g, ':id');
      } catch (e) {
        if (my !== seq) return;
        render(h('div', { class: 'panel' }, h('h1', {}, 'Could not load this page'), h('p', { class: 'flash error' }, e.message)));
        document.body.dataset.page = 'error';
      }
      return;
    }
    render(h('div', { class: 'panel' }, h('h1', {}, 'Not found'), h('p', {}, h('a', { href: '#/' }, 'Home'))));
  }

  // for the browser tests: the deadline rule without going through the DOM
  window.LedgerlineConsole = { light, nextDeadline };
  window.addEventListener('hashchange', route);
  window.addEventListener('DOMContentLoaded', route);
})();
