// @ts-check
// Finding cameras, for admins: building.cameras.discover asks the ONVIF
// cameras on civicd's network to answer (WS-Discovery). Its progress,
// each camera that answers and the end follow as events on the request's
// id; each camera found has a one-click "Add" that opens the editor with
// its address and name, or says which camera it was already added as.

import { REQUEST_TYPES } from "../protocol.js";
import { ErrorBox, h } from "../ui.js";
import { DISCOVERY_MS } from "./cameras-model.js";

/** @typedef {import("./cameras.js").CamerasPage} CamerasPage */
/** @typedef {import("./cameras-model.js").Found} Found */

/** How long after the scan's time the dialog waits for its end. */
const DONE_GRACE_MS = 5000;

/**
 * foundTitle is what a found camera is called: its name, else its
 * hardware, else its address.
 * @param {Found} f
 */
export function foundTitle(f) {
  return f.name || f.hardware || f.address;
}

/**
 * openDiscovery opens the "Find cameras" dialog and starts a scan.
 * @param {CamerasPage} page
 */
export function openDiscovery(page) {
  const { client, i18n } = page.ctx;
  const progress = h("progress", { class: "cam-progress", testid: "discovery-progress", attrs: { max: 100, value: 0 } });
  const status = h("p", { class: "small", testid: "discovery-status", attrs: { role: "status", "aria-live": "polite" } });
  const list = h("ul", { class: "cam-found", testid: "discovery-list" });
  const none = h("p", { class: "muted empty-line", testid: "discovery-none", i18n: "cam.disc.none", attrs: { hidden: true } });
  const error = new ErrorBox("discovery-error");
  const again = h("button", { class: "btn", testid: "discovery-again", i18n: "cam.disc.again", attrs: { type: "button" } });
  const close = h("button", { class: "btn btn-primary", i18n: "common.close", attrs: { type: "submit", value: "close" } });
  const dlg = h(
    "dialog",
    { class: "dialog dialog-wide cam-discovery", testid: "discovery-dialog" },
    h(
      "form",
      { attrs: { method: "dialog" } },
      h("h2", { class: "dialog-title", i18n: "cam.disc.title" }),
      h("p", { class: "muted small", i18n: "cam.disc.hint" }),
      h("div", { class: "cam-progress-row" }, progress, status),
      error.el,
      h("div", { class: "cam-found-scroll" }, list, none),
      h("div", { class: "dialog-actions" }, again, close),
    ),
  );

  /** @type {Map<string, {found: Found, added: string}>} cameras found, by address */
  const found = new Map();
  let scanning = false;
  /** @type {() => void} */
  let closeStream = () => {};
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let guard;
  let gen = 0;

  /** @param {Found} f */
  const add = async (f) => {
    const cam = await page.edit(undefined, { onvif_url: f.address, name: foundTitle(f) });
    const entry = found.get(f.address);
    if (cam && entry) {
      entry.added = cam.id;
      render();
    }
  };

  const render = () => {
    list.replaceChildren(
      ...[...found.values()].map(({ found: f, added }) => {
        const known = added || f.known || "";
        const knownName = known ? (page.state.cameras.get(known)?.name ?? known) : "";
        const meta = [f.hardware && f.hardware !== foundTitle(f) ? f.hardware : "", f.location ?? ""].filter(Boolean).join(" · ");
        return h(
          "li",
          { class: "cam-found-item", data: { address: f.address, known } },
          h(
            "div",
            { class: "cam-found-text" },
            h("div", { class: "strong", text: foundTitle(f) }),
            meta ? h("div", { class: "muted small", text: meta }) : null,
            h("div", { class: "mono small wrap", text: f.address, attrs: { title: (f.xaddrs ?? []).join("\n") } }),
          ),
          known
            ? h("span", { class: "tag tag-plain cam-found-known", testid: "discovery-known", text: i18n.t(added ? "cam.disc.added" : "cam.disc.known", { name: knownName }) })
            : h("button", { class: "btn btn-small btn-primary", testid: "discovery-add", i18n: "cam.disc.add", text: i18n.t("cam.disc.add"), attrs: { type: "button" }, on: { click: () => add(f) } }),
        );
      }),
    );
    none.hidden = scanning || found.size > 0;
  };

  /**
   * @param {number} percent
   */
  const showProgress = (percent) => {
    progress.value = Math.max(0, Math.min(100, percent));
    status.textContent = scanning ? i18n.t("cam.disc.looking", { n: found.size }) : found.size ? i18n.t("cam.disc.found", { n: found.size }) : "";
    dlg.dataset.scanning = String(scanning);
  };

  /**
   * finish ends a scan.
   * @param {number} g the scan's generation.
   * @param {string} [problem] what went wrong, in words.
   */
  const finish = (g, problem = "") => {
    if (g !== gen) return;
    gen++;
    clearTimeout(guard);
    closeStream();
    scanning = false;
    again.disabled = false;
    if (problem) error.show(() => problem);
    showProgress(100);
    render();
  };

  const scan = () => {
    const g = ++gen;
    error.hide();
    found.clear();
    scanning = true;
    again.disabled = true;
    showProgress(0);
    render();
    const st = client.stream(
      REQUEST_TYPES.CAMERAS_DISCOVER,
      { timeout_ms: DISCOVERY_MS },
      (ev) => {
        if (g !== gen) return;
        const d = /** @type {any} */ (ev.data ?? {});
        switch (ev.kind) {
          case "discovery.progress":
            showProgress(Number(d.percent ?? 0));
            break;
          case "discovery.found":
            if (d.camera?.address) {
              found.set(d.camera.address, { found: d.camera, added: found.get(d.camera.address)?.added ?? "" });
              render();
              showProgress(progress.value);
            }
            break;
          case "discovery.done":
            for (const f of Array.isArray(d.found) ? d.found : []) {
              if (f?.address && !found.has(f.address)) found.set(f.address, { found: f, added: "" });
            }
            finish(g, d.error ? i18n.t("cam.disc.failed", { detail: String(d.error) }) : "");
            break;
        }
      },
      () => finish(g, i18n.t("err.disconnected")),
    );
    closeStream = st.close;
    st.result.catch((err) => finish(g, page.explain(err)));
    guard = setTimeout(() => finish(g, i18n.t("cam.disc.no_end")), DISCOVERY_MS + DONE_GRACE_MS);
  };

  again.addEventListener("click", scan);
  i18n.translate(dlg);
  document.body.append(dlg);
  dlg.addEventListener("close", () => {
    gen++;
    clearTimeout(guard);
    closeStream();
    dlg.remove();
  });
  dlg.showModal();
  scan();
}
