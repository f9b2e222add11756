// The shop, enhanced: the product page's variant picker shows the chosen variant's price and
// availability; the list's filter menus apply when changed. Every page works without this file.
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-autosubmit]").forEach((input) => {
    input.addEventListener("change", () => input.form.requestSubmit());
  });
  const form = document.querySelector("[data-variant-picker]");
  if (!form) return;
  const price = document.querySelector("[data-testid=product-price]");
  const availability = document.querySelector("[data-testid=availability]");
  const quantity = form.querySelector("input[name=quantity]");
  const button = form.querySelector("button[type=submit]");
  const show = (input) => {
    const available = Number(input.dataset.available);
    price.textContent = input.dataset.price;
    availability.textContent = input.dataset.availability;
    availability.classList.toggle("out", available <= 0);
    button.disabled = available <= 0;
    quantity.max = Math.max(available, 1);
    if (Number(quantity.value) > available && available > 0) quantity.value = available;
  };
  form.querySelectorAll("input[name=variant_id][type=radio]").forEach((input) => {
    input.addEventListener("change", () => {
      show(input);
      const url = new URL(window.location.href);
      url.searchParams.set("variant", input.value);
      window.history.replaceState(null, "", url);
    });
  });
});
