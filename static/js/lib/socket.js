// The page's one Socket.IO connection, shared by every module that imports it. The vendored
// client is socket.io-client's ESM build (scripts/build-assets.mjs copies it).
import { io } from "../../vendor/socket.io/socket.io.esm.min.js";
import { loginUrl } from "./dom.js";

// The pages' connection lines (chat, live lists): where a refused origin is explained.
const STATUS_IDS = ["chat-status", "live-status"];
const ORIGIN_CHECK = "/chat/socket-origin";

let socket = null;
let originChecked = false;

export function connect() {
  if (socket === null) {
    socket = io({ transports: ["websocket", "polling"] });
    // Logged out, reset or deactivated elsewhere: this page's session is gone too.
    socket.on("session_ended", () => {
      const url = loginUrl();
      if (url) window.location.assign(url);
      else window.location.reload();
    });
    socket.on("connect_error", checkOrigin);
  }
  return socket;
}

// A browser does not say why a handshake failed; the server does, when asked. A page whose
// address is not an allowed origin will never connect: say so and stop retrying.
async function checkOrigin() {
  if (originChecked) return;
  let answer;
  try {
    const url = ORIGIN_CHECK + "?origin=" + encodeURIComponent(window.location.origin);
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!response.ok) return;
    answer = await response.json();
  } catch {
    return; // the server is down: the socket's own retries go on, and this asks again
  }
  originChecked = true;
  if (answer.allowed !== false) return;
  socket.disconnect();
  STATUS_IDS.forEach((id) => {
    const el = document.getElementById(id);
    if (!el) return;
    el.textContent = answer.message;
    el.dataset.state = "blocked";
    el.setAttribute("role", "alert");
    el.hidden = false;
  });
}
