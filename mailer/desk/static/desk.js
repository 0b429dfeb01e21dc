// Live progress of a send: asks the desk how far it is twice a second, and shows the result
// page when the run has ended. Without JavaScript the page reloads itself instead.
(function () {
  "use strict";
  const job = document.getElementById("job");
  if (!job || job.dataset.state !== "running") return;
  const bar = job.querySelector("progress");
  const line = document.getElementById("progress");
  const lost = document.getElementById("lost");
  async function poll() {
    let now;
    try {
      const reply = await fetch(job.dataset.progress, { credentials: "same-origin", cache: "no-store" });
      now = await reply.json();
    } catch (err) {
      now = { state: "gone" };
    }
    if (now.state === "gone" || now.state === "unknown") {
      // the desk stopped (or was started again and does not know this run): say so, keep asking
      lost.hidden = false;
      window.setTimeout(poll, 2000);
      return;
    }
    lost.hidden = true;
    if (now.state !== "running") { window.location.reload(); return; }
    bar.max = Math.max(now.total, 1);
    bar.value = now.sent + now.failed;
    const failed = now.failed ? job.dataset.failedWords.replace("{n}", now.failed) : "";
    line.textContent = job.dataset.words
      .replace("{done}", now.sent).replace("{total}", now.total).replace("{failed}", failed);
    window.setTimeout(poll, 500);
  }
  window.setTimeout(poll, 500);
})();

// A sign-in to Microsoft 365: asks the desk every two seconds whether she has finished at
// Microsoft's page; then the page goes on to where she was (or shows why it did not finish).
(function () {
  "use strict";
  const signin = document.getElementById("signin");
  if (!signin || signin.dataset.state !== "waiting") return;
  async function poll() {
    const reply = await fetch(signin.dataset.progress, { credentials: "same-origin", cache: "no-store" });
    const now = await reply.json();
    if (now.state !== "waiting") { window.location.reload(); return; }
    window.setTimeout(poll, 2000);
  }
  window.setTimeout(poll, 2000);
})();
