// The history page: every view reads the /_admin API of the server that serves it (same origin;
// with --admin-token, the cookie /_admin/ui/?token=... set is sent along). No build step, no CDN.
"use strict";

const view = document.getElementById("view");
let stream = null;
let replay = { replaying: false };

// --- small helpers ---------------------------------------------------------------------------

/** An element: h("td", {class: "x"}, "text", child, ...); strings become text, never HTML. */
function h(tag, attributes, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) element.addEventListener(key.slice(2), value);
    else element.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

async function api(path, options = {}) {
  const response = await fetch("/_admin" + path, { credentials: "same-origin", ...options });
  const text = await response.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch { body = null; }
  if (!response.ok) {
    throw new Error((body && body.error && body.error.message) || `${response.status} ${text.slice(0, 200)}`);
  }
  return body;
}

function post(path, body) {
  return api(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body || {}) });
}

function showError(error) {
  const box = document.getElementById("error");
  box.hidden = !error;
  box.textContent = error ? String(error.message || error) : "";
}

/** The view's content: nested lists flattened, absent parts left out. */
function show(...children) {
  view.replaceChildren(...children.flat(Infinity).filter((child) => child !== undefined && child !== null && child !== false));
}

/** A record's summary without the refusal it ends with (shown on its own line). */
function withoutRefusal(summary) { return (summary || "").split(" — REFUSED: ")[0]; }

function link(hash, ...children) { return h("a", { href: hash }, ...children); }
function digest(text) { return h("span", { class: "digest" }, text); }
function scopeName(item) { return `${item.account}/${item.region}`; }
function query(params) {
  const entries = Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== "" && v !== false);
  return entries.length ? "?" + entries.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join("&") : "";
}

/** `#/name/rest?k=v` → {name, rest, params}. */
function route() {
  const hash = location.hash.replace(/^#\/?/, "");
  const [path, search] = hash.split("?");
  const [name, ...rest] = path.split("/");
  return { name: name || "log", rest: rest.map(decodeURIComponent), params: new URLSearchParams(search || "") };
}

function pointInput(name, value, placeholder) {
  return h("input", { name, value: value || "", placeholder, list: "points", size: 26 });
}

async function checkpointList() {
  const answer = await api("/checkpoints");
  return h("datalist", { id: "points" }, answer.checkpoints.map((c) => h("option", { value: c.name }, `record ${c.sequence}`)));
}

// --- the timeline -----------------------------------------------------------------------------

function recordRow(record) {
  const upload = record.upload ? link(`#/upload/${encodeURIComponent(record.upload)}`, "story") : null;
  const classes = ["record", record.applied ? "" : "refused", record.kind === "injectFault" ? "fault" : ""].join(" ").trim();
  return h("tr", { class: classes, "data-sequence": record.sequence },
    h("td", {}, link(`#/state/${record.sequence}`, `#${record.sequence}`)),
    h("td", { class: "muted" }, record.time),
    h("td", { class: "muted" }, scopeName(record)),
    h("td", {}, h("code", {}, record.kind)),
    h("td", {}, withoutRefusal(record.summary), record.refusal ? h("div", { class: "refusal" }, "refused: ", record.refusal) : null,
      upload ? h("div", {}, upload) : null),
    h("td", { class: "muted" }, record.via || (record.follows ? `after #${record.follows.sequence} (${record.follows.reaction})` : "")));
}

async function showLog(params) {
  const filters = {
    repository: params.get("repository") || "", upload: params.get("upload") || "", kind: params.get("kind") || "",
    account: params.get("account") || "", region: params.get("region") || "", refused: params.get("refused") === "true",
  };
  const state = await api("/state");
  const scopes = state.registries.map(scopeName);
  const form = h("form", { class: "filters", onsubmit: (event) => {
    event.preventDefault();
    const data = new FormData(event.target);
    const [account, region] = (data.get("scope") || "/").split("/");
    location.hash = "#/log" + query({ repository: data.get("repository"), upload: data.get("upload"), kind: data.get("kind"),
      account, region, refused: data.get("refused") ? "true" : "" });
  } },
    h("label", {}, "account-region", h("select", { name: "scope" }, h("option", { value: "" }, "all"),
      scopes.map((s) => h("option", { value: s, selected: s === `${filters.account}/${filters.region}` }, s)))),
    h("label", {}, "repository", h("input", { name: "repository", value: filters.repository, size: 18 })),
    h("label", {}, "upload", h("input", { name: "upload", value: filters.upload, size: 36 })),
    h("label", {}, "kind", h("select", { name: "kind" }, h("option", { value: "" }, "all"),
      KINDS.map((k) => h("option", { value: k, selected: k === filters.kind }, k)))),
    h("label", { class: "inline" }, h("input", { type: "checkbox", name: "refused", checked: filters.refused }), "refused only"),
    h("button", { type: "submit" }, "Filter"),
    h("a", { href: "#/log" }, "clear"));
  const body = h("tbody", { id: "records" });
  const table = h("table", {}, h("thead", {}, h("tr", {}, ["record", "time", "account-region", "kind", "what", "via"].map((t) => h("th", {}, t)))), body);
  show(h("h2", {}, "Timeline ", h("span", { class: "muted" }, "(newest first)")), form, table);

  const filterQuery = query({ repository: filters.repository, upload: filters.upload, kind: filters.kind,
    account: filters.account, region: filters.region, refused: filters.refused ? "true" : "" }).replace(/^\?/, "&");
  const health = await api("/health");
  let after = Math.max(0, (replay.replaying ? replay.end : health.sequence) - 5000);
  let records = [];
  for (;;) {
    const page = await api(`/log?after=${after}&limit=1000${filterQuery}`);
    records = records.concat(page.records);
    if (!page.next) break;
    after = page.next;
  }
  for (const record of records.reverse()) body.append(recordRow(record));
  if (!records.length) body.append(h("tr", {}, h("td", { colspan: 6, class: "muted" }, "no records match")));
  const last = records.length ? records[0].sequence : (replay.replaying ? replay.end : health.sequence);
  if (!replay.replaying) follow(last, filterQuery, body);
}

/** Live: new records from the server's Server-Sent Events stream, at the top. */
function follow(after, filterQuery, body) {
  stopFollowing();
  stream = new EventSource(`/_admin/log/stream?after=${after}${filterQuery}`);
  const status = document.getElementById("status");
  stream.onopen = () => { status.replaceChildren(h("span", { class: "live" }, "● live")); };
  stream.onerror = () => { status.textContent = "reconnecting…"; };
  stream.addEventListener("record", (event) => {
    const record = JSON.parse(event.data);
    const empty = body.querySelector("td[colspan]");
    if (empty) empty.parentElement.remove();
    body.prepend(recordRow(record));
  });
}

function stopFollowing() {
  if (stream) stream.close();
  stream = null;
  document.getElementById("status").textContent = "";
}

// --- uploads and an upload's story ------------------------------------------------------------

async function showUploads() {
  const answer = await api("/uploads?limit=200");
  show(h("h2", {}, "Uploads"),
    answer.uploads.length ? h("table", {},
      h("thead", {}, h("tr", {}, ["upload", "repository", "status", "size", "blob", "refused"].map((t) => h("th", {}, t)))),
      h("tbody", {}, answer.uploads.map((u) => h("tr", { class: u.refusals ? "refused" : "" },
        h("td", {}, link(`#/upload/${encodeURIComponent(u.id)}`, h("code", {}, u.id))),
        h("td", {}, u.repository || ""), h("td", {}, u.status), h("td", {}, u.size ?? ""),
        h("td", {}, u.blob ? digest(u.blob) : ""), h("td", {}, u.refusals || "")))))
      : h("p", { class: "muted" }, "No uploads in the history kept."));
}

function eventLine(event) {
  const parts = [h("strong", {}, event.event), " ", h("span", { class: "muted" }, `#${event.sequence} ${event.time}`)];
  if (event.offset !== undefined) parts.push(h("div", {}, `bytes ${event.offset}–${event.offset + event.length - 1} (${event.length} bytes at offset ${event.offset})`));
  if (event.claimed || event.computed) {
    parts.push(h("div", { class: "digests" }, "claimed ", digest(event.claimed || "—"), h("br"), "computed ", digest(event.computed || "—")));
  }
  if (event.size !== undefined && event.offset === undefined) parts.push(h("div", {}, `${event.size} bytes`));
  if (event.request) parts.push(h("div", {}, "request: ", h("code", {}, event.request)));
  if (event.reason) parts.push(h("div", {}, event.reason));
  if (event.summary) parts.push(h("div", { class: "muted" }, withoutRefusal(event.summary)));
  if (event.refused) parts.push(h("div", { class: "refusal" }, "refused: ", event.refused));
  const classes = ["event", event.event, event.refused ? "refused" : ""].join(" ").trim();
  return h("div", { class: classes, "data-sequence": event.sequence }, parts);
}

async function showUpload(id) {
  const story = await api(`/uploads/${encodeURIComponent(id)}`);
  const ended = story.ended;
  show(
    h("h2", {}, "Upload ", h("code", {}, story.id)),
    h("p", {}, `into ${story.repository || "?"} (${story.account}/${story.region}): `, h("strong", { id: "upload-status" }, story.status),
      story.blob ? h("span", {}, " → blob ", digest(story.blob)) : null),
    ended ? h("p", { class: "ended" }, "ended by ", link(`#/state/${ended.sequence}`, `record #${ended.sequence}`), `: ${ended.how}`) : null,
    h("div", { id: "events" }, story.events.map(eventLine)),
    h("p", {}, link(`#/log?upload=${encodeURIComponent(story.id)}`, "these records in the timeline")));
}

// --- the state at any point -------------------------------------------------------------------

async function showState(at) {
  const [stats, checkpoints] = await Promise.all([api("/stats"), checkpointList()]);
  const end = replay.replaying ? replay.end : stats.sequence;
  const first = Math.max(0, (stats.firstLogSequence || 1) - 1);
  const state = await api(`/state${query({ at: at || String(end), manifests: "true" })}`);
  const slider = h("input", { type: "range", min: first, max: end, value: state.sequence, id: "slider",
    onchange: (event) => { location.hash = `#/state/${event.target.value}`; } });
  const picker = h("form", { class: "controls", onsubmit: (event) => {
    event.preventDefault();
    location.hash = `#/state/${encodeURIComponent(new FormData(event.target).get("at"))}`;
  } },
    h("label", {}, `record ${first}…${end}`, slider),
    h("label", {}, "or a checkpoint, record or time", pointInput("at", at, "baseline, 42, 2026-11-29T06:00:00Z")),
    h("button", { type: "submit" }, "Show"), checkpoints);
  const scopes = state.registries.map((registry) => h("section", { class: "scope" },
    h("h3", {}, scopeName(registry)),
    registry.repositories.length ? null : h("p", { class: "muted" }, "no repositories"),
    registry.repositories.map((repository) => h("div", { class: "repository", "data-repository": repository.name },
      h("strong", {}, repository.name), h("span", { class: "muted" }, ` ${repository.tagMutability}, created ${repository.createdAt}`),
      repository.images.length ? null : h("div", { class: "muted" }, "no images"),
      repository.images.map((image) => h("details", { class: "image" },
        h("summary", {}, digest(image.digest), " ",
          image.tags.length ? image.tags.map((tag) => h("span", { class: "pill" },
            link(`#/tag?repository=${encodeURIComponent(repository.name)}&tag=${encodeURIComponent(tag)}`, tag)))
            : h("span", { class: "muted" }, "untagged"),
          h("span", { class: "muted" }, ` ${image.mediaType}, ${image.size} bytes, pushed ${image.pushedAt}`)),
        h("pre", {}, prettyJSON(image.manifest)))))),
    registry.uploads.length ? h("div", {}, h("h3", {}, "uploads in flight"),
      registry.uploads.map((u) => h("div", {}, link(`#/upload/${encodeURIComponent(u.id)}`, h("code", {}, u.id)), ` into ${u.repository}: ${u.size} bytes in ${u.chunks} chunk(s)`))) : null));
  show(h("h2", {}, `The registry after record #${state.sequence} `, h("span", { class: "muted" }, state.time)),
    picker, scopes.length ? scopes : h("p", { class: "muted" }, "The registry is empty at this point."));
}

function prettyJSON(text) {
  try { return JSON.stringify(JSON.parse(text), null, 2); } catch { return text || ""; }
}

// --- a diff between two points ----------------------------------------------------------------

async function showDiff(from, to) {
  const datalist = await checkpointList();
  const form = h("form", { class: "controls", onsubmit: (event) => {
    event.preventDefault();
    const data = new FormData(event.target);
    location.hash = `#/diff/${encodeURIComponent(data.get("from"))}/${encodeURIComponent(data.get("to") || "")}`;
  } },
    h("label", {}, "from", pointInput("from", from, "a checkpoint, record or time")),
    h("label", {}, "to (default: the last record)", pointInput("to", to, "a checkpoint, record or time")),
    h("button", { type: "submit" }, "Compare"), datalist);
  if (!from) { show(h("h2", {}, "Diff"), form); return; }
  const diff = await api(`/diff${query({ from, to })}`);
  const point = (p) => `${p.checkpoint ? "checkpoint " + p.checkpoint + ", " : ""}record #${p.sequence} (${p.time})`;
  const settings = (list) => list.map((s) => h("li", {}, `${s.field}: `, h("span", { class: "bad" }, s.from ?? "unset"), " → ", h("span", { class: "good" }, s.to ?? "unset")));
  const tagMoves = (repository) => repository.tags.map((move) => h("li", { class: "tag-move", "data-tag": move.tag },
    "tag ", h("strong", {}, move.tag), ": ",
    move.from ? h("span", { class: "from digest" }, move.from) : h("span", { class: "muted" }, "(new)"), " → ",
    move.to ? h("span", { class: "to digest" }, move.to) : h("span", { class: "muted" }, "(removed)")));
  const repositoryBlock = (repository, sign) => h("div", { class: "repository", "data-repository": repository.name },
    h("strong", {}, `${sign} ${repository.name}`),
    h("ul", {}, settings(repository.settings),
      repository.imagesAdded.map((d) => h("li", {}, "+ image ", digest(d))),
      repository.imagesRemoved.map((d) => h("li", {}, "− image ", digest(d))),
      tagMoves(repository),
      repository.blobsLinked.length || repository.blobsUnlinked.length
        ? h("li", { class: "muted" }, `blobs: ${repository.blobsLinked.length} linked, ${repository.blobsUnlinked.length} unlinked`) : null));
  show(h("h2", {}, "Diff"), form,
    h("p", {}, "from ", point(diff.from), " to ", point(diff.to)),
    diff.unchanged ? h("p", { class: "muted" }, "Nothing changed.") : null,
    diff.registries.map((registry) => h("section", { class: "scope" }, h("h3", {}, scopeName(registry)),
      registry.registrySettings.length ? h("ul", {}, settings(registry.registrySettings)) : null,
      registry.repositoriesAdded.map((r) => repositoryBlock(r, "+")),
      registry.repositoriesRemoved.map((r) => repositoryBlock(r, "−")),
      registry.repositoriesChanged.map((r) => repositoryBlock(r, "~")))),
    diff.checkpointsAdded.length ? h("p", {}, "checkpoints added: ", diff.checkpointsAdded.join(", ")) : null,
    diff.checkpointsRemoved.length ? h("p", {}, "checkpoints removed: ", diff.checkpointsRemoved.join(", ")) : null,
    diff.clock ? h("p", {}, `clock offset: ${diff.clock.from ?? 0} → ${diff.clock.to ?? 0} ms`) : null);
}

// --- a tag's history --------------------------------------------------------------------------

async function showTag(params) {
  const repository = params.get("repository") || "";
  const tag = params.get("tag") || "";
  const form = h("form", { class: "controls", onsubmit: (event) => {
    event.preventDefault();
    const data = new FormData(event.target);
    location.hash = "#/tag" + query({ repository: data.get("repository"), tag: data.get("tag") });
  } },
    h("label", {}, "repository", h("input", { name: "repository", value: repository, size: 24 })),
    h("label", {}, "tag", h("input", { name: "tag", value: tag, size: 16 })),
    h("button", { type: "submit" }, "Show"));
  if (!repository || !tag) { show(h("h2", {}, "Tag history"), form); return; }
  const history = await api(`/tags/history${query({ repository, tag })}`);
  show(h("h2", {}, `${repository}:${tag}`), form,
    h("p", { class: "muted" }, `${history.moves.length} move(s) in the history kept (from record #${history.historyStartsAt})`),
    h("table", {}, h("thead", {}, h("tr", {}, ["record", "time", "then named", "cause"].map((t) => h("th", {}, t)))),
      h("tbody", {}, history.moves.map((move) => h("tr", { class: "move" },
        h("td", {}, link(`#/state/${move.sequence}`, `#${move.sequence}`)), h("td", { class: "muted" }, move.time),
        h("td", {}, move.deleted ? h("span", { class: "bad" }, "deleted") : digest(move.digest)),
        h("td", {}, move.cause))))));
}

// --- checkpoints, rewind ----------------------------------------------------------------------

async function showCheckpoints() {
  const answer = await api("/checkpoints");
  const act = async (label, confirmText, action) => {
    if (!window.confirm(confirmText)) return;
    try { const result = await action(); showError(null); await refreshReplay(); await showCheckpoints(); note(label(result)); } catch (error) { showError(error); }
  };
  const rows = answer.checkpoints.map((c) => h("tr", { "data-checkpoint": c.name },
    h("td", {}, h("strong", {}, c.name)), h("td", {}, link(`#/state/${c.sequence}`, `#${c.sequence}`)), h("td", { class: "muted" }, c.time),
    h("td", {}, link(`#/diff/${encodeURIComponent(c.name)}/`, "diff to the end"), " ",
      replay.replaying
        ? h("button", { onclick: () => act((r) => `showing record #${r.at}`, `Show the registry as it was at checkpoint ${c.name}? (a replay only moves its view)`,
          () => post("/replay", { at: c.name })) }, "show here")
        : h("button", { class: "danger", onclick: () => act((r) => `rewound to ${c.name}: record #${r.sequence}`,
          `Rewind the registry to checkpoint ${c.name}? Repositories, images and tags become what they were at record #${c.sequence}; uploads in flight end. The rewind is itself a record and can be undone by another.`,
          () => post("/rewind", { to: c.name })) }, "rewind"))));
  const create = h("form", { class: "controls", onsubmit: (event) => {
    event.preventDefault();
    const name = new FormData(event.target).get("name");
    act((r) => `checkpoint ${name} at record #${r.sequence}`, `Create checkpoint ${name} at the current record?`, () => post("/checkpoints", { name }));
  } },
    h("label", {}, "new checkpoint", h("input", { name: "name", pattern: "[A-Za-z0-9._-]{1,128}", required: true, disabled: replay.replaying })),
    h("button", { type: "submit", disabled: replay.replaying }, "Create"),
    replay.replaying ? h("span", { class: "muted" }, "a replay is read-only") : null);
  show(h("h2", {}, "Checkpoints"), create, h("div", { id: "note", class: "good" }),
    rows.length ? h("table", {}, h("thead", {}, h("tr", {}, ["name", "record", "time", ""].map((t) => h("th", {}, t)))), h("tbody", {}, rows))
      : h("p", { class: "muted" }, "No checkpoints yet."));
}

function note(text) {
  const element = document.getElementById("note");
  if (element) element.textContent = text;
}

// --- the frame --------------------------------------------------------------------------------

async function refreshReplay() {
  replay = await api("/replay").catch(() => ({ replaying: false }));
  const banner = document.getElementById("replay");
  banner.hidden = !replay.replaying;
  if (replay.replaying) {
    banner.replaceChildren("Replaying a recording (read-only): records ", `#${replay.start + 1}…#${replay.end}`,
      "; /v2 and ECR reads see record ", h("strong", {}, `#${replay.at}`), ` (${replay.time})`,
      replay.checkpoint ? `, checkpoint ${replay.checkpoint}` : "", ". ",
      h("button", { onclick: async () => {
        const at = location.hash.startsWith("#/state/") ? decodeURIComponent(location.hash.slice(8)) : String(replay.end);
        try { await post("/replay", { at }); await refreshReplay(); } catch (error) { showError(error); }
      } }, "serve the point shown here"));
  }
}

const KINDS = [];

async function render() {
  const { name, rest, params } = route();
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.dataset.view === name || (name === "upload" && a.dataset.view === "uploads"));
  if (name !== "log") stopFollowing();
  showError(null);
  try {
    switch (name) {
      case "uploads": return await showUploads();
      case "upload": return await showUpload(rest[0]);
      case "state": return await showState(rest[0]);
      case "diff": return await showDiff(rest[0], rest[1]);
      case "tag": return await showTag(params);
      case "checkpoints": return await showCheckpoints();
      default: return await showLog(params);
    }
  } catch (error) {
    showError(error);
  }
}

async function start() {
  try {
    const index = await api("");
    KINDS.push(...(index.kinds || []));
  } catch (error) { showError(error); }
  await refreshReplay();
  window.addEventListener("hashchange", render);
  await render();
}

start();
