#pragma once
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/signal.h"

namespace google::protobuf {
class Message;
}
namespace opentelemetry::proto::metrics::v1 {
class Metric;
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

// Metadata of the client that sent a request (HTTP headers or gRPC metadata, keys lowercased),
// attached when a receiver has include_metadata set; the batcher partitions by it.
using ClientMetadata = std::map<std::string, std::vector<std::string>>;

// One OTLP Export*ServiceRequest travelling through the pipelines. Immutable once built, so a
// fan-out shares one Payload between all its consumers; a component that wants to change data
// makes its own copy.
//
// A payload holds the request in one or both of two forms: its protobuf encoding, and the decoded
// message. Each form is made on demand, at most once, from the other. Data that arrives as
// protobuf stays bytes through batching (encoded requests concatenate into a valid request) and is
// exported as bytes; it is decoded only for components that read inside it. Both forms are
// charged to MemoryBudget::Process() for as long as the payload lives.
class Payload {
 public:
  // Takes a decoded request. `wire_bytes`, when given, must be its protobuf encoding.
  Payload(Signal signal, std::unique_ptr<google::protobuf::Message> message,
          std::string wire_bytes = {}, std::shared_ptr<const ClientMetadata> metadata = {});
  ~Payload();
  Payload(const Payload&) = delete;
  Payload& operator=(const Payload&) = delete;

  // Validates `bytes` as the request of `signal` (a full decode) and keeps only the bytes;
  // nullptr when they are not a valid message.
  static std::shared_ptr<const Payload> Parse(Signal signal, std::string bytes,
                                              std::shared_ptr<const ClientMetadata> metadata = {});
  // Bytes known to be a valid request with `items` items (e.g. valid requests concatenated).
  static std::shared_ptr<const Payload> FromWire(
      Signal signal, std::string bytes, size_t items,
      std::shared_ptr<const ClientMetadata> metadata = {});
  // A new, empty request message of the signal's type.
  static std::unique_ptr<google::protobuf::Message> NewRequest(Signal signal);

  Signal signal() const { return signal_; }
  // The decoded request; thread-safe, decoded at most once.
  const google::protobuf::Message& message() const;
  const TracesRequest& traces() const;    // signal() must be kTraces
  const MetricsRequest& metrics() const;  // signal() must be kMetrics
  const LogsRequest& logs() const;        // signal() must be kLogs

  // Spans, metric data points or log records, counted as otelcol counts them.
  size_t item_count() const { return items_; }
  // The protobuf encoding; thread-safe, computed at most once.
  const std::string& serialized() const;
  // The size of the protobuf encoding (encodes it when it was only decoded).
  size_t wire_size() const;
  // Bytes charged to the memory budget.
  size_t charged_bytes() const { return charged_.load(std::memory_order_relaxed); }
  // The client metadata, or nullptr.
  const ClientMetadata* metadata() const { return metadata_.get(); }
  const std::shared_ptr<const ClientMetadata>& shared_metadata() const { return metadata_; }

 private:
  struct WireTag {};

 public:
  Payload(WireTag, Signal signal, std::string bytes, size_t items,
          std::shared_ptr<const ClientMetadata> metadata);

 private:
  void Charge(size_t bytes) const;

  Signal signal_;
  size_t items_;
  std::shared_ptr<const ClientMetadata> metadata_;
  mutable std::once_flag message_once_;
  mutable std::unique_ptr<google::protobuf::Message> message_;
  mutable std::once_flag serialized_once_;
  mutable std::string serialized_;
  mutable std::atomic<size_t> charged_{0};
};

using Batch = std::shared_ptr<const Payload>;

// Counts the items of a decoded request of the given signal.
size_t CountItems(Signal signal, const google::protobuf::Message& request);
// The data points of one metric, whatever its kind (the item otelcol counts for metrics).
size_t DataPointCount(const opentelemetry::proto::metrics::v1::Metric& metric);

}  // namespace otelite
