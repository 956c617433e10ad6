#!/usr/bin/env node
// Uploads local files in ONE commit with the official @huggingface/hub JS
// client (commitIter, Xet enabled), for scripts/bench-upload.sh. Files are
// passed as file:// URLs so the client streams them instead of holding them.
//   KIT=<dir with node_modules> HF_ENDPOINT=… HF_TOKEN=… HF_REPO=ns/name \
//     node js_upload.mjs LOCAL_PATH [LOCAL_PATH...]      (a folder: all its files)
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const kit = process.env.KIT;
const hub = await import(pathToFileURL(path.join(kit, "node_modules/@huggingface/hub/dist/index.mjs")));

function walk(root, rel = "") {
  const out = [];
  for (const e of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...walk(root, r));
    else if (e.isFile()) out.push(r);
  }
  return out;
}

const operations = [];
for (const p of process.argv.slice(2)) {
  if (fs.statSync(p).isDirectory()) {
    for (const r of walk(p)) {
      operations.push({ operation: "addOrUpdate", path: r, content: pathToFileURL(path.join(p, r)) });
    }
  } else {
    operations.push({ operation: "addOrUpdate", path: path.basename(p), content: pathToFileURL(p) });
  }
}
const it = hub.commitIter({
  repo: process.env.HF_REPO,
  accessToken: process.env.HF_TOKEN,
  hubUrl: process.env.HF_ENDPOINT,
  branch: "main",
  title: `bench upload of ${operations.length} file(s)`,
  operations,
  useXet: true,
});
let r;
while (!(r = await it.next()).done) {}
console.log(JSON.stringify({ commit: r.value?.commit?.oid ?? null, files: operations.length }));
