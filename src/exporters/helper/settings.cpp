#include "exporters/helper/settings.h"

namespace otelite::exporters::helper {

const config::Schema<QueueBatchSettings>& QueueBatchSettings::Schema() {
  static const auto s =
      config::Schema<QueueBatchSettings>()
          .Field("flush_timeout", &QueueBatchSettings::flush_timeout,
                 "send a batch this long after its first item arrived, whatever its size",
                 config::NonNegative())
          .Field("min_size", &QueueBatchSettings::min_size,
                 "size (in `sizer` units) at which a batch is sent without waiting",
                 config::AtLeast(0))
          .Field("max_size", &QueueBatchSettings::max_size,
                 "larger batches are split; 0 means no cap", config::AtLeast(0))
          .Field("sizer", &QueueBatchSettings::sizer, "what min_size and max_size count",
                 config::OneOf({"items", "bytes"}))
          .Check([](const QueueBatchSettings& b, const config::Checker& check) {
            if (b.max_size > 0 && b.max_size < b.min_size) {
              check.Error("max_size", "max_size must be 0 or at least min_size");
            }
          });
  return s;
}

const config::Schema<QueueSettings>& QueueSettings::Schema() {
  static const auto s =
      config::Schema<QueueSettings>()
          .Field("enabled", &QueueSettings::enabled,
                 "queue batches in front of the exporter (off: the caller waits for the export)")
          .Field("num_consumers", &QueueSettings::num_consumers,
                 "threads that take batches off the queue and export them", config::AtLeast(1))
          .Field("queue_size", &QueueSettings::queue_size,
                 "capacity of the queue, in `sizer` units", config::AtLeast(1))
          .Field("sizer", &QueueSettings::sizer, "what queue_size counts",
                 config::OneOf({"requests", "items", "bytes"}))
          .Field("block_on_overflow", &QueueSettings::block_on_overflow,
                 "wait for room when the queue is full instead of refusing (retryable)")
          .Field("wait_for_result", &QueueSettings::wait_for_result,
                 "answer the client only once its data was exported (or failed)")
          .Field("storage", &QueueSettings::storage,
                 "id of a storage extension (file_storage) for an on-disk queue")
          .Field("batch", &QueueSettings::batch,
                 "batch in the queue before export (`batch: {}` for the defaults)");
  return s;
}

const config::Schema<RetrySettings>& RetrySettings::Schema() {
  static const auto s =
      config::Schema<RetrySettings>()
          .Field("enabled", &RetrySettings::enabled, "retry retryable failures")
          .Field("initial_interval", &RetrySettings::initial_interval,
                 "wait after the first failure", config::NonNegative())
          .Field("max_interval", &RetrySettings::max_interval, "upper bound of the backoff",
                 config::NonNegative())
          .Field("max_elapsed_time", &RetrySettings::max_elapsed_time,
                 "give up (drop, counted) after trying this long; 0 retries forever",
                 config::NonNegative())
          .Field("multiplier", &RetrySettings::multiplier, "backoff growth per attempt")
          .Field("randomization_factor", &RetrySettings::randomization_factor,
                 "jitter: each wait is drawn from interval × [1 - f, 1 + f]")
          .Check([](const RetrySettings& r, const config::Checker& check) {
            if (r.multiplier < 1.0) check.Error("multiplier", "multiplier must be at least 1");
            if (r.randomization_factor < 0.0 || r.randomization_factor > 1.0) {
              check.Error("randomization_factor", "randomization_factor must be within [0, 1]");
            }
            if (r.enabled && r.initial_interval.count() == 0) {
              check.Error("initial_interval", "initial_interval must be greater than 0");
            }
          });
  return s;
}

}  // namespace otelite::exporters::helper
