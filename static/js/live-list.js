// Live dashboards: when the server says a ticket changed, fetch this page again and merge it
// into what is shown, in place. Rows are matched by data-ticket-id: their cells without
// controls take the fresh contents and their [data-sync] controls the fresh value, label and
// hidden state, so a checked box, a focused button, a half-chosen agent, the filters and the scroll
// position all survive. New rows are inserted where the server lists them; a row the list no
// longer holds stays (dimmed) until the page is reloaded, so nothing moves under a click.
import { connect } from "./lib/socket.js";
import { showRow } from "./lib/ticket.js";

const statusEl = document.getElementById("live-status");
let timer = null;

function holds(el) {
  return el.contains(document.activeElement) && document.activeElement !== document.body;
}

function syncControl(current, fresh) {
  for (const name of ["value", "aria-label"]) {
    const value = fresh.getAttribute(name);
    if (value !== null && current.getAttribute(name) !== value) current.setAttribute(name, value);
  }
  current.hidden = fresh.hidden;
  if (current.tagName === "BUTTON" && current.textContent !== fresh.textContent) {
    current.textContent = fresh.textContent;
  }
}

function mergeRow(current, fresh) {
  const cells = current.children;
  [...fresh.children].forEach((cell, i) => {
    const mine = cells[i];
    if (!mine || mine.innerHTML === cell.innerHTML) return;
    if (!mine.querySelector("a, button, input, select")) {
      mine.innerHTML = cell.innerHTML;
      return;
    }
    // A cell with controls keeps them: only its text parts follow.
    cell.querySelectorAll("[data-assignee-for]").forEach((span) => {
      const text = mine.querySelector("[data-assignee-for]");
      if (text) text.textContent = span.textContent;
    });
  });
  const mine = [...current.querySelectorAll("[data-sync]")];
  [...fresh.querySelectorAll("[data-sync]")].forEach((control, i) => {
    if (mine[i]) syncControl(mine[i], control);
  });
  current.classList.remove("row-gone");
}

// `freshRows` null: the list is empty now; every row stays, dimmed.
function mergeRows(rows, freshRows) {
  const byId = new Map([...rows.children].map((tr) => [tr.dataset.ticketId, tr]));
  const listed = new Set();
  let previous = null;
  [...(freshRows ? freshRows.children : [])].forEach((tr) => {
    const id = tr.dataset.ticketId;
    listed.add(id);
    let row = byId.get(id);
    if (row) {
      mergeRow(row, tr);
    } else {
      row = document.importNode(tr, true);
      if (previous) previous.after(row);
      else rows.prepend(row);
    }
    previous = row;
  });
  byId.forEach((row, id) => { if (!listed.has(id)) row.classList.add("row-gone"); });
}

function mergeTexts(current, fresh) {
  fresh.querySelectorAll("[data-live-text]").forEach((el) => {
    const mine = current.querySelector('[data-live-text="' + el.dataset.liveText + '"]');
    if (mine && !holds(mine) && mine.innerHTML !== el.innerHTML) mine.innerHTML = el.innerHTML;
  });
}

function merge(current, fresh) {
  const rows = current.querySelector("[data-live-rows]");
  if (rows) {
    mergeRows(rows, fresh.querySelector("[data-live-rows]"));
    mergeTexts(current, fresh);
    return;
  }
  // A region without rows (counts, tabs, an empty state): replaced unless it holds focus.
  if (!holds(current)) current.replaceWith(document.importNode(fresh, true));
}

function refresh() {
  clearTimeout(timer);
  timer = setTimeout(async () => {
    try {
      const response = await fetch(window.location.href, { headers: { "X-Requested-With": "live-list" }, credentials: "same-origin" });
      if (!response.ok) return;
      const doc = new DOMParser().parseFromString(await response.text(), "text/html");
      doc.querySelectorAll("[data-live-region]").forEach((fresh) => {
        const current = document.querySelector('[data-live-region="' + fresh.dataset.liveRegion + '"]');
        if (current) merge(current, fresh);
      });
      document.dispatchEvent(new CustomEvent("ccr:live-refreshed"));
    } catch { /* offline: the next event or reconnect refreshes */ }
  }, 250);
}

function start() {
  const socket = connect();

  socket.on("connect", () => { if (statusEl) statusEl.hidden = true; refresh(); });
  socket.on("disconnect", () => { if (statusEl) { statusEl.hidden = false; statusEl.textContent = "Reconnecting…"; } });
  // The row's badge changes at once; the refresh then brings the counts and the new rows.
  socket.on("ticket_updated", (t) => { showRow(t); refresh(); });
  ["ticket_created", "ticket_assigned", "ticket_unassigned"].forEach((name) => socket.on(name, refresh));
  // The tab's count, the sound and the desktop notification for it: notify.js.
  socket.on("ticket_activity", refresh);
}

if (document.querySelector("[data-live-region]")) start();
