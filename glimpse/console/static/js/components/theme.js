// The theme toggle: follow the system, light, dark (kept in localStorage). Pages that draw on
// canvas listen for the "glimpse-theme" event to redraw.

/** Apply the saved theme and make the #theme-toggle button cycle through the three. */
export function initTheme() {
  const button = document.getElementById("theme-toggle");
  const order = ["auto", "light", "dark"];
  const apply = (theme) => {
    if (theme === "auto") delete document.documentElement.dataset.theme;
    else document.documentElement.dataset.theme = theme;
    button.textContent = { auto: "◐", light: "☀", dark: "☾" }[theme];
    button.title = `Theme: ${theme} (click to change)`;
  };
  let theme = localStorage.getItem("glimpse-theme") || "auto";
  apply(theme);
  button.addEventListener("click", () => {
    theme = order[(order.indexOf(theme) + 1) % order.length];
    localStorage.setItem("glimpse-theme", theme);
    apply(theme);
    window.dispatchEvent(new CustomEvent("glimpse-theme"));
  });
}
