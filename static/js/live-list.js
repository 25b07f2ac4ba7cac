// Live dashboards: when the server says a ticket changed, re-fetch this page and swap the
// regions marked data-live-region (the server renders rows, counts and filters as usual).
(function () {
  "use strict";
  if (typeof io !== "function" || !document.querySelector("[data-live-region]")) return;
  const socket = io({ transports: ["websocket", "polling"] });
  const statusEl = document.getElementById("live-status");
  let timer = null;
  let unseen = 0;
  const baseTitle = document.title;

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
      } catch (e) { /* offline: the next event or reconnect refreshes */ }
    }, 250);
  }

  function badge(text) {
    if (document.visibilityState === "visible") return;
    unseen += 1;
    document.title = "(" + unseen + ") " + baseTitle;
    if ("Notification" in window && Notification.permission === "granted") {
      try { new Notification("Customer Care Registry", { body: text }); } catch (e) { /* ignored */ }
    }
  }

  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") { unseen = 0; document.title = baseTitle; }
  });
  socket.on("connect", () => { if (statusEl) statusEl.hidden = true; refresh(); });
  socket.on("disconnect", () => { if (statusEl) { statusEl.hidden = false; statusEl.textContent = "Reconnecting…"; } });
  ["ticket_created", "ticket_assigned", "ticket_updated", "ticket_unassigned"].forEach((name) => socket.on(name, refresh));
  socket.on("ticket_activity", (ev) => { refresh(); badge("New message on " + ev.reference); });
  socket.on("session_ended", () => { window.location.href = "/login"; });
})();
