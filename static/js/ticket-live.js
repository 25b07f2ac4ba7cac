// The ticket page's parts that follow live changes. templates/_ticket.html marks them
// data-ticket-region (with a data-key that says what each shows); on every change of the
// ticket, and after a reconnect (pushes missed meanwhile), the page asks the server for
// them (?part=live) and patches each part whose key changed. What the user has under their
// hands survives: a value typed or chosen in a patched part is carried over to the new
// one, and so is the focus; a part the caller keeps (the message box) is never replaced.
const page = document.getElementById("ticket-page");
let fetching = false;
let again = false;

// What an element is, across two renders: its id, or its form, name and value.
function identity(el) {
  if (el.id) return "#" + el.id;
  const form = el.closest("form");
  const where = form ? form.getAttribute("action") || "" : "";
  return [where, el.tagName, el.getAttribute("name") || "", el.dataset.verb || "",
    el.type === "hidden" ? "" : el.getAttribute("value") || ""].join("|");
}

function fields(region) {
  return region.querySelectorAll("input:not([type=hidden]), select, textarea");
}

function changedByUser(el) {
  if (el.type === "radio" || el.type === "checkbox") return el.checked !== el.defaultChecked;
  if (el.tagName === "SELECT") return [...el.options].some((o) => o.selected !== o.defaultSelected);
  return el.value !== el.defaultValue;
}

function patch(current, fresh) {
  const typed = new Map();
  fields(current).forEach((el) => {
    if (changedByUser(el)) typed.set(identity(el), el.type === "radio" || el.type === "checkbox" ? el.checked : el.value);
  });
  const active = current.contains(document.activeElement) ? document.activeElement : null;
  const focused = active ? identity(active) : null;
  const selection = active && "selectionStart" in active ? [active.selectionStart, active.selectionEnd] : null;
  const next = document.importNode(fresh, true);
  current.replaceWith(next);
  fields(next).forEach((el) => {
    const key = identity(el);
    if (!typed.has(key)) return;
    if (el.type === "radio" || el.type === "checkbox") el.checked = typed.get(key);
    else el.value = typed.get(key);
  });
  if (focused === null) return;
  const again = [...next.querySelectorAll("*")].find((el) => identity(el) === focused);
  if (again) {
    again.focus();
    if (selection && again.setSelectionRange) {
      try { again.setSelectionRange(selection[0], selection[1]); } catch { /* not a text field */ }
    }
  } else {
    // What had the focus is gone (a button for a step no longer possible): the part keeps it.
    next.tabIndex = -1;
    next.focus();
  }
}

// keep(region): true for a part the caller handles itself. Resolves once patched.
export async function refreshTicket(keep) {
  if (!page) return;
  if (fetching) { again = true; return; }
  fetching = true;
  try {
    const response = await fetch(page.dataset.liveUrl, {
      credentials: "same-origin", headers: { "X-Requested-With": "ticket-live" },
    });
    if (!response.ok || response.redirected) return; // access lost or signed out: the socket says so
    const doc = new DOMParser().parseFromString(await response.text(), "text/html");
    doc.querySelectorAll("[data-ticket-region]").forEach((fresh) => {
      const current = document.getElementById(fresh.id);
      if (!current || keep(current)) return;
      if ("key" in current.dataset && current.dataset.key === fresh.dataset.key) return;
      patch(current, fresh);
    });
    document.dispatchEvent(new CustomEvent("ccr:ticket-refreshed"));
  } catch { /* offline: the next change or the reconnect asks again */ } finally {
    fetching = false;
    if (again) { again = false; refreshTicket(keep); }
  }
}
