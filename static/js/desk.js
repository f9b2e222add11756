// The agent desk: keyboard shortcuts, bulk selection, composer and canned responses.
// Progressive enhancement: every form works without this file.
(() => {
  "use strict";

  const $ = (selector, root = document) => root.querySelector(selector);
  const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));

  const NOT_TEXT = ["checkbox", "radio", "button", "submit", "reset", "file", "range", "color"];

  function isTyping(target) {
    if (!(target instanceof HTMLElement)) return false;
    if (target.tagName === "INPUT") return !NOT_TEXT.includes(target.type);
    return target.isContentEditable || target.tagName === "TEXTAREA" || target.tagName === "SELECT";
  }

  function csrfToken() {
    const input = $("input[name=csrf_token]");
    return input ? input.value : "";
  }

  // Forms asking for confirmation (merge, split).
  function setUpConfirm() {
    $$("form[data-confirm]").forEach((form) => {
      form.addEventListener("submit", (event) => {
        if (!window.confirm(form.dataset.confirm)) event.preventDefault();
      });
    });
  }

  // The inbox: moving a selection with j/k, checking rows, the bulk bar.
  function setUpInbox() {
    const rows = $$("[data-ticket-row]");
    const form = $("#bulk-form");
    if (!form) return null;
    let current = -1;

    function select(index) {
      if (!rows.length) return;
      current = Math.max(0, Math.min(rows.length - 1, index));
      rows.forEach((row, i) => row.classList.toggle("is-current", i === current));
      const link = $("[data-row-link]", rows[current]);
      link.focus();
    }
    rows.forEach((row, i) => row.addEventListener("focusin", () => {
      current = i;
      rows.forEach((other, j) => other.classList.toggle("is-current", j === i));
    }));

    const boxes = $$("input[name=tickets]", form);
    const all = $("[data-select-all]", form);
    const count = $("[data-bulk-count]", form);
    function updateCount() {
      const checked = boxes.filter((box) => box.checked).length;
      if (count) count.textContent = checked ? `${checked} checked:` : "Check tickets, then:";
      if (all) {
        all.checked = checked > 0 && checked === boxes.length;
        all.indeterminate = checked > 0 && checked < boxes.length;
      }
    }
    boxes.forEach((box) => box.addEventListener("change", updateCount));
    if (all) {
      all.addEventListener("change", () => {
        boxes.forEach((box) => { box.checked = all.checked; });
        updateCount();
      });
    }
    updateCount();

    // Show only the input the chosen bulk action needs.
    const action = $("[data-bulk-action]", form);
    function showActionInputs() {
      $$("[data-bulk-for]", form).forEach((group) => {
        group.hidden = group.dataset.bulkFor !== action.value;
      });
    }
    if (action) {
      action.addEventListener("change", showActionInputs);
      showActionInputs();
    }

    return {
      j: () => select(current + 1),
      k: () => select(current < 0 ? 0 : current - 1),
      o: () => { if (current >= 0) $("[data-row-link]", rows[current]).click(); },
      x: () => {
        if (current < 0) return;
        const box = $("input[name=tickets]", rows[current]);
        box.checked = !box.checked;
        updateCount();
      },
    };
  }

  // The ticket page: reply / note switch, focusing the composer, canned responses.
  function setUpComposer() {
    const form = $("[data-composer]");
    if (!form) return null;
    const body = $("textarea[name=body]", form);
    const submit = $("[data-composer-submit]", form);
    const radios = $$("input[name=kind]", form);

    function syncKind() {
      const chosen = radios.find((radio) => radio.checked);
      const kind = chosen ? chosen.value : "reply";
      form.classList.toggle("is-note", kind === "note");
      submit.textContent = kind === "note" ? submit.dataset.labelNote : submit.dataset.labelReply;
    }
    radios.forEach((radio) => radio.addEventListener("change", syncKind));
    syncKind();

    function focusAs(kind) {
      const radio = radios.find((r) => r.value === kind);
      if (radio) { radio.checked = true; syncKind(); }
      body.focus();
      body.scrollIntoView({ block: "center" });
    }

    setUpCannedPicker(form, body);

    const solve = $("[data-shortcut-solve]");
    return {
      r: () => focusAs("reply"),
      n: () => focusAs("note"),
      e: () => { if (solve) solve.click(); },
    };
  }

  function insertAtCursor(textarea, text) {
    const start = textarea.selectionStart ?? textarea.value.length;
    const end = textarea.selectionEnd ?? start;
    textarea.setRangeText(text, start, end, "end");
    textarea.dispatchEvent(new Event("input", { bubbles: true }));
    textarea.focus();
  }

  function setUpCannedPicker(form, body) {
    const picker = $("[data-canned-picker]", form);
    if (!picker) return;
    picker.hidden = false;
    const input = $("input[type=search]", picker);
    const list = $(".canned-results", picker);
    const status = $("#canned-status", picker);
    let timer = null;
    let request = 0;

    async function search() {
      const mine = ++request;
      const url = `${picker.dataset.searchUrl}?q=${encodeURIComponent(input.value.trim())}`;
      try {
        const response = await fetch(url, { headers: { Accept: "application/json" } });
        if (!response.ok) throw new Error(String(response.status));
        const data = await response.json();
        if (mine === request) show(data.items);
      } catch (error) {
        status.textContent = "Canned responses could not be loaded.";
      }
    }

    function show(items) {
      list.replaceChildren();
      status.textContent = items.length ? `${items.length} found` : "No canned response matches.";
      items.slice(0, 8).forEach((item) => {
        const li = document.createElement("li");
        const button = document.createElement("button");
        button.type = "button";
        button.className = "canned-option";
        const title = document.createElement("strong");
        title.textContent = item.title;
        const preview = document.createElement("span");
        preview.className = "muted";
        preview.textContent = item.preview;
        button.append(title, " ", preview);
        button.addEventListener("click", () => use(item));
        li.append(button);
        list.append(li);
      });
    }

    async function use(item) {
      try {
        const response = await fetch(picker.dataset.insertBase + item.id, {
          method: "POST",
          headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" },
        });
        const data = await response.json();
        if (!response.ok) throw new Error(data.error ? data.error.message : "refused");
        insertAtCursor(body, data.body);
        status.textContent = `Inserted “${item.title}”.`;
        list.replaceChildren();
        input.value = "";
      } catch (error) {
        status.textContent = `Could not insert: ${error.message}`;
      }
    }

    input.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(search, 150);
    });
    input.addEventListener("focus", () => { if (!list.children.length) search(); });
    input.addEventListener("keydown", (event) => {
      if (event.key === "ArrowDown") {
        const first = $("button", list);
        if (first) { event.preventDefault(); first.focus(); }
      }
    });
    list.addEventListener("keydown", (event) => {
      const buttons = $$("button", list);
      const index = buttons.indexOf(document.activeElement);
      if (event.key === "ArrowDown" && index < buttons.length - 1) {
        event.preventDefault(); buttons[index + 1].focus();
      } else if (event.key === "ArrowUp") {
        event.preventDefault(); (index > 0 ? buttons[index - 1] : input).focus();
      }
    });
  }

  function setUpShortcuts(actions) {
    const help = $("#shortcut-help");
    const showHelp = () => { if (help && !help.open) help.showModal(); };
    $$("[data-shortcut-help]").forEach((button) => button.addEventListener("click", showHelp));
    const up = $("[data-shortcut-up]");

    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && isTyping(event.target) && !(help && help.open)) {
        event.target.blur();
        return;
      }
      if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
      if (isTyping(event.target) || (help && help.open)) return;
      let key = event.key;
      if (key === "?") { event.preventDefault(); showHelp(); return; }
      if (key === "Enter" && actions.o && event.target.closest &&
          !event.target.closest("a, button, [data-ticket-row]")) key = "o";
      if (key === "u" && up) { up.click(); return; }
      const action = actions[key];
      if (action) {
        event.preventDefault();
        action();
      }
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    setUpConfirm();
    const actions = { ...(setUpInbox() || {}), ...(setUpComposer() || {}) };
    setUpShortcuts(actions);
  });
})();
