#include "common/log.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace hubfs::log {
namespace {

TEST(RedactSecretsTest, MasksHubTokens) {
  EXPECT_EQ(RedactSecrets("token is hf_AbCdEf123456 here"), "token is hf_<redacted> here");
  EXPECT_EQ(RedactSecrets("hf_abc"), "hf_<redacted>");
  EXPECT_EQ(RedactSecrets("a=hf_x1,b=hf_y2"), "a=hf_<redacted>,b=hf_<redacted>");
}

TEST(RedactSecretsTest, MasksBearerValues) {
  EXPECT_EQ(RedactSecrets("Authorization: Bearer eyJhbGciOi.J9.x-y_z"),
            "Authorization: Bearer <redacted>");
  EXPECT_EQ(RedactSecrets("authorization: bearer abc"), "authorization: bearer <redacted>");
  EXPECT_EQ(RedactSecrets("GET /x?token=s3cr3t&y=1"), "GET /x?token=<redacted>&y=1");
}

TEST(RedactSecretsTest, MasksXetTokens) {
  EXPECT_EQ(RedactSecrets("X-Xet-Access-Token: xet_abc.def"), "X-Xet-Access-Token: xet_<redacted>");
}

TEST(RedactSecretsTest, LeavesOrdinaryTextAlone) {
  const std::string plain = "read 4096 bytes of org/model@main at offset 100 (shf_x, xhf_y)";
  EXPECT_EQ(RedactSecrets(plain), plain);
  EXPECT_EQ(RedactSecrets("hf_ alone"), "hf_ alone");
  EXPECT_EQ(RedactSecrets(""), "");
}

TEST(RedactSecretsTest, Idempotent) {
  const std::string once = RedactSecrets("Bearer hf_abc and xet_q token=z");
  EXPECT_EQ(once.find("abc"), std::string::npos);
  EXPECT_EQ(RedactSecrets(once), once);
}

TEST(LogTest, SinkReceivesRedactedLinesAboveMinLevel) {
  std::vector<std::pair<Level, std::string>> lines;
  SetSink([&](Level l, std::string_view line) { lines.emplace_back(l, std::string(line)); });
  SetMinLevel(Level::kInfo);
  HUBFS_LOG(kDebug) << "hidden";
  HUBFS_LOG(kWarning) << "using hf_SECRET123 for " << 42;
  SetSink(nullptr);
  SetMinLevel(Level::kInfo);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].first, Level::kWarning);
  EXPECT_NE(lines[0].second.find("using hf_<redacted> for 42"), std::string::npos);
  EXPECT_EQ(lines[0].second.find("SECRET"), std::string::npos);
  EXPECT_EQ(lines[0].second.rfind("W ", 0), 0u);
}

TEST(LogTest, ParseLevel) {
  Level l = Level::kOff;
  EXPECT_TRUE(ParseLevel("debug", &l));
  EXPECT_EQ(l, Level::kDebug);
  EXPECT_TRUE(ParseLevel("warn", &l));
  EXPECT_EQ(l, Level::kWarning);
  EXPECT_FALSE(ParseLevel("loud", &l));
  EXPECT_EQ(l, Level::kWarning);
  SetMinLevel(Level::kOff);
  EXPECT_FALSE(Enabled(Level::kError));
  SetMinLevel(Level::kInfo);
  EXPECT_TRUE(Enabled(Level::kInfo));
  EXPECT_FALSE(Enabled(Level::kDebug));
}

}  // namespace
}  // namespace hubfs::log

TEST(LogTest, SourceFileNamesInTheHeaderAreNotRedacted) {
  std::vector<std::string> lines;
  hubfs::log::SetSink([&](hubfs::log::Level, std::string_view line) { lines.emplace_back(line); });
  { hubfs::log::Message m(hubfs::log::Level::kError, "fs/xet_reader.cc", 7); m.stream() << "tok xet_secret1"; }
  hubfs::log::SetSink(nullptr);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("xet_reader.cc:7]"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("tok xet_<redacted>"), std::string::npos) << lines[0];
  EXPECT_EQ(lines[0].find("secret1"), std::string::npos) << lines[0];
}
