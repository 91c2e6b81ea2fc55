// The Corral studio page: one WebSocket to /studio/ws speaking the studio
// protocol (docs/studio-protocol.md). Plain JavaScript, no build step.
"use strict";

const $ = (id) => document.getElementById(id);

// ---- connection ----------------------------------------------------------

const conn = {
  ws: null,
  seq: 0,
  pending: new Map(), // id → {resolve, reject, onEvent}
  token: sessionStorage.getItem("corral-studio-token") || "",
  backoff: 500,
};

function connect() {
  const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/studio/ws";
  const ws = new WebSocket(url);
  conn.ws = ws;
  ws.onopen = async () => {
    conn.backoff = 500;
    setConn(true);
    if (conn.token) {
      try { await signIn(conn.token); } catch (e) { showSignIn(e); }
    } else {
      showSignIn();
    }
  };
  ws.onmessage = (m) => {
    let f;
    try { f = JSON.parse(m.data); } catch { return; }
    if (f.event && !f.id) { onPush(f); return; }
    const p = conn.pending.get(f.id);
    if (!p) return;
    if (f.event) { if (p.onEvent) p.onEvent(f); return; }
    conn.pending.delete(f.id);
    if (f.error) p.reject(f.error); else p.resolve(f.result);
  };
  ws.onclose = (ev) => {
    setConn(false, ev.code === 1008 || ev.code === 1009 ? ev.reason || "closed by the server" : "");
    for (const p of conn.pending.values()) p.reject({ code: "unavailable", message: "connection lost" });
    conn.pending.clear();
    setTimeout(connect, conn.backoff);
    conn.backoff = Math.min(conn.backoff * 2, 10000);
  };
}

function call(op, params, onEvent) {
  const id = "q" + (++conn.seq);
  return new Promise((resolve, reject) => {
    if (!conn.ws || conn.ws.readyState !== WebSocket.OPEN) {
      reject({ code: "unavailable", message: "not connected; reconnecting" });
      return;
    }
    conn.pending.set(id, { resolve, reject, onEvent });
    conn.ws.send(JSON.stringify(Object.assign({ id, op }, params || {})));
  });
}

function setConn(online, why) {
  const el = $("conn");
  el.textContent = online ? "online" : "offline" + (why ? ": " + why : "");
  el.classList.toggle("online", online);
}

function status(text, bad) {
  const el = $("status");
  el.textContent = text;
  el.classList.toggle("bad", !!bad);
}

function describe(err) {
  if (!err) return "";
  let s = err.message || err.code;
  if (err.retry_after_ms) s += " (try again in " + Math.ceil(err.retry_after_ms / 1000) + "s)";
  return s;
}

// ---- signing in ----------------------------------------------------------

async function signIn(token) {
  const r = await call("auth", { token });
  conn.token = token;
  sessionStorage.setItem("corral-studio-token", token);
  $("who").textContent = "Signed in as " + r.creator.name;
  $("signin").hidden = true;
  $("app").hidden = false;
  $("signout").hidden = false;
  $("err-token").textContent = "";
  await refreshList();
  await refreshChannels();
  if (state.current) await openPersona(state.current.id);
}

function showSignIn(err) {
  $("signin").hidden = false;
  $("app").hidden = true;
  $("signout").hidden = true;
  $("who").textContent = "";
  $("err-token").textContent = err ? describe(err) : "";
  $("token").focus();
}

$("signin-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const token = $("token").value.trim();
  try {
    await signIn(token);
    $("token").value = "";
  } catch (e) {
    $("err-token").textContent = describe(e);
  }
});

$("signout").addEventListener("click", () => {
  sessionStorage.removeItem("corral-studio-token");
  conn.token = "";
  state.current = null;
  if (conn.ws) conn.ws.close(1000);
});

// ---- personas ------------------------------------------------------------

const state = {
  personas: [], // as listed
  current: null, // persona view being edited; null for a new one
  dirty: false,
  preview: null, // id of the running preview
  history: [], // preview conversation
};

async function refreshList() {
  const r = await call("persona.list");
  state.personas = r.personas;
  renderList();
}

function renderList() {
  const ul = $("persona-list");
  ul.replaceChildren();
  for (const p of state.personas) {
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = (p.draft.avatar && [...p.draft.avatar].length <= 4 ? p.draft.avatar + " " : "") + (p.draft.name || p.handle);
    const meta = document.createElement("span");
    meta.className = "meta";
    meta.textContent = "@" + p.handle + " · " + (p.published ? "v" + p.published + " live" : "draft only");
    b.appendChild(meta);
    b.setAttribute("aria-current", state.current && state.current.id === p.id ? "true" : "false");
    b.addEventListener("click", () => openPersona(p.id));
    li.appendChild(b);
    ul.appendChild(li);
  }
  renderChannels();
}

async function openPersona(id) {
  try {
    const r = await call("persona.get", { persona_id: id });
    state.current = r.persona;
    fillForm(r.persona);
    renderVersions(r.versions);
    renderList();
    resetChat();
    refreshStats();
    $("editor").focus();
  } catch (e) {
    status(describe(e), true);
  }
}

function newPersona() {
  state.current = null;
  fillForm(null);
  renderVersions([]);
  renderList();
  resetChat();
  $("stats").replaceChildren();
  $("stats-note").textContent = "";
  $("f-handle").focus();
}
$("new").addEventListener("click", newPersona);

// ---- the form ------------------------------------------------------------

function fillForm(p) {
  const d = p ? p.draft : { generation: { temperature: 0.7, top_p: 0.9, max_reply_tokens: 300 }, safety: { strictness: "standard" } };
  $("editor-title").textContent = p ? "Edit @" + p.handle : "New persona";
  $("f-handle").value = p ? p.handle : "";
  $("f-visibility").value = p ? p.visibility : "private";
  $("f-name").value = d.name || "";
  $("f-avatar").value = d.avatar || "";
  $("f-description").value = d.description || "";
  $("f-instructions").value = d.instructions || "";
  $("f-greeting").value = d.greeting || "";
  $("f-traits").value = (d.traits || []).join(", ");
  $("f-avoid").value = (d.avoid_topics || []).join("\n");
  $("f-strictness").value = (d.safety && d.safety.strictness) || "standard";
  $("f-refusal").value = (d.safety && d.safety.refusal_message) || "";
  $("f-temperature").value = d.generation.temperature;
  $("f-top_p").value = d.generation.top_p;
  $("f-max").value = d.generation.max_reply_tokens;
  $("f-model").value = d.generation.model || "";
  const ex = $("examples");
  ex.replaceChildren();
  for (const e of d.examples || []) addExample(e);
  clearErrors();
  $("notice").hidden = true;
  state.dirty = false;
  $("publish").disabled = !p;
  $("delete").disabled = !p;
  $("chat-input").disabled = !p;
  $("chat-send").disabled = !p;
  $("stats-refresh").disabled = !p;
}

function addExample(e) {
  const ex = $("examples");
  const i = ex.children.length;
  const div = document.createElement("div");
  div.className = "example";
  for (const [key, label] of [["user", "User says"], ["assistant", "Persona answers"]]) {
    const field = "examples[" + i + "]." + key;
    const id = "f-ex-" + i + "-" + key;
    const l = document.createElement("label");
    l.htmlFor = id;
    l.textContent = "Example " + (i + 1) + ": " + label;
    const t = document.createElement("textarea");
    t.id = id;
    t.rows = 2;
    t.dataset.field = field;
    t.dataset.example = key;
    t.value = (e && e[key]) || "";
    t.setAttribute("aria-describedby", "err-" + field);
    const err = document.createElement("p");
    err.id = "err-" + field;
    err.className = "error";
    err.setAttribute("role", "alert");
    div.append(l, t, err);
  }
  const rm = document.createElement("button");
  rm.type = "button";
  rm.className = "link";
  rm.textContent = "Remove example " + (i + 1);
  rm.addEventListener("click", () => {
    const kept = readExamples().filter((_, j) => j !== i);
    ex.replaceChildren();
    kept.forEach(addExample);
    state.dirty = true;
  });
  div.appendChild(rm);
  ex.appendChild(div);
}
$("add-example").addEventListener("click", () => {
  addExample(null);
  state.dirty = true;
  const all = $("examples").querySelectorAll("textarea");
  all[all.length - 2].focus();
});

function readExamples() {
  return [...$("examples").children].map((div) => ({
    user: div.querySelector('[data-example="user"]').value,
    assistant: div.querySelector('[data-example="assistant"]').value,
  }));
}

function num(id) {
  const v = $(id).value.trim();
  return v === "" ? null : Number(v);
}

function readForm() {
  const split = (s, sep) => s.split(sep).map((x) => x.trim()).filter((x) => x !== "");
  return {
    handle: $("f-handle").value.trim(),
    visibility: $("f-visibility").value,
    name: $("f-name").value,
    avatar: $("f-avatar").value.trim(),
    description: $("f-description").value,
    instructions: $("f-instructions").value,
    greeting: $("f-greeting").value,
    examples: readExamples(),
    traits: split($("f-traits").value, ","),
    avoid_topics: split($("f-avoid").value, "\n"),
    safety: { strictness: $("f-strictness").value, refusal_message: $("f-refusal").value },
    generation: {
      temperature: num("f-temperature"),
      top_p: num("f-top_p"),
      max_reply_tokens: num("f-max"),
      model: $("f-model").value.trim(),
    },
  };
}

$("form").addEventListener("input", () => { state.dirty = true; });

function clearErrors() {
  for (const el of document.querySelectorAll("#form .error")) el.textContent = "";
  for (const el of document.querySelectorAll("#form [aria-invalid]")) el.removeAttribute("aria-invalid");
  $("gate").hidden = true;
  $("gate").replaceChildren();
}

// showErrors puts each field's reason under its input and focuses the
// first; reasons about no input (the publish gate's conversation) go in
// the gate box.
function showErrors(err, intro) {
  clearErrors();
  let first = null;
  const loose = [];
  for (const f of err.fields || []) {
    const el = document.getElementById("err-" + f.field);
    const input = document.querySelector('#form [data-field="' + CSS.escape(f.field) + '"]');
    if (el && input) {
      el.textContent = f.reason;
      input.setAttribute("aria-invalid", "true");
      first = first || input;
    } else if (el) {
      el.textContent = f.reason;
    } else {
      loose.push(f);
    }
  }
  if (intro || loose.length) {
    const box = $("gate");
    const p = document.createElement("p");
    p.textContent = intro || err.message;
    box.appendChild(p);
    if (loose.length) {
      const ul = document.createElement("ul");
      for (const f of loose) {
        const li = document.createElement("li");
        li.textContent = f.field + ": " + f.reason;
        ul.appendChild(li);
      }
      box.appendChild(ul);
    }
    box.hidden = false;
  }
  if (!err.fields || !err.fields.length) $("err-_form").textContent = describe(err);
  if (first) first.focus();
}

$("form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const edit = readForm();
  status("Saving…");
  try {
    const r = state.current
      ? await call("persona.update", { persona_id: state.current.id, revision: state.current.revision, persona: edit })
      : await call("persona.create", { persona: edit });
    state.current = r.persona;
    fillForm(r.persona);
    if (!state.personas.some((p) => p.id === r.persona.id)) state.personas.push(r.persona);
    replaceListed(r.persona);
    status("Saved @" + r.persona.handle + " (revision " + r.persona.revision + ")");
  } catch (e) {
    showErrors(e);
    status("Not saved: " + describe(e), true);
  }
});

$("publish").addEventListener("click", async () => {
  if (!state.current) return;
  if (state.dirty) { status("Save the draft first: publishing publishes the saved draft.", true); return; }
  status("Checking the draft with the safety stage and a short test conversation…");
  $("publish").disabled = true;
  try {
    const r = await call("persona.publish", { persona_id: state.current.id, revision: state.current.revision });
    state.current = r.persona;
    replaceListed(r.persona);
    clearErrors();
    status("Published version " + r.version.number + " of @" + r.persona.handle);
    await openPersona(r.persona.id);
  } catch (e) {
    if (e.code === "refused") showErrors(e, e.message);
    else showErrors(e);
    status("Not published: " + describe(e), true);
  } finally {
    $("publish").disabled = !state.current;
  }
});

$("delete").addEventListener("click", async () => {
  if (!state.current || !confirm("Delete @" + state.current.handle + "? Its handle is freed at once.")) return;
  try {
    await call("persona.delete", { persona_id: state.current.id });
    state.personas = state.personas.filter((p) => p.id !== state.current.id);
    status("Deleted @" + state.current.handle);
    newPersona();
  } catch (e) {
    status(describe(e), true);
  }
});

function replaceListed(p) {
  state.personas = state.personas.map((x) => (x.id === p.id ? p : x));
  renderList();
}

// ---- versions ------------------------------------------------------------

function renderVersions(versions) {
  const ol = $("versions");
  ol.replaceChildren();
  if (!versions.length) {
    const li = document.createElement("li");
    li.textContent = "Not published yet.";
    ol.appendChild(li);
    return;
  }
  for (const v of versions) {
    const li = document.createElement("li");
    const when = new Date(v.published_at).toLocaleString();
    li.textContent = "v" + v.number + (v.from ? " (from v" + v.from + ")" : "") + " · " + when + " ";
    if (state.current && v.number === state.current.published) {
      const live = document.createElement("strong");
      live.textContent = "live";
      li.appendChild(live);
    } else {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "link";
      b.textContent = "Roll back to v" + v.number;
      b.addEventListener("click", () => rollback(v.number));
      li.appendChild(b);
    }
    ol.appendChild(li);
  }
}

async function rollback(n) {
  try {
    const r = await call("persona.rollback", { persona_id: state.current.id, revision: state.current.revision, version: n });
    status("Rolled back: version " + r.version.number + " is v" + n + " again");
    await openPersona(state.current.id);
  } catch (e) {
    status("Not rolled back: " + describe(e), true);
  }
}

// ---- numbers -------------------------------------------------------------

async function refreshStats() {
  if (!state.current) return;
  try {
    const r = await call("persona.stats", { persona_id: state.current.id });
    const dl = $("stats");
    dl.replaceChildren();
    const row = (k, v) => {
      const dt = document.createElement("dt");
      dt.textContent = k;
      const dd = document.createElement("dd");
      dd.textContent = v;
      dl.append(dt, dd);
    };
    const pct = (x) => (100 * x).toFixed(1) + "%";
    const hits = (h, none) => h.prompt_tokens ? pct(h.hit_ratio) + " of " + h.prompt_tokens + " prompt tokens" : none;
    row("Prefix cache, this persona", hits(r.prefix, "no chats or previews yet"));
    row("… in chats", hits(r.chat, "no chats yet"));
    row("… in previews", hits(r.preview, "no previews yet"));
    row("Prefix cache, engine overall", r.engine ? pct(r.engine.prefix_cache_hit_ratio) : "not available");
    if (!r.usage.length) row("Usage", state.current.published ? "no chats yet" : "not published");
    for (const u of r.usage) row("v" + u.version + (u.version === state.current.published ? " (live)" : ""), u.replies + " replies in " + u.conversations + " conversations" + (u.prompt_tokens ? ", " + pct(u.hit_ratio) + " of prompt tokens cached" : ""));
    $("stats-note").textContent = r.engine_note ||
      "The persona's figure counts its chats (every published version) and this studio's previews; the engine reports its own over all personas.";
  } catch (e) {
    $("stats-note").textContent = describe(e);
  }
}
$("stats-refresh").addEventListener("click", refreshStats);

// ---- preview -------------------------------------------------------------

function resetChat() {
  if (state.preview) call("preview.cancel", { target: state.preview }).catch(() => {});
  state.history = [];
  $("chat").replaceChildren();
  $("err-chat").textContent = "";
}
$("chat-reset").addEventListener("click", resetChat);

function bubble(role, text) {
  const li = document.createElement("li");
  li.className = role;
  li.textContent = text;
  $("chat").appendChild(li);
  li.scrollIntoView({ block: "nearest" });
  return li;
}

$("chat-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const text = $("chat-input").value.trim();
  if (!text || !state.current || state.preview) return;
  $("chat-input").value = "";
  $("err-chat").textContent = "";
  state.history.push({ role: "user", content: text });
  bubble("user", text);
  const reply = bubble("assistant streaming", "");
  const id = "q" + (conn.seq + 1); // the id call assigns
  state.preview = id;
  $("chat-stop").disabled = false;
  $("chat-send").disabled = true;
  let got = "";
  try {
    const r = await call("preview.chat", { persona_id: state.current.id, messages: state.history }, (f) => {
      if (f.event === "delta") {
        got += f.data.text;
        reply.textContent = got;
        reply.scrollIntoView({ block: "nearest" });
      }
    });
    reply.classList.remove("streaming");
    const meta = document.createElement("span");
    meta.className = "meta";
    meta.textContent = r.finish_reason === "cancelled" ? "stopped" :
      r.usage.completion_tokens + " tokens · first after " + r.first_token_ms + " ms · " + r.usage.cached_prompt_tokens + "/" + r.usage.prompt_tokens + " prompt tokens from cache";
    reply.appendChild(meta);
    reply.dataset.done = r.finish_reason;
    if (got) state.history.push({ role: "assistant", content: got });
    else state.history.pop();
    refreshStats();
  } catch (e) {
    reply.remove();
    state.history.pop();
    $("err-chat").textContent = describe(e);
  } finally {
    state.preview = null;
    $("chat-stop").disabled = true;
    $("chat-send").disabled = !state.current;
    $("chat-input").focus();
  }
});

$("chat-stop").addEventListener("click", () => {
  if (state.preview) call("preview.cancel", { target: state.preview }).catch(() => {});
});

// ---- channels ------------------------------------------------------------

let channels = [];

async function refreshChannels() {
  try {
    channels = (await call("channel.list")).channels;
  } catch {
    channels = [];
  }
  renderChannels();
}

function renderChannels() {
  const ul = $("channels");
  ul.replaceChildren();
  if (!channels.length) {
    const li = document.createElement("li");
    li.className = "help";
    li.textContent = "No channel is assigned to you (the operator assigns them with corral channel).";
    ul.appendChild(li);
    return;
  }
  for (const ch of channels) {
    const li = document.createElement("li");
    const id = "ch-" + ch.platform + "-" + ch.id;
    const l = document.createElement("label");
    l.htmlFor = id;
    l.textContent = ch.name + " (" + ch.platform + ")";
    const sel = document.createElement("select");
    sel.id = id;
    const def = new Option("default persona", "");
    sel.appendChild(def);
    for (const p of state.personas) sel.appendChild(new Option("@" + p.handle, p.id));
    sel.value = ch.persona_id || "";
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = "Bind";
    b.addEventListener("click", async () => {
      try {
        await call("channel.bind", { platform: ch.platform, channel_id: ch.id, persona_id: sel.value });
        ch.persona_id = sel.value;
        status("Bound " + ch.name + " to " + (sel.value ? sel.options[sel.selectedIndex].text : "the default persona"));
      } catch (e) {
        status("Not bound: " + describe(e), true);
      }
    });
    li.append(l, sel, b);
    ul.appendChild(li);
  }
}

// ---- changes from other tabs ---------------------------------------------

function onPush(f) {
  if (f.event !== "persona.changed") return;
  const d = f.data;
  if (d.change === "deleted") {
    state.personas = state.personas.filter((p) => p.id !== d.persona_id);
    renderList();
    if (state.current && state.current.id === d.persona_id) {
      status("This persona was deleted in another tab.", true);
      newPersona();
    }
    return;
  }
  const p = d.persona;
  if (!state.personas.some((x) => x.id === p.id)) state.personas.push(p);
  replaceListed(p);
  if (state.current && state.current.id === p.id && p.revision > state.current.revision) {
    if (state.dirty) {
      const n = $("notice");
      n.textContent = "Changed elsewhere (revision " + p.revision + "). Saving now would be refused; open the persona again to see the change.";
      n.hidden = false;
    } else {
      openPersona(p.id);
    }
  }
}

connect();
