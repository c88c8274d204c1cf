// @ts-check
// The console's one websocket client, shared by every view.
//
// It connects to /api/ws, answers auth_required with {"type":"auth"} (the
// HttpOnly session cookie authenticates), and then:
//   - request(type, params) sends {id, type, ...params} and resolves with the
//     result, or rejects with a ConsoleError whose .code is a protocol error
//     code or one of the client codes "disconnected", "timeout", "closed";
//   - subscribe(topics, onEvent) streams events and returns an unsubscribe
//     function; every live subscription is sent again after a reconnect;
//   - a lost connection is retried with exponential backoff and jitter
//     (0.5 s doubling to 30 s);
//   - an app-level ping every 25 s finds dead connections.
// Connection state (connecting | online | reconnecting | offline) and the
// outcome of each auth are reported to listeners.

import { CLOSE_CODES, REQUEST_TYPES, SERVER_TYPES } from "./protocol.js";

/** @typedef {"connecting" | "online" | "reconnecting" | "offline"} ConnState */

/**
 * @typedef {object} User
 * @property {number} id
 * @property {string} username
 * @property {string} display_name
 * @property {string} role
 * @property {boolean} disabled
 * @property {string} language
 * @property {string} created_at
 * @property {string} updated_at
 */

/**
 * @typedef {{ok: true, user: User, role: string, version: string} | {ok: false, message: string}} AuthOutcome
 */

/**
 * @typedef {object} ConsoleEvent
 * @property {string} topic
 * @property {string} kind "snapshot" replaces the whole state of the topic.
 * @property {number} [seq]
 * @property {string} at
 * @property {any} data
 */

/**
 * @typedef {object} Subscription
 * @property {string[]} topics
 * @property {(ev: ConsoleEvent) => void} onEvent
 * @property {(err: ConsoleError) => void} [onError]
 * @property {number} sid the id of the subscribe request on the current connection, 0 when not subscribed.
 */

/**
 * @typedef {object} Pending
 * @property {string} type
 * @property {(v: any) => void} resolve
 * @property {(e: ConsoleError) => void} reject
 * @property {ReturnType<typeof setTimeout> | undefined} timer
 */

/**
 * @typedef {object} Queued
 * @property {string} type
 * @property {Record<string, unknown>} params
 * @property {(v: any) => void} resolve
 * @property {(e: ConsoleError) => void} reject
 * @property {ReturnType<typeof setTimeout> | undefined} timer
 */

/** Backoff bounds in milliseconds. */
export const BACKOFF_MIN_MS = 500;
export const BACKOFF_MAX_MS = 30000;

/**
 * ConsoleError is a failed request: code is a protocol error code
 * (ERROR_CODES) or a client code: "disconnected" (the connection dropped
 * before the answer), "timeout", "closed" (the client was stopped).
 */
export class ConsoleError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   */
  constructor(code, message) {
    super(message);
    this.name = "ConsoleError";
    /** @type {string} */
    this.code = code;
  }
}

/**
 * backoffDelay is the wait before reconnect attempt n (0-based): 0.5 s
 * doubling up to 30 s, spread by ±25 % jitter so that many consoles do not
 * reconnect in step after a restart.
 * @param {number} attempt
 * @param {() => number} [random] returns [0, 1).
 * @returns {number} milliseconds.
 */
export function backoffDelay(attempt, random = Math.random) {
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.min(attempt, 16));
  const jittered = base * (0.75 + 0.5 * random());
  return Math.round(Math.min(BACKOFF_MAX_MS, Math.max(BACKOFF_MIN_MS / 2, jittered)));
}

/**
 * wsURL is the console websocket address for a page location: wss: for
 * https: pages, ws: for http: pages.
 * @param {{protocol: string, host: string}} loc
 * @returns {string}
 */
export function wsURL(loc) {
  return `${loc.protocol === "https:" ? "wss:" : "ws:"}//${loc.host}/api/ws`;
}

/**
 * ConsoleClient is the shared websocket client.
 */
export class ConsoleClient {
  #url;
  /** @type {typeof WebSocket} */
  #WS;
  #pingMs;
  #timeoutMs;
  #random;

  /** @type {WebSocket | null} */
  #ws = null;
  /** @type {ConnState} */
  #state = "offline";
  #running = false;
  #authed = false;
  #authFailed = false;
  #attempt = 0;
  #nextId = 1;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #retryTimer;
  /** @type {ReturnType<typeof setInterval> | undefined} */
  #pingTimer;

  /** @type {Map<number, Pending>} */
  #pending = new Map();
  /** @type {Queued[]} */
  #queue = [];
  /** @type {Set<Subscription>} */
  #subs = new Set();
  /** @type {Map<number, Subscription>} */
  #bySid = new Map();
  /** @type {Map<number, {onEvent: (ev: ConsoleEvent) => void, onLost: () => void}>} */
  #streams = new Map();
  /** @type {Set<(s: ConnState) => void>} */
  #stateListeners = new Set();
  /** @type {Set<(a: AuthOutcome) => void>} */
  #authListeners = new Set();

  /**
   * @param {object} opts
   * @param {string} opts.url the websocket URL, see wsURL.
   * @param {typeof WebSocket} [opts.WebSocketImpl]
   * @param {number} [opts.pingMs] app-level ping interval. Default: 25000.
   * @param {number} [opts.timeoutMs] how long a request may wait for its result. Default: 20000.
   * @param {() => number} [opts.random] jitter source. Default: Math.random.
   */
  constructor(opts) {
    this.#url = opts.url;
    this.#WS = opts.WebSocketImpl ?? WebSocket;
    this.#pingMs = opts.pingMs ?? 25000;
    this.#timeoutMs = opts.timeoutMs ?? 20000;
    this.#random = opts.random ?? Math.random;
  }

  /** @returns {ConnState} */
  get state() {
    return this.#state;
  }

  /**
   * start connects, or reconnects at once after stop or a failed auth.
   */
  start() {
    if (this.#running && this.#ws) return;
    this.#running = true;
    this.#authFailed = false;
    this.#attempt = 0;
    clearTimeout(this.#retryTimer);
    this.#connect(this.#authed ? "reconnecting" : "connecting");
  }

  /**
   * stop closes the connection and stops reconnecting. Pending and queued
   * requests fail with code "closed". Subscriptions are kept and sent
   * again by the next start.
   */
  stop() {
    this.#running = false;
    this.#authed = false;
    clearTimeout(this.#retryTimer);
    const ws = this.#ws;
    if (ws) {
      this.#detach(ws);
      try {
        ws.close(CLOSE_CODES.NORMAL, "bye");
      } catch {
        // Already closing.
      }
    }
    this.#connectionLost("closed");
    this.#failQueue("closed");
    this.#setState("offline");
  }

  /**
   * retryNow skips the current backoff wait, e.g. when the browser reports
   * that the network is back.
   */
  retryNow() {
    if (this.#running && !this.#ws && !this.#authFailed) {
      clearTimeout(this.#retryTimer);
      this.#connect("reconnecting");
    }
  }

  /**
   * onState registers a connection-state listener and calls it at once.
   * @param {(s: ConnState) => void} fn
   * @returns {() => void} removes the listener.
   */
  onState(fn) {
    this.#stateListeners.add(fn);
    fn(this.#state);
    return () => this.#stateListeners.delete(fn);
  }

  /**
   * onAuth registers a listener for the outcome of each authentication.
   * @param {(a: AuthOutcome) => void} fn
   * @returns {() => void} removes the listener.
   */
  onAuth(fn) {
    this.#authListeners.add(fn);
    return () => this.#authListeners.delete(fn);
  }

  /**
   * request sends one request and resolves with its result. While the
   * client is (re)connecting the request waits for the connection.
   * @param {string} type a REQUEST_TYPES value.
   * @param {Record<string, unknown>} [params]
   * @returns {Promise<any>}
   */
  request(type, params = {}) {
    return new Promise((resolve, reject) => {
      if (!this.#running) {
        reject(new ConsoleError("closed", "the console is not connected"));
        return;
      }
      /** @type {Queued} */
      const q = { type, params, resolve, reject, timer: undefined };
      q.timer = setTimeout(() => {
        this.#queue = this.#queue.filter((x) => x !== q);
        for (const [id, p] of this.#pending) {
          if (p.resolve === resolve) this.#pending.delete(id);
        }
        reject(new ConsoleError("timeout", `no answer to ${type}`));
      }, this.#timeoutMs);
      if (this.#state === "online") this.#send(q);
      else this.#queue.push(q);
    });
  }

  /**
   * stream sends a request whose result is followed by events on its id
   * (conference.join, conference.rejoin). onEvent gets each event until
   * close() is called or the connection drops; then onLost is called. A
   * stream is not renewed after a reconnect: the caller decides (a meeting
   * rejoins).
   * @param {string} type a REQUEST_TYPES value.
   * @param {Record<string, unknown>} params
   * @param {(ev: ConsoleEvent) => void} onEvent
   * @param {() => void} onLost
   * @returns {{result: Promise<any>, close: () => void}}
   */
  stream(type, params, onEvent, onLost) {
    const ws = this.#ws;
    if (!ws || this.#state !== "online") {
      return { result: Promise.reject(new ConsoleError("disconnected", "the console is not connected")), close: () => {} };
    }
    const id = this.#nextId++;
    this.#streams.set(id, { onEvent, onLost });
    const result = new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        this.#streams.delete(id);
        reject(new ConsoleError("timeout", `no answer to ${type}`));
      }, this.#timeoutMs);
      this.#pending.set(id, {
        type,
        resolve,
        reject: (/** @type {ConsoleError} */ err) => {
          this.#streams.delete(id);
          reject(err);
        },
        timer,
      });
    });
    ws.send(JSON.stringify({ ...params, id, type }));
    return { result, close: () => this.#streams.delete(id) };
  }

  /**
   * subscribe opens a subscription to topics. onEvent gets every event,
   * starting with a "snapshot" per topic; a snapshot may come again at any
   * time and then replaces the whole state. After a reconnect the
   * subscription is renewed and starts again with snapshots.
   * @param {string[]} topics TOPICS values.
   * @param {(ev: ConsoleEvent) => void} onEvent
   * @param {(err: ConsoleError) => void} [onError] called when the server refuses the subscription.
   * @returns {() => void} unsubscribes.
   */
  subscribe(topics, onEvent, onError) {
    /** @type {Subscription} */
    const sub = { topics: [...topics], onEvent, onError, sid: 0 };
    this.#subs.add(sub);
    if (this.#state === "online") this.#sendSubscribe(sub);
    return () => {
      if (!this.#subs.delete(sub)) return;
      const sid = sub.sid;
      sub.sid = 0;
      if (sid && this.#bySid.get(sid) === sub) {
        this.#bySid.delete(sid);
        if (this.#state === "online") {
          this.request(REQUEST_TYPES.UNSUBSCRIBE, { subscription: sid }).catch(() => {
            // The subscription ends with the connection anyway.
          });
        }
      }
    };
  }

  /**
   * @param {ConnState} mode "connecting" or "reconnecting".
   */
  #connect(mode) {
    this.#setState(mode);
    this.#nextId = 1;
    this.#authed = false;
    /** @type {WebSocket} */
    let ws;
    try {
      ws = new this.#WS(this.#url);
    } catch {
      this.#scheduleRetry();
      return;
    }
    this.#ws = ws;
    ws.onmessage = (ev) => this.#onMessage(ws, ev);
    ws.onclose = (ev) => {
      if (ws !== this.#ws) return;
      this.#detach(ws);
      this.#onClose(ev.code);
    };
    ws.onerror = () => {
      // onclose follows with the details.
    };
  }

  /**
   * @param {WebSocket} ws
   */
  #detach(ws) {
    ws.onmessage = null;
    ws.onclose = null;
    ws.onerror = null;
    if (this.#ws === ws) this.#ws = null;
    clearInterval(this.#pingTimer);
    this.#pingTimer = undefined;
  }

  /**
   * @param {WebSocket} ws
   * @param {MessageEvent} ev
   */
  #onMessage(ws, ev) {
    if (ws !== this.#ws) return;
    /** @type {any} */
    let msg;
    try {
      msg = JSON.parse(String(ev.data));
    } catch {
      return;
    }
    if (!msg || typeof msg !== "object") return;
    switch (msg.type) {
      case SERVER_TYPES.AUTH_REQUIRED:
        ws.send(JSON.stringify({ type: REQUEST_TYPES.AUTH }));
        return;
      case SERVER_TYPES.AUTH_OK:
        this.#onAuthOK(msg);
        return;
      case SERVER_TYPES.AUTH_INVALID:
        // Let go of the socket now (the server closes it with 1008), so
        // that a login right after this starts a fresh connection.
        this.#authFailed = true;
        this.#detach(ws);
        try {
          ws.close();
        } catch {
          // Already closing.
        }
        this.#onClose(CLOSE_CODES.POLICY);
        this.#emitAuth({ ok: false, message: String(msg.message ?? "") });
        return;
      case SERVER_TYPES.RESULT:
      case SERVER_TYPES.PONG:
        this.#onResult(msg);
        return;
      case SERVER_TYPES.EVENT: {
        const sub = this.#bySid.get(Number(msg.id));
        if (sub && msg.event) sub.onEvent(msg.event);
        const st = this.#streams.get(Number(msg.id));
        if (st && msg.event) st.onEvent(msg.event);
        return;
      }
    }
  }

  /**
   * @param {any} msg
   */
  #onAuthOK(msg) {
    this.#authed = true;
    this.#attempt = 0;
    this.#setState("online");
    // Listeners may tear views down and build new ones, which subscribe at
    // once; renew only the subscriptions that are still unsent afterwards.
    this.#emitAuth({ ok: true, user: msg.user, role: String(msg.role ?? msg.user?.role ?? ""), version: String(msg.version ?? "") });
    for (const sub of this.#subs) {
      if (sub.sid === 0) this.#sendSubscribe(sub);
    }
    const queued = this.#queue;
    this.#queue = [];
    for (const q of queued) this.#send(q);
    clearInterval(this.#pingTimer);
    this.#pingTimer = setInterval(() => this.#ping(), this.#pingMs);
  }

  /**
   * @param {any} msg
   */
  #onResult(msg) {
    const id = Number(msg.id);
    const p = this.#pending.get(id);
    if (!p) return;
    this.#pending.delete(id);
    clearTimeout(p.timer);
    if (msg.type === SERVER_TYPES.PONG || msg.success) {
      p.resolve(msg.result ?? {});
      return;
    }
    const e = msg.error ?? {};
    p.reject(new ConsoleError(String(e.code ?? "internal_error"), String(e.message ?? "")));
  }

  /**
   * @param {number} code the close code.
   */
  #onClose(code) {
    const wasAuthed = this.#authed;
    this.#authed = false;
    this.#connectionLost("disconnected");
    if (!this.#running) {
      this.#setState("offline");
      return;
    }
    if (this.#authFailed || (code === CLOSE_CODES.POLICY && !wasAuthed)) {
      // Not signed in (or no longer): the app shows the login page and
      // calls start again after a new login.
      this.#running = false;
      this.#failQueue("closed");
      this.#setState("offline");
      if (!this.#authFailed) this.#emitAuth({ ok: false, message: "" });
      return;
    }
    // Going away (1001), session checks (1008 after auth: the next auth
    // tells whether the session still holds), too big (1009), network.
    this.#scheduleRetry();
  }

  #scheduleRetry() {
    this.#setState("reconnecting");
    const delay = backoffDelay(this.#attempt++, this.#random);
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => {
      if (this.#running && !this.#ws) this.#connect("reconnecting");
    }, delay);
  }

  /**
   * connectionLost fails what was in flight on the dropped connection and
   * forgets the server-side subscription ids.
   * @param {string} code
   */
  #connectionLost(code) {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) {
      clearTimeout(p.timer);
      if (p.type !== REQUEST_TYPES.SUBSCRIBE) p.reject(new ConsoleError(code, "the connection to the server was lost"));
    }
    this.#bySid.clear();
    for (const sub of this.#subs) sub.sid = 0;
    const streams = [...this.#streams.values()];
    this.#streams.clear();
    for (const st of streams) st.onLost();
  }

  /**
   * @param {string} code
   */
  #failQueue(code) {
    const queued = this.#queue;
    this.#queue = [];
    for (const q of queued) {
      clearTimeout(q.timer);
      q.reject(new ConsoleError(code, "the console is not connected"));
    }
  }

  /**
   * @param {Queued} q
   */
  #send(q) {
    const ws = this.#ws;
    if (!ws) {
      this.#queue.push(q);
      return;
    }
    const id = this.#nextId++;
    this.#pending.set(id, { type: q.type, resolve: q.resolve, reject: q.reject, timer: q.timer });
    ws.send(JSON.stringify({ ...q.params, id, type: q.type }));
  }

  /**
   * @param {Subscription} sub
   */
  #sendSubscribe(sub) {
    const ws = this.#ws;
    if (!ws) return;
    const id = this.#nextId++;
    sub.sid = id;
    this.#bySid.set(id, sub);
    this.#pending.set(id, {
      type: REQUEST_TYPES.SUBSCRIBE,
      resolve: () => {},
      reject: (err) => {
        if (this.#bySid.get(id) === sub) this.#bySid.delete(id);
        sub.sid = 0;
        sub.onError?.(err);
      },
      timer: undefined,
    });
    ws.send(JSON.stringify({ id, type: REQUEST_TYPES.SUBSCRIBE, topics: sub.topics }));
  }

  #ping() {
    const ws = this.#ws;
    if (!ws || this.#state !== "online") return;
    const id = this.#nextId++;
    const timer = setTimeout(() => {
      // No pong: the connection is dead even if the socket does not know.
      if (this.#pending.delete(id) && ws === this.#ws) {
        this.#detach(ws);
        try {
          ws.close(4000, "ping timeout");
        } catch {
          // Ignore: we have let go of it.
        }
        this.#onClose(1006);
      }
    }, Math.min(this.#timeoutMs, 10000));
    this.#pending.set(id, { type: REQUEST_TYPES.PING, resolve: () => {}, reject: () => {}, timer });
    ws.send(JSON.stringify({ id, type: REQUEST_TYPES.PING }));
  }

  /**
   * @param {ConnState} s
   */
  #setState(s) {
    if (s === this.#state) return;
    this.#state = s;
    for (const fn of this.#stateListeners) fn(s);
  }

  /**
   * @param {AuthOutcome} a
   */
  #emitAuth(a) {
    for (const fn of this.#authListeners) fn(a);
  }
}
