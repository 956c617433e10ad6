#include "fs/vfs/inode_table.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace hubfs::fs {
namespace {

std::shared_ptr<const NodeMeta> File(const std::string& oid, uint64_t size = 1) {
  auto m = std::make_shared<NodeMeta>();
  m->oid = oid;
  m->size = size;
  return m;
}

std::shared_ptr<const NodeMeta> Dir(const std::string& oid) {
  auto m = std::make_shared<NodeMeta>();
  m->is_dir = true;
  m->oid = oid;
  return m;
}

class InodeTableTest : public ::testing::Test {
 protected:
  InodeTableTest() : table_(100) { root_ = table_.AddRoot(0, "", Dir("")); }

  uint64_t Ref(const std::string& path, std::shared_ptr<const NodeMeta> meta) {
    auto ino = table_.Ref(0, path, std::move(meta));
    EXPECT_TRUE(ino.ok());
    return ino.ok() ? *ino : 0;
  }

  InodeTable table_;
  uint64_t root_ = 0;
};

TEST_F(InodeTableTest, SameContentSameInodeChangedContentNewInode) {
  const uint64_t a = Ref("a", File("oid1"));
  EXPECT_EQ(Ref("a", File("oid1")), a);
  // Changed on the Hub: a new number; the old inode lives on, unnamed.
  const uint64_t b = Ref("a", File("oid2"));
  EXPECT_NE(b, a);
  EXPECT_EQ(table_.Find(0, "a"), b);
  ASSERT_TRUE(table_.Get(a).ok());
  EXPECT_EQ(table_.Get(a)->meta->oid, "oid1");
}

TEST_F(InodeTableTest, ADirectoryKeepsItsNumberWhenItsTreeChanges) {
  const uint64_t d = Ref("d", Dir("tree1"));
  const uint64_t f = Ref("d/f", File("oid1"));
  // A commit under d changes its tree oid: the same directory, same number
  // (its child keeps its own, so the kernel never sees it under two parents).
  EXPECT_EQ(Ref("d", Dir("tree2")), d);
  ASSERT_TRUE(table_.Get(d).ok());
  EXPECT_EQ(table_.Get(d)->meta->oid, "tree2");
  EXPECT_EQ(Ref("d/f", File("oid1")), f);
  // Both lookups counted: the first forget leaves it alive.
  EXPECT_FALSE(table_.Forget(d, 1).has_value());
  EXPECT_TRUE(table_.Forget(d, 1).has_value());
  // A directory that became a file (or the other way round) is a new inode.
  const uint64_t e = Ref("e", Dir("tree1"));
  EXPECT_NE(Ref("e", File("tree1")), e);
}

TEST_F(InodeTableTest, UpdateKeepsTheNumberAndName) {
  const uint64_t a = Ref("a", File("oid1", 5));
  ASSERT_TRUE(table_.Update(a, File("local", 9)).ok());
  EXPECT_EQ(table_.Find(0, "a"), a);
  auto info = table_.Get(a);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->meta->oid, "local");
  EXPECT_EQ(info->meta->size, 9u);
  // A lookup that sees the edited content finds the same inode.
  EXPECT_EQ(Ref("a", File("local", 9)), a);
  EXPECT_FALSE(table_.Update(12345, File("x")).ok());
}

TEST_F(InodeTableTest, RenameKeepsNumbersAndLookupCounts) {
  const uint64_t f = Ref("a.txt", File("oid1"));
  Ref("a.txt", File("oid1"));  // two references
  ASSERT_TRUE(table_.Rename(0, "a.txt", "b.txt").ok());
  EXPECT_EQ(table_.Find(0, "a.txt"), 0u);
  EXPECT_EQ(table_.Find(0, "b.txt"), f);
  EXPECT_EQ(table_.Get(f)->path, "b.txt");
  // A lookup of the new name with the same content finds the same inode.
  EXPECT_EQ(Ref("b.txt", File("oid1")), f);
  EXPECT_FALSE(table_.Forget(f, 2).has_value());  // one reference left
  EXPECT_TRUE(table_.Forget(f, 1).has_value());
  EXPECT_FALSE(table_.Get(f).ok());
}

TEST_F(InodeTableTest, RenameMovesADirectoryWithEverythingUnderIt) {
  const uint64_t d = Ref("d", Dir("t1"));
  const uint64_t x = Ref("d/x", File("ox"));
  const uint64_t y = Ref("d/sub/y", File("oy"));
  const uint64_t other = Ref("dd", File("od"));  // shares a prefix, not a parent
  ASSERT_TRUE(table_.Rename(0, "d", "e/f").ok());
  EXPECT_EQ(table_.Find(0, "e/f"), d);
  EXPECT_EQ(table_.Find(0, "e/f/x"), x);
  EXPECT_EQ(table_.Find(0, "e/f/sub/y"), y);
  EXPECT_EQ(table_.Get(y)->path, "e/f/sub/y");
  EXPECT_EQ(table_.Find(0, "d/x"), 0u);
  EXPECT_EQ(table_.Find(0, "dd"), other);
  // Live inodes directly under it ("sub" itself was never looked up).
  EXPECT_EQ(table_.ChildNames(0, "e/f"), (std::vector<std::string>{"x"}));
  EXPECT_TRUE(table_.ChildNames(0, "d").empty());
}

TEST_F(InodeTableTest, RenameOverAnExistingNameUnnamesIt) {
  const uint64_t a = Ref("a", File("oa"));
  const uint64_t b = Ref("b", File("ob"));
  ASSERT_TRUE(table_.Rename(0, "a", "b").ok());
  EXPECT_EQ(table_.Find(0, "b"), a);
  // The replaced inode stays valid for its holders until forgotten.
  ASSERT_TRUE(table_.Get(b).ok());
  EXPECT_TRUE(table_.Forget(b, 1).has_value());
  EXPECT_EQ(table_.Find(0, "b"), a);  // forgetting it did not drop the new name
}

TEST_F(InodeTableTest, RenameErrors) {
  Ref("d", Dir("t"));
  Ref("d/x", File("o"));
  EXPECT_EQ(table_.Rename(0, "missing", "z").error().code, VfsErrc::kNoEntry);
  EXPECT_EQ(table_.Rename(0, "d", "d/x/y").error().code, VfsErrc::kInvalid);
  EXPECT_EQ(table_.Rename(0, "d", "d").error().code, VfsErrc::kInvalid);
  EXPECT_EQ(table_.Rename(0, "", "z").error().code, VfsErrc::kInvalid);  // the pinned root
  EXPECT_EQ(table_.Rename(1, "d", "z").error().code, VfsErrc::kNoEntry);  // another view
}

TEST_F(InodeTableTest, BoundedAndCountedPerView) {
  InodeTable small(2);
  small.AddRoot(0, "", Dir(""));
  ASSERT_TRUE(small.Ref(3, "a", File("o")).ok());
  EXPECT_EQ(small.Ref(3, "b", File("o")).error().code, VfsErrc::kNoSpace);
  EXPECT_EQ(small.CountInView(3), 1u);
  EXPECT_EQ(small.size(), 2u);
}

}  // namespace
}  // namespace hubfs::fs
