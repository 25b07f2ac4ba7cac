// Upgrades the admin's assign forms to fetch: the change is saved and shown in place.
// Without JavaScript the same forms post and redirect.
import { showTicket } from "./lib/ticket.js";

const token = document.querySelector('meta[name="csrf-token"]')?.content || "";

function feedback(form, text, isError) {
  const el = form.closest(".card-body")?.querySelector(".assign-feedback")
    || document.querySelector(".assign-feedback");
  if (el) {
    el.textContent = text;
    el.classList.toggle("text-danger", isError);
  }
}

async function submit(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const button = form.querySelector('button[type="submit"]');
  button.disabled = true;
  try {
    const response = await fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": token },
    });
    const data = await response.json().catch(() => ({ ok: false, error: "Please try again." }));
    if (data.ticket) {
      // The ticket as the server holds it now: the next choice is made against that.
      showTicket(data.ticket);
      form.elements.expected_assignee.value = data.ticket.assignee_id || "";
    }
    if (!response.ok || !data.ok) {
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
  form.addEventListener("submit", submit);
});
