// The OTLP status mapping shared by both exporters, without a network.
#include "exporters/otlp/status_mapping.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace otelite::exporters::otlp {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using Sys = std::chrono::system_clock;

// 2015-10-21T07:28:00Z
const Sys::time_point kNow = Sys::from_time_t(1445412480);

TEST(ParseRetryAfter, DelaySeconds) {
  EXPECT_EQ(ParseRetryAfter("120", kNow), 120000ms);
  EXPECT_EQ(ParseRetryAfter(" 0 ", kNow), 0ms);
  EXPECT_EQ(ParseRetryAfter("", kNow), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("-5", kNow), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("1.5", kNow), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("soon", kNow), std::nullopt);
}

TEST(ParseRetryAfter, HttpDatesInAllThreeFormats) {
  EXPECT_EQ(ParseRetryAfter("Wed, 21 Oct 2015 07:28:30 GMT", kNow), 30000ms);
  EXPECT_EQ(ParseRetryAfter("Wednesday, 21-Oct-15 07:29:00 GMT", kNow), 60000ms);
  EXPECT_EQ(ParseRetryAfter("Wed Oct 21 07:28:10 2015", kNow), 10000ms);
  // A date in the past: retry now.
  EXPECT_EQ(ParseRetryAfter("Wed, 21 Oct 2015 07:00:00 GMT", kNow), 0ms);
  EXPECT_EQ(ParseRetryAfter("Wed, 21 Oct 2015 07:28:30 GMT trailing", kNow), std::nullopt);
}

TEST(FromGrpcStatus, ResourceExhaustedNeedsRetryInfo) {
  EXPECT_FALSE(FromGrpcStatus(8, "quota", "").retryable());
  google::rpc::RetryInfo info;
  info.mutable_retry_delay()->set_seconds(2);
  info.mutable_retry_delay()->set_nanos(250000000);
  google::rpc::Status details;
  details.add_details()->PackFrom(info);
  Status s = FromGrpcStatus(8, "quota", details.SerializeAsString());
  EXPECT_TRUE(s.retryable());
  EXPECT_EQ(s.throttle(), 2250ms);
  EXPECT_EQ(s.message(), "RESOURCE_EXHAUSTED: quota");
  // Details without RetryInfo (another detail type) do not count.
  google::rpc::Status other;
  other.add_details()->PackFrom(google::rpc::Status());
  EXPECT_FALSE(FromGrpcStatus(8, "quota", other.SerializeAsString()).retryable());
  EXPECT_TRUE(FromGrpcStatus(0, "", "").ok());
}

TEST(FromHttpError, BodiesAndStatuses) {
  google::rpc::Status st;
  st.set_message("bad resource");
  std::string proto = st.SerializeAsString();
  Status s = FromHttpError({400, "", "application/x-protobuf", proto}, kNow);
  EXPECT_FALSE(s.retryable());
  EXPECT_EQ(s.message(), "HTTP 400: bad resource");
  s = FromHttpError({429, "3", "application/json", R"({"message":"too many"})"}, kNow);
  EXPECT_TRUE(s.retryable());
  EXPECT_EQ(s.throttle(), 3000ms);
  EXPECT_EQ(s.message(), "HTTP 429: too many");
  // A binary body that is not a Status is not printed.
  s = FromHttpError({502, "", "application/octet-stream", std::string("\x01\x02", 2)}, kNow);
  EXPECT_TRUE(s.retryable());
  EXPECT_EQ(s.message(), "HTTP 502");
}

TEST(DecodePartialSuccess, ProtoJsonAndEmpty) {
  PartialSuccess p;
  EXPECT_TRUE(DecodePartialSuccess(Signal::kTraces, "", false, &p));
  EXPECT_FALSE(p.present());
  EXPECT_TRUE(DecodePartialSuccess(
      Signal::kMetrics, R"({"partialSuccess":{"rejectedDataPoints":3}})", true, &p));
  EXPECT_EQ(p.rejected, 3);
  EXPECT_TRUE(p.present());
  EXPECT_TRUE(DecodePartialSuccess(Signal::kLogs, R"({"partialSuccess":{"errorMessage":"w"}})",
                                   true, &p));
  EXPECT_EQ(p.rejected, 0);
  EXPECT_EQ(p.error_message, "w");
  EXPECT_TRUE(p.present());
  EXPECT_FALSE(DecodePartialSuccess(Signal::kLogs, "{not json", true, &p));
}

}  // namespace
}  // namespace otelite::exporters::otlp
