#include "fs/content/buffer_pool.h"

#include <gtest/gtest.h>

#include <vector>

namespace hubfs::fs {
namespace {

TEST(BufferPoolTest, ReusesTheSmallestBufferThatFits) {
  BufferPool pool(100 << 20, 10 << 20);
  std::vector<uint8_t> a = pool.Take(3 << 20);
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(a.capacity(), size_t{3} << 20);  // a MiB multiple
  std::vector<uint8_t> b = pool.Take((5 << 20) + 1);
  EXPECT_EQ(b.capacity(), size_t{6} << 20);
  a.assign(1000, 7);
  const uint8_t* a_data = a.data();
  const uint8_t* b_data = b.data();
  pool.Give(std::move(a));
  pool.Give(std::move(b));
  EXPECT_EQ(pool.kept_bytes(), uint64_t{9} << 20);

  std::vector<uint8_t> c = pool.Take(2 << 20);  // both fit: the 3 MiB one
  EXPECT_EQ(c.data(), a_data);
  EXPECT_TRUE(c.empty());  // given back cleared
  std::vector<uint8_t> d = pool.Take(4 << 20);
  EXPECT_EQ(d.data(), b_data);
  EXPECT_EQ(pool.kept_bytes(), 0u);
}

TEST(BufferPoolTest, NoneLargeEnoughLetsTheLargestGo) {
  BufferPool pool(100 << 20, 10 << 20);
  std::vector<uint8_t> one = pool.Take(1 << 20);
  std::vector<uint8_t> two = pool.Take(2 << 20);
  pool.Give(std::move(one));
  pool.Give(std::move(two));
  EXPECT_EQ(pool.kept_bytes(), uint64_t{3} << 20);
  std::vector<uint8_t> big = pool.Take(4 << 20);
  EXPECT_GE(big.capacity(), size_t{4} << 20);
  EXPECT_EQ(pool.kept_bytes(), uint64_t{1} << 20);  // the 2 MiB one was dropped
}

TEST(BufferPoolTest, KeepsWithinItsBounds) {
  BufferPool pool(5 << 20, 3 << 20);
  pool.Give(pool.Take(4 << 20));  // over max_buffer_bytes: freed
  EXPECT_EQ(pool.kept_bytes(), 0u);
  std::vector<uint8_t> x = pool.Take(3 << 20);
  std::vector<uint8_t> y = pool.Take(3 << 20);
  pool.Give(std::move(x));
  pool.Give(std::move(y));  // would make 6 MiB: freed
  EXPECT_EQ(pool.kept_bytes(), uint64_t{3} << 20);
  pool.Give(std::vector<uint8_t>());  // no capacity: nothing kept
  EXPECT_EQ(pool.kept_bytes(), uint64_t{3} << 20);
}

TEST(BufferPoolTest, ClearFreesWhatIsKept) {
  BufferPool pool(100 << 20, 10 << 20);
  std::vector<uint8_t> a = pool.Take(1 << 20);
  std::vector<uint8_t> b = pool.Take(2 << 20);
  pool.Give(std::move(a));
  pool.Give(std::move(b));
  EXPECT_EQ(pool.kept_bytes(), uint64_t{3} << 20);
  pool.Clear();
  EXPECT_EQ(pool.kept_bytes(), 0u);
  EXPECT_GE(pool.Take(1 << 20).capacity(), size_t{1} << 20);  // a new one
}

}  // namespace
}  // namespace hubfs::fs
