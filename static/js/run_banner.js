// A run has ended (its page or its task's history saw the final state): the
// "Run queued" banner turns into the outcome.
document.body.addEventListener("run-finished", (event) => {
  const outcome = event.detail && event.detail.outcome;
  document.querySelectorAll(".msg[data-run-queued]").forEach((banner) => {
    banner.removeAttribute("data-run-queued");
    if (!outcome) { banner.remove(); return; }
    banner.textContent = outcome;
    banner.className = "msg msg-" + (event.detail.status === "succeeded" ? "success" : event.detail.status === "failed" ? "error" : "warning");
  });
});
