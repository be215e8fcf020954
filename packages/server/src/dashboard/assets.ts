/**
 * The live dashboard: one HTML page and one script, both served by the server itself (no CDN, no
 * build step). The script reads the token from the page's fragment (`/#token=...`, never sent to
 * the server in a URL) or from localStorage, calls the read routes with it, and follows
 * /v1/events with fetch streaming (EventSource cannot send an Authorization header).
 */

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>bernstein · live canaries</title>
<style>
  :root { --fg:#1d232a; --muted:#5f6b7a; --line:#d9dee4; --stable:#2f6db5; --canary:#d9822b; --bad:#c0392b; --good:#2e8b57; --bg:#f6f7f9; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
  header { display: flex; align-items: baseline; gap: 16px; padding: 14px 24px; background: #fff; border-bottom: 1px solid var(--line); }
  header h1 { font-size: 18px; margin: 0; }
  #connection { font-size: 12px; padding: 2px 8px; border-radius: 10px; background: #eee; color: var(--muted); }
  #connection.live { background: #e3f4ea; color: var(--good); }
  #connection.down { background: #fbe9e7; color: var(--bad); }
  #updated { color: var(--muted); font-size: 12px; margin-left: auto; }
  main { padding: 16px 24px; display: grid; gap: 16px; }
  .role { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 14px 18px; }
  .role h2 { margin: 0 0 6px; font-size: 16px; }
  .meta { color: var(--muted); font-size: 13px; }
  .meta code, td code { font-size: 12px; background: #f0f2f5; padding: 1px 4px; border-radius: 3px; }
  table { border-collapse: collapse; margin: 8px 0; }
  th, td { text-align: left; padding: 4px 12px 4px 0; border-bottom: 1px solid #eef0f3; font-variant-numeric: tabular-nums; }
  th { color: var(--muted); font-weight: 500; font-size: 12px; }
  .arm-stable { color: var(--stable); font-weight: 600; }
  .arm-canary { color: var(--canary); font-weight: 600; }
  .decision { margin: 6px 0; padding: 6px 10px; border-radius: 6px; background: #f0f2f5; }
  .decision.rollback, .decision.rolled-back { background: #fbe9e7; }
  .decision.promote, .decision.promoted { background: #e3f4ea; }
  .chart { margin-top: 8px; }
  .chart svg { width: 100%; max-width: 760px; height: 200px; background: #fcfcfd; border: 1px solid #eef0f3; border-radius: 6px; }
  .legend { font-size: 12px; color: var(--muted); }
  .trail { font-size: 12px; }
  .trail td { padding-right: 10px; }
  #auth { display: none; background: #fff8e1; border: 1px solid #f0d98c; padding: 10px 14px; border-radius: 8px; }
  #auth.show { display: block; }
  .empty { color: var(--muted); }
</style>
</head>
<body>
<header>
  <h1>bernstein · live canaries</h1>
  <span id="connection" data-testid="connection">connecting</span>
  <span id="updated"></span>
</header>
<main>
  <form id="auth" data-testid="auth">
    This server needs a token (scope read or higher):
    <input id="token" type="password" autocomplete="off" size="40">
    <button type="submit">Use token</button>
  </form>
  <section id="roles" data-testid="roles"><p class="empty">loading…</p></section>
  <section class="role">
    <h2>Audit trail</h2>
    <div id="trail" class="trail" data-testid="trail"><p class="empty">loading…</p></div>
  </section>
</main>
<script src="/dashboard.js"></script>
</body>
</html>
`;

// Plain ES2017 for any browser; no template literals inside (this file is a template itself).
export const DASHBOARD_SCRIPT = String.raw`(function () {
  'use strict';
  var loadedAt = Date.now();
  window.__bernsteinDashboardLoadedAt = loadedAt;
  var token = readToken();
  var state = { roles: [], report: null, history: [] };
  var refreshTimer = null;

  function readToken() {
    var m = /(?:^|[#&])token=([^&]+)/.exec(location.hash);
    if (m) {
      var t = decodeURIComponent(m[1]);
      try { localStorage.setItem('bernstein-token', t); } catch (e) {}
      history.replaceState(null, '', location.pathname + location.search);
      return t;
    }
    try { return localStorage.getItem('bernstein-token') || ''; } catch (e) { return ''; }
  }

  function headers() {
    var h = { Accept: 'application/json' };
    if (token) h.Authorization = 'Bearer ' + token;
    return h;
  }

  function api(path) {
    return fetch(path, { headers: headers(), cache: 'no-store' }).then(function (r) {
      if (r.status === 401 || r.status === 403) { needToken(); throw new Error('unauthorized'); }
      if (!r.ok) return r.json().then(function (b) { throw new Error((b && b.error && b.error.message) || ('HTTP ' + r.status)); });
      return r.json();
    });
  }

  function needToken() {
    document.getElementById('auth').className = 'show';
    setConnection('down', 'needs a token');
  }

  document.getElementById('auth').addEventListener('submit', function (e) {
    e.preventDefault();
    token = document.getElementById('token').value.trim();
    try { localStorage.setItem('bernstein-token', token); } catch (err) {}
    document.getElementById('auth').className = '';
    start();
  });

  function setConnection(cls, text) {
    var el = document.getElementById('connection');
    el.className = cls;
    el.textContent = text;
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) for (var k in attrs) {
      if (k === 'text') node.textContent = attrs[k];
      else if (k === 'cls') node.className = attrs[k];
      else node.setAttribute(k, attrs[k]);
    }
    (children || []).forEach(function (c) { if (c) node.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); });
    return node;
  }

  function pct(passed, tasks) { return tasks ? Math.round(passed / tasks * 1000) / 10 + ' %' : '–'; }
  function interval(evidence, arm) {
    var v = evidence && evidence[arm] && evidence[arm].interval;
    return v ? Math.round(v[0] * 100) + '–' + Math.round(v[1] * 100) + ' %' : '–';
  }
  function shortTime(at) { return String(at).replace('T', ' ').replace(/\.\d+Z$/, 'Z'); }

  function latestCanary(role) {
    var canaries = (state.report && state.report.canaries) || [];
    var found = null;
    canaries.forEach(function (c) { if (c.role === role) found = c; });
    return found;
  }

  function renderRoles() {
    var root = document.getElementById('roles');
    root.textContent = '';
    if (state.roles.length === 0) {
      root.appendChild(el('p', { cls: 'empty', text: 'No roles yet: route a task (POST /ofrep/v1/evaluate/flags/<role>) or start a canary.' }));
      return;
    }
    state.roles.forEach(function (r) { root.appendChild(renderRole(r)); });
  }

  function renderRole(r) {
    var card = el('article', { cls: 'role', 'data-role': r.role });
    card.appendChild(el('h2', { text: r.role }));
    var c = r.canary;
    var meta = el('div', { cls: 'meta' }, ['stable ', el('code', { 'data-field': 'stable-version', text: r.stableVersion || '–' })]);
    if (c) {
      meta.appendChild(document.createTextNode(' · canary '));
      meta.appendChild(el('code', { 'data-field': 'canary-version', text: c.versionId }));
      meta.appendChild(document.createTextNode(' at '));
      meta.appendChild(el('strong', { 'data-field': 'percentage', text: c.percentage + ' %' }));
      if (c.step !== null) meta.appendChild(document.createTextNode(' · step ' + c.step + '/' + c.steps.length + ' (' + c.steps.join(' → ') + ' %)'));
      meta.appendChild(document.createTextNode(' · policy ' + c.policy + ' · since ' + shortTime(c.startedAt)));
    } else {
      meta.appendChild(document.createTextNode(' · no canary running'));
    }
    if (r.rejected && r.rejected.length) meta.appendChild(document.createTextNode(' · rejected: ' + r.rejected.join(', ')));
    card.appendChild(meta);

    var t = el('table', null, [el('tr', null, ['arm', 'tasks', 'passed', 'pass rate', '95 % interval'].map(function (h) { return el('th', { text: h }); }))]);
    var evidence = c && c.decision && c.decision.evidence;
    var arms = c ? [['stable', c.stable], ['canary', c.canary]] : [['stable', r.stableOutcomes]];
    arms.forEach(function (pair) {
      var arm = pair[0], n = pair[1];
      t.appendChild(el('tr', { 'data-arm': arm }, [
        el('td', { cls: 'arm-' + arm, text: arm }),
        el('td', { 'data-field': arm + '-tasks', text: String(n.tasks) }),
        el('td', { 'data-field': arm + '-passed', text: String(n.passed) }),
        el('td', { 'data-field': arm + '-rate', text: pct(n.passed, n.tasks) }),
        el('td', { text: c ? interval(evidence, arm) : '–' })
      ]));
    });
    card.appendChild(t);

    var last = latestCanary(r.role);
    var decision;
    if (c) {
      decision = el('div', { cls: 'decision ' + c.decision.action, 'data-field': 'decision', 'data-action': c.decision.action },
        [el('strong', { text: 'decision: ' + c.decision.action }), ' (' + c.decision.rule + '): ' + c.decision.reason]);
      var needed = evidence && evidence.tasksNeeded;
      if (c.decision.action === 'continue' && typeof needed === 'number') decision.appendChild(document.createTextNode(' · about ' + needed + ' more canary outcomes before a decision'));
    } else if (last && last.decision) {
      var ended = last.status === 'rolled back' ? 'rolled-back' : last.status;
      decision = el('div', { cls: 'decision ' + ended, 'data-field': 'decision', 'data-action': last.decision.kind },
        [el('strong', { text: 'last canary ' + last.canaryId + ': ' + last.status }), ' by ' + last.decision.actor + ': ' + last.decision.reason]);
      decision.appendChild(el('div', { cls: 'meta', 'data-field': 'last-totals', text: 'its evidence: stable ' + last.totals.stable.passed + '/' + last.totals.stable.tasks + ' passed, canary ' + last.totals.canary.passed + '/' + last.totals.canary.tasks + ' passed' }));
    } else {
      decision = el('div', { cls: 'decision', 'data-field': 'decision', 'data-action': 'none', text: 'no canary has run yet' });
    }
    card.appendChild(decision);
    card.appendChild(renderChart(last));
    return card;
  }

  var SVGNS = 'http://www.w3.org/2000/svg';
  function svg(tag, attrs) {
    var n = document.createElementNS(SVGNS, tag);
    for (var k in attrs) n.setAttribute(k, attrs[k]);
    return n;
  }

  function renderChart(canary) {
    var box = el('div', { cls: 'chart' });
    if (!canary) return box;
    var W = 760, H = 200, L = 36, R = 10, T = 10, B = 22;
    var s = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, 'data-chart': canary.canaryId, role: 'img', 'aria-label': 'pass rate of each arm over the canary' });
    var total = Math.max(1, canary.totalX);
    function x(v) { return L + (W - L - R) * (v / total); }
    function y(v) { return T + (H - T - B) * (1 - v); }
    [0, 0.25, 0.5, 0.75, 1].forEach(function (g) {
      s.appendChild(svg('line', { x1: L, x2: W - R, y1: y(g), y2: y(g), stroke: '#eef0f3' }));
      var label = svg('text', { x: 4, y: y(g) + 4, 'font-size': 10, fill: '#5f6b7a' });
      label.textContent = Math.round(g * 100) + '%';
      s.appendChild(label);
    });
    var points = { stable: 0, canary: 0 };
    (canary.windows || []).forEach(function (w) {
      ['stable', 'canary'].forEach(function (arm) {
        var series = w[arm] || [];
        if (series.length === 0) return;
        points[arm] += series.length;
        var color = arm === 'stable' ? '#2f6db5' : '#d9822b';
        var upper = series.map(function (p) { return x(p.x) + ',' + y(p.upper); });
        var lower = series.slice().reverse().map(function (p) { return x(p.x) + ',' + y(p.lower); });
        s.appendChild(svg('polygon', { points: upper.concat(lower).join(' '), fill: color, 'fill-opacity': 0.12, stroke: 'none' }));
        s.appendChild(svg('polyline', { points: series.map(function (p) { return x(p.x) + ',' + y(p.rate); }).join(' '), fill: 'none', stroke: color, 'stroke-width': 2, 'data-arm': arm, 'data-points': series.length }));
      });
    });
    (canary.markers || []).forEach(function (m) {
      s.appendChild(svg('line', { x1: x(m.x), x2: x(m.x), y1: T, y2: H - B, stroke: m.kind === 'rollback' ? '#c0392b' : '#5f6b7a', 'stroke-dasharray': '4 3', 'data-marker': m.kind }));
    });
    s.setAttribute('data-stable-points', points.stable);
    s.setAttribute('data-canary-points', points.canary);
    box.appendChild(s);
    box.appendChild(el('div', { cls: 'legend', text: 'cumulative pass rate with 95 % band · stable (blue) · canary (orange) · x: canary outcomes · canary ' + canary.canaryId + ' ' + canary.status }));
    return box;
  }

  function renderTrail() {
    var root = document.getElementById('trail');
    root.textContent = '';
    var events = state.history.slice(-25).reverse();
    if (events.length === 0) { root.appendChild(el('p', { cls: 'empty', text: 'no transitions yet' })); return; }
    var t = el('table', null, [el('tr', null, ['time', 'role', 'action', 'from → to', 'actor', 'reason'].map(function (h) { return el('th', { text: h }); }))]);
    events.forEach(function (e) {
      t.appendChild(el('tr', { 'data-action': e.action }, [
        el('td', { text: shortTime(e.at) }), el('td', { text: e.role }), el('td', { text: e.action }),
        el('td', { text: (e.from || '–') + ' → ' + (e.to || '–') }), el('td', { text: e.actor }), el('td', { text: e.reason })
      ]));
    });
    root.appendChild(t);
  }

  function render() {
    renderRoles();
    renderTrail();
    document.getElementById('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
  }

  function loadHistory() {
    // Page through the whole log (it is small: one event per transition).
    var all = [];
    function page(cursor) {
      return api('/v1/history?limit=500' + (cursor ? '&cursor=' + cursor : '')).then(function (b) {
        all = all.concat(b.events);
        return b.more ? page(b.nextCursor) : all;
      });
    }
    return page('');
  }

  function refreshDetails() {
    return Promise.all([api('/v1/report/data'), loadHistory()]).then(function (res) {
      state.report = res[0];
      state.history = res[1];
      render();
    });
  }

  function scheduleRefresh() {
    if (refreshTimer) return;
    refreshTimer = setTimeout(function () {
      refreshTimer = null;
      refreshDetails().catch(function () {});
    }, 250);
  }

  function follow() {
    var controller = new AbortController();
    fetch('/v1/events', { headers: Object.assign(headers(), { Accept: 'text/event-stream' }), signal: controller.signal, cache: 'no-store' }).then(function (r) {
      if (r.status === 401 || r.status === 403) { needToken(); return; }
      if (!r.ok || !r.body) throw new Error('HTTP ' + r.status);
      setConnection('live', 'live');
      var reader = r.body.getReader();
      var decoder = new TextDecoder();
      var buffer = '';
      function pump() {
        return reader.read().then(function (chunk) {
          if (chunk.done) throw new Error('stream ended');
          buffer += decoder.decode(chunk.value, { stream: true });
          var end;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            handle(buffer.slice(0, end));
            buffer = buffer.slice(end + 2);
          }
          return pump();
        });
      }
      return pump();
    }).catch(function () {
      setConnection('down', 'reconnecting');
      setTimeout(follow, 1000);
    });
  }

  function handle(block) {
    var event = 'message', data = '';
    block.split('\n').forEach(function (line) {
      if (line.indexOf('event:') === 0) event = line.slice(6).trim();
      else if (line.indexOf('data:') === 0) data += line.slice(5).replace(/^ /, '');
    });
    if (!data) return;
    var body = JSON.parse(data);
    if (event === 'status') {
      state.roles = body.roles;
      render();
      scheduleRefresh();
    } else if (event === 'transition' || event === 'outcomes') {
      scheduleRefresh();
    }
  }

  function start() {
    Promise.all([api('/v1/status'), refreshDetails()]).then(function (res) {
      state.roles = res[0].roles;
      render();
      follow();
    }).catch(function (e) {
      if (String(e && e.message) !== 'unauthorized') setConnection('down', 'error: ' + e.message);
    });
  }
  start();
})();
`;
