// What the page says about itself (base.html's <body> data attributes) and small DOM helpers.
import { showCount } from "./favicon.js";

export function viewer() {
  const data = document.body.dataset;
  return { id: Number(data.userId), name: data.userName || "", role: data.role || "" };
}

// Where to go once the session has ended: base.html sets it from url_for('auth.login').
export function loginUrl() {
  return document.body.dataset.loginUrl;
}

export function capitalize(text) {
  return text ? text.charAt(0).toUpperCase() + text.slice(1) : "";
}

// Whether the person is looking at this page now: the tab is shown and the window focused.
export function attended() {
  return document.visibilityState === "visible" && document.hasFocus();
}

// "(3) Title" and a badge on the tab's icon while the tab is hidden and things arrive; one
// count for the whole page, shared by every module that calls this. Back to the title and
// icon once the tab is shown (or the window focused), then each caller's onVisible runs.
let unseen = 0;
let baseTitle = null;
const onSeen = [];

function seen() {
  if (!unseen) return;
  unseen = 0;
  document.title = baseTitle;
  showCount(0);
  onSeen.forEach((fn) => fn());
}

export function unseenCounter(onVisible) {
  if (baseTitle === null) {
    baseTitle = document.title;
    document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible") seen(); });
    window.addEventListener("focus", seen);
  }
  if (onVisible) onSeen.push(onVisible);
  return {
    add() {
      unseen += 1;
      document.title = "(" + unseen + ") " + baseTitle;
      showCount(unseen);
    },
  };
}
