/* The board's messages: the toast (a refused move's sentence, with an action when there is
 * one) and the screen reader's live region. */

const toast = document.getElementById("board-message");
const live = document.getElementById("board-live");
let toastTimer = null;

export function announce(text) {
  live.textContent = "";
  window.setTimeout(() => (live.textContent = text), 30);
}

export function hideMessage() {
  toast.hidden = true;
  window.clearTimeout(toastTimer);
}

export function showMessage(text, { kind = "error", actions = null, sticky = false } = {}) {
  window.clearTimeout(toastTimer);
  toast.className = `toast toast-${kind}`;
  toast.querySelector(".toast-text").textContent = text;
  const slot = toast.querySelector(".toast-actions");
  slot.replaceChildren();
  if (actions) slot.append(actions);
  toast.hidden = false;
  if (!sticky && !actions) toastTimer = window.setTimeout(hideMessage, 8000);
}

if (toast) toast.querySelector(".toast-close").addEventListener("click", hideMessage);
