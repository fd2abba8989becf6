// The task form's pickers: a name chosen in "Add by name or id…" adds its id (the text in
// the last brackets, or the typed text itself) as a line of the list field it belongs to.
document.addEventListener("change", (event) => {
  const picker = event.target;
  if (!picker.matches || !picker.matches("input[data-pick-into]")) return;
  const text = picker.value.trim();
  if (!text) return;
  const inBrackets = text.match(/\(([^()\s]+)\)(?:\s·\s\w+)?$/);
  const id = inBrackets ? inBrackets[1] : text;
  const list = document.getElementById(picker.dataset.pickInto);
  if (!list) return;
  const lines = list.value.split(/[\r\n,]+/).map((line) => line.trim()).filter(Boolean);
  if (!lines.includes(id)) lines.push(id);
  list.value = lines.join("\n");
  picker.value = "";
  list.dispatchEvent(new Event("change", { bubbles: true }));
});
