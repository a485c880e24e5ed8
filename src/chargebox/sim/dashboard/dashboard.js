// The chargebox dashboard: a station's live state by server-sent events, or a fleet's figures and
// station list. Every text from the station is set with textContent, never parsed as HTML.
"use strict";

const MAX_FRAMES = 50;
const FLEET_REFRESH_MS = 2000;

// The station's API: /api for simulate, /api/stations/{id} for a station of a fleet.
function stationApi() {
  const match = location.pathname.match(/^\/stations\/([^/]+)\/$/);
  return match ? "/api/stations/" + match[1] : "/api";
}

function text(id, value) {
  document.getElementById(id).textContent = value;
}

function fmt(value, unit) {
  return value === null || value === undefined ? "–" : value + (unit ? " " + unit : "");
}

// -- a station ---------------------------------------------------------------------------------

function startStation() {
  const prefix = stationApi();
  document.getElementById("station-view").hidden = false;
  const events = new EventSource(prefix + "/events");
  events.addEventListener("state", (e) => renderState(JSON.parse(e.data), prefix));
  events.addEventListener("frames", (e) => JSON.parse(e.data).forEach(addFrame));
  events.addEventListener("frame", (e) => addFrame(JSON.parse(e.data)));
  events.onerror = () => {
    const link = document.getElementById("link");
    link.textContent = "dashboard offline";
    link.className = "badge bad";
  };
}

function renderState(state, prefix) {
  text("title", state.id);
  document.title = "chargebox " + state.id;
  const link = document.getElementById("link");
  link.textContent = state.connected ? "connected" : "disconnected";
  link.className = "badge " + (state.connected ? "good" : "bad");
  text("ocpp", state.ocpp);
  text("registration", fmt(state.registration));
  // What only one version has (1.6: firmware, diagnostics, a charging limit) is shown where the state carries it.
  document.querySelectorAll("[data-only]").forEach((e) => (e.hidden = !(e.dataset.only in state)));
  text("firmware", progress(state.firmwareStatus, state.firmwareProgress));
  text("diagnostics", state.diagnosticsStatus);
  text("queued", state.queued);
  const list = document.getElementById("connectors");
  for (const connector of state.connectors) {
    let card = list.querySelector(`[data-connector="${connector.id}"]`);
    if (!card) {
      card = document.getElementById("connector-card").content.firstElementChild.cloneNode(true);
      card.dataset.connector = connector.id;
      card.querySelectorAll("button").forEach((b) => b.addEventListener("click", () => act(prefix, connector.id, b.dataset.action, card)));
      list.appendChild(card);
    }
    card.querySelector(".kind").textContent = state.ocpp === "1.6" ? "Connector" : "EVSE"; // 2.0.1 counts EVSEs
    card.querySelector(".cid").textContent = connector.id;
    const status = card.querySelector(".status");
    status.textContent = connector.status;
    status.className = "status badge " + connector.status.toLowerCase();
    card.querySelector(".error-code").textContent = connector.errorCode;
    const seqNo = connector.seqNo === undefined || connector.seqNo === null ? "" : ` (seqNo ${connector.seqNo})`;
    card.querySelector(".transaction").textContent = fmt(connector.transactionId) + seqNo; // 2.0.1: its last event
    card.querySelector(".meter").textContent = fmt(connector.meterWh, "Wh");
    card.querySelector(".power").textContent = fmt(connector.powerW, "W");
    card.querySelector(".offered").textContent = fmt(connector.offeredA, "A");
    card.querySelector(".limit").textContent = limitText(connector.limit);
    card.querySelectorAll(".limit-row").forEach((e) => (e.hidden = !("limit" in connector)));
  }
}

// The active charging limit, {value, unit}; null when no charging profile limits the connector.
function limitText(limit) {
  return limit ? `${limit.value} ${limit.unit}` : "none";
}

function progress(status, bytes) {
  if (!bytes || !bytes.bytesTotal) {
    return bytes && bytes.bytesDone ? `${status} (${bytes.bytesDone} bytes)` : status;
  }
  return `${status} (${Math.floor((100 * bytes.bytesDone) / bytes.bytesTotal)} %)`;
}

function addFrame(frame) {
  const body = document.getElementById("frames");
  const row = document.createElement("tr");
  row.className = frame.dir;
  for (const value of [new Date(frame.time * 1000).toLocaleTimeString(), frame.dir === "in" ? "←" : "→", frame.frame]) {
    const cell = document.createElement("td");
    cell.textContent = value;
    row.appendChild(cell);
  }
  body.insertBefore(row, body.firstChild);
  while (body.children.length > MAX_FRAMES) {
    body.removeChild(body.lastChild);
  }
}

// Every POST is JSON, even an empty one: the control API refuses any other (a cross-site page could send it).
async function act(prefix, connectorId, action, card) {
  let body = {};
  if (action === "swipe") {
    body = { idTag: document.getElementById("id-tag").value };
  } else if (action === "fault") {
    body = { errorCode: card.querySelector(".fault-code").value, info: "from the dashboard" };
  }
  const response = await fetch(`${prefix}/connectors/${connectorId}/${action}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const answer = await response.json();
  const outcome = document.getElementById("outcome");
  const where = document.getElementById("ocpp").textContent === "1.6" ? "connector" : "EVSE";
  if (!response.ok) {
    outcome.textContent = `${action}: ${answer.error}`;
  } else if (answer.outcome) {
    const o = answer.outcome;
    outcome.textContent = `${action} on ${where} ${connectorId}: ${o.result}` + (o.reason ? ` (${o.reason})` : "");
  } else {
    outcome.textContent = `${action} on ${where} ${connectorId}: done`;
  }
  renderState(answer, prefix);
}

// -- a fleet -----------------------------------------------------------------------------------

const FIGURES = [
  ["stations", "Stations"],
  ["connected", "Connected"],
  ["booted", "Booted"],
  ["messagesSent", "Messages sent"],
  ["messagesPerSecond", "Messages/s (run)"],
  ["messagesPerSecondLast5s", "Messages/s (last 5 s)"],
  ["errors", "Errors"],
  ["reconnects", "Reconnects"],
  ["rttP50Ms", "RTT p50 ms (run)"],
  ["rttP99Ms", "RTT p99 ms (run)"],
  ["sessionsStarted", "Sessions"],
];

const PAGE_SIZE = 100;
// The list shown: its page (server-side search, state filter and paging), followed by server-sent events, or by
// polling where the fleet does not stream its list (fleet --processes, or an older fleet).
const fleetList = { offset: 0, total: 0, source: null, polling: null };

function startFleet() {
  document.getElementById("fleet-view").hidden = false;
  text("title", "fleet");
  const search = document.getElementById("search");
  const state = document.getElementById("state");
  const again = () => {
    fleetList.offset = 0;
    followFleet();
  };
  search.addEventListener("input", again);
  state.addEventListener("change", again);
  document.getElementById("previous").addEventListener("click", () => turnPage(-PAGE_SIZE));
  document.getElementById("next").addEventListener("click", () => turnPage(PAGE_SIZE));
  document.getElementById("add").addEventListener("click", () => {
    const count = Number(document.getElementById("add-count").value);
    fleetChange("POST", "/api/stations", { template: document.getElementById("add-template").value, count: count });
  });
  document.getElementById("blackout").addEventListener("click", () => {
    const over = Number(document.getElementById("blackout-over").value);
    fleetChange("POST", "/api/scenarios/blackout", { restoreOver: over });
  });
  followFleet();
}

function turnPage(by) {
  const offset = fleetList.offset + by;
  if (offset >= 0 && offset < Math.max(fleetList.total, 1)) {
    fleetList.offset = offset;
    followFleet();
  }
}

function listQuery() {
  const query = document.getElementById("search").value;
  const state = document.getElementById("state").value;
  return `q=${encodeURIComponent(query)}&state=${encodeURIComponent(state)}&offset=${fleetList.offset}&limit=${PAGE_SIZE}`;
}

function followFleet() {
  if (fleetList.polling !== null) {
    refreshStations();
    return;
  }
  if (fleetList.source !== null) {
    fleetList.source.close();
  }
  const source = new EventSource("/api/fleet/events?" + listQuery());
  let streamed = false;
  source.addEventListener("fleet", (e) => {
    streamed = true;
    renderFigures(JSON.parse(e.data));
  });
  source.addEventListener("stations", (e) => renderStations(JSON.parse(e.data)));
  source.onerror = () => {
    if (streamed) {
      fleetOffline(); // the browser reconnects by itself
      return;
    }
    source.close(); // this fleet does not stream its list: poll it
    fleetList.source = null;
    fleetList.polling = setInterval(() => {
      refreshFleet();
      refreshStations();
    }, FLEET_REFRESH_MS);
    refreshFleet();
    refreshStations();
  };
  fleetList.source = source;
}

function fleetOffline() {
  const link = document.getElementById("link");
  link.textContent = "fleet offline";
  link.className = "badge bad";
}

async function refreshFleet() {
  try {
    renderFigures(await (await fetch("/api/fleet")).json());
  } catch (error) {
    fleetOffline();
  }
}

// The chart: the figures as they came (every 2 s), the last CHART_POINTS of them, each line scaled to its own peak.
const CHART_POINTS = 180;
const chart = { rate: [], open: [] };

function drawChart(figures) {
  chart.rate.push(figures.messagesPerSecondLast5s || 0);
  chart.open.push((figures.sessionsStarted || 0) - (figures.sessionsEnded || 0));
  for (const [name, values] of Object.entries(chart)) {
    if (values.length > CHART_POINTS) {
      values.shift();
    }
    const peak = Math.max(...values);
    const scale = Math.max(peak, 1);
    const points = values.map((v, i) => `${(i * 600) / (CHART_POINTS - 1)},${(100 - (v * 96) / scale).toFixed(1)}`);
    document.getElementById(`chart-${name}`).setAttribute("points", points.join(" "));
    document.getElementById(`chart-${name}-max`).textContent = `now ${fmt(values[values.length - 1])}, peak ${fmt(peak)}`;
  }
}

function renderFigures(figures) {
  drawChart(figures);
  const link = document.getElementById("link");
  link.textContent = "running";
  link.className = "badge good";
  const box = document.getElementById("figures");
  box.replaceChildren();
  for (const [key, label] of FIGURES) {
    const div = document.createElement("div");
    div.dataset.figure = key;
    const b = document.createElement("b");
    b.textContent = label;
    div.append(b, " ", String(fmt(figures[key])));
    box.appendChild(div);
  }
}

async function refreshStations() {
  const query = listQuery();
  const answer = await (await fetch("/api/stations?" + query)).json();
  if (listQuery() === query) {
    renderStations(answer); // else a later search is on its way
  }
}

// One connector as the list shows it: its status, and its transaction and error when it has them.
function connectorText(c) {
  let shown = `${c.id}: ${c.status}`;
  if (c.transactionId !== null && c.transactionId !== undefined) {
    shown += ` (transaction ${c.transactionId})`;
  }
  if (c.errorCode && c.errorCode !== "NoError") {
    shown += ` [${c.errorCode}]`;
  }
  return shown;
}

function renderStations(answer) {
  fleetList.total = answer.total;
  const first = answer.stations.length ? (answer.offset || 0) + 1 : 0;
  text("total", `${first}-${(answer.offset || 0) + answer.stations.length} of ${answer.total}`);
  const body = document.getElementById("stations");
  body.replaceChildren();
  for (const station of answer.stations) {
    const row = document.createElement("tr");
    row.dataset.station = station.id;
    const name = document.createElement("td");
    const a = document.createElement("a");
    a.href = "/stations/" + encodeURIComponent(station.id) + "/";
    a.textContent = station.id;
    name.appendChild(a);
    row.appendChild(name);
    const state = station.state || (station.connected ? "connected" : "disconnected");
    const statuses = station.connectors.map(connectorText).join(", ");
    for (const value of [fmt(station.ocpp), state, fmt(station.registration), statuses]) {
      const cell = document.createElement("td");
      cell.textContent = value;
      row.appendChild(cell);
    }
    const actions = document.createElement("td");
    const path = "/api/stations/" + encodeURIComponent(station.id);
    const buttons = state === "stopped" ? [["Start", "POST", "/start"], ["Remove", "DELETE", ""]]
      : state === "connected" || state === "disconnected" ? [["Stop", "POST", "/stop"], ["Remove", "DELETE", ""]] : [];
    for (const [label, method, tail] of buttons) {
      const button = document.createElement("button");
      button.textContent = label;
      button.addEventListener("click", () => fleetChange(method, path + tail, {}));
      actions.appendChild(button);
    }
    row.appendChild(actions);
    body.appendChild(row);
  }
}

// A change to the fleet; the list shows its effect by the next event. JSON even when empty (the guard, web.py).
async function fleetChange(method, path, body) {
  const response = await fetch(path, {
    method: method,
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const answer = await response.json();
  const outcome = document.getElementById("fleet-outcome");
  if (!response.ok) {
    outcome.textContent = answer.error;
  } else if (answer.added) {
    outcome.textContent = `added ${answer.added.length}: ${answer.added[0]}…${answer.added[answer.added.length - 1]}`;
  } else if (answer.scenario) {
    outcome.textContent = `${answer.scenario}: ${answer.stations} stations`;
  } else {
    outcome.textContent = `${answer.id || answer.removed}: ${answer.state || "removed"}`;
  }
  if (fleetList.polling !== null) {
    refreshStations();
  }
}

document.addEventListener("DOMContentLoaded", () => {
  if (document.body.dataset.view === "fleet") {
    startFleet();
  } else {
    startStation();
  }
});
