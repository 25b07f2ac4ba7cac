// Getting a person's attention while they work elsewhere. Loaded by base.html for every
// signed-in page:
// - the "Enable desktop notifications" button (templates/_notify.html) asks the browser
//   for permission only when clicked; it is shown only while the browser has not decided,
//   and [data-notify-state] says what the browser allows;
// - staff get a short beep on new messages and new assignments, switched by the "Sound"
//   switch, remembered in localStorage per user (on by default for agents);
// - on pages with a live socket (body[data-live]): a desktop notification and the tab's
//   count (lib/dom.js: title and favicon) for what happens on other tickets and for new
//   assignments while the page is not looked at; chat.js counts its own ticket's messages.
import { attended, unseenCounter, viewer } from "./lib/dom.js";

const me = viewer();
const staff = me.role === "agent" || me.role === "admin";
const soundKey = "ccr:sound:" + me.id;
const STATES = {
  granted: "Desktop notifications are on.",
  denied: "Desktop notifications are blocked: allow them in this site's browser settings.",
  default: "Desktop notifications are off.",
  unsupported: "This browser cannot show desktop notifications.",
};
let audio = null;

function permission() {
  return "Notification" in window ? Notification.permission : "unsupported";
}

function showPermission() {
  const state = permission();
  document.querySelectorAll("[data-notify-enable]").forEach((button) => { button.hidden = state !== "default"; });
  document.querySelectorAll("[data-notify-state]").forEach((el) => { el.textContent = STATES[state]; });
}

function setUpPermission() {
  document.querySelectorAll("[data-notify-enable]").forEach((button) => {
    button.addEventListener("click", async () => {
      try { await Notification.requestPermission(); } catch { /* an old browser's callback form */ }
      showPermission();
      const said = document.getElementById("notify-said");
      if (said) said.textContent = STATES[permission()];
    });
  });
  showPermission();
}

function soundOn() {
  let stored = null;
  try { stored = localStorage.getItem(soundKey); } catch { /* storage off */ }
  return stored === null ? me.role === "agent" : stored === "on";
}

function setUpSound() {
  const toggle = document.getElementById("sound-toggle");
  if (!toggle) return;
  toggle.checked = soundOn();
  toggle.closest("[hidden]")?.removeAttribute("hidden");
  toggle.addEventListener("change", () => {
    try { localStorage.setItem(soundKey, toggle.checked ? "on" : "off"); } catch { /* storage off */ }
    if (toggle.checked) { unlockAudio(); beep(); } // the switch is a gesture: the browser lets it play
  });
  // Browsers start audio only after a gesture on the page: the first click or key unlocks it.
  ["pointerdown", "keydown"].forEach((name) => document.addEventListener(name, unlockAudio, { once: true }));
}

function unlockAudio() {
  try {
    audio = audio || new AudioContext();
    if (audio.state === "suspended") audio.resume().catch(() => {});
  } catch { /* no Web Audio */ }
}

// A short two-tone chime, about 0.25 s.
function beep() {
  if (!staff || !soundOn()) return;
  unlockAudio();
  if (!audio) return;
  const start = audio.currentTime;
  [[880, 0], [1320, 0.12]].forEach(([frequency, offset]) => {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.frequency.value = frequency;
    gain.gain.setValueAtTime(0.0001, start + offset);
    gain.gain.exponentialRampToValueAtTime(0.15, start + offset + 0.01);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + offset + 0.12);
    osc.connect(gain).connect(audio.destination);
    osc.start(start + offset);
    osc.stop(start + offset + 0.13);
  });
}

function desktop(title, body) {
  if (permission() !== "granted") return;
  try {
    const note = new Notification(title, { body, tag: "ccr", renotify: true });
    note.onclick = () => { window.focus(); note.close(); };
  } catch { /* some browsers allow notifications from a service worker only */ }
}

async function listen() {
  const { connect } = await import("./lib/socket.js");
  const socket = connect();
  const unseen = unseenCounter();
  socket.on("message_created", (msg) => {
    if (msg.author_id === me.id || attended()) return;
    beep();
    desktop("New message from " + msg.author_name, msg.body.slice(0, 140));
  });
  socket.on("ticket_activity", (ev) => {
    beep();
    if (attended()) return;
    unseen.add();
    desktop("Customer Care Registry", "New message on " + ev.reference);
  });
  socket.on("ticket_assigned", (t) => {
    beep();
    if (attended()) return;
    unseen.add();
    desktop("Assigned to you: " + t.reference, t.subject);
  });
}

setUpPermission();
if (staff) setUpSound();
if (document.body.dataset.live) listen();
