/* spantap report: draws the views of the page from the recording's JSON data
 * (the <script id="spantap-data"> element that spantap writes) with d3.
 * Everything is in the page: no request leaves it. window.spantapReport
 * exposes the state for tests (tests/live/js/report_html.test.mjs). */
"use strict";
(function () {
  const timings = [["start", performance.now()]];
  const mark = (what) => timings.push([what, performance.now()]);
  const raw = JSON.parse(document.getElementById("spantap-data").textContent);
  mark("parsed");
  const STR = raw.strings;
  const tooltip = document.getElementById("tooltip");

  /* ---- the data: row arrays to objects; string-table indexes to texts ---- */
  function table(t, textFields) {
    if (!t) return [];
    const f = t.fields, isText = f.map((n) => textFields.includes(n));
    return t.rows.map((r) => {
      const o = {};
      for (let i = 0; i < f.length; i++)
        o[f[i]] = isText[i] ? (r[i] >= 0 ? STR[r[i]] : null) : r[i];
      return o;
    });
  }
  const recording = {};
  for (const r of raw.recording.rows) recording[r[0]] = r[1] !== null && r[1] !== "" ? r[1] : r[2];
  const H = raw.health;
  const recordedEvents = String(recording.events || "").split(",");
  /* spans and weights are the big ones: decoded with a fixed shape (fast) */
  const expect = (t, names) => {
    if (t.fields.join() !== names) throw new Error("spantap report: unexpected fields " + t.fields.join());
  };
  expect(raw.spans, "id,trace,parent,kind,service,pid,tid,start,dur,status,depth,critical,bytes_in,bytes_out,syscalls,net,file,mem,proc,other,offcpu,switches,faults,site_start,site_end");
  const txt = (i) => (i >= 0 ? STR[i] : null);
  const spans = raw.spans.rows.map((r) => ({
    id: r[0], trace: r[1], parent: r[2], kind: txt(r[3]), service: txt(r[4]), pid: r[5], tid: r[6], start: r[7], dur: r[8],
    status: txt(r[9]), depth: r[10], critical: r[11], bytes_in: r[12], bytes_out: r[13], syscalls: r[14], net: r[15], file: r[16],
    mem: r[17], proc: r[18], other: r[19], offcpu: r[20], switches: r[21], faults: r[22], site_start: txt(r[23]), site_end: txt(r[24]),
  }));
  expect(raw.weights, "span,stack,syscall,calls,ns");
  /* weights stay row arrays [span, stack, syscall index, calls, ns], by span */
  const weightsOfSpan = new Map();
  for (const r of raw.weights.rows) {
    const l = weightsOfSpan.get(r[0]);
    if (l) l.push(r);
    else weightsOfSpan.set(r[0], [r]);
  }
  const frameRows = table(raw.frames, ["frame"]);
  const traces = table(raw.traces, ["root_service"]);
  const traceSyscalls = table(raw.trace_syscalls, ["name", "class", "call_site"]);
  const dual = table(raw.dual, ["syscall", "call_site"]);
  const spanById = new Map(spans.map((s) => [s.id, s]));
  mark("decoded");
  const stackFrames = new Map(); /* stack id -> [{frame, app}] outermost first */
  for (const r of frameRows) {
    if (!stackFrames.has(r.stack)) stackFrames.set(r.stack, []);
    stackFrames.get(r.stack).push({ frame: r.frame, app: r.app === 1 });
  }

  /* ---- formatting ---- */
  const fmtMs = (ns) => {
    const ms = ns / 1e6;
    return ms >= 100 ? ms.toFixed(0) : ms >= 1 ? ms.toFixed(2) : ms >= 0.001 ? ms.toFixed(3) : ms === 0 ? "0" : ms.toExponential(1);
  };
  /* an axis tick: 0, 10µs, 1.5ms, 2s */
  const fmtDur = (ns) => (ns === 0 ? "0" : ns < 1e6 ? d3.format("~r")(+(ns / 1e3).toPrecision(3)) + "µs" : ns < 1e9 ? d3.format("~r")(+(ns / 1e6).toPrecision(3)) + "ms" : d3.format("~r")(+(ns / 1e9).toPrecision(3)) + "s");
  const fmtNum = (v) => (Math.abs(v) >= 100 ? d3.format(",.0f")(v) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toFixed(3));
  const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
  function showTip(ev, html) {
    tooltip.innerHTML = html;
    tooltip.style.display = "block";
    const w = tooltip.offsetWidth, h = tooltip.offsetHeight;
    tooltip.style.left = Math.min(ev.clientX + 14, window.innerWidth - w - 8) + "px";
    tooltip.style.top = Math.min(ev.clientY + 14, window.innerHeight - h - 8) + "px";
  }
  const hideTip = () => (tooltip.style.display = "none");
  function missing(sel, text) {
    d3.select(sel).append("div").attr("class", "missing").text(text);
  }

  /* ---- header and health: always drawn, never hidden ---- */
  document.getElementById("rec-name").textContent = raw.name;
  document.title = "spantap report: " + raw.name;
  const meta = [];
  if (recording.command_line) meta.push(recording.command_line);
  if (recording.hostname) meta.push("on " + recording.hostname + (recording.kernel ? " (" + recording.kernel + ")" : ""));
  if (recording.started_ns && recording.ended_ns) meta.push("traced " + (Number(recording.ended_ns - recording.started_ns) / 1e9).toFixed(1) + " s");
  meta.push(H.syscalls + " syscalls, " + H.spans + " spans, " + H.traces + " traces");
  document.getElementById("rec-meta").textContent = meta.join(" · ");

  function drawHealth() {
    const items = [];
    const add = (cls, key, text) => items.push({ cls, key, text });
    if (raw.missing) add("bad", "missing", raw.missing);
    if (H.complete === 1) add("ok", "complete", "recording complete");
    else add("bad", "incomplete", "incomplete recording" + (recording.incomplete_reason ? ": " + recording.incomplete_reason : " (it did not end in order)"));
    add(H.events_lost > 0 ? "bad" : "ok", "events_lost", H.events_lost + " events lost");
    if (H.lines_malformed > 0) add("warn", "lines_malformed", H.lines_malformed + " stream lines malformed (skipped)");
    add(H.spans_loss > 0 ? "bad" : "ok", "spans_loss", H.spans_loss + " spans marked loss" + (H.spans_in_loss > H.spans_loss ? " (" + H.spans_in_loss + " open during a loss)" : ""));
    const notOk = raw.health.spans_by_status.rows.filter((r) => r[0] !== "ok" && r[0] !== "loss");
    if (notOk.length) add("warn", "spans_not_ok", notOk.map((r) => r[1] + " spans " + r[0]).join(", "));
    if (H.traces_incomplete > 0) add("warn", "traces_incomplete", H.traces_incomplete + " traces incomplete");
    add(H.frames_unsymbolized > 0 ? "warn" : "ok", "frames_unsymbolized",
      H.frames_unsymbolized + " of " + H.frames + " frames unsymbolized" +
      (H.syscalls_unsymbolized > 0 ? " (" + H.syscalls_unsymbolized + " syscalls with an unsymbolized call site)" : ""));
    if (H.syscalls > 0 && H.syscalls_with_stack === 0) add("warn", "no_stacks", "no user stacks recorded (stack mode 0): no call sites");
    if (H.unknown_sockets > 0) add("warn", "unknown_sockets", H.unknown_sockets + " syscalls on sockets of unknown address");
    const sm = raw.sampling;
    if (sm.sample_every > 1)
      add("warn", "sampled", "sampled: " + sm.spans + " spans is above " + sm.max_spans + "; the page keeps one trace in " + sm.sample_every + " and the " + sm.traces_listed + " slowest (" + sm.spans_shown + " spans); counts below are of those");
    d3.select("#health-list").selectAll("li").data(items).join("li")
      .attr("class", (d) => d.cls).attr("data-key", (d) => d.key).text((d) => d.text);
  }

  /* ---- requests: a service's server spans (its client spans if it serves none) ---- */
  /* grouping with a plain Map: d3.group's InternMap is several times slower on 100,000 spans */
  function groupBy(list, key) {
    const m = new Map();
    for (const x of list) {
      const k = key(x), l = m.get(k);
      if (l) l.push(x);
      else m.set(k, [x]);
    }
    return m;
  }
  const byService = groupBy(spans, (s) => s.service);
  const requestsOf = new Map();
  for (const [svc, list] of byService) {
    const server = list.filter((s) => s.kind === "server");
    requestsOf.set(svc, server.length ? server : list.filter((s) => s.kind === "client"));
  }
  const busy = new Map([...requestsOf].map(([k, l]) => [k, l.reduce((a, s) => a + s.dur, 0)]));
  const services = [...requestsOf.keys()].sort((a, b) => busy.get(b) - busy.get(a));
  const childrenOf = groupBy(spans.filter((s) => s.parent !== null), (s) => s.parent);

  const METRICS = [
    { key: "dur", label: "latency (ms)", ns: true },
    { key: "net", label: "net syscalls (ms)", ns: true },
    { key: "file", label: "file syscalls (ms)", ns: true },
    { key: "mem", label: "mem syscalls (ms)", ns: true },
    { key: "offcpu", label: "off-CPU (ms)", ns: true, needs: "sched" },
    { key: "syscalls", label: "syscalls" },
    { key: "bytes_in", label: "bytes in" },
    { key: "bytes_out", label: "bytes out" },
    { key: "faults", label: "page faults", needs: "faults" },
  ];

  /* the explorer's state: focused service, latency band, axis filters */
  const state = { service: services[0] || null, band: null, filters: new Map(), listeners: [] };
  const passesFilters = (s) => {
    for (const [k, [lo, hi]] of state.filters) if (s[k] < lo || s[k] > hi) return false;
    return true;
  };
  const inBand = (s) => !state.band || (state.band.service === s.service && s.dur >= state.band.lo && s.dur <= state.band.hi);
  function selection() {
    if (!state.service) return null;
    if (!state.band && state.filters.size === 0) return null;
    return requestsOf.get(state.service).filter((s) => inBand(s) && passesFilters(s));
  }
  const changed = () => state.listeners.forEach((f) => f());

  /* ---- latency histograms, one per service ---- */
  const HW = 380, HH = 150, HM = { l: 40, r: 22, t: 18, b: 30 };
  const hists = new Map();
  function drawHistograms() {
    const root = d3.select("#hists");
    for (const svc of services) {
      const req = requestsOf.get(svc);
      const ext = d3.extent(req, (s) => Math.max(s.dur, 1));
      const lo = Math.pow(10, Math.floor(Math.log10(ext[0]))), hi = Math.pow(10, Math.ceil(Math.log10(ext[1] * 1.0001)));
      const x = d3.scaleLog().domain([lo, hi]).range([HM.l, HW - HM.r]);
      const nb = 40;
      const edges = d3.range(nb + 1).map((i) => lo * Math.pow(hi / lo, i / nb));
      const bin = d3.bin().value((s) => Math.max(s.dur, 1)).domain([lo, hi]).thresholds(edges.slice(1, -1));
      const bins = bin(req);
      const y = d3.scaleLinear().domain([0, d3.max(bins, (b) => b.length) || 1]).nice().range([HH - HM.b, HM.t]);
      const svg = root.append("svg").attr("class", "hist").attr("width", HW).attr("height", HH)
        .attr("data-service", svc).attr("data-requests", req.length);
      svg.append("text").attr("class", "title").attr("x", HM.l).attr("y", 12)
        .text(svc + " — " + req.length + " " + (req[0] && req[0].kind === "server" ? "requests served" : "requests sent"));
      svg.append("g").attr("class", "axis").attr("transform", `translate(0,${HH - HM.b})`)
        .call(d3.axisBottom(x).tickValues(d3.range(Math.round(Math.log10(lo)), Math.round(Math.log10(hi)) + 1).map((e) => Math.pow(10, e))).tickFormat(fmtDur));
      svg.append("g").attr("class", "axis").attr("transform", `translate(${HM.l},0)`).call(d3.axisLeft(y).ticks(4, "~s"));
      const bars = svg.append("g").selectAll("rect.bar").data(bins).join("rect").attr("class", "bar")
        .attr("x", (b) => x(b.x0) + 0.5).attr("width", (b) => Math.max(0, x(b.x1) - x(b.x0) - 1))
        .attr("y", (b) => y(b.length)).attr("height", (b) => y(0) - y(b.length)).attr("data-count", (b) => b.length);
      const over = svg.append("g");
      bars.on("mousemove", (ev, b) => showTip(ev, `${fmtMs(b.x0)}–${fmtMs(b.x1)} ms: ${b.length} requests`)).on("mouseleave", hideTip);
      const brush = d3.brushX().extent([[HM.l, HM.t], [HW - HM.r, HH - HM.b]])
        .on("end", (ev) => {
          if (!ev.sourceEvent) return;
          if (!ev.selection) {
            if (state.band && state.band.service === svc) { state.band = null; changed(); }
            return;
          }
          const [p0, p1] = ev.selection;
          for (const [other, h] of hists) if (other !== svc) h.g.call(h.brush.move, null);
          state.band = { service: svc, lo: Math.ceil(x.invert(p0)), hi: Math.floor(x.invert(p1)) };
          if (state.service !== svc) setService(svc, true);
          changed();
        });
      const g = svg.append("g").attr("class", "brush").call(brush);
      g.on("dblclick", () => { g.call(brush.move, null); if (state.band && state.band.service === svc) { state.band = null; changed(); } });
      svg.on("click", () => { if (state.service !== svc) setService(svc); });
      hists.set(svc, { svg, bins, x, y, over, brush, g });
    }
  }
  function updateHistograms() {
    for (const [svc, h] of hists) {
      h.svg.classed("focus", svc === state.service);
      const filtered = state.filters.size > 0 && svc === state.service;
      const counts = h.bins.map((b) => (filtered ? b.filter(passesFilters).length : 0));
      h.over.selectAll("rect.bar.filtered").data(filtered ? h.bins : []).join("rect").attr("class", "bar filtered")
        .attr("x", (b) => h.x(b.x0) + 0.5).attr("width", (b) => Math.max(0, h.x(b.x1) - h.x(b.x0) - 1))
        .attr("y", (b, i) => h.y(counts[i])).attr("height", (b, i) => h.y(0) - h.y(counts[i])).attr("data-count", (b, i) => counts[i])
        .style("pointer-events", "none");
    }
  }

  /* ---- parallel coordinates of the focused service's requests ---- */
  const PW = Math.max(900, Math.min(1500, window.innerWidth - 80)), PH = 320, PM = { l: 60, r: 90, t: 28, b: 12 };
  let pc = null;
  function drawParallel() {
    const root = d3.select("#pcoords").html("").style("width", PW + "px").style("height", PH + "px");
    const req = requestsOf.get(state.service);
    const dpr = window.devicePixelRatio || 1;
    const mk = () => root.append("canvas").attr("width", PW * dpr).attr("height", PH * dpr).style("width", PW + "px").style("height", PH + "px").node();
    const back = mk(), front = mk();
    const x = d3.scalePoint().domain(METRICS.map((m) => m.key)).range([PM.l, PW - PM.r]);
    const ys = new Map();
    for (const m of METRICS) {
      const max = d3.max(req, (s) => s[m.key]) || 0;
      const y = d3.scaleSymlog().constant(m.ns ? 1e4 : 1).domain([0, max || 1]).range([PH - PM.b, PM.t]);
      /* ticks at 0 and the powers of ten up to the largest value (symlog's own are linear) */
      y.tickValues = [0];
      for (let t = m.ns ? 1e4 : 1; t <= max; t *= 10) y.tickValues.push(t);
      if (max > 0 && y(max) < y(y.tickValues[y.tickValues.length - 1]) - 14) y.tickValues.push(max);
      ys.set(m.key, y);
    }
    const svg = root.append("svg").attr("width", PW).attr("height", PH);
    const axes = svg.selectAll("g.pc-axis").data(METRICS).join("g").attr("class", "pc-axis axis")
      .attr("data-key", (m) => m.key).attr("transform", (m) => `translate(${x(m.key)},0)`);
    axes.each(function (m) {
      const y = ys.get(m.key);
      const ax = d3.axisLeft(y).tickValues(y.tickValues).tickFormat(m.ns ? fmtDur : d3.format("~s"));
      d3.select(this).call(ax);
    });
    axes.append("text").attr("y", PM.t - 12).attr("text-anchor", "middle").style("font-weight", 600)
      .text((m) => m.label + (m.needs && !recordedEvents.includes(m.needs) ? " — not recorded" : ""))
      .append("title").text((m) => (m.needs && !recordedEvents.includes(m.needs) ? `the recording's --events (${recording.events || "?"}) left out ${m.needs}` : m.label));
    axes.append("g").attr("class", "brush").each(function (m) {
      const y = ys.get(m.key);
      const b = d3.brushY().extent([[-10, PM.t], [10, PH - PM.b]]).on("brush end", (ev) => {
        if (!ev.sourceEvent) return;
        if (!ev.selection) state.filters.delete(m.key);
        else state.filters.set(m.key, [y.invert(ev.selection[1]), y.invert(ev.selection[0])]);
        changed();
      });
      d3.select(this).call(b);
    });
    pc = { back, front, x, ys, req, dpr, svg };
    root.attr("data-lines", req.length).attr("data-service", state.service);
  }
  function lines(ctx, list) {
    ctx.beginPath();
    for (const s of list) {
      let first = true;
      for (const m of METRICS) {
        const px = pc.x(m.key), py = pc.ys.get(m.key)(s[m.key]);
        if (first) { ctx.moveTo(px, py); first = false; } else ctx.lineTo(px, py);
      }
    }
    ctx.stroke();
  }
  function updateParallel() {
    if (!pc) return;
    const sel = selection();
    const shown = pc.req.filter(passesFilters);
    const coloured = state.band ? shown.filter(inBand) : [];
    const alpha = (n) => Math.max(0.04, Math.min(0.6, 60 / Math.sqrt(n + 1)));
    for (const [canvas, list, colour, width] of [[pc.back, shown, "70,110,170", 1], [pc.front, coloured, "230,120,20", 1.2]]) {
      const ctx = canvas.getContext("2d");
      ctx.setTransform(pc.dpr, 0, 0, pc.dpr, 0, 0);
      ctx.clearRect(0, 0, PW, PH);
      ctx.lineWidth = width;
      ctx.strokeStyle = `rgba(${colour},${alpha(list.length)})`;
      lines(ctx, list);
    }
    d3.select("#pcoords").attr("data-shown", shown.length).attr("data-coloured", coloured.length);
    const text = !sel ? "no selection: the slowest tenth against the rest"
      : sel.length + " requests selected" + (state.band ? ` (latency ${fmtMs(state.band.lo)}–${fmtMs(state.band.hi)} ms)` : "") +
        (state.filters.size ? `, ${state.filters.size} axis filter${state.filters.size > 1 ? "s" : ""}` : "");
    d3.select("#selection").text(text).attr("data-count", sel ? sel.length : "")
      .attr("data-lo", state.band ? state.band.lo : "").attr("data-hi", state.band ? state.band.hi : "")
      .attr("data-service", state.service);
  }

  /* ---- the selection against the rest (what slow_vs_fast says in SQL) ---- */
  function updateCompare() {
    const req = requestsOf.get(state.service);
    let sel = selection(), title;
    let rest;
    if (sel) {
      const ids = new Set(sel.map((s) => s.id));
      rest = req.filter((s) => !ids.has(s.id));
      title = `Selection (${sel.length}) against the rest (${rest.length}) of ${state.service}: averages`;
    } else {
      /* as slow_vs_fast: ntile(10) over the latency, slowest first */
      const sorted = [...req].sort((a, b) => b.dur - a.dur);
      const n = Math.ceil(sorted.length / 10);
      sel = sorted.slice(0, n);
      rest = sorted.slice(n);
      title = `Slowest tenth (${sel.length}) against the rest (${rest.length}) of ${state.service}: averages (slow_vs_fast)`;
    }
    d3.select("#compare-title").text(title);
    const cols = [...METRICS, { key: "switches", label: "switches" }];
    const avg = (list, k) => (list.length ? d3.mean(list, (s) => s[k]) : NaN);
    const rows = cols.map((m) => {
      const a = avg(sel, m.key), b = avg(rest, m.key);
      return { m, a, b, ratio: b > 0 ? a / b : a > 0 ? Infinity : NaN };
    });
    const t = d3.select("#compare-table").html("");
    t.append("thead").append("tr").html('<th class="text">resource</th><th>selection</th><th>rest</th><th>selection / rest</th>');
    const v = (m, x) => (isNaN(x) ? "–" : m.ns ? fmtMs(x) : fmtNum(x));
    t.append("tbody").selectAll("tr.row").data(rows).join("tr").attr("class", "row").attr("data-key", (r) => r.m.key)
      .html((r) => `<td class="text">${esc(r.m.label)}</td><td>${v(r.m, r.a)}</td><td>${v(r.m, r.b)}</td>` +
        `<td class="${r.ratio >= 1.5 ? "up" : r.ratio <= 0.67 ? "down" : ""}">${isFinite(r.ratio) ? r.ratio.toFixed(2) + "×" : r.ratio === Infinity ? "only in selection" : "–"}</td>`);
  }

  function setService(svc, keepBand) {
    state.service = svc;
    if (!keepBand) {
      state.band = null;
      for (const [, h] of hists) h.g.call(h.brush.move, null);
    }
    state.filters.clear();
    document.getElementById("service").value = svc;
    drawParallel();
    changed();
  }

  function drawExplorer() {
    if (!spans.length) {
      missing("#hists", "No requests to draw: " + (raw.missing || "this recording has no spans") + ".");
      d3.select("#explorer .controls").remove();
      d3.select("#compare-title").remove();
      return false;
    }
    const sel = d3.select("#service");
    sel.selectAll("option").data(services).join("option").attr("value", (s) => s).text((s) => s + " (" + requestsOf.get(s).length + ")");
    sel.on("change", () => setService(sel.node().value));
    d3.select("#clear").on("click", () => setService(state.service));
    drawHistograms();
    drawParallel();
    state.listeners.push(updateHistograms, updateParallel, updateCompare);
    return true;
  }

  /* ---- traces and their waterfall ---- */
  const listed = new Set(traces.map((t) => t.id));
  const spansOfTrace = groupBy(spans.filter((s) => listed.has(s.trace)), (s) => s.trace);
  const syscallsOfSpan = groupBy(traceSyscalls, (r) => r.span);
  function drawTraceList() {
    if (!traces.length) {
      missing("#trace-list-box", "No traces: " + (raw.missing || "this recording has no spans") + ".");
      return;
    }
    const t = d3.select("#trace-list");
    t.append("thead").append("tr").html('<th>trace</th><th>ms</th><th>spans</th><th>depth</th><th class="text">root</th><th class="text">critical path</th><th class="text">note</th>');
    t.append("tbody").selectAll("tr.trace").data(traces).join("tr").attr("class", "trace").attr("data-trace", (d) => d.id)
      .html((d) => `<td>${d.id}</td><td>${fmtMs(d.dur)}</td><td>${d.spans}</td><td>${d.depth}</td><td class="text">${esc(d.root_service || "")}</td>` +
        `<td class="text">${esc(d.critical_path || "")}</td><td class="text">${d.complete ? "" : "incomplete"}</td>`)
      .on("click", (ev, d) => drawWaterfall(d));
    if (raw.sampling.traces_listed < H.traces) d3.select("#trace-list-box").append("p").attr("class", "note").text(`the ${traces.length} slowest of ${H.traces} traces (spantap report -n N lists more)`);
  }
  function drawWaterfall(tr) {
    d3.selectAll("#trace-list tr.trace").classed("chosen", (d) => d.id === tr.id);
    const root = d3.select("#waterfall").html("");
    const list = (spansOfTrace.get(tr.id) || []).slice().sort((a, b) => a.start - b.start);
    root.attr("data-trace", tr.id).attr("data-spans", list.length);
    root.append("div").html(`<b>trace ${tr.id}</b>: ${fmtMs(tr.dur)} ms, ${tr.spans} spans, depth ${tr.depth}; critical path <b>${esc(tr.critical_path || "")}</b>`);
    if (!list.length) { missing("#waterfall", "This trace's spans are not in the report."); return; }
    /* lanes: one per thread, grouped by process, in order of first span */
    const laneKey = (s) => s.service + " " + s.pid + "/" + s.tid;
    const lanes = [...new Set(list.map(laneKey))];
    const t0 = d3.min(list, (s) => s.start), t1 = d3.max(list, (s) => s.start + s.dur);
    const LW = 230, W = Math.max(900, Math.min(1500, window.innerWidth - 80)), RH = 16, perLane = new Map();
    const rowsOf = new Map(); /* a lane's spans stacked in rows when they overlap */
    for (const s of list) {
      const k = laneKey(s);
      if (!rowsOf.has(k)) rowsOf.set(k, []);
      const rows = rowsOf.get(k);
      let r = rows.findIndex((end) => end <= s.start);
      if (r < 0) { r = rows.length; rows.push(0); }
      rows[r] = s.start + s.dur;
      s._row = r;
    }
    let y = 20;
    for (const k of lanes) { perLane.set(k, y); y += rowsOf.get(k).length * (RH + 4) + 8; }
    const x = d3.scaleLinear().domain([0, Math.max(1, t1 - t0)]).range([LW, W - 10]);
    const svg = root.append("svg").attr("class", "wf").attr("width", W).attr("height", y + 10);
    const defs = svg.append("defs").append("pattern").attr("id", "hatch").attr("width", 6).attr("height", 6)
      .attr("patternUnits", "userSpaceOnUse").attr("patternTransform", "rotate(45)");
    defs.append("rect").attr("width", 6).attr("height", 6).attr("fill", "#c5d6ec");
    defs.append("line").attr("x1", 0).attr("y1", 0).attr("x2", 0).attr("y2", 6).attr("stroke", "#7fa6d6").attr("stroke-width", 3);
    svg.append("g").attr("class", "axis").attr("transform", "translate(0,16)").call(d3.axisTop(x).ticks(8).tickFormat((v) => fmtMs(v) + " ms"));
    for (const k of lanes) {
      svg.append("rect").attr("class", "lane").attr("x", 0).attr("y", perLane.get(k) - 2).attr("width", W).attr("height", rowsOf.get(k).length * (RH + 4) + 4);
      svg.append("text").attr("class", "lane-label").attr("x", 4).attr("y", perLane.get(k) + RH - 4).text(k);
    }
    const yOf = (s) => perLane.get(laneKey(s)) + s._row * (RH + 4);
    /* parent -> child links */
    svg.append("g").selectAll("path").data(list.filter((s) => spanById.has(s.parent) && list.includes(spanById.get(s.parent)))).join("path").attr("class", "link")
      .attr("d", (s) => { const p = spanById.get(s.parent); const px = x(s.start - t0); return `M${px},${yOf(p) + RH / 2}V${yOf(s) + RH / 2}`; });
    const g = svg.append("g").selectAll("g").data(list).join("g");
    g.append("rect").attr("class", (s) => `span ${s.kind}${s.critical ? " critical" : ""}${s.status !== "ok" ? " notok" : ""}`)
      .attr("data-span", (s) => s.id).attr("x", (s) => x(s.start - t0)).attr("y", yOf).attr("height", RH)
      .attr("width", (s) => Math.max(2, x(s.start - t0 + s.dur) - x(s.start - t0)))
      .on("mousemove", (ev, s) => showTip(ev, spanTip(s))).on("mouseleave", hideTip);
    /* the syscalls inside each span, as ticks */
    g.each(function (s) {
      const scs = syscallsOfSpan.get(s.id) || [];
      d3.select(this).selectAll("rect.sc").data(scs).join("rect").attr("class", "sc")
        .attr("x", (c) => x(c.ts - t0)).attr("width", (c) => Math.max(1, x(c.ts - t0 + c.dur) - x(c.ts - t0)))
        .attr("y", yOf(s) + RH - 5).attr("height", 4);
    });
  }
  function spanTip(s) {
    const scs = syscallsOfSpan.get(s.id) || [];
    let h = `<b>span ${s.id}</b> ${s.kind} <b>${esc(s.service)}</b> ${s.pid}/${s.tid}${s.critical ? ' <span style="color:#d02020">critical path</span>' : ""}<br>` +
      `${fmtMs(s.dur)} ms, status ${esc(s.status)}; syscalls ${s.syscalls}: net ${fmtMs(s.net)}, file ${fmtMs(s.file)}, mem ${fmtMs(s.mem)} ms; off-CPU ${fmtMs(s.offcpu)} ms; ` +
      `${s.bytes_in} B in, ${s.bytes_out} B out, ${s.faults} page faults<br>` +
      `took the request at <b>${esc(s.site_start || "?")}</b>, answered at <b>${esc(s.site_end || "?")}</b>`;
    if (scs.length) {
      h += "<table><tr><td>+ms</td><td>µs</td><td>syscall</td><td>ret</td><td>call site</td></tr>" +
        scs.slice(0, 24).map((c) => `<tr><td>${fmtMs(c.ts - s.start)}</td><td>${(c.dur / 1e3).toFixed(1)}</td><td>${esc(c.name)}</td><td>${c.ret}</td><td>${esc(c.call_site || "(no stack)")}</td></tr>`).join("") + "</table>";
      if (scs.length > 24 || s.syscalls > scs.length) h += `<i>${s.syscalls - Math.min(24, scs.length)} more syscalls</i>`;
    }
    return h;
  }

  /* ---- flame graph (icicle) of the stacks weighted by syscall time ---- */
  let flameZoom = null;
  function flameSpans() {
    const sel = selection();
    const base = sel || requestsOf.get(state.service);
    const out = [];
    for (const s of base) {
      out.push(s);
      for (const c of childrenOf.get(s.id) || []) if (c.service === s.service && c.pid === s.pid) out.push(c);
    }
    return { list: out, selected: !!sel, requests: base.length };
  }
  function drawFlame() {
    const root = d3.select("#flame").html("");
    if (!spans.length) { missing("#flame", "No requests, so no stacks to weigh: " + (raw.missing || "no spans") + "."); return; }
    const { list, selected, requests } = flameSpans();
    const tree = { name: state.service, children: new Map(), value: 0 };
    let total = 0;
    for (const s of list) {
      for (const [, stack, sc, , ns] of weightsOfSpan.get(s.id) || []) {
        const path = stack === null ? [{ frame: "(no stack)", app: false }] : stackFrames.get(stack) || [{ frame: "(stack " + stack + ")", app: false }];
        let node = tree;
        for (const f of [...path, { frame: "[" + STR[sc] + "]", app: false, syscall: true }]) {
          if (!node.children.has(f.frame)) node.children.set(f.frame, { name: f.frame, app: f.app, syscall: !!f.syscall, children: new Map(), value: 0 });
          node = node.children.get(f.frame);
        }
        node.value += ns;
        total += ns;
      }
    }
    d3.select("#flame-title").text(`${state.service}: ${selected ? "the " + requests + " selected requests" : "all " + requests + " requests"} (${list.length} spans), ${fmtMs(total)} ms of syscalls`);
    root.attr("data-total-ns", total).attr("data-spans", list.length).attr("data-service", state.service);
    if (total === 0) { missing("#flame", "No syscall time in these requests" + (H.syscalls_with_stack === 0 ? " (and no stacks recorded)" : "") + "."); return; }
    const toArr = (n) => ({ name: n.name, app: n.app, syscall: n.syscall, value: n.value, children: [...n.children.values()].map(toArr) });
    const hier = d3.hierarchy(toArr(tree)).sum((d) => d.value).sort((a, b) => b.value - a.value);
    const W = Math.max(900, Math.min(1500, window.innerWidth - 80)), RH = 18;
    d3.partition().size([W, (hier.height + 1) * RH])(hier);
    let focus = hier;
    if (flameZoom) hier.each((n) => { if (n.ancestors().map((a) => a.data.name).reverse().join(";") === flameZoom) focus = n; });
    const kx = W / (focus.x1 - focus.x0), ox = focus.x0;
    const color = (d) => (d.data.syscall ? "#e8a87c" : d.data.app ? "#f2c14e" : d.depth === 0 ? "#ccc" : d3.interpolateYlOrRd(0.15 + 0.5 * ((d.data.name.length * 37) % 100) / 100));
    const svg = root.append("svg").attr("width", W).attr("height", (hier.height + 1) * RH);
    const nodes = hier.descendants().filter((d) => (d.x1 - d.x0) * kx >= 0.5 && d.x1 > focus.x0 && d.x0 < focus.x1 && (d.depth >= focus.depth || focus.ancestors().includes(d)));
    const g = svg.selectAll("g.node").data(nodes).join("g").attr("class", (d) => "node" + (d.data.app ? " app" : ""))
      .attr("transform", (d) => `translate(${Math.max(0, (d.x0 - ox) * kx)},${d.y0})`);
    g.append("rect").attr("width", (d) => Math.min(W, (d.x1 - ox) * kx) - Math.max(0, (d.x0 - ox) * kx)).attr("height", RH - 1).attr("fill", color)
      .attr("data-ns", (d) => d.value);
    g.append("text").attr("x", 3).attr("y", RH - 5).text((d) => {
      const w = Math.min(W, (d.x1 - ox) * kx) - Math.max(0, (d.x0 - ox) * kx);
      const n = Math.floor((w - 6) / 6.5);
      return n < 3 ? "" : d.data.name.length > n ? d.data.name.slice(0, n - 1) + "…" : d.data.name;
    });
    g.on("mousemove", (ev, d) => showTip(ev, `<b>${esc(d.data.name)}</b>${d.data.app ? " (application call site)" : ""}<br>${fmtMs(d.value)} ms of syscall time, ${(100 * d.value / total).toFixed(1)}% of ${esc(state.service)}'s`))
      .on("mouseleave", hideTip)
      .on("click", (ev, d) => { flameZoom = d === focus && d.parent ? d.parent.ancestors().map((a) => a.data.name).reverse().join(";") : d.ancestors().map((a) => a.data.name).reverse().join(";"); drawFlame(); });
  }

  /* ---- dual space: syscalls x call sites (with --compare: against the other recording) ---- */
  function drawDual() {
    const root = d3.select("#dual-matrix");
    if (!dual.length && !(raw.compare && raw.compare.dual.rows.length)) { missing("#dual-matrix", "No syscalls: " + (raw.missing || "this recording has none") + "."); return; }
    const cmp = raw.compare ? table(raw.compare.dual, ["syscall", "call_site"]) : null;
    /* per request when both have traces (runs of different length compare), else per recording */
    const perReq = cmp && H.traces > 0 && raw.compare.traces > 0;
    const na = perReq ? H.traces : 1, nb = perReq ? raw.compare.traces : 1;
    const cells = new Map();
    const key = (r) => r.syscall + "\u0000" + r.call_site;
    for (const r of dual) cells.set(key(r), { syscall: r.syscall, site: r.call_site, a: r.ns / na, calls_a: r.calls, b: 0, calls_b: 0 });
    for (const r of cmp || []) {
      const c = cells.get(key(r)) || { syscall: r.syscall, site: r.call_site, a: 0, calls_a: 0 };
      c.b = r.ns / nb; c.calls_b = r.calls;
      cells.set(key(r), c);
    }
    const all = [...cells.values()];
    const weight = (c) => Math.max(c.a, c.b || 0);
    const top = (list, f, n) => d3.rollups(list, (v) => d3.sum(v, weight), f).sort((p, q) => q[1] - p[1]).slice(0, n).map((p) => p[0]);
    /* the heaviest call sites, then the heaviest syscalls among their cells */
    const cols = top(all, (c) => c.site, 60), cs = new Set(cols);
    const rows = top(all.filter((c) => cs.has(c.site)), (c) => c.syscall, 40), rs = new Set(rows);
    const shown = all.filter((c) => rs.has(c.syscall) && cs.has(c.site));
    const truncated = shown.length < all.length;
    for (const c of shown) {
      if (!cmp) c.cls = "";
      else if (c.a > 0 && c.b === 0) c.cls = "only-a";
      else if (c.b > 0 && c.a === 0) c.cls = "only-b";
      else if (c.a >= 2 * c.b && c.a - c.b > 0.01 * d3.max(shown, weight)) c.cls = "heavier-a";
      else if (c.b >= 2 * c.a && c.b - c.a > 0.01 * d3.max(shown, weight)) c.cls = "heavier-b";
      else c.cls = "";
    }
    const CW = 18, LW = 150, TH = 170;
    const W = LW + cols.length * CW + 10, Hh = TH + rows.length * CW + 10;
    const svg = root.append("svg").attr("class", "dual").attr("width", W).attr("height", Hh)
      .attr("data-cells", shown.length).attr("data-truncated", truncated ? 1 : 0).attr("data-compare", cmp ? 1 : 0);
    const xs = d3.scaleBand().domain(cols).range([LW, LW + cols.length * CW]);
    const ys = d3.scaleBand().domain(rows).range([TH, TH + rows.length * CW]);
    svg.selectAll("text.rowlabel").data(rows).join("text").attr("class", "rowlabel").attr("x", LW - 4).attr("y", (r) => ys(r) + CW - 5).attr("text-anchor", "end").text((r) => r);
    svg.selectAll("text.collabel").data(cols).join("text").attr("class", "collabel")
      .attr("transform", (c) => `translate(${xs(c) + CW - 5},${TH - 4}) rotate(-60)`).text((c) => (c.length > 28 ? c.slice(0, 27) + "…" : c));
    let fill;
    if (!cmp) {
      const ext = d3.extent(shown, (c) => Math.max(c.a, 1));
      const s = d3.scaleSequentialLog(d3.interpolateYlOrRd).domain([ext[0], Math.max(ext[1], ext[0] * 10)]);
      fill = (c) => s(Math.max(c.a, 1));
      d3.select("#dual-legend").text(`Colour: total syscall time (log scale), from ${fmtMs(ext[0])} ms (light) to ${fmtMs(ext[1])} ms (dark red). ${shown.length} cells` + (truncated ? ` of ${all.length}: the 40 heaviest syscalls by the 60 heaviest call sites` : "") + ".");
    } else {
      const s = d3.scaleDiverging(d3.interpolateRdBu).domain([3, 0, -3]);
      fill = (c) => (c.b === 0 ? "#b2182b" : c.a === 0 ? "#2166ac" : s(Math.max(-3, Math.min(3, Math.log2(c.a / c.b)))));
      d3.select("#dual-legend").html(`Comparing <b>${esc(raw.name)}</b> (red: heavier here) with <b>${esc(raw.compare.name)}</b> (blue: heavier there), ` +
        `time ${perReq ? "per trace (" + H.traces + " and " + raw.compare.traces + " traces)" : "per recording"}. Black border: the cell exists in one recording only; dashed: at least twice as heavy in one. ` +
        `${shown.length} cells` + (truncated ? ` of ${all.length}` : "") + `; ${shown.filter((c) => c.cls).length} stand out.`);
    }
    svg.selectAll("rect.cell").data(shown).join("rect").attr("class", (c) => "cell " + c.cls)
      .attr("x", (c) => xs(c.site)).attr("y", (c) => ys(c.syscall)).attr("width", CW - 1).attr("height", CW - 1).attr("fill", fill)
      .on("mousemove", (ev, c) => showTip(ev, `<b>${esc(c.syscall)}</b> from <b>${esc(c.site)}</b><br>` + (cmp
        ? `here: ${c.calls_a} calls, ${fmtMs(c.a)} ms${perReq ? " per trace" : ""}<br>${esc(raw.compare.name)}: ${c.calls_b} calls, ${fmtMs(c.b)} ms${perReq ? " per trace" : ""}` +
          (c.cls ? `<br><b>${{ "only-a": "only here", "only-b": "only in " + esc(raw.compare.name), "heavier-a": "much heavier here", "heavier-b": "much heavier in " + esc(raw.compare.name) }[c.cls]}</b>` : "")
        : `${c.calls_a} calls, ${fmtMs(c.a)} ms`)))
      .on("mouseleave", hideTip);
  }

  /* ---- draw everything ---- */
  drawHealth();
  const explorer = drawExplorer();
  mark("explorer");
  drawTraceList();
  if (traces.length) drawWaterfall(traces[0]);
  else d3.select("#waterfall").remove();
  mark("traces");
  if (explorer) state.listeners.push(drawFlame);
  else drawFlame();
  drawDual();
  mark("dual");
  if (explorer) changed();
  mark("selection views");
  window.spantapReport = {
    data: raw,
    state,
    selectedIds: () => (selection() || []).map((s) => s.id),
    requests: (svc) => (requestsOf.get(svc) || []).map((s) => s.id),
    setService,
    timings,
  };
  document.body.setAttribute("data-ready", "1");
})();
