#include "fs/upload/repo_uploader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <utility>

#include "chunkstore/hash.h"
#include "chunkstore/reconstruction.h"
#include "chunkstore/shard.h"
#include "common/log.h"
#include "fs/content/xet_cache_codec.h"
#include "hub/url.h"

namespace hubfs::fs {
namespace {

using chunkstore::Hash;

// What identifies a local file's content without reading it.
struct FileStamp {
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  uint64_t ino = 0;
  uint64_t dev = 0;
  int64_t ctime_ns = 0;

  friend bool operator==(const FileStamp&, const FileStamp&) = default;
};

FileStamp StampOf(const struct stat& st) {
  FileStamp s;
  s.size = static_cast<uint64_t>(st.st_size);
  s.mtime_ns = int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
  s.ctime_ns = int64_t{st.st_ctim.tv_sec} * 1'000'000'000 + st.st_ctim.tv_nsec;
  s.ino = st.st_ino;
  s.dev = st.st_dev;
  return s;
}

// An open local file; closed on destruction.
class LocalFile final : public UploadSource {
 public:
  static Result<std::unique_ptr<LocalFile>> Open(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      const int err = errno;
      std::string msg = "open " + path + ": " + std::strerror(err);
      return err == ENOENT ? NotFoundError(msg) : IoError(msg);
    }
    auto f = std::unique_ptr<LocalFile>(new LocalFile(fd, path));
    HUBFS_ASSIGN_OR_RETURN(f->stamp_, f->Stat());
    return f;
  }
  ~LocalFile() { ::close(fd_); }
  LocalFile(const LocalFile&) = delete;
  LocalFile& operator=(const LocalFile&) = delete;

  Result<FileStamp> Stat() const {
    struct stat st;
    if (::fstat(fd_, &st) != 0) return IoError("stat " + path_ + ": " + std::strerror(errno));
    if (!S_ISREG(st.st_mode)) return InvalidArgumentError(path_ + " is not a regular file");
    return StampOf(st);
  }

  const std::string& name() const override { return path_; }
  uint64_t size() const override { return stamp_.size; }

  // Reads up to buf.size() bytes at the current position; 0 at the end.
  Result<size_t> Read(std::span<uint8_t> buf) override {
    for (;;) {
      ssize_t n = ::read(fd_, buf.data(), buf.size());
      if (n >= 0) return static_cast<size_t>(n);
      if (errno == EINTR) continue;
      return IoError("read " + path_ + ": " + std::strerror(errno));
    }
  }

  Status Rewind() override {
    if (::lseek(fd_, 0, SEEK_SET) != 0) return IoError("seek " + path_ + ": " + std::strerror(errno));
    return Status::Ok();
  }

  // Fails when the file is no longer what was stamped at open.
  Status CheckUnchanged(uint64_t bytes_read) const override {
    HUBFS_ASSIGN_OR_RETURN(FileStamp now, Stat());
    if (!(now == stamp_) || bytes_read != stamp_.size) {
      return Status(ErrorCode::kFailedPrecondition,
                    path_ + " changed while it was being read; nothing was committed");
    }
    return Status::Ok();
  }

 private:
  LocalFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_;
  std::string path_;
  FileStamp stamp_;
};

// Reads a whole source from its start (bounded by `max`).
Result<std::string> ReadAll(UploadSource* src, uint64_t max) {
  HUBFS_RETURN_IF_ERROR(src->Rewind());
  std::string out;
  out.resize(std::min<uint64_t>(src->size(), max) + 1);
  size_t used = 0;
  for (;;) {
    if (used == out.size()) {
      if (out.size() > max) return ResourceExhaustedError(src->name() + " is larger than expected");
      out.resize(out.size() * 2);
    }
    HUBFS_ASSIGN_OR_RETURN(
        size_t n, src->Read(std::span<uint8_t>(reinterpret_cast<uint8_t*>(out.data()) + used,
                                               out.size() - used)));
    if (n == 0) break;
    used += n;
  }
  out.resize(used);
  return out;
}

// A stable tag for the CAS a local dedup entry came from.
uint64_t CasScope(const std::string& cas_url) {
  Hash h = chunkstore::KeyedBlake3(
      chunkstore::kZeroKey,
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(cas_url.data()), cas_url.size()));
  return h.FirstU64();
}

// The engine's view of the CAS and the local cache.
class XetBackend final : public chunkstore::UploadBackend {
 public:
  XetBackend(hub::CasWriter* cas, hub::XetTokenSupplier tokens, chunkstore::ChunkCache* cache,
             uint64_t scope, uint64_t cache_budget, uint64_t free_reserve)
      : cas_(cas),
        tokens_(std::move(tokens)),
        cache_(cache),
        scope_(scope),
        free_reserve_(free_reserve),
        cache_budget_(static_cast<int64_t>(cache_budget)) {}

  Status PutXorb(const chunkstore::XorbInfo& info, std::string body) override {
    // The cache copies the records it keeps (while its budget lasts); the
    // body then moves into the request.
    const auto bytes = std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(body.data()),
                                                body.size());
    if (cache_ != nullptr && RoomInCache(info.unpacked_size) &&
        cache_budget_.fetch_sub(static_cast<int64_t>(info.unpacked_size)) >
            static_cast<int64_t>(info.unpacked_size)) {
      LearnedLayout layout;
      layout.count_known = true;
      for (size_t i = 0; i < info.chunks.size(); ++i) {
        const auto& c = info.chunks[i];
        // Through the page cache: an edit of the file soon after reads its
        // unchanged chunks back at its commit (SHA-256 needs every byte).
        cache_->PutChunk(info.hash, static_cast<uint32_t>(i),
                         bytes.subspan(c.record_start, c.record_end - c.record_start),
                         /*keep_pages=*/true);
        layout.lengths.push_back(c.length);
        layout.record_starts.push_back(c.record_start);
      }
      cache_->PutXorbLayout(info.hash, EncodeLayout(layout));
    }
    HUBFS_ASSIGN_OR_RETURN(bool inserted,
                           cas_->UploadXorb(tokens_, info.hash.ToString(), std::move(body)));
    (void)inserted;
    if (cache_ != nullptr) {
      for (size_t i = 0; i < info.chunks.size(); ++i) {
        cache_->PutChunkLocation(info.chunks[i].hash, {info.hash, static_cast<uint32_t>(i), scope_});
      }
    }
    return Status::Ok();
  }

  Result<std::optional<chunkstore::Shard>> QueryChunk(const Hash& chunk_hash) override {
    HUBFS_ASSIGN_OR_RETURN(std::optional<std::string> body,
                           cas_->QueryChunk(tokens_, chunk_hash.ToString()));
    if (!body) return std::optional<chunkstore::Shard>();
    HUBFS_ASSIGN_OR_RETURN(
        chunkstore::Shard shard,
        chunkstore::ParseShard(std::span<const uint8_t>(
            reinterpret_cast<const uint8_t*>(body->data()), body->size())));
    return std::optional<chunkstore::Shard>(std::move(shard));
  }

  std::optional<chunkstore::ChunkLocation> LookupLocal(const Hash& chunk_hash) override {
    if (cache_ == nullptr) return std::nullopt;
    auto place = cache_->GetChunkLocation(chunk_hash);
    if (!place.ok() || !place->has_value() || (*place)->scope != scope_) return std::nullopt;
    return chunkstore::ChunkLocation{(*place)->xorb, (*place)->index};
  }

 private:
  // Whether `bytes` more in the cache leave free_reserve_ free on its disk.
  bool RoomInCache(uint64_t bytes) const {
    struct statvfs fs;
    if (::statvfs(cache_->dir().c_str(), &fs) != 0) return false;
    const uint64_t free = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
    return free > bytes && free - bytes >= free_reserve_;
  }

  hub::CasWriter* const cas_;
  const hub::XetTokenSupplier tokens_;
  chunkstore::ChunkCache* const cache_;
  const uint64_t scope_;
  const uint64_t free_reserve_;
  std::atomic<int64_t> cache_budget_;  // chunk bytes the cache may still take
};

// The base's chunk list from the cache, when it is there and describes the
// base (its chunks give the base's Xet hash; its SHA-256 is the base's oid).
std::optional<chunkstore::FileDigest> LoadBaseDigest(chunkstore::ChunkCache* cache,
                                                     const EditedFrom& base) {
  if (cache == nullptr) return std::nullopt;
  Result<Hash> hash = Hash::Parse(base.xet_hash);
  if (!hash.ok()) return std::nullopt;
  auto bytes = cache->GetChunkList(*hash);
  if (!bytes.ok() || !bytes->has_value()) return std::nullopt;
  Result<chunkstore::FileDigest> d = chunkstore::DecodeFileDigest(**bytes);
  Status st = d.ok() ? chunkstore::CheckFileDigest(*d, *hash, base.size) : d.status();
  if (st.ok() && base.sha256 && chunkstore::HexLower(d->sha256) != *base.sha256) {
    st = CorruptError("chunk list: SHA-256 differs from the base's oid");
  }
  if (!st.ok()) {
    HUBFS_LOG(kWarning) << "ignoring the cached chunk list of " << base.xet_hash << ": " << st;
    return std::nullopt;
  }
  return std::move(*d);
}

std::string Plural(size_t n, const char* what) {
  return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
}

Status ValidateUploadPath(const std::string& path) {
  HUBFS_RETURN_IF_ERROR(hub::ValidateRepoPath(path));
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    std::string_view part(path.data() + start, end - start);
    if (part == ".git" || part == ".cache") {
      return InvalidArgumentError("the Hub refuses paths with a '" + std::string(part) +
                                  "' component: " + path);
    }
    start = end + 1;
  }
  return Status::Ok();
}

struct PreparedFile {
  UploadFileSpec spec;
  std::shared_ptr<UploadSource> file;
  hub::PreuploadAnswer answer;
  bool ahead = false;  // uploaded before the commit (UploadSource::uploaded_ahead)
};

// What a committed operation left at a path, to compare with the Hub's tree.
struct Expectation {
  bool present = true;
  std::string oid;  // git blob id (inline) or sha256 (LFS)
  bool lfs = false;
};

bool EntryMatches(const hub::TreeEntry* e, const Expectation& want) {
  if (!want.present) return e == nullptr;
  if (e == nullptr || e->type != hub::TreeEntry::Type::kFile) return false;
  if (want.lfs) return e->lfs.has_value() && e->lfs->sha256 == want.oid;
  return e->oid == want.oid;
}

}  // namespace

Result<std::unique_ptr<UploadSource>> OpenLocalSource(const std::string& path) {
  HUBFS_ASSIGN_OR_RETURN(std::unique_ptr<LocalFile> f, LocalFile::Open(path));
  return std::unique_ptr<UploadSource>(std::move(f));
}

std::string DefaultCommitSummary(const std::vector<std::string>& uploaded,
                                 const std::vector<std::string>& deleted) {
  std::string s;
  if (uploaded.size() == 1) s = "Upload " + uploaded[0];
  if (uploaded.size() > 1) s = "Upload " + Plural(uploaded.size(), "file");
  if (!deleted.empty()) {
    std::string d = deleted.size() == 1 ? deleted[0] : Plural(deleted.size(), "file");
    s += s.empty() ? "Delete " + d : " and delete " + d;
  }
  return s + " with hubfs";
}

RepoUploader::RepoUploader(hub::HubClient* hub, hub::CommitClient* commits, hub::CasWriter* cas,
                           chunkstore::ChunkCache* cache, RepoUploaderOptions options)
    : hub_(hub), commits_(commits), cas_(cas), cache_(cache), options_(std::move(options)) {}

void RepoUploader::RememberDigest(const chunkstore::UploadedFile& up) {
  if (cache_ != nullptr && up.digest && up.size >= options_.min_chunk_list_bytes) {
    cache_->PutChunkList(up.file_hash, chunkstore::EncodeFileDigest(*up.digest));
  }
}

Result<uint64_t> RepoUploader::SendShard(const hub::XetTokenSupplier& tokens,
                                         const chunkstore::Shard& shard) {
  if (shard.files.empty()) return uint64_t{0};
  std::vector<uint8_t> bytes = chunkstore::SerializeShard(shard);
  HUBFS_ASSIGN_OR_RETURN(bool registered,
                         cas_->UploadShard(tokens, std::string(bytes.begin(), bytes.end())));
  (void)registered;
  if (cache_ != nullptr) {
    for (const auto& f : shard.files) {
      std::vector<chunkstore::ReconTerm> terms;
      uint64_t size = 0;
      for (const auto& t : f.terms) {
        terms.push_back({t.xorb_hash, {t.chunk_start, t.chunk_end}, t.unpacked_bytes});
        size += t.unpacked_bytes;
      }
      cache_->PutTerms(f.file_hash, EncodeTerms(terms, size));
    }
  }
  return static_cast<uint64_t>(bytes.size());
}

bool RepoUploader::TryReserveAhead() {
  int n = ahead_running_.load();
  while (n < options_.max_uploads_ahead) {
    if (ahead_running_.compare_exchange_weak(n, n + 1)) return true;
  }
  return false;
}

void RepoUploader::ReleaseAhead() { ahead_running_.fetch_sub(1); }

Result<UploadedAhead> RepoUploader::UploadAhead(const hub::RepoId& repo,
                                                const std::string& revision, bool create_pr,
                                                const chunkstore::UploadReadFn& read) {
  hub::XetTokenSupplier tokens = [this, repo, revision, create_pr](bool force) {
    return commits_->XetWriteToken(repo, revision, create_pr, force);
  };
  HUBFS_ASSIGN_OR_RETURN(hub::XetToken first, tokens(false));
  XetBackend backend(cas_, tokens, cache_, CasScope(first.cas_url), options_.cache_upload_bytes,
                     options_.cache_upload_free_reserve);
  chunkstore::UploadSession session(&backend, options_.engine);
  UploadedAhead out;
  HUBFS_ASSIGN_OR_RETURN(out.file, session.AddFile(read));
  HUBFS_ASSIGN_OR_RETURN(chunkstore::Shard shard, session.Finish());
  out.engine = session.stats();
  HUBFS_ASSIGN_OR_RETURN(out.shard_bytes, SendShard(tokens, shard));
  RememberDigest(out.file);
  return out;
}

Result<UploadReport> RepoUploader::Upload(const UploadPlan& plan,
                                          const std::function<void(const UploadProgress&)>& progress) {
  const std::string target = plan.repo.ToString() + "@" + plan.revision;
  const std::string context = "upload to " + target;
  if (plan.files.empty() && plan.deletes.empty() && plan.copies.empty()) {
    return InvalidArgumentError(context + ": nothing to upload or delete");
  }
  std::set<std::string> seen;
  for (const auto& f : plan.files) {
    HUBFS_RETURN_IF_ERROR(ValidateUploadPath(f.path_in_repo).WithContext(context));
    if (!seen.insert(f.path_in_repo).second) {
      return InvalidArgumentError(context + ": '" + f.path_in_repo + "' given twice");
    }
  }
  for (const auto& d : plan.deletes) {
    HUBFS_RETURN_IF_ERROR(hub::ValidateRepoPath(d).WithContext(context));
  }
  for (const auto& c : plan.copies) {
    HUBFS_RETURN_IF_ERROR(ValidateUploadPath(c.path_in_repo).WithContext(context));
    if (!seen.insert(c.path_in_repo).second) {
      return InvalidArgumentError(context + ": '" + c.path_in_repo + "' given twice");
    }
  }

  // The commit our change is made against.
  std::string parent;
  if (plan.parent_commit) {
    if (!hub::IsCommitSha(*plan.parent_commit)) {
      return InvalidArgumentError(context + ": bad parent commit");
    }
    parent = *plan.parent_commit;
  } else {
    HUBFS_ASSIGN_OR_RETURN(parent, hub_->ResolveRevision(plan.repo, plan.revision));
  }

  UploadReport report;
  UploadProgress prog;
  prog.files_total = plan.files.size();
  std::vector<PreparedFile> files;
  std::vector<hub::PreuploadFile> pre;
  for (const auto& spec : plan.files) {
    PreparedFile pf;
    pf.spec = spec;
    if (spec.source) {
      pf.file = spec.source;
    } else {
      HUBFS_ASSIGN_OR_RETURN(pf.file, LocalFile::Open(spec.local_path));
    }
    std::string sample(512, '\0');
    HUBFS_ASSIGN_OR_RETURN(size_t n, pf.file->Read(std::span<uint8_t>(
                                         reinterpret_cast<uint8_t*>(sample.data()), sample.size())));
    sample.resize(n);
    HUBFS_RETURN_IF_ERROR(pf.file->Rewind());
    pre.push_back({spec.path_in_repo, pf.file->size(), std::move(sample)});
    prog.total_bytes += pf.file->size();
    files.push_back(std::move(pf));
  }
  if (!pre.empty()) {
    HUBFS_ASSIGN_OR_RETURN(auto answers,
                           commits_->Preupload(plan.repo, plan.revision, pre, plan.create_pr));
    for (size_t i = 0; i < files.size(); ++i) files[i].answer = answers[i];
  }

  std::vector<hub::CommitOperation> ops;
  std::map<std::string, Expectation> expect;  // path -> what the commit leaves there
  std::vector<std::string> uploaded_paths;

  // Inline files: sent from the buffer they were read into.
  for (auto& pf : files) {
    if (pf.answer.should_ignore) {
      ++report.ignored_files;
      continue;
    }
    if (pf.answer.lfs) continue;
    HUBFS_ASSIGN_OR_RETURN(std::string content, ReadAll(pf.file.get(), pf.file->size()));
    HUBFS_RETURN_IF_ERROR(pf.file->CheckUnchanged(content.size()));
    std::string oid = chunkstore::GitBlobId(
        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(content.data()), content.size()));
    prog.hashed_bytes += content.size();
    ++prog.files_done;
    if (progress) progress(prog);
    if (pf.answer.oid && *pf.answer.oid == oid) {
      ++report.unchanged_files;
      continue;
    }
    expect[pf.spec.path_in_repo] = {true, oid, false};
    uploaded_paths.push_back(pf.spec.path_in_repo);
    report.bytes += content.size();
    ++report.inline_files;
    ops.push_back(hub::CommitOperation::File(pf.spec.path_in_repo, std::move(content)));
  }

  // LFS files: one pass each through the Xet engine, unless uploaded ahead.
  std::vector<hub::LfsObject> lfs_objects;
  std::map<std::string, PreparedFile*> lfs_by_oid;
  // A file hashed: its commit operation (and the LFS batch's object).
  auto add_lfs = [&](PreparedFile& pf, const chunkstore::UploadedFile& up) {
    ++prog.files_done;
    std::string oid = chunkstore::HexLower(up.sha256);
    if (pf.answer.oid && *pf.answer.oid == oid) {
      ++report.unchanged_files;
      return;
    }
    expect[pf.spec.path_in_repo] = {true, oid, true};
    uploaded_paths.push_back(pf.spec.path_in_repo);
    report.bytes += up.size;
    ++report.lfs_files;
    ops.push_back(hub::CommitOperation::LfsFile(pf.spec.path_in_repo, oid, up.size));
    if (lfs_by_oid.emplace(oid, &pf).second) lfs_objects.push_back({oid, up.size});
  };
  bool any_lfs = false;
  for (auto& pf : files) {
    if (pf.answer.should_ignore || !pf.answer.lfs) continue;
    std::optional<UploadedAhead> ahead = pf.file->uploaded_ahead();
    if (!ahead) {
      any_lfs = true;
      continue;
    }
    HUBFS_RETURN_IF_ERROR(pf.file->CheckUnchanged(ahead->file.size));
    ++report.ahead_files;
    prog.hashed_bytes += ahead->file.size;
    report.shard_bytes += ahead->shard_bytes;
    pf.ahead = true;
    add_lfs(pf, ahead->file);
  }
  if (any_lfs) {
    hub::XetTokenSupplier tokens = [this, &plan](bool force) {
      return commits_->XetWriteToken(plan.repo, plan.revision, plan.create_pr, force);
    };
    HUBFS_ASSIGN_OR_RETURN(hub::XetToken first, tokens(false));
    XetBackend backend(cas_, tokens, cache_, CasScope(first.cas_url),
                       options_.cache_upload_bytes, options_.cache_upload_free_reserve);
    chunkstore::UploadSession session(&backend, options_.engine);
    const uint64_t base_hashed = prog.hashed_bytes;
    for (auto& pf : files) {
      if (pf.answer.should_ignore || !pf.answer.lfs || pf.ahead) continue;
      UploadSource* lf = pf.file.get();
      HUBFS_RETURN_IF_ERROR(lf->Rewind());
      const uint64_t before = session.stats().bytes_hashed;
      auto on_progress = [&](uint64_t) {
        chunkstore::UploadStats s = session.stats();
        prog.hashed_bytes = base_hashed + s.bytes_hashed;
        prog.uploaded_bytes = s.xorb_bytes_uploaded;
        if (progress) progress(prog);
      };
      std::optional<EditedFrom> edited = lf->edited_from();
      std::optional<chunkstore::FileDigest> base_digest;
      if (edited) base_digest = LoadBaseDigest(cache_, *edited);
      Result<chunkstore::UploadedFile> hashed =
          base_digest
              ? session.AddEditedFile(
                    {&*base_digest, lf->size(), edited->changed_begin, edited->changed_end},
                    [lf](uint64_t offset, std::span<uint8_t> buf) { return lf->ReadAt(offset, buf); },
                    on_progress)
              : session.AddFile([lf](std::span<uint8_t> buf) { return lf->Read(buf); },
                                on_progress);
      HUBFS_RETURN_IF_ERROR(hashed.status());
      chunkstore::UploadedFile up = std::move(*hashed);
      // An edit is read only from its first changed chunk on; AddEditedFile
      // checked that it ended at its size.
      HUBFS_RETURN_IF_ERROR(
          lf->CheckUnchanged(base_digest ? up.size : session.stats().bytes_hashed - before));
      if (base_digest) ++report.edited_files;
      RememberDigest(up);
      add_lfs(pf, up);
    }
    HUBFS_ASSIGN_OR_RETURN(chunkstore::Shard shard, session.Finish());
    report.engine = session.stats();
    prog.uploaded_bytes = report.engine.xorb_bytes_uploaded;
    if (progress) progress(prog);
    HUBFS_ASSIGN_OR_RETURN(uint64_t shard_bytes, SendShard(tokens, shard));
    report.shard_bytes += shard_bytes;
  }

  // The LFS batch: confirms the transfer, and is the basic fallback.
  if (!lfs_objects.empty()) {
    std::optional<std::string> ref;
    if (!plan.create_pr) ref = plan.revision;
    HUBFS_ASSIGN_OR_RETURN(hub::LfsBatchAnswer batch,
                           commits_->LfsBatch(plan.repo, ref, lfs_objects));
    report.transfer = batch.transfer;
    for (const auto& obj : batch.objects) {
      if (obj.error) {
        return Status(ErrorCode::kInvalidArgument,
                      context + ": the Hub refused LFS object " + obj.oid + ": " + *obj.error);
      }
      if (batch.transfer == "xet" || !obj.needs_upload) continue;
      auto it = lfs_by_oid.find(obj.oid);
      if (it == lfs_by_oid.end()) return CorruptError(context + ": LFS batch named an unknown object");
      UploadSource* lf = it->second->file.get();
      if (lf->size() > options_.max_basic_upload_bytes) {
        return ResourceExhaustedError(context + ": " + lf->name() +
                                      " is too large for the basic LFS transfer");
      }
      HUBFS_ASSIGN_OR_RETURN(std::string bytes, ReadAll(lf, lf->size()));
      HUBFS_RETURN_IF_ERROR(lf->CheckUnchanged(bytes.size()));
      auto sha = chunkstore::Sha256Digest(
          std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
      if (chunkstore::HexLower(sha) != obj.oid) {
        return Status(ErrorCode::kFailedPrecondition,
                      lf->name() + " changed while it was being uploaded; nothing was committed");
      }
      HUBFS_RETURN_IF_ERROR(commits_->LfsBasicUpload(obj, std::move(bytes)));
    }
  }

  for (const auto& c : plan.copies) {
    if (!hub::IsHex64(c.sha256)) return InvalidArgumentError(context + ": bad sha256 to copy");
    expect[c.path_in_repo] = {true, c.sha256, true};
    uploaded_paths.push_back(c.path_in_repo);
    ++report.copied_files;
    ops.push_back(hub::CommitOperation::LfsFile(c.path_in_repo, c.sha256, std::nullopt));
  }

  std::vector<std::string> deleted;
  for (const auto& d : plan.deletes) {
    if (expect.count(d) != 0) continue;  // uploaded again in this commit
    expect[d] = {false, {}, false};
    deleted.push_back(d);
    ops.push_back(hub::CommitOperation::DeletedFile(d));
  }
  report.deleted_files = deleted.size();
  if (ops.empty()) {
    report.committed = false;
    report.commit.commit_oid = parent;
    return report;
  }

  hub::CommitRequest req;
  req.summary = plan.summary.empty() ? DefaultCommitSummary(uploaded_paths, deleted) : plan.summary;
  req.description = plan.description;
  req.create_pr = plan.create_pr;
  req.operations = std::move(ops);
  std::vector<std::string> touched;
  for (const auto& [path, want] : expect) touched.push_back(path);

  // Whether `commit`'s tree holds every change of this commit.
  auto landed_in = [&](const std::string& commit) -> Result<bool> {
    HUBFS_ASSIGN_OR_RETURN(auto entries, hub_->PathsInfo(plan.repo, commit, touched, false));
    std::map<std::string, const hub::TreeEntry*> at;
    for (const auto& e : entries) at[e.path] = &e;
    for (const auto& [path, want] : expect) {
      auto it = at.find(path);
      if (!EntryMatches(it == at.end() ? nullptr : it->second, want)) return false;
    }
    return true;
  };
  // The first touched path whose entry differs between two commits.
  auto changed_between = [&](const std::string& a,
                             const std::string& b) -> Result<std::optional<std::string>> {
    HUBFS_ASSIGN_OR_RETURN(auto ea, hub_->PathsInfo(plan.repo, a, touched, false));
    HUBFS_ASSIGN_OR_RETURN(auto eb, hub_->PathsInfo(plan.repo, b, touched, false));
    std::map<std::string, std::string> oa, ob;
    for (const auto& e : ea) oa[e.path] = e.oid;
    for (const auto& e : eb) ob[e.path] = e.oid;
    for (const auto& p : touched) {
      auto ia = oa.find(p);
      auto ib = ob.find(p);
      const bool pa = ia != oa.end(), pb = ib != ob.end();
      if (pa != pb || (pa && ia->second != ib->second)) return std::optional<std::string>(p);
    }
    return std::optional<std::string>();
  };

  // The report of a commit found on the branch although its answer was lost.
  auto landed_report = [&](const std::string& head) {
    report.committed = true;
    report.commit.commit_oid = head;
    report.commit.commit_url = commits_->endpoint() + "/" +
                               std::string(hub::RepoTypeWebPrefix(plan.repo.type)) +
                               plan.repo.Id() + "/commit/" + head;
    return report;
  };
  bool retried_lost = false;
  for (;;) {
    req.parent_commit = parent;
    Result<hub::CommitResult> r = commits_->Commit(plan.repo, plan.revision, req);
    if (r.ok()) {
      if (!plan.create_pr) {
        // The answer names the new commit; it must be on the branch (the
        // head, or in its recent history if others committed since).
        HUBFS_ASSIGN_OR_RETURN(std::string head, hub_->ResolveRevision(plan.repo, plan.revision));
        if (head != r->commit_oid) {
          HUBFS_ASSIGN_OR_RETURN(std::vector<hub::CommitSummary> recent,
                                 commits_->ListCommits(plan.repo, plan.revision, 100));
          if (std::none_of(recent.begin(), recent.end(),
                           [&](const hub::CommitSummary& c) { return c.id == r->commit_oid; })) {
            HUBFS_LOG(kError) << "upload: the Hub answered commit " << r->commit_oid
                              << ", which is not on " << target;
            return CorruptError(context + ": the Hub answered commit " + r->commit_oid +
                                ", which is not on the branch (its head is " + head +
                                "); whether the upload landed is unknown");
          }
        }
      }
      report.committed = true;
      report.commit = std::move(r).value();
      return report;
    }
    const Status& st = r.status();
    if (st.code() == ErrorCode::kFailedPrecondition && st.http_status() == 412 &&
        !plan.create_pr) {
      if (report.rebases >= options_.max_rebases) return st;
      HUBFS_ASSIGN_OR_RETURN(std::string head, hub_->ResolveRevision(plan.repo, plan.revision));
      // The branch may hold this very change already: a commit whose answer
      // was lost, or one that landed but whose record a full disk or a kill
      // kept out of the caller's journal. Sending it again would make an
      // empty commit, or a pull request of our own change.
      HUBFS_ASSIGN_OR_RETURN(bool landed, landed_in(head));
      if (landed) return landed_report(head);
      HUBFS_ASSIGN_OR_RETURN(std::optional<std::string> changed, changed_between(parent, head));
      if (changed && plan.conflict_to_pr && !req.create_pr) {
        HUBFS_LOG(kWarning) << "upload: " << target << " moved to " << head.substr(0, 12)
                            << " and '" << *changed
                            << "' changed there; sending the change to a new pull request";
        req.create_pr = true;
        req.description += (req.description.empty() ? "" : "\n\n") +
                           std::string("The branch moved and '") + *changed +
                           "' changed there; opened as a pull request based on " +
                           parent.substr(0, 12) + ".";
        HUBFS_ASSIGN_OR_RETURN(hub::CommitResult pr, commits_->Commit(plan.repo, plan.revision, req));
        report.committed = true;
        report.conflict_pr = pr.pr_number;
        report.commit = std::move(pr);
        return report;
      }
      if (changed) {
        return Status(ErrorCode::kFailedPrecondition,
                      context + ": the branch moved to " + head.substr(0, 12) + " and '" +
                          *changed + "' changed there; nothing was committed (upload again, or " +
                          "use --create-pr)")
            .WithHttp(412);
      }
      HUBFS_LOG(kInfo) << "upload: " << target << " moved to " << head.substr(0, 12)
                       << "; none of the uploaded paths changed there, rebasing";
      parent = head;
      ++report.rebases;
      continue;
    }
    // No HTTP answer: the commit may have landed. Never send it twice blindly.
    if (st.http_status() == 0 && !plan.create_pr &&
        (st.code() == ErrorCode::kUnavailable || st.code() == ErrorCode::kTimeout)) {
      HUBFS_ASSIGN_OR_RETURN(std::string head, hub_->ResolveRevision(plan.repo, plan.revision));
      if (head != parent) {
        HUBFS_ASSIGN_OR_RETURN(bool landed, landed_in(head));
        if (landed) return landed_report(head);
        return st.WithContext("the commit's answer was lost and the branch moved");
      }
      if (!retried_lost) {
        retried_lost = true;
        continue;
      }
    }
    return st;
  }
}

}  // namespace hubfs::fs
