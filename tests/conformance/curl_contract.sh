#!/usr/bin/env bash
# curl contract tests against a running hubsim (HUBSIM_URL, HUBSIM_DATA,
# HUBSIM_BIN from with_hubsim.sh): the request shapes the Python client sends
# (HEAD metadata, form paths-info, the "None" write-token revision,
# %2F-encoded revisions and paths), masking of private repos, ranges,
# hostile CAS uploads (400, nothing stored), and the Hub's commit refusals
# (inline content that preupload would send to LFS, LFS objects of other
# repos, empty commits). Users: me:hf_test, eve:hf_eve.
set -uo pipefail
H=$HUBSIM_URL
ME=(-H 'Authorization: Bearer hf_test')
EVE=(-H 'Authorization: Bearer hf_eve')
fails=0
total=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

check() {  # check NAME CONDITION-RESULT(0/1) [detail]
  total=$((total + 1))
  if [[ $2 == 0 ]]; then
    echo "PASS $1"
  else
    fails=$((fails + 1))
    echo "FAIL $1 ${3:-}"
  fi
}
# req OUT_PREFIX curl-args... : writes $OUT.h (headers) and $OUT.b (body), echoes status
req() {
  local out=$1
  shift
  curl -s -o "$tmp/$out.b" -D "$tmp/$out.h" -w '%{http_code}' "$@"
}
hdr() { grep -i "^$2:" "$tmp/$1.h" | head -1 | cut -d' ' -f2- | tr -d '\r'; }

# --- fixtures: a repo with regular files (commit API) and an LFS file (import)
st=$(req c1 -XPOST "$H/api/repos/create" "${ME[@]}" -d '{"name":"py","organization":"me"}')
check "create repo" $([[ $st == 200 ]]; echo $?) "$st"
nd="$tmp/c.ndjson"
{
  echo '{"key":"header","value":{"summary":"fixtures"}}'
  echo '{"key":"file","value":{"path":"a.txt","content":"aGVsbG8gd29ybGQK","encoding":"base64"}}'
  echo '{"key":"file","value":{"path":"dir/sub/file.txt","content":"bmVzdGVk","encoding":"base64"}}'
  echo '{"key":"file","value":{"path":"dir/ü space#.txt","content":"dW5pY29kZQ==","encoding":"base64"}}'
} >"$nd"
st=$(req c2 -XPOST "$H/api/models/me/py/commit/main" "${ME[@]}" -H 'Content-Type: application/x-ndjson' --data-binary @"$nd")
check "ndjson commit" $([[ $st == 200 ]]; echo $?) "$st $(cat "$tmp/c2.b")"
mkdir -p "$tmp/big/w"
head -c 300000 /dev/urandom >"$tmp/big/w/model.bin"
"$HUBSIM_BIN" import --data "$HUBSIM_DATA" --user me me/lfs "$tmp/big" >/dev/null
check "import creates a repo with an LFS file" $?

# --- Python HEAD metadata of a regular file
st=$(req h1 -I "$H/me/py/resolve/main/a.txt" "${ME[@]}" -H 'Accept-Encoding: identity')
check "HEAD regular: 200" $([[ $st == 200 ]]; echo $?) "$st"
check "HEAD regular: ETag is the git blob id" \
  $([[ $(hdr h1 ETag) == "\"$(printf 'blob 12\0hello world\n' | sha1sum | cut -d' ' -f1)\"" ]]; echo $?) "$(hdr h1 ETag)"
check "HEAD regular: Content-Length" $([[ $(hdr h1 Content-Length) == 12 ]]; echo $?)
check "HEAD regular: X-Repo-Commit" $([[ $(hdr h1 X-Repo-Commit) =~ ^[0-9a-f]{40}$ ]]; echo $?)

# --- Python HEAD metadata of an LFS/Xet file: 302 + linked headers, no redirect followed
st=$(req h2 -I "$H/me/lfs/resolve/main/w/model.bin" "${ME[@]}" -H 'Accept-Encoding: identity')
sha=$(sha256sum "$tmp/big/w/model.bin" | cut -d' ' -f1)
check "HEAD xet: 302" $([[ $st == 302 ]]; echo $?) "$st"
check "HEAD xet: X-Linked-Size" $([[ $(hdr h2 X-Linked-Size) == 300000 ]]; echo $?)
check "HEAD xet: X-Linked-Etag is the sha256" $([[ $(hdr h2 X-Linked-Etag) == "\"$sha\"" ]]; echo $?)
check "HEAD xet: X-Xet-Hash" $([[ $(hdr h2 X-Xet-Hash) =~ ^[0-9a-f]{64}$ ]]; echo $?)
check "HEAD xet: Link xet-auth + reconstruction" \
  $([[ $(hdr h2 Link) == *'>; rel="xet-auth"'* && $(hdr h2 Link) == *'rel="xet-reconstruction-info"'* ]]; echo $?)
loc=$(hdr h2 Location)
check "HEAD xet: Location on another origin" $([[ $loc == http://* && $loc != "$H"* ]]; echo $?) "$loc"
# The GET that follows goes to Location without Authorization, with resume ranges.
curl -s -o "$tmp/dl.bin" "$loc"
check "GET Location (no auth) = file bytes" $(cmp -s "$tmp/dl.bin" "$tmp/big/w/model.bin"; echo $?)
st=$(req r1 "$loc" -H 'Range: bytes=299990-')
check "GET Location resume range 206" $([[ $st == 206 && $(stat -c %s "$tmp/r1.b") == 10 ]]; echo $?) "$st"
st=$(req r2 "$loc" -H 'Range: bytes=300000-')
check "GET Location past end 416" $([[ $st == 416 ]]; echo $?) "$st"
st=$(req r3 "${loc%s=*}s=00000000000000000000000000000000")
check "GET Location with a bad signature 403" $([[ $st == 403 ]]; echo $?) "$st"

# --- form paths-info (Python): order kept, missing paths omitted
st=$(req p1 -XPOST "$H/api/models/me/py/paths-info/main" "${ME[@]}" \
  --data-urlencode 'paths=dir' --data-urlencode 'paths=missing.txt' --data-urlencode 'paths=a.txt' \
  --data-urlencode 'expand=false')
order=$(node -e 'const a=JSON.parse(require("fs").readFileSync(process.argv[1]));console.log(a.map(e=>e.type+":"+e.path).join(","))' "$tmp/p1.b")
check "form paths-info order and omission" $([[ $st == 200 && $order == "directory:dir,file:a.txt" ]]; echo $?) "$st $order"

# --- %2F-encoded revisions and paths
st=$(req b1 -XPOST "$H/api/models/me/py/branch/feature%2Fx" "${ME[@]}" -d '{}')
check "create branch feature/x" $([[ $st == 200 ]]; echo $?) "$st"
st=$(req t1 "$H/api/models/me/py/tree/feature%2Fx/dir%2Fsub" "${ME[@]}")
check "tree with %2F revision and path" $([[ $st == 200 && $(cat "$tmp/t1.b") == *'"dir/sub/file.txt"'* ]]; echo $?) "$st"
st=$(req t2 "$H/me/py/resolve/feature%2Fx/dir%2Fsub%2Ffile.txt" "${ME[@]}")
check "resolve with %2F path" $([[ $st == 200 && $(cat "$tmp/t2.b") == nested ]]; echo $?) "$st"
st=$(req t3 "$H/me/py/resolve/main/dir/%C3%BC%20space%23.txt")
check "resolve a non-ASCII path with space and #" $([[ $st == 200 && $(cat "$tmp/t3.b") == unicode ]]; echo $?) "$st"
st=$(req t4 "$H/api/models/me/py/revision/feature%2Fx" "${ME[@]}")
check "revision endpoint with %2F" $([[ $st == 200 ]]; echo $?) "$st"
st=$(req t5 "$H/me/py/resolve/nope/a.txt")
check "unknown revision: 404 RevisionNotFound" $([[ $st == 404 && $(hdr t5 X-Error-Code) == RevisionNotFound ]]; echo $?) "$st"

# --- write token for a PR with the literal revision None
st=$(req w1 "$H/api/models/me/py/xet-write-token/None?create_pr=1" "${ME[@]}")
check "xet-write-token/None?create_pr=1" $([[ $st == 200 && $(hdr w1 X-Xet-Access-Token) == xet_* ]]; echo $?) "$st"
st=$(req w2 "$H/api/models/me/py/xet-write-token/main")
check "write token needs a Hub token (401)" $([[ $st == 401 ]]; echo $?) "$st"
st=$(req w3 "$H/api/models/me/py/xet-read-token/main")
check "anonymous read token on a public repo" $([[ $st == 200 ]]; echo $?) "$st"
rtok=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).accessToken)' "$tmp/w3.b")
cas=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).casUrl)' "$tmp/w3.b")
wtok=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).accessToken)' "$tmp/w1.b")

# --- private repos are masked
req x1 -XPOST "$H/api/repos/create" "${ME[@]}" -d '{"name":"secret","organization":"me","private":true}' >/dev/null
st=$(req x2 "$H/api/models/me/secret")
check "private repo, anonymous: 401 RepoNotFound" $([[ $st == 401 && $(hdr x2 X-Error-Code) == RepoNotFound ]]; echo $?) "$st"
st=$(req x3 "$H/api/models/me/secret" "${EVE[@]}")
check "private repo, other user: 404 RepoNotFound" $([[ $st == 404 && $(hdr x3 X-Error-Code) == RepoNotFound ]]; echo $?) "$st"
st=$(req x4 "$H/api/models/me/nonexistent" "${EVE[@]}")
check "missing repo looks the same: 404" $([[ $st == 404 && $(hdr x4 X-Error-Code) == RepoNotFound ]]; echo $?) "$st"
st=$(req x5 "$H/api/models/me/secret" "${ME[@]}")
check "private repo, owner: 200" $([[ $st == 200 ]]; echo $?) "$st"
st=$(req x6 "$H/api/models/me/py" -H 'Authorization: Bearer hf_wrong')
check "bad token: 401" $([[ $st == 401 ]]; echo $?) "$st"

# --- ranges on regular files
st=$(req g1 "$H/me/py/resolve/main/a.txt" -H 'Range: bytes=-3')
check "suffix range" $([[ $st == 206 && $(hdr g1 Content-Range) == 'bytes 9-11/12' && $(stat -c %s "$tmp/g1.b") == 3 ]]; echo $?) "$st"
st=$(req g2 "$H/me/py/resolve/main/a.txt" -H 'Range: bytes=12-')
check "range past end: 416 with bytes */12" $([[ $st == 416 && $(hdr g2 Content-Range) == 'bytes */12' ]]; echo $?) "$st"
st=$(req g3 "$H/me/py/resolve/main/a.txt" -H 'Range: bytes=zz')
check "malformed range: 4xx, no crash" $([[ $st == 416 || $st == 400 ]]; echo $?) "$st"

# --- hostile CAS uploads: 400 and nothing stored
h64=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
head -c 1000 /dev/urandom >"$tmp/garbage"
st=$(req u1 -XPOST "$cas/v1/xorbs/default/$h64" -H "Authorization: Bearer $wtok" --data-binary @"$tmp/garbage")
check "garbage xorb: 400" $([[ $st == 400 ]]; echo $?) "$st"
# A well-formed one-chunk xorb (scheme 0) posted under the wrong hash.
printf '\x00\x05\x00\x00\x00\x05\x00\x00hello' >"$tmp/xorb"
st=$(req u2 -XPOST "$cas/v1/xorbs/default/$h64" -H "Authorization: Bearer $wtok" --data-binary @"$tmp/xorb")
check "xorb under the wrong hash: 400" $([[ $st == 400 ]]; echo $?) "$st"
st=$(req u3 -I "$cas/v1/xorbs/default/$h64" -H "Authorization: Bearer $wtok")
check "nothing stored for it" $([[ $st == 404 ]]; echo $?) "$st"
st=$(req u4 -XPOST "$cas/v1/xorbs/default/$h64" -H "Authorization: Bearer $rtok" --data-binary @"$tmp/xorb")
check "read token cannot upload (403)" $([[ $st == 403 ]]; echo $?) "$st"
st=$(req u5 -XPOST "$cas/v1/xorbs/default/$h64" --data-binary @"$tmp/xorb")
check "no token (401)" $([[ $st == 401 ]]; echo $?) "$st"
st=$(req u6 -XPOST "$cas/v1/shards" -H "Authorization: Bearer $wtok" --data-binary @"$tmp/garbage")
check "garbage shard: 400" $([[ $st == 400 ]]; echo $?) "$st"
st=$(req u7 "$cas/v1/reconstructions/$h64" -H "Authorization: Bearer $rtok")
check "unknown file reconstruction: 404" $([[ $st == 404 ]]; echo $?) "$st"

# --- faults and expiry, changed at runtime through the admin route
# A 3 s lifetime leaves room for a loaded machine between issuing and first use.
curl -s -XPOST "$H/admin/faults" -d 'token_ttl=3' >/dev/null
req k1 "$H/api/models/me/lfs/xet-read-token/main" >/dev/null
short=$(sed -n 's/.*"accessToken" *: *"\([^"]*\)".*/\1/p' "$tmp/k1.b")
xh=$(hdr h2 X-Xet-Hash)
st=$(req k2 "$cas/v1/reconstructions/$xh" -H "Authorization: Bearer $short")
check "fresh short-lived token works" $([[ $st == 200 ]]; echo $?) "$st"
sleep 4.1
st=$(req k3 "$cas/v1/reconstructions/$xh" -H "Authorization: Bearer $short")
check "expired token: 401" $([[ $st == 401 ]]; echo $?) "$st"
curl -s -XPOST "$H/admin/faults" -d 'expire=1,only=data' >/dev/null
st=$(req k4 "$loc" -H 'Range: bytes=0-9')
check "fault expire: data URL 403" $([[ $st == 403 ]]; echo $?) "$st"
curl -s -XPOST "$H/admin/faults" -d 'truncate=1,only=data' >/dev/null
curl -s -o "$tmp/trunc.bin" "$loc"
got=$(stat -c %s "$tmp/trunc.bin")
check "fault truncate: short body" $([[ $got -lt 300000 ]]; echo $?) "$got"
curl -s -XPOST "$H/admin/faults" -d 'error=1,only=hub,seed=5' >/dev/null
st=$(req k5 "$H/api/models/me/py")
check "fault error: 5xx/429 on the hub" $([[ $st == 500 || $st == 503 || $st == 429 ]]; echo $?) "$st"
curl -s -XPOST "$H/admin/faults" -d '' >/dev/null
cnt=$(curl -s "$H/admin/counters")
check "counters record injected faults" $([[ $cnt == *'"truncate":1'* && $cnt == *'"expire":1'* ]]; echo $?)
st=$(req k6 "$loc" -H 'Range: bytes=0-9')
check "faults cleared: data URL works again" $([[ $st == 206 ]]; echo $?) "$st"

# --- commits as strict as the Hub's: inline content obeys the preupload rule,
# LFS objects belong to repos, no empty commits
commit() {  # commit OUT REPO NDJSON-LINES...: POSTs a header line plus the lines
  local out=$1 repo=$2
  shift 2
  { echo '{"key":"header","value":{"summary":"strict"}}'; printf '%s\n' "$@"; } >"$tmp/$out.nd"
  req "$out" -XPOST "$H/api/models/$repo/commit/main" "${ME[@]}" \
    -H 'Content-Type: application/x-ndjson' --data-binary @"$tmp/$out.nd"
}
b64() { base64 -w0; }
st=$(commit s1 me/py)
check "commit without operations: 400" $([[ $st == 400 ]]; echo $?) "$st"
line=$(printf '{"key":"file","value":{"path":"big.txt","content":"%s","encoding":"base64"}}' \
  "$(head -c $((10 << 20)) /dev/zero | tr '\0' 'a' | b64)")
st=$(commit s2 me/py "$line")
check "inline file of 10 MiB: 400" $([[ $st == 400 ]]; echo $?) "$st"
line=$(printf '{"key":"file","value":{"path":"almost.txt","content":"%s","encoding":"base64"}}' \
  "$(head -c $((10 << 20) - 1) /dev/zero | tr '\0' 'a' | b64)")
st=$(commit s3 me/py "$line")
check "inline text file of 10 MiB - 1: 200" $([[ $st == 200 ]]; echo $?) "$st"
st=$(commit s4 me/py "$(printf '{"key":"file","value":{"path":"nul.txt","content":"%s"}}' "$(printf 'ab\0cd' | b64)")")
check "inline file with a NUL in its first 512 bytes: 400" $([[ $st == 400 ]]; echo $?) "$st"
st=$(commit s5 me/py "$(printf '{"key":"file","value":{"path":"w/x.bin","content":"%s"}}' "$(echo text | b64)")")
check "inline file matching a .gitattributes LFS pattern: 400" $([[ $st == 400 ]]; echo $?) "$st"
st=$(commit s6 me/py '{"key":"file","value":{"path":"w/empty.bin","content":""}}')
check "inline empty file (always regular): 200" $([[ $st == 200 ]]; echo $?) "$st"
# $sha (w/model.bin) was imported into me/lfs only.
batch() {  # batch OUT REPO TRANSFERS-JSON
  req "$1" -XPOST "$H/$2.git/info/lfs/objects/batch" "${ME[@]}" \
    -H 'Content-Type: application/vnd.git-lfs+json' -H 'Accept: application/vnd.git-lfs+json' \
    -d "{\"operation\":\"upload\",\"transfers\":$3,\"objects\":[{\"oid\":\"$sha\",\"size\":300000}],\"ref\":{\"name\":\"main\"}}"
}
st=$(batch b1 me/lfs '["basic","xet"]')
check "LFS batch, object of this repo: already stored (no actions)" \
  $([[ $st == 200 && $(cat "$tmp/b1.b") != *actions* ]]; echo $?) "$st $(cat "$tmp/b1.b")"
st=$(batch b2 me/py '["basic","xet"]')
check "LFS batch, object of another repo only: upload actions" \
  $([[ $st == 200 && $(cat "$tmp/b2.b") == *'"upload"'* ]]; echo $?) "$st $(cat "$tmp/b2.b")"
lfsline='{"key":"lfsFile","value":{"path":"borrowed.bin","algo":"sha256","oid":"'$sha'"}}'
st=$(commit s7 me/py "$lfsline")
check "lfsFile by oid of another repo's object: refused" $([[ $st == 422 ]]; echo $?) "$st $(cat "$tmp/s7.b")"
st=$(commit s8 me/lfs "${lfsline/borrowed/copy}")
check "lfsFile by oid of this repo's object (a copy): 200" $([[ $st == 200 ]]; echo $?) "$st $(cat "$tmp/s8.b")"
# Uploading it for me/py (classic LFS PUT to the batch's href) makes it me/py's.
st=$(batch b3 me/py '["basic"]')
href=$(sed -n 's/.*"href" *: *"\([^"]*\)".*/\1/p' "$tmp/b3.b")
st=$(req b4 -XPUT "$href" -H "Content-Type: application/octet-stream" --data-binary @"$tmp/big/w/model.bin")
check "classic LFS PUT for me/py" $([[ $st == 200 ]]; echo $?) "$st $(cat "$tmp/b4.b")"
st=$(commit s9 me/py "$lfsline")
check "lfsFile by oid after uploading it for this repo: 200" $([[ $st == 200 ]]; echo $?) "$st $(cat "$tmp/s9.b")"
st=$(batch b5 me/py '["basic","xet"]')
check "LFS batch after that: already stored" \
  $([[ $st == 200 && $(cat "$tmp/b5.b") != *actions* ]]; echo $?) "$st $(cat "$tmp/b5.b")"
# lfs-files/duplicate (Python's cross-repo copy), on the source repo: only its
# own objects, only into a repo the caller may write to.
req d0 -XPOST "$H/api/repos/create" "${ME[@]}" -d '{"name":"dup","organization":"me"}' >/dev/null
dup() {  # dup OUT AUTH-TOKEN SHA256
  req "$1" -XPOST "$H/api/models/me/py/lfs-files/duplicate" -H "Authorization: Bearer $2" \
    -H 'Content-Type: application/json' \
    -d "{\"target\":{\"type\":\"model\",\"name\":\"me/dup\"},\"files\":[{\"sha256\":\"$3\",\"filename\":\"x.bin\"}]}"
}
st=$(dup d1 hf_eve "$sha")
check "duplicate into a repo the caller cannot write: 403" $([[ $st == 403 ]]; echo $?) "$st"
st=$(dup d2 hf_test "$(printf '%064d' 7)")
check "duplicate of an object the source does not have: listed as failed" \
  $([[ $st == 200 && $(cat "$tmp/d2.b") == *'"failed":[{'* ]]; echo $?) "$st $(cat "$tmp/d2.b")"
st=$(commit s10 me/dup "$lfsline")
check "lfsFile before the duplicate: refused" $([[ $st == 422 ]]; echo $?) "$st"
st=$(dup d3 hf_test "$sha")
check "duplicate of the source's object: no failures" \
  $([[ $st == 200 && $(cat "$tmp/d3.b") == '{"failed":[]}' ]]; echo $?) "$st $(cat "$tmp/d3.b")"
st=$(commit s11 me/dup "$lfsline")
check "lfsFile after the duplicate: 200" $([[ $st == 200 ]]; echo $?) "$st $(cat "$tmp/s11.b")"

# --- hostile bodies on every POST route: a 4xx each, never a crash or a 5xx
bad_bodies=('' 'null' '[]' '{' '{"files":7}' '{"files":[{}]}' '{"files":[{"path":1,"size":"x"}]}'
  '{"objects":[{"oid":[],"size":-1}],"operation":"upload"}' '{"paths":[1,{}]}' '{"name":{}}'
  '{"key":"header","value":7}' '{"key":"file","value":{}}' '{"key":"header","value":{}}
{"key":"lfsFile","value":{"path":"x","oid":{}}}' '{"key":"header","value":{"parentCommit":[]}}
{"key":"deletedFolder","value":{"path":"../../etc"}}' "$(printf '[%.0s' $(seq 1 5000))")
routes=("/api/models/me/py/preupload/main" "/me/py.git/info/lfs/objects/batch"
  "/api/models/me/py/paths-info/main" "/api/repos/create" "/api/models/me/py/commit/main"
  "/api/models/me/py/branch/b1" "/api/models/me/py/tag/main" "/api/validate-yaml"
  "/api/models/me/py/lfs-files/duplicate")
worst=0
for route in "${routes[@]}"; do
  for body in "${bad_bodies[@]}"; do
    st=$(curl -s -o /dev/null -w '%{http_code}' -XPOST "$H$route" "${ME[@]}" --data-binary "$body")
    if [[ $st -ge 500 || $st == 000 ]]; then worst=$st; echo "  $route <- ${body:0:40}: $st"; fi
  done
done
check "hostile bodies: no 5xx on any POST route" $([[ $worst == 0 ]]; echo $?) "$worst"

# --- the server is still healthy after all of the above
st=$(req z1 "$H/api/models/me/py")
check "still serving" $([[ $st == 200 ]]; echo $?) "$st"

echo
echo "$((total - fails))/$total checks passed"
[[ $fails == 0 ]]
