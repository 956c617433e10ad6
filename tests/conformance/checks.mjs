#!/usr/bin/env node
// hubsim's own conformance checks, driven by the official @huggingface/hub
// client (pinned in tests/js) plus plain fetch:
//   datasets and spaces, nested and non-ASCII paths, a branch with "/", a PR
//   commit, a multi-file commit, a stale parent (412), the same content
//   uploaded twice (dedup: no second xorb upload, by the counters), global
//   dedup of shared chunks, multi-range data fetches (multipart/byteranges
//   in request order, 403 for ranges not issued), where tokens go (counters),
//   runtime faults, and a restart of hubsim between upload and download.
//
//   node checks.mjs HUBSIM_BIN KIT_DIR
import { spawn } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [bin, kit] = process.argv.slice(2);
const hub = await import(pathToFileURL(path.join(kit, "node_modules/@huggingface/hub/dist/index.mjs")).href);
const TOKEN = "hf_test";

const results = [];
function check(name, ok, extra) {
	results.push(!!ok);
	console.log(`${ok ? "PASS" : "FAIL"} ${name}${extra !== undefined ? " " + JSON.stringify(extra) : ""}`);
}

// --- hubsim lifecycle (only the processes started here are ever stopped)
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hubsim-checks-"));
async function startHubsim(extra = []) {
	const proc = spawn(bin, ["serve", "--data", dataDir, "--listen", "127.0.0.1:0", "--user", `me:${TOKEN}`, ...extra], {
		stdio: ["ignore", "pipe", "inherit"],
	});
	const url = await new Promise((resolve, reject) => {
		let buf = "";
		const timer = setTimeout(() => reject(new Error("hubsim did not start")), 10_000);
		proc.stdout.on("data", (d) => {
			buf += d;
			const m = /hubsim listening on (http:\/\/\S+)/.exec(buf);
			if (m) {
				clearTimeout(timer);
				resolve(m[1]);
			}
		});
		proc.on("exit", () => reject(new Error("hubsim exited")));
	});
	return {
		url,
		stop: () =>
			new Promise((resolve) => {
				proc.once("exit", resolve);
				proc.kill("SIGTERM");
			}),
	};
}

let server = await startHubsim();
let hubUrl = server.url;
const auth = { Authorization: `Bearer ${TOKEN}` };
const common = () => ({ hubUrl, accessToken: TOKEN });
const counters = async () => (await fetch(`${hubUrl}/admin/counters`)).json();
const resetCounters = () => fetch(`${hubUrl}/admin/counters`, { method: "DELETE" });
const rand = (n, seed) => {
	const out = Buffer.alloc(n);
	let s = seed >>> 0 || 1;
	for (let i = 0; i < n; i++) {
		s ^= s << 13;
		s ^= s >>> 17;
		s ^= s << 5;
		out[i] = s & 0xff;
	}
	return out;
};
async function download(repo, p, revision) {
	const blob = await hub.downloadFile({ ...common(), repo, path: p, revision });
	return blob ? Buffer.from(await blob.arrayBuffer()) : null;
}
async function upload(repo, files, opts = {}) {
	return hub.commit({
		...common(),
		repo,
		useXet: opts.useXet ?? true,
		title: opts.title ?? "upload",
		branch: opts.branch,
		isPullRequest: opts.isPullRequest,
		operations: files.map(([p, data]) => ({ operation: "addOrUpdate", path: p, content: new Blob([data]) })),
	});
}
async function totalCommits(type, id, rev = "main") {
	const r = await fetch(`${hubUrl}/api/${type}s/${id}/commits/${rev}`, { headers: auth });
	return Number(r.headers.get("x-total-count"));
}

try {
	// --- repo types, nested and non-ASCII paths
	const big = rand(3 * 1024 * 1024, 11);
	const deepPath = "deep/a/b/ü-é 文件.bin";
	for (const [type, repo] of [
		["dataset", { type: "dataset", name: "me/ds" }],
		["space", { type: "space", name: "me/sp" }],
	]) {
		await hub.createRepo({ ...common(), repo });
		await upload(repo, [
			[deepPath, big],
			["notes/read me.txt", Buffer.from("plain text\n")],
		]);
		const got = await download(repo, deepPath);
		check(`${type}: xet file at a nested non-ASCII path round-trips`, got && got.equals(big));
		const txt = await download(repo, "notes/read me.txt");
		check(`${type}: regular file round-trips`, txt && txt.toString() === "plain text\n");
		const list = [];
		for await (const e of hub.listFiles({ ...common(), repo, recursive: true })) list.push(e.path);
		check(`${type}: recursive listing has the directories`, ["deep", "deep/a", "deep/a/b", deepPath].every((p) => list.includes(p)), list);
	}

	// --- models: multi-file commit, branch with "/", PR, stale parent
	const model = { type: "model", name: "me/m" };
	await hub.createRepo({ ...common(), repo: model });
	const before = await totalCommits("model", "me/m");
	const f1 = rand(2 * 1024 * 1024, 21);
	const f2 = rand(700_000, 22);
	await upload(model, [
		["w/one.bin", f1],
		["w/two.bin", f2],
		["config.json", Buffer.from('{"a":1}\n')],
	]);
	check("multi-file commit is one commit", (await totalCommits("model", "me/m")) === before + 1);
	const info = await (await fetch(`${hubUrl}/api/models/me/m`, { headers: auth })).json();
	const mainSha = info.sha;

	let r = await fetch(`${hubUrl}/api/models/me/m/branch/feature%2Fx`, { method: "POST", headers: auth, body: "{}" });
	check("create branch feature/x", r.ok, r.status);
	await upload(model, [["only-on-branch.txt", Buffer.from("branch\n")]], { branch: "feature/x" });
	const onBranch = await download(model, "only-on-branch.txt", "feature/x");
	check("commit to and read from a branch with '/'", onBranch && onBranch.toString() === "branch\n");
	check("main does not see the branch file", (await download(model, "only-on-branch.txt")) === null);

	const pr = await upload(model, [["pr.txt", Buffer.from("from a pr\n")]], { isPullRequest: true });
	check("PR commit returns a pull request url", /\/discussions\/1$/.test(pr?.pullRequestUrl ?? ""), pr?.pullRequestUrl);
	const fromPr = await download(model, "pr.txt", "refs/pr/1");
	check("read the PR ref refs/pr/1", fromPr && fromPr.toString() === "from a pr\n");
	check("main is unchanged by the PR", (await download(model, "pr.txt")) === null);
	const refs = await (await fetch(`${hubUrl}/api/models/me/m/refs?include_prs=1`, { headers: auth })).json();
	check("refs list the PR and the branch", refs.pullRequests?.[0]?.ref === "refs/pr/1" && refs.branches.some((b) => b.name === "feature/x"));

	await upload(model, [["later.txt", Buffer.from("later\n")]]);
	const stale = [
		JSON.stringify({ key: "header", value: { summary: "stale", parentCommit: mainSha } }),
		JSON.stringify({ key: "file", value: { path: "x.txt", content: Buffer.from("x").toString("base64"), encoding: "base64" } }),
	].join("\n");
	r = await fetch(`${hubUrl}/api/models/me/m/commit/main`, {
		method: "POST",
		headers: { ...auth, "Content-Type": "application/x-ndjson" },
		body: stale,
	});
	check("stale parentCommit: 412", r.status === 412, r.status);
	check("old commits stay readable by sha", (await download(model, "w/one.bin", mainSha))?.equals(f1));

	// --- dedup: identical content again (no xorb upload), then shared chunks (global dedup)
	await resetCounters();
	await upload(model, [["copy/one-again.bin", f1]]);
	let cnt = await counters();
	check("same content twice: no second xorb upload", !cnt.cas["xorb-upload"], cnt.cas);
	check("…and the copy reads back", (await download(model, "copy/one-again.bin"))?.equals(f1));

	await resetCounters();
	const spliced = Buffer.concat([f1.subarray(0, 700_000), rand(300_000, 99), f1.subarray(1_000_000)]);
	await upload(model, [["w/spliced.bin", spliced]]);
	cnt = await counters();
	const up = cnt.cas["xorb-upload"]?.bytes_in ?? 0;
	check("shared chunks: the global dedup query answered", (cnt.cas.dedup?.requests ?? 0) >= 1 && (cnt.cas.dedup?.errors ?? 0) === 0, cnt.cas.dedup);
	check("shared chunks: xorb upload far smaller than the file", up > 0 && up < spliced.length / 2, { uploaded: up, size: spliced.length });

	// --- multi-range: the spliced file uses two separate ranges of f1's xorb
	await resetCounters();
	const got = await download(model, "w/spliced.bin");
	check("download of a file needing a multi-range fetch", got?.equals(spliced));
	const tokenResp = await (await fetch(`${hubUrl}/api/models/me/m/xet-read-token/main`, { headers: auth })).json();
	const head = await fetch(`${hubUrl}/me/m/resolve/main/w/spliced.bin`, { headers: { ...auth, Accept: "application/vnd.xet-fileinfo+json" } });
	const xetHash = head.headers.get("x-xet-hash");
	const recon = await (
		await fetch(`${tokenResp.casUrl}/v2/reconstructions/${xetHash}`, { headers: { Authorization: `Bearer ${tokenResp.accessToken}` } })
	).json();
	const multi = Object.values(recon.xorbs).flat().find((e) => e.ranges.length > 1);
	check("v2 reconstruction has an entry with several ranges", !!multi, recon.xorbs);
	if (multi) {
		const [a, b] = multi.ranges;
		const reqRange = `bytes=${b.bytes.start}-${b.bytes.end},${a.bytes.start}-${a.bytes.end}`;
		const mr = await fetch(multi.url, { headers: { Range: reqRange } });
		const ct = mr.headers.get("content-type") ?? "";
		const body = Buffer.from(await mr.arrayBuffer());
		const parts = [...body.toString("latin1").matchAll(/Content-Range: bytes (\d+)-(\d+)\/\d+/g)].map((m) => [+m[1], +m[2]]);
		check("multi-range GET: 206 multipart/byteranges", mr.status === 206 && ct.startsWith("multipart/byteranges"), { status: mr.status, ct });
		check("multi-range parts follow request order", parts.length === 2 && parts[0][0] === b.bytes.start && parts[1][0] === a.bytes.start, parts);
		const single = await fetch(multi.url, { headers: { Range: `bytes=${a.bytes.start}-${a.bytes.end}` } });
		check("one issued range alone: 206", single.status === 206 && (await single.arrayBuffer()).byteLength === a.bytes.end - a.bytes.start + 1);
		const other = await fetch(multi.url, { headers: { Range: `bytes=${a.bytes.start}-${a.bytes.end - 1}` } });
		check("a range not issued: 403", other.status === 403, other.status);
		const none = await fetch(multi.url);
		check("no Range at all: 403", none.status === 403, none.status);
	}
	cnt = await counters();
	check("no Authorization ever reaches the data origin", Object.values(cnt.data).every((c) => c.auth === 0) && Object.keys(cnt.data).length > 0, cnt.data);
	check("every CAS request carried a token", Object.values(cnt.cas).every((c) => c.auth === c.requests), cnt.cas);

	// --- runtime faults through the admin route
	r = await fetch(`${hubUrl}/admin/faults`, { method: "POST", body: "error=1,only=cas,seed=3" });
	check("set faults at runtime", r.ok);
	const failing = await fetch(`${tokenResp.casUrl}/v2/reconstructions/${xetHash}`, { headers: { Authorization: `Bearer ${tokenResp.accessToken}` } });
	check("injected CAS error", [500, 503, 429].includes(failing.status), failing.status);
	await fetch(`${hubUrl}/admin/faults`, { method: "POST", body: "" });
	const healed = await fetch(`${tokenResp.casUrl}/v2/reconstructions/${xetHash}`, { headers: { Authorization: `Bearer ${tokenResp.accessToken}` } });
	check("faults cleared", healed.status === 200, healed.status);

	// --- classic LFS (no xet offered): basic PUT to a self-authorising URL, read back both ways
	await resetCounters();
	const classic = rand(1_500_000, 55);
	await upload(model, [["classic/lfs.bin", classic]], { useXet: false });
	cnt = await counters();
	check("classic LFS upload used the basic PUT", (cnt.hub["lfs-put"]?.requests ?? 0) === 1 && (cnt.hub["lfs-put"]?.auth ?? 1) === 0, cnt.hub["lfs-put"]);
	const viaPlain = await hub.downloadFile({ ...common(), repo: model, path: "classic/lfs.bin", xet: false });
	check("classic LFS file: plain download (redirect to the data origin)", Buffer.from(await viaPlain.arrayBuffer()).equals(classic));
	check("classic LFS file: xet download", (await download(model, "classic/lfs.bin"))?.equals(classic));

	// --- pagination: 1203 files (pages of 1000, or 50 with expand) followed through Link
	const manyDir = fs.mkdtempSync(path.join(os.tmpdir(), "hubsim-many-"));
	fs.mkdirSync(path.join(manyDir, "d"));
	for (let i = 0; i < 1203; i++) fs.writeFileSync(path.join(manyDir, "d", `f${i}.txt`), `${i}\n`);
	const imp = spawn(bin, ["import", "--data", dataDir, "--user", "me", "me/many", manyDir], { stdio: "ignore" });
	check("hubsim import of 1203 files", (await new Promise((res) => imp.on("exit", res))) === 0);
	fs.rmSync(manyDir, { recursive: true, force: true });
	const manyRepo = { type: "model", name: "me/many" };
	for (const expand of [false, true]) {
		const seen = new Set();
		for await (const e of hub.listFiles({ ...common(), repo: manyRepo, path: "d", expand })) seen.add(e.path);
		check(`listFiles follows Link pages (expand=${expand})`, seen.size === 1203, seen.size);
	}
	const firstPage = await fetch(`${hubUrl}/api/models/me/many/tree/main/d`, { headers: auth });
	const link = firstPage.headers.get("link") ?? "";
	check("tree Link is absolute with rel=\"next\"", /^<http:\/\/[^>]+>; rel="next"$/.test(link) && (await firstPage.json()).length === 1000, link);

	// --- restart between upload and download
	await server.stop();
	server = await startHubsim();
	hubUrl = server.url;
	check("after restart: xet file", (await download(model, "w/two.bin"))?.equals(f2));
	check("after restart: branch file", (await download(model, "only-on-branch.txt", "feature/x"))?.toString() === "branch\n");
	check("after restart: dataset file", (await download({ type: "dataset", name: "me/ds" }, deepPath))?.equals(big));
	check("after restart: old commit", (await download(model, "w/one.bin", mainSha))?.equals(f1));
} catch (e) {
	check("no exception", false, String(e?.stack ?? e));
} finally {
	await server.stop();
	fs.rmSync(dataDir, { recursive: true, force: true });
	const failed = results.filter((x) => !x).length;
	console.log(`\n${results.length - failed}/${results.length} checks passed`);
	process.exitCode = failed ? 1 : 0;
}
