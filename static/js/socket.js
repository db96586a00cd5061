/* The live connection: /ws/inbox/ with a heartbeat, reconnecting with backoff, and catching up
 * on missed events from GET /api/v1/events/ after every (re)connect. Groups do not replay what
 * a closed socket missed, so the catch-up is what makes a reconnect lose nothing. */

import { api, onSignedOut } from "./api.js";
import { dispatch } from "./dispatch.js";
import { $ } from "./dom.js";
import { loadList } from "./list.js";
import { state } from "./state.js";
import { openConversation } from "./thread.js";

const CATCH_UP_SLACK = 50; // event ids are allocated at insert but may commit out of order
const PAGE = 500;

let socket = null;
let attempts = 0;
let heartbeat = null;
let lastPong = 0;
let reconnectTimer = null;

function setConnection(kind, text) {
  const node = $("connection");
  node.dataset.state = kind;
  node.textContent = text;
}

function showSignedOut() {
  state.signedOut = true;
  $("signed-out").hidden = false;
  setConnection("offline", "Signed out");
  if (socket) socket.close();
}

export function connect() {
  if (state.signedOut) return;
  clearTimeout(reconnectTimer);
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${scheme}//${location.host}/ws/inbox/`);
  socket = ws;
  // Live only once the server says hello: an open socket alone proves nothing.
  const onHello = () => {
    attempts = 0;
    lastPong = Date.now();
    setConnection("live", "Live");
    catchUp();
    dispatch({ type: "local.connected" }); // what is not in the event log (mentions) is refetched
    clearInterval(heartbeat);
    heartbeat = setInterval(() => {
      if (Date.now() - lastPong > 35000) ws.close(4000, "heartbeat lost");
      else if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "ping" }));
    }, 15000);
  };
  ws.addEventListener("message", (message) => {
    let data;
    try {
      data = JSON.parse(message.data);
    } catch (e) {
      return;
    }
    if (data.type === "pong") lastPong = Date.now();
    else if (data.type === "hello") onHello();
    else if (data.type === "session.revoked") checkSession();
    else dispatch(data);
  });
  ws.addEventListener("close", () => {
    if (socket !== ws) return;
    clearInterval(heartbeat);
    socket = null;
    if (state.signedOut) return;
    setConnection("reconnecting", "Reconnecting…");
    attempts += 1;
    if (attempts >= 2) checkSession();
    const delay = Math.min(15000, 300 * 2 ** Math.min(attempts - 1, 6)) * (0.75 + Math.random() / 2);
    reconnectTimer = setTimeout(connect, delay);
  });
}

/** Send `message` if the socket is live; false when it is not (for what may be lost, like presence). */
export function socketSend(message) {
  if (!socket || socket.readyState !== WebSocket.OPEN) return false;
  socket.send(JSON.stringify(message));
  return true;
}

async function checkSession() {
  try {
    await api("GET", "/api/v1/events/");
  } catch (failure) {
    /* api() reports a session that is over */
  }
}

let catchingUp = false;
async function catchUp() {
  if (catchingUp) return;
  catchingUp = true;
  try {
    let more = true;
    while (more) {
      const after = Math.max(0, state.cursor - CATCH_UP_SLACK);
      const page = await api("GET", `/api/v1/events/?after=${after}&limit=${PAGE}`);
      if (page.reset) {
        state.cursor = page.last_cursor;
        $("reset-banner").hidden = false;
        setTimeout(() => ($("reset-banner").hidden = true), 4000);
        await reloadEverything();
        return;
      }
      for (const event of page.events) dispatch(event);
      if (page.last_cursor > state.cursor) state.cursor = page.last_cursor;
      more = page.events.length >= PAGE - CATCH_UP_SLACK;
    }
  } catch (failure) {
    /* the socket's next reconnect tries again */
  } finally {
    catchingUp = false;
  }
}

async function reloadEverything() {
  await loadList();
  if (state.openId) await openConversation(state.openId, { push: false });
}

export function wireSocket() {
  onSignedOut(showSignedOut);
}
