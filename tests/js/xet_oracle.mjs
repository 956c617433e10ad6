#!/usr/bin/env node
// The xet-core chunker and hasher as an oracle for hubfs's own: the
// @huggingface/hub package ships xet-core's `hf_xet_thin_wasm` (compiled
// Rust, the reference implementation) as a test-only module under
// src/vendor/xet-chunk/. This script loads that WASM directly (its bytes are
// base64 in a .ts file, so they are decoded here and checked against the
// SHA-256 the package records) and runs it on files.
//
//   node xet_oracle.mjs FILE...
//       one JSON object per line and per file, in argument order:
//       {"path","size","sha256","file_hash","chunks":[{"offset","length","hash"}]}
//       (the same keys and order as `hubfs xet hash --json`)
//   node xet_oracle.mjs --check-vectors VECTORS_JSON
//       recomputes every chunking entry of the project's vector file
//       (tests/data/xet-vectors.json) with the oracle; exits 1 on any difference
//
// Run it from a directory whose node_modules has @huggingface/hub (the copy
// that scripts/setup-conformance.sh prepares), or set HUBFS_JS_MODULES to
// such a node_modules directory.
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const TARGET_CHUNK_SIZE = 64 * 1024;
const READ_BLOCK = 4 * 1024 * 1024;

function modulesDir() {
	const candidates = [process.env.HUBFS_JS_MODULES, path.join(HERE, "node_modules"), path.join(process.cwd(), "node_modules")];
	for (const c of candidates) {
		if (c && fs.existsSync(path.join(c, "@huggingface/hub/package.json"))) return c;
	}
	throw new Error("@huggingface/hub is not installed next to xet_oracle.mjs (run scripts/setup-conformance.sh)");
}

// Loads the WASM once; returns the wasm-bindgen module (Chunker, compute_*).
export async function loadOracle() {
	const dir = path.join(modulesDir(), "@huggingface/hub/src/vendor/xet-chunk");
	const source = fs.readFileSync(path.join(dir, "chunker_wasm_bg.wasm.base64.ts"), "utf8");
	const want = /XET_CORE_WASM_SHA256\s*=\s*"([0-9a-f]{64})"/.exec(source)?.[1];
	const commit = /XET_CORE_COMMIT\s*=\s*"([0-9a-f]{40})"/.exec(source)?.[1];
	const b64 = /`([A-Za-z0-9+/=\s]+)`/.exec(source)?.[1];
	if (!want || !b64) throw new Error("unexpected layout of chunker_wasm_bg.wasm.base64.ts");
	const bytes = Buffer.from(b64.replace(/\s+/g, ""), "base64");
	const got = crypto.createHash("sha256").update(bytes).digest("hex");
	if (got !== want) throw new Error(`xet-core WASM checksum ${got}, the package records ${want}`);
	const glue = await import(pathToFileURL(path.join(dir, "chunker_wasm_bg.js")).href);
	glue.initSync({ module: bytes });
	return { glue, commit };
}

// Chunks an iterable of byte blocks (fed in any sizes: the oracle's boundaries
// do not depend on them). Returns [{offset, length, hash}] and the file hash.
export function chunkBlocks(oracle, blocks) {
	const chunker = new oracle.glue.Chunker(TARGET_CHUNK_SIZE);
	const raw = [];
	try {
		for (const b of blocks) if (b.length) raw.push(...chunker.add_data(b));
		raw.push(...chunker.finish());
	} finally {
		chunker.free();
	}
	let offset = 0;
	const chunks = raw.map((c) => {
		const out = { offset, length: c.length, hash: c.hash };
		offset += c.length;
		return out;
	});
	const fileHash = oracle.glue.compute_file_hash(raw.map((c) => ({ hash: c.hash, length: c.length })));
	return { chunks, fileHash };
}

function* fileBlocks(file, sha) {
	const fd = fs.openSync(file, "r");
	try {
		const buf = Buffer.alloc(READ_BLOCK);
		for (;;) {
			const n = fs.readSync(fd, buf, 0, buf.length, null);
			if (n === 0) return;
			const block = Uint8Array.prototype.slice.call(buf, 0, n);
			sha.update(block);
			yield block;
		}
	} finally {
		fs.closeSync(fd);
	}
}

export function hashFile(oracle, file) {
	const sha = crypto.createHash("sha256");
	const { chunks, fileHash } = chunkBlocks(oracle, fileBlocks(file, sha));
	const size = chunks.length ? chunks[chunks.length - 1].offset + chunks[chunks.length - 1].length : 0;
	return { path: file, size, sha256: sha.digest("hex"), file_hash: fileHash, chunks };
}

// The input generators the vector file names (its "input_generator" section).
export function splitMix64Bytes(seed, length) {
	const out = new Uint8Array(length);
	const mask = (1n << 64n) - 1n;
	let state = BigInt(seed) & mask;
	for (let i = 0; i < length; ) {
		state = (state + 0x9e3779b97f4a7c15n) & mask;
		let z = state;
		z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & mask;
		z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & mask;
		z ^= z >> 31n;
		for (let b = 0; b < 8 && i < length; b++, i++) out[i] = Number((z >> BigInt(8 * b)) & 0xffn);
	}
	return out;
}

function vectorInput(input) {
	if (input.kind === "splitmix64") return splitMix64Bytes(input.seed, input.length);
	if (input.kind === "const") return new Uint8Array(input.length).fill(input.value);
	throw new Error(`unknown input kind ${input.kind}`);
}

const boundariesOf = (chunks) => chunks.map((c) => c.offset + c.length);
const sameList = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

// Recomputes the vector file's chunking facts; returns the list of differences.
export function checkVectors(oracle, vectors) {
	const problems = [];
	let checked = 0;
	const expect = (name, ok, detail) => {
		checked++;
		if (!ok) problems.push(`${name}: ${detail}`);
	};
	// Feeds the data in uneven blocks, so the check also covers streaming.
	const blocksOf = (data) => {
		const out = [];
		for (let at = 0, step = 1000; at < data.length; at += step, step = step * 3 + 7) out.push(data.subarray(at, at + step));
		return out;
	};
	for (const v of vectors.chunking_and_hashing ?? []) {
		const data = vectorInput(v.input);
		const sha = crypto.createHash("sha256").update(data).digest("hex");
		expect(`${v.name} input`, sha === v.input_sha256, `input sha256 ${sha}, vector says ${v.input_sha256}`);
		const { chunks, fileHash } = chunkBlocks(oracle, blocksOf(data));
		expect(`${v.name} boundaries`, sameList(boundariesOf(chunks), v.boundaries), "chunk boundaries differ");
		expect(`${v.name} chunk hashes`, sameList(chunks.map((c) => c.hash), v.chunks.map((c) => c.hash)), "chunk hashes differ");
		expect(`${v.name} file hash`, fileHash === v.file_hash, `oracle ${fileHash}, vector ${v.file_hash}`);
	}
	const official = vectors.official_xet_core_tests ?? {};
	const seed0 = official.chunk_boundaries_splitmix_seed0_1000000;
	if (seed0) {
		const { chunks } = chunkBlocks(oracle, [splitMix64Bytes(0, 1_000_000)]);
		expect("xet-core splitmix seed 0", sameList(boundariesOf(chunks), seed0.boundaries), "boundaries differ");
	}
	const c59 = official.chunk_boundaries_const59_1000000;
	if (c59) {
		const { chunks } = chunkBlocks(oracle, [new Uint8Array(1_000_000).fill(59)]);
		expect("xet-core const 59", sameList(boundariesOf(chunks), c59.boundaries), "boundaries differ");
	}
	const edge = vectors.boundary_edge_cases;
	if (edge) {
		const window = Buffer.from(edge.window_hex, "hex");
		for (const c of edge.cases) {
			const data = splitMix64Bytes(77, 300_000);
			data.set(window, c.window_ends_at - window.length);
			const { chunks } = chunkBlocks(oracle, [data]);
			expect(`edge case window ending at ${c.window_ends_at}`, sameList(boundariesOf(chunks), c.boundaries), "boundaries differ");
		}
	}
	return { checked, problems };
}

async function main(args) {
	if (args.length === 0 || args[0] === "--help") {
		console.error("usage: node xet_oracle.mjs FILE... | --check-vectors VECTORS_JSON");
		return 2;
	}
	const oracle = await loadOracle();
	if (args[0] === "--check-vectors") {
		const vectors = JSON.parse(fs.readFileSync(args[1], "utf8"));
		const { checked, problems } = checkVectors(oracle, vectors);
		for (const p of problems) console.log(`FAIL ${p}`);
		console.log(`${checked - problems.length}/${checked} vector checks agree with xet-core ${oracle.commit}`);
		return problems.length ? 1 : 0;
	}
	for (const file of args) process.stdout.write(JSON.stringify(hashFile(oracle, file)) + "\n");
	return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
	main(process.argv.slice(2)).then(
		(rc) => (process.exitCode = rc),
		(e) => {
			console.error(`xet_oracle: ${e?.stack ?? e}`);
			process.exitCode = 1;
		},
	);
}
