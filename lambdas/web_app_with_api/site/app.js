// The web app: lists and adds items through /api/items on the same origin (no CORS, no API URL).
"use strict";

const api = "/api/items";

function show(items) {
  const list = document.getElementById("items");
  list.replaceChildren(
    ...items.map((item) => {
      const entry = document.createElement("li");
      entry.textContent = item.name;
      entry.dataset.id = item.id;
      return entry;
    }),
  );
  document.getElementById("status").textContent = `${items.length} item(s)`;
}

async function load() {
  const response = await fetch(api, { headers: { accept: "application/json" } });
  if (!response.ok) throw new Error(`GET ${api}: ${response.status}`);
  show((await response.json()).items);
}

async function add(event) {
  event.preventDefault();
  const input = document.getElementById("name");
  const response = await fetch(api, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: input.value }),
  });
  if (!response.ok) {
    const problem = await response.json().catch(() => ({}));
    document.getElementById("status").textContent = `not added: ${problem.message || response.status}`;
    return;
  }
  input.value = "";
  await load();
}

function fail(error) {
  document.getElementById("status").textContent = `error: ${error.message}`;
}

document.getElementById("add").addEventListener("submit", (event) => add(event).catch(fail));
load().catch(fail);
