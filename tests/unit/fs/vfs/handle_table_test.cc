#include "fs/vfs/handle_table.h"

#include <gtest/gtest.h>

#include <memory>

namespace hubfs::fs {
namespace {

TEST(HandleTableTest, FilesAndDirectoriesShareOneBoundAndOneNumbering) {
  HandleTable table(2);
  FileHandle f;
  f.view = 3;
  f.content.path = "a.txt";
  auto fh = table.AddFile(f);
  ASSERT_TRUE(fh.ok());
  auto dh = table.AddDir(DirHandle{4, "d", std::make_shared<Listing>()});
  ASSERT_TRUE(dh.ok());
  EXPECT_NE(*fh, *dh);
  EXPECT_EQ(table.AddFile(f).error().code, VfsErrc::kNoSpace);
  EXPECT_EQ(table.AddDir(DirHandle{}).error().code, VfsErrc::kNoSpace);
  // Each kind is found under its own lookup only.
  EXPECT_EQ(table.File(*fh)->content.path, "a.txt");
  EXPECT_EQ(table.Dir(*fh).error().code, VfsErrc::kBadHandle);
  EXPECT_EQ(table.Dir(*dh)->path, "d");
  EXPECT_EQ(table.RemoveFile(*dh), std::nullopt);
  // Closing returns the view the handle counted in, once.
  EXPECT_EQ(table.RemoveFile(*fh), std::optional<uint32_t>(3));
  EXPECT_EQ(table.RemoveFile(*fh), std::nullopt);
  EXPECT_EQ(table.File(*fh).error().code, VfsErrc::kBadHandle);
  auto again = table.AddFile(f);
  ASSERT_TRUE(again.ok());
  EXPECT_NE(*again, *fh);  // numbers are not reused
  EXPECT_EQ(table.RemoveDir(*dh), std::optional<uint32_t>(4));
}

}  // namespace
}  // namespace hubfs::fs
