#include "fs/write/journal.h"

#include <charconv>
#include <nlohmann/json.hpp>
#include <set>

#include "chunkstore/cache_checksum.h"
#include "common/log.h"

namespace hubfs::fs {

using nlohmann::json;

namespace {

constexpr size_t kFrameHeader = 8;
constexpr uint32_t kMaxPayload = 1u << 20;
constexpr uint64_t kMaxJournalBytes = 1ull << 30;

void PutU32(std::string* out, uint32_t v) {
  for (int s = 0; s < 32; s += 8) out->push_back(static_cast<char>((v >> s) & 0xff));
}

uint32_t GetU32(const uint8_t* p) {
  return uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24);
}

std::span<const uint8_t> Bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

void AppendFrame(std::string* out, const std::string& payload) {
  PutU32(out, static_cast<uint32_t>(payload.size()));
  PutU32(out, chunkstore::cache_format::Crc32c(0, Bytes(payload)));
  out->append(payload);
}

std::optional<uint64_t> ParseId(const std::string& name) {
  uint64_t id = 0;
  auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), id);
  if (ec != std::errc() || end != name.data() + name.size() || name.empty()) return std::nullopt;
  return id;
}

}  // namespace

WriteJournal::~WriteJournal() = default;

std::string WriteJournal::StagingPath(uint64_t id) const {
  return dir_ + "/staging/" + std::to_string(id);
}

Result<std::unique_ptr<WriteJournal>> WriteJournal::Open(FileEnv* env, const std::string& dir,
                                                         JournalOpenInfo* info) {
  JournalOpenInfo local;
  if (info == nullptr) info = &local;
  HUBFS_RETURN_IF_ERROR(env->CreateDir(dir).status());
  HUBFS_RETURN_IF_ERROR(env->CreateDir(dir + "/staging").status());
  std::unique_ptr<WriteJournal> j(new WriteJournal(env, dir));
  HUBFS_ASSIGN_OR_RETURN(j->lock_, env->Open(dir + "/lock", OpenMode::kReadWrite));
  HUBFS_ASSIGN_OR_RETURN(bool locked, j->lock_->TryLock());
  if (!locked) {
    return Status(ErrorCode::kFailedPrecondition,
                  "the write journal " + dir + " is in use by another hubfs process");
  }
  HUBFS_RETURN_IF_ERROR(j->Load(info));
  // A reserve left by an earlier run is space to spend if compacting
  // finds the disk full; it is written again (whole) right after.
  j->reserve_held_ = env->Open(j->ReservePath(), OpenMode::kRead).ok();
  HUBFS_RETURN_IF_ERROR(j->Compact());
  j->MakeReserve();
  return j;
}

Result<JournalSnapshot> WriteJournal::ReadSnapshot(FileEnv* env, const std::string& dir) {
  JournalSnapshot snap;
  JournalOpenInfo info;
  HUBFS_RETURN_IF_ERROR(Replay(env, dir, /*create=*/false, &snap, &info));
  return snap;
}

Status WriteJournal::Load(JournalOpenInfo* info) {
  JournalSnapshot snap;
  HUBFS_RETURN_IF_ERROR(Replay(env_, dir_, /*create=*/true, &snap, info));
  table_ = std::move(snap.table);
  base_ = std::move(snap.base);
  pr_ = snap.pr;
  if (info->torn_tail) {
    HUBFS_LOG(kWarning) << "write journal " << dir_ << ": dropped a torn record at its end"
                        << " (a write that was never acknowledged)";
  }
  // Staging files: drop those no change names; never reuse an id.
  std::set<uint64_t> named;
  for (const auto& [path, c] : table_.entries()) {
    if (c.kind == PendingChange::Kind::kStaged) named.insert(c.staging_id);
    next_staging_ = std::max(next_staging_, c.staging_id + 1);
  }
  HUBFS_ASSIGN_OR_RETURN(std::vector<std::string> names, env_->ListDir(dir_ + "/staging"));
  for (const auto& name : names) {
    std::optional<uint64_t> id = ParseId(name);
    if (id) next_staging_ = std::max(next_staging_, *id + 1);
    if (id && named.count(*id) != 0) continue;
    Status st = env_->Remove(dir_ + "/staging/" + name);
    if (!st.ok() && st.code() != ErrorCode::kNotFound) return st;
    ++info->stale_staging_files;
  }
  return Status::Ok();
}

Status WriteJournal::Replay(FileEnv* env, const std::string& dir, bool create,
                            JournalSnapshot* out, JournalOpenInfo* info) {
  auto file = env->Open(dir + "/journal", create ? OpenMode::kReadWrite : OpenMode::kRead);
  if (!file.ok()) return file.status();
  std::string data;
  std::vector<uint8_t> buf(1 << 20);
  for (;;) {
    HUBFS_ASSIGN_OR_RETURN(size_t n, (*file)->Read(buf));
    if (n == 0) break;
    data.append(reinterpret_cast<const char*>(buf.data()), n);
    if (data.size() > kMaxJournalBytes) {
      return CorruptError("write journal " + dir + " is larger than 1 GiB");
    }
  }
  size_t pos = 0;
  while (pos < data.size()) {
    if (data.size() - pos < kFrameHeader) {
      info->torn_tail = true;
      break;
    }
    const auto* p = reinterpret_cast<const uint8_t*>(data.data()) + pos;
    const uint32_t len = GetU32(p);
    const uint32_t crc = GetU32(p + 4);
    if (len > kMaxPayload || data.size() - pos - kFrameHeader < len) {
      info->torn_tail = true;
      break;
    }
    std::string_view payload(data.data() + pos + kFrameHeader, len);
    if (chunkstore::cache_format::Crc32c(0, Bytes(payload)) != crc) {
      if (pos + kFrameHeader + len < data.size()) {
        // Acknowledged records follow: this is damage, not a torn append.
        return CorruptError("write journal " + dir + ": record at byte " + std::to_string(pos) +
                            " fails its checksum and more records follow; refusing to guess "
                            "(move the directory away to start over)");
      }
      info->torn_tail = true;
      break;
    }
    pos += kFrameHeader + len;
    json j = json::parse(payload, nullptr, /*allow_exceptions=*/false);
    if (j.is_object() && j.contains("base") && j["base"].is_string()) {
      out->base = j["base"].get<std::string>();
    } else if (j.is_object() && j.contains("pr") && j["pr"].is_number_unsigned()) {
      out->pr = j["pr"].get<uint64_t>();
    } else if (j.is_object() && j.size() == 1 && j.contains("seq") &&
               j["seq"].is_number_unsigned()) {
      out->table.AdvanceSeq(j["seq"].get<uint64_t>());  // the floor a compaction wrote
    } else {
      Result<PendingRecord> r = DecodeRecord(payload);
      if (!r.ok()) return r.status().WithContext("write journal " + dir);
      out->table.Apply(*r);
    }
    ++info->records_read;
  }
  return Status::Ok();
}

Status WriteJournal::Compact() {
  Status st = CompactOnce();
  if (st.code() == ErrorCode::kResourceExhausted && SpendReserve()) {
    HUBFS_LOG(kWarning) << "write journal " << dir_
                        << ": disk full; spent the space reserve to compact";
    st = CompactOnce();
  }
  return st;
}

Status WriteJournal::CompactOnce() {
  std::string out;
  if (base_) AppendFrame(&out, json{{"base", *base_}}.dump());
  if (pr_) AppendFrame(&out, json{{"pr", *pr_}}.dump());
  AppendFrame(&out, json{{"seq", table_.last_seq()}}.dump());
  for (const auto& [path, change] : table_.entries()) {
    AppendFrame(&out, EncodeRecord(PendingRecord{change.seq, path, change}));
  }
  const std::string tmp = dir_ + "/journal.tmp";
  Status removed = env_->Remove(tmp);
  if (!removed.ok() && removed.code() != ErrorCode::kNotFound) return removed;
  {
    HUBFS_ASSIGN_OR_RETURN(auto f, env_->Open(tmp, OpenMode::kCreateNew));
    HUBFS_RETURN_IF_ERROR(f->Write(Bytes(out)));
    HUBFS_RETURN_IF_ERROR(f->Sync());
  }
  journal_.reset();
  HUBFS_RETURN_IF_ERROR(env_->Rename(tmp, dir_ + "/journal"));
  HUBFS_RETURN_IF_ERROR(env_->SyncDir(dir_));
  HUBFS_ASSIGN_OR_RETURN(journal_, env_->Open(dir_ + "/journal", OpenMode::kReadWrite));
  bytes_ = out.size();
  broken_ = false;
  return Status::Ok();
}

Status WriteJournal::AppendPayloads(const std::vector<std::string>& payloads,
                                    bool may_spend_reserve) {
  if (broken_ || journal_ == nullptr) {
    HUBFS_RETURN_IF_ERROR(Compact().WithContext("write journal " + dir_ + ": after a failed append"));
  }
  std::string out;
  for (const auto& p : payloads) AppendFrame(&out, p);
  auto write = [&] {
    Status st = journal_->PWrite(bytes_, Bytes(out));
    if (st.ok()) st = journal_->DataSync();
    return st;
  };
  Status st = write();
  if (st.code() == ErrorCode::kResourceExhausted && may_spend_reserve && SpendReserve()) {
    // The same offset: whatever prefix the failed write left is overwritten.
    HUBFS_LOG(kWarning) << "write journal " << dir_
                        << ": disk full; spent the space reserve on a record that frees space";
    st = write();
  }
  if (!st.ok()) {
    broken_ = true;
    return st.WithContext("write journal " + dir_);
  }
  bytes_ += out.size();
  if (!reserve_held_) MakeReserve();
  return Status::Ok();
}

bool WriteJournal::SpendReserve() {
  if (!reserve_held_) return false;
  Status st = env_->Remove(ReservePath());
  reserve_held_ = false;
  return st.ok();
}

void WriteJournal::MakeReserve() {
  // Room for the reserve twice over: never take the last of the space.
  Result<DiskSpace> space = env_->StatFs(dir_);
  if (!space.ok() || space->free_bytes < 2 * kJournalReserveBytes) return;
  const std::string path = ReservePath();
  auto write = [&]() -> Status {
    HUBFS_ASSIGN_OR_RETURN(auto f, env_->Open(path, OpenMode::kReadWrite));
    // Zeros written, not a sparse file: the blocks are really taken.
    const std::vector<uint8_t> zeros(64u << 10);
    for (uint64_t off = 0; off < kJournalReserveBytes; off += zeros.size()) {
      HUBFS_RETURN_IF_ERROR(f->PWrite(off, zeros));
    }
    return f->DataSync();
  };
  Status st = write();
  if (!st.ok()) {
    (void)env_->Remove(path);  // a part of a reserve would only take space
    HUBFS_LOG(kDebug) << "write journal " << dir_ << ": no space reserve: " << st.ToString();
    return;
  }
  reserve_held_ = true;
}

bool WriteJournal::FreesSpace(const std::vector<PendingRecord>& records) const {
  for (const PendingRecord& r : records) {
    if (!r.change) continue;  // the path's change dropped
    switch (r.change->kind) {
      case PendingChange::Kind::kDeleted:
      case PendingChange::Kind::kDeletedDir:
      case PendingChange::Kind::kCopy:
        continue;
      case PendingChange::Kind::kNewDir:
        return false;
      case PendingChange::Kind::kStaged: {
        // A staging file already journaled, at most as large as it was (a
        // rename moves it, a truncate shrinks it): no new content.
        bool known = false;
        for (const auto& [path, c] : table_.entries()) {
          if (c.kind == PendingChange::Kind::kStaged && c.staging_id == r.change->staging_id &&
              r.change->size <= c.size) {
            known = true;
            break;
          }
        }
        if (!known) return false;
        continue;
      }
    }
  }
  return true;
}

Status WriteJournal::Append(const std::vector<PendingRecord>& records) {
  if (records.empty()) return Status::Ok();
  std::vector<std::string> payloads;
  payloads.reserve(records.size());
  for (const auto& r : records) payloads.push_back(EncodeRecord(r));
  HUBFS_RETURN_IF_ERROR(AppendPayloads(payloads, FreesSpace(records)));
  for (const auto& r : records) table_.Apply(r);
  return Status::Ok();
}

Status WriteJournal::SetBaseCommit(const std::string& commit) {
  // After a commit: what it took can then be dropped.
  HUBFS_RETURN_IF_ERROR(
      AppendPayloads({json{{"base", commit}}.dump()}, /*may_spend_reserve=*/true));
  base_ = commit;
  return Status::Ok();
}

Status WriteJournal::SetPrNumber(uint64_t number) {
  HUBFS_RETURN_IF_ERROR(
      AppendPayloads({json{{"pr", number}}.dump()}, /*may_spend_reserve=*/true));
  pr_ = number;
  return Status::Ok();
}

}  // namespace hubfs::fs
