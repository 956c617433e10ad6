#!/usr/bin/env node
// Drives the official @huggingface/hub client through a Hub endpoint's whole
// basic life cycle and checks every answer:
//   create the repo; upload, one commit each, a text file (regular git blob),
//   an empty file, and 1 B, 100 KiB and 5 MiB binary files (LFS through Xet);
//   repoExists; listFiles recursive and of one directory; per file the
//   resolve probe (fileDownloadInfo) against the tree (pathsInfo): regular or
//   Xet, the LFS oid is the SHA-256, the Xet hash in the tree equals the
//   X-Xet-Hash header and the hash of the chunks the client uploaded; the
//   whole download byte for byte; three ranged reads (byte 1, a 70 000-byte
//   window in the middle, the last 5 bytes); a missing path reads as null.
//
//   HF_ENDPOINT=URL HF_TOKEN=hf_... HF_REPO=ns/name node client_conformance.mjs
//
// Exits 0 only when every check passes. The Xet hash of each file by the
// xet-core oracle is printed beside the client's: the client's own chunker
// (@huggingface/xetchunk-wasm 0.2.0) still has the older boundary rule, so
// the two may differ on larger inputs, and the server must store what the
// client sent.
import crypto from "node:crypto";
import * as jsChunker from "@huggingface/xetchunk-wasm";
import { HubClient, settingsFromEnv } from "./hub_client.mjs";
import { chunkBlocks, loadOracle } from "./xet_oracle.mjs";

// xorshift32 bytes: s ^= s << 13; s ^= s >>> 17; s ^= s << 5; byte = s & 0xff.
function xorshift32(length, seed) {
	const out = Buffer.alloc(length);
	let s = seed >>> 0;
	for (let i = 0; i < length; i++) {
		s = (s ^ (s << 13)) >>> 0;
		s = (s ^ (s >>> 17)) >>> 0;
		s = (s ^ (s << 5)) >>> 0;
		out[i] = s & 0xff;
	}
	return out;
}

const sha256 = (data) => crypto.createHash("sha256").update(data).digest("hex");
const clientXetHash = (data) => jsChunker.hashToHex(jsChunker.fileHash(jsChunker.getChunks(data)));

let passed = 0;
let failed = 0;
function check(name, ok, detail) {
	if (ok) passed++;
	else failed++;
	console.log(`${ok ? "PASS" : "FAIL"} ${name}${detail === undefined ? "" : " " + JSON.stringify(detail)}`);
}

const FILES = [
	{ path: "README.md", data: Buffer.from("# a model card written by the official client\n"), xet: false },
	{ path: "empty.txt", data: Buffer.alloc(0), xet: false },
	{ path: "data/one.bin", data: Buffer.from([0]), xet: true }, // a NUL sample: binary, so LFS
	{ path: "data/xs_100k.bin", data: xorshift32(100 * 1024, 1), xet: true },
	{ path: "data/xs_5m.bin", data: xorshift32(5 * 1024 * 1024, 1), xet: true },
];

async function run(client, oracle) {
	const created = await client.create();
	check("createRepo", !!created?.id, created);

	for (const f of FILES) {
		const r = await client.upload(f.data, f.path);
		check(`upload ${f.path}`, /^[0-9a-f]{40}$/.test(r.commit?.oid ?? ""), { phases: r.phases });
	}
	check("repoExists after the commits", await client.exists());

	const tree = await client.list(undefined, true);
	const missing = FILES.filter((f) => !tree.some((e) => e.type === "file" && e.path === f.path && e.size === f.data.length));
	check("listFiles recursive: every file with its size", missing.length === 0, { missing: missing.map((f) => f.path) });
	const dataDir = await client.list("data", false);
	check("listFiles of data/ (not recursive)", dataDir.length === 3 && dataDir.every((e) => e.path.startsWith("data/")), {
		paths: dataDir.map((e) => e.path),
	});

	for (const f of FILES) {
		const { download, entry } = await client.info(f.path);
		if (f.xet) {
			const served = entry?.xetHash;
			const uploaded = clientXetHash(f.data);
			const byOracle = chunkBlocks(oracle, [f.data]).fileHash;
			check(`${f.path}: Xet hash in the tree == X-Xet-Hash == the client's hash`, served && served === download?.xet?.hash && served === uploaded, {
				served,
				header: download?.xet?.hash,
				uploaded,
				oracle: byOracle,
			});
			check(`${f.path}: lfs.oid is the SHA-256`, entry?.lfs?.oid === sha256(f.data));
		} else {
			check(`${f.path}: a regular file`, entry && !entry.lfs && !download?.xet && entry.size === f.data.length);
		}
		const whole = await client.download(f.path);
		check(`download ${f.path}: identical bytes`, whole !== null && whole.equals(f.data), { size: whole?.length });
		if (f.data.length > 10) {
			const third = Math.floor(f.data.length / 3);
			for (const [start, end] of [[1, 2], [third, third + 70_000], [f.data.length - 5, f.data.length]]) {
				const got = await client.range(f.path, start, end);
				const want = f.data.subarray(start, Math.min(end, f.data.length));
				check(`range [${start},${end}) of ${f.path}`, got !== null && got.equals(want), { size: got?.length });
			}
		}
	}
	check("a missing path downloads as null", (await client.download("no/such/file.bin")) === null);
}

const client = new HubClient(settingsFromEnv());
try {
	await run(client, await loadOracle());
} catch (e) {
	check("no exception", false, { error: String(e?.stack ?? e), data: e?.data });
}
console.log(`${passed}/${passed + failed} checks passed`);
process.exitCode = failed ? 1 : 0;
