// A ticket's status badge and agent wherever the page shows them: the ticket page's header
// and a list's row mark them with data-status-for / data-assignee-for="<ticket id>". Takes
// the server's ticket summary (a push or a fetch answer).
export function showTicket(ticket) {
  document.querySelectorAll('[data-status-for="' + ticket.id + '"]').forEach((el) => {
    el.textContent = ticket.status_label;
    el.className = "badge status-" + ticket.status;
  });
  // The admin's assign <select> carries the attribute too; its options are its own.
  document.querySelectorAll('[data-assignee-for="' + ticket.id + '"]:not(select)').forEach((el) => {
    el.textContent = ticket.assignee_name || el.dataset.unassigned || "";
  });
}

// A list row's own controls (the admin's checkbox and Assign button) carry "id:assignee id"
// as the row shows it: the next action is checked against what the admin saw.
export function showRow(ticket) {
  showTicket(ticket);
  const row = document.querySelector('tr[data-ticket-id="' + ticket.id + '"]');
  if (!row) return;
  const seen = ticket.id + ":" + (ticket.assignee_id || "");
  row.querySelectorAll("[data-sync]").forEach((el) => {
    el.value = seen;
    if (el.tagName === "BUTTON") {
      el.textContent = ticket.assignee_id ? "Reassign" : "Assign";
      el.setAttribute("aria-label", el.textContent + " " + ticket.reference);
      el.hidden = ticket.status === "closed";
    }
  });
  const priority = row.querySelector("[data-status-for]")?.closest("td")?.nextElementSibling;
  if (priority && ticket.priority) priority.textContent = ticket.priority.charAt(0).toUpperCase() + ticket.priority.slice(1);
}
