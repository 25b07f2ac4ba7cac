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
