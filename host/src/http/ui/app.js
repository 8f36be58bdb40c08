// Refold's admin page: plain JavaScript over the HTTP API, no build step.
// Every request goes through `api`, which adds the token as an Authorization header
// when the server asks for one; the token is never put in a URL.
"use strict";

const TOKEN_KEY = "refold-token";
const REFRESH_MS = 2000;
const CHART_WINDOW_MS = 5 * 60 * 1000;
const LIVE_ROWS = 200;
const PAGE = 20;

const page = {
  token: sessionStorage.getItem(TOKEN_KEY),
  rates: null,
  lagHistory: new Map(),
  live: null,
  stream: null,
  documents: null,
  timer: null,
};

const $ = (selector) => document.querySelector(selector);

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    node.append(child instanceof Node ? child : document.createTextNode(String(child ?? "")));
  }
  return node;
}

function pretty(value) {
  return element("pre", {}, JSON.stringify(value, null, 2));
}

function cell(value, numeric) {
  return element("td", numeric ? { class: "num" } : {}, value);
}

function fill(tbody, rows) {
  tbody.replaceChildren(...rows);
}

function showError(error) {
  $("#error").textContent = error ? String(error.message || error) : "";
}

async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (page.token) headers.Authorization = "Bearer " + page.token;
  return fetch(path, Object.assign({}, options, { headers }));
}

async function json(path, options) {
  const response = await api(path, options);
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const message = body && body.error ? body.error.message : response.statusText;
    throw new Error(message);
  }
  return body;
}

// ---- Token -------------------------------------------------------------------------

async function start() {
  const config = await json("/ui/config");
  if (config.tokenRequired && !(page.token && (await tokenAccepted(page.token)))) {
    page.token = null;
    sessionStorage.removeItem(TOKEN_KEY);
    $("#login").hidden = false;
    return;
  }
  open();
}

async function tokenAccepted(token) {
  const response = await fetch("/ui/session", {
    method: "POST",
    headers: { Authorization: "Bearer " + token },
  });
  return response.status === 204;
}

$("#login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const token = $("#token").value;
  if (await tokenAccepted(token)) {
    page.token = token;
    sessionStorage.setItem(TOKEN_KEY, token);
    $("#token").value = "";
    $("#login").hidden = true;
    $("#login-error").textContent = "";
    open();
  } else {
    $("#login-error").textContent = "That is not the server's token.";
  }
});

function open() {
  $("#nav").hidden = false;
  window.addEventListener("hashchange", route);
  route();
  workflows();
  refresh();
  page.timer = setInterval(refresh, REFRESH_MS);
}

function route() {
  const name = (location.hash || "#overview").slice(1);
  for (const view of document.querySelectorAll(".view")) view.hidden = view.id !== name;
  for (const link of document.querySelectorAll("nav a")) {
    link.classList.toggle("current", link.getAttribute("href") === "#" + name);
  }
}

async function refresh() {
  try {
    await Promise.all([overview(), projections()]);
    showError(null);
  } catch (error) {
    showError(error);
  }
}

// ---- Overview ----------------------------------------------------------------------

async function overview() {
  const [health, metrics, modules] = await Promise.all([
    json("/health"),
    api("/metrics").then((r) => r.text()),
    json("/modules"),
  ]);
  const now = performance.now();
  const commands = metricValue(metrics, "refold_commands_total") + metricValue(metrics, "refold_rejections_total");
  if (page.rates) {
    const seconds = (now - page.rates.at) / 1000;
    $("#events-rate").textContent = ((health.head - page.rates.head) / seconds).toFixed(1);
    $("#commands-rate").textContent = ((commands - page.rates.commands) / seconds).toFixed(1);
  }
  page.rates = { at: now, head: health.head, commands };
  $("#head").textContent = health.head;
  const rows = modules.modules.map((m) =>
    element("tr", { "data-module": m.name },
      cell(m.name), cell(m.version, true), cell(m.world), cell(m.size, true),
      element("td", {}, element("button", { class: "secondary", type: "button", onclick: () => history(m.name) }, "Deploys")))
  );
  fill($("#modules tbody"), rows);
}

function metricValue(text, name) {
  const line = text.split("\n").find((l) => l.startsWith(name + " "));
  return line ? Number(line.split(" ")[1]) : 0;
}

async function history(name) {
  const answer = await json("/modules/" + encodeURIComponent(name) + "/history");
  const rows = answer.deployments.map((d) =>
    element("tr", {}, cell(d.version, true), cell(d.deployed_at), cell(d.world), cell(d.policy || "–"), cell(d.hash.slice(0, 12))));
  $("#history").replaceChildren(element("div", { class: "panel" },
    element("h3", {}, "Deploys of " + name),
    element("table", {}, element("thead", {}, element("tr", {}, ...["Version", "Deployed at", "World", "Policy", "Hash"].map((h) => element("th", {}, h)))),
      element("tbody", {}, ...rows))));
}

// ---- Streams -----------------------------------------------------------------------

function partitionQuery(input) {
  const partition = $(input).value.trim();
  return partition ? "&partition=" + encodeURIComponent(partition) : "";
}

$("#stream-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const stream = $("#stream-query").value.trim();
  if (stream) openStream(stream, 1);
});

$("#category-search").addEventListener("click", async () => {
  const category = $("#stream-query").value.trim().split("-")[0];
  try {
    const streams = new Set();
    let after = 0;
    for (let pages = 0; pages < 10; pages += 1) {
      const log = await json("/log?limit=1000&after=" + after + "&category=" + encodeURIComponent(category) + partitionQuery("#stream-partition"));
      for (const event of log.events) streams.add(event.stream);
      if (log.events.length < 1000) break;
      after = log.events[log.events.length - 1].globalPosition;
    }
    const links = [...streams].map((stream) => element("a", { href: "#streams", class: "stream-link", onclick: () => openStream(stream, 1) }, stream));
    $("#category-streams").replaceChildren(element("p", {}, streams.size + " streams in " + category + ": "), ...links);
  } catch (error) {
    showError(error);
  }
});

async function openStream(stream, from) {
  try {
    const answer = await json("/streams/" + encodeURIComponent(stream) + "?limit=" + PAGE + "&from=" + from + partitionQuery("#stream-partition"));
    page.stream = { stream, from, version: answer.version || 0 };
    $("#stream-title").textContent = stream + " (version " + (answer.version ?? 0) + ")";
    fill($("#stream-events tbody"), answer.events.map((e) =>
      element("tr", { "data-type": e.type },
        cell(e.streamPosition, true), cell(e.globalPosition, true), cell(e.type), cell(e.recordedAt),
        element("td", {}, pretty(e.data)), element("td", {}, pretty(e.metadata)))));
    $("#stream-prev").disabled = from <= 1;
    $("#stream-next").disabled = from + PAGE > page.stream.version;
    showError(null);
  } catch (error) {
    showError(error);
  }
}

$("#stream-prev").addEventListener("click", () => openStream(page.stream.stream, Math.max(1, page.stream.from - PAGE)));
$("#stream-next").addEventListener("click", () => openStream(page.stream.stream, page.stream.from + PAGE));

// ---- Live tail ---------------------------------------------------------------------

$("#live-form").addEventListener("submit", (event) => {
  event.preventDefault();
  follow();
});
$("#live-stop").addEventListener("click", () => stopFollowing("stopped"));

function stopFollowing(why) {
  if (page.live) page.live.abort();
  page.live = null;
  $("#live-start").disabled = false;
  $("#live-stop").disabled = true;
  $("#live-status").textContent = why;
}

async function follow() {
  stopFollowing("connecting");
  const query = new URLSearchParams();
  const types = $("#live-types").value.trim();
  if (types) query.set("types", types);
  for (const key of ["category", "partition"]) {
    const value = $("#live-" + key).value.trim();
    if (value) query.set(key, value);
  }
  const head = (await json("/health")).head;
  query.set("after", head);
  const controller = new AbortController();
  page.live = controller;
  $("#live-start").disabled = true;
  $("#live-stop").disabled = false;
  try {
    const response = await api("/log/live?" + query, { signal: controller.signal, headers: { Accept: "text/event-stream" } });
    if (!response.ok) throw new Error((await response.json()).error.message);
    $("#live-status").textContent = "following from position " + head;
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const message = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = message.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trimStart()).join("\n");
        if (data) showLive(JSON.parse(data));
      }
    }
    if (page.live === controller) stopFollowing("the server ended the feed");
  } catch (error) {
    if (error.name !== "AbortError") stopFollowing("feed failed: " + error.message);
  }
}

function showLive(e) {
  const body = $("#live-events tbody");
  body.prepend(element("tr", { "data-position": e.globalPosition },
    cell(e.globalPosition, true), cell(e.stream), cell(e.type), cell(e.partition), cell(e.recordedAt), element("td", {}, pretty(e.data))));
  while (body.rows.length > LIVE_ROWS) body.deleteRow(body.rows.length - 1);
}

// ---- Projections -------------------------------------------------------------------

async function projections() {
  const answer = await json("/projections");
  const now = Date.now();
  const select = $("#documents-projection");
  const names = answer.projections.map((p) => p.name);
  if ([...select.options].map((o) => o.value).join() !== names.join()) {
    select.replaceChildren(...names.map((n) => element("option", { value: n }, n)));
  }
  const rows = answer.projections.map((p) => {
    const a = p.active;
    const samples = (page.lagHistory.get(p.name) || []).filter((s) => now - s.t < CHART_WINDOW_MS);
    samples.push({ t: now, lag: a.lag });
    page.lagHistory.set(p.name, samples);
    const state = p.rebuild ? a.state + " (rebuilding: " + p.rebuild.checkpoint + "/" + p.rebuild.head + ")" : a.state;
    return element("tr", { "data-projection": p.name },
      cell(p.name), element("td", { class: "state-" + a.state }, state), cell(a.version, true), cell(a.checkpoint, true),
      cell(a.lag, true), cell(a.lagSeconds.toFixed(1), true), cell(a.eventsPerSecond.toFixed(1), true), cell(a.skipped, true),
      element("td", { class: "error" }, a.lastError || ""),
      element("td", {}, lagChart(samples, now)),
      element("td", {},
        element("button", { class: "secondary", type: "button", onclick: () => skipped(p.name) }, "Skipped"),
        " ",
        element("button", { class: "secondary", type: "button", "data-rebuild": p.name, onclick: () => askRebuild(p.name) }, "Rebuild…")));
  });
  fill($("#projections-table tbody"), rows);
}

function lagChart(samples, now) {
  const svg = "http://www.w3.org/2000/svg";
  const width = 160;
  const height = 36;
  const chart = document.createElementNS(svg, "svg");
  chart.setAttribute("width", width);
  chart.setAttribute("height", height);
  chart.setAttribute("class", "chart");
  const top = Math.max(1, ...samples.map((s) => s.lag));
  const points = samples.map((s) => {
    const x = width - ((now - s.t) / CHART_WINDOW_MS) * width;
    const y = height - 2 - (s.lag / top) * (height - 4);
    return x.toFixed(1) + "," + y.toFixed(1);
  });
  const line = document.createElementNS(svg, "polyline");
  line.setAttribute("points", points.join(" "));
  chart.append(line);
  const [x, y] = points[points.length - 1].split(",");
  const last = document.createElementNS(svg, "circle");
  last.setAttribute("cx", x);
  last.setAttribute("cy", y);
  last.setAttribute("r", 2.5);
  chart.append(last);
  const title = document.createElementNS(svg, "title");
  title.textContent = "lag over the last 5 minutes, at most " + top + " events";
  chart.append(title);
  return chart;
}

async function skipped(name) {
  try {
    const answer = await json("/projections/" + encodeURIComponent(name) + "/skipped?limit=100");
    const rows = answer.skipped.map((s) => element("tr", { "data-skipped": s.position }, cell(s.position, true), cell(s.error)));
    $("#projection-detail").replaceChildren(element("div", { class: "panel", id: "skipped" },
      element("h3", {}, "Events " + name + " skipped"),
      rows.length ? element("table", {}, element("thead", {}, element("tr", {}, element("th", {}, "Position"), element("th", {}, "Error"))), element("tbody", {}, ...rows))
        : element("p", { class: "muted" }, "none")));
  } catch (error) {
    showError(error);
  }
}

function askRebuild(name) {
  $("#projection-detail").replaceChildren(element("div", { class: "panel", id: "rebuild-confirm" },
    element("p", {}, "Rebuild the read model of " + name + " from the start? Queries keep reading the current one until the new one has caught up."),
    element("button", { class: "danger", type: "button", id: "rebuild-yes", onclick: () => rebuild(name) }, "Rebuild " + name),
    " ",
    element("button", { class: "secondary", type: "button", onclick: () => $("#projection-detail").replaceChildren() }, "Cancel")));
}

async function rebuild(name) {
  try {
    const status = await json("/projections/" + encodeURIComponent(name) + "/rebuild", { method: "POST" });
    const generation = status.rebuild ? status.rebuild.generation : status.active.generation;
    $("#projection-detail").replaceChildren(element("div", { class: "panel", id: "rebuild-started", "data-generation": generation },
      "Rebuilding " + name + " as generation " + generation + "."));
    refresh();
  } catch (error) {
    showError(error);
  }
}

// ---- Read models -------------------------------------------------------------------

$("#documents-form").addEventListener("submit", (event) => {
  event.preventDefault();
  listDocuments(null);
});
$("#documents-next").addEventListener("click", () => listDocuments(page.documents));

async function listDocuments(after) {
  const projection = $("#documents-projection").value;
  const collection = $("#documents-collection").value.trim();
  if (!projection || !collection) return;
  try {
    let path = "/projections/" + encodeURIComponent(projection) + "/" + encodeURIComponent(collection) + "?limit=" + PAGE + partitionQuery("#documents-partition");
    if (after) path += "&after=" + encodeURIComponent(after);
    const answer = await json(path);
    page.documents = answer.next;
    $("#documents-next").disabled = !answer.next;
    fill($("#documents tbody"), answer.documents.map((d) => element("tr", { "data-document": d.id }, cell(d.id), element("td", {}, pretty(d.document)))));
    showError(null);
  } catch (error) {
    showError(error);
  }
}

// ---- Workflows ---------------------------------------------------------------------

async function workflows() {
  const body = await json("/workflows").catch(showError);
  if (!body) return;
  $("#nav-workflows").hidden = false;
  const list = Array.isArray(body) ? body : body.workflows || [];
  const keys = [...new Set(list.flatMap((w) => Object.keys(w)))];
  $("#workflows-list").replaceChildren(list.length
    ? element("table", {}, element("thead", {}, element("tr", {}, ...keys.map((k) => element("th", {}, k)))),
      element("tbody", {}, ...list.map((w) => element("tr", {}, ...keys.map((k) => element("td", {}, typeof w[k] === "object" ? pretty(w[k]) : w[k]))))))
    : element("p", { class: "muted" }, "no workflows"));
}

start().catch(showError);
