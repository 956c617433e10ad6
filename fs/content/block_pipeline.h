// RunBlockPipeline: a whole byte stream [0, total) read in fixed blocks by
// several threads at once and handed on in order - the shape of a verifying
// whole-file read (XetReader::ReadAllVerified): blocks are read ahead in
// parallel into a ring of `slots` buffers, the calling thread consumes each
// in order (`consume`: the sink and the chunk hasher) and a second ordered
// stage (`follow`: SHA-256) runs beside it on any thread. A buffer is reused
// once both stages are done with its block, so the memory is `slots` blocks,
// allocated once.
//
// The threads are the caller and up to `readers` helpers of `pool`
// (fs/content/fan_out_pool.h). The caller never waits for work nobody has
// started: when a block it needs is not being read, it reads it itself, and
// it runs `follow` itself when that stage lags, so the pipeline finishes
// however few helpers the pool can lend (with none: one block at a time).
//
// `read(offset, out)` must fill all of out (the bytes at offset) or fail.
// The first error of any stage stops the pipeline (blocks being read are
// finished, nothing more is started) and is returned; `consume` has then
// seen exactly the blocks before the failed one, in order.
#ifndef HUBFS_FS_CONTENT_BLOCK_PIPELINE_H_
#define HUBFS_FS_CONTENT_BLOCK_PIPELINE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>

#include "common/status.h"
#include "fs/content/fan_out_pool.h"

namespace hubfs::fs {

struct BlockPipelineOptions {
  size_t block_bytes = 8u << 20;
  size_t slots = 4;    // buffers, so at most `slots` blocks ahead of the consumer
  size_t readers = 3;  // helper threads asked of the pool
};

Status RunBlockPipeline(FanOutPool& pool, uint64_t total, const BlockPipelineOptions& options,
                        const std::function<Status(uint64_t, std::span<uint8_t>)>& read,
                        const std::function<Status(std::span<const uint8_t>)>& consume,
                        const std::function<void(std::span<const uint8_t>)>& follow);

}  // namespace hubfs::fs

#endif  // HUBFS_FS_CONTENT_BLOCK_PIPELINE_H_
