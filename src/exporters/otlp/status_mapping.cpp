#include "exporters/otlp/status_mapping.h"

#include <prometheus/counter.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>
#include <iomanip>
#include <locale>
#include <nlohmann/json.hpp>
#include <sstream>

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "pdata/otlp_json.h"
#include "telemetry/self_telemetry.h"

namespace otelite::exporters::otlp {

namespace {

namespace collector = opentelemetry::proto::collector;
using std::chrono::milliseconds;

// google.rpc.Code numbers.
enum GrpcCode : int {
  kOk = 0, kCancelled = 1, kUnknown = 2, kInvalidArgument = 3, kDeadlineExceeded = 4,
  kNotFound = 5, kAlreadyExists = 6, kPermissionDenied = 7, kResourceExhausted = 8,
  kFailedPrecondition = 9, kAborted = 10, kOutOfRange = 11, kUnimplemented = 12, kInternal = 13,
  kUnavailable = 14, kDataLoss = 15, kUnauthenticated = 16,
};

std::optional<milliseconds> RetryDelay(const google::rpc::Status& status) {
  for (const auto& any : status.details()) {
    google::rpc::RetryInfo info;
    if (any.Is<google::rpc::RetryInfo>() && any.UnpackTo(&info)) {
      const auto& d = info.retry_delay();
      int64_t ms = d.seconds() * 1000 + d.nanos() / 1000000;
      return milliseconds(std::max<int64_t>(0, ms));
    }
  }
  return std::nullopt;
}

bool Contains(std::string_view haystack, std::string_view needle) {
  auto lower = [](std::string_view s) {
    std::string out(s);
    for (char& c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
    return out;
  };
  return lower(haystack).find(needle) != std::string::npos;
}

// Printable text of at most `max` bytes, for error messages built from a response body.
std::string Printable(std::string_view s, size_t max = 256) {
  std::string out;
  for (char c : s.substr(0, max)) {
    auto u = static_cast<unsigned char>(c);
    out.push_back(u >= 0x20 && u != 0x7F ? c : ' ');
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  if (s.size() > max) out += "...";
  return out;
}

// The message of a google.rpc.Status body; "" when the body is not one.
std::string StatusBodyMessage(std::string_view content_type, std::string_view body) {
  if (body.empty()) return {};
  if (Contains(content_type, "json")) {
    auto j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (j.is_object()) {
      auto it = j.find("message");
      if (it != j.end() && it->is_string()) return it->get<std::string>();
    }
    return {};
  }
  if (Contains(content_type, "protobuf")) {
    google::rpc::Status status;
    if (status.ParseFromArray(body.data(), int(body.size()))) return status.message();
    return {};
  }
  return {};
}

template <class Response>
bool DecodeResponse(std::string_view body, bool json, Response* out) {
  if (body.empty()) return true;
  if (json) return DecodeOtlpJson(body, out).empty();
  return out->ParseFromArray(body.data(), int(body.size()));
}

}  // namespace

std::string_view GrpcCodeName(int code) {
  static constexpr std::string_view kNames[] = {
      "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
      "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
      "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
      "UNAUTHENTICATED"};
  if (code >= 0 && code < int(std::size(kNames))) return kNames[code];
  return "UNKNOWN";
}

Status FromGrpcStatus(int code, const std::string& message, const std::string& details) {
  if (code == kOk) return Status::Ok();
  std::string text = std::string(GrpcCodeName(code)) + ": " + message;
  std::optional<milliseconds> delay;
  if (!details.empty()) {
    google::rpc::Status status;
    if (status.ParseFromString(details)) delay = RetryDelay(status);
  }
  switch (code) {
    case kCancelled:
    case kDeadlineExceeded:
    case kAborted:
    case kOutOfRange:
    case kUnavailable:
    case kDataLoss:
      return Status::Retryable(std::move(text), delay.value_or(milliseconds(0)));
    case kResourceExhausted:
      // Retryable only when the server says it can recover, by sending RetryInfo.
      if (delay) return Status::Retryable(std::move(text), *delay);
      return Status::Permanent(std::move(text));
    default:
      return Status::Permanent(std::move(text));
  }
}

std::optional<milliseconds> ParseRetryAfter(std::string_view value,
                                            std::chrono::system_clock::time_point now) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (value.size() > 9) return milliseconds(int64_t(999999999) * 1000);
    return milliseconds(std::stoll(std::string(value)) * 1000);
  }
  // IMF-fixdate, then the two obsolete forms HTTP/1.1 still requires recipients to accept.
  for (const char* format : {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT",
                             "%a %b %d %H:%M:%S %Y"}) {
    std::tm tm{};
    std::istringstream in{std::string(value)};
    in.imbue(std::locale::classic());
    in >> std::get_time(&tm, format);
    if (in.fail()) continue;
    in >> std::ws;
    if (!in.eof()) continue;
    time_t t = timegm(&tm);
    auto at = std::chrono::system_clock::from_time_t(t);
    auto delay = std::chrono::duration_cast<milliseconds>(at - now);
    return std::max(delay, milliseconds(0));
  }
  return std::nullopt;
}

Status FromHttpError(const HttpAnswer& a, std::chrono::system_clock::time_point now) {
  std::string text = "HTTP " + std::to_string(a.status);
  std::string message = StatusBodyMessage(a.content_type, a.body);
  if (!message.empty()) {
    text += ": " + message;
  } else if (!a.body.empty() && (Contains(a.content_type, "text") ||
                                 Contains(a.content_type, "json") || a.content_type.empty())) {
    text += ": " + Printable(a.body);
  }
  switch (a.status) {
    case 429:
    case 502:
    case 503:
    case 504:
      return Status::Retryable(std::move(text),
                               ParseRetryAfter(a.retry_after, now).value_or(milliseconds(0)));
    default:
      return Status::Permanent(std::move(text));
  }
}

bool DecodePartialSuccess(Signal signal, std::string_view body, bool json, PartialSuccess* out) {
  *out = {};
  switch (signal) {
    case Signal::kTraces: {
      collector::trace::v1::ExportTraceServiceResponse r;
      if (!DecodeResponse(body, json, &r)) return false;
      out->rejected = r.partial_success().rejected_spans();
      out->error_message = r.partial_success().error_message();
      return true;
    }
    case Signal::kMetrics: {
      collector::metrics::v1::ExportMetricsServiceResponse r;
      if (!DecodeResponse(body, json, &r)) return false;
      out->rejected = r.partial_success().rejected_data_points();
      out->error_message = r.partial_success().error_message();
      return true;
    }
    case Signal::kLogs: {
      collector::logs::v1::ExportLogsServiceResponse r;
      if (!DecodeResponse(body, json, &r)) return false;
      out->rejected = r.partial_success().rejected_log_records();
      out->error_message = r.partial_success().error_message();
      return true;
    }
  }
  return false;
}

PartialSuccessReporter::PartialSuccessReporter(const CreateSettings& settings)
    : id_(settings.id.str()),
      logger_(settings.logger ? settings.logger : spdlog::default_logger()) {
  if (settings.telemetry == nullptr) return;
  for (Signal s : kAllSignals) {
    std::string item(SignalItemName(s));
    auto& family = prometheus::BuildCounter()
                       .Name("otelite_exporter_rejected_" + item + "_total")
                       .Help("Number of " + item +
                             " the server rejected in a partial success response (not retried).")
                       .Register(settings.telemetry->registry());
    rejected_[size_t(s)] = &family.Add({{"exporter", id_}});
  }
}

void PartialSuccessReporter::Report(Signal signal, const PartialSuccess& partial) noexcept {
  if (!partial.present()) return;
  try {
    if (partial.rejected > 0) Add(rejected_[size_t(signal)], double(partial.rejected));
    logger_->warn("exporter {}: partial success: the server rejected {} {}: {}", id_,
                  partial.rejected, SignalItemName(signal),
                  partial.error_message.empty() ? "(no message)" : partial.error_message);
  } catch (...) {
  }
}

}  // namespace otelite::exporters::otlp
