#pragma once
#include <memory>
#include <mutex>
#include <string>

#include "core/signal.h"

namespace google::protobuf {
class Message;
}
namespace opentelemetry::proto::collector {
namespace trace::v1 { class ExportTraceServiceRequest; }
namespace metrics::v1 { class ExportMetricsServiceRequest; }
namespace logs::v1 { class ExportLogsServiceRequest; }
}  // namespace opentelemetry::proto::collector

namespace otelite {

using TracesRequest = opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;
using MetricsRequest = opentelemetry::proto::collector::metrics::v1::ExportMetricsServiceRequest;
using LogsRequest = opentelemetry::proto::collector::logs::v1::ExportLogsServiceRequest;

// One OTLP Export*ServiceRequest travelling through the pipelines. Immutable once built, so a
// fan-out shares one Payload between all its consumers; a component that wants to change data
// makes its own copy. The serialized form is kept when the payload came off the wire as protobuf
// (so exporters that write bytes do not re-encode) and otherwise computed once, on demand.
class Payload {
 public:
  // Takes a decoded request. `wire_bytes`, when given, must be its protobuf encoding.
  Payload(Signal signal, std::unique_ptr<google::protobuf::Message> message,
          std::string wire_bytes = {});
  ~Payload();
  Payload(const Payload&) = delete;
  Payload& operator=(const Payload&) = delete;

  // Decodes `bytes` as the request of `signal`; nullptr when they are not a valid message.
  static std::shared_ptr<const Payload> Parse(Signal signal, std::string bytes);
  // A new, empty request message of the signal's type.
  static std::unique_ptr<google::protobuf::Message> NewRequest(Signal signal);

  Signal signal() const { return signal_; }
  const google::protobuf::Message& message() const { return *message_; }
  const TracesRequest& traces() const;    // signal() must be kTraces
  const MetricsRequest& metrics() const;  // signal() must be kMetrics
  const LogsRequest& logs() const;        // signal() must be kLogs

  // Spans, metric data points or log records, counted as otelcol counts them.
  size_t item_count() const { return items_; }
  // The protobuf encoding; thread-safe, computed at most once.
  const std::string& serialized() const;

 private:
  Signal signal_;
  std::unique_ptr<google::protobuf::Message> message_;
  size_t items_;
  mutable std::once_flag serialized_once_;
  mutable std::string serialized_;
};

using Batch = std::shared_ptr<const Payload>;

// Counts the items of a decoded request of the given signal.
size_t CountItems(Signal signal, const google::protobuf::Message& request);

}  // namespace otelite
