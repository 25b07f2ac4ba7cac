// What the page says about itself (base.html's <body> data attributes) and small DOM helpers.

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

// "(3) Title" while the tab is hidden and things arrive; back to the title once it is shown,
// then onVisible runs.
export function unseenCounter(onVisible) {
  const baseTitle = document.title;
  let unseen = 0;
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState !== "visible") return;
    unseen = 0;
    document.title = baseTitle;
    if (onVisible) onVisible();
  });
  return {
    add() {
      unseen += 1;
      document.title = "(" + unseen + ") " + baseTitle;
    },
  };
}
