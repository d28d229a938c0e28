/*! unico.js: the Unico web tag. Apache-2.0. No dependencies, ES2017.
 *
 * <script async src="https://UNICO/sdk/unico.js" data-write-key="wk_..."></script>
 * or the stub snippet in README.md, then unico.load(writeKey, {host}).
 *
 * Events wait in localStorage until the server acknowledges them, so nothing is lost when a
 * request fails or the visitor leaves; the server de-duplicates by messageId, which makes a
 * re-send after an unconfirmed beacon harmless. JSON goes as text/plain with the write key in
 * the body: a CORS "simple request", so no preflight and sendBeacon works from any site.
 */
(() => {
  'use strict';
  const VERSION = '0.1.0';
  const w = window, d = document, nav = navigator;
  const prior = w.unico;
  if (prior && prior.loaded) return;
  const script = d.currentScript;
  const cfg = { writeKey: '', host: '', flushAt: 20, flushInterval: 1000, maxBackoff: 30000, maxQueue: 500 };
  const RETRY = (s) => s >= 500 || s === 429 || s === 408;
  const REF_MS = 30 * 60 * 1000;
  const MAX_REFS = 20;
  let timer = 0, attempt = 0, sending = false;

  // Storage: localStorage, memory if it is blocked; the anonymous id also in a cookie.
  const mem = {};
  const ls = {
    get(k) {
      try { const v = localStorage.getItem('unico:' + k); return v == null ? mem[k] : JSON.parse(v); } catch (e) { return mem[k]; }
    },
    set(k, v) { mem[k] = v; try { localStorage.setItem('unico:' + k, JSON.stringify(v)); } catch (e) { /* memory only */ } },
    del(k) { delete mem[k]; try { localStorage.removeItem('unico:' + k); } catch (e) { /* memory only */ } },
  };
  const cookie = (k, v) => {
    if (v === undefined) {
      const m = d.cookie.match(new RegExp('(?:^|; )unico_' + k + '=([^;]*)'));
      return m ? decodeURIComponent(m[1]) : undefined;
    }
    d.cookie = 'unico_' + k + '=' + encodeURIComponent(v) + '; path=/; max-age=' + (v ? 31536000 : 0) + '; SameSite=Lax';
  };

  const uuid = () => (w.crypto && crypto.randomUUID ? crypto.randomUUID()
    : '10000000-1000-4000-8000-100000000000'.replace(/[018]/g, (c) => (c ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (c / 4)))).toString(16)));

  const anonymousId = () => {
    let id = ls.get('aid') || cookie('aid');
    if (!id) id = uuid();
    ls.set('aid', id);
    if (cookie('aid') !== id) cookie('aid', id);
    return id;
  };
  const gpc = () => nav.globalPrivacyControl === true;

  const localTime = () => {
    const t = new Date(), off = -t.getTimezoneOffset(), a = Math.abs(off);
    const p = (n) => String(n).padStart(2, '0');
    return new Date(t.getTime() + off * 60000).toISOString().slice(0, 19) + (off < 0 ? '-' : '+') + p(Math.floor(a / 60)) + ':' + p(a % 60);
  };
  const pageInfo = () => ({ path: location.pathname, referrer: d.referrer, search: location.search, title: d.title, url: location.href });
  const context = () => {
    const c = { page: pageInfo(), userAgent: nav.userAgent, locale: nav.language, library: { name: 'unico.js', version: VERSION } };
    try { c.timezone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { /* old browser */ }
    // Global Privacy Control: an opt-out of marketing on every message (the Sec-GPC header
    // says the same when the browser sends it).
    if (gpc()) c.consent = { categoryPreferences: { marketing: false } };
    return c;
  };
  const ids = () => {
    const m = { anonymousId: anonymousId() }, u = ls.get('uid');
    if (u) m.userId = u;
    return m;
  };
  const post = (path, body) => fetch(cfg.host + path, {
    method: 'POST', body: JSON.stringify(Object.assign({ writeKey: cfg.writeKey }, body)),
    headers: { 'Content-Type': 'text/plain' }, credentials: 'omit',
  });

  // The queue.
  const queue = () => { const q = ls.get('q'); return Array.isArray(q) ? q : []; };
  const schedule = (ms) => {
    if (timer) {
      if (attempt || ms) return; // keep a pending back-off; an earlier flush only when due now
      clearTimeout(timer);
    }
    timer = setTimeout(() => { timer = 0; flush(); }, ms);
  };
  const enqueue = (type, fields) => {
    const msg = Object.assign({ type, messageId: uuid(), timestamp: new Date().toISOString(), context: context() }, ids(), fields);
    const q = queue();
    q.push(msg);
    ls.set('q', q.slice(-cfg.maxQueue));
    schedule(q.length >= cfg.flushAt ? 0 : cfg.flushInterval);
    return msg;
  };
  const forget = (sent) => {
    const gone = new Set(sent.map((m) => m.messageId));
    ls.set('q', queue().filter((m) => !gone.has(m.messageId)));
  };
  const batchBody = (batch) => ({ batch, sentAt: new Date().toISOString() });

  async function flush() {
    const q = queue();
    if (sending || !cfg.writeKey || !q.length) return;
    const batch = q.slice(0, 100);
    let retry = false;
    sending = true;
    try {
      retry = RETRY((await post('/v1/batch', batchBody(batch))).status);
    } catch (e) {
      retry = true; // network error: the server is down or the visitor is offline
    }
    sending = false;
    if (retry) {
      attempt += 1;
      schedule(Math.min(cfg.maxBackoff, 500 * 2 ** attempt) * (0.5 + Math.random() / 2));
      return;
    }
    attempt = 0; // a 4xx will not get better by retrying: the server dead-letters what it refused
    forget(batch);
    const left = queue().length;
    if (left) schedule(left >= cfg.flushAt ? 0 : cfg.flushInterval);
  }

  // The page is going away: hand what is queued to the browser. It stays queued until a
  // later page gets an answer (a beacon's fate is unknown).
  const beacon = () => {
    const q = queue();
    if (!q.length || !cfg.writeKey) return;
    let n = Math.min(q.length, 100), data;
    do { data = JSON.stringify(Object.assign({ writeKey: cfg.writeKey }, batchBody(q.slice(0, n)))); n >>= 1; } while (n && data.length > 60000);
    const url = cfg.host + '/v1/batch';
    if (!(nav.sendBeacon && nav.sendBeacon(url, new Blob([data], { type: 'text/plain' })))) {
      fetch(url, { method: 'POST', body: data, keepalive: true, credentials: 'omit', headers: { 'Content-Type': 'text/plain' } }).catch(() => {});
    }
  };

  // Which recommendation brought the visitor to an item: a click stored it (the last
  // MAX_REFS clicked items are remembered for REF_MS), or ?unico_decision= on a landing page.
  const refs = () => {
    const now = Date.now(), all = ls.get('refs') || {};
    return Object.keys(all).filter((k) => all[k] && now - all[k].at < REF_MS).sort((a, b) => all[b].at - all[a].at)
      .slice(0, MAX_REFS).reduce((out, k) => { out[k] = all[k]; return out; }, {});
  };
  const reference = (product, landing) => {
    const url = landing && new URLSearchParams(location.search).get('unico_decision');
    if (url) return url;
    const ref = refs()[String(product.product_id != null ? product.product_id : product.sku)];
    return ref ? ref.decision : null;
  };
  // Product events of a recommended item carry its decision id, so adds and orders count.
  const attribute = (event, p) => {
    if ((event === 'Product Viewed' || event === 'Product Added') && p.decision_id == null) {
      const dec = reference(p, event === 'Product Viewed');
      if (dec) p.decision_id = dec;
    } else if (event === 'Order Completed' && Array.isArray(p.products)) {
      p.products = p.products.map((it) => {
        if (!it || typeof it !== 'object' || it.decision_id != null) return it;
        const dec = reference(it, false);
        return dec ? Object.assign({}, it, { decision_id: dec }) : it;
      });
    }
    return p;
  };

  const api = {
    loaded: true,
    VERSION,
    load(writeKey, opts) {
      const o = opts || {};
      cfg.writeKey = writeKey || cfg.writeKey;
      const host = o.host || (script && script.dataset.host) || (script && script.src ? new URL(script.src).origin : location.origin);
      cfg.host = String(host).replace(/\/+$/, '');
      ['flushAt', 'flushInterval', 'maxBackoff'].forEach((k) => { if (o[k] > 0) cfg[k] = o[k]; });
      schedule(0);
      return api;
    },
    page(name, props) {
      if (typeof name === 'object' && name) { props = name; name = undefined; }
      return enqueue('page', Object.assign(name ? { name } : {}, { properties: Object.assign(pageInfo(), props) }));
    },
    track(event, props) {
      return enqueue('track', { event, properties: attribute(event, Object.assign({}, props)) });
    },
    identify(userId, traits) {
      if (typeof userId === 'object' && userId) { traits = userId; userId = undefined; }
      if (userId != null) ls.set('uid', String(userId));
      return enqueue('identify', { traits: Object.assign({}, traits) });
    },
    reset() {
      ['uid', 'aid', 'refs'].forEach(ls.del);
      cookie('aid', '');
    },
    user: () => ids(),
    flush,
    /** Record the visitor's choice per purpose; without an argument, the choice stored here. */
    async consent(purposes) {
      if (!purposes) return Object.assign({}, ls.get('consent'));
      const p = Object.assign({}, purposes);
      if (gpc()) p.marketing = false;
      ls.set('consent', Object.assign({}, ls.get('consent'), p));
      const messageId = uuid();
      try {
        const r = await post('/v1/consent', Object.assign({ messageId, purposes: p, context: context() }, ids()));
        if (RETRY(r.status)) throw r.status; // caught below: queued instead
        return r.ok ? (await r.json()).consent : null;
      } catch (e) {
        // Not recorded yet: the same change goes through the retrying queue, same messageId.
        enqueue('track', { event: 'Consent Updated', messageId, properties: { purposes: p } });
        return null;
      }
    },
    personalize,
  };

  // -- personalization --
  const attr = (name) => { const el = d.querySelector('[data-unico-' + name + ']'); return el && el.getAttribute('data-unico-' + name); };
  const list = (v) => (Array.isArray(v) ? v.map(String) : v ? String(v).split(',').map((s) => s.trim()).filter(Boolean) : []);
  const device = () => {
    const ua = nav.userAgent;
    return /iPad|Tablet/i.test(ua) ? 'tablet' : /Mobi|Android|iPhone/i.test(ua) ? 'mobile' : 'desktop';
  };
  const safeUrl = (u, image) => {
    try {
      const url = new URL(u, location.href);
      if (/^https?:$/.test(url.protocol) || (image && /^data:image\//.test(u))) return url.href;
    } catch (e) { /* not a URL */ }
    return null;
  };
  const price = (it) => {
    if (it.price == null) return '';
    try { return new Intl.NumberFormat(nav.language, { style: 'currency', currency: it.currency || 'EUR' }).format(it.price); } catch (e) { return it.price + ' ' + (it.currency || ''); }
  };
  const el = (tag, cls, text) => { const e = d.createElement(tag); if (cls) e.className = cls; if (text) e.textContent = text; return e; };

  // The default template's look: a responsive grid of cards. :where() has no specificity,
  // so any rule of the site's wins; under a CSP without inline styles the tag just goes without.
  const style = () => d.getElementById('unico-css') || d.head.prepend(Object.assign(el('style', 0,
    ':where(.unico-items){display:grid;grid-template-columns:repeat(auto-fill,minmax(9em,1fr));gap:1em}:where(.unico-item){display:grid;align-content:start;color:inherit;text-decoration:none}:where(.unico-item img){width:100%;aspect-ratio:1;object-fit:contain}'), { id: 'unico-css' }));
  const defaultItem = (it) => {
    const a = el('a', 'unico-item'), href = safeUrl(it.url), src = it.image && safeUrl(it.image, true);
    if (href) a.href = href;
    if (src) { const img = el('img'); img.src = src; img.alt = ''; img.loading = 'lazy'; a.append(img); }
    a.append(el('span', 'unico-item-title', it.title || it.id), el('span', 'unico-item-price', price(it)));
    return a;
  };
  // A <template> child renders each item: data-unico-text="title" fills text,
  // data-unico-attr="href:url,src:image" fills attributes ("price" is formatted).
  const fromTemplate = (tpl, it) => {
    const frag = tpl.content.cloneNode(true);
    const value = (f) => (f === 'price' ? price(it) : it[f] == null ? '' : String(it[f]));
    frag.querySelectorAll('[data-unico-text]').forEach((n) => { n.textContent = value(n.getAttribute('data-unico-text')); });
    frag.querySelectorAll('[data-unico-attr]').forEach((n) => {
      n.getAttribute('data-unico-attr').split(',').forEach((pair) => {
        const [name, f] = pair.split(':').map((s) => s.trim());
        const v = /^(href|src)$/i.test(name) ? safeUrl(value(f), name === 'src') : value(f);
        if (name && !/^on/i.test(name) && v != null) n.setAttribute(name, v);
      });
    });
    return frag;
  };

  const observer = w.IntersectionObserver && new IntersectionObserver((entries) => {
    entries.forEach((e) => {
      const half = e.intersectionRatio >= 0.5 || e.intersectionRect.height >= w.innerHeight / 2;
      if (e.isIntersecting && half) seen(e.target);
    });
  }, { threshold: [0, 0.5, 1] });
  const seen = (box) => {
    const dec = box.getAttribute('data-unico-decision');
    if (!dec || box.getAttribute('data-unico-seen') === dec) return;
    box.setAttribute('data-unico-seen', dec);
    const shown = [...box.querySelectorAll('[data-unico-item-id]')].map((n) => n.getAttribute('data-unico-item-id'));
    api.track('Placement Viewed', { decision_id: dec, placement: box.getAttribute('data-unico-placement'), item_ids: shown });
  };
  const clicked = (ev) => {
    const box = ev.currentTarget, hit = ev.target.closest && ev.target.closest('[data-unico-item-id]');
    const dec = box.getAttribute('data-unico-decision');
    if (!hit || !box.contains(hit) || !dec) return;
    const item = hit.getAttribute('data-unico-item-id'), placement = box.getAttribute('data-unico-placement');
    ls.set('refs', Object.assign(refs(), { [item]: { decision: dec, placement, at: Date.now() } }));
    api.track('Placement Clicked', { decision_id: dec, placement, item_id: item, position: Number(hit.getAttribute('data-unico-position')) });
  };

  const render = (box, dec) => {
    const tpl = box.querySelector('template'), items = dec.items || [];
    const target = box.querySelector('[data-unico-items]') || box;
    const out = el('div', 'unico-items');
    style();
    tpl || target === box || target.classList.add('unico-items'); // default items lay out in a grid
    items.forEach((it, i) => {
      const node = tpl ? fromTemplate(tpl, it) : defaultItem(it);
      const roots = node.nodeType === 11 ? [...node.children] : [node];
      roots.forEach((r) => { r.setAttribute('data-unico-item-id', it.id); r.setAttribute('data-unico-position', it.position || i + 1); });
      out.append(node);
    });
    [...target.childNodes].forEach((n) => { if (n !== tpl) n.remove(); });
    target.append(...(target === box ? [out] : out.childNodes));
    box.setAttribute('data-unico-decision', dec.decision_id || '');
    box.setAttribute('data-unico-default', String(Boolean(dec.is_default)));
    box.setAttribute('data-unico-count', String(items.length));
    box.removeAttribute('data-unico-error');
    if (!box.unicoBound) { box.unicoBound = true; box.addEventListener('click', clicked); }
    if (observer) { observer.unobserve(box); observer.observe(box); } else seen(box);
  };

  /** Ask /v1/decide once for every [data-unico-placement] element and fill them. */
  async function personalize(opts) {
    const o = opts || {};
    if (d.readyState === 'loading') await new Promise((r) => d.addEventListener('DOMContentLoaded', r, { once: true }));
    const boxes = [...d.querySelectorAll('[data-unico-placement]')];
    if (!boxes.length || !cfg.writeKey) return {};
    const ctx = { channel: 'web', device: device(), language: nav.language, local_time: localTime(),
      page: { url: location.href, type: o.pageType || attr('page') || 'other' } };
    const item = o.item || attr('item'), cart = list(o.cart || attr('cart'));
    if (item) ctx.item = String(item);
    if (cart.length) ctx.cart = cart;
    let decisions = {};
    try {
      const r = await post('/v1/decide', Object.assign({ context: ctx, placements: [...new Set(boxes.map((b) => b.getAttribute('data-unico-placement')))] }, ids()));
      if (!r.ok) throw r.status; // caught below
      decisions = (await r.json()).decisions || {};
    } catch (e) {
      boxes.forEach((b) => b.setAttribute('data-unico-error', 'true')); // the page's own content stays
      return {};
    }
    boxes.forEach((b) => { const dec = decisions[b.getAttribute('data-unico-placement')]; if (dec) render(b, dec); });
    return decisions;
  }

  w.addEventListener('pagehide', beacon);
  d.addEventListener('visibilitychange', () => { if (d.visibilityState === 'hidden') beacon(); });
  w.addEventListener('online', () => { attempt = 0; schedule(0); });

  w.unico = api;
  const calls = Array.isArray(prior) ? prior.slice() : [];
  const key = script && script.dataset.writeKey;
  if (key) api.load(key);
  calls.forEach((c) => { if (typeof api[c[0]] === 'function') api[c[0]](...c.slice(1)); });
  if (key && script.dataset.auto !== 'false') {
    if (!calls.some((c) => c[0] === 'page')) api.page();
    if (!calls.some((c) => c[0] === 'personalize')) personalize();
  }
})();
