// Shared by the analysis pages (anomalies, root causes): their endpoints may be missing
// from an older server, and their values are plain numbers of any scale.
import { api, ApiError, h, notice } from "./util.js";

/** A card saying the server has no such endpoint (it answered a bare 404). */
export function unavailable(what, path) {
  return h("div", { class: "card", id: "not-available" }, notice(`${what} is not available`,
    h("span", {}, `This glimpse server has no ${path} endpoint yet (it answered 404). `,
      "The page fills in as soon as the server provides it; the other pages work meanwhile.")));
}

/** The endpoint's answer; null when the server has no such route; {missing: message} for its own 404. */
export async function fetchOr404(path, params) {
  try {
    return await api(path, params);
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 404) throw error;
    return /^(404 )?Not Found$/.test(error.message) ? null : { missing: error.message };
  }
}

/** A score, an observed or a baseline value -> short text ("–" when missing). */
export function fmtValue(v) {
  if (v === null || v === undefined) return "–";
  if (typeof v !== "number") return String(v);
  const abs = Math.abs(v);
  if (abs === 0) return "0";
  return abs >= 100 ? v.toFixed(0) : abs >= 10 ? v.toFixed(1) : abs >= 1 ? v.toFixed(2) : String(Number(v.toPrecision(3)));
}
