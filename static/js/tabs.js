// ARIA tabs (role="tablist" of role="tab" links). Without JavaScript each tab is a plain
// link. With it, only the selected tab is in the Tab order; Left/Right (and Home/End)
// move to the previous/next tab and select it; Enter or Space selects the focused one. Where the tablist names a form input
// (data-tabs-input), choosing a tab sets that input and fires its change, so the form
// reloads its panel (htmx) instead of following the link.
(() => {
  const tabsOf = (list) => [...list.querySelectorAll('[role="tab"]')];

  function rove(list) {
    const tabs = tabsOf(list);
    const selected = tabs.find((tab) => tab.getAttribute("aria-selected") === "true") || tabs[0];
    tabs.forEach((tab) => tab.setAttribute("tabindex", tab === selected ? "0" : "-1"));
  }

  function select(tab) {
    const list = tab.closest('[role="tablist"]');
    tabsOf(list).forEach((other) => other.setAttribute("aria-selected", String(other === tab)));
    rove(list);
    const input = document.getElementById(list.dataset.tabsInput || "");
    if (!input) return false;
    if (input.value !== tab.dataset.value) {
      input.value = tab.dataset.value;
      input.dispatchEvent(new Event("change", { bubbles: true }));
    }
    return true;
  }

  const STEPS = { ArrowRight: 1, ArrowLeft: -1 };

  document.addEventListener("keydown", (event) => {
    const tab = event.target.closest && event.target.closest('[role="tablist"] [role="tab"]');
    if (!tab) return;
    const tabs = tabsOf(tab.closest('[role="tablist"]'));
    let next;
    if (event.key in STEPS) {
      next = tabs[(tabs.indexOf(tab) + STEPS[event.key] + tabs.length) % tabs.length];
    } else if (event.key === "Home") {
      next = tabs[0];
    } else if (event.key === "End") {
      next = tabs[tabs.length - 1];
    } else if (event.key === " ") {
      next = tab; // Space selects, as Enter does on a link
    } else {
      return;
    }
    event.preventDefault();
    next.focus();
    if (!select(next)) next.click();
  });

  document.addEventListener("click", (event) => {
    const tab = event.target.closest && event.target.closest('[role="tablist"] [role="tab"]');
    if (tab && select(tab)) event.preventDefault();
  });

  document.querySelectorAll('[role="tablist"]').forEach(rove);
})();
