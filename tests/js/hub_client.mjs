#!/usr/bin/env node
// The official @huggingface/hub client pointed at a Hub endpoint (hubsim in
// the tests), as a small library for the conformance scripts and as a CLI for
// the shell tests that upload with it.
//
// Settings come from the environment:
//   HF_ENDPOINT   the Hub's base URL (trailing slashes are dropped; the client
//                 itself reads no environment variable, everything is passed)
//   HF_TOKEN      access token; the client insists on the "hf_" prefix
//   HF_REPO       "ns/name" (model), "datasets/ns/name" or "spaces/ns/name"
//   HF_REVISION   branch for uploads and revision for reads (default main)
//   HF_XET=0      use the client's non-Xet paths (plain LFS, plain downloads)
//   HF_TRACE=1    print each request and response status to stderr
//
// CLI (one JSON document on stdout; exit 1 with the error on stderr):
//   node hub_client.mjs create
//   node hub_client.mjs exists
//   node hub_client.mjs upload LOCAL_FILE [PATH_IN_REPO]   -> {"commit":{"oid",...}}
//   node hub_client.mjs download PATH_IN_REPO LOCAL_FILE
//   node hub_client.mjs range PATH_IN_REPO START END        (END exclusive; bytes as base64)
//   node hub_client.mjs list [DIR] [--recursive]
//   node hub_client.mjs info PATH_IN_REPO
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import * as hub from "@huggingface/hub";

export function settingsFromEnv(env = process.env) {
	const token = env.HF_TOKEN || undefined;
	return {
		hubUrl: (env.HF_ENDPOINT || "http://127.0.0.1:8080").replace(/\/+$/, ""),
		accessToken: token,
		repo: env.HF_REPO || "me/test",
		revision: env.HF_REVISION || "main",
		xet: env.HF_XET !== "0",
		trace: env.HF_TRACE === "1",
	};
}

// A fetch for the client that can print what it sends; it drops the client's
// non-standard `progressHint` init key before calling the real fetch.
function clientFetch(trace) {
	return async (input, init = {}) => {
		const { progressHint: _unused, ...rest } = init;
		const resp = await fetch(input, rest);
		if (trace) {
			const url = typeof input === "string" ? input : (input.url ?? String(input));
			process.stderr.write(`${rest.method ?? "GET"} ${url} -> ${resp.status}\n`);
		}
		return resp;
	};
}

// A client bound to one repo. Every method takes paths inside the repo.
export class HubClient {
	constructor(settings = settingsFromEnv()) {
		this.settings = settings;
		this.base = {
			hubUrl: settings.hubUrl,
			repo: settings.repo,
			fetch: clientFetch(settings.trace),
			...(settings.accessToken ? { accessToken: settings.accessToken } : {}),
		};
	}

	create() {
		return hub.createRepo({ ...this.base });
	}

	exists() {
		return hub.repoExists({ ...this.base, revision: this.settings.revision });
	}

	// One commit holding one file (Buffer, Blob or local path). The client
	// decides between a regular and an LFS/Xet upload from the Hub's
	// preupload answer. Returns {commit: {oid, url}, phases: [...]}.
	async upload(content, pathInRepo, title) {
		const blob = typeof content === "string" ? new Blob([fs.readFileSync(content)]) : content instanceof Blob ? content : new Blob([content]);
		const phases = [];
		const events = hub.commitIter({
			...this.base,
			branch: this.settings.revision,
			title: title ?? `Upload ${pathInRepo}`,
			operations: [{ operation: "addOrUpdate", path: pathInRepo, content: blob }],
			useXet: this.settings.xet,
		});
		for (;;) {
			const step = await events.next();
			if (step.done) return { commit: step.value?.commit, phases };
			if (step.value.event === "phase") phases.push(step.value.phase);
		}
	}

	// The whole file as a Buffer, or null when the Hub says the entry is missing.
	async download(pathInRepo) {
		const blob = await this.#blob(pathInRepo);
		return blob && Buffer.from(await blob.arrayBuffer());
	}

	// Bytes [start, end) through Blob.slice: a ranged reconstruction for Xet
	// files, a Range request for regular ones.
	async range(pathInRepo, start, end) {
		const blob = await this.#blob(pathInRepo);
		return blob && Buffer.from(await blob.slice(start, end).arrayBuffer());
	}

	async list(dir, recursive) {
		const entries = [];
		const opts = { ...this.base, revision: this.settings.revision, recursive: !!recursive };
		if (dir) opts.path = dir;
		for await (const e of hub.listFiles(opts)) entries.push(e);
		return entries;
	}

	// What the resolve probe says (fileDownloadInfo) and what the tree says
	// (pathsInfo with expand) about one path.
	async info(pathInRepo) {
		const rev = { ...this.base, revision: this.settings.revision };
		const download = await hub.fileDownloadInfo({ ...rev, path: pathInRepo });
		const [entry] = await hub.pathsInfo({ ...rev, paths: [pathInRepo], expand: true });
		return { download, entry };
	}

	#blob(pathInRepo) {
		return hub.downloadFile({ ...this.base, revision: this.settings.revision, path: pathInRepo, xet: this.settings.xet });
	}
}

async function main([command, ...args]) {
	const client = new HubClient();
	const print = (value) =>
		process.stdout.write(JSON.stringify(value, (_k, v) => (v instanceof Date ? v.toISOString() : v instanceof URL ? v.href : v)) + "\n");
	switch (command) {
		case "create":
			return print(await client.create());
		case "exists":
			return print({ exists: await client.exists() });
		case "upload":
			if (!args[0]) break;
			return print(await client.upload(args[0], args[1] ?? path.basename(args[0])));
		case "download": {
			if (args.length < 2) break;
			const data = await client.download(args[0]);
			if (data) fs.writeFileSync(args[1], data);
			return print(data ? { bytes: data.length } : { notFound: true });
		}
		case "range": {
			if (args.length < 3) break;
			const data = await client.range(args[0], Number(args[1]), Number(args[2]));
			return print(data ? { bytes: data.length, base64: data.toString("base64") } : { notFound: true });
		}
		case "list":
			return print(await client.list(args.find((a) => !a.startsWith("--")), args.includes("--recursive")));
		case "info":
			if (!args[0]) break;
			return print(await client.info(args[0]));
	}
	process.stderr.write("usage: node hub_client.mjs create|exists|upload|download|range|list|info ... (see the header)\n");
	process.exitCode = 2;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
	main(process.argv.slice(2)).catch((e) => {
		process.stderr.write(`hub_client: ${e?.stack ?? e}\n`);
		if (e?.data) process.stderr.write(`${JSON.stringify(e.data)}\n`);
		process.exitCode = 1;
	});
}
