/* The Trello import's pages (an ES module, no build step):
 *   - the form: a file over the size limit is refused before it is uploaded (the server would
 *     answer 413 without reading it), and the button says the upload is under way;
 *   - the progress page: while the import is queued or running, the job is read from the API
 *     every second and the status and bar follow it; once it has ended, the page is loaded
 *     again, so that the server renders the result (the link to the board, or the error).
 */

// --- the form ----------------------------------------------------------------------------
const form = document.querySelector("form.import-form");
if (form) {
  const input = form.querySelector("input[type=file]");
  const message = document.getElementById("import-file-error");
  const limit = Number(form.dataset.maxBytes);
  const tooBig = () => input.files.length > 0 && limit > 0 && input.files[0].size > limit;
  const say = (text) => {
    message.textContent = text;
    message.hidden = !text;
  };
  input.addEventListener("change", () => {
    say(tooBig() ? `This file is larger than the limit of ${(limit / 1048576).toFixed(0)} MiB.` : "");
  });
  form.addEventListener("submit", (event) => {
    if (tooBig()) {
      event.preventDefault();
      input.focus();
      return;
    }
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    button.textContent = "Uploading…";
    // Back/forward may restore this page from the cache: give the button back.
    window.addEventListener("pageshow", () => {
      button.disabled = false;
      button.textContent = "Import";
    }, { once: true });
  });
}

// --- the progress page -------------------------------------------------------------------
function followJob(panel) {
  const FINISHED = ["done", "failed"];
  if (FINISHED.includes(panel.dataset.status)) return;
  const part = (role) => panel.querySelector(`[data-role=${role}]`);
  const NOTES = {
    queued: "Waiting for a worker to start it…",
    running: "Importing the cards…",
  };
  const LABELS = { queued: "Queued", running: "Running", done: "Done", failed: "Failed" };
  const EVERY_MS = 1000;
  let failures = 0;

  function show(job) {
    const status = part("status");
    status.textContent = LABELS[job.status] || job.status;
    status.className = `import-pill status-${job.status}`;
    if (NOTES[job.status]) part("note").textContent = NOTES[job.status];
    const bar = part("bar");
    bar.max = Math.max(job.progress.total, 1);
    bar.value = job.progress.done;
    part("done").textContent = job.progress.done;
    part("total").textContent = job.progress.total;
    panel.dataset.status = job.status;
  }

  async function poll() {
    try {
      const response = await fetch(panel.dataset.apiUrl, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      if (response.status === 404 || response.status === 401) return; // gone, or logged out
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const job = await response.json();
      failures = 0;
      show(job);
      if (FINISHED.includes(job.status)) {
        window.location.reload();
        return;
      }
    } catch (error) {
      failures += 1; // the server restarting, the network: try again, less often
    }
    setTimeout(poll, EVERY_MS * Math.min(1 + failures, 10));
  }

  setTimeout(poll, EVERY_MS);
}

const jobPanel = document.querySelector("[data-import-job]");
if (jobPanel) followJob(jobPanel);
