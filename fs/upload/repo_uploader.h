// RepoUploader: one commit of local files to a Hub repo (design §5, hub-api
// §6, xet.md §6.4): preupload decides inline vs LFS; LFS files go through the
// Xet upload engine (one pass: hashes, dedup, xorbs) and one shard; the LFS
// batch confirms the transfer (and falls back to basic uploads); then the
// NDJSON commit with `parentCommit`. Files unchanged on the Hub are left out;
// a call with nothing left to change sends no commit.
//
// What it promises (docs/SEMANTICS.md, "Uploads"):
// - the bytes committed are the bytes hashed: a file whose size, mtime or
//   inode changed while it was read is refused (kFailedPrecondition), and an
//   inline file is sent from the one buffer it was read into;
// - never overwrites someone else's change: on 412 it rebases onto the new
//   head only when none of the paths it touches changed upstream, else
//   kFailedPrecondition naming the path;
// - a commit whose answer was lost is not made twice: the branch head is
//   checked before any retry;
// - uploaded chunks go into the chunk cache (reading back is network-free, up
//   to RepoUploaderOptions::cache_upload_bytes, while the disk keeps
//   cache_upload_free_reserve free) and into the cache's local
//   dedup index.
#ifndef HUBFS_FS_UPLOAD_REPO_UPLOADER_H_
#define HUBFS_FS_UPLOAD_REPO_UPLOADER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <optional>
#include <string>
#include <vector>

#include "chunkstore/cache.h"
#include "chunkstore/upload.h"
#include "common/status.h"
#include "hub/cas_upload.h"
#include "hub/commit_client.h"
#include "hub/hub_client.h"

namespace hubfs::fs {

// A file that is an edited copy of a Xet file of the Hub (the base): bytes
// outside [changed_begin, changed_end) are the base's, at the same offsets
// (changed_end is the file's size when its size is not the base's).
struct EditedFrom {
  std::string xet_hash;               // the base's Xet file hash
  std::optional<std::string> sha256;  // the base's LFS oid, when known
  uint64_t size = 0;                  // the base's size
  uint64_t changed_begin = 0;
  uint64_t changed_end = 0;
};

// A file hashed and uploaded before its commit (RepoUploader::UploadAhead):
// its chunks and its shard are on the CAS, so a commit only names it.
struct UploadedAhead {
  chunkstore::UploadedFile file;
  chunkstore::UploadStats engine;
  uint64_t shard_bytes = 0;
};

// Where the bytes of one uploaded file come from. Read sequentially from the
// start (Rewind starts over); CheckUnchanged fails (kFailedPrecondition,
// "... changed while it was being read ...") when the content may differ
// from what was read. Used by one thread at a time.
class UploadSource {
 public:
  virtual ~UploadSource() = default;
  virtual const std::string& name() const = 0;  // for messages
  virtual uint64_t size() const = 0;            // as of opening
  virtual Result<size_t> Read(std::span<uint8_t> buf) = 0;
  virtual Status Rewind() = 0;
  virtual Status CheckUnchanged(uint64_t bytes_read) const = 0;
  // Set for an edited copy of a Hub file: given the base's chunk list (the
  // cache's, when this machine hashed the base), only the changed bytes are
  // chunked and hashed, and the SHA-256 reads from the last saved state
  // before them; the file is then read with ReadAt.
  virtual std::optional<EditedFrom> edited_from() const { return std::nullopt; }
  // Reads from `offset` (0 at the end); only for a source with edited_from().
  virtual Result<size_t> ReadAt(uint64_t offset, std::span<uint8_t> buf) {
    (void)offset;
    (void)buf;
    return UnimplementedError("positional read of " + name());
  }
  // A source whose bytes were uploaded ahead of the commit (a file hashed
  // while it was written): that upload's result when it describes exactly
  // this source's content as of opening (the uploader then checks
  // CheckUnchanged(size) as for any file); nullopt: read and upload it.
  // May wait for that upload to end.
  virtual std::optional<UploadedAhead> uploaded_ahead() { return std::nullopt; }
};

// A local file as an UploadSource (size, mtime, ctime and inode must not
// change while it is read). Errors: kNotFound, kInvalidArgument (not a
// regular file), kIo.
Result<std::unique_ptr<UploadSource>> OpenLocalSource(const std::string& path);

struct UploadFileSpec {
  std::string path_in_repo;
  std::string local_path;                // read when `source` is not given
  std::shared_ptr<UploadSource> source;  // else opened from local_path
};

// An LFS/Xet file the repo already has, committed at another path by its
// SHA-256 without uploading anything (a rename).
struct CopySpec {
  std::string path_in_repo;
  std::string sha256;
};

struct UploadPlan {
  hub::RepoId repo;
  std::string revision = "main";  // a branch or refs/pr/N
  bool create_pr = false;
  std::vector<UploadFileSpec> files;
  std::vector<CopySpec> copies;
  std::vector<std::string> deletes;  // repo paths of files to delete
  std::string summary;               // empty: made from what changed
  std::string description;
  // The commit the change was made against (a writable mount's base); unset:
  // the branch head when the call starts. A branch that moved past it meets
  // the 412 rules below, so a change made against an older state never
  // overwrites what others committed since.
  std::optional<std::string> parent_commit;
  // The branch moved and a touched path changed there: open a pull request
  // with the change, based on the commit it was made against, instead of
  // failing.
  bool conflict_to_pr = false;
};

struct UploadProgress {
  uint64_t total_bytes = 0;
  uint64_t hashed_bytes = 0;
  uint64_t uploaded_bytes = 0;  // xorb bodies sent
  size_t files_done = 0;
  size_t files_total = 0;
};

struct UploadReport {
  bool committed = false;  // false: nothing changed, no commit sent
  hub::CommitResult commit;
  size_t inline_files = 0;
  size_t lfs_files = 0;
  size_t unchanged_files = 0;
  size_t ignored_files = 0;
  size_t deleted_files = 0;
  uint64_t bytes = 0;
  int rebases = 0;
  size_t copied_files = 0;
  // LFS files hashed as edits of their base (only the changed bytes chunked).
  size_t edited_files = 0;
  // LFS files uploaded ahead of the commit (UploadSource::uploaded_ahead).
  size_t ahead_files = 0;
  // Set when conflict_to_pr sent the change to a new pull request.
  std::optional<uint64_t> conflict_pr;
  std::string transfer;  // "xet" or "basic" (LFS files only)
  chunkstore::UploadStats engine;
  uint64_t shard_bytes = 0;
};

struct RepoUploaderOptions {
  chunkstore::UploadOptions engine;
  int max_rebases = 5;
  // Chunk bytes of one upload that go into the chunk cache (so that reading
  // them back needs no network); past it only the dedup index is kept, so a
  // large upload neither evicts the cache nor waits on its writer.
  uint64_t cache_upload_bytes = 2ull << 30;
  // ... and only while the cache dir's filesystem keeps this much free
  // beyond them: a writable mount's staging files share that disk, and a
  // file uploaded while it is written must not fill it under its writer
  // (its chunks would hold the space after the file is deleted).
  uint64_t cache_upload_free_reserve = 1ull << 30;
  // Files at least this large leave their chunk list in the cache (kind
  // "chunklist"), so that an edit of them later hashes only what changed.
  uint64_t min_chunk_list_bytes = 8u << 20;
  // Largest file the LFS basic fallback holds in memory.
  uint64_t max_basic_upload_bytes = 2ull << 30;
  // UploadAhead calls that may run at once (TryReserveAhead).
  int max_uploads_ahead = 2;
};

class RepoUploader {
 public:
  // Everything must outlive the uploader; `cache` may be null.
  RepoUploader(hub::HubClient* hub, hub::CommitClient* commits, hub::CasWriter* cas,
               chunkstore::ChunkCache* cache, RepoUploaderOptions options = {});

  // Uploads plan.files and deletes plan.deletes in one commit. Errors:
  // kInvalidArgument (empty plan, bad path, not a regular file), kNotFound
  // (repo, revision, a local file), kFailedPrecondition (a local file changed
  // while read; the branch moved and a touched path changed upstream),
  // kUnauthenticated/kPermissionDenied (no write access), kIo, and the
  // Hub's and CAS's errors. Nothing is committed on any error.
  Result<UploadReport> Upload(const UploadPlan& plan,
                              const std::function<void(const UploadProgress&)>& progress = {});

  // Hashes one file and uploads its xorbs and its shard to the CAS of
  // `repo` (with a Xet write token for `revision`, or for a new pull
  // request), without committing: a later Upload whose source answers
  // uploaded_ahead() with the result commits it by its SHA-256. `read` as
  // UploadSession::AddFile's; its error ends the upload. Errors: the
  // reader's, the CAS's, the Hub's.
  Result<UploadedAhead> UploadAhead(const hub::RepoId& repo, const std::string& revision,
                                    bool create_pr, const chunkstore::UploadReadFn& read);
  // One of the options.max_uploads_ahead slots, or false when all are
  // taken; ReleaseAhead gives it back.
  bool TryReserveAhead();
  void ReleaseAhead();

 private:
  // The chunk list of a file just hashed, for later edits of it.
  void RememberDigest(const chunkstore::UploadedFile& up);
  // POSTs a session's shard and keeps its files' terms in the cache.
  // Returns the shard's size (0: nothing to send).
  Result<uint64_t> SendShard(const hub::XetTokenSupplier& tokens, const chunkstore::Shard& shard);

  hub::HubClient* const hub_;
  hub::CommitClient* const commits_;
  hub::CasWriter* const cas_;
  chunkstore::ChunkCache* const cache_;
  const RepoUploaderOptions options_;
  std::atomic<int> ahead_running_{0};
};

// The default summary: "Upload a.bin with hubfs", "Upload 3 files and delete
// 1 file with hubfs", ...
std::string DefaultCommitSummary(const std::vector<std::string>& uploaded,
                                 const std::vector<std::string>& deleted);

}  // namespace hubfs::fs

#endif  // HUBFS_FS_UPLOAD_REPO_UPLOADER_H_
