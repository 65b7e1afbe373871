"""The minimal HTML page at ``/``: the runs, read from the API itself."""

from __future__ import annotations

__all__ = ["INDEX_HTML"]

INDEX_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>trainwire runs</title>
<style>
body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse}
td,th{padding:4px 10px;border-bottom:1px solid #ddd;text-align:left}
.failed,.crashed{color:#c00}.completed{color:#080}.running{color:#06c}
</style></head><body>
<h1>trainwire runs</h1><p id="note">Loading&hellip;</p>
<table><thead><tr><th>id</th><th>name</th><th>experiment</th><th>status</th>
<th>started</th><th>duration (s)</th></tr></thead><tbody id="runs"></tbody></table>
<script>
const token = new URLSearchParams(location.hash.slice(1)).get("token");
const headers = token ? {Authorization: "Bearer " + token} : {};
fetch("api/runs?limit=500", {headers}).then(r => r.json()).then(body => {
  const note = document.getElementById("note");
  if (body.error) { note.textContent = body.error; return; }
  note.textContent = body.total + " runs (JSON: /api/runs, API: /api/openapi.json)";
  const rows = document.getElementById("runs");
  for (const run of body.runs) {
    const tr = document.createElement("tr");
    const cells = [run.id, run.name, run.experiment, run.status, run.started_at || "",
                   run.duration_s == null ? "" : run.duration_s.toFixed(1)];
    for (const value of cells) {
      const td = document.createElement("td"); td.textContent = value; tr.appendChild(td);
    }
    tr.children[3].className = run.status;
    rows.appendChild(tr);
  }
});
</script></body></html>
"""
