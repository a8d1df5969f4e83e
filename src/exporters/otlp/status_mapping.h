#pragma once
// What both OTLP exporters share: the OTLP specification's mapping of a server's answer onto
// Ok / Retryable(throttle) / Permanent ("Failures", "Throttling" and "Partial Success" of
// OTLP/gRPC and OTLP/HTTP), and the handling of partial success. No gRPC or Beast includes here.
#include <array>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "components/factory.h"
#include "core/status.h"

namespace prometheus {
class Counter;
}

namespace otelite::exporters::otlp {

// The gRPC status code's name (google.rpc.Code), e.g. "UNAVAILABLE".
std::string_view GrpcCodeName(int code);

// Maps a gRPC status onto a Status. Retryable: CANCELLED, DEADLINE_EXCEEDED, ABORTED,
// OUT_OF_RANGE, UNAVAILABLE, DATA_LOSS, and RESOURCE_EXHAUSTED only when `details` (the serialized
// google.rpc.Status of the grpc-status-details-bin trailer) carries a google.rpc.RetryInfo. The
// throttle is RetryInfo.retry_delay. Everything else (but OK) is permanent.
Status FromGrpcStatus(int code, const std::string& message, const std::string& details);

// Retry-After as delay-seconds or an HTTP-date (IMF-fixdate, RFC 850 or asctime); a date in the
// past is a zero delay. nullopt when the value is neither.
std::optional<std::chrono::milliseconds> ParseRetryAfter(std::string_view value,
                                                         std::chrono::system_clock::time_point now);

struct HttpAnswer {
  int status = 0;
  std::string_view retry_after;   // the Retry-After header, "" when absent
  std::string_view content_type;  // of the body
  std::string_view body;
};

// Maps a non-2xx HTTP answer: 429, 502, 503 and 504 are retryable with Retry-After as the
// throttle; every other status is permanent. The error names the status and, when the body is a
// google.rpc.Status (protobuf or JSON), its message.
Status FromHttpError(const HttpAnswer& answer, std::chrono::system_clock::time_point now);

// The partial_success of an Export*ServiceResponse.
struct PartialSuccess {
  int64_t rejected = 0;
  std::string error_message;
  bool present() const { return rejected > 0 || !error_message.empty(); }
};

// Decodes the response of `signal` (protobuf, or OTLP/JSON when `json`). An empty body is an
// empty response. False when the bytes are not a valid response.
bool DecodePartialSuccess(Signal signal, std::string_view body, bool json, PartialSuccess* out);

// Logs a warning for a partial success and counts the rejected items in
// otelite_exporter_rejected_{spans,metric_points,log_records}_total{exporter="<id>"}.
// Thread-safe.
class PartialSuccessReporter {
 public:
  explicit PartialSuccessReporter(const CreateSettings& settings);
  void Report(Signal signal, const PartialSuccess& partial) noexcept;

 private:
  std::string id_;
  std::shared_ptr<spdlog::logger> logger_;
  std::array<prometheus::Counter*, kSignalCount> rejected_{};
};

}  // namespace otelite::exporters::otlp
