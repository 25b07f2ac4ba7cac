// Every form's submit buttons disable themselves while the form is in flight, so a double
// click sends it once (the server also answers a repeat with the first result: forms that
// create something carry an idempotency key). Loaded by base.html on every page.
//
// Forms a page script sends itself (it calls preventDefault, as assign.js does) are left to
// that script. A form whose answer does not leave the page (a download) gets its buttons
// back after REENABLE_AFTER_MS; a page restored from the back/forward cache gets them back
// at once, with a fresh idempotency key (what it sent before got its answer).
const REENABLE_AFTER_MS = 10000;

function buttons(form) {
  return [...form.querySelectorAll('button[type="submit"], button:not([type]), input[type="submit"]')]
    .concat(form.id ? [...document.querySelectorAll(`[type="submit"][form="${form.id}"]`)] : []);
}

function release(form) {
  delete form.dataset.inFlight;
  buttons(form).forEach((button) => {
    if (button.dataset.disabledInFlight) {
      button.disabled = false;
      delete button.dataset.disabledInFlight;
    }
  });
}

function newKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(18));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_");
}

export function guard(root = document) {
  root.addEventListener("submit", (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || event.defaultPrevented) return;
    if (form.dataset.inFlight) {
      event.preventDefault(); // the first submission is on its way
      return;
    }
    form.dataset.inFlight = "1";
    // After this event the browser has read the form (with the pressed button's value):
    // disabling the buttons now would drop that value.
    setTimeout(() => {
      buttons(form).forEach((button) => {
        if (!button.disabled) {
          button.disabled = true;
          button.dataset.disabledInFlight = "1";
        }
      });
    }, 0);
    setTimeout(() => release(form), REENABLE_AFTER_MS);
  });

  window.addEventListener("pageshow", (event) => {
    if (!event.persisted) return;
    document.querySelectorAll("form").forEach((form) => {
      release(form);
      form.querySelectorAll('input[name="idempotency_key"]').forEach((input) => {
        input.value = newKey();
      });
    });
  });
}

guard();
