#pragma once
// The settings every network exporter shares with otelcol's exporterhelper: `timeout`,
// `sending_queue` (with its optional `batch`) and `retry_on_failure`, with otelcol's defaults.
#include <optional>
#include <string>

#include "config/schema.h"

namespace otelite::exporters::helper {

// sending_queue.batch: exporter-side batching, with the batch processor's defaults.
struct QueueBatchSettings {
  config::Duration flush_timeout = std::chrono::milliseconds(200);
  int64_t min_size = 8192;
  int64_t max_size = 0;  // 0: no cap
  std::string sizer = "items";  // items | bytes
  static const config::Schema<QueueBatchSettings>& Schema();
};

struct QueueSettings {
  bool enabled = true;
  int64_t num_consumers = 10;
  int64_t queue_size = 1000;
  std::string sizer = "requests";  // requests | items | bytes
  bool block_on_overflow = false;
  bool wait_for_result = false;
  std::string storage;  // id of a storage extension (file_storage); empty: in memory
  std::optional<QueueBatchSettings> batch;
  static const config::Schema<QueueSettings>& Schema();
};

struct RetrySettings {
  bool enabled = true;
  config::Duration initial_interval = std::chrono::seconds(5);
  config::Duration max_interval = std::chrono::seconds(30);
  config::Duration max_elapsed_time = std::chrono::seconds(300);  // 0: retry forever
  double multiplier = 1.5;
  double randomization_factor = 0.5;
  static const config::Schema<RetrySettings>& Schema();
};

// What a network exporter's config struct derives from (besides ComponentConfig).
struct ExporterHelperSettings {
  config::Duration timeout = std::chrono::seconds(5);  // per attempt
  QueueSettings sending_queue;
  RetrySettings retry_on_failure;
};

// Adds `timeout`, `sending_queue` and `retry_on_failure` to the schema of a config type that
// derives from ExporterHelperSettings.
template <class C>
void AddHelperFields(config::Schema<C>& schema) {
  schema
      .Field("timeout", static_cast<config::Duration C::*>(&ExporterHelperSettings::timeout),
             "Time to wait for one attempt to send a batch.", config::NonNegative())
      .Field("sending_queue", static_cast<QueueSettings C::*>(&ExporterHelperSettings::sending_queue),
             "The queue in front of the exporter.")
      .Field("retry_on_failure",
             static_cast<RetrySettings C::*>(&ExporterHelperSettings::retry_on_failure),
             "Retry with exponential backoff on retryable failures.");
}

}  // namespace otelite::exporters::helper
