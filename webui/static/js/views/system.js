// @ts-check
// The System page, for every role: version, uptime (ticking) and the state
// of each module, live from the "system" topic.

import { TOPICS } from "../protocol.js";
import { ErrorBox, errorText, formatDuration, formatTime, h } from "../ui.js";

/** @typedef {import("../app.js").AppContext} AppContext */
/** @typedef {import("../app.js").View} View */

/**
 * @typedef {object} ModuleStatus
 * @property {string} name
 * @property {string} state running | starting | stopped | failed | disabled
 * @property {string} [detail]
 */

/**
 * @typedef {object} SystemStatus
 * @property {string} version
 * @property {string} go_version
 * @property {string} started_at
 * @property {number} uptime_s
 * @property {ModuleStatus[]} modules
 */

/** Module states the page knows; others are shown as they come. */
const STATES = new Set(["running", "starting", "stopped", "failed", "disabled"]);

/**
 * mountSystem builds the System page.
 * @param {AppContext} ctx
 * @returns {View}
 */
export function mountSystem(ctx) {
  const { i18n, client } = ctx;

  /** @type {SystemStatus | null} */
  let status = null;
  let receivedAt = 0;

  const version = h("dd", { testid: "system-version", text: "—" });
  const goVersion = h("dd", { text: "—" });
  const started = h("dd", { text: "—" });
  const uptime = h("dd", { testid: "system-uptime", text: "—" });
  const error = new ErrorBox("system-error");
  const tbody = h("tbody");
  const empty = h("p", { class: "muted empty", i18n: "system.no_modules", attrs: { hidden: true } });

  const el = h(
    "div",
    { class: "page page-system" },
    error.el,
    h(
      "section",
      { class: "card" },
      h("h2", { class: "card-title", i18n: "system.overview" }),
      h(
        "dl",
        { class: "facts" },
        h("div", { class: "fact" }, h("dt", { i18n: "system.version" }), version),
        h("div", { class: "fact" }, h("dt", { i18n: "system.uptime" }), uptime),
        h("div", { class: "fact" }, h("dt", { i18n: "system.started" }), started),
        h("div", { class: "fact" }, h("dt", { i18n: "system.go" }), goVersion),
      ),
    ),
    h(
      "section",
      { class: "card card-fill" },
      h("h2", { class: "card-title", i18n: "system.modules" }),
      h(
        "div",
        { class: "table-scroll" },
        h(
          "table",
          { class: "table", testid: "system-modules" },
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              h("th", { class: "col-module", i18n: "system.col.module" }),
              h("th", { class: "col-state", i18n: "system.col.state" }),
              h("th", { i18n: "system.col.detail" }),
            ),
          ),
          tbody,
        ),
        empty,
      ),
    ),
  );

  const showUptime = () => {
    if (!status) return;
    const secs = status.uptime_s + (performance.now() - receivedAt) / 1000;
    uptime.textContent = formatDuration(i18n, secs);
  };

  const render = () => {
    if (!status) return;
    version.textContent = status.version || "—";
    goVersion.textContent = status.go_version || "—";
    started.textContent = formatTime(status.started_at);
    showUptime();
    const mods = status.modules ?? [];
    empty.hidden = mods.length > 0;
    tbody.replaceChildren(
      ...mods.map((m) => {
        const known = i18n.has(`module.${m.name}`);
        const state = STATES.has(m.state) ? m.state : "unknown";
        return h(
          "tr",
          { data: { module: m.name, state: m.state } },
          h(
            "td",
            {},
            h("span", { class: "strong", text: known ? i18n.t(`module.${m.name}`) : m.name }),
            known ? h("span", { class: "muted mono small id-tag", text: m.name }) : null,
          ),
          h("td", {}, h("span", { class: `badge badge-${state}`, text: STATES.has(m.state) ? i18n.t(`state.${m.state}`) : m.state })),
          h("td", { class: "muted wrap", text: m.detail ?? "" }),
        );
      }),
    );
  };

  const unsubscribe = client.subscribe(
    [TOPICS.SYSTEM],
    (ev) => {
      if (ev.kind === "snapshot" || ev.kind === "system.status") {
        status = /** @type {SystemStatus} */ (ev.data);
        receivedAt = performance.now();
        error.hide();
        render();
      }
    },
    (err) => error.show(() => errorText(i18n, err)),
  );
  const tick = setInterval(showUptime, 1000);

  return {
    el,
    relocalize() {
      render();
      error.relocalize();
    },
    destroy() {
      clearInterval(tick);
      unsubscribe();
    },
  };
}
