// Live dashboards: when the server says a ticket changed, re-fetch this page and swap the
// regions marked data-live-region (the server renders rows, counts and filters as usual).
import { connect } from "./lib/socket.js";
import { showTicket } from "./lib/ticket.js";

const statusEl = document.getElementById("live-status");
let timer = null;

function refresh() {
  clearTimeout(timer);
  timer = setTimeout(async () => {
    try {
      const response = await fetch(window.location.href, { headers: { "X-Requested-With": "live-list" }, credentials: "same-origin" });
      if (!response.ok) return;
      const doc = new DOMParser().parseFromString(await response.text(), "text/html");
      doc.querySelectorAll("[data-live-region]").forEach((fresh) => {
        const current = document.querySelector('[data-live-region="' + fresh.dataset.liveRegion + '"]');
        if (current) current.replaceWith(document.importNode(fresh, true));
      });
      document.dispatchEvent(new CustomEvent("ccr:live-refreshed"));
    } catch { /* offline: the next event or reconnect refreshes */ }
  }, 250);
}

function start() {
  const socket = connect();

  socket.on("connect", () => { if (statusEl) statusEl.hidden = true; refresh(); });
  socket.on("disconnect", () => { if (statusEl) { statusEl.hidden = false; statusEl.textContent = "Reconnecting…"; } });
  // The row's badge changes at once; the refresh then brings the counts and the order.
  socket.on("ticket_updated", (t) => { showTicket(t); refresh(); });
  ["ticket_created", "ticket_assigned", "ticket_unassigned"].forEach((name) => socket.on(name, refresh));
  // The tab's count, the sound and the desktop notification for it: notify.js.
  socket.on("ticket_activity", refresh);
}

if (document.querySelector("[data-live-region]")) start();
