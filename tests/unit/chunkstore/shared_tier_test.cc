#include "chunkstore/shared_tier.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/unit/chunkstore/fake_tier_backend.h"

namespace hubfs::chunkstore {
namespace {

using std::chrono::milliseconds;
using testing::FakeTierBackend;

Hash XorbOf(uint8_t b) {
  Hash h;
  h.bytes.fill(b);
  return h;
}

std::vector<uint8_t> Bytes(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + i * 7);
  return v;
}

TEST(SharedTierFormat, ValueRoundTripsAndDamageIsRefused) {
  const std::string key = TierChunkKey(XorbOf(1), 5);
  EXPECT_EQ(key.rfind("hubfs1:", 0), 0u);
  EXPECT_EQ(key.substr(key.size() - 2), ":5");
  const std::vector<uint8_t> rec = Bytes(1000, 3);
  const std::vector<uint8_t> v = EncodeTierValue(key, 123456, rec);
  ASSERT_EQ(v.size(), kTierHeaderSize + rec.size());
  Result<TierRecord> back = DecodeTierValue(key, v);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->offset, 123456u);
  EXPECT_EQ(back->record, rec);

  // Any flipped byte (header or record), a value under another key, a
  // truncated value and another version are refused.
  for (size_t i : {size_t{0}, size_t{5}, size_t{13}, size_t{21}, size_t{24}, v.size() - 1}) {
    std::vector<uint8_t> bad = v;
    bad[i] ^= 0x10;
    Result<TierRecord> r = DecodeTierValue(key, bad);
    ASSERT_FALSE(r.ok()) << "byte " << i;
    EXPECT_EQ(r.status().code(), ErrorCode::kCorrupt);
  }
  EXPECT_FALSE(DecodeTierValue(TierChunkKey(XorbOf(1), 6), v).ok());
  EXPECT_FALSE(DecodeTierValue(key, std::span<const uint8_t>(v).first(v.size() - 1)).ok());
  EXPECT_FALSE(DecodeTierValue(key, std::span<const uint8_t>(v).first(10)).ok());
}

TEST(SharedTierFormat, ParsesServerLists) {
  auto one = ParseSharedCacheUrl("memcached://127.0.0.1:11211");
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ(*one, std::vector<std::string>{"127.0.0.1:11211"});
  auto three = ParseSharedCacheUrl("memcached://a:1,b.example:2,10.0.0.3:65535");
  ASSERT_TRUE(three.ok()) << three.status();
  EXPECT_EQ(three->size(), 3u);
  auto plus = ParseSharedCacheUrl("memcached://a:1+b.example:2,10.0.0.3:65535");
  ASSERT_TRUE(plus.ok()) << plus.status();
  EXPECT_EQ(*plus, *three);
  for (const char* bad : {"", "memcached://", "http://a:1", "memcached://a", "memcached://a:",
                          "memcached://:1", "memcached://a:0", "memcached://a:70000",
                          "memcached://a:1,", "memcached://a:1+", "memcached://a:1x",
                          "memcached://a:1/x"}) {
    auto r = ParseSharedCacheUrl(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument) << bad;
    }
  }
}

class SharedTierTest : public ::testing::Test {
 protected:
  std::unique_ptr<SharedTier> NewTier(SharedTierOptions o = {}) {
    return std::make_unique<SharedTier>(std::make_unique<FakeTierBackend>(&state_), o);
  }
  void PutRun(SharedTier& t, const Hash& x, ChunkRange r, bool lease = false) {
    std::vector<uint64_t> offs;
    std::vector<std::vector<uint8_t>> recs;
    for (uint32_t i = r.start; i < r.end; ++i) {
      offs.push_back(i * 100);
      recs.push_back(Bytes(100, static_cast<uint8_t>(i)));
    }
    t.Put(x, r, offs, recs, lease);
  }
  FakeTierBackend::State state_;
};

TEST_F(SharedTierTest, PutThenGetWithOffsets) {
  auto t = NewTier();
  PutRun(*t, XorbOf(2), {3, 7});
  ASSERT_TRUE(t->Drain(milliseconds(2000)));
  auto got = t->Get(XorbOf(2), {2, 8});
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got.begin()->first, 3u);
  EXPECT_EQ(got.at(5).offset, 500u);
  EXPECT_EQ(got.at(5).record, Bytes(100, 5));
  const SharedTierStats s = t->Stats();
  EXPECT_EQ(s.hits, 4u);
  EXPECT_EQ(s.misses, 2u);
  EXPECT_EQ(s.puts, 4u);
  EXPECT_EQ(s.errors, 0u);
}

TEST_F(SharedTierTest, DamagedEntryIsRefusedOthersServed) {
  auto t = NewTier();
  PutRun(*t, XorbOf(2), {0, 3});
  ASSERT_TRUE(t->Drain(milliseconds(2000)));
  {
    std::lock_guard<std::mutex> l(state_.mu);
    state_.data.at(TierChunkKey(XorbOf(2), 1))[30] ^= 1;
  }
  auto got = t->Get(XorbOf(2), {0, 3});
  EXPECT_EQ(got.size(), 2u);
  EXPECT_EQ(got.count(1), 0u);
  EXPECT_EQ(t->Stats().corrupt, 1u);
}

TEST_F(SharedTierTest, DeadEngineOpensTheCircuitThenOneProbe) {
  SharedTierOptions o;
  o.initial_backoff = milliseconds(200);
  auto t = NewTier(o);
  {
    std::lock_guard<std::mutex> l(state_.mu);
    state_.fail = true;
  }
  EXPECT_TRUE(t->Get(XorbOf(4), {0, 4}).empty());
  EXPECT_EQ(t->Stats().errors, 1u);
  EXPECT_TRUE(t->Stats().down);
  // Bypassed: nothing reaches the engine during the back-off.
  const int calls = state_.calls;
  EXPECT_TRUE(t->Get(XorbOf(4), {0, 4}).empty());
  EXPECT_EQ(t->TryLease(XorbOf(4), {0, 4}), SharedTier::Lease::kUnavailable);
  EXPECT_EQ(state_.calls, calls);
  EXPECT_EQ(t->Stats().bypassed, 2u);
  // After it, one probe; it fails again and the back-off doubles.
  std::this_thread::sleep_for(milliseconds(250));
  EXPECT_TRUE(t->Get(XorbOf(4), {0, 4}).empty());
  EXPECT_EQ(state_.calls, calls + 1);
  EXPECT_EQ(t->Stats().errors, 2u);
  std::this_thread::sleep_for(milliseconds(250));
  EXPECT_TRUE(t->Get(XorbOf(4), {0, 4}).empty());
  EXPECT_EQ(state_.calls, calls + 1) << "still inside the doubled back-off";
  // Recovered: the next probe closes the circuit.
  {
    std::lock_guard<std::mutex> l(state_.mu);
    state_.fail = false;
  }
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_EQ(t->TryLease(XorbOf(4), {0, 4}), SharedTier::Lease::kWon);
  EXPECT_FALSE(t->Stats().down);
}

TEST_F(SharedTierTest, FullQueueDropsInsteadOfBlocking) {
  SharedTierOptions o;
  o.queue_max_entries = 1;
  o.drain_timeout = milliseconds(0);
  auto t = NewTier(o);
  {
    std::lock_guard<std::mutex> l(state_.mu);
    state_.hold_sets = true;  // the writer blocks in its first Set
  }
  const auto start = std::chrono::steady_clock::now();
  for (uint8_t i = 0; i < 5; ++i) PutRun(*t, XorbOf(i), {0, 2});
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(500));
  // One job taken by the writer, one queued, three dropped (2 chunks each).
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_GE(t->Stats().dropped, 6u);
  {
    std::lock_guard<std::mutex> l(state_.mu);
    state_.hold_sets = false;
  }
  state_.cv.notify_all();
  ASSERT_TRUE(t->Drain(milliseconds(2000)));
  EXPECT_EQ(t->Stats().puts + t->Stats().dropped, 10u);
}

TEST_F(SharedTierTest, LeaseIsExclusiveUntilTheRunIsWritten) {
  auto a = NewTier();
  auto b = NewTier();  // another node on the same engine
  EXPECT_EQ(a->TryLease(XorbOf(9), {0, 4}), SharedTier::Lease::kWon);
  EXPECT_EQ(b->TryLease(XorbOf(9), {0, 4}), SharedTier::Lease::kLost);
  EXPECT_EQ(b->TryLease(XorbOf(9), {4, 8}), SharedTier::Lease::kWon);
  PutRun(*a, XorbOf(9), {0, 4}, /*lease=*/true);
  ASSERT_TRUE(a->Drain(milliseconds(2000)));
  EXPECT_EQ(b->Get(XorbOf(9), {0, 4}).size(), 4u);
  EXPECT_EQ(b->TryLease(XorbOf(9), {0, 4}), SharedTier::Lease::kWon);
  b->ReleaseLease(XorbOf(9), {0, 4});
  ASSERT_TRUE(b->Drain(milliseconds(2000)));
  EXPECT_EQ(a->TryLease(XorbOf(9), {0, 4}), SharedTier::Lease::kWon);
}

TEST_F(SharedTierTest, OneDeadServerBypassesOnlyItsXorbs) {
  state_.servers = 3;
  SharedTierOptions o;
  o.initial_backoff = milliseconds(60000);  // no probe during the test
  auto t = NewTier(o);
  FakeTierBackend probe(&state_);
  const ChunkRange run{0, 20};
  // Xorbs on every server; a run's chunks all live on its xorb's server.
  std::map<size_t, std::vector<uint8_t>> xorbs_on;  // server -> xorb seeds
  for (uint8_t x = 10; x < 40; ++x) {
    xorbs_on[probe.ServerFor(TierGroup(XorbOf(x)))].push_back(x);
    PutRun(*t, XorbOf(x), run);
  }
  ASSERT_EQ(xorbs_on.size(), 3u);
  ASSERT_TRUE(t->Drain(milliseconds(2000)));
  // Server 1 dies.
  {
    std::lock_guard<std::mutex> l(state_.mu);
    state_.failing.insert(1);
  }
  const uint8_t dead = xorbs_on[1][0];
  EXPECT_TRUE(t->Get(XorbOf(dead), run).empty());
  SharedTierStats s = t->Stats();
  EXPECT_EQ(s.errors, 1u);
  EXPECT_EQ(s.servers, 3u);
  EXPECT_EQ(s.servers_down, 1u);
  // The live servers serve every run of theirs, exactly; the dead one's
  // xorbs are bypassed without asking it (its circuit is open).
  const int calls = state_.calls;
  for (size_t server : {size_t{0}, size_t{2}}) {
    for (uint8_t x : xorbs_on[server]) {
      auto got = t->Get(XorbOf(x), run);
      ASSERT_EQ(got.size(), run.size()) << "xorb " << int(x) << " on server " << server;
      for (const auto& [index, rec] : got) {
        EXPECT_EQ(rec.record, Bytes(100, static_cast<uint8_t>(index)));
      }
    }
  }
  EXPECT_EQ(state_.calls, calls + static_cast<int>(xorbs_on[0].size() + xorbs_on[2].size()));
  for (uint8_t x : xorbs_on[1]) EXPECT_TRUE(t->Get(XorbOf(x), run).empty());
  EXPECT_EQ(state_.calls, calls + static_cast<int>(xorbs_on[0].size() + xorbs_on[2].size()));
  EXPECT_EQ(t->Stats().errors, 1u);
  EXPECT_GE(t->Stats().bypassed, xorbs_on[1].size());
  // Leases: unavailable on the dead server (the caller fetches), working on
  // the others. Write-backs to the dead one are dropped, the others' land.
  EXPECT_EQ(t->TryLease(XorbOf(dead), {0, 4}), SharedTier::Lease::kUnavailable);
  EXPECT_EQ(t->TryLease(XorbOf(xorbs_on[0][0]), {0, 4}), SharedTier::Lease::kWon);
  const SharedTierStats before = t->Stats();
  PutRun(*t, XorbOf(dead), {20, 30});
  PutRun(*t, XorbOf(xorbs_on[2][0]), {20, 30});
  ASSERT_TRUE(t->Drain(milliseconds(2000)));
  EXPECT_EQ(t->Stats().puts - before.puts, 10u);
  EXPECT_EQ(t->Stats().dropped - before.dropped, 10u);
}

TEST_F(SharedTierTest, RecheckCountsNoMisses) {
  auto t = NewTier();
  PutRun(*t, XorbOf(6), {0, 2});
  ASSERT_TRUE(t->Drain(milliseconds(2000)));
  EXPECT_EQ(t->Get(XorbOf(6), {0, 4}, /*recheck=*/true).size(), 2u);
  EXPECT_EQ(t->Stats().misses, 0u);
  EXPECT_EQ(t->Stats().hits, 0u) << "not whole: not served";
  EXPECT_EQ(t->Get(XorbOf(6), {0, 2}, /*recheck=*/true).size(), 2u);
  EXPECT_EQ(t->Stats().hits, 2u);
}

}  // namespace
}  // namespace hubfs::chunkstore
