// One transient message at a time in the top-right corner (share URL copied, import failed, ...).
let timer = null;

export function toast(message, { error = false, ms = 3500 } = {}) {
  const box = document.getElementById("toast");
  if (!box) return;
  box.textContent = message;
  box.classList.toggle("error", error);
  box.hidden = false;
  clearTimeout(timer);
  timer = setTimeout(() => (box.hidden = true), ms);
}
