// @ts-check
// Importing cardholders from a CSV file on the Setup tab: the admin picks
// a file exported from the personnel system, the page parses it here and
// sends every row in one building.cardholders.import request, which
// creates or updates them all or none.
//
// Columns, by header name (any order; id, department, cards,
// access_levels, valid_from, valid_until, status and responder are
// optional): id, name, department, cards (separated by ";"),
// access_levels (ids, separated by ";"), valid_from, valid_until (RFC
// 3339 or YYYY-MM-DD), status (active or disabled), responder (yes/true/1).

/**
 * parseCSV splits CSV text into rows of cells (RFC 4180: quoted cells may
 * hold commas, quotes doubled, and line breaks).
 * @param {string} text
 * @returns {string[][]}
 */
export function parseCSV(text) {
  /** @type {string[][]} */
  const rows = [];
  /** @type {string[]} */
  let row = [];
  let cell = "";
  let quoted = false;
  const s = text.replace(/^\uFEFF/, "");
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quoted) {
      if (c === '"' && s[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
      continue;
    }
    if (c === '"') quoted = true;
    else if (c === ",") {
      row.push(cell);
      cell = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && s[i + 1] === "\n") i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
    } else cell += c;
  }
  if (cell !== "" || row.length > 0) {
    row.push(cell);
    rows.push(row);
  }
  return rows.filter((r) => r.some((x) => x.trim() !== ""));
}

/**
 * dateOf turns "YYYY-MM-DD" into the start of that day in local time, as
 * RFC 3339; anything else is passed on for the server to check.
 * @param {string} v
 */
function dateOf(v) {
  if (/^\d{4}-\d{2}-\d{2}$/.test(v)) return new Date(`${v}T00:00:00`).toISOString();
  return v;
}

/**
 * cardholdersFromCSV reads cardholders from CSV text. It returns the
 * cardholders, or a problem: a dictionary key and its values.
 * @param {string} text
 * @returns {{cardholders: Record<string, unknown>[], problem?: {key: string, vars?: Record<string, string | number>}}}
 */
export function cardholdersFromCSV(text) {
  const rows = parseCSV(text);
  if (rows.length < 2) return { cardholders: [], problem: { key: "bld.import.empty" } };
  const head = rows[0].map((x) => x.trim().toLowerCase());
  if (!head.includes("name")) return { cardholders: [], problem: { key: "bld.import.no_name" } };
  const known = ["id", "name", "department", "cards", "access_levels", "valid_from", "valid_until", "status", "responder"];
  const unknown = head.find((x) => x !== "" && !known.includes(x));
  if (unknown) return { cardholders: [], problem: { key: "bld.import.unknown_column", vars: { column: unknown } } };
  const list = (/** @type {string} */ v) => v.split(";").map((x) => x.trim()).filter((x) => x !== "");
  /** @type {Record<string, unknown>[]} */
  const out = [];
  for (let r = 1; r < rows.length; r++) {
    /** @type {Record<string, string>} */
    const cells = {};
    head.forEach((k, i) => {
      if (k) cells[k] = (rows[r][i] ?? "").trim();
    });
    if (!cells.name) return { cardholders: [], problem: { key: "bld.import.row_no_name", vars: { row: r + 1 } } };
    /** @type {Record<string, unknown>} */
    const c = { name: cells.name, cards: list(cells.cards ?? ""), access_levels: list(cells.access_levels ?? "") };
    if (cells.id) c.id = cells.id;
    if (cells.department) c.department = cells.department;
    if (cells.valid_from) c.valid_from = dateOf(cells.valid_from);
    if (cells.valid_until) c.valid_until = dateOf(cells.valid_until);
    if (cells.status) c.status = cells.status.toLowerCase();
    if (cells.responder) c.responder = ["yes", "true", "1", "y", "是"].includes(cells.responder.toLowerCase());
    out.push(c);
  }
  return { cardholders: out };
}
