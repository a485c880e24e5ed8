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
    card.querySelector(".transaction").textContent = fmt(connector.transactionId);
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

function startFleet() {
  document.getElementById("fleet-view").hidden = false;
  text("title", "fleet");
  const search = document.getElementById("search");
  search.addEventListener("input", () => refreshStations(search.value));
  refreshFleet();
  refreshStations("");
  setInterval(() => {
    refreshFleet();
    refreshStations(search.value); // statuses change, stations come: the list follows, as the figures do
  }, FLEET_REFRESH_MS);
}

async function refreshFleet() {
  const link = document.getElementById("link");
  let figures;
  try {
    figures = await (await fetch("/api/fleet")).json();
  } catch (error) {
    link.textContent = "fleet offline";
    link.className = "badge bad";
    return;
  }
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

async function refreshStations(query) {
  const answer = await (await fetch("/api/stations?limit=100&q=" + encodeURIComponent(query))).json();
  if (document.getElementById("search").value !== query) {
    return; // a later search is on its way
  }
  text("total", `${answer.stations.length} of ${answer.total}`);
  const body = document.getElementById("stations");
  body.replaceChildren();
  for (const station of answer.stations) {
    const row = document.createElement("tr");
    const name = document.createElement("td");
    const a = document.createElement("a");
    a.href = "/stations/" + encodeURIComponent(station.id) + "/";
    a.textContent = station.id;
    name.appendChild(a);
    row.appendChild(name);
    const statuses = station.connectors.map((c) => `${c.id}: ${c.status}`).join(", ");
    for (const value of [station.ocpp, station.connected ? "yes" : "no", fmt(station.registration), statuses]) {
      const cell = document.createElement("td");
      cell.textContent = value;
      row.appendChild(cell);
    }
    body.appendChild(row);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  if (document.body.dataset.view === "fleet") {
    startFleet();
  } else {
    startStation();
  }
});
