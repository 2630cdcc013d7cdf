// bpfmap's web view: the list of exported maps, and a live page per map (a sortable, filterable
// table of decoded entries with per-second rates, histograms drawn as bar charts, a tail of ring
// buffer and perf event array records).
//
// It reads only bpfmap serve's JSON API, from the same origin. Every string that comes from a map
// or a program goes into the page through textContent or a text node, never as HTML: a process
// name such as `<img src=x onerror=...>` shows as those characters. The server's
// Content-Security-Policy allows this script and stylesheet and nothing else.

const app = document.getElementById('app');
const crumbs = document.getElementById('crumbs');
const statusLine = document.getElementById('status');

/** Element builder: attributes by property, children as nodes or text (never parsed as HTML). */
function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (name === 'class') element.className = value;
    else if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else if (name === 'dataset') Object.assign(element.dataset, value);
    else element.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

const SVG = 'http://www.w3.org/2000/svg';
function s(tag, attrs = {}, text) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) element.setAttribute(name, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

/** JSON with exact 64-bit integers: integers beyond 2^53 become BigInts from their source digits. */
function parseExact(text) {
  return JSON.parse(text, (key, value, context) => {
    if (typeof value === 'number' && !Number.isSafeInteger(value) && context && /^-?\d+$/.test(context.source)) return BigInt(context.source);
    return value;
  });
}

async function getJson(path) {
  const response = await fetch(path, { headers: { Accept: 'application/json' } });
  const text = await response.text();
  const body = text === '' ? {} : parseExact(text);
  if (!response.ok) throw new Error(body?.error?.message ?? body?.message ?? `${response.status} ${response.statusText}`);
  return body;
}

/** Compact text of a decoded value: strings bare at the top level, everything else JSON-like. */
function show(value, top = true) {
  if (value === undefined || value === null) return '';
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'string') return top ? value : JSON.stringify(value);
  if (typeof value !== 'object') return String(value);
  if (Array.isArray(value)) {
    if (value.length > 0 && value.every((item) => typeof item === 'string' && /^0x[0-9a-f]{2}$/.test(item))) return value.map((item) => item.slice(2)).join(' ');
    return `[${value.map((item) => show(item, false)).join(', ')}]`;
  }
  return `{${Object.entries(value).map(([name, item]) => `${name}: ${show(item, false)}`).join(', ')}}`;
}

function toNumber(value) {
  if (typeof value === 'bigint') return Number(value);
  return typeof value === 'number' ? value : NaN;
}

function formatRate(rate) {
  const abs = Math.abs(rate);
  const text = abs >= 100 || rate === 0 ? rate.toFixed(0) : abs >= 1 ? rate.toFixed(1) : rate.toPrecision(2);
  return `${text}/s`;
}

function setStatus(text, state) {
  statusLine.textContent = text;
  statusLine.className = `status ${state ?? ''}`;
}

function setCrumbs(...parts) {
  crumbs.replaceChildren(...parts.flatMap((part, i) => (i === 0 ? [part] : [' / ', part])));
}

// ---------- sortable, filterable tables ----------

/**
 * A table whose rows are re-rendered from data: columns { title, text(row), sortValue?(row),
 * numeric? }. Clicking a header sorts by it (again: reverse); the filter keeps rows whose text
 * contains the filter string.
 */
class LiveTable {
  constructor(columns, { onRowClick, rowKey } = {}) {
    this.columns = columns;
    this.onRowClick = onRowClick;
    this.rowKey = rowKey;
    this.sortColumn = 0;
    this.sortDirection = 1;
    this.filter = '';
    this.rows = [];
    this.previousText = new Map();
    this.head = h('tr', {}, columns.map((column, index) => h('th', { scope: 'col', onclick: () => this.sortBy(index) }, column.title)));
    this.body = h('tbody');
    this.element = h('table', {}, h('thead', {}, this.head), this.body);
  }

  sortBy(index) {
    if (this.sortColumn === index) this.sortDirection = -this.sortDirection;
    else {
      this.sortColumn = index;
      this.sortDirection = 1;
    }
    this.render();
  }

  setFilter(text) {
    this.filter = text.toLowerCase();
    this.render();
  }

  setRows(rows) {
    this.rows = rows;
    this.render();
  }

  render() {
    const column = this.columns[this.sortColumn];
    const key = column.sortValue ?? column.text;
    const visible = this.rows.filter((row) => this.filter === '' || this.columns.some((c) => c.text(row).toLowerCase().includes(this.filter)));
    visible.sort((a, b) => {
      const x = key(a);
      const y = key(b);
      const order = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y), undefined, { numeric: true });
      return order * this.sortDirection;
    });
    [...this.head.children].forEach((th, index) => {
      th.className = index === this.sortColumn ? (this.sortDirection > 0 ? 'sorted-asc' : 'sorted-desc') : '';
    });
    const seen = new Map();
    this.body.replaceChildren(
      ...visible.map((row) => {
        const texts = this.columns.map((c) => c.text(row));
        const id = this.rowKey ? this.rowKey(row) : texts[0];
        const joined = texts.join('\u0000');
        const changed = this.previousText.has(id) && this.previousText.get(id) !== joined;
        seen.set(id, joined);
        const tr = h(
          'tr',
          { class: `${this.onRowClick ? 'link' : ''} ${changed ? 'changed' : ''}`, dataset: { key: id } },
          this.columns.map((c, i) => h('td', { class: c.numeric ? 'num' : c.code ? 'code' : '' }, texts[i])),
        );
        if (this.onRowClick) tr.addEventListener('click', () => this.onRowClick(row));
        return tr;
      }),
    );
    this.previousText = seen;
    if (visible.length === 0) this.body.append(h('tr', {}, h('td', { colspan: this.columns.length, class: 'muted' }, this.rows.length === 0 ? 'No entries.' : 'No entries match the filter.')));
  }
}

function filterBox(table, placeholder) {
  return h('input', { type: 'search', placeholder, 'aria-label': placeholder, oninput: (event) => table.setFilter(event.target.value) });
}

// ---------- pages ----------

let cleanup = () => {};

async function mapList() {
  setCrumbs(h('span', {}, 'maps'));
  const table = new LiveTable(
    [
      { title: 'id', text: (m) => String(m.id), sortValue: (m) => m.id, numeric: true },
      { title: 'name', text: (m) => m.name ?? '' },
      { title: 'type', text: (m) => String(m.type) },
      { title: 'key', text: (m) => `${m.bytes_key} B`, sortValue: (m) => m.bytes_key, numeric: true },
      { title: 'value', text: (m) => `${m.bytes_value} B`, sortValue: (m) => m.bytes_value, numeric: true },
      { title: 'max entries', text: (m) => String(m.max_entries), sortValue: (m) => m.max_entries, numeric: true },
      { title: 'memlock', text: (m) => (m.bytes_memlock === undefined ? '' : `${m.bytes_memlock} B`), sortValue: (m) => toNumber(m.bytes_memlock ?? 0), numeric: true },
      { title: 'BTF', text: (m) => (m.btf_id ? `id ${m.btf_id}` : '') },
    ],
    { onRowClick: (m) => { location.hash = `#/maps/${m.id}`; }, rowKey: (m) => String(m.id) },
  );
  app.replaceChildren(h('h1', {}, 'Maps'), h('div', { class: 'toolbar' }, filterBox(table, 'Filter maps')), table.element);
  let stopped = false;
  const refresh = async () => {
    try {
      table.setRows(await getJson('/api/maps'));
      setStatus(`updated ${new Date().toLocaleTimeString()}`, 'live');
    } catch (error) {
      setStatus(`cannot list maps: ${error.message}`, 'down');
    }
  };
  await refresh();
  const timer = setInterval(() => { if (!stopped) refresh(); }, 5000);
  cleanup = () => {
    stopped = true;
    clearInterval(timer);
  };
}

/** The numbers of a `slots` array in a decoded value (libbpf-tools' `struct hist`), if it has one. */
function histogramSlots(value) {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const slots = value.slots;
  if (!Array.isArray(slots) || slots.length === 0 || !slots.every((n) => typeof n === 'number' || typeof n === 'bigint')) return undefined;
  return slots.map(toNumber);
}

/** Per-CPU values summed member by member (numbers only), so a per-CPU histogram draws as one. */
function sumPerCpu(values) {
  const first = values[0]?.value;
  const slots = histogramSlots(first);
  if (slots === undefined) return first;
  const total = slots.map(() => 0);
  for (const { value } of values) (histogramSlots(value) ?? []).forEach((n, i) => { total[i] += n; });
  return { ...first, slots: total };
}

/** bcc's print_log2_hist label for slot i: `low -> high` with [2^i, 2^(i+1) - 1], slot 0 being `0 -> 1`. */
function log2Label(index) {
  return index === 0 ? '0 -> 1' : `${2 ** index} -> ${2 ** (index + 1) - 1}`;
}

/** A horizontal bar chart of a histogram's non-empty range of slots, as SVG built node by node. */
function histogramChart(title, slots) {
  let first = slots.findIndex((n) => n > 0);
  let last = slots.length - 1 - [...slots].reverse().findIndex((n) => n > 0);
  if (first < 0) {
    first = 0;
    last = 0;
  }
  const rows = slots.slice(first, last + 1);
  const max = Math.max(1, ...rows);
  const rowHeight = 16;
  const labelWidth = 150;
  const countWidth = 90;
  const width = 720;
  const svg = s('svg', { viewBox: `0 0 ${width} ${rows.length * rowHeight + 4}`, role: 'img', 'aria-label': `histogram ${title}` });
  rows.forEach((count, i) => {
    const y = i * rowHeight + 2;
    svg.append(s('text', { x: labelWidth - 8, y: y + 11, 'text-anchor': 'end' }, log2Label(first + i)));
    svg.append(s('text', { x: labelWidth + countWidth - 8, y: y + 11, 'text-anchor': 'end' }, String(count)));
    const barWidth = ((width - labelWidth - countWidth - 4) * count) / max;
    svg.append(s('rect', { class: 'bar', x: labelWidth + countWidth, y: y + 2, width: Math.max(barWidth, count > 0 ? 1 : 0), height: rowHeight - 4 }));
  });
  const total = slots.reduce((a, b) => a + b, 0);
  return h('div', { class: 'hist', dataset: { total: String(total) } }, h('h3', {}, title, h('span', { class: 'muted' }, `  (${total} in all)`)), svg);
}

/** One rate as is; of several (a struct's members), the ones that move, four at most. */
function rateText(rates) {
  if (rates.length === 1) return rates[0][0] === 'value' ? formatRate(rates[0][1]) : `${rates[0][0]} ${formatRate(rates[0][1])}`;
  const moving = rates.filter(([, rate]) => rate !== 0);
  const shown = moving.slice(0, 4).map(([path, rate]) => `${path} ${formatRate(rate)}`);
  if (moving.length > 4) shown.push(`+${moving.length - 4} more`);
  return shown.join(', ');
}

function entryView(entry) {
  const formatted = entry.formatted;
  const key = formatted?.key ?? entry.key;
  let value;
  if (formatted?.values) value = formatted.values.length === 1 ? formatted.values[0].value : sumPerCpu(formatted.values);
  else if (formatted) value = formatted.value;
  else if (entry.values) value = entry.values.map((v) => show(v.value)).join(' | ');
  else value = entry.value;
  const rates = Object.entries(entry.rates ?? {}).filter(([, rate]) => typeof rate === 'number' && Number.isFinite(rate));
  return {
    id: show(entry.key),
    key,
    keyText: show(key),
    value,
    valueText: show(value),
    perCpu: formatted?.values !== undefined || entry.values !== undefined,
    rates,
    rateText: rateText(rates),
    rateSort: rates.reduce((sum, [, rate]) => sum + Math.abs(rate), 0),
  };
}

function infoLine(info) {
  const item = (label, value) => h('span', {}, `${label} `, h('b', {}, String(value)));
  return h(
    'div',
    { class: 'info' },
    item('type', info.type),
    item('id', info.id),
    item('key', `${info.bytes_key} B`),
    item('value', `${info.bytes_value} B`),
    item('max entries', info.max_entries),
    info.btf_id ? item('BTF id', info.btf_id) : null,
    info.frozen ? item('frozen', 'yes') : null,
  );
}

async function mapPage(id) {
  setCrumbs(h('a', { href: '#/' }, 'maps'), h('span', {}, `map ${id}`));
  let info;
  try {
    info = await getJson(`/api/maps/${encodeURIComponent(id)}`);
  } catch (error) {
    app.replaceChildren(h('p', { class: 'error' }, `Cannot open map ${id}: ${error.message}`));
    return;
  }
  setCrumbs(h('a', { href: '#/' }, 'maps'), h('span', {}, info.name || `map ${id}`));
  const heading = h('h1', {}, info.name || `map ${info.id}`);
  if (info.type === 'ringbuf' || info.type === 'perf_event_array') return eventsPage(info, heading);
  if (info.type === 'queue' || info.type === 'stack' || info.type === 'bloom_filter') {
    app.replaceChildren(heading, infoLine(info), h('p', { class: 'muted' }, `${info.type} maps have no keys to list.`));
    return;
  }

  const table = new LiveTable(
    [
      { title: 'key', text: (e) => e.keyText, code: true },
      { title: 'value', text: (e) => e.valueText, code: true },
      { title: 'rate', text: (e) => e.rateText, sortValue: (e) => e.rateSort, numeric: true },
    ],
    { rowKey: (e) => e.id },
  );
  const histograms = h('div', { id: 'histograms' });
  const summary = h('p', { class: 'muted' });
  app.replaceChildren(heading, infoLine(info), h('div', { class: 'toolbar' }, filterBox(table, 'Filter entries'), summary), histograms, table.element);

  const stream = new EventSource(`/api/maps/${encodeURIComponent(id)}/watch?interval=1`);
  stream.addEventListener('values', (event) => {
    const frame = parseExact(event.data);
    const entries = frame.entries.map(entryView);
    table.setRows(entries);
    summary.textContent = `${entries.length} entr${entries.length === 1 ? 'y' : 'ies'}${frame.truncated ? ' (more not shown)' : ''}`;
    const charts = entries
      .map((e) => ({ e, slots: histogramSlots(e.value) }))
      .filter(({ slots }) => slots !== undefined)
      .slice(0, 16)
      .map(({ e, slots }) => histogramChart(entries.length === 1 ? 'histogram' : `key ${e.keyText}`, slots));
    histograms.replaceChildren(...(charts.length > 0 ? [h('h2', {}, 'Histograms (log2 slots)'), ...charts] : []));
    setStatus(`live · updated ${new Date().toLocaleTimeString()}`, 'live');
  });
  stream.addEventListener('error', (event) => {
    if (event.data) setStatus(`error: ${parseExact(event.data).message}`, 'down');
    else setStatus('reconnecting…', 'down');
  });
  cleanup = () => stream.close();
}

function eventsPage(info, heading) {
  const list = h('tbody');
  const table = h('table', { class: 'tail' }, h('thead', {}, h('tr', {}, h('th', {}, 'time'), h('th', {}, 'cpu'), h('th', {}, 'record'))), list);
  const typeInput = h('input', { type: 'text', placeholder: 'record type, e.g. struct event', 'aria-label': 'record type' });
  const count = h('span', { class: 'muted' }, '0 records');
  const note = info.type === 'perf_event_array' ? 'Reading a perf event array replaces its perf buffers, and the server needs --allow-write for it.' : 'Records read here are taken from other readers of this ring buffer.';
  app.replaceChildren(heading, infoLine(info), h('p', { class: 'muted' }, note), h('div', { class: 'toolbar' }, typeInput, h('button', { onclick: () => start() }, 'Tail'), count), table);
  let stream;
  let received = 0;
  const start = () => {
    stream?.close();
    received = 0;
    list.replaceChildren();
    const type = typeInput.value.trim();
    stream = new EventSource(`/api/maps/${info.id}/events${type ? `?type=${encodeURIComponent(type)}` : ''}`);
    stream.addEventListener('record', (event) => {
      const record = parseExact(event.data);
      received++;
      count.textContent = `${received} record${received === 1 ? '' : 's'}`;
      list.prepend(h('tr', {}, h('td', {}, new Date().toLocaleTimeString()), h('td', { class: 'num' }, record.cpu ?? ''), h('td', { class: 'code' }, record.formatted !== undefined ? show(record.formatted) : record.data)));
      while (list.children.length > 500) list.lastChild.remove();
      setStatus('live', 'live');
    });
    stream.addEventListener('error', (event) => {
      setStatus(event.data ? `error: ${parseExact(event.data).message}` : 'reconnecting…', 'down');
    });
  };
  start();
  cleanup = () => stream?.close();
}

function route() {
  cleanup();
  cleanup = () => {};
  const match = /^#\/maps\/(\d+)$/.exec(location.hash);
  if (match) mapPage(match[1]);
  else mapList();
}

window.addEventListener('hashchange', route);
route();
