// Live chat on a ticket page. The server-rendered form keeps working without this script.
// Messages are inserted with textContent only; the server id decides order and duplicates.
(function () {
  "use strict";
  const list = document.getElementById("messages");
  const form = document.getElementById("message-form");
  if (!list || typeof io !== "function") return;

  const ticketId = Number(list.dataset.ticketId);
  const me = Number(document.body.dataset.userId);
  const statusEl = document.getElementById("chat-status");
  const typingEl = document.getElementById("typing-indicator");
  const storeKey = "ccr:pending:" + ticketId;
  const pending = new Map(); // client_id -> {body, internal, li}
  let lastTypingSent = 0;
  let typingTimer = null;
  let unseen = 0;
  const baseTitle = document.title;

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
    try { localStorage.setItem(storeKey, JSON.stringify(items)); } catch (e) { /* storage full or off */ }
  }

  function stateLabel(li, state, reason) {
    li.dataset.state = state;
    const el = li.querySelector(".state");
    if (!el) return;
    el.textContent = { sending: "Sending…", sent: "Sent", read: "Read", failed: "Not sent" }[state] || "";
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

  function render(msg, opts) {
    const li = document.createElement("li");
    li.className = "message" + (msg.internal ? " internal" : "") + (msg.author_id === me ? " mine" : "");
    if (msg.id) li.dataset.id = msg.id;
    if (msg.client_id) li.dataset.clientId = msg.client_id;
    const meta = document.createElement("div");
    meta.className = "meta small text-body-secondary";
    const author = document.createElement("span");
    author.className = "author";
    author.textContent = msg.author_name;
    const role = document.createElement("span");
    role.className = "role";
    role.textContent = msg.author_role ? msg.author_role.charAt(0).toUpperCase() + msg.author_role.slice(1) : "";
    const time = document.createElement("time");
    const when = msg.created_at ? new Date(msg.created_at) : new Date();
    time.dateTime = when.toISOString();
    time.textContent = when.toISOString().slice(0, 16).replace("T", " ");
    meta.append(author, " · ", role, " · ", time);
    if (msg.internal) {
      const note = document.createElement("strong");
      note.textContent = "Internal note";
      meta.append(" · ", note);
    }
    if (msg.author_id === me) {
      const state = document.createElement("span");
      state.className = "state ms-1";
      meta.append(" · ", state);
    }
    const body = document.createElement("div");
    body.className = "body";
    body.textContent = msg.body;
    li.append(meta, body);
    const empty = list.querySelector("li.empty");
    if (empty) empty.remove();
    insertInOrder(li);
    if (msg.author_id === me) stateLabel(li, (opts && opts.state) || "sent");
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
    if (list.querySelector('li[data-id="' + msg.id + '"]')) return; // duplicate delivery
    if (msg.author_id === me && msg.client_id && pending.has(msg.client_id)) {
      confirm(msg.client_id, msg.id);
      return;
    }
    const mine = msg.author_id === me && msg.client_id ? list.querySelector('li[data-client-id="' + CSS.escape(msg.client_id) + '"]') : null;
    if (mine) { mine.dataset.id = msg.id; return; }
    render(msg);
    if (msg.author_id !== me) {
      if (document.visibilityState === "visible") markRead(msg.id);
      else { unseen += 1; document.title = "(" + unseen + ") " + baseTitle; }
    }
  }

  function confirm(clientId, id) {
    const p = pending.get(clientId);
    pending.delete(clientId);
    savePending();
    if (!p) return;
    p.li.remove();
    p.li.dataset.id = id;
    insertInOrder(p.li);
    stateLabel(p.li, "sent");
  }

  function markRead(id) {
    if (socket.connected) socket.emit("mark_read", { ticket_id: ticketId, message_id: id });
  }

  // One message in flight at a time, in the order they were typed: the server ids (and so
  // everyone's view) then follow the writer's order, also after a reconnect.
  let inFlight = false;

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
        if (ack && ack.ok) { confirm(clientId, ack.id); pump(); return; }
        p.held = true; // refused (too long, too fast, closed ticket): the person decides
        stateLabel(p.li, "failed", (ack && ack.error) || "Not saved.");
        pump();
      });
  }

  const socket = io({ transports: ["websocket", "polling"] });

  socket.on("connect", () => {
    setStatus("", "connected");
    socket.emit("join_ticket", { ticket_id: ticketId, after_id: lastId() }, (ack) => {
      if (!ack || !ack.ok) { setStatus((ack && ack.error) || "Could not join the conversation.", "error"); return; }
      ack.messages.forEach(accept);
      const newest = lastId();
      if (newest) markRead(newest);
      pump(); // anything typed while offline goes now, in order
    });
  });
  // Pushes are hints: a periodic catch-up also recovers anything lost while the message
  // queue (Redis) between server processes was down, even though this socket stayed up.
  setInterval(() => {
    if (!socket.connected) return;
    socket.emit("join_ticket", { ticket_id: ticketId, after_id: lastId() }, (ack) => {
      if (ack && ack.ok) ack.messages.forEach(accept);
    });
  }, 20000);
  socket.on("disconnect", () => { inFlight = false; }); // an unanswered send is resent on reconnect
  socket.on("disconnect", () => setStatus("Reconnecting… messages you write will be sent once the connection is back.", "reconnecting"));
  socket.on("connect_error", () => setStatus("Reconnecting…", "reconnecting"));
  socket.on("message_created", (msg) => { if (msg.ticket_id === ticketId) accept(msg); });
  socket.on("messages_read", (ev) => {
    if (ev.ticket_id !== ticketId || ev.user_id === me) return;
    list.querySelectorAll("li.mine[data-id]").forEach((li) => {
      if (Number(li.dataset.id) <= ev.message_id) stateLabel(li, "read");
    });
  });
  socket.on("typing", (ev) => {
    if (ev.ticket_id !== ticketId || ev.user_id === me || !typingEl) return;
    const who = ev.role === "customer" ? ev.name : (ev.role.charAt(0).toUpperCase() + ev.role.slice(1)) + " " + ev.name;
    typingEl.textContent = who + " is typing…";
    typingEl.hidden = false;
    clearTimeout(typingTimer);
    typingTimer = setTimeout(() => { typingEl.hidden = true; }, 4000);
  });
  socket.on("ticket_updated", (t) => {
    if (t.id !== ticketId) return;
    const st = document.getElementById("ticket-status");
    if (st) { st.textContent = t.status_label; st.className = "badge status-" + t.status; }
    const agent = document.getElementById("ticket-agent");
    if (agent) agent.textContent = t.assignee_name || "Not assigned yet";
    if (form) {
      const closed = t.status === "closed";
      form.querySelectorAll("textarea, button, input[type=checkbox]").forEach((el) => { el.disabled = closed; });
      let note = document.getElementById("chat-closed-live");
      if (closed && !note) {
        note = document.createElement("p");
        note.id = "chat-closed-live";
        note.className = "alert alert-secondary";
        note.textContent = "This ticket is closed, so the conversation is read-only. Reopen it to write again.";
        form.before(note);
      } else if (!closed && note) note.remove();
    }
  });
  socket.on("ticket_unassigned", (ev) => { if (ev.id === ticketId) window.location.reload(); });
  socket.on("session_ended", () => { window.location.href = "/login"; });

  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") {
      unseen = 0;
      document.title = baseTitle;
      const newest = lastId();
      if (newest) markRead(newest);
    }
  });

  if (form) {
    const textarea = form.querySelector("textarea[name=body]");
    const internalBox = form.querySelector("input[name=internal]");
    textarea.addEventListener("input", () => {
      const now = Date.now();
      if (socket.connected && now - lastTypingSent > 2500) {
        lastTypingSent = now;
        socket.emit("typing", { ticket_id: ticketId });
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
      const internal = !!(internalBox && internalBox.checked);
      const li = render({ author_id: me, author_name: document.body.dataset.userName, author_role: document.body.dataset.role,
        body: body, internal: internal, client_id: clientId }, { state: "sending" });
      pending.set(clientId, { body: body, internal: internal, li: li });
      savePending();
      textarea.value = "";
      if (internalBox) internalBox.checked = false;
      pump();
    });
    // Messages typed before a reload that never reached the server are restored and resent.
    try {
      JSON.parse(localStorage.getItem(storeKey) || "[]").forEach((p) => {
        const li = render({ author_id: me, author_name: document.body.dataset.userName, author_role: document.body.dataset.role,
          body: p.body, internal: p.internal, client_id: p.client_id }, { state: "sending" });
        pending.set(p.client_id, { body: p.body, internal: p.internal, li: li });
      });
    } catch (e) { /* nothing stored */ }
  }
})();
