#include "hub/settings.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace hubfs::hub {
namespace {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "hubfs-settings-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << data;
}

TEST(SettingsTest, Defaults) {
  auto s = LoadSettings({{"HOME", "/home/u"}});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->endpoint, "https://huggingface.co");
  EXPECT_EQ(s->hf_home, "/home/u/.cache/huggingface");
  EXPECT_EQ(s->token_path, "/home/u/.cache/huggingface/token");
  EXPECT_EQ(s->cache_dir, "/home/u/.cache/huggingface/hubfs");
  EXPECT_FALSE(s->env_token.has_value());
  EXPECT_FALSE(s->offline);
  EXPECT_EQ(s->user_agent.rfind("hubfs/", 0), 0u);
  EXPECT_GT(s->user_agent.size(), 6u);
}

TEST(SettingsTest, EndpointTrailingSlashStrippedAndValidated) {
  auto s = LoadSettings({{"HOME", "/h"}, {"HF_ENDPOINT", "http://127.0.0.1:8080//"}});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->endpoint, "http://127.0.0.1:8080");
  auto bad = LoadSettings({{"HOME", "/h"}, {"HF_ENDPOINT", "ftp://x"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), ErrorCode::kInvalidArgument);
  auto staging = LoadSettings({{"HOME", "/h"}, {"HUGGINGFACE_CO_STAGING", "1"}});
  EXPECT_EQ(staging->endpoint, "https://hub-ci.huggingface.co");
}

TEST(SettingsTest, HomeAndPaths) {
  auto xdg = LoadSettings({{"HOME", "/h"}, {"XDG_CACHE_HOME", "/x"}});
  EXPECT_EQ(xdg->hf_home, "/x/huggingface");
  auto s = LoadSettings({{"HOME", "/h"}, {"HF_HOME", "~/hf/"}, {"HF_TOKEN_PATH", "~/tok"}});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->hf_home, "/h/hf");
  EXPECT_EQ(s->token_path, "/h/tok");
  auto cd = LoadSettings({{"HF_HOME", "/hf"}, {"HUBFS_CACHE_DIR", "/c"}});
  ASSERT_TRUE(cd.ok());
  EXPECT_EQ(cd->token_path, "/hf/token");
  EXPECT_EQ(cd->cache_dir, "/c");
  EXPECT_FALSE(LoadSettings({}).ok());
}

TEST(SettingsTest, OfflineTruthyValues) {
  for (std::string v : {"1", "true", "YES", "On"}) {
    EXPECT_TRUE(LoadSettings({{"HOME", "/h"}, {"HF_HUB_OFFLINE", v}})->offline) << v;
  }
  for (std::string v : {"0", "false", "no", ""}) {
    EXPECT_FALSE(LoadSettings({{"HOME", "/h"}, {"HF_HUB_OFFLINE", v}})->offline) << v;
  }
  EXPECT_TRUE(LoadSettings({{"HOME", "/h"}, {"TRANSFORMERS_OFFLINE", "1"}})->offline);
}

TEST(SettingsTest, EnvTokenWinsAndEmptyFallsThrough) {
  TempDir dir;
  WriteFile(dir.path() + "/token", "hf_fromfile\n");
  auto s = LoadSettings({{"HF_HOME", dir.path()}, {"HF_TOKEN", "hf_env"}});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(EnvOrFileTokenProvider(*s).HubToken(), "hf_env");

  auto legacy = LoadSettings(
      {{"HF_HOME", dir.path()}, {"HF_TOKEN", ""}, {"HUGGING_FACE_HUB_TOKEN", "hf_legacy"}});
  EXPECT_EQ(EnvOrFileTokenProvider(*legacy).HubToken(), "hf_legacy");

  auto empty = LoadSettings({{"HF_HOME", dir.path()}, {"HF_TOKEN", ""}});
  EXPECT_EQ(EnvOrFileTokenProvider(*empty).HubToken(), "hf_fromfile");
}

TEST(SettingsTest, TokenFileIsReReadAndCleaned) {
  TempDir dir;
  auto s = LoadSettings({{"HF_HOME", dir.path()}});
  ASSERT_TRUE(s.ok());
  EnvOrFileTokenProvider tokens(*s);
  EXPECT_EQ(tokens.HubToken(), std::nullopt);  // no file yet
  WriteFile(dir.path() + "/token", "  hf_one\r\n");
  EXPECT_EQ(tokens.HubToken(), "hf_one");
  WriteFile(dir.path() + "/token", "hf_two");  // rotated
  EXPECT_EQ(tokens.HubToken(), "hf_two");
  WriteFile(dir.path() + "/token", " \n");
  EXPECT_EQ(tokens.HubToken(), std::nullopt);
  WriteFile(dir.path() + "/token", std::string(70000, 'a'));
  EXPECT_EQ(tokens.HubToken(), std::nullopt);

  auto custom = LoadSettings({{"HF_HOME", dir.path()}, {"HF_TOKEN_PATH", dir.path() + "/t2"}});
  WriteFile(dir.path() + "/t2", "hf_custom\n");
  EXPECT_EQ(EnvOrFileTokenProvider(*custom).HubToken(), "hf_custom");
}

TEST(SettingsTest, TokenFileOthersMayWriteOrOwnIsIgnored) {
  TempDir dir;
  auto s = LoadSettings({{"HF_HOME", dir.path()}});
  ASSERT_TRUE(s.ok());
  EnvOrFileTokenProvider tokens(*s);
  const std::string path = dir.path() + "/token";
  WriteFile(path, "hf_mine\n");
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  EXPECT_EQ(tokens.HubToken(), "hf_mine");
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);  // as the official clients write it: used
  EXPECT_EQ(tokens.HubToken(), "hf_mine");
  ASSERT_EQ(::chmod(path.c_str(), 0620), 0);  // group may write
  EXPECT_EQ(tokens.HubToken(), std::nullopt);
  ASSERT_EQ(::chmod(path.c_str(), 0602), 0);  // others may write
  EXPECT_EQ(tokens.HubToken(), std::nullopt);
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  EXPECT_EQ(tokens.HubToken(), "hf_mine");
  if (::geteuid() == 0) {  // only root can give a file away
    ASSERT_EQ(::chown(path.c_str(), 12345, 12345), 0);
    EXPECT_EQ(tokens.HubToken(), std::nullopt);
    ASSERT_EQ(::chown(path.c_str(), 0, 0), 0);  // root's own file is fine
    EXPECT_EQ(tokens.HubToken(), "hf_mine");
  }
  std::filesystem::remove(path);
  std::filesystem::create_directory(path);  // not a regular file
  EXPECT_EQ(tokens.HubToken(), std::nullopt);
}

TEST(SettingsTest, CleanToken) {
  EXPECT_EQ(CleanToken("hf_a\r\nb"), "hf_ab");
  EXPECT_EQ(CleanToken("\t x \t"), "x");
  EXPECT_EQ(CleanToken(""), std::nullopt);
}

}  // namespace
}  // namespace hubfs::hub
