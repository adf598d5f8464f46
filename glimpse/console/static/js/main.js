// The console's boot module, the only one with side effects at import (index.html loads only
// it): the theme, then on every hash change the page the route names, rendered into #page.
// Pages are loaded on demand; #page[data-ready=true] once one has rendered (tests wait on it).
import { initTheme } from "./components/theme.js";
import { api, errorBox, h, setServiceNames } from "./components/util.js";
import { windowPicker } from "./components/window-picker.js";
import { href, parseHash, resolveWindow, routeOf } from "./router.js";

let renderToken = 0;

async function show() {
  const token = ++renderToken;
  const { page, arg, params } = parseHash();
  const root = document.getElementById("page");
  root.dataset.ready = "false";
  const route = routeOf(page);
  const nav = route ? route.nav : page;
  for (const a of document.querySelectorAll("#nav a")) {
    a.classList.toggle("active", a.dataset.page === nav);
    a.setAttribute("href", href(a.dataset.page)); // the pages share the window
  }
  if (!route) {
    root.replaceChildren(errorBox(`no page ${page}`));
    return;
  }
  let extent;
  try {
    extent = await api("/api/extent");
    setServiceNames(extent.service_names || []);
  } catch (error) {
    root.replaceChildren(errorBox(error));
    return;
  }
  const ctx = { page, arg, params, extent, window: resolveWindow(params, extent), isCurrent: () => token === renderToken };
  windowPicker(ctx);
  root.dataset.page = page;
  try {
    const module = await import(route.url);
    const container = h("div", { class: "page" });
    root.replaceChildren(container);
    await module.render(container, ctx);
  } catch (error) {
    console.error(error);
    if (token === renderToken) root.replaceChildren(errorBox(error));
  }
  if (token === renderToken) root.dataset.ready = "true";
}

initTheme();
window.addEventListener("hashchange", show);
show();
