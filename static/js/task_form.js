// The task form's pickers: a name chosen in "Add by name or id…" adds its id (the text in
// the last brackets, or the typed text itself) as a line of the list field it belongs to.
// A picker marked data-pick-lines (LINE ITEMS) adds the chosen text whole: its values
// hold commas and brackets ("gpt-4o, input (batch)"), one value a line. Enter in a
// picker adds its text, rather than submitting the form half filled.
function pick(picker) {
  const text = picker.value.trim();
  if (!text) return;
  const whole = "pickLines" in picker.dataset;
  const inBrackets = whole ? null : text.match(/\(([^()\s]+)\)(?:\s·\s\w+)?$/);
  const id = inBrackets ? inBrackets[1] : text;
  const list = document.getElementById(picker.dataset.pickInto);
  if (!list) return;
  const separator = whole ? /[\r\n]+/ : /[\r\n,]+/;
  const lines = list.value.split(separator).map((line) => line.trim()).filter(Boolean);
  if (!lines.includes(id)) lines.push(id);
  list.value = lines.join("\n");
  picker.value = "";
  list.dispatchEvent(new Event("change", { bubbles: true }));
}

const isPicker = (element) => element.matches && element.matches("input[data-pick-into]");

document.addEventListener("change", (event) => {
  if (isPicker(event.target)) pick(event.target);
});

document.addEventListener("keydown", (event) => {
  if (event.key !== "Enter" || !isPicker(event.target)) return;
  event.preventDefault();
  pick(event.target);
});
