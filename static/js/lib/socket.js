// The page's one Socket.IO connection, shared by every module that imports it. The vendored
// client is socket.io-client's ESM build (scripts/build-assets.mjs copies it).
import { io } from "../../vendor/socket.io/socket.io.esm.min.js";
import { loginUrl } from "./dom.js";

let socket = null;

export function connect() {
  if (socket === null) {
    socket = io({ transports: ["websocket", "polling"] });
    // Logged out, reset or deactivated elsewhere: this page's session is gone too.
    socket.on("session_ended", () => {
      const url = loginUrl();
      if (url) window.location.assign(url);
      else window.location.reload();
    });
  }
  return socket;
}
