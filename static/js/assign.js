// The admin's assign controls, sent by fetch so the change shows in place and the list keeps
// its filters, selection and focus. Without JavaScript the same forms post and redirect back.
//  - the ticket page: form.assign-form (its own agent dropdown);
//  - the list: #bulk-form, the page's one agent picker and bulk actions; each row's checkbox
//    and Assign button belong to it (form="bulk-form"). Bulk actions ask once, in a <dialog>.
import { showRow, showTicket } from "./lib/ticket.js";

const token = document.querySelector('meta[name="csrf-token"]')?.content || "";

function feedback(form, text, isError) {
  const el = form.closest(".card-body")?.querySelector(".assign-feedback")
    || document.querySelector(".assign-feedback");
  if (el) {
    el.textContent = text;
    el.classList.toggle("text-danger", isError);
  }
}

async function post(url, body) {
  const response = await fetch(url, {
    method: "POST",
    body,
    credentials: "same-origin",
    headers: { Accept: "application/json", "X-CSRFToken": token },
  });
  const data = await response.json().catch(() => ({ ok: false, error: "Please try again." }));
  return { ok: response.ok && data.ok, data };
}

async function submitTicketForm(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const button = form.querySelector('button[type="submit"]');
  button.disabled = true;
  try {
    const { ok, data } = await post(form.action, new FormData(form));
    if (data.ticket) {
      // The ticket as the server holds it now: the next choice is made against that.
      showTicket(data.ticket);
      form.elements.expected_assignee.value = data.ticket.assignee_id || "";
    }
    if (!ok) {
      feedback(form, data.error || "The ticket could not be assigned.", true);
      return;
    }
    const t = data.ticket;
    form.querySelector('option[value=""]')?.remove();
    button.textContent = "Reassign";
    feedback(form, `${t.reference} is now assigned to ${t.assignee_name}.`, false);
  } catch {
    feedback(form, "The network failed; the ticket was not changed. Please try again.", true);
  } finally {
    button.disabled = false;
  }
}

document.querySelectorAll("form.assign-form").forEach((form) => {
  form.addEventListener("submit", submitTicketForm);
});

// -- the list ----------------------------------------------------------------------------

const bulk = document.getElementById("bulk-form");

function checked() {
  return [...document.querySelectorAll('input[name="ticket"][form="bulk-form"]:checked')];
}

function countSelected() {
  const out = document.getElementById("selected-count");
  const n = checked().length;
  if (out) out.textContent = n ? n + " selected" : "";
}

function ask(question, detail) {
  const dialog = document.getElementById("bulk-confirm");
  dialog.querySelector("#bulk-confirm-title").textContent = question;
  dialog.querySelector("#bulk-confirm-list").textContent = detail;
  dialog.querySelector("#bulk-confirm-yes").textContent = "Yes, " + question.slice(0, -1).toLowerCase();
  return new Promise((resolve) => {
    const yes = dialog.querySelector("#bulk-confirm-yes");
    const no = dialog.querySelector("#bulk-confirm-no");
    function done(answer) {
      yes.removeEventListener("click", onYes);
      no.removeEventListener("click", onNo);
      dialog.removeEventListener("close", onNo);
      if (dialog.open) dialog.close();
      resolve(answer);
    }
    const onYes = () => done(true);
    const onNo = () => done(false);
    yes.addEventListener("click", onYes);
    no.addEventListener("click", onNo);
    dialog.addEventListener("close", onNo);
    dialog.showModal();
    no.focus();
  });
}

function question(action, n) {
  const what = n + " ticket" + (n === 1 ? "" : "s");
  if (action === "assign") {
    const picker = bulk.elements.agent_id;
    return "Assign " + what + " to " + picker.options[picker.selectedIndex].text + "?";
  }
  if (action === "priority") return "Set " + what + " to " + bulk.elements.priority.value + " priority?";
  return "Close " + what + "?";
}

function problem(submitter, action, n) {
  if (submitter.name === "only" || action === "assign") {
    if (!bulk.elements.agent_id.value) return ["Choose an agent in the toolbar first.", bulk.elements.agent_id];
  }
  if (submitter.name === "only") return null;
  if (!n) return ["Select at least one ticket first.", null];
  if (action === "priority" && !bulk.elements.priority.value) return ["Choose a priority first.", bulk.elements.priority];
  return null;
}

async function submitBulk(event) {
  const submitter = event.submitter;
  if (submitter && submitter.value === "filter") return; // a plain post: it redirects to the list
  event.preventDefault();
  if (!submitter) return;
  const single = submitter.name === "only";
  const action = single ? "assign" : submitter.value;
  const boxes = checked();
  const wrong = problem(submitter, action, boxes.length);
  if (wrong) {
    feedback(bulk, wrong[0], true);
    if (wrong[1]) wrong[1].focus();
    return;
  }
  const body = new FormData(bulk, submitter);
  if (!single) {
    const refs = boxes.map((b) => b.getAttribute("aria-label").replace(/^Select /, ""));
    if (!(await ask(question(action, boxes.length), refs.join(", ")))) return;
    body.set("confirmed", "1");
  }
  if (bulk.dataset.busy) return;
  bulk.dataset.busy = "1"; // not `disabled`: a disabled button would drop the keyboard focus
  try {
    // Not bulk.action: the buttons named "action" shadow that property.
    const { ok, data } = await post(bulk.getAttribute("action"), body);
    (data.tickets || []).forEach(showRow);
    if (ok && !single) {
      boxes.forEach((b) => { b.checked = false; });
      countSelected();
    }
    feedback(bulk, (ok ? data.message : data.error || data.message) || "Please try again.", !ok);
  } catch {
    feedback(bulk, "The network failed; nothing was changed. Please try again.", true);
  } finally {
    delete bulk.dataset.busy;
  }
}

function showSelectPage() {
  const all = document.getElementById("select-page");
  if (all) all.hidden = false;
}

if (bulk) {
  bulk.addEventListener("submit", submitBulk);
  document.addEventListener("change", (event) => {
    if (event.target.id === "select-page") {
      document.querySelectorAll('input[name="ticket"][form="bulk-form"]').forEach((b) => { b.checked = event.target.checked; });
    }
    if (event.target.matches('#select-page, input[name="ticket"][form="bulk-form"]')) countSelected();
  });
  showSelectPage();
  document.addEventListener("ccr:live-refreshed", showSelectPage);
}
