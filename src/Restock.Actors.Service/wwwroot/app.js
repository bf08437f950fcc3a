"use strict";
// The merchant page: one shop's restock switch, ledger, refunds not restocked and refunds needing attention,
// over the service's HTTP API.
(() => {
  const TEXT = window.RESTOCK_TEXT;
  const KEY_STORE = "restock.shopKey";      // sessionStorage: the key leaves with the tab
  const LANGUAGE_STORE = "restock.language"; // localStorage: the language choice is remembered
  const PAGE_SIZE = 20;
  const EXPORT_PAGE = 500;
  const EXPORT_MAX = 10000;

  const $ = (id) => document.getElementById(id);
  let language = localStorage.getItem(LANGUAGE_STORE)
    || ((navigator.language || "").toLowerCase().startsWith("zh") ? "zh" : "en");

  const state = {
    key: null,
    me: null,
    settings: null,
    ledger: { query: {}, cursors: [null], entries: [], nextCursor: null },
    open: { entries: [], nextCursor: null, query: {} },
    attention: { entries: [], nextCursor: null },
    restocked: new Set(),
    busy: new Set(),
    messages: {},
  };

  function t(key, params = {}) {
    const one = params.count === 1 && TEXT.en[`${key}.one`] ? `${key}.one` : key;
    const text = TEXT[language][one] ?? TEXT.en[one] ?? key;
    return text.replace(/\{(\w+)\}/g, (_, name) => String(params[name] ?? ""));
  }

  // Messages are kept as (key, params) so a language switch re-words them too.
  function say(id, key, params) {
    state.messages[id] = key ? { key, params } : null;
    $(id).textContent = key ? t(key, params) : "";
  }

  function sayError(id, error) {
    say(id, error.key, error.params);
  }

  function applyLanguage() {
    document.documentElement.lang = language === "zh" ? "zh-CN" : "en";
    document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
    const switcher = $("language");
    switcher.textContent = t("otherLanguage");
    switcher.lang = t("otherLanguageCode");
    for (const [id, message] of Object.entries(state.messages)) {
      if (message) $(id).textContent = t(message.key, message.params);
    }
    renderWho();
    renderSettings();
    renderLedger();
    renderOpen();
    renderAttention();
  }

  // ---- HTTP -------------------------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, key, params) {
      super(key);
      this.status = status;
      this.key = key;
      this.params = params;
    }
  }

  async function api(method, path, body, key = state.key) {
    const headers = { Accept: "application/json", Authorization: `Bearer ${key}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch {
      throw new ApiError(0, "error.network");
    }
    const text = await response.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = null; }
    if (!response.ok) throw readable(response.status, data);
    return data;
  }

  // Turns a problem-details answer into one sentence; raw JSON is never shown.
  function readable(status, problem) {
    const code = problem && typeof problem.code === "string" ? problem.code : null;
    if (code && TEXT.en[`error.${code}`]) return new ApiError(status, `error.${code}`);
    let detail = "";
    if (problem && problem.errors && typeof problem.errors === "object") {
      detail = Object.entries(problem.errors)
        .map(([field, messages]) => `${fieldName(field)} ${[].concat(messages).join("; ")}`)
        .join(". ");
    }
    if (!detail && problem && typeof problem.detail === "string") detail = problem.detail;
    if (!detail && problem && typeof problem.title === "string") detail = problem.title;
    detail = detail.replace(/\.$/, "");
    switch (status) {
      case 400: return new ApiError(status, "error.400", { detail });
      case 401: return new ApiError(status, "error.401");
      case 403: return new ApiError(status, "error.403");
      case 404: return detail ? new ApiError(status, "error.404", { detail }) : new ApiError(status, "error.404plain");
      case 409: return new ApiError(status, "error.409", { detail });
      case 503: return new ApiError(status, "error.503");
      default: return new ApiError(status, "error.other", { status, detail: detail || "–" });
    }
  }

  function fieldName(field) {
    return TEXT.en[`field.${field}`] ? t(`field.${field}`) : field;
  }

  // A key that stops working (revoked) ends the session: back to sign-in with the reason.
  async function guarded(errorId, action) {
    try {
      say(errorId, null);
      return await action();
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      if (error.status === 401) {
        signOut();
        sayError("sign-in-error", error);
      } else {
        sayError(errorId, error);
      }
      return undefined;
    }
  }

  const shopPath = (rest) => `/shops/${encodeURIComponent(state.me.shopId)}${rest}`;
  const actor = () => `merchant:${state.me.keyId}`;

  function query(params) {
    const search = new URLSearchParams();
    for (const [name, value] of Object.entries(params)) {
      if (value !== null && value !== undefined && value !== "") search.set(name, value);
    }
    const text = search.toString();
    return text ? `?${text}` : "";
  }

  // ---- sign in ----------------------------------------------------------------------------------------------

  async function signIn(key, quiet) {
    say("sign-in-error", null);
    let me;
    try {
      me = await api("GET", "/me", undefined, key);
    } catch (error) {
      sessionStorage.removeItem(KEY_STORE);
      if (!quiet || error.status !== 401) sayError("sign-in-error", error);
      return;
    }
    if (me.kind !== "shop" || !me.shopId) {
      say("sign-in-error", "notShopKey", { kind: t(`kind.${me.kind}`) });
      return;
    }
    state.key = key;
    state.me = me;
    sessionStorage.setItem(KEY_STORE, key);
    $("shop-key").value = "";
    $("sign-in").hidden = true;
    $("shop").hidden = false;
    $("sign-out").hidden = false;
    renderWho();
    $("switch-title").setAttribute("tabindex", "-1");
    $("switch-title").focus();
    await Promise.all([loadSettings(), searchLedger(), loadOpen(false), loadAttention(false)]);
  }

  function signOut() {
    sessionStorage.removeItem(KEY_STORE);
    state.key = null;
    state.me = null;
    state.settings = null;
    state.ledger = { query: {}, cursors: [null], entries: [], nextCursor: null };
    state.open = { entries: [], nextCursor: null, query: {} };
    state.attention = { entries: [], nextCursor: null };
    state.restocked.clear();
    for (const id of Object.keys(state.messages)) say(id, null);
    $("shop").hidden = true;
    $("sign-in").hidden = false;
    $("sign-out").hidden = true;
    renderWho();
    $("shop-key").focus();
  }

  function renderWho() {
    const who = $("whoami");
    who.hidden = !state.me;
    who.textContent = state.me ? t("signedInAs", { shop: state.me.shopId }) : "";
  }

  // ---- the switch -------------------------------------------------------------------------------------------

  async function loadSettings() {
    await guarded("settings-error", async () => {
      state.settings = await api("GET", shopPath("/settings"));
      renderSettings();
    });
  }

  function renderSettings() {
    const s = state.settings;
    const badge = $("switch-state");
    if (!s) {
      badge.textContent = "–";
      return;
    }
    badge.textContent = s.autoRestock ? t("on") : t("off");
    badge.className = `badge ${s.autoRestock ? "on" : "off"}`;
    $("switch-origin").textContent = t(`origin.${s.origin}`);
    $("erp-state").textContent = s.erpRestocks ? t("yes") : t("no");
    $("switch-version").textContent = String(s.version);
    $("switch-toggle").textContent = s.autoRestock ? t("turnOff") : t("turnOn");
    $("switch-toggle").className = s.autoRestock ? "secondary" : "";
    $("erp-toggle").textContent = s.erpRestocks ? t("erpOff") : t("erpOn");

    const body = $("history").tBodies[0];
    body.replaceChildren(...[...s.history].reverse().map((change) => row([
      String(change.version),
      formatTime(change.at),
      t(`setting.${change.setting}`),
      `${change.from ? t("on") : t("off")} → ${change.to ? t("on") : t("off")}${change.erpOverride ? ` (${t("overridden")})` : ""}`,
      t(`origin.${change.origin}`),
      change.actor,
      change.reason,
    ])));
    $("history-empty").hidden = s.history.length > 0;
  }

  async function toggleSwitch() {
    const s = state.settings;
    if (!s) return;
    const on = !s.autoRestock;
    let overrideErp = false;
    if (on && s.erpRestocks) {
      overrideErp = await confirmErpOverride();
      if (!overrideErp) return;
    }
    await change("/settings/auto-restock", { on, overrideErp });
  }

  async function toggleErp() {
    if (state.settings) await change("/settings/erp-restocks", { on: !state.settings.erpRestocks });
  }

  async function change(path, fields) {
    say("settings-status", null);
    const buttons = [$("switch-toggle"), $("erp-toggle")];
    buttons.forEach((b) => { b.disabled = true; });
    try {
      await guarded("settings-error", async () => {
        const reason = $("change-reason").value.trim();
        const answer = await api("PUT", shopPath(path), { ...fields, actor: actor(), reason: reason || undefined });
        state.settings = answer;
        $("change-reason").value = "";
        renderSettings();
        if (answer.outcome === "alreadyDone") say("settings-status", "unchanged", { message: answer.message || "" });
        else if (answer.message) say("settings-status", "savedNote", { message: answer.message });
        else say("settings-status", "saved");
      });
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
  }

  function confirmErpOverride() {
    const dialog = $("erp-confirm");
    const check = $("erp-confirm-check");
    check.checked = false;
    $("erp-confirm-ok").disabled = true;
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => {
        resolve(dialog.returnValue === "confirm" && check.checked);
        $("switch-toggle").focus();
      }, { once: true });
      dialog.returnValue = "cancel";
      dialog.showModal();
      check.focus();
    });
  }

  // ---- the ledger -------------------------------------------------------------------------------------------

  function ledgerQuery() {
    return {
      orderId: $("ledger-order").value.trim(),
      skuId: $("ledger-sku").value.trim(),
      from: isoTime($("ledger-from").value),
      to: isoTime($("ledger-to").value),
    };
  }

  async function searchLedger() {
    state.ledger.query = ledgerQuery();
    state.ledger.cursors = [null];
    await loadLedgerPage();
  }

  async function loadLedgerPage() {
    const ledger = state.ledger;
    const cursor = ledger.cursors[ledger.cursors.length - 1];
    say("ledger-status", "loading");
    await guarded("ledger-error", async () => {
      const page = await api("GET", shopPath(`/ledger${query({ ...ledger.query, cursor, limit: PAGE_SIZE })}`));
      ledger.entries = page.entries;
      ledger.nextCursor = page.nextCursor;
      renderLedger();
      if (ledger.entries.length === 0) say("ledger-status", "noEntries");
      else say("ledger-status", "page", { page: ledger.cursors.length, count: ledger.entries.length });
    });
    if (state.messages["ledger-status"]?.key === "loading") say("ledger-status", null);
  }

  function renderLedger() {
    const ledger = state.ledger;
    $("ledger").tBodies[0].replaceChildren(...ledger.entries.map((e) => row([
      formatTime(e.at), e.orderId, e.refundId, e.skuId, num(e.quantity), num(e.stockBefore), num(e.stockAfter),
      t(`trigger.${e.trigger}`), num(e.settingVersion),
    ], [4, 5, 6, 8])));
    $("ledger-next").disabled = ledger.nextCursor === null || ledger.nextCursor === undefined;
    $("ledger-first").disabled = ledger.cursors.length <= 1;
    showTable("ledger", ledger.entries.length > 0 || ledger.cursors.length > 1);
  }

  async function exportCsv() {
    const button = $("ledger-csv");
    button.disabled = true;
    say("ledger-status", "exporting");
    try {
      await guarded("ledger-error", async () => {
        const q = ledgerQuery();
        const rows = [];
        let cursor = null;
        do {
          const page = await api("GET", shopPath(`/ledger${query({ ...q, cursor, limit: EXPORT_PAGE })}`));
          rows.push(...page.entries);
          cursor = page.nextCursor ?? null;
        } while (cursor !== null && rows.length < EXPORT_MAX);
        const capped = cursor !== null;
        const kept = rows.slice(0, EXPORT_MAX);
        download(`restock-ledger-${state.me.shopId}-${new Date().toISOString().slice(0, 10)}.csv`, toCsv(kept));
        say("ledger-status", capped ? "exportCapped" : "exported", { count: kept.length });
      });
    } finally {
      button.disabled = false;
    }
  }

  const CSV_COLUMNS = ["ledgerId", "at", "shopId", "orderId", "refundId", "skuId", "quantity", "stockBefore", "stockAfter",
    "trigger", "settingVersion"];

  function toCsv(entries) {
    const cell = (value) => {
      const text = value === null || value === undefined ? "" : String(value);
      return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
    };
    const lines = [CSV_COLUMNS.join(",")].concat(entries.map((e) => CSV_COLUMNS.map((c) => cell(e[c])).join(",")));
    return `${lines.join("\r\n")}\r\n`;
  }

  function download(name, text) {
    // The byte-order mark lets spreadsheet programs read the file as UTF-8.
    const url = URL.createObjectURL(new Blob(["\uFEFF", text], { type: "text/csv;charset=utf-8" }));
    const link = document.createElement("a");
    link.href = url;
    link.download = name;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  // ---- refunds not restocked --------------------------------------------------------------------------------

  async function loadOpen(more) {
    const open = state.open;
    if (!more) {
      open.query = { orderId: $("open-order").value.trim(), skuId: $("open-sku").value.trim() };
      open.entries = [];
      open.nextCursor = null;
    }
    say("open-status", "loading");
    await guarded("open-error", async () => {
      const page = await api("GET", shopPath(`/not-restocked${query({ ...open.query, cursor: more ? open.nextCursor : null, limit: PAGE_SIZE })}`));
      open.entries = open.entries.concat(page.entries);
      open.nextCursor = page.nextCursor ?? null;
      renderOpen();
      if (open.entries.length === 0) say("open-status", "openNone");
      else say("open-status", "openCount", { count: open.entries.length });
    });
    if (state.messages["open-status"]?.key === "loading") say("open-status", null);
  }

  function lineKey(e) {
    return `${e.refundId}\u0000${e.skuId}`;
  }

  function renderOpen() {
    const open = state.open;
    $("open").tBodies[0].replaceChildren(...open.entries.map((e) => {
      const tr = row([formatTime(e.refundedAt), e.orderId, e.refundId, e.skuId, num(e.quantity)], [4]);
      const cell = document.createElement("td");
      const button = document.createElement("button");
      button.type = "button";
      const done = state.restocked.has(lineKey(e));
      const busy = state.busy.has(lineKey(e));
      button.textContent = done ? t("restocked") : busy ? t("restocking") : t("restock");
      button.className = done ? "done" : "";
      button.disabled = done || busy;
      button.setAttribute("aria-label", `${button.textContent}: ${t("refundId")} ${e.refundId}, ${t("skuId")} ${e.skuId}`);
      button.addEventListener("click", () => restock(e));
      cell.append(button);
      tr.append(cell);
      return tr;
    }));
    $("open-more").disabled = open.nextCursor === null;
    showTable("open", open.entries.length > 0);
  }

  async function restock(entry) {
    const key = lineKey(entry);
    if (state.restocked.has(key) || state.busy.has(key)) return;
    state.busy.add(key);
    renderOpen();
    try {
      await guarded("open-error", async () => {
        const path = shopPath(`/refunds/${encodeURIComponent(entry.refundId)}/skus/${encodeURIComponent(entry.skuId)}/restock`);
        const answer = await api("POST", path, { actor: actor() });
        state.restocked.add(key);
        const params = { refund: entry.refundId, sku: entry.skuId, quantity: entry.quantity, available: answer.available };
        say("open-status", answer.outcome === "alreadyDone" ? "restockAlready" : "restockDone", params);
      });
    } finally {
      state.busy.delete(key);
      renderOpen();
    }
  }

  // ---- refunds needing attention ----------------------------------------------------------------------------

  async function loadAttention(more) {
    const attention = state.attention;
    if (!more) {
      attention.entries = [];
      attention.nextCursor = null;
    }
    say("attention-status", "loading");
    await guarded("attention-error", async () => {
      const page = await api("GET", shopPath(`/refunds/needs-attention${query({ cursor: more ? attention.nextCursor : null, limit: PAGE_SIZE })}`));
      attention.entries = attention.entries.concat(page.entries);
      attention.nextCursor = page.nextCursor ?? null;
      renderAttention();
      if (attention.entries.length === 0) say("attention-status", "attentionNone");
      else say("attention-status", "attentionCount", { count: attention.entries.length });
    });
    if (state.messages["attention-status"]?.key === "loading") say("attention-status", null);
  }

  function reason(entry) {
    const known = `reason.${entry.code}`;
    return TEXT.en[known] ? t(known) : entry.message || entry.code;
  }

  function renderAttention() {
    const attention = state.attention;
    $("attention").tBodies[0].replaceChildren(...attention.entries.map((e) =>
      row([formatTime(e.parkedAt), e.orderId, e.refundId, e.skuId, num(e.quantity), reason(e), formatTime(e.since)], [4])));
    $("attention-more").disabled = attention.nextCursor === null;
    showTable("attention", attention.entries.length > 0);
  }

  // ---- helpers ----------------------------------------------------------------------------------------------

  function row(values, numeric = []) {
    const tr = document.createElement("tr");
    values.forEach((value, i) => {
      const td = document.createElement("td");
      td.textContent = value;
      if (numeric.includes(i)) td.className = "num";
      tr.append(td);
    });
    return tr;
  }

  // An empty table (and its pager) is hidden; the status line says why it is empty.
  function showTable(id, shown) {
    const table = $(id);
    table.closest(".table-wrap").hidden = !shown;
    table.closest("section").querySelector(".pager").hidden = !shown;
  }

  function num(value) {
    return Number(value).toLocaleString(language === "zh" ? "zh-CN" : "en-GB");
  }

  function formatTime(value) {
    const time = new Date(value);
    if (Number.isNaN(time.getTime())) return String(value);
    return new Intl.DateTimeFormat(language === "zh" ? "zh-CN" : "en-GB", { dateStyle: "medium", timeStyle: "medium" }).format(time);
  }

  // datetime-local holds the browser's local time; the API takes an instant.
  function isoTime(value) {
    if (!value) return "";
    const time = new Date(value);
    return Number.isNaN(time.getTime()) ? value : time.toISOString();
  }

  // ---- wiring -----------------------------------------------------------------------------------------------

  $("sign-in-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const key = $("shop-key").value.trim();
    if (!key) say("sign-in-error", "keyRequired");
    else signIn(key, false);
  });
  $("sign-out").addEventListener("click", signOut);
  $("language").addEventListener("click", () => {
    language = language === "zh" ? "en" : "zh";
    localStorage.setItem(LANGUAGE_STORE, language);
    applyLanguage();
  });
  $("switch-toggle").addEventListener("click", toggleSwitch);
  $("erp-toggle").addEventListener("click", toggleErp);
  $("erp-confirm-check").addEventListener("change", (event) => { $("erp-confirm-ok").disabled = !event.target.checked; });
  $("ledger-form").addEventListener("submit", (event) => { event.preventDefault(); searchLedger(); });
  $("ledger-next").addEventListener("click", () => {
    if (state.ledger.nextCursor === null) return;
    state.ledger.cursors.push(state.ledger.nextCursor);
    loadLedgerPage();
  });
  $("ledger-first").addEventListener("click", () => { state.ledger.cursors = [null]; loadLedgerPage(); });
  $("ledger-csv").addEventListener("click", exportCsv);
  $("open-form").addEventListener("submit", (event) => { event.preventDefault(); loadOpen(false); });
  $("open-more").addEventListener("click", () => loadOpen(true));
  $("attention-refresh").addEventListener("click", () => loadAttention(false));
  $("attention-more").addEventListener("click", () => loadAttention(true));

  applyLanguage();
  const saved = sessionStorage.getItem(KEY_STORE);
  if (saved) signIn(saved, true);
})();
