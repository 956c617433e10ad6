// Fuzzes the answers the commit client reads (hub/commit_client.h): Xet
// write token, preupload, LFS batch, commit and the commits list. The input
// is the body a fake Hub answers with 200; the first byte picks the call.
// Accepted answers must keep the client's promises: one preupload answer per
// file asked, in order; commit ids that are 40-hex shas; at most `limit`
// commits; a PR number exactly when the URL names one.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "hub/commit_client.h"
#include "hub/fake_transport.h"
#include "hub/repo_id.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using namespace hubfs;
using namespace hubfs::hub;

void Run(uint8_t which, std::string body) {
  FakeHttpTransport transport([&body](const RecordedRequest&) -> Result<HttpResponse> {
    HttpResponse r;
    r.status = 200;
    r.headers.Add("Content-Type", "application/json");
    r.body = body;
    r.body_bytes = body.size();
    return r;
  });
  FakeClock clock;
  StaticTokenProvider tokens(std::string("hf_fuzz"));
  CommitClientOptions options;
  options.endpoint = "http://hub.test";
  options.preupload_batch = 2;
  options.lfs_batch = 2;
  CommitClient client(&transport, &clock, &tokens, options);
  const RepoId repo{RepoType::kModel, "ns", "repo"};
  switch (which % 5) {
    case 0: {
      Result<XetToken> t = client.XetWriteToken(repo, "main", false);
      if (t.ok()) FUZZ_CHECK(!t->access_token.empty() && !t->cas_url.empty());
      break;
    }
    case 1: {
      std::vector<PreuploadFile> files = {{"a.bin", 10, "x"}, {"b.txt", 0, ""}, {"c", 3, "abc"}};
      Result<std::vector<PreuploadAnswer>> a = client.Preupload(repo, "main", files, false);
      if (!a.ok()) break;
      FUZZ_CHECK(a->size() == files.size());
      for (size_t i = 0; i < files.size(); ++i) FUZZ_CHECK((*a)[i].path == files[i].path);
      FUZZ_CHECK(!(*a)[1].lfs);  // empty files are always regular
      break;
    }
    case 2: {
      std::vector<LfsObject> objects = {{std::string(64, 'a'), 5}, {std::string(64, 'b'), 7},
                                        {std::string(64, 'c'), 9}};
      Result<LfsBatchAnswer> a = client.LfsBatch(repo, std::string("main"), objects);
      if (!a.ok()) break;
      FUZZ_CHECK(!a->transfer.empty());
      for (const auto& o : a->objects) {
        if (!o.needs_upload) FUZZ_CHECK(o.upload_href.empty());
      }
      break;
    }
    case 3: {
      CommitRequest req;
      req.summary = "s";
      req.operations = {CommitOperation::File("f", "x")};
      req.create_pr = (which & 0x80) != 0;
      Result<CommitResult> c = client.Commit(repo, "main", req);
      if (!c.ok()) break;
      FUZZ_CHECK(IsCommitSha(c->commit_oid));
      FUZZ_CHECK(c->pr_number.has_value() == (c->pr_url && PullRequestNumber(*c->pr_url)));
      if (req.create_pr) FUZZ_CHECK(c->pr_number.has_value());
      break;
    }
    case 4: {
      const size_t limit = 1 + (which >> 3) % 8;
      Result<std::vector<CommitSummary>> l = client.ListCommits(repo, "main", limit);
      if (!l.ok()) break;
      FUZZ_CHECK(l->size() <= limit);
      for (const CommitSummary& s : *l) FUZZ_CHECK(IsCommitSha(s.id));
      break;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  Run(data[0], std::string(reinterpret_cast<const char*>(data) + 1, size - 1));
  return 0;
}
