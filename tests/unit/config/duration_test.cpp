#include "config/duration.h"

#include <gtest/gtest.h>

namespace otelite::config {
namespace {

using namespace std::chrono_literals;

TEST(Duration, ParsesGoDurations) {
  EXPECT_EQ(ParseDuration("200ms"), Duration(200ms));
  EXPECT_EQ(ParseDuration("5s"), Duration(5s));
  EXPECT_EQ(ParseDuration("1m30s"), Duration(90s));
  EXPECT_EQ(ParseDuration("1.5h"), Duration(90min));
  EXPECT_EQ(ParseDuration("0"), Duration(0));
  EXPECT_EQ(ParseDuration("250us"), Duration(250us));
  EXPECT_EQ(ParseDuration("-2s"), Duration(-2s));
}

TEST(Duration, RejectsWhatGoRejects) {
  EXPECT_FALSE(ParseDuration(""));
  EXPECT_FALSE(ParseDuration("5"));
  EXPECT_FALSE(ParseDuration("5 s"));
  EXPECT_FALSE(ParseDuration("s"));
  EXPECT_FALSE(ParseDuration("5x"));
  EXPECT_FALSE(ParseDuration("ms"));
}

TEST(Duration, FormatsLikeGo) {
  EXPECT_EQ(FormatDuration(200ms), "200ms");
  EXPECT_EQ(FormatDuration(0s), "0s");
  EXPECT_EQ(FormatDuration(90s), "1m30s");
  EXPECT_EQ(FormatDuration(3725s), "1h2m5s");
  EXPECT_EQ(FormatDuration(1500ms), "1.5s");
}

}  // namespace
}  // namespace otelite::config
