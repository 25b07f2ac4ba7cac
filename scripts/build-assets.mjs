// Copies the front-end files the pages use from node_modules into static/vendor (git-ignored).
// The pages import socket.io-client's ESM build (static/js/lib/socket.js); the classic build
// (a global `io`) is still copied for clients that load it with a plain script tag.
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const files = [
  ["bootstrap/dist/css/bootstrap.min.css", "bootstrap/bootstrap.min.css"],
  ["bootstrap/dist/css/bootstrap.min.css.map", "bootstrap/bootstrap.min.css.map"],
  ["socket.io-client/dist/socket.io.esm.min.js", "socket.io/socket.io.esm.min.js"],
  ["socket.io-client/dist/socket.io.esm.min.js.map", "socket.io/socket.io.esm.min.js.map"],
  ["socket.io-client/dist/socket.io.min.js", "socket.io/socket.io.min.js"],
  ["socket.io-client/dist/socket.io.min.js.map", "socket.io/socket.io.min.js.map"],
];
for (const [from, to] of files) {
  const target = join(root, "static", "vendor", to);
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(join(root, "node_modules", from), target);
}
console.log(`copied ${files.length} files into static/vendor`);
