#include "pdata/payload.h"

#include <google/protobuf/arena.h>

#include <optional>

#include "core/memory_budget.h"

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
  size_t n = 0;
  for (const auto& rm : r.resource_metrics())
    for (const auto& sm : rm.scope_metrics())
      for (const auto& m : sm.metrics()) n += DataPointCount(m);
  return n;
}

size_t CountLogRecords(const LogsRequest& r) {
  size_t n = 0;
  for (const auto& rl : r.resource_logs())
    for (const auto& sl : rl.scope_logs()) n += sl.log_records_size();
  return n;
}

}  // namespace

size_t DataPointCount(const opentelemetry::proto::metrics::v1::Metric& m) {
  using opentelemetry::proto::metrics::v1::Metric;
  switch (m.data_case()) {
    case Metric::kGauge: return size_t(m.gauge().data_points_size());
    case Metric::kSum: return size_t(m.sum().data_points_size());
    case Metric::kHistogram: return size_t(m.histogram().data_points_size());
    case Metric::kExponentialHistogram:
      return size_t(m.exponential_histogram().data_points_size());
    case Metric::kSummary: return size_t(m.summary().data_points_size());
    case Metric::DATA_NOT_SET: return 0;
  }
  return 0;
}

size_t CountItems(Signal signal, const google::protobuf::Message& request) {
  switch (signal) {
    case Signal::kTraces: return CountSpans(static_cast<const TracesRequest&>(request));
    case Signal::kMetrics: return CountMetricPoints(static_cast<const MetricsRequest&>(request));
    case Signal::kLogs: return CountLogRecords(static_cast<const LogsRequest&>(request));
  }
  return 0;
}

Payload::Payload(Signal signal, std::unique_ptr<google::protobuf::Message> message,
                 std::string wire_bytes, std::shared_ptr<const ClientMetadata> metadata)
    : signal_(signal),
      items_(CountItems(signal, *message)),
      metadata_(std::move(metadata)),
      message_(std::move(message)) {
  std::call_once(message_once_, [] {});
  Charge(message_->SpaceUsedLong());
  if (!wire_bytes.empty()) {
    serialized_ = std::move(wire_bytes);
    std::call_once(serialized_once_, [] {});
    Charge(serialized_.capacity());
  }
}

Payload::Payload(WireTag, Signal signal, std::string bytes, size_t items,
                 std::shared_ptr<const ClientMetadata> metadata)
    : signal_(signal), items_(items), metadata_(std::move(metadata)), serialized_(std::move(bytes)) {
  std::call_once(serialized_once_, [] {});
  Charge(serialized_.capacity());
}

Payload::~Payload() { MemoryBudget::Process().Release(charged_.load(std::memory_order_relaxed)); }

void Payload::Charge(size_t bytes) const {
  charged_.fetch_add(bytes, std::memory_order_relaxed);
  MemoryBudget::Process().Charge(bytes);
}

std::unique_ptr<google::protobuf::Message> Payload::NewRequest(Signal signal) {
  switch (signal) {
    case Signal::kTraces: return std::make_unique<TracesRequest>();
    case Signal::kMetrics: return std::make_unique<MetricsRequest>();
    case Signal::kLogs: return std::make_unique<LogsRequest>();
  }
  return nullptr;
}

namespace {

// Decodes into an arena (one allocation block, freed at once) only to validate and count.
template <class Request>
std::optional<size_t> ValidateAndCount(Signal signal, const std::string& bytes) {
  google::protobuf::Arena arena;
  auto* request = google::protobuf::Arena::CreateMessage<Request>(&arena);
  if (!request->ParseFromString(bytes)) return std::nullopt;
  return CountItems(signal, *request);
}

}  // namespace

std::shared_ptr<const Payload> Payload::Parse(Signal signal, std::string bytes,
                                              std::shared_ptr<const ClientMetadata> metadata) {
  std::optional<size_t> items;
  switch (signal) {
    case Signal::kTraces: items = ValidateAndCount<TracesRequest>(signal, bytes); break;
    case Signal::kMetrics: items = ValidateAndCount<MetricsRequest>(signal, bytes); break;
    case Signal::kLogs: items = ValidateAndCount<LogsRequest>(signal, bytes); break;
  }
  if (!items) return nullptr;
  return FromWire(signal, std::move(bytes), *items, std::move(metadata));
}

std::shared_ptr<const Payload> Payload::FromWire(Signal signal, std::string bytes, size_t items,
                                                 std::shared_ptr<const ClientMetadata> metadata) {
  return std::make_shared<const Payload>(WireTag{}, signal, std::move(bytes), items,
                                         std::move(metadata));
}

const google::protobuf::Message& Payload::message() const {
  std::call_once(message_once_, [this] {
    auto message = NewRequest(signal_);
    // The bytes were validated (or built from validated requests) before the payload was made.
    message->ParseFromString(serialized_);
    Charge(message->SpaceUsedLong());
    message_ = std::move(message);
  });
  return *message_;
}

const TracesRequest& Payload::traces() const { return static_cast<const TracesRequest&>(message()); }
const MetricsRequest& Payload::metrics() const {
  return static_cast<const MetricsRequest&>(message());
}
const LogsRequest& Payload::logs() const { return static_cast<const LogsRequest&>(message()); }

const std::string& Payload::serialized() const {
  std::call_once(serialized_once_, [this] {
    message_->SerializeToString(&serialized_);
    Charge(serialized_.capacity());
  });
  return serialized_;
}

size_t Payload::wire_size() const { return serialized().size(); }

}  // namespace otelite
