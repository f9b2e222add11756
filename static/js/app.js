// Small progressive enhancements; every page works without this file.
document.addEventListener("DOMContentLoaded", () => {
  // Signup: suggest the address from the organization name until the user edits it.
  const name = document.getElementById("org_name");
  const slug = document.getElementById("slug");
  if (name && slug) {
    let touched = slug.value !== "";
    slug.addEventListener("input", () => { touched = true; });
    name.addEventListener("input", () => {
      if (touched) return;
      slug.value = name.value.normalize("NFKD").replace(/[\u0300-\u036f]/g, "")
        .toLowerCase().replace(/[^a-z0-9]+/g, "-")
        .replace(/^-+|-+$/g, "").slice(0, 63);
    });
  }
  // Close an open menu when clicking elsewhere or pressing Escape.
  document.addEventListener("click", (event) => {
    document.querySelectorAll("details.menu[open]").forEach((menu) => {
      if (!menu.contains(event.target)) menu.removeAttribute("open");
    });
  });
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    document.querySelectorAll("details.menu[open]").forEach((menu) => {
      menu.removeAttribute("open");
      menu.querySelector("summary").focus();
    });
  });
});
