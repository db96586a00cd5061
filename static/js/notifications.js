/* A browser notification and/or a beep for news in the agent's own or unassigned
 * conversations, each behind a toggle remembered in localStorage. */

import { on } from "./dispatch.js";
import { $ } from "./dom.js";
import { channelLabel, contactName } from "./format.js";
import { previewText } from "./messages.js";
import { state } from "./state.js";
import { openConversation } from "./thread.js";

const REPLAY_AGE_MS = 120000;

function maybeNotify({ message, conversation: conv }) {
  if (!conv || message.direction !== "inbound") return;
  if (conv.assignee && conv.assignee.id !== state.me.id) return;
  if (Date.now() - Date.parse(message.created_at) > REPLAY_AGE_MS) return; // replayed history, not news
  if (!document.hidden && conv.id === state.openId) return;
  if (localStorage.getItem("parley.sound") === "1") beep();
  if (localStorage.getItem("parley.notify") === "1" && "Notification" in window && Notification.permission === "granted") {
    const note = new Notification(`${contactName(conv)} (${channelLabel(conv.channel)})`, { body: previewText(message), tag: "parley-" + conv.id });
    note.onclick = () => {
      window.focus();
      openConversation(conv.id);
    };
  }
}

let audio = null;
function beep() {
  try {
    audio = audio || new AudioContext();
    const oscillator = audio.createOscillator();
    const gain = audio.createGain();
    oscillator.frequency.value = 880;
    gain.gain.setValueAtTime(0.08, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.25);
    oscillator.connect(gain).connect(audio.destination);
    oscillator.start();
    oscillator.stop(audio.currentTime + 0.25);
  } catch (e) {
    /* no audio: fine */
  }
}

export function wireNotifications() {
  for (const [id, key] of [["toggle-notify", "parley.notify"], ["toggle-sound", "parley.sound"]]) {
    $(id).checked = localStorage.getItem(key) === "1";
    $(id).addEventListener("change", async (e) => {
      localStorage.setItem(key, e.target.checked ? "1" : "0");
      if (key === "parley.notify" && e.target.checked && "Notification" in window && Notification.permission === "default") {
        await Notification.requestPermission();
      }
    });
  }
  on("message.arrived", maybeNotify);
}
