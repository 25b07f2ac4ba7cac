// Every <time datetime> on any page, in words relative to now ("5 min ago", "yesterday"),
// with the absolute time on hover (title). Elements added later (a live message, a patched
// list) are formatted as they arrive, and all are kept fresh every 30 seconds. Without this
// script the server's absolute times stay.
const MINUTE = 60;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const absolute = new Intl.DateTimeFormat(undefined, {
  year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short",
});
const date = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short", year: "numeric" });

export function relative(when, now = new Date()) {
  const seconds = Math.round((now - when) / 1000);
  if (seconds < 45) return "just now";
  if (seconds < 90) return "1 min ago";
  if (seconds < HOUR) return Math.round(seconds / MINUTE) + " min ago";
  if (seconds < 1.5 * HOUR) return "1 hour ago";
  if (seconds < DAY) return Math.round(seconds / HOUR) + " hours ago";
  if (seconds < 2 * DAY) return "yesterday";
  if (seconds < 7 * DAY) return Math.floor(seconds / DAY) + " days ago";
  return date.format(when);
}

function format(el) {
  const when = new Date(el.getAttribute("datetime"));
  if (Number.isNaN(when.getTime())) return;
  const text = relative(when);
  if (el.textContent !== text) el.textContent = text;
  const title = absolute.format(when);
  if (el.title !== title) el.title = title;
}

function formatAll(root) {
  if (root.matches && root.matches("time[datetime]")) format(root);
  if (root.querySelectorAll) root.querySelectorAll("time[datetime]").forEach(format);
}

formatAll(document);
new MutationObserver((changes) => {
  for (const change of changes) {
    if (change.type === "attributes") format(change.target);
    else change.addedNodes.forEach((node) => { if (node.nodeType === Node.ELEMENT_NODE) formatAll(node); });
  }
}).observe(document.body, { childList: true, subtree: true, attributes: true, attributeFilter: ["datetime"] });
setInterval(() => formatAll(document), 30000);
