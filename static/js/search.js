// The desk header's search box: instant results while typing, grouped by type, in an ARIA
// combobox with a listbox popup. Without this file the box is a plain form to the results page.
(() => {
  "use strict";

  const DELAY_MS = 200;

  function setUpSearchBox(form) {
    const input = form.querySelector("[role=combobox]");
    const popup = document.getElementById(input.getAttribute("aria-controls"));
    const status = form.querySelector("[data-search-status]");
    let timer = null;
    let inFlight = null; // the AbortController of the running fetch
    let shownFor = null; // the text the popup's results are for
    let options = [];
    let active = -1;

    function isOpen() {
      return !popup.hidden;
    }

    function open() {
      if (!options.length) return;
      popup.hidden = false;
      input.setAttribute("aria-expanded", "true");
    }

    function close() {
      popup.hidden = true;
      input.setAttribute("aria-expanded", "false");
      select(-1);
    }

    function select(index) {
      active = index;
      options.forEach((option, i) => option.setAttribute("aria-selected", String(i === index)));
      if (index < 0) {
        input.removeAttribute("aria-activedescendant");
        return;
      }
      input.setAttribute("aria-activedescendant", options[index].id);
      options[index].scrollIntoView({ block: "nearest" });
    }

    function go(url) {
      close();
      window.location.assign(url);
    }

    // One choice of the list. `html` is the server's snippet: escaped text and <mark> only.
    function option(kind, url, parts) {
      const item = document.createElement("div");
      item.id = `header-search-option-${options.length}`;
      item.className = `suggest-option suggest-${kind}`;
      item.setAttribute("role", "option");
      item.setAttribute("aria-selected", "false");
      item.dataset.url = url;
      parts.forEach(([className, text, html]) => {
        const span = document.createElement("span");
        span.className = className;
        if (html) span.innerHTML = html;
        else span.textContent = text;
        item.append(span);
      });
      // Keep the focus in the box (a click must not blur it first), then open the choice.
      item.addEventListener("mousedown", (event) => event.preventDefault());
      item.addEventListener("click", () => go(url));
      options.push(item);
      return item;
    }

    // "#4711 · open" for a ticket or message, "confirmed · €12.50" for an order.
    function hitMeta(hit) {
      let parts = [];
      if (hit.type === "order") parts = [hit.status, hit.total];
      else if (hit.ticket_number) parts = [`#${hit.ticket_number}`, hit.status];
      return parts.filter(Boolean).join(" · ");
    }

    function hitOption(hit) {
      const meta = hitMeta(hit);
      if (hit.type === "ticket") {
        // A ticket's snippet is its subject with the matches marked.
        return option("hit", hit.url, [["suggest-title", "", hit.snippet], ["suggest-meta", meta]]);
      }
      return option("hit", hit.url, [["suggest-title", hit.title], ["suggest-meta", meta],
        ["suggest-snippet", "", hit.snippet]]);
    }

    function render(data) {
      popup.replaceChildren();
      options = [];
      let count = 0;
      data.groups.forEach((group) => {
        if (!group.hits.length) return;
        const section = document.createElement("div");
        section.className = "suggest-group";
        section.setAttribute("role", "group");
        const heading = document.createElement("div");
        heading.className = "suggest-heading";
        heading.id = `header-search-group-${group.type}`;
        heading.textContent = group.label;
        heading.setAttribute("role", "presentation");
        section.setAttribute("aria-labelledby", heading.id);
        section.append(heading);
        group.hits.forEach((hit) => section.append(hitOption(hit)));
        count += group.hits.length;
        if (group.more_url) {
          section.append(option("more", group.more_url,
            [["suggest-title", `More ${group.label.toLowerCase()} →`]]));
        }
        popup.append(section);
      });
      const label = count ? `All results for “${data.query}”` : `Nothing yet: search for “${data.query}”`;
      popup.append(option("all", data.all_url, [["suggest-title", label]]));
      shownFor = data.query;
      status.textContent = count
        ? `${count} instant result${count === 1 ? "" : "s"}; arrow keys to choose, Enter to open.`
        : "No instant results; Enter searches.";
      select(-1);
      open();
    }

    async function fetchResults() {
      const text = input.value.trim();
      if (inFlight) inFlight.abort();
      inFlight = null;
      if (!text) {
        popup.replaceChildren();
        options = [];
        shownFor = null;
        close();
        return;
      }
      if (text === shownFor) {
        open();
        return;
      }
      const controller = new AbortController();
      inFlight = controller;
      try {
        const response = await fetch(`${form.dataset.suggestUrl}?q=${encodeURIComponent(text)}`, {
          headers: { Accept: "application/json" },
          credentials: "same-origin",
          signal: controller.signal,
        });
        if (!response.ok) throw new Error(String(response.status));
        const data = await response.json();
        if (controller.signal.aborted || document.activeElement !== input) return;
        render(data);
      } catch (error) {
        if (error.name !== "AbortError") status.textContent = "Instant results are unavailable; Enter searches.";
      } finally {
        if (inFlight === controller) inFlight = null;
      }
    }

    input.addEventListener("input", () => {
      clearTimeout(timer);
      if (inFlight) inFlight.abort(); // its answer is for older text
      timer = setTimeout(fetchResults, DELAY_MS);
    });
    input.addEventListener("focus", () => {
      if (input.value.trim()) fetchResults(); // reopens the list when it is for this text
    });
    input.addEventListener("blur", () => close());
    input.addEventListener("keydown", (event) => {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        if (!options.length) return;
        event.preventDefault();
        if (!isOpen()) {
          open();
          select(event.key === "ArrowDown" ? 0 : options.length - 1);
        } else if (event.key === "ArrowDown") {
          select(Math.min(active + 1, options.length - 1));
        } else {
          select(active - 1); // from the first choice back to the text
        }
      } else if (event.key === "Enter" && isOpen() && active >= 0) {
        event.preventDefault();
        go(options[active].dataset.url);
      } else if (event.key === "Escape" && isOpen()) {
        event.preventDefault();
        event.stopPropagation(); // the next Escape leaves the box (desk.js)
        close();
      }
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("form[data-suggest-url]").forEach(setUpSearchBox);
  });
})();
