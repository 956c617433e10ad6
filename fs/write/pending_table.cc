#include "fs/write/pending_table.h"

#include <cstdint>
#include <set>

#include <nlohmann/json.hpp>

namespace hubfs::fs {

using nlohmann::json;

namespace {

bool IsGitattributes(const std::string& path) {
  return path == ".gitattributes" ||
         (path.size() > 15 && path.compare(path.size() - 15, 15, "/.gitattributes") == 0);
}

}  // namespace

const PendingChange* PendingTable::Find(const std::string& path) const {
  auto it = entries_.find(path);
  return it == entries_.end() ? nullptr : &it->second;
}

PendingRecord PendingTable::Set(const std::string& path, std::optional<PendingChange> change) {
  ++next_seq_;
  if (change) change->seq = next_seq_;
  return PendingRecord{next_seq_, path, std::move(change)};
}

std::vector<PendingRecord> PendingTable::Stage(const std::string& path, uint64_t staging_id,
                                               uint64_t size, std::optional<RemoteFile> base,
                                               bool was_remote,
                                               std::vector<std::pair<uint64_t, uint64_t>> local,
                                               uint64_t base_limit) {
  Begin();
  PendingChange c;
  c.kind = PendingChange::Kind::kStaged;
  c.staging_id = staging_id;
  c.size = size;
  c.base = std::move(base);
  c.was_remote = was_remote;
  if (c.base) {
    c.local = std::move(local);
    c.base_limit = std::min(base_limit, c.base->size);
  }
  return {Set(path, c)};
}

std::vector<PendingRecord> PendingTable::Resize(const std::string& path, uint64_t size) {
  Begin();
  const PendingChange* cur = Find(path);
  if (cur == nullptr || cur->kind != PendingChange::Kind::kStaged || cur->size == size) return {};
  PendingChange c = *cur;
  c.size = size;
  return {Set(path, c)};
}

std::vector<PendingRecord> PendingTable::RemoveFile(const std::string& path, bool was_remote) {
  Begin();
  return PlanRemove(path, was_remote);
}

std::vector<PendingRecord> PendingTable::PlanRemove(const std::string& path, bool was_remote) {
  if (!was_remote) {
    if (Find(path) == nullptr) return {};
    return {Set(path, std::nullopt)};
  }
  PendingChange c;
  c.kind = PendingChange::Kind::kDeleted;
  c.was_remote = true;
  return {Set(path, c)};
}

std::vector<PendingRecord> PendingTable::RenameFile(const std::string& from, const std::string& to,
                                                    std::optional<RemoteFile> from_remote,
                                                    bool from_was_remote, bool to_was_remote) {
  Begin();
  if (from == to) return {};
  const PendingChange* src = Find(from);
  PendingChange moved;
  if (src != nullptr && (src->kind == PendingChange::Kind::kStaged ||
                         src->kind == PendingChange::Kind::kCopy)) {
    moved = *src;
  } else if (from_remote) {
    moved.kind = PendingChange::Kind::kCopy;
    moved.size = from_remote->size;
    moved.base = std::move(from_remote);
  } else {
    return {};
  }
  moved.was_remote = to_was_remote;
  std::vector<PendingRecord> out{Set(to, moved)};
  for (auto& r : PlanRemove(from, from_was_remote)) out.push_back(std::move(r));
  return out;
}

std::vector<PendingRecord> PendingTable::MakeDir(const std::string& path) {
  Begin();
  PendingChange c;
  c.kind = PendingChange::Kind::kNewDir;
  return {Set(path, c)};
}

std::vector<PendingRecord> PendingTable::RemoveDir(const std::string& path, bool was_remote) {
  Begin();
  if (was_remote) {
    PendingChange c;
    c.kind = PendingChange::Kind::kDeletedDir;
    c.was_remote = true;
    return {Set(path, c)};
  }
  const PendingChange* cur = Find(path);
  if (cur == nullptr || cur->kind != PendingChange::Kind::kNewDir) return {};
  return {Set(path, std::nullopt)};
}

void PendingTable::Apply(const PendingRecord& record) {
  seq_ = std::max(seq_, record.seq);
  if (record.change) {
    PendingChange c = *record.change;
    c.seq = record.seq;
    entries_[record.path] = c;
  } else {
    entries_.erase(record.path);
  }
}

std::vector<BatchItem> PendingTable::TakeBatch(uint64_t upto_seq,
                                               const std::set<std::string>& busy) const {
  std::vector<BatchItem> attributes, additions, deletions;
  for (const auto& [path, change] : entries_) {
    if (change.is_dir() || change.seq > upto_seq) continue;
    if (busy.count(path) != 0) continue;
    if (change.kind == PendingChange::Kind::kDeleted) {
      deletions.push_back({path, change});
    } else if (IsGitattributes(path)) {
      attributes.push_back({path, change});
    } else {
      additions.push_back({path, change});
    }
  }
  for (auto& b : additions) attributes.push_back(std::move(b));
  for (auto& b : deletions) attributes.push_back(std::move(b));
  return attributes;
}

std::vector<PendingRecord> PendingTable::Committed(const std::vector<BatchItem>& batch,
                                                   bool on_target) {
  Begin();
  std::vector<PendingRecord> out;
  // Files of the batch removed here while it went up: they do not keep
  // their directory on the Hub.
  std::set<std::string> gone;
  for (const BatchItem& item : batch) {
    const PendingChange* cur = Find(item.path);
    if (item.change.kind != PendingChange::Kind::kDeleted &&
        (cur == nullptr || cur->kind == PendingChange::Kind::kDeleted)) {
      gone.insert(item.path);
    }
    if (cur != nullptr && cur->seq == item.change.seq) {
      out.push_back(Set(item.path, std::nullopt));
      continue;
    }
    if (!on_target || item.change.kind == PendingChange::Kind::kDeleted) continue;
    // Changed again while the commit was under way: the Hub has the file
    // now. Removed meanwhile (a temp file renamed or unlinked while it was
    // being committed): its deletion must be committed too; changed again:
    // a later removal must delete it on the Hub.
    if (cur == nullptr) {
      PendingChange c;
      c.kind = PendingChange::Kind::kDeleted;
      c.was_remote = true;
      out.push_back(Set(item.path, c));
    } else if (!cur->is_dir() && !cur->was_remote) {
      PendingChange c = *cur;
      c.was_remote = true;
      out.push_back(Set(item.path, c));
    }
  }
  // A new directory now holding a committed file exists on the Hub; a
  // removed one whose files' deletions were committed is gone from it.
  std::vector<std::string> dirs;
  for (const auto& [path, change] : entries_) {
    if (!change.is_dir()) continue;
    const std::string prefix = path + "/";
    const bool want_deleted = change.kind == PendingChange::Kind::kDeletedDir;
    for (const BatchItem& item : batch) {
      if ((item.change.kind == PendingChange::Kind::kDeleted) == want_deleted &&
          item.path.rfind(prefix, 0) == 0 && gone.count(item.path) == 0) {
        dirs.push_back(path);
        break;
      }
    }
  }
  for (const auto& d : dirs) out.push_back(Set(d, std::nullopt));
  return out;
}

namespace {

const char* KindName(PendingChange::Kind k) {
  switch (k) {
    case PendingChange::Kind::kStaged:
      return "staged";
    case PendingChange::Kind::kCopy:
      return "copy";
    case PendingChange::Kind::kDeleted:
      return "deleted";
    case PendingChange::Kind::kNewDir:
      return "dir";
    case PendingChange::Kind::kDeletedDir:
      return "deleted_dir";
  }
  return "?";
}

}  // namespace

std::string EncodeRecord(const PendingRecord& record) {
  json j{{"seq", record.seq}, {"path", record.path}};
  if (!record.change) {
    j["change"] = nullptr;
  } else {
    const PendingChange& c = *record.change;
    json cj{{"kind", KindName(c.kind)},
            {"staging", c.staging_id},
            {"size", c.size},
            {"was_remote", c.was_remote}};
    if (c.since > 0) cj["since"] = c.since;
    if (c.base) {
      json b{{"size", c.base->size},
             {"git_oid", c.base->git_oid},
             {"path", c.base->path},
             {"commit", c.base->commit}};
      if (c.base->sha256) b["sha256"] = *c.base->sha256;
      if (c.base->xet_hash) b["xet_hash"] = *c.base->xet_hash;
      cj["base"] = b;
      cj["base_limit"] = c.base_limit;
      json local = json::array();
      for (auto [x, y] : c.local) local.push_back(json::array({x, y}));
      cj["local"] = local;
    }
    j["change"] = cj;
  }
  return j.dump();
}

namespace {

// A path the table could hold: relative, at most 4096 bytes, no NUL, no
// empty, "." or ".." component (a damaged record must not name a file
// outside the repo).
bool PlausiblePath(std::string_view path) {
  if (path.empty() || path.size() > 4096 || path.find('\0') != std::string_view::npos) {
    return false;
  }
  size_t start = 0;
  for (;;) {
    const size_t slash = path.find('/', start);
    const std::string_view seg = path.substr(start, slash == path.npos ? path.npos : slash - start);
    if (seg.empty() || seg == "." || seg == "..") return false;
    if (slash == path.npos) return true;
    start = slash + 1;
  }
}

}  // namespace

Result<PendingRecord> DecodeRecord(std::string_view text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  auto bad = [](const char* what) { return CorruptError(std::string("journal record: ") + what); };
  if (j.is_discarded() || !j.is_object()) return bad("not a JSON object");
  PendingRecord r;
  if (!j.contains("seq") || !j["seq"].is_number_unsigned()) return bad("no seq");
  r.seq = j["seq"].get<uint64_t>();
  if (!j.contains("path") || !j["path"].is_string()) return bad("no path");
  r.path = j["path"].get<std::string>();
  if (!PlausiblePath(r.path)) return bad("bad path");
  if (!j.contains("change")) return bad("no change");
  const json& cj = j["change"];
  if (cj.is_null()) return r;
  if (!cj.is_object()) return bad("change is not an object");
  PendingChange c;
  if (!cj.contains("kind") || !cj["kind"].is_string()) return bad("no kind");
  const std::string kind = cj["kind"].get<std::string>();
  if (kind == "staged") c.kind = PendingChange::Kind::kStaged;
  else if (kind == "copy") c.kind = PendingChange::Kind::kCopy;
  else if (kind == "deleted") c.kind = PendingChange::Kind::kDeleted;
  else if (kind == "dir") c.kind = PendingChange::Kind::kNewDir;
  else if (kind == "deleted_dir") c.kind = PendingChange::Kind::kDeletedDir;
  else return bad("unknown kind");
  auto u64 = [&](const json& o, const char* k, uint64_t* out) {
    if (!o.contains(k) || !o[k].is_number_unsigned()) return false;
    *out = o[k].get<uint64_t>();
    return true;
  };
  if (!u64(cj, "staging", &c.staging_id) || !u64(cj, "size", &c.size)) return bad("no size");
  // Ids are handed out counting up from 1; the largest would wrap the next one.
  if (c.staging_id == UINT64_MAX) return bad("staging id out of range");
  if (!cj.contains("was_remote") || !cj["was_remote"].is_boolean()) return bad("no was_remote");
  c.was_remote = cj["was_remote"].get<bool>();
  if (cj.contains("since")) {
    if (!cj["since"].is_number_integer()) return bad("since");
    c.since = cj["since"].get<int64_t>();
  }
  if (cj.contains("base")) {
    const json& b = cj["base"];
    if (!b.is_object()) return bad("base is not an object");
    RemoteFile f;
    if (!u64(b, "size", &f.size)) return bad("base without size");
    if (!b.contains("git_oid") || !b["git_oid"].is_string()) return bad("base without oid");
    f.git_oid = b["git_oid"].get<std::string>();
    if (b.contains("path") && b["path"].is_string()) f.path = b["path"].get<std::string>();
    if (b.contains("commit") && b["commit"].is_string()) f.commit = b["commit"].get<std::string>();
    if (b.contains("sha256") && b["sha256"].is_string()) f.sha256 = b["sha256"].get<std::string>();
    if (b.contains("xet_hash") && b["xet_hash"].is_string()) {
      f.xet_hash = b["xet_hash"].get<std::string>();
    }
    c.base = std::move(f);
    if (cj.contains("base_limit") && !u64(cj, "base_limit", &c.base_limit)) return bad("base_limit");
    if (c.base_limit > c.base->size) return bad("base_limit past the base");
    if (cj.contains("local")) {
      if (!cj["local"].is_array() || cj["local"].size() > 1'000'000) return bad("local ranges");
      uint64_t prev_end = 0;
      for (const json& range : cj["local"]) {
        if (!range.is_array() || range.size() != 2 || !range[0].is_number_unsigned() ||
            !range[1].is_number_unsigned()) {
          return bad("local range");
        }
        const uint64_t x = range[0].get<uint64_t>(), y = range[1].get<uint64_t>();
        if (x >= y || x < prev_end || y > c.size) return bad("local ranges out of order");
        prev_end = y;
        c.local.emplace_back(x, y);
      }
    }
  }
  if ((c.kind == PendingChange::Kind::kCopy) && !c.base) return bad("copy without base");
  c.seq = r.seq;
  r.change = c;
  return r;
}

}  // namespace hubfs::fs
