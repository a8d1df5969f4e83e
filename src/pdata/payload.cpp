#include "pdata/payload.h"

#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

namespace otelite {

namespace {

size_t CountSpans(const TracesRequest& r) {
  size_t n = 0;
  for (const auto& rs : r.resource_spans())
    for (const auto& ss : rs.scope_spans()) n += ss.spans_size();
  return n;
}

size_t CountMetricPoints(const MetricsRequest& r) {
  using opentelemetry::proto::metrics::v1::Metric;
  size_t n = 0;
  for (const auto& rm : r.resource_metrics()) {
    for (const auto& sm : rm.scope_metrics()) {
      for (const auto& m : sm.metrics()) {
        switch (m.data_case()) {
          case Metric::kGauge: n += m.gauge().data_points_size(); break;
          case Metric::kSum: n += m.sum().data_points_size(); break;
          case Metric::kHistogram: n += m.histogram().data_points_size(); break;
          case Metric::kExponentialHistogram:
            n += m.exponential_histogram().data_points_size();
            break;
          case Metric::kSummary: n += m.summary().data_points_size(); break;
          case Metric::DATA_NOT_SET: break;
        }
      }
    }
  }
  return n;
}

size_t CountLogRecords(const LogsRequest& r) {
  size_t n = 0;
  for (const auto& rl : r.resource_logs())
    for (const auto& sl : rl.scope_logs()) n += sl.log_records_size();
  return n;
}

}  // namespace

size_t CountItems(Signal signal, const google::protobuf::Message& request) {
  switch (signal) {
    case Signal::kTraces: return CountSpans(static_cast<const TracesRequest&>(request));
    case Signal::kMetrics: return CountMetricPoints(static_cast<const MetricsRequest&>(request));
    case Signal::kLogs: return CountLogRecords(static_cast<const LogsRequest&>(request));
  }
  return 0;
}

Payload::Payload(Signal signal, std::unique_ptr<google::protobuf::Message> message,
                 std::string wire_bytes)
    : signal_(signal), message_(std::move(message)), items_(CountItems(signal, *message_)) {
  if (!wire_bytes.empty()) {
    serialized_ = std::move(wire_bytes);
    std::call_once(serialized_once_, [] {});
  }
}

Payload::~Payload() = default;

std::unique_ptr<google::protobuf::Message> Payload::NewRequest(Signal signal) {
  switch (signal) {
    case Signal::kTraces: return std::make_unique<TracesRequest>();
    case Signal::kMetrics: return std::make_unique<MetricsRequest>();
    case Signal::kLogs: return std::make_unique<LogsRequest>();
  }
  return nullptr;
}

std::shared_ptr<const Payload> Payload::Parse(Signal signal, std::string bytes) {
  auto message = NewRequest(signal);
  if (!message->ParseFromString(bytes)) return nullptr;
  return std::make_shared<const Payload>(signal, std::move(message), std::move(bytes));
}

const TracesRequest& Payload::traces() const { return static_cast<const TracesRequest&>(*message_); }
const MetricsRequest& Payload::metrics() const {
  return static_cast<const MetricsRequest&>(*message_);
}
const LogsRequest& Payload::logs() const { return static_cast<const LogsRequest&>(*message_); }

const std::string& Payload::serialized() const {
  std::call_once(serialized_once_, [this] { message_->SerializeToString(&serialized_); });
  return serialized_;
}

}  // namespace otelite
