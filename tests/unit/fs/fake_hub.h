// A Hub and CAS scripted in memory (FakeHttpTransport), just detailed
// enough for RepoUploader and the write path: revision, preupload (files of
// 1000 bytes or more are LFS), Xet write tokens, xorb/shard uploads, the LFS
// batch (xet), paths-info from per-commit trees, and commits answered by a
// test's `on_commit`.
#ifndef HUBFS_TESTS_UNIT_FS_FAKE_HUB_H_
#define HUBFS_TESTS_UNIT_FS_FAKE_HUB_H_

#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/clock.h"
#include "fs/upload/repo_uploader.h"
#include "hub/fake_transport.h"

namespace hubfs::fs::testing {

using hub::HttpResponse;
using hub::RecordedRequest;
using nlohmann::json;

inline const std::string kEp = "https://hub.test";
inline const std::string kCas = "https://cas.test";
inline const std::string kH1 = std::string(39, '1') + "a";
inline const std::string kH2 = std::string(39, '2') + "b";
inline const std::string kH3 = std::string(39, '3') + "c";

inline HttpResponse Json(json j, int status = 200) {
  HttpResponse r;
  r.status = status;
  r.headers.Add("Content-Type", "application/json");
  r.body = j.dump();
  return r;
}

inline json LfsEntry(const std::string& path, const std::string& sha256, uint64_t size) {
  return {{"type", "file"}, {"path", path}, {"oid", std::string(40, 'e')}, {"size", size},
          {"lfs", {{"oid", sha256}, {"size", size}}}};
}

inline json RegularEntry(const std::string& path, const std::string& oid, uint64_t size) {
  return {{"type", "file"}, {"path", path}, {"oid", oid}, {"size", size}};
}

// A Hub and CAS just detailed enough for one upload. Files of 1000 bytes or
// more are LFS. Commits are answered by `on_commit`.
class FakeHub {
 public:
  FakeHub()
      : transport_([this](const RecordedRequest& r) { return Handle(r); }),
        tokens_(std::string("hf_t")),
        hub_(&transport_, &clock_, &tokens_, HubOptions()),
        commits_(&transport_, &clock_, &tokens_, CommitOptions()),
        cas_(&transport_) {}

  static hub::HubClientOptions HubOptions() {
    hub::HubClientOptions o;
    o.endpoint = kEp;
    return o;
  }
  static hub::CommitClientOptions CommitOptions() {
    hub::CommitClientOptions o;
    o.endpoint = kEp;
    return o;
  }

  Result<UploadReport> Upload(const UploadPlan& plan) {
    RepoUploader up(&hub_, &commits_, &cas_, nullptr);
    return up.Upload(plan);
  }
  Result<UploadReport> Upload(const UploadPlan& plan, chunkstore::ChunkCache* cache,
                              RepoUploaderOptions options) {
    RepoUploader up(&hub_, &commits_, &cas_, cache, options);
    return up.Upload(plan);
  }
  hub::HubClient* hub_client() { return &hub_; }
  hub::CommitClient* commit_client() { return &commits_; }
  hub::CasWriter* cas_writer() { return &cas_; }

  std::mutex mu;
  std::string head = kH1;
  std::map<std::string, std::map<std::string, json>> trees;  // commit -> path -> entry
  std::function<Result<HttpResponse>(int call, const json& header)> on_commit;
  std::function<void()> on_preupload;
  std::map<std::string, std::string> remote_oid;  // preupload's "oid" per path
  int commit_posts = 0;
  bool answer_lies = false;  // a commit answer that does not move the branch
  int pr_posts = 0;
  std::string last_body;
  int xorb_posts = 0;
  int fail_xorb_posts = 0;  // the next this many xorb uploads are refused (400, not retried)
  std::vector<json> headers;

 private:
  Result<HttpResponse> Handle(const RecordedRequest& r) {
    const std::string api = kEp + "/api/models/me/r";
    std::unique_lock<std::mutex> lock(mu);
    if (r.url.rfind(api + "/revision/main", 0) == 0) {
      return Json({{"sha", head}, {"lastModified", "2026-12-05T00:00:00.000Z"}});
    }
    if (r.url == api + "/preupload/main" || r.url == api + "/preupload/main?create_pr=1") {
      if (on_preupload) {
        lock.unlock();
        on_preupload();
        lock.lock();
      }
      json files = json::array();
      const json body = json::parse(r.body);  // (a loop over a temporary's member dangles)
      for (const auto& f : body["files"]) {
        json a{{"path", f["path"]},
               {"uploadMode", f["size"].get<uint64_t>() >= 1000 ? "lfs" : "regular"},
               {"shouldIgnore", false}};
        if (auto it = remote_oid.find(f["path"]); it != remote_oid.end()) a["oid"] = it->second;
        files.push_back(a);
      }
      return Json({{"files", files}});
    }
    if (r.url.rfind(api + "/xet-write-token/main", 0) == 0) {
      return Json({{"accessToken", "xet_w"}, {"exp", clock_.UnixSeconds() + 3600}, {"casUrl", kCas}});
    }
    if (r.url.rfind(kCas + "/v1/xorbs/default/", 0) == 0) {
      if (fail_xorb_posts > 0) {
        --fail_xorb_posts;
        return Json({{"error", "refused"}}, 400);
      }
      ++xorb_posts;
      return Json({{"was_inserted", true}});
    }
    if (r.url == kCas + "/v1/shards") return Json({{"result", 1}});
    if (r.url.rfind(kCas + "/v1/chunks/", 0) == 0) return Json({{"error", "none"}}, 404);
    if (r.url == kEp + "/me/r.git/info/lfs/objects/batch") {
      json objs = json::array();
      const json body = json::parse(r.body);
      for (const auto& o : body["objects"]) objs.push_back(o);
      return Json({{"transfer", "xet"}, {"objects", objs}});
    }
    if (r.url.rfind(api + "/paths-info/", 0) == 0) {
      std::string rev = r.url.substr((api + "/paths-info/").size());
      json out = json::array();
      const json body = json::parse(r.body);
      for (const auto& p : body["paths"]) {
        auto& tree = trees[rev];
        if (auto it = tree.find(p.get<std::string>()); it != tree.end()) out.push_back(it->second);
      }
      return Json(out);
    }
    if (r.url == api + "/commit/main" || r.url == api + "/commit/main?create_pr=1") {
      if (r.url.find("create_pr=1") != std::string::npos) {
        ++pr_posts;
        json header = json::parse(r.body.substr(0, r.body.find('\n')))["value"];
        headers.push_back(header);
        return Json({{"success", true},
                     {"commitOid", kH3},
                     {"commitUrl", kEp + "/me/r/commit/" + kH3},
                     {"pullRequestUrl", kEp + "/me/r/discussions/4"}});
      }
      json header;
      size_t nl = r.body.find('\n');
      header = json::parse(r.body.substr(0, nl))["value"];
      headers.push_back(header);
      const int call = commit_posts++;
      last_body = r.body;
      lock.unlock();
      Result<HttpResponse> answer = on_commit(call, header);
      // A commit the Hub made moves the branch (unless the answer lies).
      if (answer.ok() && answer->status == 200 && !answer_lies) {
        lock.lock();
        const json body = json::parse(answer->body);
        if (body.contains("commitOid") && body["commitOid"].is_string()) {
          head = body["commitOid"].get<std::string>();
        }
      }
      return answer;
    }
    if (r.url.rfind(api + "/commits/main", 0) == 0) {
      return Json(json::array({{{"id", head}, {"title", "head"}}}));
    }
    return Json({{"error", "unexpected " + r.method + " " + r.url}}, 500);
  }

  hub::FakeHttpTransport transport_;
  FakeClock clock_;
  hub::StaticTokenProvider tokens_;
  hub::HubClient hub_;
  hub::CommitClient commits_;
  hub::CasWriter cas_;
};

inline HttpResponse Committed(const std::string& sha) {
  return Json({{"success", true},
               {"commitOid", sha},
               {"commitUrl", kEp + "/me/r/commit/" + sha}});
}

}  // namespace hubfs::fs::testing

#endif  // HUBFS_TESTS_UNIT_FS_FAKE_HUB_H_
