// Settings pages: the rule builder's repeatable rows, the live canned-response preview, the
// dropdown options of custom fields and confirmations. Every page works without this file.
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-confirm]").forEach((button) => {
    button.addEventListener("click", (event) => {
      if (!window.confirm(button.dataset.confirm)) event.preventDefault();
    });
  });

  // Rule builder: rows are named conditions-<n>-field and so on; the server reads them in
  // index order and skips empty ones, so indexes only have to be unique, not contiguous.
  const choicesData = document.getElementById("action-value-choices");
  const valueChoices = choicesData ? JSON.parse(choicesData.textContent) : {};
  const placeholders = { add_tags: "billing, vip", remove_tags: "billing, vip",
                         add_note: "Text of the internal note" };

  const swapValueControl = (row, kind) => {
    const old = row.querySelector("[data-value-slot] input, [data-value-slot] select");
    let control;
    if (valueChoices[kind]) {
      control = document.createElement("select");
      valueChoices[kind].forEach(([value, label]) => {
        const option = document.createElement("option");
        option.value = value;
        option.textContent = label;
        control.append(option);
      });
    } else {
      control = document.createElement("input");
      control.type = "text";
      control.autocomplete = "off";
      control.placeholder = placeholders[kind] || "";
    }
    control.id = old.id;
    control.name = old.name;
    old.replaceWith(control);
  };

  const wireRow = (row) => {
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "small secondary";
    remove.textContent = "Remove";
    remove.addEventListener("click", () => row.remove());
    row.append(remove);
    const type = row.querySelector("[data-action-type]");
    if (type) type.addEventListener("change", () => swapValueControl(row, type.value));
  };

  document.querySelectorAll("[data-rows]").forEach((container) => {
    const group = container.dataset.rows;
    const template = document.getElementById(`${group}-template`);
    container.querySelectorAll("[data-row]").forEach(wireRow);
    if (!template) return;
    let next = Number(container.dataset.next) || 0;
    const add = document.createElement("button");
    add.type = "button";
    add.className = "small secondary";
    add.textContent = container.dataset.addLabel;
    add.addEventListener("click", () => {
      const index = String(next++);
      const fragment = template.content.cloneNode(true);
      fragment.querySelectorAll("[id], [name], [for]").forEach((element) => {
        ["id", "name", "for"].forEach((attribute) => {
          const value = element.getAttribute(attribute);
          if (value) element.setAttribute(attribute, value.replace("__i__", index));
        });
      });
      const row = fragment.querySelector("[data-row]");
      container.append(fragment);
      wireRow(row);
      row.querySelector("select, input").focus();
    });
    container.after(add);
  });

  // Canned responses: preview with sample data while typing.
  const preview = document.getElementById("canned-preview");
  const body = document.getElementById("body");
  if (preview && body && !body.matches(":disabled")) {
    let timer;
    body.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(async () => {
        const response = await fetch(preview.dataset.previewUrl, {
          method: "POST", body: new FormData(body.form), credentials: "same-origin",
        });
        if (response.ok) preview.textContent = await response.text();
      }, 300);
    });
  }

  // Custom fields: options only matter for dropdowns.
  document.querySelectorAll("[data-options-for]").forEach((wrapper) => {
    const select = document.getElementById(wrapper.dataset.optionsFor);
    if (!select) return;
    const sync = () => { wrapper.hidden = select.value !== "dropdown"; };
    select.addEventListener("change", sync);
    sync();
  });
});
