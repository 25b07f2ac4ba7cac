// Live chat on a ticket page. The server-rendered form keeps working without this script.
// A message is a clone of the page's <template id="message-template"> (the server's own
// markup, templates/_message.html) filled with textContent only; the server id decides
// order and duplicates.
// Completeness: every message has a number in its ticket's stream (the public conversation,
// and for staff the internal notes), 1, 2, 3 ... in commit order. The page keeps, per
// stream, the highest number up to which it holds every message, and asks the server for
// everything after it: on (re)connect, every 20 s, and at once when it holds a message
// beyond a gap (a push lost while the message queue was down, a process restarted).
import { capitalize, unseenCounter, viewer } from "./lib/dom.js";
import { connect } from "./lib/socket.js";
import { showTicket } from "./lib/ticket.js";
import { refreshTicket } from "./ticket-live.js";

const list = document.getElementById("messages");
const template = document.getElementById("message-template");
let form = document.getElementById("message-form");
const statusEl = document.getElementById("chat-status");
const typingEl = document.getElementById("typing-indicator");
const me = viewer();
const ticketId = list ? Number(list.dataset.ticketId) : 0;
// Unsent messages are kept per user and ticket: another account in this browser never sees
// them. Logout clears them all (its response's Clear-Site-Data header).
const storeKey = "ccr:pending:" + me.id + ":" + ticketId;
const pending = new Map(); // client_id -> {body, internal, li, held}
const STATE_LABELS = { sending: "Sending…", sent: "Sent", read: "Read", failed: "Not sent" };
const CLOSED_NOTE = "This ticket is closed, so the conversation is read-only. Reopen it to write again.";
let socket = null;
let unseen = null;
let lastTypingSent = 0;
let typingTimer = null;
// One message in flight at a time, in the order they were typed: the server ids (and so
// everyone's view) then follow the writer's order, also after a reconnect.
let inFlight = false;
// Per stream (0: public, 1: internal notes): `upTo` every number 1..upTo is here;
// `beyond` the numbers held above a gap.
const streams = [{ upTo: 0, beyond: new Set() }, { upTo: 0, beyond: new Set() }];
let catching = false;
let catchAgain = false;
let joinedBefore = false;
let leaving = false; // the page is navigating away (a form was sent)

function hold(internal, seq) {
  const s = streams[internal ? 1 : 0];
  if (!seq || seq <= s.upTo) return;
  s.beyond.add(seq);
  while (s.beyond.delete(s.upTo + 1)) s.upTo += 1;
}

function hasGap() {
  return streams.some((s) => s.beyond.size > 0);
}

function catchUpNow() {
  if (!socket || !socket.connected) return;
  if (catching) { catchAgain = true; return; }
  catching = true;
  catchAgain = false;
  const before = streams[0].upTo + streams[1].upTo;
  socket.timeout(10000).emit("join_ticket", catchUpRequest(), (err, ack) => {
    catching = false;
    if (!err) catchUp(ack);
    const progressed = streams[0].upTo + streams[1].upTo !== before;
    // More waiting, or a gap seen while this was in flight: ask again. A gap the answer
    // did not fill waits for the next push or the periodic catch-up, never a tight loop.
    if (catchAgain || (ack && ack.more && progressed)) catchUpNow();
  });
}

function catchUpRequest() {
  return { ticket_id: ticketId, after_seq: streams[0].upTo, after_note_seq: streams[1].upTo };
}

function lastId() {
  let max = 0;
  list.querySelectorAll("li[data-id]").forEach((li) => { max = Math.max(max, Number(li.dataset.id)); });
  return max;
}

function setStatus(text, kind) {
  if (!statusEl) return;
  statusEl.textContent = text;
  statusEl.dataset.state = kind;
  statusEl.hidden = !text;
}

function savePending() {
  const items = [...pending.entries()].map(([cid, p]) => ({ client_id: cid, body: p.body, internal: p.internal }));
  try { localStorage.setItem(storeKey, JSON.stringify(items)); } catch { /* storage full or off */ }
}

function stateLabel(li, state, reason) {
  li.dataset.state = state;
  const el = li.querySelector(".state");
  if (!el) return;
  el.textContent = STATE_LABELS[state] || "";
  const old = li.querySelector(".retry");
  if (old) old.remove();
  if (state === "failed") {
    const why = document.createElement("span");
    why.className = "retry";
    why.textContent = " " + (reason || "") + " ";
    const btn = document.createElement("button");
    btn.type = "button";
    btn.className = "btn btn-link btn-sm p-0 retry-button";
    btn.textContent = "Retry";
    btn.addEventListener("click", () => sendPending(li.dataset.clientId));
    why.appendChild(btn);
    el.after(why);
  }
}

function build(msg) {
  const li = template.content.firstElementChild.cloneNode(true);
  const mine = msg.author_id === me.id;
  li.classList.toggle("internal", Boolean(msg.internal));
  li.classList.toggle("mine", mine);
  if (msg.id) li.dataset.id = msg.id;
  if (msg.seq) li.dataset.seq = msg.seq;
  if (msg.client_id) li.dataset.clientId = msg.client_id;
  li.querySelector(".author").textContent = msg.author_name;
  li.querySelector(".role").textContent = capitalize(msg.author_role);
  const time = li.querySelector("time");
  const when = (msg.created_at ? new Date(msg.created_at) : new Date()).toISOString();
  time.dateTime = when;
  time.textContent = when.slice(0, 16).replace("T", " ");
  if (!msg.internal) li.querySelector(".internal-flag")?.remove();
  if (!mine) li.querySelector(".state")?.remove();
  li.querySelector(".body").textContent = msg.body;
  return li;
}

function render(msg, state) {
  const li = build(msg);
  list.querySelector("li.empty")?.remove();
  insertInOrder(li);
  if (msg.author_id === me.id) stateLabel(li, state || "sent");
  return li;
}

function insertInOrder(li) {
  const id = Number(li.dataset.id || 0);
  if (id) {
    // Keep server-id order; unsent messages stay at the end.
    for (const other of list.querySelectorAll("li.message")) {
      const oid = Number(other.dataset.id || 0);
      if (!oid || oid > id) { list.insertBefore(li, other); return; }
    }
  }
  list.appendChild(li);
}

function accept(msg) {
  hold(msg.internal, msg.seq);
  if (list.querySelector('li[data-id="' + msg.id + '"]')) return; // duplicate delivery
  if (msg.author_id === me.id && msg.client_id && pending.has(msg.client_id)) {
    confirmSent(msg.client_id, msg.id, msg.seq);
    return;
  }
  const mine = msg.author_id === me.id && msg.client_id
    ? list.querySelector('li[data-client-id="' + CSS.escape(msg.client_id) + '"]') : null;
  if (mine) {
    mine.dataset.id = msg.id;
    if (msg.seq) mine.dataset.seq = msg.seq;
    return;
  }
  render(msg);
  if (msg.author_id !== me.id) {
    if (document.visibilityState === "visible") markRead(msg.id);
    else unseen.add();
  }
}

function confirmSent(clientId, id, seq) {
  const p = pending.get(clientId);
  pending.delete(clientId);
  savePending();
  if (!p) return;
  hold(p.internal, seq);
  p.li.remove();
  p.li.dataset.id = id;
  if (seq) p.li.dataset.seq = seq;
  insertInOrder(p.li);
  stateLabel(p.li, "sent");
}

function markRead(id) {
  if (socket && socket.connected) socket.emit("mark_read", { ticket_id: ticketId, message_id: id });
}

function sendPending(clientId) {
  const p = pending.get(clientId);
  if (!p) return;
  p.held = false; // a manual retry releases a message the server refused
  pump();
}

function pump() {
  if (inFlight) return;
  const next = [...pending.entries()].find(([, p]) => !p.held);
  if (!next) return;
  const [clientId, p] = next;
  if (!socket.connected) { stateLabel(p.li, "failed", "Offline: it will be sent when you reconnect."); return; }
  inFlight = true;
  stateLabel(p.li, "sending");
  socket.timeout(10000).emit("send_message",
    { ticket_id: ticketId, body: p.body, client_id: clientId, internal: p.internal },
    (err, ack) => {
      inFlight = false;
      if (err) { stateLabel(p.li, "failed", "No answer from the server; retrying when reconnected."); return; }
      if (ack && ack.ok) { confirmSent(clientId, ack.id, ack.seq); pump(); return; }
      p.held = true; // refused (too long, too fast, closed ticket): the person decides
      stateLabel(p.li, "failed", (ack && ack.error) || "Not saved.");
      pump();
    });
}

function catchUp(ack) {
  if (ack && ack.ok) ack.messages.forEach(accept);
}

function setClosed(closed) {
  if (!form) return;
  form.querySelectorAll("textarea, button, input[type=checkbox]").forEach((el) => { el.disabled = closed; });
  let note = document.getElementById("chat-closed-live");
  if (closed && !note) {
    note = document.createElement("p");
    note.id = "chat-closed-live";
    note.className = "alert alert-secondary";
    note.textContent = CLOSED_NOTE;
    form.before(note);
  } else if (!closed && note) note.remove();
}

function listen() {
  socket.on("connect", () => {
    setStatus("", "connected");
    socket.emit("join_ticket", catchUpRequest(), (ack) => {
      if (!ack || !ack.ok) { setStatus((ack && ack.error) || "Could not join the conversation.", "error"); return; }
      catchUp(ack);
      if (ack.more || hasGap()) catchUpNow();
      if (joinedBefore) refreshLive(); // changes whose pushes this page missed meanwhile
      joinedBefore = true;
      const newest = lastId();
      if (newest) markRead(newest);
      pump(); // anything typed while offline goes now, in order
    });
  });
  // Pushes are hints: a periodic catch-up also recovers the newest messages whose pushes
  // were lost (no later message shows the gap), even though this socket stayed up.
  setInterval(catchUpNow, 20000);
  socket.on("disconnect", () => {
    inFlight = false; // an unanswered send is resent on reconnect
    setStatus("Reconnecting… messages you write will be sent once the connection is back.", "reconnecting");
  });
  socket.on("connect_error", () => setStatus("Reconnecting…", "reconnecting"));
  socket.on("message_created", (msg) => {
    if (msg.ticket_id !== ticketId) return;
    accept(msg);
    if (hasGap()) catchUpNow(); // a message before this one never arrived: ask for it now
  });
  socket.on("messages_read", (ev) => {
    if (ev.ticket_id !== ticketId || ev.user_id === me.id) return;
    list.querySelectorAll("li.mine[data-id]").forEach((li) => {
      if (Number(li.dataset.id) <= ev.message_id) stateLabel(li, "read");
    });
  });
  socket.on("typing", (ev) => {
    if (ev.ticket_id !== ticketId || ev.user_id === me.id || !typingEl) return;
    const who = ev.role === "customer" ? ev.name : capitalize(ev.role) + " " + ev.name;
    typingEl.textContent = who + " is typing…";
    typingEl.hidden = false;
    clearTimeout(typingTimer);
    typingTimer = setTimeout(() => { typingEl.hidden = true; }, 4000);
  });
  socket.on("ticket_updated", (t) => {
    if (t.id !== ticketId) return;
    showTicket(t);
    setClosed(t.status === "closed");
    refreshLive();
  });
  // Reassigned away: the page shows the refusal, unless this page is already leaving (the
  // agent handed the ticket on from it).
  socket.on("ticket_unassigned", (ev) => { if (ev.id === ticketId && !leaving) window.location.reload(); });
  window.addEventListener("beforeunload", () => { leaving = true; });
}

// The badge, buttons, forms and timeline follow the change; the message box stays as it is
// (setClosed handles it), unless the page was loaded closed and the ticket has been reopened:
// then the box arrives and is upgraded.
function refreshLive() {
  refreshTicket((region) => region.id === "composer" && form !== null);
}

document.addEventListener("ccr:ticket-refreshed", () => {
  if (form) return;
  form = document.getElementById("message-form");
  if (form) upgradeForm();
});

function ownMessage(body, internal, clientId) {
  return { author_id: me.id, author_name: me.name, author_role: me.role, body, internal, client_id: clientId };
}

function upgradeForm() {
  const textarea = form.querySelector("textarea[name=body]");
  const internalBox = form.querySelector("input[name=internal]");
  textarea.addEventListener("input", () => {
    const now = Date.now();
    if (socket.connected && now - lastTypingSent > 2500) {
      lastTypingSent = now;
      // While the internal-note box is ticked, only staff are told someone is typing.
      socket.emit("typing", { ticket_id: ticketId, internal: Boolean(internalBox && internalBox.checked) });
    }
  });
  textarea.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); form.requestSubmit(); }
  });
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const body = textarea.value.trim();
    if (!body) return;
    const clientId = (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random()).replace(/-/g, "");
    const internal = Boolean(internalBox && internalBox.checked);
    const li = render(ownMessage(body, internal, clientId), "sending");
    pending.set(clientId, { body, internal, li });
    savePending();
    textarea.value = "";
    if (internalBox) internalBox.checked = false;
    pump();
  });
}

// Messages typed before a reload that never reached the server are restored and resent.
function restorePending() {
  try {
    localStorage.removeItem("ccr:pending:" + ticketId); // the old per-ticket key: whose is unknown
    JSON.parse(localStorage.getItem(storeKey) || "[]").forEach((p) => {
      const li = render(ownMessage(p.body, p.internal, p.client_id), "sending");
      pending.set(p.client_id, { body: p.body, internal: p.internal, li });
    });
  } catch { /* nothing stored */ }
}

if (list && template) {
  list.querySelectorAll("li[data-seq]").forEach((li) => {
    hold(li.classList.contains("internal"), Number(li.dataset.seq));
  });
  socket = connect();
  unseen = unseenCounter(() => {
    const newest = lastId();
    if (newest) markRead(newest);
  });
  listen();
  if (form) { upgradeForm(); restorePending(); }
}
