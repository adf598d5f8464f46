// Alerts: the rules `glimpse serve --rules` evaluates, firing and pending first, each with the
// root causes attached when it fired, then the state changes and the remediation actions.
import { fetchOr404, fmtValue, unavailable } from "../components/analysis.js";
import { fmtTime, h, notice, serviceChip, stat } from "../components/util.js";
import { href } from "../router.js";

const STATE_CLASS = { firing: "badge bad", pending: "badge sev-WARN", resolved: "badge accent", inactive: "badge" };

function stateBadge(state) {
  return h("span", { class: `${STATE_CLASS[state] || "badge"} alert-state` }, state);
}

function rootCauses(alert) {
  if (!alert.root_causes.length) return h("span", { class: "muted" }, alert.state === "firing" ? "none found" : "");
  return h("ol", { class: "evidence" }, alert.root_causes.map((c) => h("li", {},
    h("strong", {}, `${c.kind} ${c.name}`), c.service && c.service !== c.name ? h("span", { class: "muted" }, ` in ${c.service}`) : "",
    h("div", { class: "muted", style: { fontSize: "12px" } }, c.evidence))));
}

function rcaLink(alert) {
  const since = alert.active_since ?? alert.fired_at, until = alert.resolved_at ?? alert.evaluated_at;
  if (since === null || until === null || alert.state === "inactive") return "";
  const service = alert.scope.split(" ")[0];
  return h("a", { href: href("rca", { since: String(since - 300e9), until: String(until), range: "custom", service }) }, "root causes →");
}

export async function render(root) {
  root.append(h("div", { class: "page-head" }, h("h1", {}, "Alerts"),
    h("span", { class: "sub" }, "rules evaluated by the server, with the root causes ranked when they fired")));
  const data = await fetchOr404("/api/alerts", { history: "true", limit: 100 });
  if (data === null) { root.append(unavailable("Alerting", "/api/alerts")); return; }
  if (data.missing) { root.append(h("div", { class: "card" }, notice("No alert tables", data.missing))); return; }
  const alerts = data.alerts || [];
  const count = (state) => String(alerts.filter((a) => a.state === state).length);
  root.append(h("div", { class: "card" }, h("div", { class: "stats" }, stat(count("firing"), "firing"), stat(count("pending"), "pending"),
    stat(count("resolved"), "resolved"), stat(String(alerts.length), "rules"))));
  if (!alerts.length) {
    root.append(h("div", { class: "card" }, notice("No alert rules", "Start the server with --rules FILE (docs/alerting.md).")));
    return;
  }
  root.append(h("div", { class: "card flush" }, h("table", { class: "data", id: "alerts" },
    h("thead", {}, h("tr", {}, h("th", {}, "Alert"), h("th", {}, "State"), h("th", {}, "Scope"), h("th", {}, "Signal"), h("th", { class: "num" }, "Value"),
      h("th", {}, "Since"), h("th", {}, "Root causes"), h("th", {}, ""))),
    h("tbody", {}, alerts.map((a) => h("tr", { "data-alert": a.alert },
      h("td", {}, h("strong", {}, a.alert), a.annotations.summary ? h("div", { class: "muted", style: { fontSize: "12px" } }, a.annotations.summary) : ""),
      h("td", {}, stateBadge(a.state)), h("td", {}, serviceChip(a.scope.split(" ")[0]), a.scope.includes(" ") ? ` ${a.scope.slice(a.scope.indexOf(" ") + 1)}` : ""),
      h("td", {}, a.signal), h("td", { class: "num" }, fmtValue(a.value)),
      h("td", {}, (a.state === "firing" ? a.fired_at : a.active_since) ? fmtTime(a.state === "firing" ? a.fired_at : a.active_since, { millis: false }) : ""),
      h("td", {}, rootCauses(a)), h("td", {}, rcaLink(a))))))));
  const history = data.history || [];
  root.append(h("h2", { style: { marginTop: "18px" } }, "State changes"), history.length
    ? h("div", { class: "card flush" }, h("table", { class: "data", id: "alert-history" },
      h("thead", {}, h("tr", {}, h("th", {}, "At"), h("th", {}, "Alert"), h("th", {}, "Change"), h("th", { class: "num" }, "Value"))),
      h("tbody", {}, history.map((c) => h("tr", {}, h("td", {}, fmtTime(c.at, { millis: false })), h("td", {}, c.alert),
        h("td", {}, stateBadge(c.from_state), " → ", stateBadge(c.to_state)), h("td", { class: "num" }, fmtValue(c.value)))))))
    : h("div", { class: "card" }, notice("No state change yet", "Every rule has stayed inactive.")));
  const actions = data.actions || [];
  if (actions.length) {
    root.append(h("h2", { style: { marginTop: "18px" } }, "Remediation actions"), h("div", { class: "card flush" }, h("table", { class: "data", id: "alert-actions" },
      h("thead", {}, h("tr", {}, h("th", {}, "At"), h("th", {}, "Alert"), h("th", {}, "Target"), h("th", {}, "Outcome"), h("th", {}, "Remediation"))),
      h("tbody", {}, actions.map((x) => h("tr", {}, h("td", {}, fmtTime(x.requested_at, { millis: false })), h("td", {}, x.alert),
        h("td", {}, x.target_kind ? `${x.target_kind} ${x.target_name}` : "–"), h("td", {}, h("span", { class: "badge" }, x.outcome)), h("td", {}, x.remediation)))))));
  }
}
